/* encoding.c - strict base64 and hex.
 *
 * The decoders map characters without table lookups or branches on the
 * data (after wireguard-tools' encoding.c), since they also decode keys;
 * structural checks (length, padding position) depend only on public
 * lengths and the '=' positions. Exactly one encoding is accepted for any
 * byte string: no whitespace, no missing or extra padding, no set bits in
 * the unused low bits of the last character. encoding_b64_decode_public
 * accepts exactly the same strings, by table lookup, for data that is not
 * secret (ciphertext, signatures). */
#include "encoding.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <mbedtls/platform_util.h>

static const char b64_std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* All-ones if lo <= x <= hi, else zero; x, lo, hi in 0..255. */
static int ct_in_range(int x, int lo, int hi)
{
    return (((lo - 1) - x) & (x - (hi + 1))) >> 8;
}

/* 0..63, or -1 for a character outside the variant's alphabet. */
static int b64_value(unsigned char ch, b64_variant v)
{
    int x = ch, c62 = v == B64_URL ? '-' : '+', c63 = v == B64_URL ? '_' : '/';
    int r = -1;

    r += ct_in_range(x, 'A', 'Z') & (x - 'A' + 1);
    r += ct_in_range(x, 'a', 'z') & (x - 'a' + 27);
    r += ct_in_range(x, '0', '9') & (x - '0' + 53);
    r += ct_in_range(x, c62, c62) & 63;
    r += ct_in_range(x, c63, c63) & 64;
    return r;
}

size_t encoding_b64_len(size_t n, b64_variant v)
{
    if (n > (SIZE_MAX - 4) / 4 * 3)
        return 0; /* not representable */
    if (v == B64_URL)
        return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0) + 1;
    return (n + 2) / 3 * 4 + 1;
}

nt_err encoding_b64_encode(const uint8_t *in, size_t n, b64_variant v, char *out, size_t cap)
{
    const char *alpha = v == B64_URL ? b64_url_alpha : b64_std_alpha;
    size_t need = encoding_b64_len(n, v), o = 0, i = 0;

    if ((v != B64_STD && v != B64_URL) || !out || (n > 0 && !in))
        return NT_ERR_INVALID;
    if (need == 0 || cap < need)
        return NT_ERR_TOO_BIG;
    for (; i + 3 <= n; i += 3) {
        uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[w >> 18 & 63];
        out[o++] = alpha[w >> 12 & 63];
        out[o++] = alpha[w >> 6 & 63];
        out[o++] = alpha[w & 63];
    }
    if (n - i > 0) {
        uint32_t w = (uint32_t)in[i] << 16 | (n - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = alpha[w >> 18 & 63];
        out[o++] = alpha[w >> 12 & 63];
        if (n - i == 2)
            out[o++] = alpha[w >> 6 & 63];
        else if (v == B64_STD)
            out[o++] = '=';
        if (v == B64_STD)
            out[o++] = '=';
    }
    out[o] = '\0';
    return NT_OK;
}

/* What both decoders check first: the variant, the padding, the room in
 * out. Sets *chars (data characters, padding excluded) and *want (bytes). */
static nt_err b64_frame(const char *in, size_t n, b64_variant v, const uint8_t *out, size_t cap, size_t *out_len,
                        size_t *chars, size_t *want)
{
    *chars = n;
    if (out_len)
        *out_len = 0;
    if ((v != B64_STD && v != B64_URL) || !out_len || (n > 0 && (!in || !out)))
        return NT_ERR_INVALID;
    if (v == B64_STD) {
        /* Padded to whole quads; '=' only as the last one or two. */
        if (n % 4 != 0)
            return NT_ERR_INVALID;
        if (n > 0 && in[n - 1] == '=')
            (*chars)--;
        if (n > 1 && in[n - 2] == '=')
            (*chars)--;
    } else if (n % 4 == 1) {
        return NT_ERR_INVALID; /* one leftover character holds no byte */
    }
    *want = *chars / 4 * 3 + (*chars % 4 ? *chars % 4 - 1 : 0);
    return *want > cap ? NT_ERR_TOO_BIG : NT_OK;
}

/* Decode in[i..chars) one character at a time into out + o; the unused low
 * bits of a partial last quad must be zero. Returns a negative value when
 * something was not base64 (branch-free per character). */
static int b64_tail(const char *in, size_t i, size_t chars, b64_variant v, uint8_t *out, size_t o)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    int bad = 0;
    for (; i < chars; i++) {
        int val = b64_value((unsigned char)in[i], v);
        bad |= val; /* negative stays negative */
        acc = acc << 6 | (uint32_t)(val & 63);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return bad | -(int)(acc != 0);
}

nt_err encoding_b64_decode(const char *in, size_t n, b64_variant v, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t chars, want = 0;
    nt_err rc = b64_frame(in, n, v, out, cap, out_len, &chars, &want);
    if (rc)
        return rc;
    if (b64_tail(in, 0, chars, v, out, 0) < 0) {
        mbedtls_platform_zeroize(out, want);
        return NT_ERR_INVALID;
    }
    *out_len = want;
    return NT_OK;
}

static int8_t b64_table[2][256];
static pthread_once_t b64_table_once = PTHREAD_ONCE_INIT;

static void b64_table_init(void)
{
    for (int c = 0; c < 256; c++) {
        b64_table[B64_STD][c] = (int8_t)b64_value((unsigned char)c, B64_STD);
        b64_table[B64_URL][c] = (int8_t)b64_value((unsigned char)c, B64_URL);
    }
}

nt_err encoding_b64_decode_public(const char *in, size_t n, b64_variant v, uint8_t *out, size_t cap,
                                  size_t *out_len)
{
    size_t chars, want = 0, i = 0, o = 0;
    nt_err rc = b64_frame(in, n, v, out, cap, out_len, &chars, &want);
    if (rc)
        return rc;
    pthread_once(&b64_table_once, b64_table_init);
    const int8_t *t = b64_table[v];
    int bad = 0;
    for (; i + 4 <= chars; i += 4) {
        int a = t[(unsigned char)in[i]], b = t[(unsigned char)in[i + 1]], c = t[(unsigned char)in[i + 2]],
            d = t[(unsigned char)in[i + 3]];
        bad |= a | b | c | d;
        uint32_t w = (uint32_t)(a & 63) << 18 | (uint32_t)(b & 63) << 12 | (uint32_t)(c & 63) << 6 | (uint32_t)(d & 63);
        out[o++] = (uint8_t)(w >> 16);
        out[o++] = (uint8_t)(w >> 8);
        out[o++] = (uint8_t)w;
    }
    if ((bad | b64_tail(in, i, chars, v, out, o)) < 0) {
        memset(out, 0, want); /* as the other decoder: no partial output */
        return NT_ERR_INVALID;
    }
    *out_len = want;
    return NT_OK;
}

nt_err encoding_hex_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";

    if (!out || (n > 0 && !in))
        return NT_ERR_INVALID;
    if (n > (SIZE_MAX - 1) / 2 || cap < 2 * n + 1)
        return NT_ERR_TOO_BIG;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
    return NT_OK;
}

/* 0..15, or -1 for anything else. Lowercase only: hex on the wire has one
 * spelling, so ids compared as text and as bytes always agree. */
static int hex_value(unsigned char ch)
{
    int x = ch, r = -1;

    r += ct_in_range(x, '0', '9') & (x - '0' + 1);
    r += ct_in_range(x, 'a', 'f') & (x - 'a' + 11);
    return r;
}

nt_err encoding_hex_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    int bad = 0;

    if (out_len)
        *out_len = 0;
    if (!out_len || (n > 0 && (!in || !out)))
        return NT_ERR_INVALID;
    if (n % 2)
        return NT_ERR_INVALID;
    if (n / 2 > cap)
        return NT_ERR_TOO_BIG;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_value((unsigned char)in[2 * i]), lo = hex_value((unsigned char)in[2 * i + 1]);
        bad |= hi | lo;
        out[i] = (uint8_t)((hi & 15) << 4 | (lo & 15));
    }
    if (bad < 0) {
        mbedtls_platform_zeroize(out, n / 2);
        return NT_ERR_INVALID;
    }
    *out_len = n / 2;
    return NT_OK;
}
