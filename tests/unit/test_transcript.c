/* Unit tests for server/transcript: the handshake's signed byte strings,
 * checked against an independent implementation (gen_keysched.py). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include "hs_vector.h"
#include "tests/test_main.h"

static void sha_hex(const uint8_t *p, size_t n, char out[65])
{
    uint8_t h[32];
    ck_assert_int_eq(mbedtls_sha256_ret(p, n, h, 0), 0);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

START_TEST(known_answer)
{
    hs_vector v;
    hs_vector_init(&v);
    uint8_t t[TRANSCRIPT_MAX];
    size_t n = 0;
    char hex[65];
    ck_assert_int_eq(transcript_request(&v.rq, t, sizeof(t), &n), NT_OK);
    ck_assert_uint_eq(n, 465);
    sha_hex(t, n, hex);
    ck_assert_str_eq(hex, "62ff760757f5955db803cfe94f1f8ca8c13c2d2092df9a30124c9f331ed7d73e");
    ck_assert_int_eq(transcript_core(&v.rq, v.sig, sizeof(v.sig), &v.rp, t, sizeof(t), &n), NT_OK);
    ck_assert_uint_eq(n, 962);
    sha_hex(t, n, hex);
    ck_assert_str_eq(hex, "ef2c55bf9793d944119f6a8443e53676cd92b9e6f572082f41df540d9ebea6a8");
    ck_assert_int_eq(transcript_reply(&v.rq, v.sig, sizeof(v.sig), &v.rp, t, sizeof(t), &n), NT_OK);
    ck_assert_uint_eq(n, 1061);
    sha_hex(t, n, hex);
    ck_assert_str_eq(hex, "88dbfb7e3cd3fbaa0038d27dbb46ed2ac051b5f646d5f407670403bb680021df");
}
END_TEST

/* Each field changes the signed bytes: no field is left out. */
typedef void (*mutate_fn)(hs_vector *v);
static void m_version(hs_vector *v) { v->rq.version = 2; }
static void m_mode(hs_vector *v) { v->rq.mode = HS_MODE_RSA; }
static void m_curve(hs_vector *v) { v->rq.curve = 2; }
static void m_ikey(hs_vector *v) { v->ikey[100] ^= 1; }
static void m_iid(hs_vector *v) { v->rq.initiator_id[31] ^= 1; }
static void m_rid(hs_vector *v) { v->rq.responder_id[0] ^= 1; }
static void m_eph(hs_vector *v) { v->rq.ephemeral_len = 31; }
static void m_nonce(hs_vector *v) { v->rq.nonce[5] ^= 0x80; }
static void m_ts(hs_vector *v) { v->rq.timestamp++; }
static void m_name(hs_vector *v) { v->rq.name = "alicf"; }
static void m_name_shift(hs_vector *v) { v->rq.name = "alic"; }
static void m_port(hs_vector *v) { v->rq.port = 7712; }
static void m_sig(hs_vector *v) { v->sig[0] ^= 1; }
static void m_sid(hs_vector *v) { v->rp.session_id[15] ^= 1; }
static void m_kx(hs_vector *v) { v->rp.kx = VEC_ALICE_PUB; }
static void m_rnonce(hs_vector *v) { v->rp.nonce[31] ^= 1; }
static void m_rts(hs_vector *v) { v->rp.timestamp--; }
static void m_idle(hs_vector *v) { v->rp.idle_timeout = 60; }
static void m_exp(hs_vector *v) { v->rp.expires_at++; }
static void m_rname(hs_vector *v) { v->rp.name = ""; }
static void m_sealed(hs_vector *v) { v->sealed[96] ^= 1; }

static const struct {
    const char *what;
    mutate_fn fn;
    int in_req, in_core; /* which transcripts must change (reply always) */
} mutations[] = {
    {"version", m_version, 1, 1}, {"mode", m_mode, 1, 1},     {"curve", m_curve, 1, 1},
    {"ikey", m_ikey, 1, 1},       {"iid", m_iid, 1, 1},       {"rid", m_rid, 1, 1},
    {"eph", m_eph, 1, 1},         {"nonce", m_nonce, 1, 1},   {"ts", m_ts, 1, 1},
    {"name", m_name, 1, 1},       {"name len", m_name_shift, 1, 1}, {"port", m_port, 1, 1},
    {"sig", m_sig, 0, 1},         {"sid", m_sid, 0, 1},       {"kx", m_kx, 0, 1},
    {"rnonce", m_rnonce, 0, 1},   {"rts", m_rts, 0, 1},       {"idle", m_idle, 0, 1},
    {"exp", m_exp, 0, 1},         {"rname", m_rname, 0, 1},   {"sealed", m_sealed, 0, 0},
};

static void encode_all(hs_vector *v, uint8_t *a, size_t *an, uint8_t *b, size_t *bn, uint8_t *c, size_t *cn)
{
    ck_assert_int_eq(transcript_request(&v->rq, a, TRANSCRIPT_MAX, an), NT_OK);
    ck_assert_int_eq(transcript_core(&v->rq, v->sig, sizeof(v->sig), &v->rp, b, TRANSCRIPT_MAX, bn), NT_OK);
    ck_assert_int_eq(transcript_reply(&v->rq, v->sig, sizeof(v->sig), &v->rp, c, TRANSCRIPT_MAX, cn), NT_OK);
}

static int same(const uint8_t *x, size_t xn, const uint8_t *y, size_t yn)
{
    return xn == yn && !memcmp(x, y, xn);
}

START_TEST(every_field_bound)
{
    static uint8_t r0[TRANSCRIPT_MAX], c0[TRANSCRIPT_MAX], p0[TRANSCRIPT_MAX];
    static uint8_t r1[TRANSCRIPT_MAX], c1[TRANSCRIPT_MAX], p1[TRANSCRIPT_MAX];
    size_t r0n, c0n, p0n, r1n, c1n, p1n;
    hs_vector v;
    hs_vector_init(&v);
    encode_all(&v, r0, &r0n, c0, &c0n, p0, &p0n);
    hs_vector_init(&v);
    mutations[_i].fn(&v);
    encode_all(&v, r1, &r1n, c1, &c1n, p1, &p1n);
    ck_assert_msg(same(r0, r0n, r1, r1n) != mutations[_i].in_req, "%s: request", mutations[_i].what);
    ck_assert_msg(same(c0, c0n, c1, c1n) != mutations[_i].in_core, "%s: core", mutations[_i].what);
    ck_assert_msg(!same(p0, p0n, p1, p1n), "%s: reply", mutations[_i].what);
}
END_TEST

START_TEST(caps)
{
    hs_vector v;
    hs_vector_init(&v);
    uint8_t t[TRANSCRIPT_MAX];
    size_t n = 0;
    /* Output buffer one byte short. */
    ck_assert_int_eq(transcript_request(&v.rq, t, 464, &n), NT_ERR_TOO_BIG);
    ck_assert_int_eq(transcript_reply(&v.rq, v.sig, sizeof(v.sig), &v.rp, t, 1060, &n), NT_ERR_TOO_BIG);
    /* Name over 100 bytes. */
    char name[HS_NAME_MAX + 2];
    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = 0;
    v.rq.name = name;
    ck_assert_int_eq(transcript_request(&v.rq, t, sizeof(t), &n), NT_ERR_TOO_BIG);
    name[HS_NAME_MAX] = 0;
    ck_assert_int_eq(transcript_request(&v.rq, t, sizeof(t), &n), NT_OK);
    /* A field of 64 KiB cannot be length-prefixed. */
    hs_vector_init(&v);
    v.rq.initiator_key_len = 70000;
    static uint8_t big[1 << 17];
    ck_assert_int_eq(transcript_request(&v.rq, big, sizeof(big), &n), NT_ERR_TOO_BIG);
}
END_TEST

START_TEST(modes)
{
    ck_assert_str_eq(transcript_mode_name(HS_MODE_ECDH), "ecdh");
    ck_assert_str_eq(transcript_mode_name(HS_MODE_RSA), "rsa");
    ck_assert_ptr_null(transcript_mode_name(0));
    ck_assert_int_eq(transcript_mode_parse("ecdh"), HS_MODE_ECDH);
    ck_assert_int_eq(transcript_mode_parse("rsa"), HS_MODE_RSA);
    ck_assert_int_eq(transcript_mode_parse("RSA"), 0);
    ck_assert_int_eq(transcript_mode_parse(""), 0);
    ck_assert_int_eq(transcript_mode_parse(NULL), 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("transcript");
    TCase *tc = tcase_create("encoding");
    tcase_add_test(tc, known_answer);
    tcase_add_loop_test(tc, every_field_bound, 0, (int)(sizeof(mutations) / sizeof(mutations[0])));
    tcase_add_test(tc, caps);
    tcase_add_test(tc, modes);
    suite_add_tcase(s, tc);
    return s;
}
