/* Discovery's memory of other nodes: replay rule, restarts, fetch back-off,
 * bounded size. Packets are built by hand: only the fields the table reads. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "server/discovery/discovery_seen.h"
#include "tests/test_main.h"

static discovery_packet pkt(uint8_t id, uint8_t inst, uint32_t seq, int64_t ts)
{
    discovery_packet p;
    memset(&p, 0, sizeof p);
    p.type = DISCOVERY_ANNOUNCE;
    memset(p.node_id, id, sizeof p.node_id);
    memset(p.instance_id, inst, sizeof p.instance_id);
    p.seq = seq;
    p.timestamp_ms = ts;
    return p;
}

static discovery_seen *table(size_t cap)
{
    discovery_seen *t = NULL;
    ck_assert_int_eq(discovery_seen_new(&t, cap), NT_OK);
    return t;
}

START_TEST(first_then_replay_then_newer)
{
    discovery_seen *t = table(8);
    discovery_packet p = pkt(1, 1, 5, 1000);
    bool new_peer = false, new_inst = true;
    ck_assert_int_eq(discovery_seen_check(t, &p), DISC_OK);
    discovery_seen_accept(t, &p, NULL, 100, false, &new_peer, &new_inst);
    ck_assert(new_peer);
    ck_assert(!new_inst);
    ck_assert_int_eq(discovery_seen_check(t, &p), DISC_REPLAY); /* same packet again */
    discovery_packet older = pkt(1, 1, 4, 2000);
    ck_assert_int_eq(discovery_seen_check(t, &older), DISC_REPLAY);
    discovery_packet next = pkt(1, 1, 6, 1000);
    ck_assert_int_eq(discovery_seen_check(t, &next), DISC_OK);
    discovery_seen_accept(t, &next, NULL, 200, false, &new_peer, &new_inst);
    ck_assert(!new_peer);
    ck_assert(!new_inst);
    int64_t seen = 0;
    ck_assert(discovery_seen_get(t, p.node_id, &seen, NULL));
    ck_assert_int_eq(seen, 200);
    ck_assert_uint_eq(discovery_seen_count(t), 1);
    discovery_seen_free(t);
}
END_TEST

START_TEST(restart_is_a_new_instance_and_old_instance_is_replay)
{
    discovery_seen *t = table(8);
    discovery_packet a = pkt(2, 1, 40, 50000);
    discovery_seen_accept(t, &a, NULL, 1, false, NULL, NULL);
    discovery_packet restarted = pkt(2, 2, 1, 60000);
    ck_assert_int_eq(discovery_seen_check(t, &restarted), DISC_OK);
    bool new_peer = true, new_inst = false;
    discovery_seen_accept(t, &restarted, NULL, 2, false, &new_peer, &new_inst);
    ck_assert(!new_peer);
    ck_assert(new_inst);
    uint8_t inst[DISCOVERY_INSTANCE_LEN], want[DISCOVERY_INSTANCE_LEN];
    memset(want, 2, sizeof want);
    ck_assert(discovery_seen_get(t, a.node_id, NULL, inst));
    ck_assert_mem_eq(inst, want, sizeof want);
    /* a copy of the old instance's announcement, replayed, is refused */
    discovery_packet old = pkt(2, 1, 41, 55000);
    ck_assert_int_eq(discovery_seen_check(t, &old), DISC_REPLAY);
    discovery_seen_free(t);
}
END_TEST

START_TEST(fetch_backoff)
{
    discovery_seen *t = table(4);
    uint8_t id[IDENTITY_ID_LEN];
    memset(id, 9, sizeof id);
    ck_assert(discovery_seen_fetch_allowed(t, id, 0));
    discovery_seen_fetch_failed(t, id, 1000);
    ck_assert(!discovery_seen_fetch_allowed(t, id, 1000));
    ck_assert(!discovery_seen_fetch_allowed(t, id, 1000 + DISCOVERY_FETCH_RETRY_MS - 1));
    ck_assert(discovery_seen_fetch_allowed(t, id, 1000 + DISCOVERY_FETCH_RETRY_MS));
    /* a failed fetch is not an accepted announcement */
    ck_assert(!discovery_seen_get(t, id, NULL, NULL));
    ck_assert_uint_eq(discovery_seen_count(t), 0);
    ck_assert_ptr_null(discovery_seen_key(t, id));
    discovery_seen_free(t);
}
END_TEST

START_TEST(bounded_evicts_stalest)
{
    discovery_seen *t = table(2);
    discovery_packet a = pkt(1, 1, 1, 1), b = pkt(2, 1, 1, 1), c = pkt(3, 1, 1, 1);
    discovery_seen_accept(t, &a, NULL, 10, false, NULL, NULL);
    discovery_seen_accept(t, &b, NULL, 20, false, NULL, NULL);
    a.seq = 2;
    discovery_seen_accept(t, &a, NULL, 30, false, NULL, NULL); /* a is fresher than b now */
    /* only nodes older than the window can go (full_table_keeps_recent_nodes) */
    const int64_t k = DISCOVERY_SEEN_KEEP_MS;
    discovery_seen_accept(t, &c, NULL, k + 40, false, NULL, NULL);
    ck_assert_uint_eq(discovery_seen_count(t), 2);
    ck_assert(discovery_seen_get(t, a.node_id, NULL, NULL));
    ck_assert(!discovery_seen_get(t, b.node_id, NULL, NULL));
    ck_assert(discovery_seen_get(t, c.node_id, NULL, NULL));
    /* failed fetches are evicted before accepted peers */
    uint8_t id[IDENTITY_ID_LEN];
    memset(id, 7, sizeof id);
    discovery_seen_fetch_failed(t, id, k + 50);
    ck_assert_uint_eq(discovery_seen_count(t), 1);
    discovery_packet d = pkt(4, 1, 1, 1);
    discovery_seen_accept(t, &d, NULL, k + 60, false, NULL, NULL);
    ck_assert(discovery_seen_get(t, c.node_id, NULL, NULL));
    ck_assert(discovery_seen_get(t, d.node_id, NULL, NULL));
    discovery_seen_free(t);
}
END_TEST

/* A full table keeps every node heard within the time window: a flood of
 * new ids (goodbyes or announcements from throwaway keys) cannot push a
 * live node out and so empty its replay state; the new id is refused. */
START_TEST(full_table_keeps_recent_nodes)
{
    discovery_seen *t = table(2);
    discovery_packet a = pkt(1, 1, 5, 1000), b = pkt(2, 1, 1, 1000), c = pkt(3, 1, 1, 1000);
    discovery_seen_accept(t, &a, NULL, 1000, false, NULL, NULL);
    discovery_seen_accept(t, &b, NULL, 2000, false, NULL, NULL);
    ck_assert_int_eq(discovery_seen_room(t, c.node_id, 3000), DISC_BUSY);
    ck_assert(!discovery_seen_accept(t, &c, NULL, 3000, false, NULL, NULL));
    ck_assert(!discovery_seen_get(t, c.node_id, NULL, NULL));
    ck_assert_int_eq(discovery_seen_check(t, &a), DISC_REPLAY); /* a's state is still there */
    ck_assert_int_eq(discovery_seen_check(t, &b), DISC_REPLAY);
    /* a known id always has room */
    ck_assert_int_eq(discovery_seen_room(t, a.node_id, 3000), DISC_OK);
    /* once a packet of a could no longer pass the time check, a may go */
    int64_t later = 1000 + DISCOVERY_SEEN_KEEP_MS + 1;
    ck_assert_int_eq(discovery_seen_room(t, c.node_id, later), DISC_OK);
    ck_assert(discovery_seen_accept(t, &c, NULL, later, false, NULL, NULL));
    ck_assert(!discovery_seen_get(t, a.node_id, NULL, NULL));
    ck_assert(discovery_seen_get(t, b.node_id, NULL, NULL));
    ck_assert(discovery_seen_get(t, c.node_id, NULL, NULL));
    discovery_seen_free(t);
}
END_TEST

/* The same, with only the calls the table had before it could refuse:
 * the flood of new ids must not evict a node heard a moment ago. */
START_TEST(flood_of_new_ids_does_not_forget_a_live_node)
{
    discovery_seen *t = table(4);
    discovery_packet victim = pkt(0xB0, 1, 7, 1000);
    discovery_seen_accept(t, &victim, NULL, 1000, false, NULL, NULL);
    for (int i = 1; i <= 16; i++) {
        discovery_packet x = pkt((uint8_t)i, 0xEE, 1, 1000);
        if (discovery_seen_check(t, &x) == DISC_OK)
            discovery_seen_accept(t, &x, NULL, 1000 + i, false, NULL, NULL);
    }
    ck_assert_int_eq(discovery_seen_check(t, &victim), DISC_REPLAY);
    discovery_seen_free(t);
}
END_TEST

/* After a start the table is empty, and ids heard from multicast only
 * (what anyone can mint and announce from spoofed sources) can fill it:
 * they give way to a new id, the stalest first, while a peer this node
 * handshook with or trusts keeps its place for the whole window. */
START_TEST(multicast_only_entries_give_way)
{
    discovery_seen *t = table(3);
    discovery_packet m[3], v[3];
    for (int i = 0; i < 3; i++) {
        m[i] = pkt((uint8_t)(0x10 + i), 1, 1, 1000);
        v[i] = pkt((uint8_t)(0x20 + i), 1, 1, 1000);
        ck_assert(discovery_seen_accept(t, &m[i], NULL, 1000 + i, true, NULL, NULL));
    }
    bool new_peer = false;
    ck_assert_int_eq(discovery_seen_room(t, v[0].node_id, 2000), DISC_OK);
    ck_assert(discovery_seen_accept(t, &v[0], NULL, 2000, false, &new_peer, NULL));
    ck_assert(new_peer);
    ck_assert(!discovery_seen_get(t, m[0].node_id, NULL, NULL)); /* the stalest went */
    m[1].seq = 2;
    ck_assert(discovery_seen_accept(t, &m[1], NULL, 2001, true, NULL, NULL)); /* m[1] fresher than m[2] */
    ck_assert(discovery_seen_accept(t, &v[1], NULL, 2002, false, NULL, NULL));
    ck_assert(!discovery_seen_get(t, m[2].node_id, NULL, NULL));
    ck_assert(discovery_seen_get(t, m[1].node_id, NULL, NULL));
    /* seen again as handshaken: it keeps its place from now on */
    m[1].seq = 3;
    ck_assert(discovery_seen_accept(t, &m[1], NULL, 2003, false, NULL, NULL));
    ck_assert_int_eq(discovery_seen_room(t, v[2].node_id, 2004), DISC_BUSY);
    ck_assert(!discovery_seen_accept(t, &v[2], NULL, 2004, false, NULL, NULL));
    ck_assert_int_eq(discovery_seen_check(t, &v[0]), DISC_REPLAY);
    /* and a stale one of them goes before an expendable one heard recently */
    discovery_seen_free(t);
    t = table(2);
    ck_assert(discovery_seen_accept(t, &v[0], NULL, 1000, false, NULL, NULL));
    ck_assert(discovery_seen_accept(t, &m[0], NULL, 1000 + DISCOVERY_SEEN_KEEP_MS, true, NULL, NULL));
    ck_assert(discovery_seen_accept(t, &v[1], NULL, 1001 + DISCOVERY_SEEN_KEEP_MS, false, NULL, NULL));
    ck_assert(!discovery_seen_get(t, v[0].node_id, NULL, NULL));
    ck_assert(discovery_seen_get(t, m[0].node_id, NULL, NULL));
    discovery_seen_free(t);
}
END_TEST

START_TEST(rejects_zero_capacity)
{
    discovery_seen *t = (discovery_seen *)1;
    ck_assert_int_eq(discovery_seen_new(&t, 0), NT_ERR_INVALID);
    ck_assert_ptr_null(t);
    discovery_seen_free(NULL);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("discovery_seen");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, first_then_replay_then_newer);
    tcase_add_test(tc, restart_is_a_new_instance_and_old_instance_is_replay);
    tcase_add_test(tc, fetch_backoff);
    tcase_add_test(tc, bounded_evicts_stalest);
    tcase_add_test(tc, full_table_keeps_recent_nodes);
    tcase_add_test(tc, flood_of_new_ids_does_not_forget_a_live_node);
    tcase_add_test(tc, multicast_only_entries_give_way);
    tcase_add_test(tc, rejects_zero_capacity);
    suite_add_tcase(s, tc);
    return s;
}
