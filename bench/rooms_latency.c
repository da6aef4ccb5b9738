/* rooms_latency - delivery latency from a send on the host's client API to
 * the message's arrival on each member's client events long poll, with
 * real natterd processes on loopback ($NATTERD, default build/natterd).
 *
 *   rooms_latency [--members M] [--rate R] [--seconds S] [--mode push|poll]
 *
 * Starts a host and M members (RSA-2048 identities to keep start-up
 * short; the harness of tests/integration), makes a room, invites and joins
 * every member in the given delivery mode, then sends R messages/s for S
 * seconds from the host's client API (one sender, paced) while one thread
 * per member long-polls GET /v1/client/events. Each text carries its send
 * time; every arrival is one sample. Prints p50/p90/p99/max over all
 * (message, member) pairs, and how many arrived. */
#include "../tests/integration/harness.c"

#include <math.h>
#include "bench_util.h"
#include <stdatomic.h>

#define MAX_MEMBERS 64

static int n_members = 10, rate = 100, seconds = 5;
static const char *mode = "push";
static harness_node host, mem[MAX_MEMBERS];
static char room[64];
static atomic_bool done;
static double *samples;
static atomic_long n_samples;
static long cap_samples;

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "rooms_latency: %s\n", what);
    harness_cleanup(&host);
    for (int i = 0; i < n_members; i++)
        harness_cleanup(&mem[i]);
    exit(1);
}

static json_t *must(harness_node *n, const char *method, const char *path, const char *body, long want)
{
    harness_resp r = {0};
    if (harness_call(n, HARNESS_CLIENT, method, path, body, &r) || r.status != want) {
        fprintf(stderr, "%s %s: %ld %s\n", method, path, r.status, r.body ? r.body : "");
        die("request failed");
    }
    json_t *j = json_incref(r.json);
    harness_resp_free(&r);
    return j;
}

/* Each watcher, like a client, keeps one connection open to its node. */
static void *watch(void *arg)
{
    harness_node *n = arg;
    char since[32] = "now", url[256];
    CURL *c = curl_easy_init();
    while (c && !atomic_load(&done)) {
        harness_resp r = {0};
        snprintf(url, sizeof url, "%s/v1/client/events?since=%s&wait=2", n->client_url, since);
        if (harness_request_on(c, "GET", url, n->token, NULL, 0, &r) || r.status != 200) {
            harness_resp_free(&r);
            usleep(10 * 1000); /* not a busy loop when the node is down */
            continue;
        }
        double t = wall_ms();
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(r.json, "events"), i, e) {
            const char *text = json_string_value(json_object_get(json_object_get(e, "message"), "text"));
            double sent;
            if (text && sscanf(text, "t=%lf", &sent) == 1) {
                long k = atomic_fetch_add(&n_samples, 1);
                if (k < cap_samples)
                    samples[k] = t - sent;
            }
        }
        snprintf(since, sizeof since, "%s", json_string_value(json_object_get(r.json, "next")));
        harness_resp_free(&r);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--members"))
            n_members = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rate"))
            rate = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mode"))
            mode = argv[i + 1];
    }
    if (n_members < 1 || n_members > MAX_MEMBERS || rate < 1 || seconds < 1)
        die("bad arguments");
    if (!getenv("NATTERD"))
        setenv("NATTERD", "build/natterd", 1);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (harness_start(&host, "host", NULL))
        die("host start");
    char body[256], path[256];
    for (int i = 0; i < n_members; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%d", i);
        if (harness_start(&mem[i], name, NULL))
            die("member start");
        snprintf(body, sizeof body, "{\"address\":\"%s\"}", host.peer);
        json_decref(must(&mem[i], "POST", "/v1/client/peers", body, 201));
        snprintf(body, sizeof body, "{\"address\":\"%s\"}", mem[i].peer);
        json_decref(must(&host, "POST", "/v1/client/peers", body, 200)); /* known from the member's handshake */
    }
    json_t *j = must(&host, "POST", "/v1/client/rooms", "{\"name\":\"bench\",\"rotate_messages\":1000000}", 201);
    snprintf(room, sizeof room, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    for (int i = 0; i < n_members; i++) {
        snprintf(path, sizeof path, "/v1/client/rooms/%s/invite", room);
        snprintf(body, sizeof body, "{\"peer\":\"%s\"}", mem[i].node_id);
        json_decref(must(&host, "POST", path, body, 200));
        snprintf(path, sizeof path, "/v1/client/rooms/%s/join", room);
        snprintf(body, sizeof body, "{\"host\":\"%s\",\"delivery\":\"%s\"}", host.node_id, mode);
        json_decref(must(&mem[i], "POST", path, body, 200));
    }
    long total = (long)rate * seconds;
    cap_samples = total * n_members;
    samples = calloc((size_t)cap_samples, sizeof *samples);
    pthread_t w[MAX_MEMBERS];
    for (int i = 0; i < n_members; i++)
        pthread_create(&w[i], NULL, watch, &mem[i]);
    usleep(300 * 1000); /* let every watcher park in its first long poll */
    CURL *sender = curl_easy_init(); /* one connection, as a client keeps */
    char url[512];
    if (!sender)
        die("curl");
    double t0 = wall_ms(), late = 0, host_cpu0 = bench_proc_cpu_s(host.pid), self0 = bench_proc_cpu_s(getpid()), mem0 = 0;
    for (int i = 0; i < n_members; i++)
        mem0 += bench_proc_cpu_s(mem[i].pid);
    for (long k = 0; k < total; k++) {
        double due = t0 + k * 1000.0 / rate, t = wall_ms();
        if (due > t)
            usleep((useconds_t)((due - t) * 1000));
        else
            late = fmax(late, t - due);
        snprintf(url, sizeof url, "%s/v1/client/rooms/%s/messages/l%ld", host.client_url, room, k);
        snprintf(body, sizeof body, "{\"text\":\"t=%.3f\"}", wall_ms());
        harness_resp r = {0};
        if (harness_request_on(sender, "PUT", url, host.token, body, strlen(body), &r) || r.status != 200) {
            fprintf(stderr, "PUT %s: %ld %s\n", url, r.status, r.body ? r.body : "");
            die("send failed");
        }
        harness_resp_free(&r);
    }
    curl_easy_cleanup(sender);
    double send_s = (wall_ms() - t0) / 1e3;
    for (int waited = 0; waited < 100 && atomic_load(&n_samples) < cap_samples; waited++)
        usleep(100 * 1000);
    double host_cpu = bench_proc_cpu_s(host.pid) - host_cpu0, self_cpu = bench_proc_cpu_s(getpid()) - self0, mem_cpu = -mem0;
    for (int i = 0; i < n_members; i++)
        mem_cpu += bench_proc_cpu_s(mem[i].pid);
    atomic_store(&done, true);
    for (int i = 0; i < n_members; i++)
        pthread_join(w[i], NULL);
    long n = atomic_load(&n_samples);
    if (n > cap_samples)
        n = cap_samples;
    qsort(samples, (size_t)n, sizeof *samples, cmp);
    if (n == 0)
        die("no message arrived");
    printf("latency mode %s members %d rate %d/s sent %ld in %.1f s (max lag %.0f ms): arrived %ld/%ld, "
           "p50 %.1f ms p90 %.1f ms p99 %.1f ms max %.1f ms\n",
           mode, n_members, rate, total, send_s, late, n, cap_samples, samples[n / 2], samples[n * 9 / 10],
           samples[n * 99 / 100], samples[n - 1]);
    if (host_cpu0 >= 0)
        printf("host cpu mode %s members %d: %.2f ms per message (%.2f CPU-s for %ld messages to %d members); "
               "each member %.2f ms per message; this bench (sender and watchers) %.2f CPU-s\n",
               mode, n_members, host_cpu * 1e3 / (double)total, host_cpu, total, n_members,
               mem_cpu * 1e3 / (double)total / n_members, self_cpu);
    harness_cleanup(&host);
    for (int i = 0; i < n_members; i++)
        harness_cleanup(&mem[i]);
    free(samples);
    return n == cap_samples ? 0 : 1;
}
