/* rooms_ingest - how many sealed, signed messages per second a room's host
 * commits, against the RSA-3072 verify ceiling of this machine.
 *
 * In one process: a host `rooms` object on an SQLite file in WAL mode with
 * synchronous=FULL (as natterd), and T threads acting as member nodes that
 * submit pre-signed messages (RSA-3072 PSS, ~100-byte texts sealed with the
 * room key) through the same entry point the sealed peer channel calls
 * (rooms_peer_handle: JSON parse of the submission, base64, membership,
 * epoch, signature verify, group commit). Not included: HTTP and the
 * session seal/open of the request (about 20 us per request on one core,
 * see bench/README.md "Crypto ceilings").
 *
 *   rooms_ingest [--messages N] [--threads T] [--members M] [--prefill P] [--dir DIR]
 *                [--ceiling 0|1]
 *
 * Output: one line per run, then the verify ceiling measured the same way
 * (T threads doing nothing but sign_verify). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_keys.h"
#include "bench/bench_util.h"
#include "crypto/encoding.h"
#include "crypto/identity.h"
#include "crypto/rng.h"
#include "crypto/sign.h"
#include "server/rooms/roomcrypt.h"
#include "server/rooms/rooms.h"
#include "tests/rooms_paths.h"
#include "storage/roomdb.h"

static int n_msgs = 1000, n_threads = 64, n_members = 10;
static long prefill = 0;
static bool with_ceiling = true;
static const char *dir = "build/bench-work";

static identity *host_id, *member_id;
static char member_hex[IDENTITY_ID_HEX_LEN + 1], room_hex[ROOM_ID_HEX_LEN + 1], path[96];
static uint8_t room_id[ROOM_ID_LEN], room_key[ROOM_KEY_LEN];
static json_t **subs;
static rooms *host;
static atomic_int next_idx, n_ok, n_bad;

static void die(const char *what, long rc)
{
    fprintf(stderr, "rooms_ingest: %s failed (%ld)\n", what, rc);
    exit(1);
}

static void no_call(void *arg, port_call *calls, size_t n, int timeout_ms)
{
    for (size_t i = 0; i < n; i++)
        calls[i].rc = NT_ERR_NET;
}

static json_t *make_sub(int i)
{
    char txn[32], text[128];
    uint8_t *body = NULL, sig[SIGN_MAX_LEN];
    size_t bl, sl;
    snprintf(txn, sizeof txn, "bench-%d", i);
    snprintf(text, sizeof text, "benchmark message %d: the quick brown fox jumps over the lazy dog, twice over", i);
    if (roomcrypt_seal(room_id, 1, room_key, identity_id(member_id), text, strlen(text), &body, &bl))
        die("seal", 0);
    if (roomcrypt_sign(member_id, room_id, 1, txn, body, bl, sig, sizeof sig, &sl))
        die("sign", 0);
    char b64b[1024], b64s[1024];
    if (encoding_b64_encode(body, bl, B64_STD, b64b, sizeof b64b) ||
        encoding_b64_encode(sig, sl, B64_STD, b64s, sizeof b64s))
        die("b64", 0);
    free(body);
    return json_pack("{s:s,s:i,s:s,s:s}", "txn_id", txn, "epoch", 1, "body", b64b, "sig", b64s);
}

static void *sign_worker(void *arg)
{
    int i;
    while ((i = atomic_fetch_add(&next_idx, 1)) < n_msgs)
        subs[i] = make_sub(i);
    return NULL;
}

static void *submit_worker(void *arg)
{
    int i;
    while ((i = atomic_fetch_add(&next_idx, 1)) < n_msgs) {
        json_t *reply = NULL;
        int st = rooms_peer_handle(host, member_hex, "POST", path, NULL, NULL, subs[i], &reply);
        atomic_fetch_add(st == 200 ? &n_ok : &n_bad, 1);
        json_decref(reply);
    }
    return NULL;
}

static atomic_bool verify_stop;
static atomic_long verifies;
/* Each thread verifies with its own parsed copy of the member's public key,
 * as the host does (mbedTLS locks an RSA context for every operation, so
 * threads sharing one context would run one at a time). */
static _Atomic double verify_cpu;

/* arg non-NULL: run for 1 s of this thread's CPU time and record it in
 * verify_cpu (the per-core rate); else until verify_stop. */
static void *verify_worker(void *arg)
{
    uint8_t msg[256], sig[SIGN_MAX_LEN], der[IDENTITY_PUB_DER_MAX];
    size_t sl, dl;
    identity *pub = NULL;
    memset(msg, 1, sizeof msg);
    if (sign_create(member_id, SIGN_MESSAGE, msg, sizeof msg, sig, sizeof sig, &sl) ||
        identity_public_der(member_id, der, sizeof der, &dl) || identity_from_der(&pub, der, dl))
        die("sign", 0);
    double c0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
    while (!atomic_load(&verify_stop) && !(arg && bench_clock_s(CLOCK_THREAD_CPUTIME_ID) - c0 >= 1.0)) {
        if (sign_verify(pub, SIGN_MESSAGE, msg, sizeof msg, sig, sl))
            die("verify", 0);
        atomic_fetch_add(&verifies, 1);
    }
    if (arg)
        atomic_store(&verify_cpu, bench_clock_s(CLOCK_THREAD_CPUTIME_ID) - c0);
    identity_free(pub);
    return NULL;
}

static void run_threads(void *(*fn)(void *), int n)
{
    pthread_t t[256];
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, fn, NULL))
            die("thread", i);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

static char file[512];

static void setup_db(roomdb **db)
{
    mkdir(dir, 0700);
    snprintf(file, sizeof file, "%s/ingest-%d.db", dir, (int)getpid());
    unlink(file);
    sqlite3 *raw = NULL;
    if (sqlite3_open(file, &raw) != SQLITE_OK || roomdb_adopt(raw, db) ||
        sqlite3_exec(roomdb_sqlite(*db), "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", 0,
                     0, 0))
        die("sqlite open", 0);
    if (roomdb_migrate(*db))
        die("schema", 0);
    fprintf(stdout, "# database %s (WAL, synchronous=FULL)\n", file);
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--messages"))
            n_msgs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            n_threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--members"))
            n_members = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--prefill"))
            prefill = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--ceiling"))
            with_ceiling = atoi(argv[i + 1]) != 0;
    }
    if (n_threads < 1 || n_threads > 256 || n_msgs < 1 || n_members < 1)
        die("arguments", 0);
    /* as natterd: no global lock around every SQLite allocation */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (rng_init() || identity_from_private_pem(&host_id, bench_key_2048, strlen(bench_key_2048)) ||
        identity_from_private_pem(&member_id, bench_key_3072, strlen(bench_key_3072)))
        die("keys", 0);
    identity_id_hex(member_id, member_hex);
    roomdb *db;
    setup_db(&db);
    rooms_opts o = {.db = db, .read_path = file, .me = host_id, .call = no_call, .no_threads = true};
    if (rooms_new(&host, &o))
        die("rooms_new", 0);
    /* a fixed room id and key, so the signed submissions can be kept
     * between runs (signing is the members' cost, not the host's) */
    memset(room_id, 0x5a, sizeof room_id);
    memset(room_key, 0xa5, sizeof room_key);
    char host_hex[IDENTITY_ID_HEX_LEN + 1];
    identity_id_hex(host_id, host_hex);
    if (encoding_hex_encode(room_id, sizeof room_id, room_hex, sizeof room_hex) ||
        roomdb_exec(db, "INSERT INTO rooms(id,name,host,state,epoch,epoch_ts,rot_msgs,created) "
                    "VALUES(?,'bench',?,'hosted',1,?,1000000,0)", "ssi", room_hex, host_hex, (int64_t)time(NULL) * 1000) ||
        roomdb_exec(db, "INSERT INTO room_keys(room,epoch,key,created) VALUES(?,1,?,0)", "sb", room_hex, room_key,
                    sizeof room_key))
        die("room", 0);
    snprintf(path, sizeof path, "/v1/peer/rooms/%s/messages", room_hex);
    /* members: the signer plus others (they only cost rows here) */
    uint8_t der[IDENTITY_PUB_DER_MAX];
    size_t der_len;
    if (identity_public_der(member_id, der, sizeof der, &der_len) ||
        roomdb_exec(db, "INSERT INTO room_members(room,peer,state,pub,delivery,from_epoch,key_epoch) "
                    "VALUES(?,?,'joined',?,'poll',1,1)", "ssb", room_hex, member_hex, der, der_len))
        die("member", 0);
    for (int i = 1; i < n_members; i++) {
        char fake[IDENTITY_ID_HEX_LEN + 1];
        snprintf(fake, sizeof fake, "%064x", i);
        if (roomdb_exec(db, "INSERT INTO room_members(room,peer,state,delivery) VALUES(?,?,'joined','poll')", "ss",
                        room_hex, fake))
            die("member", i);
    }
    sqlite3_stmt *st;
    if (prefill > 0) { /* an existing log of `prefill` messages (contents do not matter) */
        uint8_t blob[200] = {0};
        if (roomdb_begin(db))
            die("begin", 0);
        st = roomdb_prep(db, "INSERT INTO room_messages(room,seq,sender,epoch,txn_id,ts,body,sig,text) "
                         "VALUES(?1,?2,?3,1,'p'||?2,0,?4,?4,'x')", "sisb", room_hex, (int64_t)0, member_hex, blob,
                         sizeof blob);
        for (long i = 1; st && i <= prefill; i++) {
            sqlite3_bind_int64(st, 2, i);
            if (sqlite3_step(st) != SQLITE_DONE)
                die("prefill", i);
            sqlite3_reset(st);
        }
        roomdb_done(db, st);
        if (roomdb_exec(db, "UPDATE rooms SET head=? WHERE id=?", "is", (int64_t)prefill, room_hex) ||
            roomdb_commit(db))
            die("prefill commit", 0);
    }
    subs = calloc((size_t)n_msgs, sizeof *subs);
    char cache_file[512];
    snprintf(cache_file, sizeof cache_file, "%s/ingest-subs.json", dir);
    json_t *cached = json_load_file(cache_file, 0, NULL);
    int have = (int)json_array_size(cached);
    for (int i = 0; i < have && i < n_msgs; i++)
        subs[i] = json_incref(json_array_get(cached, (size_t)i));
    double t0 = bench_clock_s(CLOCK_MONOTONIC);
    atomic_store(&next_idx, have);
    run_threads(sign_worker, 2);
    if (have < n_msgs) {
        json_t *all = json_array();
        for (int i = 0; i < n_msgs; i++)
            json_array_append(all, subs[i]);
        if (json_dump_file(all, cache_file, JSON_COMPACT))
            fprintf(stdout, "# could not keep the submissions in %s\n", cache_file);
        json_decref(all);
    }
    json_decref(cached);
    fprintf(stdout, "# signed %d submissions in %.1f s (%d from %s)\n", n_msgs, bench_clock_s(CLOCK_MONOTONIC) - t0,
            have < n_msgs ? have : n_msgs, cache_file);

    atomic_store(&next_idx, 0);
    double c0 = bench_self_cpu_s();
    t0 = bench_clock_s(CLOCK_MONOTONIC);
    run_threads(submit_worker, n_threads);
    double wall = bench_clock_s(CLOCK_MONOTONIC) - t0, cpu = bench_self_cpu_s() - c0;
    if (atomic_load(&n_bad))
        die("submissions refused", atomic_load(&n_bad));
    double ingest_rate = n_msgs / wall;
    printf("ingest threads %d members %d log %ld msgs %d: %.0f msg/s wall, %.1f us CPU/msg\n", n_threads, n_members,
           prefill, n_msgs, ingest_rate, cpu * 1e6 / n_msgs);

    /* The ceiling as bench/crypto defines it: one thread's RSA-3072 verifies
     * per CPU-second, times the cores. Then, for comparison, T threads
     * doing nothing but verifies, by wall clock. */
    if (!with_ceiling)
        goto done;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    pthread_t t[256];
    atomic_store(&verifies, 0);
    atomic_store(&verify_stop, false);
    pthread_create(&t[0], NULL, verify_worker, (void *)1);
    pthread_join(t[0], NULL);
    double per_core = atomic_load(&verifies) / atomic_load(&verify_cpu);
    double ceiling = per_core * (double)cores;
    printf("verify ceiling rsa3072: %.0f verify/s per core (1 thread, CPU time) x %ld cores = %.0f verify/s\n", per_core,
           cores, ceiling);
    atomic_store(&verifies, 0);
    t0 = bench_clock_s(CLOCK_MONOTONIC);
    int vt = n_threads < 2 ? 2 : n_threads;
    for (int i = 0; i < vt; i++)
        pthread_create(&t[i], NULL, verify_worker, NULL);
    usleep(1000 * 1000);
    atomic_store(&verify_stop, true);
    for (int i = 0; i < vt; i++)
        pthread_join(t[i], NULL);
    double all = atomic_load(&verifies) / (bench_clock_s(CLOCK_MONOTONIC) - t0);
    printf("verify only, %d threads: %.0f verify/s wall\n", vt, all);
    printf("ratio %.0f %% of the verify ceiling (%.0f %% of the %d-thread verify-only rate)\n", 100.0 * ingest_rate / ceiling,
           100.0 * ingest_rate / all, vt);
done:
    for (int i = 0; i < n_msgs; i++)
        json_decref(subs[i]);
    free(subs);
    rooms_free(host);
    roomdb_close(db);
    identity_free(host_id);
    identity_free(member_id);
    rng_free();
    return 0;
}
