/* fuzz_peer_channel.c - libFuzzer harness for the peer channel's parsers:
 * the sealed envelope (both directions, then an open attempt under a fixed
 * key) and the serving side of the handshake (every check up to the
 * signature) on arbitrary bytes taken as the request body.
 *
 * Nothing may crash or overrun; a parsed envelope must be self-consistent;
 * no handshake from random bytes may succeed, and none may leave a
 * session behind. The serving node's key is made once (RSA-2048). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "crypto/rng.h"
#include "server/channel/envelope.h"
#include "server/channel/handshake.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static identity *srv;
static session_table *tab;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (rng_init() || identity_generate(&srv, 2048) || session_table_new(&tab, NULL))
        abort();
    return 0;
}

static void fuzz_envelope(const char *text, size_t n)
{
    static const seal_key k = {{1}, {2}};
    for (int dir = ENVELOPE_C2S; dir <= ENVELOPE_S2C; dir++) {
        envelope e;
        if (envelope_parse(text, n, (envelope_dir)dir, &e))
            continue;
        if (e.box_len < SEAL_MIN_LEN || (e.box_len - SEAL_MIN_LEN) % SEAL_BLOCK || !e.box ||
            strlen(e.query) > ENVELOPE_QUERY_MAX ||
            (dir == ENVELOPE_S2C && (e.status < 100 || e.status > 599)))
            abort();
        uint8_t *pt = NULL;
        size_t pl = 0;
        if (!envelope_open(&k, &e, (envelope_dir)dir, "POST", "/v1/peer/ping", NULL, &pt, &pl))
            abort(); /* a random box never authenticates under this key */
        envelope_clear(&e);
    }
}

static void fuzz_handshake(const char *text, size_t n)
{
    json_t *req = NULL;
    if (json_parse_object(text, n, JSON_DEPTH_DEFAULT, &req))
        return;
    hs_server s = {.self = srv, .name = "fuzz", .sessions = tab, .now = 1700000000};
    json_t *reply = NULL;
    hs_accepted acc;
    hs_status st = handshake_serve(&s, req, &reply, &acc);
    if (st == HS_OK || reply || session_count(tab, NULL, s.now))
        abort(); /* random input cannot carry a valid signature */
    json_decref(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    fuzz_envelope(text, size);
    fuzz_handshake(text, size);
    free(text);
    return 0;
}
