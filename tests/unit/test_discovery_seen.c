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
    discovery_seen_accept(t, &p, NULL, 100, &new_peer, &new_inst);
    ck_assert(new_peer);
    ck_assert(!new_inst);
    ck_assert_int_eq(discovery_seen_check(t, &p), DISC_REPLAY); /* same packet again */
    discovery_packet older = pkt(1, 1, 4, 2000);
    ck_assert_int_eq(discovery_seen_check(t, &older), DISC_REPLAY);
    discovery_packet next = pkt(1, 1, 6, 1000);
    ck_assert_int_eq(discovery_seen_check(t, &next), DISC_OK);
    discovery_seen_accept(t, &next, NULL, 200, &new_peer, &new_inst);
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
    discovery_seen_accept(t, &a, NULL, 1, NULL, NULL);
    discovery_packet restarted = pkt(2, 2, 1, 60000);
    ck_assert_int_eq(discovery_seen_check(t, &restarted), DISC_OK);
    bool new_peer = true, new_inst = false;
    discovery_seen_accept(t, &restarted, NULL, 2, &new_peer, &new_inst);
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
    discovery_seen_accept(t, &a, NULL, 10, NULL, NULL);
    discovery_seen_accept(t, &b, NULL, 20, NULL, NULL);
    a.seq = 2;
    discovery_seen_accept(t, &a, NULL, 30, NULL, NULL); /* a is fresher than b now */
    discovery_seen_accept(t, &c, NULL, 40, NULL, NULL);
    ck_assert_uint_eq(discovery_seen_count(t), 2);
    ck_assert(discovery_seen_get(t, a.node_id, NULL, NULL));
    ck_assert(!discovery_seen_get(t, b.node_id, NULL, NULL));
    ck_assert(discovery_seen_get(t, c.node_id, NULL, NULL));
    /* failed fetches are evicted before accepted peers */
    uint8_t id[IDENTITY_ID_LEN];
    memset(id, 7, sizeof id);
    discovery_seen_fetch_failed(t, id, 50);
    ck_assert_uint_eq(discovery_seen_count(t), 1);
    discovery_packet d = pkt(4, 1, 1, 1);
    discovery_seen_accept(t, &d, NULL, 60, NULL, NULL);
    ck_assert(discovery_seen_get(t, c.node_id, NULL, NULL));
    ck_assert(discovery_seen_get(t, d.node_id, NULL, NULL));
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
    tcase_add_test(tc, rejects_zero_capacity);
    suite_add_tcase(s, tc);
    return s;
}
