/* identity.c - RSA identities, their PEM/DER forms and node ids.
 *
 * Every identity's RSA context is set to PKCS#1 v2.1 with SHA-256 once, when
 * it is made, and never changed: OAEP and PSS signing read the hash from the
 * context, and changing it per call would race between threads. The DER
 * SubjectPublicKeyInfo is computed once too and the node id is its SHA-256,
 * so readers never touch the mbedTLS context for it.
 *
 * Thread safety: a const identity may be shared between threads.
 * Private-key operations mutate the context's blinding values; sign.c and
 * oaep.c hold identity_lock() around every RSA call so that this does not
 * depend on mbedTLS being built with MBEDTLS_THREADING_C. */
#include "identity.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>

#include "rng.h"

/* A PKCS#1 PEM of an RSA-4096 private key is about 3.3 KB. */
#define IDENTITY_PRIV_PEM_MAX 16384
#define IDENTITY_EXPONENT 65537
#define FP_GROUP 4

static_assert(IDENTITY_ID_HEX_LEN == 2 * IDENTITY_ID_LEN, "hex id length");
/* base32 of 32 bytes is 52 characters, 13 groups of 4 with 12 dashes. */
static_assert((IDENTITY_ID_LEN * 8 + 4) / 5 / FP_GROUP * (FP_GROUP + 1) <= IDENTITY_FINGERPRINT_MAX,
              "fingerprint buffer too small");

struct identity {
    mbedtls_pk_context pk;
    pthread_mutex_t lock;
    uint8_t id[IDENTITY_ID_LEN];
    uint8_t der[IDENTITY_PUB_DER_MAX];
    size_t der_len;
    unsigned bits;
    bool priv;
};

bool identity_bits_allowed(unsigned bits)
{
    return bits == 2048 || bits == 3072 || bits == 4096;
}

static identity *identity_alloc(void)
{
    identity *id = calloc(1, sizeof *id);
    if (!id)
        return NULL;
    mbedtls_pk_init(&id->pk);
    if (pthread_mutex_init(&id->lock, NULL) != 0) {
        free(id);
        return NULL;
    }
    return id;
}

void identity_free(identity *id)
{
    if (!id)
        return;
    mbedtls_pk_free(&id->pk); /* zeroizes the key material */
    pthread_mutex_destroy(&id->lock);
    mbedtls_platform_zeroize(id, sizeof *id);
    free(id);
}

/* e = 65537 and nothing else. Verification costs grow with the size of
 * e: a peer key with a 2045-bit exponent makes each check over 100 times
 * slower (7.6 ms instead of 0.065 ms for RSA-2048), a cheap way to burn our
 * CPU through handshakes, announcements and message signatures. A tiny e
 * (3) is refused too: natter never makes one, so no honest peer has it. */
static bool exponent_allowed(const mbedtls_rsa_context *rsa)
{
    mbedtls_mpi e;
    bool ok;

    mbedtls_mpi_init(&e);
    ok = mbedtls_rsa_export(rsa, NULL, NULL, NULL, NULL, &e) == 0 && mbedtls_mpi_cmp_int(&e, IDENTITY_EXPONENT) == 0;
    mbedtls_mpi_free(&e);
    return ok;
}

/* After id->pk holds a key: check type, size and exponent, fix the padding mode,
 * compute DER and node id. */
static nt_err identity_finish(identity *id, bool priv)
{
    mbedtls_rsa_context *rsa;
    uint8_t tmp[IDENTITY_PUB_DER_MAX];
    int n;

    if (mbedtls_pk_get_type(&id->pk) != MBEDTLS_PK_RSA)
        return NT_ERR_INVALID;
    rsa = mbedtls_pk_rsa(id->pk);
    id->bits = (unsigned)mbedtls_pk_get_bitlen(&id->pk);
    if (!identity_bits_allowed(id->bits) || !exponent_allowed(rsa))
        return NT_ERR_INVALID;
    if (priv ? mbedtls_rsa_check_privkey(rsa) != 0 : mbedtls_rsa_check_pubkey(rsa) != 0)
        return NT_ERR_INVALID;
    mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V21, MBEDTLS_MD_SHA256);
    id->priv = priv;

    /* mbedtls_pk_write_pubkey_der writes at the end of the buffer. */
    n = mbedtls_pk_write_pubkey_der(&id->pk, tmp, sizeof tmp);
    if (n <= 0)
        return NT_ERR_CRYPTO;
    memcpy(id->der, tmp + sizeof tmp - (size_t)n, (size_t)n);
    id->der_len = (size_t)n;
    if (mbedtls_sha256_ret(id->der, id->der_len, id->id, 0) != 0)
        return NT_ERR_CRYPTO;
    return NT_OK;
}

nt_err identity_generate(identity **out, unsigned bits)
{
    identity *id = NULL;
    nt_err rc;

    *out = NULL;
    if (!identity_bits_allowed(bits))
        return NT_ERR_INVALID;
    /* A zero-length draw only checks that the DRBG is seeded. */
    if ((rc = rng_bytes(NULL, 0)) != NT_OK)
        return rc;
    if (!(id = identity_alloc()))
        return NT_ERR_NOMEM;
    rc = NT_ERR_CRYPTO;
    if (mbedtls_pk_setup(&id->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) != 0)
        goto out;
    if (mbedtls_rsa_gen_key(mbedtls_pk_rsa(id->pk), rng_mbedtls, NULL, bits, IDENTITY_EXPONENT) != 0)
        goto out;
    if ((rc = identity_finish(id, true)) != NT_OK)
        goto out;
    *out = id;
    id = NULL;
out:
    identity_free(id);
    return rc;
}

static nt_err errno_to_err(int e)
{
    switch (e) {
    case EEXIST:
        return NT_ERR_EXISTS;
    case ENOENT:
        return NT_ERR_NOT_FOUND;
    case EACCES:
    case EPERM:
        return NT_ERR_PERM;
    case ELOOP: /* O_NOFOLLOW met a symlink */
        return NT_ERR_INVALID;
    default:
        return NT_ERR_IO;
    }
}

static nt_err write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return NT_ERR_IO;
        p += w;
        n -= (size_t)w;
    }
    return NT_OK;
}

/* Make the new directory entry durable too; best effort. */
static void fsync_parent(const char *path)
{
    char copy[PATH_MAX];
    int dfd;

    if (strlen(path) >= sizeof copy)
        return;
    strcpy(copy, path);
    dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
}

nt_err identity_save(const identity *id, const char *path)
{
    uint8_t *pem = NULL;
    int fd = -1, saved_errno;
    bool created = false;
    nt_err rc;

    if (!id || !path || !id->priv)
        return NT_ERR_INVALID;
    if (!(pem = calloc(1, IDENTITY_PRIV_PEM_MAX)))
        return NT_ERR_NOMEM;
    rc = NT_ERR_CRYPTO;
    /* mbedtls_pk_write_key_pem only reads the key; its prototype lacks const. */
    if (mbedtls_pk_write_key_pem((mbedtls_pk_context *)&id->pk, pem, IDENTITY_PRIV_PEM_MAX) != 0)
        goto out;
    /* O_EXCL also fails on a dangling or any other symlink at path;
     * O_NOFOLLOW makes that explicit. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = errno_to_err(errno);
        goto out;
    }
    created = true;
    rc = NT_ERR_IO;
    if (fchmod(fd, 0600) != 0) /* whatever the umask did */
        goto out;
    if ((rc = write_all(fd, pem, strlen((char *)pem))) != NT_OK)
        goto out;
    if (fsync(fd) != 0) {
        rc = NT_ERR_IO;
        goto out;
    }
    rc = close(fd) == 0 ? NT_OK : NT_ERR_IO;
    fd = -1;
    if (rc == NT_OK)
        fsync_parent(path);
out:
    saved_errno = errno;
    if (fd >= 0)
        close(fd);
    if (rc != NT_OK && created)
        unlink(path);
    mbedtls_platform_zeroize(pem, IDENTITY_PRIV_PEM_MAX);
    free(pem);
    errno = saved_errno;
    return rc;
}

/* Read a whole small regular file (no symlink) into a NUL-terminated buffer. */
static nt_err read_small_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
    struct stat st;
    size_t n = 0;
    nt_err rc = NT_OK;
    /* O_NONBLOCK: opening a FIFO planted at path must not hang; it is
     * then refused as not a regular file. No effect on regular files. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0)
        return errno_to_err(errno);
    if (fstat(fd, &st) != 0) {
        rc = NT_ERR_IO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = NT_ERR_INVALID;
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = NT_ERR_IO;
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap - 1) { /* full: anything more is too big */
            char extra;
            if (read(fd, &extra, 1) != 0) {
                rc = NT_ERR_TOO_BIG;
                goto out;
            }
            break;
        }
    }
    buf[n] = 0;
    *len = n;
out:
    close(fd);
    return rc;
}

/* PEM text as callers pass it: with or without one terminating NUL counted
 * in len. Sets *len to the text without it; false if pem is NULL, empty or
 * has a NUL inside (mbedTLS would stop reading there). */
static bool pem_text_len(const char *pem, size_t *len)
{
    if (!pem)
        return false;
    if (*len > 0 && pem[*len - 1] == '\0')
        (*len)--;
    return *len > 0 && !memchr(pem, '\0', *len);
}

nt_err identity_from_private_pem(identity **out, const char *pem, size_t len)
{
    identity *id = NULL;
    char *buf = NULL;
    nt_err rc = NT_ERR_INVALID;

    *out = NULL;
    if (!pem_text_len(pem, &len))
        return NT_ERR_INVALID;
    if (len >= IDENTITY_PRIV_PEM_MAX)
        return NT_ERR_TOO_BIG;
    /* mbedTLS takes PEM only NUL-terminated, the NUL counted in the length. */
    if (!(buf = malloc(len + 1)))
        return NT_ERR_NOMEM;
    memcpy(buf, pem, len);
    buf[len] = '\0';
    rc = NT_ERR_NOMEM;
    if (!(id = identity_alloc()))
        goto out;
    rc = NT_ERR_INVALID;
    if (mbedtls_pk_parse_key(&id->pk, (const unsigned char *)buf, len + 1, NULL, 0) != 0)
        goto out;
    if ((rc = identity_finish(id, true)) != NT_OK)
        goto out;
    *out = id;
    id = NULL;
out:
    identity_free(id);
    mbedtls_platform_zeroize(buf, len + 1);
    free(buf);
    return rc;
}

nt_err identity_load(identity **out, const char *path)
{
    uint8_t *pem = NULL;
    size_t n = 0;
    nt_err rc;

    *out = NULL;
    if (!path)
        return NT_ERR_INVALID;
    if (!(pem = calloc(1, IDENTITY_PRIV_PEM_MAX)))
        return NT_ERR_NOMEM;
    if ((rc = read_small_file(path, pem, IDENTITY_PRIV_PEM_MAX, &n)) != NT_OK)
        goto out;
    rc = identity_from_private_pem(out, (const char *)pem, n);
out:
    mbedtls_platform_zeroize(pem, IDENTITY_PRIV_PEM_MAX);
    free(pem);
    return rc;
}

nt_err identity_from_der(identity **out, const uint8_t *der, size_t len)
{
    identity *id = NULL;
    nt_err rc = NT_ERR_INVALID;

    *out = NULL;
    if (!der || len == 0)
        return NT_ERR_INVALID;
    if (len > IDENTITY_PUB_DER_MAX)
        return NT_ERR_TOO_BIG;
    /* A SEQUENCE; keeps mbedTLS from trying the PEM path on this input. */
    if (der[0] != 0x30)
        return NT_ERR_INVALID;
    if (!(id = identity_alloc()))
        return NT_ERR_NOMEM;
    if (mbedtls_pk_parse_public_key(&id->pk, der, len) != 0)
        goto out;
    if ((rc = identity_finish(id, false)) != NT_OK)
        goto out;
    /* The id is the hash of our canonical encoding; input that parses to
     * the same key from other bytes would let a peer's claimed hash differ
     * from ours, so only the canonical DER is accepted. */
    if (id->der_len != len || memcmp(id->der, der, len) != 0) {
        rc = NT_ERR_INVALID;
        goto out;
    }
    *out = id;
    id = NULL;
out:
    identity_free(id);
    return rc;
}

nt_err identity_from_pem(identity **out, const char *pem, size_t len)
{
    char buf[IDENTITY_PUB_PEM_MAX + 1];
    identity *id = NULL;
    nt_err rc = NT_ERR_INVALID;

    *out = NULL;
    if (!pem_text_len(pem, &len))
        return NT_ERR_INVALID;
    if (len > IDENTITY_PUB_PEM_MAX)
        return NT_ERR_TOO_BIG;
    memcpy(buf, pem, len);
    buf[len] = '\0';
    if (!strstr(buf, "-----BEGIN PUBLIC KEY-----"))
        return NT_ERR_INVALID;
    if (!(id = identity_alloc()))
        return NT_ERR_NOMEM;
    if (mbedtls_pk_parse_public_key(&id->pk, (const unsigned char *)buf, len + 1) != 0)
        goto out;
    if ((rc = identity_finish(id, false)) != NT_OK)
        goto out;
    *out = id;
    id = NULL;
out:
    identity_free(id);
    return rc;
}

nt_err identity_public_der(const identity *id, uint8_t *buf, size_t cap, size_t *len)
{
    if (!id || !buf || !len)
        return NT_ERR_INVALID;
    if (cap < id->der_len)
        return NT_ERR_TOO_BIG;
    memcpy(buf, id->der, id->der_len);
    *len = id->der_len;
    return NT_OK;
}

nt_err identity_public_pem(const identity *id, char *buf, size_t cap)
{
    int ret;

    if (!id || !buf || cap == 0)
        return NT_ERR_INVALID;
    /* Only reads the key; the prototype lacks const. */
    ret = mbedtls_pk_write_pubkey_pem((mbedtls_pk_context *)&id->pk, (unsigned char *)buf, cap);
    if (ret != 0) {
        buf[0] = '\0';
        return NT_ERR_TOO_BIG;
    }
    return NT_OK;
}

nt_err identity_public_copy(identity **out, const identity *id)
{
    if (!id) {
        *out = NULL;
        return NT_ERR_INVALID;
    }
    return identity_from_der(out, id->der, id->der_len);
}

const uint8_t *identity_id(const identity *id)
{
    return id->id;
}

void identity_id_hex(const identity *id, char out[static IDENTITY_ID_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < IDENTITY_ID_LEN; i++) {
        out[2 * i] = digits[id->id[i] >> 4];
        out[2 * i + 1] = digits[id->id[i] & 0x0f];
    }
    out[IDENTITY_ID_HEX_LEN] = '\0';
}

void identity_fingerprint(const uint8_t id[static IDENTITY_ID_LEN], char out[static IDENTITY_FINGERPRINT_MAX])
{
    /* RFC 4648 base32 alphabet, unpadded: no 0/1/8/9 to confuse with O/I/B/g. */
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    uint32_t acc = 0;
    unsigned nbits = 0;
    size_t o = 0, chars = 0;

    for (size_t i = 0; i <= IDENTITY_ID_LEN; i++) {
        if (i < IDENTITY_ID_LEN) {
            acc = (acc << 8) | id[i];
            nbits += 8;
        } else if (nbits > 0) { /* final partial group, zero-filled */
            acc <<= 5 - nbits;
            nbits = 5;
        }
        while (nbits >= 5) {
            if (chars > 0 && chars % FP_GROUP == 0)
                out[o++] = '-';
            out[o++] = alpha[(acc >> (nbits - 5)) & 31];
            nbits -= 5;
            chars++;
        }
        acc &= (1u << nbits) - 1;
    }
    out[o] = '\0';
}

unsigned identity_bits(const identity *id)
{
    return id->bits;
}

bool identity_has_private(const identity *id)
{
    return id->priv;
}

mbedtls_pk_context *identity_pk(const identity *id)
{
    /* The context is logically const to callers; crypto/ modules mutate
     * only blinding state, and only under identity_lock(). */
    return (mbedtls_pk_context *)&id->pk;
}

void identity_lock(const identity *id)
{
    pthread_mutex_lock((pthread_mutex_t *)&id->lock);
}

void identity_unlock(const identity *id)
{
    pthread_mutex_unlock((pthread_mutex_t *)&id->lock);
}
