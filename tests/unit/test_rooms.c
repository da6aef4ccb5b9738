/* test_rooms.c - rooms, keys, messages and delivery with several nodes in
 * one process: each node has its own identity and SQLite database, and
 * node-to-node calls go straight to the target's rooms_peer_handle (the
 * sealed channel is tested elsewhere). Threads are off; the test drives
 * push and sync with rooms_tick(). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#include "crypto/encoding.h"
#include "crypto/identity.h"
#include "crypto/rng.h"
#include "crypto/sign.h"
#include "server/rooms/roomcrypt.h"
#include "server/rooms/rooms.h"
#include "tests/rooms_paths.h"
#include "server/rooms/rooms_int.h"
#include "storage/roomdb.h"
#include "unit_util.h"
#include "tests/test_main.h"

#define NODES 4
#define ROOM_RESYNC_TEST_MS 31000 /* past the members' 30 s catch-up poll */
#define NOTIFY_TAKES (384 * 1024)   /* a peer request body's cap (PEER_PLAIN_MAX) */

typedef struct tnode {
    identity *id;
    char hex[IDENTITY_ID_HEX_LEN + 1];
    roomdb *db;
    rooms *r;
    bool down;    /* calls to it fail like an unreachable host */
    int notifies; /* notifies that reached it */
} tnode;

static tnode N[NODES];
static identity *keys[NODES]; /* generated once: RSA generation is slow */

/* A hostile host: calls of op hostile_op get hostile_reply (200) instead
 * of the host's own answer. */
static port_op hostile_op;
static json_t *hostile_reply;

typedef struct {
    char buf[512];
} qstr;

static const char *qlookup(void *arg, const char *key)
{
    qstr *q = arg;
    static __thread char val[256];
    size_t kl = strlen(key);
    for (char *p = q->buf; p && *p;) {
        char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            snprintf(val, sizeof val, "%.*s", (int)(len - kl - 1), p + kl + 1);
            return val;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

/* "path?query" into path (p) and the query (q), as the HTTP layer splits them. */
static void split_path(const char *path, char p[static 512], qstr *q)
{
    snprintf(p, 512, "%s", path);
    q->buf[0] = '\0';
    char *qm = strchr(p, '?');
    if (qm) {
        *qm = '\0';
        snprintf(q->buf, sizeof q->buf, "%s", qm + 1);
    }
}

/* After every call into the rooms: no statement left active on any node
 * (one would hold a snapshot that fails the node's next BEGIN once another
 * connection writes), and none was swept as a leak. */
static unsigned long leaked_before; /* the count is process-wide and tests do not fork */

static void assert_clean(void)
{
    for (int i = 0; i < NODES; i++)
        if (N[i].db)
            ck_assert_no_active_statements(roomdb_sqlite(N[i].db));
    ck_assert_uint_eq(roomdb_leaked(), leaked_before);
}

static tnode *by_hex(const char *hex)
{
    for (int i = 0; i < NODES; i++)
        if (N[i].r && strcmp(N[i].hex, hex) == 0)
            return &N[i];
    return NULL;
}

/* Run while a node's call is on its way (the caller holds no lock), to
 * interleave something with it; NULL: nothing. */
static void (*during_call)(tnode *from);

static void call_fn(void *arg, port_call *calls, size_t n, int timeout_ms)
{
    tnode *from = arg;
    if (during_call)
        during_call(from);
    for (size_t i = 0; i < n; i++) {
        port_call *c = &calls[i];
        tnode *to = by_hex(c->peer);
        c->reply = NULL;
        if (!to || to->down || from->down) {
            c->rc = NT_ERR_NET;
            continue;
        }
        if (hostile_reply && c->op == hostile_op) {
            c->status = 200;
            c->reply = json_deep_copy(hostile_reply);
            c->rc = NT_OK;
            continue;
        }
        char path[512], target[512];
        const char *method = NULL;
        qstr q;
        ck_assert_int_eq(peer_port_target(c, &method, target, sizeof target), NT_OK);
        split_path(target, path, &q);
        /* what a real member takes in a notify (PEER_PLAIN_MAX) */
        char *dump = c->req ? json_dumps(c->req, JSON_COMPACT) : NULL;
        size_t req_len = dump ? strlen(dump) : 0;
        free(dump);
        if (req_len > NOTIFY_TAKES) {
            c->status = 413;
            c->reply = json_pack("{s:{s:s}}", "error", "code", "too_large");
            c->rc = NT_OK;
            continue;
        }
        json_t *body = c->req ? json_deep_copy(c->req) : NULL;
        to->notifies += c->op == PORT_NOTIFY;
        c->status = rooms_peer_handle(to->r, from->hex, method, path, qlookup, &q, body, &c->reply);
        json_decref(body);
        ck_assert_no_active_statements(roomdb_sqlite(to->db));
        c->rc = NT_OK;
    }
}

static int64_t clock_skew_ms; /* tests move time forward with this */
static int64_t clock_frozen_ms; /* non-zero: the clock stands there (plus the skew) */

static int64_t test_clock(void *arg)
{
    struct timespec ts;
    if (clock_frozen_ms)
        return clock_frozen_ms + clock_skew_ms;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_skew_ms;
}

static void node_up(int i)
{
    tnode *t = &N[i];
    t->id = keys[i];
    identity_id_hex(t->id, t->hex);
    sqlite3 *raw = NULL;
    ck_assert_int_eq(sqlite3_open(":memory:", &raw), SQLITE_OK);
    ck_assert_int_eq(roomdb_adopt(raw, &t->db), NT_OK);
    ck_assert_int_eq(roomdb_migrate(t->db), NT_OK);
    rooms_opts o = {.db = t->db, .me = t->id, .call = call_fn, .call_arg = t, .pbkdf2_iter = 1000, .no_threads = true,
                    .clock = test_clock};
    ck_assert_int_eq(rooms_new(&t->r, &o), NT_OK);
}

static void setup(void)
{
    clock_skew_ms = 0;
    clock_frozen_ms = 0;
    leaked_before = roomdb_leaked();
    ck_assert_int_eq(rng_init(), NT_OK);
    for (int i = 0; i < NODES; i++) {
        if (!keys[i])
            ck_assert_int_eq(identity_generate(&keys[i], 2048), NT_OK);
        node_up(i);
    }
}

static void teardown(void)
{
    json_decref(hostile_reply);
    hostile_reply = NULL;
    assert_clean();
    for (int i = 0; i < NODES; i++) {
        rooms_free(N[i].r);
        roomdb_close(N[i].db);
        memset(&N[i], 0, sizeof N[i]);
    }
}

static void tick_all(int rounds)
{
    for (int k = 0; k < rounds; k++)
        for (int i = 0; i < NODES; i++)
            rooms_tick(N[i].r);
    assert_clean();
}

/* A client API call on node i; returns the status, reply in *out. */
static int api(int i, const char *method, const char *path, const char *body, json_t **out)
{
    char p[512];
    qstr q;
    split_path(path, p, &q);
    json_t *b = body ? json_loads(body, 0, NULL) : NULL;
    json_t *reply = NULL;
    int st = rooms_client_handle(N[i].r, method, p, qlookup, &q, b, &reply);
    json_decref(b);
    assert_clean();
    if (out)
        *out = reply;
    else
        json_decref(reply);
    return st;
}

static int apif(int i, const char *method, json_t **out, const char *body, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int apif(int i, const char *method, json_t **out, const char *body, const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    return api(i, method, path, body, out);
}

static char room_id[ROOM_ID_HEX_LEN + 1];

/* A (node 0) creates a room and B, C (1, 2) join it by invitation. */
static void make_room(const char *extra)
{
    json_t *j = NULL;
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"lobby\",\"topic\":\"t\"%s}", extra ? extra : "");
    ck_assert_int_eq(api(0, "POST", "/v1/client/rooms", body, &j), 201);
    snprintf(room_id, sizeof room_id, "%s", json_string_value(json_object_get(j, "id")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 1);
    json_decref(j);
    for (int i = 1; i <= 2; i++) {
        char b[128];
        snprintf(b, sizeof b, "{\"peer\":\"%s\"}", N[i].hex);
        ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/invite", room_id), 200);
    }
    tick_all(1); /* invites reach B and C */
    for (int i = 1; i <= 2; i++) {
        ck_assert_int_eq(apif(i, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
        ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "invited");
        json_decref(j);
        char b[128];
        snprintf(b, sizeof b, "{\"host\":\"%s\"}", N[0].hex);
        ck_assert_int_eq(apif(i, "POST", &j, b, "/v1/client/rooms/%s/join", room_id), 200);
        ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "joined");
        json_decref(j);
    }
}

static int send_text(int i, const char *txn, const char *text)
{
    json_t *b = json_pack("{s:s}", "text", text);
    char *s = json_dumps(b, 0);
    int st = apif(i, "PUT", NULL, s, "/v1/client/rooms/%s/messages/%s", room_id, txn);
    free(s);
    json_decref(b);
    return st;
}

static json_t *messages_of(int i)
{
    json_t *j = NULL;
    ck_assert_int_eq(apif(i, "GET", &j, NULL, "/v1/client/rooms/%s/messages?after=0&limit=500", room_id), 200);
    return j;
}

START_TEST(three_way_chat_same_order)
{
    make_room(NULL);
    const char *texts[] = {"hello from A", "hi from B", "C here", "B again", "A: ünïcödé ✓"};
    int who[] = {0, 1, 2, 1, 0};
    for (int k = 0; k < 5; k++) {
        char txn[16];
        snprintf(txn, sizeof txn, "t%d", k);
        ck_assert_int_eq(send_text(who[k], txn, texts[k]), 200);
        tick_all(2);
    }
    for (int i = 0; i < 3; i++) {
        json_t *j = messages_of(i);
        json_t *msgs = json_object_get(j, "messages");
        ck_assert_int_eq(json_array_size(msgs), 5);
        for (int k = 0; k < 5; k++) {
            json_t *m = json_array_get(msgs, (size_t)k);
            ck_assert_int_eq(json_integer_value(json_object_get(m, "seq")), k + 1);
            ck_assert_str_eq(json_string_value(json_object_get(m, "text")), texts[k]);
            ck_assert_str_eq(json_string_value(json_object_get(m, "sender")), N[who[k]].hex);
            ck_assert_str_eq(json_string_value(json_object_get(m, "state")), "verified");
        }
        json_decref(j);
    }
    /* the events log of C carries the five messages once each */
    json_t *ev = NULL;
    ck_assert_int_eq(api(2, "GET", "/v1/client/events?since=0&limit=500", NULL, &ev), 200);
    size_t i;
    json_t *e;
    int nmsg = 0;
    json_array_foreach(json_object_get(ev, "events"), i, e) nmsg +=
        strcmp(json_string_value(json_object_get(e, "type")), "message") == 0;
    ck_assert_int_eq(nmsg, 5);
    json_decref(ev);
    /* members applied without waiting for the disk, and every connection is
     * back to synchronous=FULL for everything else (the host's log above all) */
    for (int k = 0; k < 3; k++) {
        int64_t sync = -1;
        ck_assert_int_eq(roomdb_int(N[k].db, &sync, "PRAGMA synchronous", ""), NT_OK);
        ck_assert_int_eq(sync, 2);
    }
}
END_TEST

static void need_poll_meanwhile(tnode *from)
{
    if (from != &N[1])
        return;
    pthread_mutex_lock(&from->r->lock);
    rooms_need_locked(from->r, room_id, ROOM_NEED_POLL);
    pthread_mutex_unlock(&from->r->lock);
}

/* A need set while the sync works on a room (a push that shows a gap, a
 * newer epoch) is kept when that work fails: the failed round adds back
 * what it took; it wrote the row over with it, and the new need waited
 * for the 30 s resync. */
START_TEST(needs_set_during_a_failed_sync_are_kept)
{
    make_room(NULL);
    tick_all(1);
    pthread_mutex_lock(&N[1].r->lock);
    rooms_need_locked(N[1].r, room_id, ROOM_NEED_KEYS);
    pthread_mutex_unlock(&N[1].r->lock);
    N[0].down = true; /* the host away: B's fetch fails */
    during_call = need_poll_meanwhile;
    rooms_tick(N[1].r);
    during_call = NULL;
    N[0].down = false;
    room_row rm;
    pthread_mutex_lock(&N[1].r->lock);
    ck_assert_int_eq(rooms_load_locked(N[1].r, room_id, &rm), NT_OK);
    pthread_mutex_unlock(&N[1].r->lock);
    ck_assert_uint_eq(rm.need & ROOM_NEED_KEYS, ROOM_NEED_KEYS);
    ck_assert_uint_eq(rm.need & ROOM_NEED_POLL, ROOM_NEED_POLL);
    assert_clean();
}
END_TEST

START_TEST(poll_mode_and_catch_up)
{
    make_room(NULL);
    ck_assert_int_eq(apif(2, "POST", NULL, "{\"mode\":\"poll\"}", "/v1/client/rooms/%s/delivery", room_id), 200);
    N[2].down = true; /* C away */
    for (int k = 0; k < 4; k++) {
        char txn[16];
        snprintf(txn, sizeof txn, "p%d", k);
        ck_assert_int_eq(send_text(k % 2, txn, "while C is away"), 200);
        tick_all(1);
    }
    N[2].down = false;
    json_t *j = messages_of(2);
    ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 0);
    json_decref(j);
    /* a restart marks every room for a catch-up poll */
    rooms_free(N[2].r);
    rooms_opts o = {.db = N[2].db, .me = N[2].id, .call = call_fn, .call_arg = &N[2], .no_threads = true};
    ck_assert_int_eq(rooms_new(&N[2].r, &o), NT_OK);
    tick_all(1);
    j = messages_of(2);
    ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "head")), 4);
    json_decref(j);
}
END_TEST

START_TEST(outbox_survives_host_outage)
{
    make_room(NULL);
    N[0].down = true;
    ck_assert_int_eq(send_text(1, "o1", "one"), 202);
    ck_assert_int_eq(send_text(1, "o2", "two"), 202);
    ck_assert_int_eq(send_text(1, "o3", "three"), 202);
    ck_assert_int_eq(send_text(1, "o2", "two"), 202); /* repeat: same entry */
    ck_assert_int_eq(send_text(1, "o2", "other"), 409);
    json_t *j = messages_of(1);
    ck_assert_int_eq(json_array_size(json_object_get(j, "pending")), 3);
    json_decref(j);
    /* B restarts: the outbox is in its database */
    rooms_free(N[1].r);
    rooms_opts o = {.db = N[1].db, .me = N[1].id, .call = call_fn, .call_arg = &N[1], .no_threads = true};
    ck_assert_int_eq(rooms_new(&N[1].r, &o), NT_OK);
    N[0].down = false;
    /* backoff: drive the clock past it by retrying a few rounds */
    for (int k = 0; k < 40; k++) {
        tick_all(1);
        json_t *m = messages_of(0);
        size_t n = json_array_size(json_object_get(m, "messages"));
        json_decref(m);
        if (n == 3)
            break;
        usleep(100 * 1000);
    }
    j = messages_of(0);
    json_t *msgs = json_object_get(j, "messages");
    ck_assert_int_eq(json_array_size(msgs), 3);
    const char *want[] = {"one", "two", "three"};
    for (size_t k = 0; k < 3; k++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, k), "text")), want[k]);
    json_decref(j);
    tick_all(2);
    j = messages_of(1);
    ck_assert_int_eq(json_array_size(json_object_get(j, "pending")), 0);
    json_decref(j);
    /* a retried transaction id stores nothing new */
    ck_assert_int_eq(send_text(1, "o1", "one"), 200);
    j = messages_of(0);
    ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 3);
    json_decref(j);
}
END_TEST

/* Build a submit body signed by node `signer` for the room. */
static json_t *forge(int signer, int64_t epoch, const char *txn, const char *text, bool tamper)
{
    uint8_t rid[ROOM_ID_LEN], key[ROOM_KEY_LEN], *body = NULL, sig[SIGN_MAX_LEN];
    size_t n, bl, sl;
    ck_assert_int_eq(encoding_hex_decode(room_id, ROOM_ID_HEX_LEN, rid, sizeof rid, &n), NT_OK);
    memset(key, 7, sizeof key); /* content does not matter for the host's checks */
    ck_assert_int_eq(roomcrypt_seal(rid, (uint64_t)epoch, key, identity_id(N[signer].id), text, strlen(text), &body,
                                    &bl), NT_OK);
    ck_assert_int_eq(roomcrypt_sign(N[signer].id, rid, (uint64_t)epoch, txn, body, bl, sig, sizeof sig, &sl), NT_OK);
    if (tamper)
        body[bl / 2] ^= 1;
    char b64b[2 * ROOM_BODY_MAX], b64s[1024];
    ck_assert_int_eq(encoding_b64_encode(body, bl, B64_STD, b64b, sizeof b64b), NT_OK);
    ck_assert_int_eq(encoding_b64_encode(sig, sl, B64_STD, b64s, sizeof b64s), NT_OK);
    free(body);
    return json_pack("{s:s,s:I,s:s,s:s}", "txn_id", txn, "epoch", (json_int_t)epoch, "body", b64b, "sig", b64s);
}

static int peer(int from, int to, const char *method, const char *path, json_t *body, json_t **out)
{
    json_t *reply = NULL;
    char p[512];
    qstr q;
    split_path(path, p, &q);
    int st = rooms_peer_handle(N[to].r, N[from].hex, method, p, qlookup, &q, body, &reply);
    assert_clean();
    if (out)
        *out = reply;
    else
        json_decref(reply);
    return st;
}

static int64_t host_head(void)
{
    json_t *j = NULL;
    ck_assert_int_eq(apif(0, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
    int64_t h = json_integer_value(json_object_get(j, "head"));
    json_decref(j);
    return h;
}

START_TEST(attacks_refused_state_unchanged)
{
    make_room(NULL);
    ck_assert_int_eq(send_text(1, "a1", "legit"), 200);
    char path[128];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/messages", room_id);
    char mpath[128];
    snprintf(mpath, sizeof mpath, "/v1/peer/rooms/%s/members", room_id);
    int64_t head = host_head();

    /* non-member D (node 3): read, write, member list */
    ck_assert_int_eq(peer(3, 0, "GET", path, NULL, NULL), 403);
    json_t *b = forge(3, 1, "x1", "intruder", false);
    ck_assert_int_eq(peer(3, 0, "POST", path, b, NULL), 403);
    json_decref(b);
    json_t *r = NULL;
    ck_assert_int_eq(peer(3, 0, "GET", mpath, NULL, &r), 403);
    ck_assert_ptr_null(json_object_get(r, "members"));
    json_decref(r);
    /* B submits a body signed by C: the host checks against B's key */
    b = forge(2, 1, "x2", "forged", false);
    ck_assert_int_eq(peer(1, 0, "POST", path, b, NULL), 401);
    json_decref(b);
    /* tampered ciphertext */
    b = forge(1, 1, "x3", "tampered", true);
    ck_assert_int_eq(peer(1, 0, "POST", path, b, NULL), 401);
    json_decref(b);
    /* unknown epoch, then an old one after two rotations */
    b = forge(1, 9, "x4", "future", false);
    ck_assert_int_eq(peer(1, 0, "POST", path, b, &r), 409);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "stale_epoch");
    json_decref(r);
    json_decref(b);
    ck_assert_int_eq(apif(0, "POST", NULL, "{}", "/v1/client/rooms/%s/rekey", room_id), 200);
    ck_assert_int_eq(apif(0, "POST", NULL, "{}", "/v1/client/rooms/%s/rekey", room_id), 200);
    b = forge(1, 1, "x5", "old", false);
    ck_assert_int_eq(peer(1, 0, "POST", path, b, NULL), 409);
    json_decref(b);
    /* malformed */
    b = json_pack("{s:s}", "txn_id", "x6");
    ck_assert_int_eq(peer(1, 0, "POST", path, b, NULL), 400);
    json_decref(b);
    ck_assert_int_eq(peer(1, 0, "POST", path, NULL, NULL), 400);
    ck_assert_int_eq(host_head(), head);
    /* oversized text at the client API */
    char *big = malloc(ROOM_TEXT_MAX + 2);
    memset(big, 'x', ROOM_TEXT_MAX + 1);
    big[ROOM_TEXT_MAX + 1] = '\0';
    ck_assert_int_eq(send_text(1, "big", big), 413);
    free(big);
    ck_assert_int_eq(apif(1, "PUT", NULL, "[1]", "/v1/client/rooms/%s/messages/m", room_id), 400);
    /* replayed submit: the same body twice stores once */
    b = forge(1, 3, "x7", "once", false);
    ck_assert_int_eq(peer(1, 0, "POST", path, b, &r), 200);
    json_int_t seq = json_integer_value(json_object_get(r, "seq"));
    json_decref(r);
    ck_assert_int_eq(peer(1, 0, "POST", path, b, &r), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "seq")), seq);
    ck_assert(json_is_true(json_object_get(r, "duplicate")));
    json_decref(r);
    json_decref(b);
    ck_assert_int_eq(host_head(), head + 1);
    /* only the master invites, kicks, rekeys */
    char inv[128];
    snprintf(inv, sizeof inv, "{\"peer\":\"%s\"}", N[3].hex);
    ck_assert_int_eq(apif(1, "POST", NULL, inv, "/v1/client/rooms/%s/invite", room_id), 403);
    ck_assert_int_eq(apif(1, "POST", NULL, "{}", "/v1/client/rooms/%s/rekey", room_id), 403);
}
END_TEST

/* Query integers are plain decimal: no sign '+', no overflow (strtoll
 * clamps 99999999999999999999 to INT64_MAX, which was taken as a value). */
START_TEST(query_integers_strict)
{
    make_room(NULL);
    static const char *const bad[] = {"after=99999999999999999999", "before=18446744073709551616", "limit=+5",
                                      "limit= 5", "after=-99999999999999999999", "limit=5 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(apif(0, "GET", NULL, NULL, "/v1/client/rooms/%s/messages?%s", room_id, bad[i]) == 400, "%s",
                      bad[i]);
        ck_assert_msg(apif(0, "GET", NULL, NULL, "/v1/client/events?%s", bad[i]) == 400 || !strncmp(bad[i], "after", 5) ||
                          !strncmp(bad[i], "before", 6),
                      "events %s", bad[i]);
        char path[160];
        snprintf(path, sizeof path, "/v1/peer/rooms/%s/messages?%s", room_id, bad[i]);
        ck_assert_msg(peer(1, 0, "GET", path, NULL, NULL) == 400 || !strncmp(bad[i], "before", 6), "peer %s", bad[i]);
    }
    ck_assert_int_eq(apif(0, "GET", NULL, NULL, "/v1/client/events?since=99999999999999999999999"), 400);
    ck_assert_int_eq(apif(0, "GET", NULL, NULL, "/v1/client/events?since=+1"), 400);
    ck_assert_int_eq(apif(0, "GET", NULL, NULL, "/v1/client/events?since=1&limit=500"), 200);
    ck_assert_int_eq(apif(0, "GET", NULL, NULL, "/v1/client/rooms/%s/messages?after=0&before=9223372036854775807&limit=5",
                          room_id),
                     200);
}
END_TEST

static void assert_refusal_says(int st, json_t *j, const char *want, const char *what)
{
    json_t *e = json_object_get(j, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    ck_assert_msg(st == 400, "%s: status %d", what, st);
    ck_assert_msg(msg && strcmp(msg, want) == 0, "%s: \"%s\", want \"%s\"", what, msg ? msg : "(none)", want);
    json_decref(j);
}

/* Each bad query parameter is named with its own rule; with several bad,
 * the first of the route's parameter list is the one named. */
START_TEST(query_bad_parameter_named)
{
    make_room(NULL);
    static const struct {
        const char *query, *want;
    } msgs[] = {
        {"after=-1", "after must be a non-negative integer"},
        {"before=0", "before must be an integer of at least 1"},
        {"limit=501", "limit must be an integer from 1 to 500"},
        {"limit=0&before=x&after=y", "after must be a non-negative integer"},
        {"limit=0&before=x", "before must be an integer of at least 1"},
    }, events[] = {
        {"since=x", "since must be a token from \"next\", or \"now\""},
        {"since=99999999999999999999999", "since must be a token from \"next\", or \"now\""},
        {"wait=31", "wait must be an integer from 0 to 30 (seconds)"},
        {"limit=abc", "limit must be an integer from 1 to 500"},
        {"limit=0&wait=-1&since=-1", "since must be a token from \"next\", or \"now\""},
        {"limit=0&wait=-1", "wait must be an integer from 0 to 30 (seconds)"},
    }, poll[] = {
        {"after=-1", "after must be a non-negative integer"},
        {"limit=501", "limit must be an integer from 1 to 500"},
        {"wait=3601", "wait must be an integer from 0 to 3600 (seconds)"},
        {"wait=x&limit=x", "limit must be an integer from 1 to 500"},
    };
    json_t *j = NULL;
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        int st = apif(0, "GET", &j, NULL, "/v1/client/rooms/%s/messages?%s", room_id, msgs[i].query);
        assert_refusal_says(st, j, msgs[i].want, msgs[i].query);
    }
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        int st = apif(0, "GET", &j, NULL, "/v1/client/events?%s", events[i].query);
        assert_refusal_says(st, j, events[i].want, events[i].query);
    }
    for (size_t i = 0; i < sizeof poll / sizeof poll[0]; i++) {
        char path[160];
        snprintf(path, sizeof path, "/v1/peer/rooms/%s/messages?%s", room_id, poll[i].query);
        int st = peer(1, 0, "GET", path, NULL, &j);
        assert_refusal_says(st, j, poll[i].want, poll[i].query);
    }
}
END_TEST

START_TEST(kick_rotates_and_excludes)
{
    make_room(NULL);
    ck_assert_int_eq(send_text(0, "k1", "before kick"), 200);
    tick_all(2);
    char b[128];
    snprintf(b, sizeof b, "{\"peer\":\"%s\"}", N[2].hex);
    json_t *j = NULL;
    ck_assert_int_eq(apif(0, "POST", &j, b, "/v1/client/rooms/%s/kick", room_id), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 2);
    json_decref(j);
    tick_all(2);
    ck_assert_int_eq(send_text(1, "k2", "after kick"), 200);
    tick_all(3);
    /* B has the new key and the message; C is kicked, without the key */
    j = messages_of(1);
    ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 2);
    json_decref(j);
    ck_assert_int_eq(apif(2, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "kicked");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 1);
    json_decref(j);
    j = messages_of(2);
    ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 1);
    json_decref(j);
    /* and the host refuses it */
    char path[128];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/keys", room_id);
    ck_assert_int_eq(peer(2, 0, "GET", path, NULL, NULL), 403);
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/messages", room_id);
    ck_assert_int_eq(peer(2, 0, "GET", path, NULL, NULL), 403);
    ck_assert_int_eq(send_text(2, "k3", "let me in"), 403);
    /* B's user is told C is out (B refreshed the member list on the rotation) */
    json_t *ev = NULL;
    ck_assert_int_eq(api(1, "GET", "/v1/client/events?since=0&limit=500", NULL, &ev), 200);
    size_t i;
    json_t *e;
    bool seen = false;
    json_array_foreach(json_object_get(ev, "events"), i, e) seen |=
        strcmp(json_string_value(json_object_get(e, "type")), "membership") == 0 &&
        json_string_value(json_object_get(e, "peer")) && strcmp(json_string_value(json_object_get(e, "peer")), N[2].hex) == 0 &&
        strcmp(json_string_value(json_object_get(e, "membership")), "kicked") == 0;
    ck_assert(seen);
    json_decref(ev);
}
END_TEST

/* A invites node i to a fresh room; the room's id into room_id. */
static void invite_only(int i)
{
    static int made; /* a host's room names are its own: one new each time */
    json_t *j = NULL;
    char b[128];
    snprintf(b, sizeof b, "{\"name\":\"club %d\"}", ++made);
    ck_assert_int_eq(api(0, "POST", "/v1/client/rooms", b, &j), 201);
    snprintf(room_id, sizeof room_id, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    snprintf(b, sizeof b, "{\"peer\":\"%s\"}", N[i].hex);
    ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/invite", room_id), 200);
}

/* Past the longest backoff, a push round on every node, n times. */
static void tick_past_backoff(int n)
{
    for (int k = 0; k < n; k++) {
        clock_skew_ms += 61000;
        tick_all(1);
    }
}

START_TEST(kick_withdraws_an_invitation)
{
    invite_only(1);
    tick_all(1);
    json_t *j = NULL;
    ck_assert_int_eq(apif(1, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "invited");
    json_decref(j);
    char b[128];
    snprintf(b, sizeof b, "{\"peer\":\"%s\"}", N[1].hex);
    ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/kick", room_id), 200);
    N[1].notifies = 0;
    tick_past_backoff(4);
    ck_assert_int_eq(N[1].notifies, 1); /* taken at once */
    ck_assert_int_eq(apif(1, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "kicked");
    json_decref(j);
    /* the invitation no longer counts, and the user was told */
    int64_t pending = -1;
    ck_assert_int_eq(rooms_store_invited(N[1].db, N[0].hex, &pending), NT_OK);
    ck_assert_int_eq(pending, 0);
    ck_assert_int_eq(api(1, "GET", "/v1/client/events?since=0&limit=500", NULL, &j), 200);
    size_t i;
    json_t *e;
    bool seen = false;
    json_array_foreach(json_object_get(j, "events"), i, e) seen |=
        !strcmp(json_string_value(json_object_get(e, "type")), "membership") &&
        !strcmp(json_string_value(json_object_get(e, "membership")) ?: "", "kicked") &&
        !strcmp(json_string_value(json_object_get(e, "peer")) ?: "", N[1].hex);
    ck_assert(seen);
    json_decref(j);
    /* joining it is refused by the host, and changes nothing here */
    snprintf(b, sizeof b, "{\"host\":\"%s\"}", N[0].hex);
    ck_assert_int_eq(apif(1, "POST", NULL, b, "/v1/client/rooms/%s/join", room_id), 403);
    /* only the room's host withdraws it */
    invite_only(1);
    tick_all(1);
    json_t *kick = json_pack("{s:I,s:I,s:s}", "head", (json_int_t)0, "epoch", (json_int_t)1, "event", "kicked");
    char path[128];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/notify", room_id);
    ck_assert_int_eq(peer(2, 1, "POST", path, kick, NULL), 403);
    json_decref(kick);
    ck_assert_int_eq(apif(1, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "invited");
    json_decref(j);
}
END_TEST

/* Whether node i's events hold one of the given type about room_id, of
 * peer (NULL: any) with membership (NULL: any). */
static bool has_event(int i, const char *type, const char *peer, const char *membership)
{
    json_t *j = NULL;
    ck_assert_int_eq(api(i, "GET", "/v1/client/events?since=0&limit=500", NULL, &j), 200);
    size_t k;
    json_t *e;
    bool seen = false;
    json_array_foreach(json_object_get(j, "events"), k, e) {
        const char *t = json_string_value(json_object_get(e, "type"));
        const char *r = json_string_value(json_object_get(e, "room"));
        const char *p = json_string_value(json_object_get(e, "peer"));
        const char *m = json_string_value(json_object_get(e, "membership"));
        seen |= t && r && !strcmp(t, type) && !strcmp(r, room_id) && (!peer || (p && !strcmp(p, peer))) &&
                (!membership || (m && !strcmp(m, membership)));
    }
    json_decref(j);
    return seen;
}

static void assert_state(int i, const char *want)
{
    json_t *j = NULL;
    ck_assert_int_eq(apif(i, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), want);
    json_decref(j);
}

/* A room with B joined; A kicks B while B cannot be reached, then invites
 * it again; B is reachable again, and has heard of neither yet. */
static void kick_and_invite_b_while_away(void)
{
    make_room(NULL);
    tick_all(2);
    N[1].down = true;
    char b[128];
    snprintf(b, sizeof b, "{\"peer\":\"%s\"}", N[1].hex);
    ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/kick", room_id), 200);
    tick_all(1);
    ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/invite", room_id), 200);
    tick_all(1);
    N[1].down = false;
}

/* B is kicked while it cannot be reached and invited again before it
 * hears from A: the host keeps both, and B learns of both in order (it
 * is removed, then invited), rather than only of an invitation it would
 * ignore as a member and then losing it to the 403 of its next poll. */
START_TEST(kick_then_invite_while_away_both_delivered)
{
    char b[128];
    kick_and_invite_b_while_away();
    N[1].notifies = 0;
    tick_past_backoff(4);
    assert_state(1, "invited");
    ck_assert_int_eq(N[1].notifies, 2); /* the kick, then the invitation: each once */
    ck_assert(has_event(1, "membership", N[1].hex, "kicked"));
    ck_assert(has_event(1, "invite", NULL, NULL));
    snprintf(b, sizeof b, "{\"host\":\"%s\"}", N[0].hex);
    ck_assert_int_eq(apif(1, "POST", NULL, b, "/v1/client/rooms/%s/join", room_id), 200);
    assert_state(1, "joined");
    ck_assert_int_eq(send_text(0, "back", "welcome back"), 200);
    tick_all(2);
    json_t *j = messages_of(1);
    ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 1);
    json_decref(j);
}
END_TEST

/* The same while the kick is on its way: it is taken, and the invitation
 * that came meanwhile is pushed after it. And no peer but the room's host
 * moves a member out of a room it has joined: an invitation or a kick
 * from another member changes nothing. */
static void invite_while_kick_in_flight(tnode *from)
{
    (void)from;
    during_call = NULL;
    char b[128];
    snprintf(b, sizeof b, "{\"peer\":\"%s\"}", N[1].hex);
    ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/invite", room_id), 200);
}

START_TEST(invite_during_the_kick_push_follows_it)
{
    make_room(NULL);
    tick_all(2);
    json_t *inv = json_pack("{s:I,s:I,s:s,s:{s:s,s:s,s:s,s:s}}", "head", (json_int_t)0, "epoch", (json_int_t)1,
                            "event", "invite", "room", "id", room_id, "name", "lobby", "topic", "t", "access",
                            "invite");
    json_t *kick = json_pack("{s:I,s:I,s:s}", "head", (json_int_t)0, "epoch", (json_int_t)1, "event", "kicked");
    char path[128];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/notify", room_id);
    ck_assert_int_eq(peer(2, 1, "POST", path, inv, NULL), 409);
    ck_assert_int_eq(peer(2, 1, "POST", path, kick, NULL), 403);
    json_decref(inv);
    json_decref(kick);
    assert_state(1, "joined");

    char b[128];
    snprintf(b, sizeof b, "{\"peer\":\"%s\"}", N[1].hex);
    ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/kick", room_id), 200);
    N[1].notifies = 0;
    during_call = invite_while_kick_in_flight;
    rooms_tick(N[0].r);
    ck_assert_ptr_null(during_call);
    assert_state(1, "kicked");
    tick_past_backoff(2);
    assert_state(1, "invited");
    ck_assert_int_eq(N[1].notifies, 2);
}
END_TEST

/* The same, but B comes back and joins again while the push of the kick
 * owed to it is on its way: the join makes it a member again, and the
 * kick, recorded before it, arrives after the join's reply. B stays
 * joined (it ignores a kick older than its membership), its user is not
 * told of a kick, and B takes the room's messages; the host counts it
 * joined. A kick from the host that says no version is taken as before. */
static void join_b_during_kick_push(tnode *from)
{
    if (from != &N[0])
        return;
    during_call = NULL;
    char b[128];
    snprintf(b, sizeof b, "{\"host\":\"%s\"}", N[0].hex);
    ck_assert_int_eq(apif(1, "POST", NULL, b, "/v1/client/rooms/%s/join", room_id), 200);
}

START_TEST(stale_kick_after_a_join_ignored)
{
    kick_and_invite_b_while_away();
    clock_skew_ms += 61000;
    N[1].notifies = 0;
    during_call = join_b_during_kick_push;
    rooms_tick(N[0].r);
    ck_assert_ptr_null(during_call);
    ck_assert_int_eq(N[1].notifies, 1); /* the kick, built before the join */
    assert_state(1, "joined");
    ck_assert(!has_event(1, "membership", N[1].hex, "kicked"));
    ck_assert_int_eq(send_text(0, "after", "after the join"), 200);
    tick_past_backoff(3);
    json_t *j = messages_of(1);
    ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 1);
    json_decref(j);
    member_rec mr;
    ck_assert_int_eq(members_store_get(N[0].db, room_id, N[1].hex, &mr), NT_OK);
    ck_assert_int_eq(mr.state, MEMBER_JOINED);
    ck_assert_int_eq(mr.cursor, host_head());

    /* a kick with a version from before the join: ignored; without one: taken */
    char path[128];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/notify", room_id);
    json_t *kick = json_pack("{s:I,s:I,s:s,s:I}", "head", (json_int_t)0, "epoch", (json_int_t)1, "event", "kicked",
                             "members_ver", (json_int_t)1);
    ck_assert_int_eq(peer(0, 1, "POST", path, kick, NULL), 200);
    assert_state(1, "joined");
    json_object_del(kick, "members_ver");
    ck_assert_int_eq(peer(0, 1, "POST", path, kick, NULL), 200);
    assert_state(1, "kicked");
    json_decref(kick);
}
END_TEST

/* A notice the member refuses for good is dropped, not pushed again and
 * again with backoff: a kick for a room it never heard of (the invitation
 * never reached it), an invitation to a room id it holds from another
 * host. */
START_TEST(notice_refused_for_good_is_dropped)
{
    N[1].down = true;
    invite_only(1);
    tick_all(1);
    char b[128];
    snprintf(b, sizeof b, "{\"peer\":\"%s\"}", N[1].hex);
    ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/kick", room_id), 200);
    N[1].down = false;
    N[1].notifies = 0;
    tick_past_backoff(4);
    ck_assert_int_eq(N[1].notifies, 1);
    json_t *j = NULL;
    ck_assert_int_eq(apif(1, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 404);
    json_decref(j);

    invite_only(2);
    ck_assert_int_eq(rooms_store_invite(N[2].db, room_id, "other", "", N[3].hex, ROOM_ACCESS_INVITE, 1), NT_OK);
    N[2].notifies = 0;
    tick_past_backoff(4);
    ck_assert_int_eq(N[2].notifies, 1);
    ck_assert_int_eq(apif(2, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "host")), N[3].hex);
    json_decref(j);
}
END_TEST

START_TEST(rotation_after_n_messages)
{
    make_room(",\"rotate_messages\":3");
    for (int k = 0; k < 7; k++) {
        char txn[16];
        snprintf(txn, sizeof txn, "r%d", k);
        ck_assert_int_eq(send_text(k % 3, txn, "tick"), 200);
        tick_all(2);
    }
    json_t *j = NULL;
    ck_assert_int_eq(apif(0, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 3);
    json_decref(j);
    for (int i = 0; i < 3; i++) {
        j = messages_of(i);
        ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 7);
        json_decref(j);
    }
}
END_TEST

START_TEST(password_and_open_rooms)
{
    json_t *j = NULL;
    ck_assert_int_eq(api(0, "POST", "/v1/client/rooms", "{\"name\":\"pw\",\"access\":\"password\","
                         "\"password\":\"s3cret\"}", &j), 201);
    snprintf(room_id, sizeof room_id, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    char b[256];
    snprintf(b, sizeof b, "{\"host\":\"%s\",\"password\":\"wrong\"}", N[0].hex);
    ck_assert_int_eq(apif(1, "POST", NULL, b, "/v1/client/rooms/%s/join", room_id), 403);
    snprintf(b, sizeof b, "{\"host\":\"%s\",\"password\":\"s3cret\"}", N[0].hex);
    ck_assert_int_eq(apif(1, "POST", NULL, b, "/v1/client/rooms/%s/join", room_id), 200);
    /* listed for peers; an invite-only room is not */
    ck_assert_int_eq(apif(2, "GET", &j, NULL, "/v1/client/peers/%s/rooms", N[0].hex), 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "rooms")), 1);
    json_decref(j);
    ck_assert_int_eq(api(0, "POST", "/v1/client/rooms", "{\"name\":\"\"}", NULL), 400);
    ck_assert_int_eq(api(0, "POST", "/v1/client/rooms", "{\"name\":\"x\",\"access\":\"password\"}", NULL), 400);
}
END_TEST

/* Node i's user joins open room `id` on host h: the status; the reply's
 * retry_after into *retry (0 when none). */
static int join_open(int i, int h, const char *id, int64_t *retry)
{
    char b[128];
    json_t *j = NULL;
    snprintf(b, sizeof b, "{\"host\":\"%s\"}", N[h].hex);
    int st = apif(i, "POST", &j, b, "/v1/client/rooms/%s/join", id);
    *retry = json_integer_value(json_object_get(j, "retry_after"));
    if (st == 429)
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")), "rate_limited");
    json_decref(j);
    return st;
}

static void open_room(int h, const char *name, char id[static ROOM_ID_HEX_LEN + 1])
{
    char b[128];
    json_t *j = NULL;
    snprintf(b, sizeof b, "{\"name\":\"%s\",\"access\":\"open\"}", name);
    ck_assert_int_eq(api(h, "POST", "/v1/client/rooms", b, &j), 201);
    snprintf(id, ROOM_ID_HEX_LEN + 1, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

static json_int_t hosted_epoch(int h, const char *id)
{
    json_t *j = NULL;
    ck_assert_int_eq(apif(h, "GET", &j, NULL, "/v1/client/rooms/%s", id), 200);
    json_int_t e = json_integer_value(json_object_get(j, "epoch"));
    json_decref(j);
    return e;
}

static json_int_t joins_limited(int h)
{
    json_t *st = rooms_status(N[h].r);
    json_int_t v = json_integer_value(json_object_get(st, "joins_rate_limited"));
    json_decref(st);
    return v;
}

/* The host's joins budget: a burst of ROOM_JOIN_RATE_DEFAULT joins per
 * peer for all its rooms, then one per 60/ROOM_JOIN_RATE_DEFAULT s; over
 * it a join is refused 429 with retry_after before its body is read, and
 * changes nothing. Leaves are never refused; other peers and other hosts
 * keep their own budgets. */
START_TEST(joins_budget_per_peer)
{
    char r1[ROOM_ID_HEX_LEN + 1], r2[ROOM_ID_HEX_LEN + 1], r3[ROOM_ID_HEX_LEN + 1];
    int64_t retry = 0;
    clock_frozen_ms = test_clock(NULL);
    open_room(0, "one", r1);
    open_room(0, "two", r2);
    open_room(3, "elsewhere", r3);
    for (int k = 0; k < ROOM_JOIN_RATE_DEFAULT; k++) {
        ck_assert_int_eq(join_open(1, 0, r1, &retry), 200);
        ck_assert_int_eq(apif(1, "POST", NULL, "{}", "/v1/client/rooms/%s/leave", r1), 200);
    }
    json_int_t epoch = hosted_epoch(0, r1);
    ck_assert_int_eq(epoch, 1 + ROOM_JOIN_RATE_DEFAULT); /* a rotation per leave */
    ck_assert_int_eq(join_open(1, 0, r1, &retry), 429);
    ck_assert_int_eq(retry, 60 / ROOM_JOIN_RATE_DEFAULT);
    ck_assert_int_eq(join_open(1, 0, r2, &retry), 429); /* the budget is the peer's, not the room's */
    char path[128];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/join", r1);
    json_t *empty = json_object();
    ck_assert_int_eq(peer(1, 0, "POST", path, empty, NULL), 429); /* before the body is looked at */
    json_decref(empty);
    ck_assert_int_eq(joins_limited(0), 3);
    /* nothing changed on the host */
    ck_assert_int_eq(hosted_epoch(0, r1), epoch);
    json_t *j = NULL;
    ck_assert_int_eq(apif(0, "GET", &j, NULL, "/v1/client/rooms/%s/members", r1), 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "members")), 1);
    json_decref(j);
    /* other peers, other hosts */
    ck_assert_int_eq(join_open(2, 0, r1, &retry), 200);
    ck_assert_int_eq(join_open(1, 3, r3, &retry), 200);
    ck_assert_int_eq(joins_limited(3), 0);
    /* one more join a tenth of a minute later, not sooner (the budget's
     * clock ticks every 60 / ROOM_JOIN_RATE_DEFAULT ms) */
    clock_skew_ms += 60000 / ROOM_JOIN_RATE_DEFAULT - 10;
    ck_assert_int_eq(join_open(1, 0, r1, &retry), 429);
    clock_skew_ms += 10;
    ck_assert_int_eq(join_open(1, 0, r1, &retry), 200);
    ck_assert_int_eq(join_open(1, 0, r2, &retry), 429);
    /* a leave is always taken */
    ck_assert_int_eq(apif(1, "POST", NULL, "{}", "/v1/client/rooms/%s/leave", r1), 200);
    ck_assert_int_eq(hosted_epoch(0, r1), epoch + 1);
}
END_TEST

/* Node i's rooms stopped and started again on the same database: what
 * the host remembers across a restart is what it stored. */
static void node_restart(int i)
{
    rooms_free(N[i].r);
    rooms_opts o = {.db = N[i].db, .me = N[i].id, .call = call_fn, .call_arg = &N[i], .pbkdf2_iter = 1000,
                    .no_threads = true, .clock = test_clock};
    ck_assert_int_eq(rooms_new(&N[i].r, &o), NT_OK);
}

/* B's submission sealed under epoch; the host's answer (status), with
 * the epoch it names when it refuses as stale_epoch in *told. */
static int submit_under(int64_t epoch, const char *txn, int64_t *told)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/messages", room_id);
    json_t *b = forge(1, epoch, txn, "sealed before the rotation", false), *r = NULL;
    int st = peer(1, 0, "POST", path, b, &r);
    json_decref(b);
    json_t *e = json_object_get(r, "error");
    if (st == 409) {
        ck_assert_str_eq(json_string_value(json_object_get(e, "code")), "stale_epoch");
        *told = json_integer_value(json_object_get(r, "epoch"));
    }
    json_decref(r);
    return st;
}

/* The previous epoch's grace is for a routine rotation only. After a
 * kick the kicked member holds the previous key: a message sealed under
 * it and committed after the kick would be one that member can read, so
 * the host refuses it at once (409 stale_epoch with the new epoch; the
 * sender reseals), within the grace and after a restart alike, and the
 * same after a rekey. After a policy rotation it is taken within the
 * grace, and refused after it. */
START_TEST(removal_rotation_ends_the_grace)
{
    make_room(",\"rotate_messages\":3");
    int64_t head = host_head(), told = 0;
    char b[128];
    snprintf(b, sizeof b, "{\"peer\":\"%s\"}", N[2].hex);
    ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/kick", room_id), 200);
    ck_assert_int_eq(hosted_epoch(0, room_id), 2);
    ck_assert_int_eq(submit_under(1, "g1", &told), 409);
    ck_assert_int_eq(told, 2);
    ck_assert_int_eq(host_head(), head);
    node_restart(0);
    ck_assert_int_eq(submit_under(1, "g2", &told), 409);
    ck_assert_int_eq(host_head(), head);
    /* B reseals under the new epoch once it has the key */
    tick_all(2);
    ck_assert_int_eq(send_text(1, "g3", "resealed"), 200);
    tick_all(2);
    ck_assert_int_eq(host_head(), head + 1);
    /* two more make three since the kick: a policy rotation */
    ck_assert_int_eq(send_text(1, "g4", "two"), 200);
    ck_assert_int_eq(send_text(0, "g5", "three"), 200);
    tick_all(2);
    ck_assert_int_eq(hosted_epoch(0, room_id), 3);
    ck_assert_int_eq(submit_under(2, "g6", &told), 200);
    node_restart(0);
    ck_assert_int_eq(submit_under(2, "g7", &told), 200);
    ck_assert_int_eq(host_head(), head + 5);
    clock_skew_ms += 61 * 1000;
    ck_assert_int_eq(submit_under(2, "g8", &told), 409);
    ck_assert_int_eq(told, 3);
    /* a rekey retires the key at once too */
    ck_assert_int_eq(apif(0, "POST", NULL, "{}", "/v1/client/rooms/%s/rekey", room_id), 200);
    ck_assert_int_eq(submit_under(3, "g9", &told), 409);
    ck_assert_int_eq(told, 4);
    ck_assert_int_eq(host_head(), head + 5);
}
END_TEST

START_TEST(rotation_after_t_seconds)
{
    make_room(",\"rotate_seconds\":60");
    ck_assert_int_eq(send_text(1, "s1", "before"), 200);
    tick_all(2);
    clock_skew_ms += 30 * 1000;
    tick_all(1);
    json_t *j = NULL;
    ck_assert_int_eq(apif(0, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 1);
    json_decref(j);
    clock_skew_ms += 31 * 1000; /* a quiet room rotates by time alone */
    tick_all(2);
    ck_assert_int_eq(apif(0, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 2);
    json_decref(j);
    ck_assert_int_eq(apif(2, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 2); /* key synced */
    json_decref(j);
    ck_assert_int_eq(send_text(2, "s2", "after"), 200);
    tick_all(2);
    j = messages_of(1);
    ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 2);
    json_decref(j);
}
END_TEST

/* A rekey reaches members by the host's push alone, the key RSA-OAEP
 * wrapped to each member's identity key. */
START_TEST(key_sync_push_wrapped)
{
    make_room(NULL);
    ck_assert_int_eq(apif(0, "POST", NULL, "{}", "/v1/client/rooms/%s/rekey", room_id), 200);
    rooms_tick(N[0].r); /* the host's push round only */
    for (int i = 1; i <= 2; i++) {
        json_t *j = NULL;
        ck_assert_int_eq(apif(i, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
        ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 2);
        json_decref(j);
    }
    ck_assert_int_eq(send_text(2, "w1", "on the new key"), 200);
    tick_all(2); /* B fetches C's key from the member list, then applies */
    json_t *j = messages_of(1);
    ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(j, "messages"), 0), "epoch")), 2);
    json_decref(j);
}
END_TEST

/* B learns C's key only after C has left: C's message still verifies. */
START_TEST(departed_sender_still_verifies)
{
    make_room(NULL);
    N[1].down = true;
    ck_assert_int_eq(send_text(2, "d1", "C says bye"), 200);
    ck_assert_int_eq(apif(2, "POST", NULL, "{}", "/v1/client/rooms/%s/leave", room_id), 200);
    tick_all(2);
    N[1].down = false;
    rooms_free(N[1].r); /* restart: catches up by polling */
    rooms_opts o = {.db = N[1].db, .me = N[1].id, .call = call_fn, .call_arg = &N[1], .no_threads = true,
                    .clock = test_clock};
    ck_assert_int_eq(rooms_new(&N[1].r, &o), NT_OK);
    tick_all(3);
    json_t *j = messages_of(1);
    json_t *msgs = json_object_get(j, "messages");
    ck_assert_int_eq(json_array_size(msgs), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 0), "sender")), N[2].hex);
    json_decref(j);
    /* and the client's member list shows only the current members */
    ck_assert_int_eq(apif(1, "GET", &j, NULL, "/v1/client/rooms/%s/members", room_id), 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "members")), 2);
    json_decref(j);
}
END_TEST

/* Membership events on node i since tok about peer p: how many. */
static int member_events(int i, const char *tok, const char *p, const char *membership)
{
    json_t *ev = NULL, *e;
    size_t k;
    int n = 0;
    ck_assert_int_eq(apif(i, "GET", &ev, NULL, "/v1/client/events?since=%s&limit=500", tok), 200);
    json_array_foreach(json_object_get(ev, "events"), k, e) n +=
        !strcmp(json_string_value(json_object_get(e, "type")), "membership") &&
        !strcmp(json_string_value(json_object_get(e, "peer")), p) &&
        !strcmp(json_string_value(json_object_get(e, "membership")), membership);
    json_decref(ev);
    return n;
}

static void events_now(int i, char tok[static 24])
{
    json_t *ev = NULL;
    ck_assert_int_eq(api(i, "GET", "/v1/client/events?since=now", NULL, &ev), 200);
    snprintf(tok, 24, "%s", json_string_value(json_object_get(ev, "next")));
    json_decref(ev);
}

START_TEST(member_list_changes_pushed_or_polled)
{
    char tb[24], tc[24], body[128];
    make_room(NULL);
    tick_all(2);
    ck_assert_int_eq(apif(1, "POST", NULL, "{\"mode\":\"poll\"}", "/v1/client/rooms/%s/delivery", room_id), 200);
    events_now(1, tb);
    events_now(2, tc);
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", N[3].hex);
    ck_assert_int_eq(apif(0, "POST", NULL, body, "/v1/client/rooms/%s/invite", room_id), 200);
    rooms_tick(N[0].r); /* the invite reaches D (and C hears of it) */
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", N[0].hex);
    ck_assert_int_eq(apif(3, "POST", NULL, body, "/v1/client/rooms/%s/join", room_id), 200);
    ck_assert_int_eq(send_text(3, "d1", "hello from D"), 200);
    /* one push round of the host: C (push mode) has the change and D's
     * message, verified with the key that came in the same notify */
    rooms_tick(N[0].r);
    ck_assert_int_eq(member_events(2, tc, N[3].hex, "invited"), 1);
    ck_assert_int_eq(member_events(2, tc, N[3].hex, "joined"), 1);
    json_t *j = messages_of(2);
    ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "messages"), 0), "sender")),
                     N[3].hex);
    json_decref(j);
    /* B (poll mode) is not pushed to: it learns on its next poll */
    ck_assert_int_eq(member_events(1, tb, N[3].hex, "joined"), 0);
    clock_skew_ms += ROOM_RESYNC_TEST_MS;
    rooms_tick(N[1].r);
    ck_assert_int_eq(member_events(1, tb, N[3].hex, "joined"), 1);
    /* D leaves: C hears of it by push; nothing is told twice */
    ck_assert_int_eq(apif(3, "POST", NULL, "{}", "/v1/client/rooms/%s/leave", room_id), 200);
    tick_all(3);
    ck_assert_int_eq(member_events(2, tc, N[3].hex, "left"), 1);
    ck_assert_int_eq(member_events(2, tc, N[3].hex, "joined"), 1);
    /* nothing more to push: the host's rows are all up to date */
    int64_t due = -1;
    ck_assert_int_eq(roomdb_int(N[0].db, &due, "SELECT count(*) FROM room_members m JOIN rooms r ON r.id=m.room "
                                "WHERE m.role='member' AND m.state='joined' AND m.delivery='push' AND "
                                "m.members_seen<r.members_ver", ""),
                     NT_OK);
    ck_assert_int_eq(due, 0);
}
END_TEST

/* The host's members_seen for node i and the room's members_ver. */
static void members_versions(int i, int64_t *seen, int64_t *ver)
{
    ck_assert_int_eq(roomdb_int(N[0].db, seen, "SELECT members_seen FROM room_members WHERE room=? AND peer=?", "ss",
                                room_id, N[i].hex), NT_OK);
    ck_assert_int_eq(roomdb_int(N[0].db, ver, "SELECT members_ver FROM rooms WHERE id=?", "s", room_id), NT_OK);
}

START_TEST(member_list_push_in_capped_batches)
{
    enum { INVITES = 70 }; /* over the 64 rows one notify carries */
    char tc[24], body[128], hex[IDENTITY_ID_HEX_LEN + 1];
    int64_t seen, ver;
    make_room(NULL);
    tick_all(2);
    events_now(2, tc);
    for (int k = 0; k < INVITES; k++) { /* ids of nodes that never answer */
        snprintf(hex, sizeof hex, "%064x", k + 1);
        snprintf(body, sizeof body, "{\"peer\":\"%s\"}", hex);
        ck_assert_int_eq(apif(0, "POST", NULL, body, "/v1/client/rooms/%s/invite", room_id), 200);
    }
    rooms_tick(N[0].r);
    members_versions(2, &seen, &ver);
    ck_assert_int_lt(seen, ver); /* a first batch: part of the way */
    ck_assert_int_gt(seen, 0);
    clock_skew_ms += 1000; /* past the 200 ms before the rest */
    rooms_tick(N[0].r);
    members_versions(2, &seen, &ver);
    ck_assert_int_eq(seen, ver);
    json_t *ev = NULL, *e;
    size_t k;
    int invited = 0;
    ck_assert_int_eq(apif(2, "GET", &ev, NULL, "/v1/client/events?since=%s&limit=500", tc), 200);
    json_array_foreach(json_object_get(ev, "events"), k, e) invited +=
        !strcmp(json_string_value(json_object_get(e, "membership")) ?: "", "invited");
    json_decref(ev);
    ck_assert_int_eq(invited, INVITES);
}
END_TEST

/* A room whose member list outgrew one reply (every member ever stays in
 * it, with its key, for the history's signatures): a joiner gets a first
 * page, fetches the rest, and holds the whole list; no reply carries more
 * than a page. */
START_TEST(member_list_fetched_in_pages)
{
    enum { GONE = 300 }; /* invited and kicked: over ROOM_MEMBERS_PAGE rows */
    char body[128], hex[IDENTITY_ID_HEX_LEN + 1], tok[24];
    json_t *j = NULL;
    make_room(NULL);
    for (int k = 0; k < GONE; k++) { /* ids of nodes that never answer */
        snprintf(hex, sizeof hex, "%064x", k + 1);
        snprintf(body, sizeof body, "{\"peer\":\"%s\"}", hex);
        ck_assert_int_eq(apif(0, "POST", NULL, body, "/v1/client/rooms/%s/invite", room_id), 200);
        ck_assert_int_eq(apif(0, "POST", NULL, body, "/v1/client/rooms/%s/kick", room_id), 200);
    }
    int64_t rows = 0, ver = 0, seen = 0;
    ck_assert_int_eq(roomdb_int(N[0].db, &rows, "SELECT count(*) FROM room_members WHERE room=?", "s", room_id),
                     NT_OK);
    ck_assert_int_eq(rows, GONE + 3);

    /* the pages, as a member asks for them: each capped, together all */
    int64_t since = -1, got = 0;
    for (int page = 0; page < 4; page++) {
        char path[160];
        snprintf(path, sizeof path, "/v1/peer/rooms/%s/members?since=%lld", room_id, (long long)since);
        ck_assert_int_eq(peer(1, 0, "GET", path, NULL, &j), 200);
        size_t n = json_array_size(json_object_get(j, "members"));
        ck_assert_uint_le(n, ROOM_MEMBERS_PAGE);
        got += (int64_t)n;
        since = json_integer_value(json_object_get(j, "members_ver"));
        bool more = json_is_true(json_object_get(j, "more"));
        json_decref(j);
        if (!more)
            break;
    }
    ck_assert_int_eq(got, rows);
    ck_assert_int_eq(roomdb_int(N[0].db, &ver, "SELECT members_ver FROM rooms WHERE id=?", "s", room_id), NT_OK);
    ck_assert_int_eq(since, ver);
    ck_assert_int_eq(peer(1, 0, "GET", "/v1/peer/rooms/x/members?since=-2", NULL, &j), 404);
    json_decref(j);
    char bad[160];
    snprintf(bad, sizeof bad, "/v1/peer/rooms/%s/members?since=-2", room_id);
    ck_assert_int_eq(peer(1, 0, "GET", bad, NULL, &j), 400);
    json_decref(j);
    snprintf(bad, sizeof bad, "/v1/peer/rooms/%s/members?since=1x", room_id);
    ck_assert_int_eq(peer(1, 0, "GET", bad, NULL, &j), 400);
    json_decref(j);

    /* D joins: a first page in the join reply, the rest fetched */
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", N[3].hex);
    ck_assert_int_eq(apif(0, "POST", NULL, body, "/v1/client/rooms/%s/invite", room_id), 200);
    rooms_tick(N[0].r);
    events_now(3, tok);
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", N[0].hex);
    ck_assert_int_eq(apif(3, "POST", NULL, body, "/v1/client/rooms/%s/join", room_id), 200);
    int64_t held = 0;
    ck_assert_int_eq(roomdb_int(N[3].db, &held, "SELECT count(*) FROM room_members WHERE room=?", "s", room_id),
                     NT_OK);
    ck_assert_int_eq(held, ROOM_MEMBERS_PAGE);
    rooms_tick(N[3].r);
    ck_assert_int_eq(roomdb_int(N[3].db, &held, "SELECT count(*) FROM room_members WHERE room=?", "s", room_id),
                     NT_OK);
    ck_assert_int_eq(held, rows + 1);
    ck_assert_int_eq(roomdb_int(N[0].db, &ver, "SELECT members_ver FROM rooms WHERE id=?", "s", room_id), NT_OK);
    ck_assert_int_eq(roomdb_int(N[3].db, &held, "SELECT members_ver FROM rooms WHERE id=?", "s", room_id), NT_OK);
    ck_assert_int_eq(held, ver);
    members_versions(3, &seen, &ver);
    ck_assert_int_eq(seen, ver);
    /* the departed ones it never knew are history, not news (the last
     * one kicked came in a later page, when D already knew some) */
    snprintf(hex, sizeof hex, "%064x", GONE);
    ck_assert_int_eq(member_events(3, tok, hex, "kicked"), 0);
    /* and its client sees the current members only */
    ck_assert_int_eq(apif(3, "GET", &j, NULL, "/v1/client/rooms/%s/members", room_id), 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "members")), 4);
    json_decref(j);
}
END_TEST

/* ---- a member list taken out of order ---------------------------------- */

/* The state of node p in node i's members list of room_id ("" if not
 * listed); asking fetches the changes from the host first. */
static void listed_state(int i, int p, char out[static 16])
{
    json_t *j = NULL, *m, *found = NULL;
    size_t k;
    ck_assert_int_eq(apif(i, "GET", &j, NULL, "/v1/client/rooms/%s/members", room_id), 200);
    json_array_foreach(json_object_get(j, "members"), k, m) if (!strcmp(
        json_string_value(json_object_get(m, "peer")) ?: "", N[p].hex)) found = m;
    snprintf(out, 16, "%s", found ? json_string_value(json_object_get(found, "state")) : "");
    json_decref(j);
}

static void topic_is(int i, const char *want)
{
    json_t *j = NULL;
    ck_assert_int_eq(apif(i, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "topic")), want);
    json_decref(j);
}

/* While the host's push round is on its way (its notifies built), D joins
 * and B fetches the list, as its catch-up poll does when it sees the
 * host's newer members_ver: B holds D joined before the push reaches it. */
static void join_and_fetch_during_the_push(tnode *from)
{
    char b[128], st[16];
    if (from != &N[0])
        return;
    during_call = NULL;
    snprintf(b, sizeof b, "{\"host\":\"%s\"}", N[0].hex);
    ck_assert_int_eq(apif(3, "POST", NULL, b, "/v1/client/rooms/%s/join", room_id), 200);
    listed_state(1, 3, st);
    ck_assert_str_eq(st, "joined");
}

/* A member list reaches a member by push and by fetch, so an older one
 * can arrive after a newer one: none of its rows is taken over a row of a
 * newer version. B keeps D joined, and its user, told that D joined, is
 * not told after it that D is invited; C, which fetched nothing, takes
 * both in order. */
START_TEST(older_member_list_after_a_newer_changes_nothing)
{
    char tb[24], tc[24], body[128], st[16];
    make_room(NULL);
    tick_all(2);
    events_now(1, tb);
    events_now(2, tc);
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", N[3].hex);
    ck_assert_int_eq(apif(0, "POST", NULL, body, "/v1/client/rooms/%s/invite", room_id), 200);
    during_call = join_and_fetch_during_the_push;
    rooms_tick(N[0].r); /* the round built before D joined, taken after B's fetch */
    ck_assert_ptr_null(during_call);
    listed_state(1, 3, st);
    ck_assert_str_eq(st, "joined");
    ck_assert_int_eq(member_events(1, tb, N[3].hex, "joined"), 1);
    ck_assert_int_eq(member_events(1, tb, N[3].hex, "invited"), 0);
    tick_past_backoff(3);
    listed_state(1, 3, st);
    ck_assert_str_eq(st, "joined");
    listed_state(2, 3, st);
    ck_assert_str_eq(st, "joined");
    ck_assert_int_eq(member_events(2, tc, N[3].hex, "invited"), 1);
    ck_assert_int_eq(member_events(2, tc, N[3].hex, "joined"), 1);
}
END_TEST

/* The same for the room's record, which travels with the version: a
 * topic from an older list is not taken over a newer one. */
static void topic_and_fetch_during_the_push(tnode *from)
{
    char st[16];
    if (from != &N[0])
        return;
    during_call = NULL;
    ck_assert_int_eq(apif(0, "PATCH", NULL, "{\"topic\":\"three\"}", "/v1/client/rooms/%s", room_id), 200);
    listed_state(1, 0, st); /* B fetches the list, and the record with it */
    topic_is(1, "three");
}

START_TEST(older_room_record_after_a_newer_changes_nothing)
{
    make_room(NULL);
    tick_all(2);
    ck_assert_int_eq(apif(0, "PATCH", NULL, "{\"topic\":\"two\"}", "/v1/client/rooms/%s", room_id), 200);
    during_call = topic_and_fetch_during_the_push;
    rooms_tick(N[0].r);
    ck_assert_ptr_null(during_call);
    topic_is(1, "three");
    topic_is(2, "two"); /* C is a round behind */
    tick_past_backoff(2);
    topic_is(1, "three");
    topic_is(2, "three");
}
END_TEST

/* A member away through many rotations: its key sync comes in notifies a
 * member takes (one with every key would be over the cap), and GET keys
 * answers a page at a time. */
START_TEST(many_rotations_synced_in_batches)
{
    enum { ROTATIONS = 1200 }; /* ~440 KB of wrapped keys: over one notify */
    make_room(NULL);
    tick_all(2);
    N[2].down = true; /* C away */
    for (int k = 0; k < ROTATIONS; k++)
        ck_assert_int_eq(apif(0, "POST", NULL, "{}", "/v1/client/rooms/%s/rekey", room_id), 200);
    ck_assert_int_eq(send_text(0, "late", "after the rotations"), 200);

    /* B pages through the keys */
    json_t *j = NULL;
    int64_t since = -1, got = 0;
    for (int page = 0; page < 4; page++) {
        char path[160];
        snprintf(path, sizeof path, "/v1/peer/rooms/%s/keys?since=%lld", room_id, (long long)since);
        ck_assert_int_eq(peer(1, 0, "GET", path, NULL, &j), 200);
        json_t *page_keys = json_object_get(j, "keys");
        size_t n = json_array_size(page_keys);
        ck_assert_uint_le(n, ROOM_KEYS_PAGE);
        got += (int64_t)n;
        since = json_integer_value(json_object_get(json_array_get(page_keys, n - 1), "epoch"));
        bool more = json_is_true(json_object_get(j, "more"));
        json_decref(j);
        if (!more)
            break;
    }
    ck_assert_int_eq(got, ROTATIONS + 1);
    ck_assert_int_eq(since, ROTATIONS + 1);

    /* C is back: only the host's push rounds, past any backoff */
    N[2].down = false;
    for (int round = 0; round < 60; round++) {
        clock_skew_ms += 61000;
        rooms_tick(N[0].r);
    }
    int64_t held = 0;
    ck_assert_int_eq(roomdb_int(N[2].db, &held, "SELECT count(*) FROM room_keys WHERE room=?", "s", room_id), NT_OK);
    ck_assert_int_eq(held, ROTATIONS + 1);
    j = messages_of(2);
    json_t *msgs = json_object_get(j, "messages");
    ck_assert_int_eq(json_array_size(msgs), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 0), "text")), "after the rotations");
    json_decref(j);
}
END_TEST

START_TEST(big_backlog_pushed_in_batches_a_member_takes)
{
    enum { BACKLOG = 60, TEXT = 16000 }; /* about 1.3 MB of base64: several notifies */
    make_room(NULL);
    tick_all(2);
    N[2].down = true; /* C away while A writes */
    char *text = malloc(TEXT + 1);
    memset(text, 'x', TEXT);
    text[TEXT] = '\0';
    for (int k = 0; k < BACKLOG; k++) {
        char txn[16];
        snprintf(txn, sizeof txn, "big%d", k);
        ck_assert_int_eq(send_text(0, txn, text), 200);
    }
    free(text);
    rooms_tick(N[0].r);
    N[2].down = false;
    /* only the host's push rounds, past any backoff: C does not poll */
    for (int round = 0; round < 20; round++) {
        clock_skew_ms += 61000;
        rooms_tick(N[0].r);
    }
    json_t *j = messages_of(2);
    ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), BACKLOG);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "head")), BACKLOG);
    json_decref(j);
}
END_TEST

/* ---- a hostile host against a member ------------------------------------ */

static int commit_count(void *arg)
{
    (*(int *)arg)++;
    return 0; /* the commit goes on */
}

/* n keys {epoch, key} from epoch `from` on, as a host sends them. */
static json_t *made_up_keys(size_t n, int64_t from)
{
    json_t *arr = json_array();
    uint8_t key[ROOM_KEY_LEN];
    for (size_t k = 0; k < n; k++) {
        memset(key, (int)(k & 0xff), sizeof key);
        json_array_append_new(arr, json_pack("{s:I,s:o}", "epoch", (json_int_t)(from + (int64_t)k), "key",
                                             rooms_b64_json(key, sizeof key)));
    }
    return arr;
}

/* n member rows of made-up peers (no pub) in state, the k-th peer id
 * being first + k + 1 in hex. */
static json_t *made_up_rows(size_t n, size_t first, const char *state)
{
    json_t *arr = json_array();
    char hex[IDENTITY_ID_HEX_LEN + 1];
    for (size_t k = 0; k < n; k++) {
        snprintf(hex, sizeof hex, "%064zx", first + k + 1);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:i}", "peer", hex, "role", "member", "state", state,
                                             "delivery", "push", "cursor", 0));
    }
    return arr;
}

/* n member rows of made-up invited peers (no pub). */
static json_t *made_up_members(size_t n)
{
    return made_up_rows(n, 0, "invited");
}

/* What node i holds of the room: key epochs, member rows, its epoch and
 * members_ver, membership events. */
typedef struct {
    int64_t keys, members, epoch, mver, events;
} held;

static held held_by(int i)
{
    held h;
    ck_assert_int_eq(roomdb_int(N[i].db, &h.keys, "SELECT count(*) FROM room_keys WHERE room=?", "s", room_id), NT_OK);
    ck_assert_int_eq(roomdb_int(N[i].db, &h.members, "SELECT count(*) FROM room_members WHERE room=?", "s", room_id),
                     NT_OK);
    ck_assert_int_eq(roomdb_int(N[i].db, &h.epoch, "SELECT epoch FROM rooms WHERE id=?", "s", room_id), NT_OK);
    ck_assert_int_eq(roomdb_int(N[i].db, &h.mver, "SELECT members_ver FROM rooms WHERE id=?", "s", room_id), NT_OK);
    ck_assert_int_eq(roomdb_int(N[i].db, &h.events, "SELECT count(*) FROM room_events", ""), NT_OK);
    return h;
}

static void assert_held_same(held a, held b)
{
    ck_assert_int_eq(a.keys, b.keys);
    ck_assert_int_eq(a.members, b.members);
    ck_assert_int_eq(a.epoch, b.epoch);
    ck_assert_int_eq(a.mver, b.mver);
    ck_assert_int_eq(a.events, b.events);
}

/* A notify from the host to node i; *commits gets its commits. */
static int notify_to(int i, json_t *body, int *commits)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/notify", room_id);
    sqlite3 *db = roomdb_sqlite(N[i].db);
    *commits = 0;
    sqlite3_commit_hook(db, commit_count, commits);
    json_t *reply = NULL;
    int st = peer(0, i, "POST", path, body, &reply);
    sqlite3_commit_hook(db, NULL, NULL);
    if (st != 200)
        ck_assert_ptr_nonnull(json_object_get(reply, "error"));
    json_decref(reply);
    json_decref(body);
    return st;
}

/* A notify from the host to B (node 1). */
static int notify_b(json_t *body, int *commits)
{
    return notify_to(1, body, commits);
}

/* A notify over the protocol's caps is refused as a whole and stores
 * nothing; one within them is stored. */
START_TEST(hostile_notify_over_caps_refused)
{
    int commits = 0;
    make_room(NULL);
    tick_all(2);
    held before = held_by(1);
    ck_assert_int_eq(notify_b(json_pack("{s:o}", "keys", made_up_keys(ROOM_KEYS_PUSH_MAX + 1, 2)), &commits), 400);
    ck_assert_int_eq(commits, 0);
    assert_held_same(held_by(1), before);
    ck_assert_int_eq(notify_b(json_pack("{s:o,s:I}", "members", made_up_members(ROOM_MEMBERS_PUSH_MAX + 1),
                                        "members_ver", (json_int_t)1000),
                              &commits),
                     400);
    ck_assert_int_eq(commits, 0);
    assert_held_same(held_by(1), before);
    /* keys within the cap and member rows over it: nothing of either */
    ck_assert_int_eq(notify_b(json_pack("{s:o,s:o,s:I}", "keys", made_up_keys(1, 2), "members",
                                        made_up_members(ROOM_MEMBERS_PUSH_MAX + 1), "members_ver", (json_int_t)1000),
                              &commits),
                     400);
    assert_held_same(held_by(1), before);

    ck_assert_int_eq(notify_b(json_pack("{s:o,s:o,s:I}", "keys", made_up_keys(ROOM_KEYS_PUSH_MAX, 2), "members",
                                        made_up_members(ROOM_MEMBERS_PUSH_MAX), "members_ver", (json_int_t)1000),
                              &commits),
                     200);
    ck_assert_int_ge(commits, 1);
    held after = held_by(1);
    ck_assert_int_eq(after.keys, before.keys + ROOM_KEYS_PUSH_MAX);
    ck_assert_int_eq(after.epoch, 1 + ROOM_KEYS_PUSH_MAX);
    ck_assert_int_eq(after.members, before.members + ROOM_MEMBERS_PUSH_MAX);
    ck_assert_int_eq(after.mver, 1000);
    /* the same keys again: all held, nothing new */
    ck_assert_int_eq(notify_b(json_pack("{s:o}", "keys", made_up_keys(ROOM_KEYS_PUSH_MAX, 2)), &commits), 200);
    assert_held_same(held_by(1), after);
}
END_TEST

/* A row is taken only from a list of no lower version than the one it
 * came from, whatever the order the lists arrive in; a list of a lower
 * version changes nothing at all (no row, no event, no version). */
START_TEST(member_row_from_an_older_list_not_taken)
{
    int commits = 0;
    make_room(NULL);
    tick_all(2);
    ck_assert_int_eq(notify_b(json_pack("{s:o,s:I}", "members", made_up_rows(1, 0, "joined"), "members_ver",
                                        (json_int_t)1000),
                              &commits),
                     200);
    held before = held_by(1);
    ck_assert_int_eq(notify_b(json_pack("{s:o,s:I}", "members", made_up_rows(1, 0, "invited"), "members_ver",
                                        (json_int_t)999),
                              &commits),
                     200);
    assert_held_same(held_by(1), before);
    ck_assert_int_eq(notify_b(json_pack("{s:o}", "members", made_up_rows(1, 0, "kicked")), &commits), 200);
    assert_held_same(held_by(1), before);
    int64_t left = 0;
    ck_assert_int_eq(roomdb_int(N[1].db, &left, "SELECT count(*) FROM room_members WHERE room=? AND state='joined' "
                                "AND mver=1000 AND peer=printf('%064x', 1)", "s", room_id),
                     NT_OK);
    ck_assert_int_eq(left, 1);
    /* a newer one is taken */
    ck_assert_int_eq(notify_b(json_pack("{s:o,s:I}", "members", made_up_rows(1, 0, "kicked"), "members_ver",
                                        (json_int_t)1001),
                              &commits),
                     200);
    held after = held_by(1);
    ck_assert_int_eq(after.events, before.events + 1);
    ck_assert_int_eq(after.mver, 1001);
}
END_TEST

/* Node i fetches a page from a hostile host; *commits gets its commits. */
static nt_err fetch_from(int i, port_op op, json_t *reply, int *commits)
{
    sqlite3 *db = roomdb_sqlite(N[i].db);
    json_decref(hostile_reply);
    hostile_op = op;
    hostile_reply = reply;
    *commits = 0;
    sqlite3_commit_hook(db, commit_count, commits);
    nt_err rc = op == PORT_KEYS ? delivery_fetch_keys(N[i].r, room_id) : delivery_fetch_members(N[i].r, room_id);
    sqlite3_commit_hook(db, NULL, NULL);
    assert_clean();
    return rc;
}

static nt_err fetch_b(port_op op, json_t *reply, int *commits)
{
    return fetch_from(1, op, reply, commits);
}

/* Pages (GET keys, GET members) and a join reply over the caps are
 * refused as a whole and store nothing; a page within them is stored in
 * one commit. */
START_TEST(hostile_pages_over_caps_refused)
{
    int commits = 0;
    make_room(NULL);
    tick_all(2);
    held before = held_by(1);
    ck_assert_int_ne(fetch_b(PORT_KEYS,
                             json_pack("{s:o,s:I,s:b}", "keys", made_up_keys(ROOM_KEYS_PAGE + 1, 2), "epoch",
                                       (json_int_t)ROOM_KEYS_PAGE + 2, "more", false),
                             &commits),
                     NT_OK);
    ck_assert_int_eq(commits, 0);
    assert_held_same(held_by(1), before);
    ck_assert_int_ne(fetch_b(PORT_MEMBERS,
                             json_pack("{s:o,s:I,s:b}", "members", made_up_members(ROOM_MEMBERS_PAGE + 1),
                                       "members_ver", (json_int_t)1000, "more", false),
                             &commits),
                     NT_OK);
    ck_assert_int_eq(commits, 0);
    assert_held_same(held_by(1), before);

    ck_assert_int_eq(fetch_b(PORT_KEYS,
                             json_pack("{s:o,s:I,s:b}", "keys", made_up_keys(ROOM_KEYS_PAGE, 2), "epoch",
                                       (json_int_t)ROOM_KEYS_PAGE + 1, "more", false),
                             &commits),
                     NT_OK);
    ck_assert_int_eq(commits, 1);
    ck_assert_int_eq(fetch_b(PORT_MEMBERS,
                             json_pack("{s:o,s:I,s:b}", "members", made_up_rows(ROOM_MEMBERS_PAGE, 0, "left"),
                                       "members_ver", (json_int_t)1000, "more", false),
                             &commits),
                     NT_OK);
    ck_assert_int_eq(commits, 1);
    held after = held_by(1);
    ck_assert_int_eq(after.keys, before.keys + ROOM_KEYS_PAGE);
    ck_assert_int_eq(after.epoch, 1 + ROOM_KEYS_PAGE);
    ck_assert_int_eq(after.members, before.members + ROOM_MEMBERS_PAGE);
    ck_assert_int_eq(after.mver, 1000);

    /* a join reply with more member rows than a page: not joined */
    char body[128];
    json_t *j = NULL;
    snprintf(body, sizeof body, "{\"peer\":\"%s\"}", N[3].hex);
    ck_assert_int_eq(apif(0, "POST", NULL, body, "/v1/client/rooms/%s/invite", room_id), 200);
    rooms_tick(N[0].r);
    json_decref(hostile_reply);
    hostile_op = PORT_JOIN;
    hostile_reply = json_pack("{s:{s:s,s:s,s:s,s:s},s:o,s:o,s:i,s:I,s:b}", "room", "id", room_id, "name", "lobby",
                              "topic", "t", "access", "invite", "keys", made_up_keys(1, 1), "members",
                              made_up_members(ROOM_MEMBERS_PAGE + 1), "from_seq", 0, "members_ver",
                              (json_int_t)1000, "members_more", false);
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", N[0].hex);
    ck_assert_int_eq(apif(3, "POST", &j, body, "/v1/client/rooms/%s/join", room_id), 502);
    json_decref(j);
    ck_assert_int_eq(apif(3, "GET", &j, NULL, "/v1/client/rooms/%s", room_id), 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "invited");
    json_decref(j);
}
END_TEST

/* Whether B holds a row of made-up peer k (made_up_rows: k from 1). */
static bool b_has_row(size_t k)
{
    member_rec mr;
    char hex[IDENTITY_ID_HEX_LEN + 1];
    snprintf(hex, sizeof hex, "%064zx", k);
    nt_err rc = members_store_get(N[1].db, room_id, hex, &mr);
    ck_assert(rc == NT_OK || rc == NT_ERR_NOT_FOUND);
    return rc == NT_OK;
}

/* Whether B holds node i's own row. */
static bool b_has_row_of(int i)
{
    member_rec mr;
    return members_store_get(N[1].db, room_id, N[i].hex, &mr) == NT_OK;
}

/* A member keeps its host's rows within what a room keeps in all
 * (ROOM_MEMBER_ROWS_MAX): departed members, a notify's worth at a time,
 * are stored up to it, and beyond it each new row replaces the oldest
 * departed one (as the host's do). A member cannot tell which rows it
 * holds as current are gone on the host (the host replaces rows at its
 * cap without a word), so it refuses no list for its number of current
 * members: a host that sends more than a room has at once gets them
 * taken, each new row past the departed ones replacing the oldest row of
 * any state, never the host's nor the member's own. No list makes the
 * member hold more than ROOM_MEMBER_ROWS_MAX rows. */
START_TEST(hostile_member_rows_stay_within_the_row_cap)
{
    int commits = 0;
    make_room(NULL);
    tick_all(2);
    size_t first = 0;
    json_int_t ver = 1000;
    while ((size_t)held_by(1).members + ROOM_MEMBERS_PUSH_MAX <= ROOM_MEMBER_ROWS_MAX) {
        ck_assert_int_eq(notify_b(json_pack("{s:o,s:I}", "members", made_up_rows(ROOM_MEMBERS_PUSH_MAX, first, "left"),
                                            "members_ver", ver++),
                                  &commits),
                         200);
        first += ROOM_MEMBERS_PUSH_MAX;
    }
    size_t rest = ROOM_MEMBER_ROWS_MAX - (size_t)held_by(1).members;
    ck_assert_int_eq(notify_b(json_pack("{s:o,s:I}", "members", made_up_rows(rest, first, "left"), "members_ver", ver++),
                              &commits),
                     200);
    first += rest;
    ck_assert_int_eq(held_by(1).members, ROOM_MEMBER_ROWS_MAX);
    ck_assert(b_has_row(1));
    /* at the cap: the oldest departed rows make way */
    ck_assert_int_eq(notify_b(json_pack("{s:o,s:I}", "members", made_up_rows(2, first, "left"), "members_ver", ver++),
                              &commits),
                     200);
    first += 2;
    ck_assert_int_eq(held_by(1).members, ROOM_MEMBER_ROWS_MAX);
    ck_assert(!b_has_row(1) && !b_has_row(2) && b_has_row(3) && b_has_row(first));
    /* invited peers, more than a room has at once and then more than it
     * keeps rows: every notify taken, the rows stay at the cap */
    size_t invited_from = first;
    for (size_t sent = 0; sent < ROOM_MEMBER_ROWS_MAX + ROOM_MEMBERS_PUSH_MAX; sent += ROOM_MEMBERS_PUSH_MAX) {
        ck_assert_int_eq(notify_b(json_pack("{s:o,s:o,s:I}", "keys", made_up_keys(1, 2), "members",
                                            made_up_rows(ROOM_MEMBERS_PUSH_MAX, first, "invited"), "members_ver",
                                            ver++),
                                  &commits),
                         200);
        first += ROOM_MEMBERS_PUSH_MAX;
        ck_assert_int_eq(held_by(1).members, ROOM_MEMBER_ROWS_MAX);
    }
    int64_t current = 0;
    ck_assert_int_eq(members_store_count(N[1].db, room_id, MEMBERS_CURRENT, &current), NT_OK);
    ck_assert_int_eq(current, ROOM_MEMBER_ROWS_MAX);
    ck_assert(b_has_row_of(0) && b_has_row_of(1));
    /* the oldest invited rows went, the newest are held */
    ck_assert(!b_has_row(invited_from + 1) && b_has_row(first));
    /* rows it holds change */
    ck_assert_int_eq(notify_b(json_pack("{s:o,s:I}", "members", made_up_rows(3, first - 3, "kicked"), "members_ver",
                                        ver++),
                              &commits),
                     200);
    ck_assert_int_eq(held_by(1).members, ROOM_MEMBER_ROWS_MAX);
    ck_assert(b_has_row_of(0) && b_has_row_of(1));
}
END_TEST

/* Host A: made-up peer k joins (or leaves) its room, at a version of its
 * own, as a real one's row would change. */
static void host_made_up_peer(size_t k, bool join)
{
    char hex[IDENTITY_ID_HEX_LEN + 1];
    snprintf(hex, sizeof hex, "%064zx", k);
    if (join)
        ck_assert_int_eq(members_store_admit(N[0].db, room_id, hex, NULL, 0, ROOM_POLL, 0, 1), NT_OK);
    else
        ck_assert_int_eq(members_store_leave(N[0].db, room_id, hex), NT_OK);
    ck_assert_int_eq(rooms_store_members_ver_bump(N[0].db, room_id), NT_OK);
    ck_assert_int_eq(members_store_stamp(N[0].db, room_id, hex), NT_OK);
}

/* The host replaces the rows of peers that left at its row cap, and a
 * member that had not heard them leave keeps them as joined: rows the
 * host no longer has. With those, the host's own list of ROOM_MEMBERS_MAX
 * current members still reaches B: B, having left, joins again. */
START_TEST(rows_the_host_replaced_do_not_block_a_rejoin)
{
    make_room(",\"access\":\"open\"");
    for (size_t k = 1; k <= 10; k++)
        host_made_up_peer(0xf000 + k, true);
    tick_past_backoff(2);
    char hex[IDENTITY_ID_HEX_LEN + 1];
    snprintf(hex, sizeof hex, "%064zx", (size_t)0xf001);
    member_rec mr;
    ck_assert_int_eq(members_store_get(N[1].db, room_id, hex, &mr), NT_OK);
    ck_assert_int_eq(mr.state, MEMBER_JOINED);
    ck_assert_int_eq(apif(1, "POST", NULL, "{}", "/v1/client/rooms/%s/leave", room_id), 200);
    tick_past_backoff(1);
    for (size_t k = 1; k <= 10; k++)
        host_made_up_peer(0xf000 + k, false);
    /* what the host replaces at the cap: B's own left row, then theirs */
    for (int i = 0; i < 11; i++)
        ck_assert_int_eq(members_store_drop_oldest(N[0].db, room_id, MEMBERS_LEFT), NT_OK);
    ck_assert_int_ne(members_store_get(N[0].db, room_id, hex, &mr), NT_OK);
    for (size_t k = 1; k <= 250; k++)
        host_made_up_peer(0xe000 + k, true);
    char body[160];
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", N[0].hex);
    ck_assert_int_eq(apif(1, "POST", NULL, body, "/v1/client/rooms/%s/join", room_id), 200);
}
END_TEST

/* As above, with B a member all along (away while its peers left and
 * their rows were replaced): the notifies that bring it a new member and
 * the messages after it are taken, and B's log keeps up with the host's. */
START_TEST(rows_the_host_replaced_do_not_stall_a_member)
{
    make_room(",\"access\":\"open\"");
    for (size_t k = 1; k <= 10; k++)
        host_made_up_peer(0xf000 + k, true);
    tick_past_backoff(2);
    for (size_t k = 1; k <= 10; k++)
        host_made_up_peer(0xf000 + k, false);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(members_store_drop_oldest(N[0].db, room_id, MEMBERS_LEFT), NT_OK);
    for (size_t k = 1; k <= 250; k++)
        host_made_up_peer(0xe000 + k, true);
    char body[160];
    snprintf(body, sizeof body, "{\"host\":\"%s\"}", N[0].hex);
    ck_assert_int_eq(apif(3, "POST", NULL, body, "/v1/client/rooms/%s/join", room_id), 200);
    tick_past_backoff(1);
    ck_assert_int_eq(send_text(3, "t1", "hello from D"), 200);
    ck_assert_int_eq(send_text(2, "t2", "hello from C"), 200);
    tick_past_backoff(4);
    room_rec rb;
    ck_assert_int_eq(rooms_store_get(N[1].db, room_id, &rb), NT_OK);
    ck_assert_int_eq(rb.head, host_head());
}
END_TEST

/* Rows of departed peers the host A has, each at a version of its own,
 * until it keeps ROOM_MEMBER_ROWS_MAX: ids 1, 2, ... (oldest first), in
 * state `state` (a kick delivered). Returns how many were added. */
static size_t fill_departed_rows(member_state state)
{
    int64_t rows = 0;
    size_t k = 0;
    ck_assert_int_eq(members_store_count(N[0].db, room_id, MEMBERS_ALL, &rows), NT_OK);
    for (; rows < ROOM_MEMBER_ROWS_MAX; k++, rows++) {
        char hex[IDENTITY_ID_HEX_LEN + 1];
        snprintf(hex, sizeof hex, "%064zx", k + 1);
        ck_assert_int_eq(members_store_invite(N[0].db, room_id, hex, 0, 1), NT_OK);
        ck_assert_int_eq(state == MEMBER_KICKED ? members_store_kick(N[0].db, room_id, hex)
                                                : members_store_leave(N[0].db, room_id, hex),
                         NT_OK);
        /* the kick delivered: a row still owing one is never replaced */
        if (state == MEMBER_KICKED)
            ck_assert_int_eq(members_store_notice_done(N[0].db, room_id, hex, MEMBER_NOTICE_KICKED), NT_OK);
        ck_assert_int_eq(rooms_store_members_ver_bump(N[0].db, room_id), NT_OK);
        ck_assert_int_eq(members_store_stamp(N[0].db, room_id, hex), NT_OK);
    }
    return k;
}

static bool host_has_row(size_t k)
{
    member_rec mr;
    char hex[IDENTITY_ID_HEX_LEN + 1];
    snprintf(hex, sizeof hex, "%064zx", k);
    nt_err rc = members_store_get(N[0].db, room_id, hex, &mr);
    ck_assert(rc == NT_OK || rc == NT_ERR_NOT_FOUND);
    return rc == NT_OK;
}

/* The host holds itself to the same: once a room keeps
 * ROOM_MEMBER_ROWS_MAX rows, a peer it never had is neither invited nor
 * let into an open room (409 room_full); a former member is invited
 * again. */
START_TEST(host_keeps_at_most_the_member_rows_a_member_takes)
{
    make_room(",\"access\":\"open\"");
    int64_t rows = 0;
    ck_assert_int_eq(roomdb_int(N[0].db, &rows, "SELECT count(*) FROM room_members WHERE room=?", "s", room_id),
                     NT_OK);
    char b[160];
    for (size_t k = 0; rows < ROOM_MEMBER_ROWS_MAX; k++, rows++) {
        snprintf(b, sizeof b, "{\"peer\":\"%064zx\"}", k + 1);
        ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/invite", room_id), 200);
        ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/kick", room_id), 200);
    }
    json_t *j = NULL;
    snprintf(b, sizeof b, "{\"peer\":\"%s\"}", N[3].hex);
    ck_assert_int_eq(apif(0, "POST", &j, b, "/v1/client/rooms/%s/invite", room_id), 409);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")), "room_full");
    json_decref(j);
    snprintf(b, sizeof b, "{\"host\":\"%s\"}", N[0].hex);
    ck_assert_int_eq(apif(3, "POST", NULL, b, "/v1/client/rooms/%s/join", room_id), 409);
    snprintf(b, sizeof b, "{\"peer\":\"%064zx\"}", (size_t)1);
    ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/invite", room_id), 200);
    ck_assert_int_eq(roomdb_int(N[0].db, &rows, "SELECT count(*) FROM room_members WHERE room=?", "s", room_id),
                     NT_OK);
    ck_assert_int_eq(rows, ROOM_MEMBER_ROWS_MAX);
    ck_assert(host_has_row(1) && host_has_row(2));

    invite_only(2);
    fill_departed_rows(MEMBER_KICKED);
    snprintf(b, sizeof b, "{\"peer\":\"%s\"}", N[3].hex);
    ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/invite", room_id), 200);
    ck_assert(!host_has_row(1) && host_has_row(2));
    tick_all(1);
    snprintf(b, sizeof b, "{\"host\":\"%s\"}", N[0].hex);
    ck_assert_int_eq(apif(3, "POST", NULL, b, "/v1/client/rooms/%s/join", room_id), 200);
    ck_assert_int_eq(members_store_count(N[0].db, room_id, MEMBERS_ALL, &rows), NT_OK);
    ck_assert_int_eq(rows, ROOM_MEMBER_ROWS_MAX);
}
END_TEST

/* Rows are never freed by themselves, so a node that joins and leaves an
 * open room under one id after another would fill its ROOM_MEMBER_ROWS_MAX
 * and close it to newcomers for good. At the cap the host replaces the
 * oldest row of a departed peer: a newcomer joins, the members (who hold
 * the cap's worth of rows too, and then drop their own oldest departed
 * row) take its row, and its messages verify everywhere. */
START_TEST(host_at_row_cap_replaces_a_departed_row)
{
    make_room(",\"access\":\"open\"");
    size_t added = fill_departed_rows(MEMBER_LEFT);
    tick_past_backoff(2); /* B and C take the rows too */
    ck_assert_int_eq(held_by(1).members, ROOM_MEMBER_ROWS_MAX);
    char b[160];
    snprintf(b, sizeof b, "{\"host\":\"%s\"}", N[0].hex);
    ck_assert_int_eq(apif(3, "POST", NULL, b, "/v1/client/rooms/%s/join", room_id), 200);
    assert_state(3, "joined");
    ck_assert(!host_has_row(1));
    ck_assert(host_has_row(2) && host_has_row(added));
    int64_t rows = 0;
    ck_assert_int_eq(members_store_count(N[0].db, room_id, MEMBERS_ALL, &rows), NT_OK);
    ck_assert_int_eq(rows, ROOM_MEMBER_ROWS_MAX);
    ck_assert_int_eq(send_text(3, "d1", "hello from D"), 200);
    tick_past_backoff(2);
    ck_assert_int_eq(send_text(1, "b1", "hello from B"), 200);
    tick_past_backoff(2);
    for (int i = 0; i < 4; i++) {
        json_t *j = messages_of(i);
        json_t *msgs = json_object_get(j, "messages");
        ck_assert_int_eq(json_array_size(msgs), 2);
        for (size_t m = 0; m < 2; m++)
            ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, m), "state")), "verified");
        json_decref(j);
        if (i > 0)
            assert_state(i, "joined");
        ck_assert_int_le(held_by(i).members, ROOM_MEMBER_ROWS_MAX);
    }
    /* a second newcomer replaces the next oldest */
    snprintf(b, sizeof b, "{\"peer\":\"%064x\"}", 0xbeef);
    ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/invite", room_id), 200);
    ck_assert(!host_has_row(2) && host_has_row(3));
}
END_TEST

/* A member that started at epoch 3 (invited after two rotations) never
 * needs the keys of epochs 1 and 2: a host that sends them, in a notify
 * or a page, has them skipped before anything is opened; a later epoch
 * is kept. */
START_TEST(hostile_keys_before_the_start_skipped)
{
    json_t *j = NULL;
    ck_assert_int_eq(api(0, "POST", "/v1/client/rooms", "{\"name\":\"late\"}", &j), 201);
    snprintf(room_id, sizeof room_id, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    for (int k = 0; k < 2; k++)
        ck_assert_int_eq(apif(0, "POST", NULL, "{}", "/v1/client/rooms/%s/rekey", room_id), 200);
    char b[160];
    snprintf(b, sizeof b, "{\"peer\":\"%s\"}", N[3].hex);
    ck_assert_int_eq(apif(0, "POST", NULL, b, "/v1/client/rooms/%s/invite", room_id), 200);
    tick_all(1);
    snprintf(b, sizeof b, "{\"host\":\"%s\"}", N[0].hex);
    ck_assert_int_eq(apif(3, "POST", NULL, b, "/v1/client/rooms/%s/join", room_id), 200);
    held before = held_by(3);
    ck_assert_int_eq(before.keys, 1);
    ck_assert_int_eq(before.epoch, 3);
    int commits = 0;
    ck_assert_int_eq(notify_to(3, json_pack("{s:o}", "keys", made_up_keys(2, 1)), &commits), 200);
    assert_held_same(held_by(3), before);
    ck_assert_int_eq(fetch_from(3, PORT_KEYS,
                                json_pack("{s:o,s:I,s:b}", "keys", made_up_keys(2, 1), "epoch", (json_int_t)3, "more",
                                          false),
                                &commits),
                     NT_OK);
    assert_held_same(held_by(3), before);
    ck_assert_int_eq(notify_to(3, json_pack("{s:o}", "keys", made_up_keys(1, 4)), &commits), 200);
    held after = held_by(3);
    ck_assert_int_eq(after.keys, 2);
    ck_assert_int_eq(after.epoch, 4);
}
END_TEST

/* The rooms' own connection and another (the peer store's) on one file:
 * a statement of the rooms' left stepped, then a commit on the other, then
 * BEGIN IMMEDIATE on the rooms': the BEGIN sweeps the leak (counted)
 * instead of failing with SQLITE_BUSY_SNAPSHOT from then on. */
START_TEST(roomdb_begin_survives_a_leak)
{
    char dir[] = "/tmp/natter-roomdb-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.db", dir);
    sqlite3 *raw = NULL, *b = NULL;
    roomdb *a = NULL;
    ck_assert_int_eq(sqlite3_open(path, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(roomdb_adopt(raw, &a), NT_OK);
    ck_assert_int_eq(roomdb_migrate(a), NT_OK);
    ck_assert_int_eq(sqlite3_open(path, &b), SQLITE_OK);
    ck_assert_int_eq(roomdb_exec(a, "INSERT INTO room_events(ts,type,data) VALUES(1,'x','{}'),(2,'y','{}')", ""),
                     NT_OK);
    unsigned long before = roomdb_leaked();
    sqlite3_stmt *st = roomdb_prep(a, "SELECT token FROM room_events", "");
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW); /* and never roomdb_done */
    ck_assert_uint_eq(roomdb_active(a), 1);
    ck_assert_int_eq(sqlite3_exec(b, "INSERT INTO room_events(ts,type,data) VALUES(3,'z','{}')", NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(roomdb_begin(a), NT_OK);
    ck_assert_int_eq(roomdb_exec(a, "INSERT INTO room_events(ts,type,data) VALUES(4,'w','{}')", ""), NT_OK);
    ck_assert_int_eq(roomdb_commit(a), NT_OK);
    ck_assert_uint_eq(roomdb_leaked(), before + 1);
    ck_assert_no_active_statements(roomdb_sqlite(a));
    /* the swept statement is the cache's again */
    st = roomdb_prep(a, "SELECT token FROM room_events", "");
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    roomdb_done(a, st);
    ck_assert_no_active_statements(roomdb_sqlite(a));
    roomdb_close(a);
    sqlite3_close(b);
    remove_db_dir(dir, path);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("rooms");
    TCase *tc = tcase_create("rooms");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, three_way_chat_same_order);
    tcase_add_test(tc, poll_mode_and_catch_up);
    tcase_add_test(tc, needs_set_during_a_failed_sync_are_kept);
    tcase_add_test(tc, outbox_survives_host_outage);
    tcase_add_test(tc, attacks_refused_state_unchanged);
    tcase_add_test(tc, query_integers_strict);
    tcase_add_test(tc, query_bad_parameter_named);
    tcase_add_test(tc, kick_rotates_and_excludes);
    tcase_add_test(tc, kick_withdraws_an_invitation);
    tcase_add_test(tc, notice_refused_for_good_is_dropped);
    tcase_add_test(tc, kick_then_invite_while_away_both_delivered);
    tcase_add_test(tc, invite_during_the_kick_push_follows_it);
    tcase_add_test(tc, stale_kick_after_a_join_ignored);
    tcase_add_test(tc, rotation_after_n_messages);
    tcase_add_test(tc, password_and_open_rooms);
    tcase_add_test(tc, joins_budget_per_peer);
    tcase_add_test(tc, rotation_after_t_seconds);
    tcase_add_test(tc, removal_rotation_ends_the_grace);
    tcase_add_test(tc, key_sync_push_wrapped);
    tcase_add_test(tc, departed_sender_still_verifies);
    tcase_add_test(tc, member_list_changes_pushed_or_polled);
    tcase_add_test(tc, member_list_push_in_capped_batches);
    tcase_add_test(tc, member_list_fetched_in_pages);
    tcase_add_test(tc, older_member_list_after_a_newer_changes_nothing);
    tcase_add_test(tc, older_room_record_after_a_newer_changes_nothing);
    tcase_add_test(tc, many_rotations_synced_in_batches);
    tcase_add_test(tc, big_backlog_pushed_in_batches_a_member_takes);
    tcase_add_test(tc, hostile_notify_over_caps_refused);
    tcase_add_test(tc, member_row_from_an_older_list_not_taken);
    tcase_add_test(tc, hostile_pages_over_caps_refused);
    tcase_add_test(tc, host_keeps_at_most_the_member_rows_a_member_takes);
    tcase_add_test(tc, host_at_row_cap_replaces_a_departed_row);
    tcase_add_test(tc, hostile_keys_before_the_start_skipped);
    suite_add_tcase(s, tc);
    TCase *rows = tcase_create("member_rows");
    tcase_add_checked_fixture(rows, setup, teardown);
    tcase_set_timeout(rows, 120);
    tcase_add_test(rows, hostile_member_rows_stay_within_the_row_cap);
    tcase_add_test(rows, rows_the_host_replaced_do_not_block_a_rejoin);
    tcase_add_test(rows, rows_the_host_replaced_do_not_stall_a_member);
    suite_add_tcase(s, rows);
    TCase *db = tcase_create("roomdb");
    tcase_add_test(db, roomdb_begin_survives_a_leak);
    suite_add_tcase(s, db);
    return s;
}

void test_runner(SRunner *sr)
{
    srunner_set_fork_status(sr, CK_NOFORK);
}
