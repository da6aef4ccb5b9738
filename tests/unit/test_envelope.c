/* Unit tests for server/envelope: the sealed channel's message format. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "crypto/encoding.h"
#include "crypto/rng.h"
#include "server/channel/envelope.h"
#include "tests/test_main.h"

static seal_key kc, ks;
static uint8_t sid[HS_SESSION_ID_LEN];

static void setup(void)
{
    ck_assert_int_eq(rng_init(), NT_OK);
    ck_assert_int_eq(rng_bytes((uint8_t *)&kc, sizeof(kc)), NT_OK);
    ck_assert_int_eq(rng_bytes((uint8_t *)&ks, sizeof(ks)), NT_OK);
    ck_assert_int_eq(rng_bytes(sid, sizeof(sid)), NT_OK);
}

static char *seal_req(uint64_t seq, const char *method, const char *path, const char *pt, const uint8_t *confirm)
{
    char *j = NULL;
    ck_assert_int_eq(envelope_seal(&kc, ENVELOPE_C2S, sid, seq, method, path, NULL, 0, confirm, (const uint8_t *)pt,
                                   pt ? strlen(pt) : 0, &j),
                     NT_OK);
    return j;
}

START_TEST(round_trip)
{
    static const char *bodies[] = {NULL, "{}", "{\"echo\":\"hello\"}", "[1,2,3]"};
    for (size_t i = 0; i < 4; i++) {
        char *j = seal_req(i * 1000, "POST", "/v1/peer/ping", bodies[i], NULL);
        envelope e;
        ck_assert_int_eq(envelope_parse(j, strlen(j), ENVELOPE_C2S, &e), NT_OK);
        ck_assert_uint_eq(e.seq, i * 1000);
        ck_assert_mem_eq(e.session_id, sid, sizeof(sid));
        ck_assert(!e.has_confirm);
        uint8_t *pt = NULL;
        size_t n = 0;
        ck_assert_int_eq(envelope_open(&kc, &e, ENVELOPE_C2S, "POST", "/v1/peer/ping", NULL, &pt, &n), NT_OK);
        ck_assert_uint_eq(n, bodies[i] ? strlen(bodies[i]) : 0);
        if (n)
            ck_assert_mem_eq(pt, bodies[i], n);
        ck_assert_int_eq(pt[n], 0);
        free(pt);
        envelope_clear(&e);
        free(j);
    }
    /* A reply with its status. */
    char *j = NULL;
    ck_assert_int_eq(envelope_seal(&ks, ENVELOPE_S2C, sid, 5, "POST", "/v1/peer/x", NULL, 404, NULL,
                                   (const uint8_t *)"{}", 2, &j),
                     NT_OK);
    envelope e;
    ck_assert_int_eq(envelope_parse(j, strlen(j), ENVELOPE_S2C, &e), NT_OK);
    ck_assert_int_eq(e.status, 404);
    uint8_t *pt = NULL;
    size_t n = 0;
    ck_assert_int_eq(envelope_open(&ks, &e, ENVELOPE_S2C, "POST", "/v1/peer/x", NULL, &pt, &n), NT_OK);
    free(pt);
    /* Parsed as a request it is malformed (status is not a request field). */
    envelope e2;
    ck_assert_int_eq(envelope_parse(j, strlen(j), ENVELOPE_C2S, &e2), NT_ERR_INVALID);
    envelope_clear(&e);
    free(j);
}
END_TEST

START_TEST(confirm_field)
{
    uint8_t conf[KEYSCHED_CONFIRM_LEN];
    memset(conf, 0x77, sizeof(conf));
    char *j = seal_req(0, "POST", "/v1/peer/ping", "{}", conf);
    envelope e;
    ck_assert_int_eq(envelope_parse(j, strlen(j), ENVELOPE_C2S, &e), NT_OK);
    ck_assert(e.has_confirm);
    ck_assert_mem_eq(e.confirm, conf, sizeof(conf));
    envelope_clear(&e);
    free(j);
}
END_TEST

START_TEST(query_bound)
{
    char *j = NULL;
    ck_assert_int_eq(envelope_seal(&kc, ENVELOPE_C2S, sid, 1, "GET", "/v1/peer/rooms/x/messages", "after=5&limit=2", 0,
                                   NULL, NULL, 0, &j),
                     NT_OK);
    envelope e;
    ck_assert_int_eq(envelope_parse(j, strlen(j), ENVELOPE_C2S, &e), NT_OK);
    ck_assert_str_eq(e.query, "after=5&limit=2");
    uint8_t *pt = NULL;
    size_t n = 0;
    ck_assert_int_eq(envelope_open(&kc, &e, ENVELOPE_C2S, "GET", "/v1/peer/rooms/x/messages", NULL, &pt, &n), NT_OK);
    free(pt);
    strcpy(e.query, "after=4&limit=2");
    ck_assert_int_eq(envelope_open(&kc, &e, ENVELOPE_C2S, "GET", "/v1/peer/rooms/x/messages", NULL, &pt, &n),
                     NT_ERR_AUTH);
    envelope_clear(&e);
    free(j);
    /* A reply binds the request's query. */
    ck_assert_int_eq(envelope_seal(&ks, ENVELOPE_S2C, sid, 1, "GET", "/p", "a=1", 200, NULL, NULL, 0, &j), NT_OK);
    ck_assert_int_eq(envelope_parse(j, strlen(j), ENVELOPE_S2C, &e), NT_OK);
    ck_assert_int_eq(envelope_open(&ks, &e, ENVELOPE_S2C, "GET", "/p", "a=2", &pt, &n), NT_ERR_AUTH);
    ck_assert_int_eq(envelope_open(&ks, &e, ENVELOPE_S2C, "GET", "/p", "a=1", &pt, &n), NT_OK);
    free(pt);
    envelope_clear(&e);
    free(j);
}
END_TEST

/* The AD binds session, direction, seq, method, path and status. */
START_TEST(ad_binding)
{
    char *j = seal_req(9, "POST", "/v1/peer/ping", "{}", NULL);
    envelope e;
    ck_assert_int_eq(envelope_parse(j, strlen(j), ENVELOPE_C2S, &e), NT_OK);
    uint8_t *pt = NULL;
    size_t n = 0;
    ck_assert_int_eq(envelope_open(&kc, &e, ENVELOPE_C2S, "PUT", "/v1/peer/ping", NULL, &pt, &n), NT_ERR_AUTH);
    ck_assert_int_eq(envelope_open(&kc, &e, ENVELOPE_C2S, "POST", "/v1/peer/pinG", NULL, &pt, &n), NT_ERR_AUTH);
    ck_assert_int_eq(envelope_open(&kc, &e, ENVELOPE_S2C, "POST", "/v1/peer/ping", NULL, &pt, &n), NT_ERR_AUTH);
    ck_assert_int_eq(envelope_open(&ks, &e, ENVELOPE_C2S, "POST", "/v1/peer/ping", NULL, &pt, &n), NT_ERR_AUTH);
    e.seq++;
    ck_assert_int_eq(envelope_open(&kc, &e, ENVELOPE_C2S, "POST", "/v1/peer/ping", NULL, &pt, &n), NT_ERR_AUTH);
    e.seq--;
    e.session_id[0] ^= 1;
    ck_assert_int_eq(envelope_open(&kc, &e, ENVELOPE_C2S, "POST", "/v1/peer/ping", NULL, &pt, &n), NT_ERR_AUTH);
    e.session_id[0] ^= 1;
    ck_assert_int_eq(envelope_open(&kc, &e, ENVELOPE_C2S, "POST", "/v1/peer/ping", NULL, &pt, &n), NT_OK);
    free(pt);
    envelope_clear(&e);
    free(j);
    /* Reply status is bound. */
    ck_assert_int_eq(envelope_seal(&ks, ENVELOPE_S2C, sid, 1, "POST", "/p", NULL, 200, NULL, NULL, 0, &j), NT_OK);
    ck_assert_int_eq(envelope_parse(j, strlen(j), ENVELOPE_S2C, &e), NT_OK);
    e.status = 500;
    ck_assert_int_eq(envelope_open(&ks, &e, ENVELOPE_S2C, "POST", "/p", NULL, &pt, &n), NT_ERR_AUTH);
    envelope_clear(&e);
    free(j);
}
END_TEST

/* Flip every bit of the box: the envelope never opens. */
START_TEST(bit_flips)
{
    char *j = seal_req(3, "POST", "/v1/peer/ping", "{\"echo\":\"bits\"}", NULL);
    envelope e;
    ck_assert_int_eq(envelope_parse(j, strlen(j), ENVELOPE_C2S, &e), NT_OK);
    for (size_t i = 0; i < e.box_len * 8; i++) {
        e.box[i / 8] ^= (uint8_t)(1u << (i % 8));
        uint8_t *pt = NULL;
        size_t n = 0;
        ck_assert_msg(envelope_open(&kc, &e, ENVELOPE_C2S, "POST", "/v1/peer/ping", NULL, &pt, &n) == NT_ERR_AUTH,
                      "bit %zu", i);
        ck_assert_ptr_null(pt);
        e.box[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    envelope_clear(&e);
    free(j);
}
END_TEST

static const char *const malformed[] = {
    "",
    "[]",
    "{}",
    "not json",
    "{\"v\":2,\"session\":\"00000000000000000000000000000000\",\"seq\":1,\"box\":\"AA==\"}",
    "{\"v\":1,\"session\":\"0000000000000000000000000000000\",\"seq\":1,\"box\":\"AA==\"}",
    "{\"v\":1,\"session\":\"zz000000000000000000000000000000\",\"seq\":1,\"box\":\"AA==\"}",
    "{\"v\":1,\"session\":\"00000000000000000000000000000000\",\"seq\":-1,\"box\":\"AA==\"}",
    "{\"v\":1,\"session\":\"00000000000000000000000000000000\",\"seq\":\"1\",\"box\":\"AA==\"}",
    "{\"v\":1,\"session\":\"ABCDEF00000000000000000000000000\",\"seq\":1,\"box\":\"%s\"}",
    "{\"v\":1,\"session\":\"00000000000000000000000000000000\",\"seq\":1,\"box\":\"AA==\"}",
    "{\"v\":1,\"session\":\"00000000000000000000000000000000\",\"seq\":1,\"box\":5}",
    "{\"v\":1,\"session\":\"00000000000000000000000000000000\",\"seq\":1}",
    "{\"v\":1,\"session\":\"00000000000000000000000000000000\",\"seq\":1,\"box\":\"%s\",\"x\":1}",
    "{\"v\":1,\"session\":\"00000000000000000000000000000000\",\"seq\":1,\"box\":\"%s\",\"confirm\":\"AA==\"}",
    "{\"v\":1,\"session\":\"00000000000000000000000000000000\",\"seq\":1,\"box\":\"%s!\"}",
    "{\"v\":1,\"session\":\"00000000000000000000000000000000\",\"seq\":1,\"box\":\"%s\",\"query\":5}",
    "{\"v\":1,\"v\":1,\"session\":\"00000000000000000000000000000000\",\"seq\":1,\"box\":\"%s\"}",
};

START_TEST(parse_rejects)
{
    /* A valid-looking box (long enough) for the %s cases. */
    uint8_t raw[SEAL_MIN_LEN];
    memset(raw, 1, sizeof(raw));
    char box[256], text[512];
    ck_assert_int_eq(encoding_b64_encode(raw, sizeof(raw), B64_STD, box, sizeof(box)), NT_OK);
    const char *tpl = malformed[_i], *hole = strstr(tpl, "%s");
    if (hole)
        snprintf(text, sizeof(text), "%.*s%s%s", (int)(hole - tpl), tpl, box, hole + 2);
    else
        snprintf(text, sizeof(text), "%s", tpl);
    envelope e;
    ck_assert_msg(envelope_parse(text, strlen(text), ENVELOPE_C2S, &e) == NT_ERR_INVALID, "case %d", _i);
    ck_assert_ptr_null(e.box);
    /* The base case is accepted, so the table tests what it says. */
    snprintf(text, sizeof(text),
             "{\"v\":1,\"session\":\"00000000000000000000000000000000\",\"seq\":1,\"box\":\"%s\"}", box);
    ck_assert_int_eq(envelope_parse(text, strlen(text), ENVELOPE_C2S, &e), NT_OK);
    envelope_clear(&e);
}
END_TEST

/* The box's length is public: one no seal can have (short, or not whole
 * blocks) is malformed (400 malformed_envelope) whatever its size, and
 * one of a possible length that does not open is NT_ERR_AUTH
 * (401 bad_envelope). */
START_TEST(box_lengths)
{
    static const struct {
        size_t len;
        bool parses;
    } cases[] = {{0, false},
                 {1, false},
                 {48, false},
                 {SEAL_MIN_LEN - 1, false},
                 {SEAL_MIN_LEN, true},
                 {SEAL_MIN_LEN + 1, false},
                 {SEAL_MIN_LEN + 15, false},
                 {SEAL_MIN_LEN + 16, true},
                 {SEAL_MIN_LEN + 17, false}};
    uint8_t raw[SEAL_MIN_LEN + 32];
    memset(raw, 1, sizeof(raw));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char box[128], text[256];
        ck_assert_int_eq(encoding_b64_encode(raw, cases[i].len, B64_STD, box, sizeof(box)), NT_OK);
        snprintf(text, sizeof(text),
                 "{\"v\":1,\"session\":\"00000000000000000000000000000000\",\"seq\":1,\"box\":\"%s\"}", box);
        envelope e;
        nt_err rc = envelope_parse(text, strlen(text), ENVELOPE_C2S, &e);
        ck_assert_msg(rc == (cases[i].parses ? NT_OK : NT_ERR_INVALID), "len %zu: %d", cases[i].len, rc);
        if (!cases[i].parses) {
            ck_assert_ptr_null(e.box);
            continue;
        }
        uint8_t *pt = NULL;
        size_t n = 1;
        ck_assert_int_eq(envelope_open(&kc, &e, ENVELOPE_C2S, "POST", "/v1/peer/ping", NULL, &pt, &n), NT_ERR_AUTH);
        ck_assert_ptr_null(pt);
        ck_assert_uint_eq(n, 0);
        envelope_clear(&e);
    }
}
END_TEST

START_TEST(ad_caps)
{
    uint8_t ad[ENVELOPE_AD_MAX];
    size_t n = 0;
    char path[ENVELOPE_PATH_MAX + 2];
    memset(path, 'a', sizeof(path) - 1);
    path[sizeof(path) - 1] = 0;
    ck_assert_int_eq(envelope_ad(ENVELOPE_C2S, sid, 0, "POST", path, NULL, 0, ad, &n), NT_ERR_INVALID);
    path[ENVELOPE_PATH_MAX] = 0;
    ck_assert_int_eq(envelope_ad(ENVELOPE_C2S, sid, 0, "POST", path, NULL, 0, ad, &n), NT_OK);
    ck_assert_uint_le(n, ENVELOPE_AD_MAX);
    ck_assert_int_eq(envelope_ad(ENVELOPE_C2S, sid, 0, "", "/x", NULL, 0, ad, &n), NT_ERR_INVALID);
    ck_assert_int_eq(envelope_ad(ENVELOPE_C2S, sid, 0, "POST", "", NULL, 0, ad, &n), NT_ERR_INVALID);
    ck_assert_int_eq(envelope_ad(ENVELOPE_S2C, sid, 0, "POST", "/x", NULL, 1000, ad, &n), NT_ERR_INVALID);
    /* The documented layout for a small case. */
    uint8_t s[HS_SESSION_ID_LEN] = {0};
    ck_assert_int_eq(envelope_ad(ENVELOPE_S2C, s, 0x0102, "GET", "/a", NULL, 200, ad, &n), NT_OK);
    static const uint8_t want[] = "natter/v1/envelope\0\x02"
                                  "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
                                  "\0\0\0\0\0\0\x01\x02"
                                  "\0\x03GET\0\x02/a\0\0\0\xc8";
    ck_assert_uint_eq(n, sizeof(want) - 1);
    ck_assert_mem_eq(ad, want, n);
    /* seq at the limit is refused when sealing. */
    char *j = NULL;
    ck_assert_int_eq(envelope_seal(&kc, ENVELOPE_C2S, sid, UINT64_C(1) << 63, "POST", "/x", NULL, 0, NULL, NULL, 0, &j),
                     NT_ERR_TOO_BIG);
    ck_assert_ptr_null(j);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("envelope");
    TCase *tc = tcase_create("envelope");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, confirm_field);
    tcase_add_test(tc, ad_binding);
    tcase_add_test(tc, query_bound);
    tcase_add_test(tc, bit_flips);
    tcase_add_loop_test(tc, parse_rejects, 0, (int)(sizeof(malformed) / sizeof(malformed[0])));
    tcase_add_test(tc, box_lengths);
    tcase_add_test(tc, ad_caps);
    suite_add_tcase(s, tc);
    return s;
}
