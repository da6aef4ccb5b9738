/* Unit tests for storage/peers: pinning, refresh, addresses, flags. Two
 * RSA-2048 keys are made once per binary (before the forked tests). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "crypto/identity.h"
#include "crypto/rng.h"
#include "storage/peers.h"

static identity *ka, *kb;
static char dir[] = "/tmp/natter-test-peers-XXXXXX";
static store *st;

static void setup(void)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/t%d.db", dir, (int)getpid());
    unlink(path);
    ck_assert_int_eq(store_open(path, &st), NT_OK);
}

static void teardown(void)
{
    store_close(st);
    st = NULL;
}

START_TEST(observe_new_then_known)
{
    static const uint8_t inst1[16] = {1}, inst2[16] = {2};
    bool is_new = false;
    ck_assert_int_eq(peers_observe(st, ka, "alice", "10.0.0.1:7711", "multicast", inst1, 1000, &is_new), NT_OK);
    ck_assert(is_new);
    peer_info p;
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    ck_assert_str_eq(p.name, "alice");
    ck_assert_str_eq(p.address, "10.0.0.1:7711");
    ck_assert_str_eq(p.source, "multicast");
    ck_assert_int_eq(p.first_seen, 1000);
    ck_assert_int_eq(p.last_seen, 1000);
    ck_assert(!p.trusted);
    ck_assert_int_eq(p.delivery, PEER_DELIVERY_PUSH);
    ck_assert(p.has_instance);
    ck_assert_mem_eq(p.instance_id, inst1, 16);
    ck_assert(!p.name_collision);
    char hex[65];
    identity_id_hex(ka, hex);
    ck_assert_str_eq(p.id_hex, hex);

    /* Seen again: refreshed, not new; a NULL name/addr/instance keeps them. */
    ck_assert_int_eq(peers_observe(st, ka, NULL, NULL, "multicast", NULL, 1010, &is_new), NT_OK);
    ck_assert(!is_new);
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    ck_assert_str_eq(p.name, "alice");
    ck_assert_str_eq(p.address, "10.0.0.1:7711");
    ck_assert_int_eq(p.last_seen, 1010);
    ck_assert_int_eq(p.first_seen, 1000);
    ck_assert_mem_eq(p.instance_id, inst1, 16);
    /* New name, new instance (a restart), a manual add upgrades the source. */
    ck_assert_int_eq(peers_observe(st, ka, "alice2", "10.0.0.2:7711", "manual", inst2, 1005, &is_new), NT_OK);
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    ck_assert_str_eq(p.name, "alice2");
    ck_assert_int_eq(p.last_seen, 1010); /* never goes back */
    ck_assert_mem_eq(p.instance_id, inst2, 16);
    ck_assert_str_eq(p.source, "manual");
    ck_assert_int_eq(peers_observe(st, ka, NULL, NULL, "multicast", NULL, 1020, NULL), NT_OK);
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    ck_assert_str_eq(p.source, "manual");
}
END_TEST

START_TEST(addresses_newest_first_capped)
{
    char a[32];
    for (int i = 0; i < 6; i++) {
        snprintf(a, sizeof(a), "10.0.0.%d:7711", i);
        ck_assert_int_eq(peers_observe(st, ka, "a", a, "multicast", NULL, 100 + i, NULL), NT_OK);
    }
    peer_info p;
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    ck_assert_uint_eq(p.n_addresses, PEERS_ADDRS_KEPT);
    ck_assert_str_eq(p.address, "10.0.0.5:7711");
    ck_assert_str_eq(p.addresses[0], "10.0.0.5:7711");
    ck_assert_str_eq(p.addresses[PEERS_ADDRS_KEPT - 1], "10.0.0.2:7711");
    /* An old address seen again moves to the front. */
    ck_assert_int_eq(peers_observe(st, ka, "a", "10.0.0.3:7711", "multicast", NULL, 200, NULL), NT_OK);
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    ck_assert_str_eq(p.address, "10.0.0.3:7711");
}
END_TEST

/* The key for an id is pinned: a row whose key differs refuses the new one
 * and keeps everything. (The id is the key's hash, so a real different key
 * cannot come with the same id; a tampered row stands in for it.) */
START_TEST(key_pinned)
{
    ck_assert_int_eq(peers_observe(st, ka, "alice", "10.0.0.1:7711", "multicast", NULL, 1000, NULL), NT_OK);
    uint8_t der[IDENTITY_PUB_DER_MAX];
    size_t n = 0;
    ck_assert_int_eq(identity_public_der(kb, der, sizeof(der), &n), NT_OK);
    char hex[65];
    identity_id_hex(ka, hex);
    store_lock(st);
    sqlite3_stmt *s = store_stmt(st, "UPDATE peers SET pub_der = ?2 WHERE id = ?1");
    ck_assert_ptr_nonnull(s);
    sqlite3_bind_text(s, 1, hex, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, der, (int)n, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
    store_unlock(st);
    bool is_new = true;
    ck_assert_int_eq(peers_observe(st, ka, "mallory", "10.9.9.9:1", "multicast", NULL, 2000, &is_new), NT_ERR_AUTH);
    ck_assert(!is_new);
    peer_info p;
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    ck_assert_str_eq(p.name, "alice");
    ck_assert_str_eq(p.address, "10.0.0.1:7711");
    ck_assert_int_eq(p.last_seen, 1000);
    ck_assert_uint_eq(p.n_addresses, 1);
    /* And the stored key no longer hashes to the id: refused on load. */
    identity *k = NULL;
    ck_assert_int_eq(peers_get_key(st, identity_id(ka), &k), NT_ERR_AUTH);
    ck_assert_ptr_null(k);
}
END_TEST

START_TEST(name_collision_flagged)
{
    ck_assert_int_eq(peers_observe(st, ka, "laptop", NULL, "multicast", NULL, 1, NULL), NT_OK);
    ck_assert_int_eq(peers_observe(st, kb, "laptop", NULL, "multicast", NULL, 2, NULL), NT_OK);
    peer_info p;
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    ck_assert(!p.name_collision);
    ck_assert_int_eq(peers_get(st, identity_id(kb), &p), NT_OK);
    ck_assert(p.name_collision);
}
END_TEST

START_TEST(flags_list_delete)
{
    ck_assert_int_eq(peers_observe(st, ka, "a", NULL, "manual", NULL, 5, NULL), NT_OK);
    ck_assert_int_eq(peers_observe(st, kb, "b", "127.0.0.1:9", "handshake", NULL, 6, NULL), NT_OK);
    ck_assert_int_eq(peers_set_trusted(st, identity_id(ka), true), NT_OK);
    ck_assert_int_eq(peers_set_delivery(st, identity_id(ka), PEER_DELIVERY_POLL), NT_OK);
    peer_info *v = NULL;
    size_t n = 0;
    ck_assert_int_eq(peers_list(st, &v, &n), NT_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(v[0].name, "b"); /* most recently seen first */
    ck_assert_str_eq(v[1].name, "a");
    ck_assert(v[1].trusted);
    ck_assert_int_eq(v[1].delivery, PEER_DELIVERY_POLL);
    ck_assert_str_eq(v[0].source, "handshake");
    free(v);
    identity *k = NULL;
    ck_assert_int_eq(peers_get_key(st, identity_id(kb), &k), NT_OK);
    ck_assert_mem_eq(identity_id(k), identity_id(kb), IDENTITY_ID_LEN);
    identity_free(k);
    ck_assert_int_eq(peers_delete(st, identity_id(kb)), NT_OK);
    ck_assert_int_eq(peers_delete(st, identity_id(kb)), NT_ERR_NOT_FOUND);
    peer_info p;
    ck_assert_int_eq(peers_get(st, identity_id(kb), &p), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(peers_set_trusted(st, identity_id(kb), true), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(peers_set_delivery(st, identity_id(kb), PEER_DELIVERY_PUSH), NT_ERR_NOT_FOUND);
    /* Its addresses went with it. */
    store_lock(st);
    sqlite3_stmt *s = store_stmt(st, "SELECT count(*) FROM peer_addresses");
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), 0);
    sqlite3_reset(s);
    store_unlock(st);
    ck_assert_int_eq(peers_list(st, &v, &n), NT_OK);
    ck_assert_uint_eq(n, 1);
    free(v);
}
END_TEST

static const struct {
    const char *name, *addr, *source;
} bad_inputs[] = {
    {"tab\tname", NULL, "multicast"},
    {"\xc3\x28", NULL, "multicast"},             /* bad UTF-8 */
    {"\xed\xa0\x80", NULL, "multicast"},         /* surrogate */
    {"\xc0\xaf", NULL, "multicast"},             /* overlong */
    {"x", "nohostport", "multicast"},
    {"x", "host:", "multicast"},
    {"x", ":80", "multicast"},
    {"x", "host:70000", "multicast"},
    {"x", "host:12a", "multicast"},
    {"x", NULL, "carrier-pigeon"},
    {"x", NULL, NULL},
    {"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789X", NULL,
     "manual"},
};

START_TEST(bad_input_refused)
{
    bool is_new = true;
    ck_assert_int_eq(peers_observe(st, ka, bad_inputs[_i].name, bad_inputs[_i].addr, bad_inputs[_i].source, NULL,
                                   1, &is_new),
                     NT_ERR_INVALID);
    ck_assert(!is_new);
    peer_info p;
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_ERR_NOT_FOUND);
    /* 100 bytes of multi-byte UTF-8 are fine. */
    char name[101];
    for (int i = 0; i < 50; i++)
        memcpy(name + 2 * i, "\xc3\xa9", 2);
    name[100] = 0;
    ck_assert_int_eq(peers_observe(st, ka, name, "[::1]:7711", "manual", NULL, 1, &is_new), NT_OK);
    ck_assert(is_new);
}
END_TEST

START_TEST(helpers)
{
    uint8_t id[32];
    ck_assert_int_eq(peers_id_parse("00", id), NT_ERR_INVALID);
    ck_assert_int_eq(peers_id_parse(NULL, id), NT_ERR_INVALID);
    ck_assert_int_eq(peers_id_parse("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", id), NT_OK);
    ck_assert_int_eq(id[0], 0xab);
    /* lowercase only: an id has one spelling, as the store and the API show it */
    ck_assert_int_eq(peers_id_parse("ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789", id),
                     NT_ERR_INVALID);
    ck_assert_int_eq(peers_id_parse("abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345678F", id),
                     NT_ERR_INVALID);
    ck_assert_int_eq(peers_id_parse("gbcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", id),
                     NT_ERR_INVALID);
    peer_delivery d;
    ck_assert_int_eq(peers_delivery_parse("poll", &d), NT_OK);
    ck_assert_int_eq(d, PEER_DELIVERY_POLL);
    ck_assert_int_eq(peers_delivery_parse("push", &d), NT_OK);
    ck_assert_int_eq(d, PEER_DELIVERY_PUSH);
    ck_assert_int_eq(peers_delivery_parse("PUSH", &d), NT_ERR_INVALID);
    ck_assert_str_eq(peers_delivery_name(PEER_DELIVERY_POLL), "poll");
}
END_TEST

int main(void)
{
    if (rng_init() || !mkdtemp(dir) || identity_generate(&ka, 2048) || identity_generate(&kb, 2048))
        return EXIT_FAILURE;
    Suite *s = suite_create("peers");
    TCase *tc = tcase_create("peers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, observe_new_then_known);
    tcase_add_test(tc, addresses_newest_first_capped);
    tcase_add_test(tc, key_pinned);
    tcase_add_test(tc, name_collision_flagged);
    tcase_add_test(tc, flags_list_delete);
    tcase_add_loop_test(tc, bad_input_refused, 0, (int)(sizeof(bad_inputs) / sizeof(bad_inputs[0])));
    tcase_add_test(tc, helpers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        failed++;
    identity_free(ka);
    identity_free(kb);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
