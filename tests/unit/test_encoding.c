/* test_encoding.c - strict base64 (standard padded, URL-safe unpadded) and
 * hex: RFC 4648 vectors, round trips, and every strict rejection. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "crypto/encoding.h"
#include "crypto/rng.h"
#include "tests/test_main.h"

/* RFC 4648 section 10, plus bytes that use the last two alphabet chars. */
static const struct {
    const char *raw;
    size_t raw_len;
    const char *std, *url, *hex;
} known[] = {
    {"", 0, "", "", ""},
    {"f", 1, "Zg==", "Zg", "66"},
    {"fo", 2, "Zm8=", "Zm8", "666f"},
    {"foo", 3, "Zm9v", "Zm9v", "666f6f"},
    {"foob", 4, "Zm9vYg==", "Zm9vYg", "666f6f62"},
    {"fooba", 5, "Zm9vYmE=", "Zm9vYmE", "666f6f6261"},
    {"foobar", 6, "Zm9vYmFy", "Zm9vYmFy", "666f6f626172"},
    {"\xfb\xff\xbf", 3, "+/+/", "-_-_", "fbffbf"},
    {"\xff\xff", 2, "//8=", "__8", "ffff"},
    {"\x00\x00\x00\x00", 4, "AAAAAA==", "AAAAAA", "00000000"},
};

START_TEST(test_known_answers)
{
    char enc[64];
    uint8_t dec[64];
    size_t len = 99;
    const uint8_t *raw = (const uint8_t *)known[_i].raw;
    size_t n = known[_i].raw_len;

    ck_assert_uint_eq(encoding_b64_len(n, B64_STD), strlen(known[_i].std) + 1);
    ck_assert_uint_eq(encoding_b64_len(n, B64_URL), strlen(known[_i].url) + 1);
    ck_assert_int_eq(encoding_b64_encode(raw, n, B64_STD, enc, sizeof enc), NT_OK);
    ck_assert_str_eq(enc, known[_i].std);
    ck_assert_int_eq(encoding_b64_encode(raw, n, B64_URL, enc, sizeof enc), NT_OK);
    ck_assert_str_eq(enc, known[_i].url);
    ck_assert_int_eq(encoding_hex_encode(raw, n, enc, sizeof enc), NT_OK);
    ck_assert_str_eq(enc, known[_i].hex);

    ck_assert_int_eq(encoding_b64_decode(known[_i].std, strlen(known[_i].std), B64_STD, dec, sizeof dec, &len), NT_OK);
    ck_assert_uint_eq(len, n);
    ck_assert_mem_eq(dec, raw, n);
    len = 99;
    ck_assert_int_eq(encoding_b64_decode(known[_i].url, strlen(known[_i].url), B64_URL, dec, sizeof dec, &len), NT_OK);
    ck_assert_uint_eq(len, n);
    ck_assert_mem_eq(dec, raw, n);
    len = 99;
    ck_assert_int_eq(encoding_hex_decode(known[_i].hex, strlen(known[_i].hex), dec, sizeof dec, &len), NT_OK);
    ck_assert_uint_eq(len, n);
    ck_assert_mem_eq(dec, raw, n);
}
END_TEST

/* Every length 0..300 with random bytes: both variants and hex round-trip,
 * standard base64 matches mbedTLS's encoder, caps are exact. */
START_TEST(test_round_trip_lengths)
{
    uint8_t raw[300], dec[300];
    char enc[2 * 300 + 1], ref[420];
    size_t len, olen;

    ck_assert_int_eq(rng_init(), NT_OK);
    for (size_t n = 0; n <= sizeof raw; n++) {
        ck_assert_int_eq(rng_bytes(raw, n), NT_OK);
        for (int v = B64_STD; v <= B64_URL; v++) {
            size_t need = encoding_b64_len(n, (b64_variant)v);
            ck_assert_int_eq(encoding_b64_encode(raw, n, (b64_variant)v, enc, need - 1), NT_ERR_TOO_BIG);
            ck_assert_int_eq(encoding_b64_encode(raw, n, (b64_variant)v, enc, need), NT_OK);
            ck_assert_uint_eq(strlen(enc), need - 1);
            if (v == B64_STD) {
                ref[0] = '\0'; /* mbedTLS writes nothing at all for n == 0 */
                ck_assert_int_eq(mbedtls_base64_encode((unsigned char *)ref, sizeof ref, &olen, raw, n), 0);
                ck_assert_str_eq(enc, ref);
            } else {
                ck_assert_ptr_null(strpbrk(enc, "+/="));
            }
            if (n > 0)
                ck_assert_int_eq(encoding_b64_decode(enc, need - 1, (b64_variant)v, dec, n - 1, &len),
                                 NT_ERR_TOO_BIG);
            ck_assert_int_eq(encoding_b64_decode(enc, need - 1, (b64_variant)v, dec, n, &len), NT_OK);
            ck_assert_uint_eq(len, n);
            ck_assert_mem_eq(dec, raw, n);
        }
        ck_assert_int_eq(encoding_hex_encode(raw, n, enc, 2 * n), NT_ERR_TOO_BIG);
        ck_assert_int_eq(encoding_hex_encode(raw, n, enc, 2 * n + 1), NT_OK);
        if (n > 0)
            ck_assert_int_eq(encoding_hex_decode(enc, 2 * n, dec, n - 1, &len), NT_ERR_TOO_BIG);
        ck_assert_int_eq(encoding_hex_decode(enc, 2 * n, dec, n, &len), NT_OK);
        ck_assert_uint_eq(len, n);
        ck_assert_mem_eq(dec, raw, n);
    }
    rng_free();
}
END_TEST

/* Strings each decoder must refuse, and with which code. */
static const struct {
    b64_variant v;
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *why;
} b64_bad[] = {
    {B64_STD, "Zg", 0, "missing padding"},
    {B64_STD, "Zg=", 0, "short padding"},
    {B64_STD, "Zm8", 0, "missing padding"},
    {B64_STD, "Zg===", 0, "extra padding"},
    {B64_STD, "Z===", 0, "three pads"},
    {B64_STD, "====", 0, "only padding"},
    {B64_STD, "Zg==Zg==", 0, "padding in the middle"},
    {B64_STD, "Z=g=", 0, "padding inside a quad"},
    {B64_STD, "Zh==", 0, "non-canonical bits (1 byte)"},
    {B64_STD, "Zm9=", 0, "non-canonical bits (2 bytes)"},
    {B64_STD, "//9=", 0, "non-canonical bits (2 bytes)"},
    {B64_STD, "Zm-v", 0, "URL character in standard"},
    {B64_STD, "Zm_v", 0, "URL character in standard"},
    {B64_STD, "Zm9v\n", 0, "newline"},
    {B64_STD, "Zm9 v", 0, "space"},
    {B64_STD, " Zm9", 0, "leading space"},
    {B64_STD, "Zm9*", 0, "bad character"},
    {B64_STD, "Zm\x80v", 0, "high-bit character"},
    {B64_STD, "Zm\0v", 4, "NUL inside"},
    {B64_STD, "A", 0, "one character"},
    {B64_URL, "Zg==", 0, "padding in URL-safe"},
    {B64_URL, "Zm8=", 0, "padding in URL-safe"},
    {B64_URL, "Z", 0, "one leftover character"},
    {B64_URL, "Zm9vY", 0, "one leftover character"},
    {B64_URL, "Zh", 0, "non-canonical bits (1 byte)"},
    {B64_URL, "Zm9", 0, "non-canonical bits (2 bytes)"},
    {B64_URL, "Zm+v", 0, "standard character in URL-safe"},
    {B64_URL, "Zm/v", 0, "standard character in URL-safe"},
    {B64_URL, "Zm9v\n", 0, "newline"},
    {B64_URL, "Zm\0v", 4, "NUL inside"},
    {B64_URL, "Zm9v.", 0, "bad character"},
};

typedef nt_err b64_decoder(const char *in, size_t n, b64_variant v, uint8_t *out, size_t cap, size_t *out_len);
static b64_decoder *const decoders[] = {encoding_b64_decode, encoding_b64_decode_public};

START_TEST(test_b64_rejects)
{
    for (size_t d = 0; d < sizeof decoders / sizeof decoders[0]; d++) {
        uint8_t out[32];
        size_t len = 1234, n = b64_bad[_i].len ? b64_bad[_i].len : strlen(b64_bad[_i].in);

        memset(out, 0x55, sizeof out);
        nt_err rc = decoders[d](b64_bad[_i].in, n, b64_bad[_i].v, out, sizeof out, &len);
        ck_assert_msg(rc == NT_ERR_INVALID, "decoder %zu, %s: \"%s\" gave %d", d, b64_bad[_i].why, b64_bad[_i].in,
                      rc);
        ck_assert_uint_eq(len, 0);
        /* a refused input leaves no partial output behind */
        for (size_t i = 0; i < 3 * (n / 4 + 1) && i < sizeof out; i++)
            ck_assert(out[i] == 0 || out[i] == 0x55);
    }
}
END_TEST

/* The table decoder accepts exactly what the constant-time one accepts,
 * with the same bytes: encodings of random data, some with edits. */
START_TEST(test_b64_public_same)
{
    static const char edits[] = "AZaz09+/-_=.\n\0\x80";
    uint32_t x = 0x2545f491u;
    for (int round = 0; round < 20000; round++) {
        uint8_t raw[64], a[64], b[64];
        char enc[96];
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        size_t n = x % sizeof raw;
        b64_variant v = (x >> 8) & 1 ? B64_URL : B64_STD;
        for (size_t i = 0; i < n; i++)
            raw[i] = (uint8_t)(x >> (i % 24));
        ck_assert_int_eq(encoding_b64_encode(raw, n, v, enc, sizeof enc), NT_OK);
        size_t len = strlen(enc);
        for (int e = (int)((x >> 12) % 3); e > 0 && len > 0; e--) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            enc[x % len] = edits[(x >> 10) % (sizeof edits - 1)];
        }
        size_t la = 99, lb = 77;
        nt_err ra = encoding_b64_decode(enc, len, v, a, sizeof a, &la);
        nt_err rb = encoding_b64_decode_public(enc, len, v, b, sizeof b, &lb);
        ck_assert_msg(ra == rb && la == lb && (ra || memcmp(a, b, la) == 0), "decoders disagree on \"%.*s\"",
                      (int)len, enc);
    }
}
END_TEST

static const struct {
    const char *in;
    size_t len;
    nt_err want;
} hex_bad[] = {
    {"abc", 0, NT_ERR_INVALID},   {"a", 0, NT_ERR_INVALID},     {"zz", 0, NT_ERR_INVALID},
    {"0g", 0, NT_ERR_INVALID},    {"g0", 0, NT_ERR_INVALID},    {" 00", 0, NT_ERR_INVALID},
    {"0x00", 0, NT_ERR_INVALID},  {"00 ", 0, NT_ERR_INVALID},   {"0\0", 2, NT_ERR_INVALID},
    {"@0", 0, NT_ERR_INVALID},    {"`0", 0, NT_ERR_INVALID},    {"G0", 0, NT_ERR_INVALID},
    {"/0", 0, NT_ERR_INVALID},    {":0", 0, NT_ERR_INVALID},    {"\xff" "0", 0, NT_ERR_INVALID},
};

START_TEST(test_hex_rejects)
{
    uint8_t out[8];
    size_t len = 1234, n = hex_bad[_i].len ? hex_bad[_i].len : strlen(hex_bad[_i].in);
    ck_assert_int_eq(encoding_hex_decode(hex_bad[_i].in, n, out, sizeof out, &len), hex_bad[_i].want);
    ck_assert_uint_eq(len, 0);
}
END_TEST

/* Hex is lowercase on the wire, in both directions: one spelling per byte
 * string, so an id compared as text and an id compared as bytes agree. */
START_TEST(test_hex_case)
{
    uint8_t out[8];
    size_t len = 0;
    static const uint8_t want[] = {0xab, 0xcd, 0xef, 0x09};
    ck_assert_int_eq(encoding_hex_decode("abcdef09", 8, out, sizeof out, &len), NT_OK);
    ck_assert_uint_eq(len, 4);
    ck_assert_mem_eq(out, want, 4);
    static const char *const upper[] = {"ABcdEF09", "ABCDEF09", "abcdeF09", "A0"};
    for (size_t i = 0; i < sizeof upper / sizeof upper[0]; i++) {
        len = 1234;
        ck_assert_int_eq(encoding_hex_decode(upper[i], strlen(upper[i]), out, sizeof out, &len), NT_ERR_INVALID);
        ck_assert_uint_eq(len, 0);
    }
}
END_TEST

/* Replacing one character of a valid string by each of the 256 byte values
 * is accepted exactly when the value is in that variant's alphabet (and
 * keeps the string canonical: position 0 of a full quad always does). */
START_TEST(test_every_character)
{
    static const char *const alpha[] = {
        [B64_STD] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        [B64_URL] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    };
    static const char hexdig[] = "0123456789abcdef";
    uint8_t out[8];
    size_t len;

    for (int v = B64_STD; v <= B64_URL; v++) {
        for (int c = 0; c < 256; c++) {
            char s[5] = "Zm9v";
            s[0] = (char)c;
            bool in_alpha = c != 0 && strchr(alpha[v], c) != NULL;
            for (size_t d = 0; d < sizeof decoders / sizeof decoders[0]; d++) {
                nt_err rc = decoders[d](s, 4, (b64_variant)v, out, sizeof out, &len);
                ck_assert_msg(rc == (in_alpha ? NT_OK : NT_ERR_INVALID), "decoder %zu variant %d char 0x%02x: %d", d,
                              v, c, rc);
            }
        }
    }
    for (int c = 0; c < 256; c++) {
        char s[3] = {(char)c, '0', 0};
        nt_err rc = encoding_hex_decode(s, 2, out, sizeof out, &len);
        bool ok = c != 0 && strchr(hexdig, c) != NULL;
        ck_assert_msg(rc == (ok ? NT_OK : NT_ERR_INVALID), "hex char 0x%02x: %d", c, rc);
    }
}
END_TEST

START_TEST(test_bad_arguments)
{
    uint8_t out[8];
    char enc[16];
    size_t len;

    ck_assert_int_eq(encoding_b64_encode(NULL, 3, B64_STD, enc, sizeof enc), NT_ERR_INVALID);
    ck_assert_int_eq(encoding_b64_encode((const uint8_t *)"abc", 3, B64_STD, NULL, 16), NT_ERR_INVALID);
    ck_assert_int_eq(encoding_b64_encode((const uint8_t *)"abc", 3, (b64_variant)7, enc, sizeof enc), NT_ERR_INVALID);
    ck_assert_int_eq(encoding_b64_decode("Zm9v", 4, (b64_variant)7, out, sizeof out, &len), NT_ERR_INVALID);
    ck_assert_int_eq(encoding_b64_decode(NULL, 4, B64_STD, out, sizeof out, &len), NT_ERR_INVALID);
    ck_assert_int_eq(encoding_b64_decode("Zm9v", 4, B64_STD, out, sizeof out, NULL), NT_ERR_INVALID);
    ck_assert_int_eq(encoding_hex_decode(NULL, 2, out, sizeof out, &len), NT_ERR_INVALID);
    ck_assert_int_eq(encoding_hex_encode(NULL, 2, enc, sizeof enc), NT_ERR_INVALID);
    /* empty input with no output buffer is fine */
    ck_assert_int_eq(encoding_b64_decode("", 0, B64_URL, NULL, 0, &len), NT_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(encoding_hex_decode("", 0, NULL, 0, &len), NT_OK);
    ck_assert_uint_eq(len, 0);
    /* a length whose encoding cannot be represented */
    ck_assert_uint_eq(encoding_b64_len(SIZE_MAX, B64_STD), 0);
    ck_assert_uint_eq(encoding_b64_len(SIZE_MAX / 4 * 3, B64_URL), 0);
    ck_assert_int_eq(encoding_b64_encode(out, SIZE_MAX, B64_STD, enc, sizeof enc), NT_ERR_TOO_BIG);
    ck_assert_int_eq(encoding_hex_encode(out, SIZE_MAX / 2 + 1, enc, sizeof enc), NT_ERR_TOO_BIG);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("encoding");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_known_answers, 0, (int)(sizeof known / sizeof known[0]));
    tcase_add_test(tc, test_round_trip_lengths);
    tcase_add_loop_test(tc, test_b64_rejects, 0, (int)(sizeof b64_bad / sizeof b64_bad[0]));
    tcase_add_loop_test(tc, test_hex_rejects, 0, (int)(sizeof hex_bad / sizeof hex_bad[0]));
    tcase_add_test(tc, test_b64_public_same);
    tcase_add_test(tc, test_hex_case);
    tcase_add_test(tc, test_every_character);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
