/* bench_node.h - one natterd for a bench: started with a temp data dir
 * (a 2048-bit identity made at start, both listeners on 127.0.0.1 port 0,
 * discovery off), stopped with SIGTERM and waited for, and its memory,
 * threads and fds read from /proc. Static, like bench_util.h: each bench
 * is one program. The bench registers at_exit_stop with atexit so that
 * die() stops the node too. */
#ifndef NATTER_BENCH_NODE_H
#define NATTER_BENCH_NODE_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_util.h"

#define NODE_START_S 60 /* longest wait for the node's run file */
#define NODE_STOP_S 15  /* longest wait after SIGTERM before SIGKILL */

static inline double now_s(void) { return bench_clock_s(CLOCK_MONOTONIC); }

typedef struct {
    pid_t pid;
    char dir[64];
    struct sockaddr_in addr;
    char peer[64];
} node_t;

static node_t g_node;

static void node_stop(node_t *n)
{
    if (n->pid > 0) {
        kill(n->pid, SIGTERM);
        int st;
        double until = now_s() + NODE_STOP_S;
        while (waitpid(n->pid, &st, WNOHANG) == 0) {
            if (now_s() > until) {
                fprintf(stderr, "%s: natterd did not stop in %d s, killing it\n",
                        program_invocation_short_name, NODE_STOP_S);
                kill(n->pid, SIGKILL);
                waitpid(n->pid, &st, 0);
                break;
            }
            usleep(20000);
        }
        n->pid = 0;
    }
    if (n->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", n->dir);
        if (system(cmd))
            fprintf(stderr, "%s: could not remove %s\n", program_invocation_short_name, n->dir);
        n->dir[0] = 0;
    }
}

static void at_exit_stop(void) { node_stop(&g_node); }

/* SIGINT/SIGTERM: the node goes with the bench (only async-signal-safe
 * calls here; the temp dir stays behind). */
static void on_stop_signal(int sig)
{
    if (g_node.pid > 0) {
        kill(g_node.pid, SIGKILL);
        waitpid(g_node.pid, NULL, 0);
    }
    _exit(128 + sig);
}

/* Says why and exits; at_exit_stop (atexit) stops the node. */
static void die(const char *what)
{
    fprintf(stderr, "%s: %s\n", program_invocation_short_name, what);
    exit(1);
}

static void node_exec(const char *bin, const char *data, unsigned max_conn, unsigned per_source)
{
    char log[128], mc[16], ps[16];
    snprintf(log, sizeof log, "%s/natterd.log", g_node.dir);
    int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (lfd >= 0) {
        dup2(lfd, 1);
        dup2(lfd, 2);
    }
    snprintf(mc, sizeof mc, "%u", max_conn);
    snprintf(ps, sizeof ps, "%u", per_source);
    const char *argv[] = {bin, "--data-dir", data, "--listen", "127.0.0.1:0", "--client-listen", "127.0.0.1:0",
                          "--no-discovery", "--key-bits", "2048", "--name", "bench", "--log-level", "warn",
                          "--max-connections", mc, per_source ? "--max-connections-per-source" : NULL, ps, NULL};
    execv(bin, (char *const *)argv);
    _exit(127);
}

/* Starts natterd (max_conn, per_source 0: its defaults) and waits for its
 * run file. */
static void node_start(unsigned max_conn, unsigned per_source)
{
    const char *bin = getenv("NATTERD") ? getenv("NATTERD") : "build/natterd";
    char data[128], runfile[160];
    snprintf(g_node.dir, sizeof g_node.dir, "/tmp/natter-bench-conns-XXXXXX");
    if (!mkdtemp(g_node.dir))
        die("mkdtemp");
    snprintf(data, sizeof data, "%s/data", g_node.dir);
    snprintf(runfile, sizeof runfile, "%s/natterd.json", data);
    if (mkdir(data, 0700))
        die("mkdir");
    if ((g_node.pid = fork()) == 0)
        node_exec(bin, data, max_conn, per_source);
    for (double until = now_s() + NODE_START_S; now_s() < until; usleep(50000)) {
        if (waitpid(g_node.pid, NULL, WNOHANG) == g_node.pid) {
            g_node.pid = 0;
            die("natterd exited at start (is $NATTERD right?)");
        }
        json_t *j = json_load_file(runfile, 0, NULL);
        const char *p = j ? json_string_value(json_object_get(j, "peer")) : NULL;
        if (p)
            snprintf(g_node.peer, sizeof g_node.peer, "%s", p);
        json_decref(j);
        if (!p)
            continue;
        char *colon = strrchr(g_node.peer, ':');
        g_node.addr.sin_family = AF_INET;
        g_node.addr.sin_port = htons((uint16_t)atoi(colon ? colon + 1 : "0"));
        inet_pton(AF_INET, "127.0.0.1", &g_node.addr.sin_addr);
        printf("# natterd pid %d, peer listener %s\n", (int)g_node.pid, g_node.peer);
        return;
    }
    die("natterd did not start");
}

/* A field of /proc/PID/status ("VmRSS", "VmHWM" in kB, "Threads"); -1 if unknown. */
static long proc_status(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = atol(line + kl + 1);
            break;
        }
    if (f)
        fclose(f);
    return v;
}

static long proc_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    long n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return d ? n : -1;
}

static void print_node(const char *label)
{
    printf("%s %ld kB-rss %ld kB-hwm %ld threads %ld fds\n", label, proc_status(g_node.pid, "VmRSS"),
           proc_status(g_node.pid, "VmHWM"), proc_status(g_node.pid, "Threads"), proc_fds(g_node.pid));
}

#endif
