/* identity.h - a node's long-term RSA identity and its node id.
 *
 * The node id is SHA-256 of the DER SubjectPublicKeyInfo of the RSA public
 * key; it is shown as 64 lowercase hex digits, or for people as a grouped
 * base32 fingerprint. An identity may hold the private key (our own) or only
 * the public key (a peer's). */
#ifndef NATTER_IDENTITY_H
#define NATTER_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"

#define IDENTITY_ID_LEN 32
#define IDENTITY_ID_HEX_LEN 64          /* without the NUL */
#define IDENTITY_DEFAULT_BITS 3072
#define IDENTITY_PUB_DER_MAX 600        /* enough for RSA-4096 SPKI */
#define IDENTITY_PUB_PEM_MAX 1024       /* enough for RSA-4096 PEM, with NUL */
#define IDENTITY_FINGERPRINT_MAX 80     /* human form, with NUL */

typedef struct identity identity;

/* True for the sizes natter accepts: 2048, 3072, 4096. */
bool identity_bits_allowed(unsigned bits);

/* Generate a new key pair (e = 65537). *out owned by the caller.
 * NT_ERR_STATE before rng_init(). */
NT_MUST_USE nt_err identity_generate(identity **out, unsigned bits);

/* Write the private key as PEM to path: created with O_EXCL|O_NOFOLLOW and
 * mode 0600, fsync'd (and its directory). NT_ERR_EXISTS if path exists,
 * also as a symlink; NT_ERR_INVALID for a public-only identity. On failure
 * no file is left behind. */
NT_MUST_USE nt_err identity_save(const identity *id, const char *path);

/* Load a private key PEM from path (a symlink is not followed).
 * NT_ERR_NOT_FOUND if there is no file; NT_ERR_INVALID for a corrupt,
 * encrypted or non-RSA file, a symlink, a key size not allowed or e != 65537;
 * NT_ERR_TOO_BIG over 16 KiB. Does not check file modes. */
NT_MUST_USE nt_err identity_load(identity **out, const char *path);

/* A private key from PEM in memory (PKCS#1 "RSA PRIVATE KEY" or PKCS#8
 * "PRIVATE KEY", unencrypted; len may count a final NUL). Same checks as
 * identity_load. The caller zeroes its copy of pem. */
NT_MUST_USE nt_err identity_from_private_pem(identity **out, const char *pem, size_t len);

/* Public-only identity from DER SPKI or PEM ("BEGIN PUBLIC KEY"; len may
 * or may not count a final NUL). Rejects non-RSA keys, sizes not allowed,
 * a public exponent other than 65537 (every parse of a key checks this)
 * and DER that is not the canonical encoding (the id hashes these bytes). */
NT_MUST_USE nt_err identity_from_der(identity **out, const uint8_t *der, size_t len);
NT_MUST_USE nt_err identity_from_pem(identity **out, const char *pem, size_t len);

/* DER SPKI of the public key into buf (cap bytes); *len set. */
NT_MUST_USE nt_err identity_public_der(const identity *id, uint8_t *buf, size_t cap, size_t *len);
/* PEM of the public key, NUL-terminated, into buf (cap bytes). */
NT_MUST_USE nt_err identity_public_pem(const identity *id, char *buf, size_t cap);

/* The node id (computed once at load). */
const uint8_t *identity_id(const identity *id);
/* The node id as 64 lowercase hex digits plus NUL. */
void identity_id_hex(const identity *id, char out[static IDENTITY_ID_HEX_LEN + 1]);
/* Grouped base32 of the id for reading aloud, e.g. "ABCD-EFGH-...". */
void identity_fingerprint(const uint8_t id[static IDENTITY_ID_LEN], char out[static IDENTITY_FINGERPRINT_MAX]);

unsigned identity_bits(const identity *id);
bool identity_has_private(const identity *id);

/* Duplicate the public half (for handing to another owner). */
NT_MUST_USE nt_err identity_public_copy(identity **out, const identity *id);

/* Zero and free; identity_free(NULL) is a no-op. */
void identity_free(identity *id);

/* For crypto/ modules only: the mbedtls_pk_context inside. Its RSA
 * context is fixed to PKCS#1 v2.1 with SHA-256 (never change it: the
 * identity may be shared between threads). Hold identity_lock() around
 * every RSA operation on it: private operations update blinding state. */
struct mbedtls_pk_context;
struct mbedtls_pk_context *identity_pk(const identity *id);
void identity_lock(const identity *id);
void identity_unlock(const identity *id);

#endif
