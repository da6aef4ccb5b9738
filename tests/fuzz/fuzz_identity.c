/* fuzz_identity.c - libFuzzer harness for the public-key parsers that see
 * peer input (DER SPKI from announcements and joins, PEM from users).
 *
 * The first byte picks the parser. Whatever identity_from_der accepts must
 * re-export to exactly the input (only canonical DER is taken) and its id
 * must be SHA-256 of those bytes; whatever identity_from_pem accepts must
 * round-trip through its own PEM and DER to the same id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "crypto/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_der(const uint8_t *in, size_t n)
{
    identity *id = NULL;
    uint8_t der[IDENTITY_PUB_DER_MAX], digest[32];
    size_t len = 0;

    if (identity_from_der(&id, in, n) != NT_OK) {
        if (id)
            abort();
        return;
    }
    if (identity_has_private(id) || !identity_bits_allowed(identity_bits(id)))
        abort();
    if (identity_public_der(id, der, sizeof der, &len) != NT_OK || len != n || memcmp(der, in, n) != 0)
        abort();
    if (mbedtls_sha256_ret(in, n, digest, 0) != 0 || memcmp(digest, identity_id(id), 32) != 0)
        abort();
    identity_free(id);
}

static void check_pem(const uint8_t *in, size_t n)
{
    identity *id = NULL, *again = NULL;
    char pem[IDENTITY_PUB_PEM_MAX];

    if (identity_from_pem(&id, (const char *)in, n) != NT_OK) {
        if (id)
            abort();
        return;
    }
    if (identity_public_pem(id, pem, sizeof pem) != NT_OK || identity_from_pem(&again, pem, strlen(pem)) != NT_OK ||
        memcmp(identity_id(id), identity_id(again), IDENTITY_ID_LEN) != 0)
        abort();
    identity_free(again);
    identity_free(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *in;

    if (size < 1 || size > 4096)
        return 0;
    /* exact-size copy so ASan sees any over-read */
    in = malloc(size - 1 ? size - 1 : 1);
    if (!in)
        return 0;
    memcpy(in, data + 1, size - 1);
    if (data[0] & 1)
        check_pem(in, size - 1);
    else
        check_der(in, size - 1);
    free(in);
    return 0;
}
