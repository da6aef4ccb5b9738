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
#include "tests/test_main.h"

static identity *ka, *kb, *kc;
static char dir[] = "/tmp/natter-test-peers-XXXXXX";
static store *st;
static char path[256];

static void setup(void)
{
    snprintf(path, sizeof(path), "%s/t%d.db", dir, (int)getpid());
    unlink(path);
    ck_assert_int_eq(store_open(path, &st), NT_OK);
}

static void teardown(void)
{
    /* every call of the test reset what it stepped */
    ck_assert_uint_eq(store_active_statements(st), 0);
    ck_assert_uint_eq(store_leaked_statements(st), 0);
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

static bool collides(const identity *k)
{
    peer_info p;
    ck_assert_int_eq(peers_get(st, identity_id(k), &p), NT_OK);
    return p.name_collision;
}

START_TEST(name_collision_flagged)
{
    ck_assert_int_eq(peers_observe(st, ka, "laptop", NULL, "multicast", NULL, 1, NULL), NT_OK);
    ck_assert(!collides(ka));
    ck_assert_int_eq(peers_observe(st, kb, "laptop", NULL, "multicast", NULL, 2, NULL), NT_OK);
    ck_assert(collides(ka)); /* both rows, not only the newer one */
    ck_assert(collides(kb));
    /* A rename of a known row recomputes both names. */
    ck_assert_int_eq(peers_observe(st, kb, "desk", NULL, "multicast", NULL, 3, NULL), NT_OK);
    ck_assert(!collides(ka));
    ck_assert(!collides(kb));
    ck_assert_int_eq(peers_observe(st, ka, "desk", NULL, "handshake", NULL, 4, NULL), NT_OK);
    ck_assert(collides(ka));
    ck_assert(collides(kb));
    /* A delete leaves the other alone with its name. */
    ck_assert_int_eq(peers_delete(st, identity_id(kb)), NT_OK);
    ck_assert(!collides(ka));
}
END_TEST

START_TEST(rename_reported)
{
    peers_sighting sg = {0};
    ck_assert_int_eq(peers_record(st, ka, "bob", NULL, "handshake", NULL, 1, &sg), NT_OK);
    ck_assert(sg.is_new && !sg.renamed);
    ck_assert_int_eq(peers_record(st, ka, "bob", NULL, "handshake", NULL, 2, &sg), NT_OK);
    ck_assert(!sg.is_new && !sg.renamed);
    ck_assert_int_eq(peers_record(st, ka, NULL, NULL, "handshake", NULL, 3, &sg), NT_OK);
    ck_assert(!sg.renamed);
    ck_assert_int_eq(peers_record(st, ka, "robert", NULL, "multicast", NULL, 4, &sg), NT_OK);
    ck_assert(sg.renamed);
    ck_assert_str_eq(sg.old_name, "bob");
    /* A row with no name yet (added by address) learns one: not a rename. */
    ck_assert_int_eq(peers_record(st, kb, NULL, "10.0.0.9:7711", "manual", NULL, 5, &sg), NT_OK);
    ck_assert(sg.is_new);
    ck_assert_int_eq(peers_record(st, kb, "carol", NULL, "handshake", NULL, 6, &sg), NT_OK);
    ck_assert(!sg.renamed);
}
END_TEST

START_TEST(labels)
{
    static const char id[] = "3fa2c9d1bbbbccccddddeeeeffff00001111222233334444555566667777888";
    char l[PEERS_LABEL_MAX];
    peers_label("bob", id, PEER_TRUST_TRUSTED, false, 8, l);
    ck_assert_str_eq(l, "bob");
    peers_label("bob", id, PEER_TRUST_TRUSTED, true, 8, l);
    ck_assert_str_eq(l, "bob~3fa2c9d1");
    peers_label("bob", id, PEER_TRUST_UNTRUSTED, false, 8, l);
    ck_assert_str_eq(l, "bob~3fa2c9d1");
    peers_label("bob", id, PEER_TRUST_UNKNOWN, false, 0, l); /* never fewer than 8 digits */
    ck_assert_str_eq(l, "bob~3fa2c9d1");
    peers_label("bob", id, PEER_TRUST_UNTRUSTED, true, 11, l);
    ck_assert_str_eq(l, "bob~3fa2c9d1bbb");
    peers_label("me", id, PEER_TRUST_SELF, true, 8, l);
    ck_assert_str_eq(l, "me");
    peers_label("", id, PEER_TRUST_TRUSTED, false, 8, l);
    ck_assert_str_eq(l, "~3fa2c9d1");
    peers_label("bob\xe2\x80\x8d", id, PEER_TRUST_TRUSTED, false, 8, l); /* an old row's invisible character */
    ck_assert_str_eq(l, "bob\xe2\x80\x8d~3fa2c9d1");
    ck_assert_str_eq(peers_trust_name(PEER_TRUST_UNTRUSTED), "untrusted");

    char ha[65], hb[65];
    identity_id_hex(ka, ha);
    identity_id_hex(kb, hb);
    peer_ident pi;
    peers_identify(st, hb, "me", ha, &pi);
    ck_assert_int_eq(pi.trust, PEER_TRUST_UNKNOWN);
    ck_assert_str_eq(pi.name, "");
    ck_assert_int_eq(peers_observe(st, ka, "bob", NULL, "handshake", NULL, 1, NULL), NT_OK);
    ck_assert_int_eq(peers_set_trusted(st, identity_id(ka), true), NT_OK);
    peers_identify(st, hb, "me", ha, &pi);
    ck_assert_int_eq(pi.trust, PEER_TRUST_TRUSTED);
    ck_assert_str_eq(pi.label, "bob");
    peers_identify(st, hb, "me", hb, &pi);
    ck_assert_int_eq(pi.trust, PEER_TRUST_SELF);
    ck_assert_str_eq(pi.label, "me");
}
END_TEST

/* At the cap, no new id from the same address within the window (others
 * still come in, known ids still refresh); after the window, again. */
START_TEST(new_rows_capped_per_origin)
{
    peers_sighting sg = {.origin = "10.0.0.1", .origin_cap = 2};
    ck_assert_int_eq(peers_record(st, ka, "a", NULL, "handshake", NULL, 1000, &sg), NT_OK);
    ck_assert_int_eq(peers_record(st, kb, "b", NULL, "manual", NULL, 1100, &sg), NT_OK);
    /* the read-only look ahead agrees, and writes nothing */
    int64_t ra = 0;
    ck_assert_int_eq(peers_may_add(st, identity_id(kc), "10.0.0.1", 2, 1200, &ra), NT_ERR_BUSY);
    ck_assert_int_eq(ra, 1000 + PEERS_ORIGIN_WINDOW_S - 1200);
    ck_assert_int_eq(peers_may_add(st, identity_id(ka), "10.0.0.1", 2, 1200, &ra), NT_OK); /* known */
    ck_assert_int_eq(peers_may_add(st, identity_id(kc), "10.0.0.2", 2, 1200, &ra), NT_OK); /* another source */
    ck_assert_int_eq(peers_may_add(st, identity_id(kc), NULL, 2, 1200, &ra), NT_OK);       /* by hand */
    ck_assert_int_eq(peers_record(st, kc, "c", NULL, "handshake", NULL, 1200, &sg), NT_ERR_BUSY);
    ck_assert(!sg.is_new);
    ck_assert_int_eq(sg.retry_after, 1000 + PEERS_ORIGIN_WINDOW_S - 1200);
    peer_info p;
    ck_assert_int_eq(peers_get(st, identity_id(kc), &p), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(peers_record(st, ka, "a2", NULL, "handshake", NULL, 1300, &sg), NT_OK);
    sg.origin = "10.0.0.2";
    ck_assert_int_eq(peers_record(st, kc, "c", NULL, "handshake", NULL, 1300, &sg), NT_OK);
    ck_assert(sg.is_new);
    ck_assert_int_eq(peers_delete(st, identity_id(kc)), NT_OK);
    sg.origin = "10.0.0.1";
    ck_assert_int_eq(peers_record(st, kc, "c", NULL, "handshake", NULL, 1000 + PEERS_ORIGIN_WINDOW_S, &sg),
                     NT_OK);
    /* No origin (added by hand): no cap. */
    ck_assert_int_eq(peers_delete(st, identity_id(kc)), NT_OK);
    ck_assert_int_eq(peers_observe(st, kc, "c", NULL, "manual", NULL, 1400, NULL), NT_OK);
}
END_TEST

/* Rows known only from multicast cost an attacker a key pair and a
 * spoofed source each: they age out after PEERS_MULTICAST_EXPIRY_S. */
START_TEST(multicast_rows_expire)
{
    ck_assert_int_eq(peers_observe(st, ka, "a", "10.0.0.1:7711", "multicast", NULL, 1000, NULL), NT_OK);
    ck_assert_int_eq(peers_observe(st, kb, "b", "10.0.0.2:7711", "handshake", NULL, 1000, NULL), NT_OK);
    int64_t later = 1000 + PEERS_MULTICAST_EXPIRY_S + 1;
    ck_assert_int_eq(peers_observe(st, kc, "c", "10.0.0.3:7711", "multicast", NULL, later, NULL), NT_OK);
    peer_info p;
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(peers_get(st, identity_id(kb), &p), NT_OK); /* handshaken: kept */
    ck_assert_int_eq(peers_get(st, identity_id(kc), &p), NT_OK);
}
END_TEST

/* A handshake with a peer known from multicast makes it "handshake": no
 * longer one that can be aged out or pushed out. */
START_TEST(handshake_upgrades_multicast_source)
{
    ck_assert_int_eq(peers_observe(st, ka, "a", "10.0.0.1:7711", "multicast", NULL, 1000, NULL), NT_OK);
    ck_assert_int_eq(peers_observe(st, ka, NULL, NULL, "handshake", NULL, 1001, NULL), NT_OK);
    peer_info p;
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    ck_assert_str_eq(p.source, "handshake");
    /* and multicast again changes nothing; manual still wins */
    ck_assert_int_eq(peers_observe(st, ka, NULL, NULL, "multicast", NULL, 1002, NULL), NT_OK);
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    ck_assert_str_eq(p.source, "handshake");
    ck_assert_int_eq(peers_observe(st, ka, NULL, NULL, "manual", NULL, 1003, NULL), NT_OK);
    ck_assert_int_eq(peers_observe(st, ka, NULL, NULL, "handshake", NULL, 1004, NULL), NT_OK);
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    ck_assert_str_eq(p.source, "manual");
}
END_TEST

/* At the cap of multicast-only rows a new one pushes out the least
 * recently seen of them; trusted and handshaken rows do not count. A
 * name it shared stands alone again. */
START_TEST(multicast_rows_capped)
{
    peers_sighting sg = {.multicast_cap = 1};
    ck_assert_int_eq(peers_record(st, ka, "twin", "10.0.0.1:7711", "multicast", NULL, 1000, &sg), NT_OK);
    ck_assert_int_eq(peers_record(st, kb, "twin", "10.0.0.2:7711", "handshake", NULL, 900, &sg), NT_OK);
    peer_info p;
    ck_assert_int_eq(peers_get(st, identity_id(kb), &p), NT_OK);
    ck_assert(p.name_collision);
    ck_assert_int_eq(peers_record(st, kc, "c", "10.0.0.3:7711", "multicast", NULL, 1100, &sg), NT_OK);
    ck_assert(sg.is_new);
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(peers_get(st, identity_id(kb), &p), NT_OK);
    ck_assert(!p.name_collision);
    /* trusted: not pushed out, and not counted */
    ck_assert_int_eq(peers_set_trusted(st, identity_id(kc), true), NT_OK);
    ck_assert_int_eq(peers_record(st, ka, "a", "10.0.0.1:7711", "multicast", NULL, 1200, &sg), NT_OK);
    ck_assert_int_eq(peers_get(st, identity_id(kc), &p), NT_OK);
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    /* a known id from multicast is a refresh, not a new row: nothing goes */
    ck_assert_int_eq(peers_record(st, ka, "a", "10.0.0.1:7711", "multicast", NULL, 1300, &sg), NT_OK);
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    size_t n = 0;
    peer_info *all = NULL;
    ck_assert_int_eq(peers_list(st, &all, &n), NT_OK);
    ck_assert_uint_eq(n, 3);
    free(all);
}
END_TEST

/* Two ids with one name, then a write through another connection (as the
 * rooms do), then writes to the peer table: a statement left active by the
 * collision check used to hold a stale snapshot, and every later write and
 * BEGIN IMMEDIATE on the store failed with SQLITE_BUSY_SNAPSHOT. */
START_TEST(collision_then_other_connection_writes)
{
    sqlite3 *other = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &other, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    ck_assert_int_eq(peers_observe(st, ka, "twin", "10.0.0.1:7711", "handshake", NULL, 1, NULL), NT_OK);
    ck_assert_int_eq(peers_observe(st, kb, "twin", "10.0.0.2:7711", "handshake", NULL, 2, NULL), NT_OK);
    ck_assert_int_eq(sqlite3_exec(other, "INSERT INTO node_meta(key, value) VALUES('k', 'v')", NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(peers_set_trusted(st, identity_id(ka), true), NT_OK);
    ck_assert_int_eq(peers_observe(st, kb, "twin", "10.0.0.3:7711", "handshake", NULL, 3, NULL), NT_OK);
    ck_assert_int_eq(sqlite3_exec(other, "UPDATE node_meta SET value = 'w'", NULL, NULL, NULL), SQLITE_OK);
    store_lock(st);
    ck_assert_int_eq(store_begin(st), NT_OK);
    store_rollback(st);
    store_unlock(st);
    ck_assert_int_eq(peers_delete(st, identity_id(kb)), NT_OK);
    sqlite3_close(other);
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

/* A row as another version of natterd wrote it (ids chosen: no key needed
 * to read labels); peers_names_refresh (at start) folds its name. */
static void put_row_from(const char *hex, const char *name, const char *source)
{
    store_lock(st);
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO peers (id, name, pub_der, first_seen, last_seen, source) "
                                     "VALUES (?1, ?2, x'00', 1, 1, ?3)");
    ck_assert_ptr_nonnull(s);
    sqlite3_bind_text(s, 1, hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, source, -1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
    sqlite3_reset(s);
    store_unlock(st);
}

static void put_row(const char *hex, const char *name)
{
    put_row_from(hex, name, "multicast");
}

static const char *label_of(const char *hex, const char *self_name, peer_ident *pi)
{
    char hs[65];
    identity_id_hex(kc, hs);
    peers_identify(st, hs, self_name, hex, pi);
    return pi->label;
}

#define ALICE_X "ec4a1111000000000000000000000000000000000000000000000000000000aa"
#define ALICE_Y "ec4a2222000000000000000000000000000000000000000000000000000000bb"
#define ALICE_Z "ec4a111100ab0000000000000000000000000000000000000000000000000000"
#define BOB_W "ec4a111100ab0000000000000000000000000000000000000000000000000001"

/* Ids that share their first 4 hex digits (12 s of grinding RSA keys) get
 * labels that differ: at least 8 digits, more while another row of a name
 * alike shares them. */
START_TEST(labels_unique_among_alikes)
{
    peer_ident pi;
    char ha[65], lb[80];
    put_row(ALICE_X, "Alice");
    put_row(ALICE_Y, "Alice");
    put_row(ALICE_Z, "alice "); /* an old row: surrounding space was allowed */
    put_row(BOB_W, "Bob");      /* shares 12 digits with Z, but not the name */
    ck_assert_int_eq(peers_names_refresh(st), NT_OK);
    ck_assert_str_eq(label_of(ALICE_Y, "me", &pi), "Alice~ec4a2222");
    ck_assert_str_eq(label_of(ALICE_X, "me", &pi), "Alice~ec4a1111000");
    ck_assert_str_eq(label_of(ALICE_Z, "me", &pi), "alice ~ec4a111100a");
    ck_assert_str_eq(label_of(BOB_W, "me", &pi), "Bob~ec4a1111");
    /* a new "Alice" joins the group, a delete leaves fewer digits */
    identity_id_hex(ka, ha);
    ck_assert_int_eq(peers_observe(st, ka, "Alice", NULL, "multicast", NULL, 2, NULL), NT_OK);
    snprintf(lb, sizeof lb, "Alice~%.8s", ha);
    ck_assert_str_eq(label_of(ha, "me", &pi), lb);
    uint8_t z[IDENTITY_ID_LEN];
    ck_assert_int_eq(peers_id_parse(ALICE_Z, z), NT_OK);
    ck_assert_int_eq(peers_delete(st, z), NT_OK);
    ck_assert_str_eq(label_of(ALICE_X, "me", &pi), "Alice~ec4a1111");
    /* the same digits for a row in the list as for peers_identify */
    peer_info *v = NULL;
    size_t n = 0;
    ck_assert_int_eq(peers_list(st, &v, &n), NT_OK);
    for (size_t i = 0; i < n; i++) {
        char l[PEERS_LABEL_MAX];
        peers_info_label(&v[i], "me", l);
        ck_assert_str_eq(l, label_of(v[i].id_hex, "me", &pi));
    }
    free(v);
}
END_TEST

/* Names alike (case, space, invisible characters, look-alike letters), or
 * alike this node's own name, are shared: the label shows the id even
 * when trusted; the flag follows renames. */
START_TEST(labels_of_alike_names)
{
    char ha[65], lb[80];
    peer_ident pi;
    identity_id_hex(ka, ha);
    snprintf(lb, sizeof lb, "Alice~%.8s", ha);
    ck_assert_int_eq(peers_observe(st, ka, "Alice", NULL, "multicast", NULL, 1, NULL), NT_OK);
    ck_assert_int_eq(peers_set_trusted(st, identity_id(ka), true), NT_OK);
    ck_assert_str_eq(label_of(ha, "me", &pi), "Alice");
    ck_assert_str_eq(label_of(ha, " alice", &pi), lb); /* this node's own name */
    ck_assert_int_eq(peers_observe(st, kb, "ALICE", NULL, "multicast", NULL, 2, NULL), NT_OK);
    ck_assert(collides(ka) && collides(kb));
    ck_assert_str_eq(label_of(ha, "me", &pi), lb);
    ck_assert_int_eq(peers_observe(st, kb, "\xd0\x90lice", NULL, "multicast", NULL, 3, NULL), NT_OK); /* Cyrillic A */
    ck_assert(collides(ka) && collides(kb));
    ck_assert_int_eq(peers_observe(st, kb, "Bob", NULL, "multicast", NULL, 4, NULL), NT_OK);
    ck_assert(!collides(ka) && !collides(kb));
    ck_assert_str_eq(label_of(ha, "me", &pi), "Alice");
    /* the store refuses what the validators refuse */
    ck_assert_int_eq(peers_observe(st, kb, "Alice ", NULL, "multicast", NULL, 5, NULL), NT_ERR_INVALID);
    ck_assert_int_eq(peers_observe(st, kb, "Alice\xe2\x80\x8d", NULL, "multicast", NULL, 5, NULL), NT_ERR_INVALID);
    ck_assert_int_eq(peers_observe(st, kb, "Alice\xe3\x85\xa4", NULL, "multicast", NULL, 5, NULL), NT_ERR_INVALID);
    ck_assert(!collides(ka) && !collides(kb));
    /* an old row with an invisible character is alike once refreshed */
    put_row("ec4a1111000000000000000000000000000000000000000000000000000000aa", "Alice\xe2\x80\x8d");
    ck_assert_int_eq(peers_names_refresh(st), NT_OK);
    ck_assert(collides(ka));
    ck_assert_str_eq(label_of(ha, "me", &pi), lb);
    ck_assert_str_eq(label_of("ec4a1111000000000000000000000000000000000000000000000000000000aa", "me", &pi),
                     "Alice\xe2\x80\x8d~ec4a1111");
}
END_TEST

/* A rename reports the label the peer had, so a notice cannot show the
 * old name bare. */
START_TEST(rename_reports_old_label)
{
    char ha[65], lb[80];
    identity_id_hex(ka, ha);
    peers_sighting sg = {.self_name = "me"};
    ck_assert_int_eq(peers_record(st, ka, "Alice", NULL, "handshake", NULL, 1, &sg), NT_OK);
    ck_assert_int_eq(peers_record(st, ka, "Mallory", NULL, "handshake", NULL, 2, &sg), NT_OK);
    ck_assert(sg.renamed);
    snprintf(lb, sizeof lb, "Alice~%.8s", ha);
    ck_assert_str_eq(sg.old_name, "Alice");
    ck_assert_str_eq(sg.old_label, lb);
    /* trusted and alone: the bare name; alike this node's name: shared */
    ck_assert_int_eq(peers_set_trusted(st, identity_id(ka), true), NT_OK);
    ck_assert_int_eq(peers_record(st, ka, "Bob", NULL, "handshake", NULL, 3, &sg), NT_OK);
    ck_assert_str_eq(sg.old_label, "Mallory");
    sg.self_name = "bob";
    ck_assert_int_eq(peers_record(st, ka, "Carol", NULL, "handshake", NULL, 4, &sg), NT_OK);
    snprintf(lb, sizeof lb, "Bob~%.8s", ha);
    ck_assert_str_eq(sg.old_label, lb);
    ck_assert_int_eq(peers_record(st, ka, "Carol", NULL, "handshake", NULL, 5, &sg), NT_OK);
    ck_assert(!sg.renamed);
    ck_assert_str_eq(sg.old_label, "");
}
END_TEST

/* A multicast-only row pushed out (or aged out) was one of a group of
 * names alike: the rest stay flagged while two of them remain, and their
 * labels lose the digits only the gone row needed. */
START_TEST(multicast_eviction_relabels_alikes)
{
    peer_ident pi;
    uint8_t y[IDENTITY_ID_LEN];
    put_row(ALICE_X, "Alice");                  /* multicast only: the one to go */
    put_row_from(ALICE_Z, "alice", "handshake"); /* shares 10 digits with X */
    put_row_from(ALICE_Y, "ALICE", "handshake");
    ck_assert_int_eq(peers_names_refresh(st), NT_OK);
    ck_assert_int_eq(peers_id_parse(ALICE_Y, y), NT_OK);
    ck_assert_int_eq(peers_set_trusted(st, y, true), NT_OK);
    ck_assert_str_eq(label_of(ALICE_Z, "me", &pi), "alice~ec4a111100a");
    ck_assert_str_eq(label_of(ALICE_Y, "me", &pi), "ALICE~ec4a2222");
    peers_sighting sg = {.multicast_cap = 1};
    ck_assert_int_eq(peers_record(st, kc, "carol", "10.0.0.3:7711", "multicast", NULL, 200, &sg), NT_OK);
    peer_info p;
    ck_assert_str_eq(label_of(ALICE_X, "me", &pi), "~ec4a1111"); /* gone: unknown */
    ck_assert_str_eq(label_of(ALICE_Y, "me", &pi), "ALICE~ec4a2222"); /* trusted, still shared */
    ck_assert_str_eq(label_of(ALICE_Z, "me", &pi), "alice~ec4a1111");
    /* one of three alike aged out: the two left are still flagged */
    ck_assert_int_eq(peers_observe(st, ka, "Alice", "10.0.0.1:7711", "multicast", NULL, 300, NULL), NT_OK);
    ck_assert_int_eq(peers_observe(st, kb, "b", "10.0.0.2:7711", "multicast", NULL,
                                   300 + PEERS_MULTICAST_EXPIRY_S + 1, NULL), NT_OK);
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_ERR_NOT_FOUND);
    ck_assert(peers_get(st, y, &p) == NT_OK && p.name_collision);
}
END_TEST

/* A row known only from multicast (any source can be spoofed) that a
 * handshake from a real address upgrades to "handshake" is one more
 * lasting row from that address: it counts toward the address's cap of
 * new rows, in peers_may_add too. */
START_TEST(upgrade_from_multicast_counts_toward_origin_cap)
{
    peer_info p;
    int64_t ra = 0;
    peers_sighting sg = {.origin = "10.0.0.66", .origin_cap = 1};
    ck_assert_int_eq(peers_record(st, kb, "b", NULL, "handshake", NULL, 1000, &sg), NT_OK);
    peers_sighting sm = {.origin = "10.1.2.3", .origin_cap = 1};
    ck_assert_int_eq(peers_record(st, ka, "a", "10.1.2.3:7711", "multicast", NULL, 1002, &sm), NT_OK);
    /* at its cap: the multicast row stays multicast */
    ck_assert_int_eq(peers_may_add(st, identity_id(ka), "10.0.0.66", 1, 1003, &ra), NT_ERR_BUSY);
    ck_assert_int_eq(ra, 1000 + PEERS_ORIGIN_WINDOW_S - 1003);
    ck_assert_int_eq(peers_record(st, ka, "a", NULL, "handshake", NULL, 1003, &sg), NT_ERR_BUSY);
    ck_assert_int_eq(sg.retry_after, 1000 + PEERS_ORIGIN_WINDOW_S - 1003);
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    ck_assert_str_eq(p.source, "multicast");
    /* multicast sightings of it are refreshes, not new rows */
    ck_assert_int_eq(peers_record(st, ka, "a", "10.1.2.3:7711", "multicast", NULL, 1004, &sm), NT_OK);
    /* another address may upgrade it, and then that address has used its one */
    peers_sighting s2 = {.origin = "10.0.0.67", .origin_cap = 1};
    ck_assert_int_eq(peers_may_add(st, identity_id(ka), "10.0.0.67", 1, 1005, &ra), NT_OK);
    ck_assert_int_eq(peers_record(st, ka, "a", NULL, "handshake", NULL, 1005, &s2), NT_OK);
    ck_assert(!s2.is_new);
    ck_assert_int_eq(peers_get(st, identity_id(ka), &p), NT_OK);
    ck_assert_str_eq(p.source, "handshake");
    ck_assert_int_eq(p.first_seen, 1002); /* still when it was first seen */
    ck_assert_int_eq(peers_may_add(st, identity_id(kc), "10.0.0.67", 1, 1006, &ra), NT_ERR_BUSY);
    ck_assert_int_eq(ra, 1005 + PEERS_ORIGIN_WINDOW_S - 1006);
    /* known and upgraded: a handshake refreshes it whatever its source */
    ck_assert_int_eq(peers_may_add(st, identity_id(ka), "10.0.0.66", 1, 1007, &ra), NT_OK);
    ck_assert_int_eq(peers_record(st, ka, "a", NULL, "handshake", NULL, 1007, &sg), NT_OK);
    /* a row its own origin added, made lasting by it: not one more */
    peers_sighting s3 = {.origin = "10.0.0.68", .origin_cap = 1};
    ck_assert_int_eq(peers_record(st, kc, "c", "10.0.0.68:7711", "multicast", NULL, 1008, &s3), NT_OK);
    ck_assert_int_eq(peers_may_add(st, identity_id(kc), "10.0.0.68", 1, 1009, &ra), NT_OK);
    ck_assert_int_eq(peers_record(st, kc, "c", NULL, "handshake", NULL, 1009, &s3), NT_OK);
    /* by hand (no origin): no cap */
    ck_assert_int_eq(peers_delete(st, identity_id(kc)), NT_OK);
    ck_assert_int_eq(peers_observe(st, kc, "c", "10.1.2.4:7711", "multicast", NULL, 1010, NULL), NT_OK);
    ck_assert_int_eq(peers_observe(st, kc, NULL, NULL, "manual", NULL, 1011, NULL), NT_OK);
}
END_TEST

/* Multicast sightings from an address (a spoofable UDP source) add rows
 * that age out, and do not count toward the address's lasting rows: ids
 * announced under a victim's address cannot refuse the victim's own
 * handshakes. They are throttled among themselves per address. A trusted
 * row known from multicast only is lasting already: a handshake from an
 * address at its cap refreshes it. */
START_TEST(multicast_rows_do_not_use_the_origin_lasting_cap)
{
    peer_info p;
    int64_t ra = 0;
    peers_sighting spoofed = {.origin = "10.0.0.9", .origin_cap = 1};
    ck_assert_int_eq(peers_record(st, kb, "b", "10.0.0.9:7711", "multicast", NULL, 1000, &spoofed), NT_OK);
    ck_assert_int_eq(peers_record(st, kc, "c", "10.0.0.9:7711", "multicast", NULL, 1001, &spoofed), NT_ERR_BUSY);
    /* the victim's own handshake from that address */
    peers_sighting own = {.origin = "10.0.0.9", .origin_cap = 1};
    ck_assert_int_eq(peers_may_add(st, identity_id(ka), "10.0.0.9", 1, 1002, &ra), NT_OK);
    ck_assert_int_eq(peers_record(st, ka, "a", NULL, "handshake", NULL, 1002, &own), NT_OK);
    ck_assert(own.is_new);
    /* and now the address has used its one lasting row */
    ck_assert_int_eq(peers_may_add(st, identity_id(kc), "10.0.0.9", 1, 1003, &ra), NT_ERR_BUSY);
    ck_assert_int_eq(ra, 1002 + PEERS_ORIGIN_WINDOW_S - 1003);
    ck_assert_int_eq(peers_record(st, kc, "c", NULL, "handshake", NULL, 1003, &own), NT_ERR_BUSY);
    /* a trusted row known from multicast only: a refresh, not one more */
    peers_sighting other = {.origin = "10.0.0.10", .origin_cap = 1};
    ck_assert_int_eq(peers_record(st, kc, "c", "10.0.0.10:7711", "multicast", NULL, 1004, &other), NT_OK);
    ck_assert_int_eq(peers_set_trusted(st, identity_id(kc), true), NT_OK);
    ck_assert_int_eq(peers_may_add(st, identity_id(kc), "10.0.0.9", 1, 1005, &ra), NT_OK);
    ck_assert_int_eq(peers_record(st, kc, "c", NULL, "handshake", NULL, 1005, &own), NT_OK);
    ck_assert_int_eq(peers_get(st, identity_id(kc), &p), NT_OK);
    ck_assert_str_eq(p.source, "handshake");
}
END_TEST

int test_setup(void)
{
    if (rng_init() || !mkdtemp(dir) || identity_generate(&ka, 2048) || identity_generate(&kb, 2048) ||
        identity_generate(&kc, 2048))
        return EXIT_FAILURE;
    return TEST_GO;
}

Suite *test_suite(void)
{
    Suite *s = suite_create("peers");
    TCase *tc = tcase_create("peers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, observe_new_then_known);
    tcase_add_test(tc, addresses_newest_first_capped);
    tcase_add_test(tc, key_pinned);
    tcase_add_test(tc, name_collision_flagged);
    tcase_add_test(tc, rename_reported);
    tcase_add_test(tc, labels);
    tcase_add_test(tc, labels_unique_among_alikes);
    tcase_add_test(tc, labels_of_alike_names);
    tcase_add_test(tc, rename_reports_old_label);
    tcase_add_test(tc, new_rows_capped_per_origin);
    tcase_add_test(tc, multicast_rows_expire);
    tcase_add_test(tc, handshake_upgrades_multicast_source);
    tcase_add_test(tc, multicast_rows_capped);
    tcase_add_test(tc, collision_then_other_connection_writes);
    tcase_add_test(tc, flags_list_delete);
    tcase_add_loop_test(tc, bad_input_refused, 0, (int)(sizeof(bad_inputs) / sizeof(bad_inputs[0])));
    tcase_add_test(tc, helpers);
    tcase_add_test(tc, multicast_eviction_relabels_alikes);
    tcase_add_test(tc, upgrade_from_multicast_counts_toward_origin_cap);
    tcase_add_test(tc, multicast_rows_do_not_use_the_origin_lasting_cap);
    suite_add_tcase(s, tc);
    return s;
}

int test_teardown(int failed)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        failed++;
    identity_free(ka);
    identity_free(kb);
    identity_free(kc);
    return failed;
}
