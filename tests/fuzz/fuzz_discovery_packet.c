/* libFuzzer harness for the discovery packet decoder: decode anything, then
 * exercise the key and signature checks on whatever decodes, and check
 * that the encoder reproduces the signed bytes of every announcement the
 * decoder accepts (decode . encode is the identity on valid input). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "crypto/rng.h"
#include "server/discovery/discovery_packet.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return rng_init() == NT_OK ? 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    discovery_packet p;
    if (discovery_packet_decode(data, size, &p) != DISC_OK)
        return 0;
    if (size > DISCOVERY_PACKET_MAX)
        abort();
    (void)discovery_packet_check_time(&p, 0, DISCOVERY_TIME_WINDOW_MS);
    if (p.type == DISCOVERY_QUERY)
        return size == DISCOVERY_QUERY_LEN ? 0 : (abort(), 0);

    static uint8_t again[DISCOVERY_PACKET_MAX];
    size_t len = 0;
    discovery_announce_fields f = {.timestamp_ms = p.timestamp_ms, .seq = p.seq, .peer_port = p.peer_port,
                                   .name = p.name, .flags = p.flags, .has_addr = p.has_addr};
    memcpy(f.instance_id, p.instance_id, sizeof f.instance_id);
    memcpy(f.addr, p.addr, sizeof f.addr);
    /* A type 3 packet with nothing in its fields is valid but is sent as
     * type 1: it has no identical re-encoding. */
    bool same_type = p.type == DISCOVERY_ANNOUNCE || p.flags || p.has_addr;
    if (discovery_packet_encode_unsigned(p.node_id, &f, p.key, p.key_len, again, sizeof again, &len) != NT_OK ||
        (same_type && (len != p.signed_len || memcmp(again, data, len) != 0)))
        abort();

    identity *k = NULL;
    (void)discovery_packet_check_key(&p, &k);
    identity_free(k);
    k = NULL;
    /* Reach the signature check too: bind the id to whatever key parses. */
    if (p.key && identity_from_der(&k, p.key, p.key_len) == NT_OK) {
        memcpy(p.node_id, identity_id(k), IDENTITY_ID_LEN);
        (void)discovery_packet_verify(&p, k);
        identity_free(k);
    }
    return 0;
}
