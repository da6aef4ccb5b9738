/* harness_discovery.c - see harness_discovery.h. */
#include "harness_discovery.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

long long hd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hd_pause_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

void hd_private_group(char group[static 16], char port[static 8])
{
    unsigned seed = (unsigned)(hd_now_ms() ^ (getpid() << 16));
    int p = 0;
    /* Bounded: a free port turns up at once on any sane host. */
    for (int tries = 0; tries < 50 && !p; tries++) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof sa;
        if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
            getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
            p = ntohs(sa.sin_port);
        if (fd >= 0)
            close(fd);
    }
    snprintf(group, 16, "239.255.%u.%u", rand_r(&seed) % 256, 1 + rand_r(&seed) % 254);
    snprintf(port, 8, "%d", p ? p : 20000 + (int)(rand_r(&seed) % 40000));
}

json_t *hd_peers(const harness_node *n)
{
    harness_resp r;
    json_t *out = NULL;
    if (harness_get(n, HARNESS_CLIENT, "/v1/client/peers", &r) == 0 && r.status == 200 && r.json) {
        out = json_is_array(r.json) ? r.json : json_object_get(r.json, "peers");
        json_incref(out);
    }
    harness_resp_free(&r);
    return json_is_array(out) ? out : (json_decref(out), NULL);
}

json_t *hd_peer(json_t *peers, const char *id)
{
    size_t i;
    json_t *p;
    json_array_foreach(peers, i, p)
    {
        const char *pid = json_string_value(json_object_get(p, "id"));
        if (pid && strcmp(pid, id) == 0)
            return p;
    }
    return NULL;
}

json_t *hd_discovery(const harness_node *n)
{
    harness_resp r;
    json_t *out = NULL;
    if (harness_get(n, HARNESS_CLIENT, "/v1/client/status", &r) == 0 && r.status == 200 && r.json) {
        out = json_object_get(r.json, "discovery");
        json_incref(out);
    }
    harness_resp_free(&r);
    return out;
}

long long hd_counter(const harness_node *n, const char *path)
{
    json_t *d = hd_discovery(n), *v = d;
    char key[64];
    const char *p = path;
    while (v && *p) {
        size_t k = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)k, p);
        v = json_object_get(v, key);
        p += k + (p[k] == '.');
    }
    long long out = json_is_integer(v) ? (long long)json_integer_value(v) : -1;
    json_decref(d);
    return out;
}

bool hd_lists_all(const harness_node *n, harness_node *const *want, int k, const char *const *hosts)
{
    json_t *peers = hd_peers(n);
    bool ok = peers != NULL;
    for (int i = 0; ok && i < k; i++) {
        if (want[i] == n)
            continue;
        json_t *p = hd_peer(peers, want[i]->node_id);
        char addr[96];
        snprintf(addr, sizeof addr, "%s:%u", hosts[i], (unsigned)want[i]->peer_port);
        const char *a = json_string_value(json_object_get(p, "address"));
        const char *nm = json_string_value(json_object_get(p, "name"));
        const char *src = json_string_value(json_object_get(p, "source"));
        ok = p && json_is_true(json_object_get(p, "online")) && a && strcmp(a, addr) == 0 && nm &&
             strcmp(nm, want[i]->name) == 0 && src && strcmp(src, "multicast") == 0 &&
             json_integer_value(json_object_get(p, "last_seen")) > 0;
    }
    json_decref(peers);
    return ok;
}
