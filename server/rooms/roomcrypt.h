/* roomcrypt.h - sealing, signing and checking room messages.
 *
 * Wire format in api-spec/protocol.md "Messages". The room key never seals
 * anything itself: per epoch, two keys are derived with kdf_derive() (salt =
 * room id, context = be64(epoch)). The signature (SIGN_MESSAGE) covers a
 * canonical length-prefixed encoding of room id, epoch, sender id, txn id
 * and the sealed body, so a body cannot be moved to another room, epoch,
 * sender or transaction. */
#ifndef NATTER_ROOMCRYPT_H
#define NATTER_ROOMCRYPT_H

#include <stddef.h>
#include <stdint.h>
#include "common/err.h"
#include "crypto/identity.h"
#include "crypto/seal.h"

#define ROOM_ID_LEN 16
#define ROOM_ID_HEX_LEN 32
#define ROOM_KEY_LEN 32
#define ROOM_TXN_MAX 64
#define ROOM_TEXT_MAX 16384
#define ROOM_BODY_MAX (1 + SEAL_IV_LEN + ROOM_TEXT_MAX + SEAL_BLOCK + SEAL_MAC_LEN)

/* Derive the message keys for one epoch of a room. k is wiped on error. */
NT_MUST_USE nt_err roomcrypt_keys(const uint8_t room[static ROOM_ID_LEN], uint64_t epoch,
                                  const uint8_t key[static ROOM_KEY_LEN], seal_key *k);

/* Seal text (len <= ROOM_TEXT_MAX) for (room, epoch, sender). *body is
 * malloc'd, owned by the caller. */
NT_MUST_USE nt_err roomcrypt_seal(const uint8_t room[static ROOM_ID_LEN], uint64_t epoch,
                                  const uint8_t key[static ROOM_KEY_LEN],
                                  const uint8_t sender[static IDENTITY_ID_LEN], const char *text, size_t len,
                                  uint8_t **body, size_t *body_len);

/* Open a body. *text is malloc'd, NUL-terminated, owned by the caller.
 * NT_ERR_AUTH when it does not open. */
NT_MUST_USE nt_err roomcrypt_open(const uint8_t room[static ROOM_ID_LEN], uint64_t epoch,
                                  const uint8_t key[static ROOM_KEY_LEN],
                                  const uint8_t sender[static IDENTITY_ID_LEN], const uint8_t *body,
                                  size_t body_len, char **text, size_t *len);

/* Sign / verify the canonical encoding (SIGN_MESSAGE). The sender id is
 * taken from the identity for signing and given for verifying; verify
 * also checks that id hashes to sender. */
NT_MUST_USE nt_err roomcrypt_sign(const identity *me, const uint8_t room[static ROOM_ID_LEN], uint64_t epoch,
                                  const char *txn, const uint8_t *body, size_t body_len, uint8_t *sig,
                                  size_t cap, size_t *sig_len);
NT_MUST_USE nt_err roomcrypt_verify(const identity *sender, const uint8_t room[static ROOM_ID_LEN],
                                    uint64_t epoch, const char *txn, const uint8_t *body, size_t body_len,
                                    const uint8_t *sig, size_t sig_len);

#endif
