/* fuzz_encoding.c - libFuzzer harness for the strict decoders.
 *
 * Each input is decoded as standard base64, URL-safe base64 and hex. The
 * decoders are strict, so whatever they accept must re-encode to exactly
 * the input (hex is lowercase only, so it too re-encodes to the input);
 * anything else is a bug. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX 4096

static void check_b64(const char *in, size_t n, b64_variant v)
{
    static uint8_t raw[FUZZ_MAX];
    static char again[FUZZ_MAX * 2 + 8];
    size_t len = 0;

    if (encoding_b64_decode(in, n, v, raw, sizeof raw, &len) != NT_OK)
        return;
    if (len > n)
        abort();
    if (encoding_b64_encode(raw, len, v, again, sizeof again) != NT_OK)
        abort();
    if (strlen(again) != n || memcmp(again, in, n) != 0)
        abort();
    /* a cap one byte short must be refused, not overrun */
    if (len > 0 && encoding_b64_decode(in, n, v, raw, len - 1, &len) != NT_ERR_TOO_BIG)
        abort();
}

static void check_hex(const char *in, size_t n)
{
    static uint8_t raw[FUZZ_MAX];
    static char again[FUZZ_MAX * 2 + 8];
    size_t len = 0;

    if (encoding_hex_decode(in, n, raw, sizeof raw, &len) != NT_OK)
        return;
    if (len * 2 != n)
        abort();
    if (encoding_hex_encode(raw, len, again, sizeof again) != NT_OK)
        abort();
    if (strlen(again) != n || memcmp(again, in, n) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in;

    if (size > FUZZ_MAX)
        return 0;
    /* An exact-size copy so ASan catches any read past the end. */
    in = malloc(size ? size : 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    check_b64(in, size, B64_STD);
    check_b64(in, size, B64_URL);
    check_hex(in, size);
    free(in);
    return 0;
}
