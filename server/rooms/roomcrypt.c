/* roomcrypt.c - see roomcrypt.h. */
#include "server/rooms/roomcrypt.h"

#include <stdlib.h>
#include <string.h>
#include <mbedtls/platform_util.h>

#include "crypto/kdf.h"
#include "crypto/sign.h"

#define AD_LABEL "natter/v1/msg"
#define AD_LEN (sizeof(AD_LABEL) - 1 + ROOM_ID_LEN + 8 + IDENTITY_ID_LEN)

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

nt_err roomcrypt_keys(const uint8_t room[static ROOM_ID_LEN], uint64_t epoch, const uint8_t key[static ROOM_KEY_LEN],
                      seal_key *k)
{
    uint8_t ctx[8];
    put_be(ctx, epoch, 8);
    kdf_output outs[2] = {
        {"room msg enc", k->enc, sizeof k->enc},
        {"room msg mac", k->mac, sizeof k->mac},
    };
    nt_err rc = kdf_derive(room, ROOM_ID_LEN, key, ROOM_KEY_LEN, ctx, sizeof ctx, outs, 2);
    if (rc)
        seal_key_wipe(k);
    return rc;
}

static void make_ad(uint8_t ad[static AD_LEN], const uint8_t *room, uint64_t epoch, const uint8_t *sender)
{
    size_t o = sizeof(AD_LABEL) - 1;
    memcpy(ad, AD_LABEL, o);
    memcpy(ad + o, room, ROOM_ID_LEN);
    o += ROOM_ID_LEN;
    put_be(ad + o, epoch, 8);
    o += 8;
    memcpy(ad + o, sender, IDENTITY_ID_LEN);
}

nt_err roomcrypt_seal(const uint8_t room[static ROOM_ID_LEN], uint64_t epoch, const uint8_t key[static ROOM_KEY_LEN],
                      const uint8_t sender[static IDENTITY_ID_LEN], const char *text, size_t len, uint8_t **body,
                      size_t *body_len)
{
    seal_key k;
    uint8_t ad[AD_LEN];
    uint8_t *out = NULL;
    nt_err rc;

    *body = NULL;
    if (len > ROOM_TEXT_MAX)
        return NT_ERR_TOO_BIG;
    rc = roomcrypt_keys(room, epoch, key, &k);
    if (rc)
        return rc;
    make_ad(ad, room, epoch, sender);
    size_t cap = seal_len(len);
    out = malloc(cap);
    if (!out) {
        rc = NT_ERR_NOMEM;
        goto out;
    }
    rc = seal_encrypt(&k, ad, sizeof ad, (const uint8_t *)text, len, out, cap, body_len);
    if (rc)
        goto out;
    *body = out;
    out = NULL;
out:
    free(out);
    seal_key_wipe(&k);
    return rc;
}

nt_err roomcrypt_open(const uint8_t room[static ROOM_ID_LEN], uint64_t epoch, const uint8_t key[static ROOM_KEY_LEN],
                      const uint8_t sender[static IDENTITY_ID_LEN], const uint8_t *body, size_t body_len, char **text,
                      size_t *len)
{
    seal_key k;
    uint8_t ad[AD_LEN];
    char *pt = NULL;
    nt_err rc;

    *text = NULL;
    if (body_len > ROOM_BODY_MAX || body_len < SEAL_MIN_LEN)
        return NT_ERR_AUTH;
    rc = roomcrypt_keys(room, epoch, key, &k);
    if (rc)
        return rc;
    make_ad(ad, room, epoch, sender);
    pt = malloc(body_len + 1);
    if (!pt) {
        rc = NT_ERR_NOMEM;
        goto out;
    }
    rc = seal_open(&k, ad, sizeof ad, body, body_len, (uint8_t *)pt, body_len, len);
    if (rc)
        goto out;
    pt[*len] = '\0';
    *text = pt;
    pt = NULL;
out:
    if (pt) {
        mbedtls_platform_zeroize(pt, body_len + 1);
        free(pt);
    }
    seal_key_wipe(&k);
    return rc;
}

/* room(16) || be64 epoch || sender(32) || be16 len || txn || be32 len || body */
static uint8_t *canonical(const uint8_t *room, uint64_t epoch, const uint8_t *sender, const char *txn,
                          const uint8_t *body, size_t body_len, size_t *out_len)
{
    size_t tl = strlen(txn);
    if (tl == 0 || tl > ROOM_TXN_MAX || body_len > ROOM_BODY_MAX)
        return NULL;
    size_t n = ROOM_ID_LEN + 8 + IDENTITY_ID_LEN + 2 + tl + 4 + body_len;
    uint8_t *p = malloc(n), *q = p;
    if (!p)
        return NULL;
    memcpy(q, room, ROOM_ID_LEN);
    q += ROOM_ID_LEN;
    put_be(q, epoch, 8);
    q += 8;
    memcpy(q, sender, IDENTITY_ID_LEN);
    q += IDENTITY_ID_LEN;
    put_be(q, tl, 2);
    q += 2;
    memcpy(q, txn, tl);
    q += tl;
    put_be(q, body_len, 4);
    q += 4;
    memcpy(q, body, body_len);
    *out_len = n;
    return p;
}

nt_err roomcrypt_sign(const identity *me, const uint8_t room[static ROOM_ID_LEN], uint64_t epoch, const char *txn,
                      const uint8_t *body, size_t body_len, uint8_t *sig, size_t cap, size_t *sig_len)
{
    size_t n;
    uint8_t *m = canonical(room, epoch, identity_id(me), txn, body, body_len, &n);
    if (!m)
        return NT_ERR_INVALID;
    nt_err rc = sign_create(me, SIGN_MESSAGE, m, n, sig, cap, sig_len);
    free(m);
    return rc;
}

nt_err roomcrypt_verify(const identity *sender, const uint8_t room[static ROOM_ID_LEN], uint64_t epoch,
                        const char *txn, const uint8_t *body, size_t body_len, const uint8_t *sig, size_t sig_len)
{
    size_t n;
    uint8_t *m = canonical(room, epoch, identity_id(sender), txn, body, body_len, &n);
    if (!m)
        return NT_ERR_AUTH;
    nt_err rc = sign_verify(sender, SIGN_MESSAGE, m, n, sig, sig_len);
    free(m);
    return rc == NT_OK ? NT_OK : NT_ERR_AUTH;
}
