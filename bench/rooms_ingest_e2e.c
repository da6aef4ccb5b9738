/* rooms_ingest_e2e - host ingest through the real peer channel: sealed,
 * signed messages per second a real natterd host commits from many
 * concurrent member sessions, against the RSA-3072 verify ceiling.
 *
 *   rooms_ingest_e2e [--messages N] [--threads T] [--members M] [--batch B]
 *                    [--dir DIR] [--ceiling 0|1]
 *
 * The host is a real natterd ($NATTERD, default build/natterd) on
 * 127.0.0.1 with its SQLite file in WAL mode, synchronous=FULL. This
 * process acts as M member nodes with RSA-3072 identities that joined an
 * open room on it, T sessions in all (T/M per member, each with its own
 * keep-alive connection and one request in flight, all driven by one
 * thread through curl multi): every message goes over HTTP, through the
 * session's envelope (open, replay window, sealed reply), the host's
 * membership and epoch checks, the RSA verify, and its group commit. With
 * B > 1 each request is a batch of B of its member's messages (the batch
 * route a member's outbox uses for a backlog); by default one message per
 * request, as members send while their users type.
 *
 * What the members do before the clock starts is their cost, not the
 * host's: the RSA-3072 signatures (about 6 ms each) and the sealing of each
 * request into its session's envelope. The signed submissions only depend
 * on the room, its key and the member keys, so they are kept in a fixture
 * under DIR (e2e-m<M>/: the host's data dir as it was right after the
 * joins, the member keys, the room key and the submissions); every run
 * starts the host on a fresh copy of it, so its log starts empty.
 *
 * Output: the run (messages per second by wall clock, the CPU each side
 * used per message, and the host's by kind of thread), then the verify
 * ceiling as bench/crypto defines it (one thread's RSA-3072 verifies per
 * CPU-second, times the cores; measured before and after the run) and the
 * ratios. The load generator shares the machine's cores with the host, so
 * two ratios are given: messages per second by wall clock, and the host's
 * capacity (cores / host CPU per message), what it would commit with the
 * cores to itself. */
#include "../tests/integration/harness.c"

#include <dirent.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <mbedtls/platform_util.h>

#include "../crypto/encoding.h"
#include "../crypto/identity.h"
#include "../crypto/rng.h"
#include "../crypto/sign.h"
#include "../server/channel/envelope.h"
#include "../server/channel/handshake.h"
#include "../server/rooms/roomcrypt.h"
#include "bench_util.h"

#define MAX_THREADS 256
#define MAX_MEMBERS 32
#define CHECK_EVERY 8 /* replies opened and checked in full: every 8th, and every one that is not 200 */

static int n_msgs = 8000, n_threads = 64, n_members = 8, n_batch = 1;
static bool with_ceiling = true;
static const char *dir = "build/bench-work";
static char fix[512];

static harness_node host;
static identity *host_id, *member[MAX_MEMBERS];
static char room_hex[ROOM_ID_HEX_LEN + 1];
static uint8_t room_id[ROOM_ID_LEN], room_key[ROOM_KEY_LEN];
static int64_t room_epoch;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "rooms_ingest_e2e: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    if (host.pid)
        harness_dump_log(&host);
    harness_cleanup(&host);
    exit(1);
}

/* cp -a or rm -rf (op) of one or two paths */
/* The host's threads by kind: CPU time per thread id, from /proc. */
#define MAX_TASKS 1024
typedef struct {
    int tid;
    char kind[40]; /* name and nice value: "MHD-connection", "natterd (nice 10)" */
    unsigned long long ns;
} task_cpu;

static int host_tasks(pid_t pid, task_cpu *out, int cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) && n < cap) {
        char sp[320], buf[1024];
        if (de->d_name[0] == '.')
            continue;
        snprintf(sp, sizeof sp, "/proc/%d/task/%s/stat", (int)pid, de->d_name);
        FILE *f = fopen(sp, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        const char *l = strchr(buf, '('), *r = strrchr(buf, ')');
        unsigned long ut = 0, st = 0;
        long nice = 0;
        if (!l || !r || r < l ||
            sscanf(r + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %ld", &ut, &st, &nice) != 3)
            continue;
        task_cpu *t = &out[n++];
        t->tid = atoi(de->d_name);
        t->ns = (ut + st) * (1000000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
        /* nanoseconds on the CPU where the kernel keeps them (ticks are 10 ms) */
        snprintf(sp, sizeof sp, "/proc/%d/task/%s/schedstat", (int)pid, de->d_name);
        unsigned long long ns;
        if ((f = fopen(sp, "r")) != NULL) {
            if (fscanf(f, "%llu", &ns) == 1)
                t->ns = ns;
            fclose(f);
        }
        if (nice)
            snprintf(t->kind, sizeof t->kind, "%.*s (nice %ld)", (int)(r - l - 1 > 20 ? 20 : r - l - 1), l + 1, nice);
        else
            snprintf(t->kind, sizeof t->kind, "%.*s", (int)(r - l - 1 > 20 ? 20 : r - l - 1), l + 1);
    }
    if (d)
        closedir(d);
    return n;
}

/* Print the CPU per message each kind of host thread used between two
 * snapshots. */
static void print_host_threads(const task_cpu *a, int na, const task_cpu *b, int nb, int msgs)
{
    char kinds[16][40];
    double us[16] = {0};
    int nk = 0;
    for (int i = 0; i < nb; i++) {
        unsigned long long before = 0;
        for (int j = 0; j < na; j++)
            if (a[j].tid == b[i].tid)
                before = a[j].ns;
        int k = 0;
        while (k < nk && strcmp(kinds[k], b[i].kind))
            k++;
        if (k == nk) {
            if (nk == 16)
                continue;
            snprintf(kinds[nk++], sizeof kinds[0], "%s", b[i].kind);
        }
        us[k] += (double)(b[i].ns - before) / 1e3;
    }
    printf("host CPU by thread kind:");
    for (int k = 0; k < nk; k++)
        if (us[k] / msgs >= 0.5)
            printf(" %s %.0f us/msg;", kinds[k], us[k] / msgs);
    printf("\n");
}

static void run_cmd(const char *op, const char *a, const char *b)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s '%s' '%s'", op, a, b ? b : "");
    if (system(cmd) != 0)
        die("command failed", cmd);
}

/* ---- one member session ---- */

typedef struct {
    hs_session s;
    uint64_t seq;
    int member;
    CURL *h;
    struct curl_slist *hdrs;
} msession;

static long post_raw(msession *ms, const char *path, const char *body, bench_buf *out)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", host.peer_url, path);
    memset(out, 0, sizeof *out);
    curl_easy_setopt(ms->h, CURLOPT_URL, url);
    curl_easy_setopt(ms->h, CURLOPT_HTTPHEADER, ms->hdrs);
    curl_easy_setopt(ms->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(ms->h, CURLOPT_WRITEFUNCTION, bench_on_write);
    curl_easy_setopt(ms->h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(ms->h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(ms->h, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform(ms->h) == CURLE_OK)
        curl_easy_getinfo(ms->h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static void session_open(msession *ms, int m)
{
    memset(ms, 0, sizeof *ms);
    ms->member = m;
    ms->h = curl_easy_init();
    ms->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hs_pending *p = NULL;
    json_t *req = NULL, *rep = NULL;
    bench_buf b;
    if (handshake_start(member[m], "bench-member", 0, identity_id(host_id), HS_MODE_ECDH, ECDH_X25519,
                        (int64_t)time(NULL), &p, &req))
        die("handshake_start", NULL);
    char *body = json_dumps(req, JSON_COMPACT);
    long st = post_raw(ms, "/v1/handshake", body, &b);
    if (st != 200 || !(rep = json_loads(b.data ? b.data : "", 0, NULL)) ||
        handshake_finish(p, host_id, rep, (int64_t)time(NULL), &ms->s))
        die("handshake with the host", b.data);
    json_decref(req);
    json_decref(rep);
    handshake_pending_free(p);
    free(body);
    free(b.data);
}

static void session_close(msession *ms)
{
    handshake_session_wipe(&ms->s);
    curl_slist_free_all(ms->hdrs);
    curl_easy_cleanup(ms->h);
}

/* The envelope of the next request on ms (caller frees). */
static char *seal_next(msession *ms, const char *method, const char *path, const char *pt)
{
    char *out = NULL;
    uint64_t seq = ms->seq++;
    if (envelope_seal(&ms->s.c2s, ENVELOPE_C2S, ms->s.session_id, seq, method, path, NULL, 0,
                      seq == 0 ? ms->s.confirm : NULL, (const uint8_t *)pt, strlen(pt), &out))
        die("envelope_seal", NULL);
    return out;
}

/* Open a sealed reply: the JSON inside, or NULL. */
static json_t *open_reply(msession *ms, const char *method, const char *path, const bench_buf *b)
{
    envelope e;
    uint8_t *pt = NULL;
    size_t n = 0;
    if (!b->data || envelope_parse(b->data, b->len, ENVELOPE_S2C, &e))
        return NULL;
    nt_err rc = envelope_open(&ms->s.s2c, &e, ENVELOPE_S2C, method, path, NULL, &pt, &n);
    envelope_clear(&e);
    json_t *j = rc ? NULL : json_loadb((const char *)pt, n, 0, NULL);
    free(pt);
    return j;
}

/* ---- the fixture: host data dir after the joins, keys, submissions ---- */

static void member_path(int m, char *out, size_t cap)
{
    snprintf(out, cap, "%s/member-%d.pem", fix, m);
}

static atomic_int next_job;

static void *keygen_worker(void *arg)
{
    (void)arg;
    int m;
    char path[600];
    while ((m = atomic_fetch_add(&next_job, 1)) < n_members) {
        member_path(m, path, sizeof path);
        if (identity_load(&member[m], path) == NT_OK)
            continue;
        if (identity_generate(&member[m], 3072) || identity_save(member[m], path))
            die("member key", path);
    }
    return NULL;
}

/* fn on two threads (the cores) over the jobs counted by next_job. */
static void run_on_two(void *(*fn)(void *))
{
    atomic_store(&next_job, 0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, fn, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
}

static void load_members(void)
{
    run_on_two(keygen_worker);
}

static const char *const host_args[] = {"--log-level", "warn", "--max-connections", "1024",
                                        "--max-sessions-per-peer", "256", "--max-new-peers-per-source", "256",
                                        NULL}; /* every member comes from 127.0.0.1 */

static json_t *client_call(const char *method, const char *path, const char *body, long want)
{
    harness_resp r = {0};
    if (harness_call(&host, HARNESS_CLIENT, method, path, body, &r) || r.status != want) {
        fprintf(stderr, "%s %s: %ld %s\n", method, path, r.status, r.body ? r.body : "");
        die("client API call failed", path);
    }
    json_t *j = json_incref(r.json);
    harness_resp_free(&r);
    return j;
}

static void build_fixture(void)
{
    char path[PATH_MAX + 64];
    fprintf(stdout, "# building the fixture in %s (member keys, room, joins)\n", fix);
    fflush(stdout);
    char rm1[600], rm2[600];
    snprintf(rm1, sizeof rm1, "%s/host", fix);
    snprintf(rm2, sizeof rm2, "%s/room.json", fix);
    run_cmd("rm -rf", rm1, rm2);
    if (harness_start(&host, "bench-host", host_args))
        die("host start", NULL);
    json_t *j = client_call("POST", "/v1/client/rooms",
                            "{\"name\":\"bench\",\"access\":\"open\",\"rotate_messages\":1000000}", 201);
    snprintf(room_hex, sizeof room_hex, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    snprintf(path, sizeof path, "%s/identity.pem", host.data_dir);
    if (identity_load(&host_id, path))
        die("host key", path);
    load_members();
    char jpath[128];
    snprintf(jpath, sizeof jpath, "/v1/peer/rooms/%s/join", room_hex);
    for (int m = 0; m < n_members; m++) {
        msession ms;
        session_open(&ms, m);
        uint8_t der[IDENTITY_PUB_DER_MAX];
        char b64[IDENTITY_PUB_DER_MAX * 2], pt[IDENTITY_PUB_DER_MAX * 2 + 64];
        size_t dl;
        if (identity_public_der(member[m], der, sizeof der, &dl) ||
            encoding_b64_encode(der, dl, B64_STD, b64, sizeof b64))
            die("member key", NULL);
        snprintf(pt, sizeof pt, "{\"pub\":\"%s\",\"delivery\":\"poll\"}", b64);
        char *env = seal_next(&ms, "POST", jpath, pt);
        bench_buf b;
        long st = post_raw(&ms, jpath, env, &b);
        json_t *rep = open_reply(&ms, "POST", jpath, &b);
        json_t *key = json_array_get(json_object_get(rep, "keys"), 0);
        size_t kl = 0;
        if (st != 200 || !key)
            die("join", b.data);
        if (m == 0) {
            const char *k64 = json_string_value(json_object_get(key, "key"));
            room_epoch = json_integer_value(json_object_get(key, "epoch"));
            if (!k64 || encoding_b64_decode(k64, strlen(k64), B64_STD, room_key, sizeof room_key, &kl) ||
                kl != sizeof room_key)
                die("room key in the join reply", NULL);
        }
        json_decref(rep);
        free(env);
        free(b.data);
        session_close(&ms);
    }
    if (harness_stop(&host))
        die("host stop", NULL);
    snprintf(path, sizeof path, "%s/host", fix);
    run_cmd("cp -a", host.data_dir, path);
    harness_cleanup(&host);
    memset(&host, 0, sizeof host);
    char k64[64];
    if (encoding_b64_encode(room_key, sizeof room_key, B64_STD, k64, sizeof k64))
        die("b64", NULL);
    j = json_pack("{s:s,s:s,s:I,s:i}", "room", room_hex, "key", k64, "epoch", (json_int_t)room_epoch, "members",
                  n_members);
    snprintf(path, sizeof path, "%s/room.json", fix);
    if (json_dump_file(j, path, JSON_COMPACT))
        die("write", path);
    json_decref(j);
    snprintf(path, sizeof path, "%s/subs.json", fix);
    unlink(path); /* signed for another room */
    mbedtls_platform_zeroize(room_key, sizeof room_key);
}

static bool load_fixture(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/room.json", fix);
    json_t *j = json_load_file(path, 0, NULL);
    const char *k64 = json_string_value(json_object_get(j, "key"));
    const char *id = json_string_value(json_object_get(j, "room"));
    size_t kl = 0, il = 0;
    bool ok = k64 && id && json_integer_value(json_object_get(j, "members")) == n_members &&
              !encoding_b64_decode(k64, strlen(k64), B64_STD, room_key, sizeof room_key, &kl) &&
              kl == sizeof room_key && !encoding_hex_decode(id, strlen(id), room_id, sizeof room_id, &il) &&
              il == sizeof room_id;
    if (ok) {
        snprintf(room_hex, sizeof room_hex, "%s", id);
        room_epoch = json_integer_value(json_object_get(j, "epoch"));
    }
    json_decref(j);
    snprintf(path, sizeof path, "%s/host/identity.pem", fix);
    identity_free(host_id);
    host_id = NULL;
    return ok && identity_load(&host_id, path) == NT_OK;
}

/* ---- the submissions (signed before the clock starts, kept) ---- */

static char **subs; /* Submit JSON text of message i, from member i % M */

static void *sign_worker(void *arg)
{
    (void)arg;
    int i;
    while ((i = atomic_fetch_add(&next_job, 1)) < n_msgs) {
        if (subs[i])
            continue;
        const identity *me = member[i % n_members];
        char txn[32], text[128], b64b[1024], b64s[1024];
        uint8_t *body = NULL, sig[SIGN_MAX_LEN];
        size_t bl, sl;
        snprintf(txn, sizeof txn, "e2e-%d", i);
        snprintf(text, sizeof text, "benchmark message %d: the quick brown fox jumps over the lazy dog, twice", i);
        if (roomcrypt_seal(room_id, (uint64_t)room_epoch, room_key, identity_id(me), text, strlen(text), &body,
                           &bl) ||
            roomcrypt_sign(me, room_id, (uint64_t)room_epoch, txn, body, bl, sig, sizeof sig, &sl) ||
            encoding_b64_encode(body, bl, B64_STD, b64b, sizeof b64b) ||
            encoding_b64_encode(sig, sl, B64_STD, b64s, sizeof b64s))
            die("sign a submission", NULL);
        free(body);
        json_t *j = json_pack("{s:s,s:I,s:s,s:s}", "txn_id", txn, "epoch", (json_int_t)room_epoch, "body", b64b,
                              "sig", b64s);
        subs[i] = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    return NULL;
}

static void load_subs(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/subs.json", fix);
    subs = calloc((size_t)n_msgs, sizeof *subs);
    json_t *cached = json_load_file(path, 0, NULL);
    int have = (int)json_array_size(cached);
    for (int i = 0; i < have && i < n_msgs; i++)
        subs[i] = strdup(json_string_value(json_array_get(cached, (size_t)i)));
    json_decref(cached);
    if (have >= n_msgs)
        return;
    fprintf(stdout, "# signing %d submissions with the members' RSA-3072 keys\n", n_msgs - have);
    fflush(stdout);
    double t0 = bench_clock_s(CLOCK_MONOTONIC);
    run_on_two(sign_worker);
    json_t *all = json_array();
    for (int i = 0; i < n_msgs; i++)
        json_array_append_new(all, json_string(subs[i]));
    if (json_dump_file(all, path, JSON_COMPACT))
        fprintf(stdout, "# could not keep the submissions in %s\n", path);
    json_decref(all);
    fprintf(stdout, "# signed in %.1f s\n", bench_clock_s(CLOCK_MONOTONIC) - t0);
}

/* ---- the run ---- */

/* One session's share of the messages, sent one after the other on its
 * own connection. All sessions are driven by one thread through a curl
 * multi handle, so the load generator costs the shared cores as little as
 * it can: no thread switch per request on this side. */
typedef struct {
    msession ms;
    char **env; /* the envelopes this session sends, in order */
    int *idx;   /* their (first) message numbers */
    int *cnt;   /* how many messages each carries */
    int n, k;   /* how many; the one in flight */
    bench_buf b;      /* the reply being read */
    char url[256], path[128];
} worker;

static worker *workers;
static int n_ok, n_bad, n_checked;

static void start_next(CURLM *m, worker *w)
{
    memset(&w->b, 0, sizeof w->b);
    curl_easy_setopt(w->ms.h, CURLOPT_URL, w->url);
    curl_easy_setopt(w->ms.h, CURLOPT_HTTPHEADER, w->ms.hdrs);
    curl_easy_setopt(w->ms.h, CURLOPT_POSTFIELDS, w->env[w->k]);
    curl_easy_setopt(w->ms.h, CURLOPT_WRITEFUNCTION, bench_on_write);
    curl_easy_setopt(w->ms.h, CURLOPT_WRITEDATA, &w->b);
    curl_easy_setopt(w->ms.h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(w->ms.h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(w->ms.h, CURLOPT_PRIVATE, w);
    if (curl_multi_add_handle(m, w->ms.h) != CURLM_OK)
        die("curl_multi_add_handle", NULL);
}

/* The answer to w's request k: counted, and opened and checked in full
 * for every CHECK_EVERY-th and every refusal. */
static void finish(worker *w, CURLcode cc)
{
    long st = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(w->ms.h, CURLINFO_RESPONSE_CODE, &st);
    if (n_batch > 1 && st == 200) {
        /* a batch: every reply is opened, each message counted by its result */
        json_t *rep = open_reply(&w->ms, "POST", w->path, &w->b), *res = json_object_get(rep, "results");
        int good = 0;
        for (size_t i = 0; i < json_array_size(res); i++) {
            json_t *e = json_array_get(res, i);
            if (json_integer_value(json_object_get(e, "status")) != 200)
                break;
            if (json_integer_value(json_object_get(e, "seq")) < 1 || json_is_true(json_object_get(e, "duplicate")))
                die("an acknowledged submission has no new seq", w->b.data);
            good++;
        }
        if (good < w->cnt[w->k]) {
            char *s = rep ? json_dumps(rep, JSON_COMPACT) : NULL;
            fprintf(stderr, "batch from message %d: %d of %d stored: %s\n", w->idx[w->k], good, w->cnt[w->k],
                    s ? s : "(reply did not open)");
            free(s);
        }
        n_ok += good;
        n_bad += w->cnt[w->k] - good;
        n_checked++;
        json_decref(rep);
    } else if (st == 200) {
        n_ok++;
    } else {
        n_bad += w->cnt[w->k];
    }
    if (n_batch == 1 && (st != 200 || w->k % CHECK_EVERY == 0)) {
        json_t *rep = open_reply(&w->ms, "POST", w->path, &w->b);
        json_int_t seq = json_integer_value(json_object_get(rep, "seq"));
        if (st == 200 && (seq < 1 || json_is_true(json_object_get(rep, "duplicate"))))
            die("an acknowledged submission has no new seq", w->b.data);
        if (st != 200) {
            char *s = rep ? json_dumps(rep, JSON_COMPACT) : NULL;
            fprintf(stderr, "message %d refused: %ld %s (%s)\n", w->idx[w->k], st, s ? s : "(reply did not open)",
                    curl_easy_strerror(cc));
            free(s);
        }
        json_decref(rep);
        n_checked++;
    } else if (st != 200) {
        fprintf(stderr, "batch from message %d refused: %ld (%s)\n", w->idx[w->k], st, curl_easy_strerror(cc));
    }
    free(w->b.data);
    w->b.data = NULL;
}

/* Returns the multi handle with its connections still open (their host
 * threads are counted before they go): curl_multi_cleanup it. */
static CURLM *submit_all(void)
{
    CURLM *m = curl_multi_init();
    if (!m)
        die("curl_multi_init", NULL);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)n_threads);
    int active = 0;
    for (int t = 0; t < n_threads; t++)
        if (workers[t].n > 0) {
            start_next(m, &workers[t]);
            active++;
        }
    double deadline = bench_clock_s(CLOCK_MONOTONIC) + 60.0 + n_msgs / 100.0; /* bounded: at least 100 msg/s */
    while (active > 0) {
        int running = 0, left = 0;
        if (curl_multi_perform(m, &running) != CURLM_OK)
            die("curl_multi_perform", NULL);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            worker *w = NULL;
            CURLcode cc = msg->data.result;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&w);
            curl_multi_remove_handle(m, msg->easy_handle);
            finish(w, cc);
            if (++w->k < w->n)
                start_next(m, w);
            else
                active--;
        }
        if (active > 0 && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
            die("curl_multi_poll", NULL);
        if (bench_clock_s(CLOCK_MONOTONIC) > deadline)
            die("the run did not finish in time", NULL);
    }
    return m;
}

static void start_host_from_fixture(void)
{
    memset(&host, 0, sizeof host);
    const char *tmp = getenv("TMPDIR");
    snprintf(host.dir, sizeof host.dir, "%s/natter-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(host.dir))
        die("mkdtemp", NULL);
    snprintf(host.data_dir, sizeof host.data_dir, "%s/data", host.dir);
    snprintf(host.log_path, sizeof host.log_path, "%s/natterd.log", host.dir);
    snprintf(host.name, sizeof host.name, "bench-host");
    char src[600];
    snprintf(src, sizeof src, "%s/host", fix);
    run_cmd("cp -a", src, host.data_dir);
    if (harness_restart(&host, host_args))
        die("host start", NULL);
}

/* One thread's RSA-3072 verifies per CPU-second (as bench/crypto measures
 * them), over `seconds` of this thread's CPU time. */
static double verify_rate(double seconds)
{
    uint8_t msg[256], sig[SIGN_MAX_LEN], der[IDENTITY_PUB_DER_MAX];
    size_t sl, dl;
    identity *pub = NULL;
    long n = 0;
    memset(msg, 1, sizeof msg);
    if (sign_create(member[0], SIGN_MESSAGE, msg, sizeof msg, sig, sizeof sig, &sl) ||
        identity_public_der(member[0], der, sizeof der, &dl) || identity_from_der(&pub, der, dl))
        die("sign", NULL);
    double c0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID), c;
    while ((c = bench_clock_s(CLOCK_THREAD_CPUTIME_ID) - c0) < seconds) {
        if (sign_verify(pub, SIGN_MESSAGE, msg, sizeof msg, sig, sl))
            die("verify", NULL);
        n++;
    }
    identity_free(pub);
    return (double)n / c;
}

int main(int argc, char **argv)
{
    /* every simulated member comes from 127.0.0.1: no per-source connection
     * cap, no per-source handshake rate or worker-job cap, and room for all
     * of its handshakes at once (the variables are ignored by a natterd
     * that has none) */
    setenv("NATTER_MAX_CONNECTIONS_PER_SOURCE", "0", 1);
    setenv("NATTER_HANDSHAKE_RATE", "0", 1);
    setenv("NATTER_MAX_JOBS_PER_SOURCE", "0", 1);
    setenv("NATTER_MAX_HANDSHAKES", "4096", 1);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: rooms_ingest_e2e [--messages N] [--threads T] [--members M] [--batch B] [--dir DIR] "
                   "[--ceiling 0|1]\n"
                   "T sessions in all, T/M per member; M must divide T; B messages per request (1-16, default 1).\n"
                   "See bench/README.md.\n");
            return 0;
        }
        if (!v)
            die("missing value for", argv[i]);
        if (!strcmp(argv[i], "--messages"))
            n_msgs = atoi(v);
        else if (!strcmp(argv[i], "--threads"))
            n_threads = atoi(v);
        else if (!strcmp(argv[i], "--members"))
            n_members = atoi(v);
        else if (!strcmp(argv[i], "--batch"))
            n_batch = atoi(v);
        else if (!strcmp(argv[i], "--dir"))
            dir = v;
        else if (!strcmp(argv[i], "--ceiling"))
            with_ceiling = atoi(v) != 0;
        else
            die("unknown option", argv[i]);
        i++;
    }
    if (n_threads < 1 || n_threads > MAX_THREADS || n_members < 1 || n_members > MAX_MEMBERS ||
        n_threads % n_members || n_msgs < n_threads || n_batch < 1 || n_batch > 16)
        die("bad arguments (M must divide T, N >= T)", NULL);
    if (!getenv("NATTERD"))
        setenv("NATTERD", "build/natterd", 1);
    if (rng_init() || curl_global_init(CURL_GLOBAL_DEFAULT))
        die("init", NULL);
    mkdir(dir, 0700);
    snprintf(fix, sizeof fix, "%s/e2e-m%d", dir, n_members);
    mkdir(fix, 0700);
    if (!load_fixture()) {
        build_fixture();
        if (!load_fixture())
            die("fixture", fix);
    }
    load_members();
    load_subs();

    start_host_from_fixture();
    double load[3] = {0};
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    printf("# host %s, room %s, %d members, %d sessions, load average %.1f\n", host.peer, room_hex, n_members,
           n_threads, load[0]);
    /* T sessions (T/M per member), then every envelope sealed in order */
    workers = calloc((size_t)n_threads, sizeof *workers);
    for (int t = 0; t < n_threads; t++) {
        worker *w = &workers[t];
        session_open(&w->ms, t % n_members);
        snprintf(w->path, sizeof w->path, "/v1/peer/rooms/%s/%s", room_hex, n_batch > 1 ? "batch" : "messages");
        snprintf(w->url, sizeof w->url, "%s%s", host.peer_url, w->path);
        int per = (n_msgs - t + n_threads - 1) / n_threads;
        w->env = calloc((size_t)per, sizeof *w->env);
        w->idx = calloc((size_t)per, sizeof *w->idx);
        w->cnt = calloc((size_t)per, sizeof *w->cnt);
        /* i % M == t % M: this session's member signed message i */
        for (int i = t; i < n_msgs; i += n_threads * n_batch) {
            w->idx[w->n] = i;
            if (n_batch == 1) {
                w->cnt[w->n] = 1;
                w->env[w->n++] = seal_next(&w->ms, "POST", w->path, subs[i]);
                continue;
            }
            size_t len = 32;
            for (int j = i, c = 0; j < n_msgs && c < n_batch; j += n_threads, c++)
                len += strlen(subs[j]) + 1;
            char *body = malloc(len), *p = body;
            p += sprintf(p, "{\"messages\":[");
            for (int j = i; j < n_msgs && w->cnt[w->n] < n_batch; j += n_threads)
                p += sprintf(p, "%s%s", w->cnt[w->n]++ ? "," : "", subs[j]);
            sprintf(p, "]}");
            w->env[w->n++] = seal_next(&w->ms, "POST", w->path, body);
            free(body);
        }
    }
    double ceiling_before = with_ceiling ? verify_rate(1.0) : 0;
    static task_cpu tasks0[MAX_TASKS], tasks1[MAX_TASKS];
    int nt0 = host_tasks(host.pid, tasks0, MAX_TASKS);
    double h0 = bench_proc_cpu_s(host.pid), s0 = bench_self_cpu_s(), t0 = bench_clock_s(CLOCK_MONOTONIC);
    CURLM *multi = submit_all();
    double wall = bench_clock_s(CLOCK_MONOTONIC) - t0, host_cpu = bench_proc_cpu_s(host.pid) - h0, self_cpu = bench_self_cpu_s() - s0;
    int nt1 = host_tasks(host.pid, tasks1, MAX_TASKS);
    curl_multi_cleanup(multi);
    int ok = n_ok;
    /* every acknowledged message is in the host's log, once */
    char path[128];
    snprintf(path, sizeof path, "/v1/client/rooms/%s", room_hex);
    json_t *info = client_call("GET", path, NULL, 200);
    json_int_t head = json_integer_value(json_object_get(info, "head"));
    json_decref(info);
    if (n_bad || head != ok)
        die("not every submission was committed once", NULL);
    double rate = ok / wall;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("ingest-e2e sessions %d members %d batch %d msgs %d: %.0f msg/s wall (%.2f s), host CPU %.1f us/msg, "
           "load generator CPU %.1f us/msg, %d replies opened and checked\n",
           n_threads, n_members, n_batch, ok, rate, wall, host_cpu * 1e6 / ok, self_cpu * 1e6 / ok, n_checked);
    print_host_threads(tasks0, nt0, tasks1, nt1, ok);
    printf("host capacity: %.0f msg/s (%ld cores / host CPU per message)\n", (double)cores * ok / host_cpu, cores);
    if (with_ceiling) {
        /* this machine's speed drifts: the ceiling is measured just before
         * and just after the run, and their mean is used */
        double after = verify_rate(1.0), per_core = (ceiling_before + after) / 2, ceiling = per_core * (double)cores;
        printf("verify ceiling rsa3072: %.0f verify/s per core (1 thread, CPU time; %.0f before the run, %.0f "
               "after) x %ld cores = %.0f verify/s\n",
               per_core, ceiling_before, after, cores, ceiling);
        printf("ratio %.0f %% of the verify ceiling by wall clock (load generator on the same cores); host capacity "
               "%.0f %%\n",
               100.0 * rate / ceiling, 100.0 * ((double)cores * ok / host_cpu) / ceiling);
    }
    harness_stop(&host);
    harness_cleanup(&host);
    for (int t = 0; t < n_threads; t++) {
        for (int k = 0; k < workers[t].n; k++)
            free(workers[t].env[k]);
        free(workers[t].env);
        free(workers[t].idx);
        free(workers[t].cnt);
        session_close(&workers[t].ms);
    }
    free(workers);
    for (int i = 0; i < n_msgs; i++)
        free(subs[i]);
    free(subs);
    for (int m = 0; m < n_members; m++)
        identity_free(member[m]);
    identity_free(host_id);
    mbedtls_platform_zeroize(room_key, sizeof room_key);
    curl_global_cleanup();
    rng_free();
    return 0;
}
