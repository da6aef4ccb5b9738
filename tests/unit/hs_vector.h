/* hs_vector.h - the fixed handshake transcript of tests/vectors/gen_keysched.py,
 * shared by test_transcript and test_keysched. */
#ifndef NATTER_TEST_HS_VECTOR_H
#define NATTER_TEST_HS_VECTOR_H

#include <stdio.h>
#include <string.h>
#include <mbedtls/sha256.h>
#include "server/channel/transcript.h"

static const uint8_t VEC_ALICE_PUB[32] = {
    0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e, 0xf7, 0x5a,
    0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a};
static const uint8_t VEC_BOB_PUB[32] = {
    0xde, 0x9e, 0xdb, 0x7d, 0x7b, 0x7d, 0xc1, 0xb4, 0xd3, 0x5b, 0x61, 0xc2, 0xec, 0xe4, 0x35, 0x37,
    0x3f, 0x83, 0x43, 0xc8, 0x5b, 0x78, 0x67, 0x4d, 0xad, 0xfc, 0x7e, 0x14, 0x6f, 0x88, 0x2b, 0x4f};

typedef struct {
    uint8_t ikey[294];
    uint8_t sig[384];
    uint8_t sealed[97];
    hs_request rq;
    hs_reply rp;
} hs_vector;

static inline void hs_vector_init(hs_vector *v)
{
    memset(v, 0, sizeof(*v));
    for (int i = 0; i < 294; i++)
        v->ikey[i] = (uint8_t)(i * 7 + 1);
    memset(v->sig, 0x5a, sizeof(v->sig));
    memset(v->sealed, 0x33, sizeof(v->sealed));
    v->rq.version = 1;
    v->rq.mode = HS_MODE_ECDH;
    v->rq.curve = 1;
    v->rq.initiator_key = v->ikey;
    v->rq.initiator_key_len = sizeof(v->ikey);
    (void)mbedtls_sha256_ret(v->ikey, sizeof(v->ikey), v->rq.initiator_id, 0);
    for (int i = 0; i < 32; i++) {
        v->rq.responder_id[i] = (uint8_t)(32 + i);
        v->rq.nonce[i] = (uint8_t)i;
        v->rp.nonce[i] = (uint8_t)(100 + i);
    }
    v->rq.ephemeral = VEC_ALICE_PUB;
    v->rq.ephemeral_len = 32;
    v->rq.timestamp = 1700000000;
    v->rq.name = "alice";
    v->rq.port = 7711;
    for (int i = 0; i < 16; i++)
        v->rp.session_id[i] = (uint8_t)(0xa0 + i);
    v->rp.kx = VEC_BOB_PUB;
    v->rp.kx_len = 32;
    v->rp.timestamp = 1700000005;
    v->rp.idle_timeout = 3600;
    v->rp.expires_at = 1700086405;
    v->rp.name = "bob";
    v->rp.auth_sealed = v->sealed;
    v->rp.auth_sealed_len = sizeof(v->sealed);
}

static inline void hex_to(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned b = 0;
        sscanf(hex + 2 * i, "%2x", &b);
        out[i] = (uint8_t)b;
    }
}

#endif
