/* harness_netns.c - see harness_netns.h. Runs iproute2 for the plumbing. */
#include "harness_netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NETNS_DIR "/run/netns"
#define PREFIX "ntd-"

/* Run a shell command quietly; its exit status, or -1. */
static int sh(const char *cmd)
{
    char full[1024];
    snprintf(full, sizeof full, "%s >/dev/null 2>&1", cmd);
    int st = system(full);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void del_ns(const char *name)
{
    char cmd[320];
    snprintf(cmd, sizeof cmd, "ip netns del %.255s", name);
    (void)sh(cmd);
}

/* Namespaces "ntd-<pid>-..." whose pid is gone: left by a killed run. */
static void reap_stale(void)
{
    DIR *d = opendir(NETNS_DIR);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, PREFIX, strlen(PREFIX)) != 0)
            continue;
        long pid = strtol(e->d_name + strlen(PREFIX), NULL, 10);
        if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            del_ns(e->d_name);
    }
    closedir(d);
}

int harness_netns_ip(const harness_netns *t, int i, const char *args)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ip -n %s %s", i < 0 ? t->bridge : t->ns[i], args);
    return sh(cmd);
}

static int make_ns(const char *name)
{
    char cmd[320];
    snprintf(cmd, sizeof cmd, "ip netns add %s", name);
    if (sh(cmd) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "ip -n %s link set lo up", name);
    return sh(cmd);
}

int harness_netns_create(harness_netns *t, int n, char *why, size_t cap)
{
    char args[256];
    memset(t, 0, sizeof *t);
    t->root_fd = -1;
    if (n < 1 || n > HARNESS_NETNS_MAX) {
        snprintf(why, cap, "bad namespace count %d", n);
        return -1;
    }
    if (geteuid() != 0) {
        snprintf(why, cap, "network namespaces need root (euid %d)", (int)geteuid());
        return -1;
    }
    if (sh("ip -V") != 0) {
        snprintf(why, cap, "iproute2 ('ip') is not installed");
        return -1;
    }
    reap_stale();
    srand((unsigned)(time(NULL) ^ getpid()));
    unsigned r = (unsigned)rand() & 0xFFFF;
    snprintf(t->prefix, sizeof t->prefix, PREFIX "%d-%04x-", (int)getpid(), r);
    snprintf(t->bridge, sizeof t->bridge, "%sbr", t->prefix);
    t->n = n;
    t->root_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (t->root_fd < 0) {
        snprintf(why, cap, "cannot open /proc/self/ns/net: %s", strerror(errno));
        return -1;
    }
    t->created = true;
    t->owner = getpid();
    if (make_ns(t->bridge) != 0) {
        snprintf(why, cap, "'ip netns add' does not work here");
        goto fail;
    }
    /* No IGMP snooping: the segment floods multicast like a dumb switch,
     * so the test does not depend on a querier. */
    if (harness_netns_ip(t, -1, "link add br0 type bridge mcast_snooping 0") != 0 ||
        harness_netns_ip(t, -1, "link set br0 up") != 0) {
        snprintf(why, cap, "cannot make a bridge in a namespace");
        goto fail;
    }
    unsigned a = 64 + (r >> 8) % 64, b = r & 0xFF;
    for (int i = 0; i < n; i++) {
        snprintf(t->ns[i], sizeof t->ns[i], "%s%d", t->prefix, i);
        snprintf(t->addr[i], sizeof t->addr[i], "10.%u.%u.%d", a, b, i + 1);
        if (make_ns(t->ns[i]) != 0) {
            snprintf(why, cap, "cannot make namespace %s", t->ns[i]);
            goto fail;
        }
        snprintf(args, sizeof args, "link add eth0 type veth peer name p%d netns %s", i, t->bridge);
        if (harness_netns_ip(t, i, args) != 0) {
            snprintf(why, cap, "cannot make a veth pair into %s", t->bridge);
            goto fail;
        }
        snprintf(args, sizeof args, "link set p%d master br0 up", i);
        if (harness_netns_ip(t, -1, args) != 0)
            goto fail_plumb;
        snprintf(args, sizeof args, "addr add %s/24 dev eth0", t->addr[i]);
        if (harness_netns_ip(t, i, args) != 0 || harness_netns_ip(t, i, "link set eth0 up") != 0)
            goto fail_plumb;
    }
    return 0;
fail_plumb:
    snprintf(why, cap, "cannot wire the veth pairs to the bridge");
fail:
    harness_netns_destroy(t);
    return -1;
}

void harness_netns_destroy(harness_netns *t)
{
    if (!t->created || t->owner != getpid())
        return;
    for (int i = 0; i < t->n; i++)
        if (t->ns[i][0])
            del_ns(t->ns[i]);
    del_ns(t->bridge);
    if (t->root_fd >= 0)
        close(t->root_fd);
    t->root_fd = -1;
    t->created = false;
}

int harness_netns_enter(const harness_netns *t, int i)
{
    if (i < 0)
        return setns(t->root_fd, CLONE_NEWNET);
    char path[128];
    snprintf(path, sizeof path, NETNS_DIR "/%s", t->ns[i]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = setns(fd, CLONE_NEWNET);
    close(fd);
    return rc;
}
