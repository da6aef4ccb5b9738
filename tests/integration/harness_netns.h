/* harness_netns.h - a private L2 segment of network namespaces for tests.
 *
 * harness_netns_create(t, n) makes n node namespaces and one bridge
 * namespace, each node joined by a veth pair ("eth0" inside the node
 * namespace, "p<i>" on the bridge "br0" in the bridge namespace), with
 * addresses 10.<a>.<b>.<i+1>/24 that exist only inside those namespaces; lo
 * is up in each. Nothing is created in the caller's own namespace. Names
 * carry a prefix with the pid ("ntd-<pid>-<rand>-"), so parallel runs do not
 * collide and leftovers of a killed run are reaped by the next one.
 *
 * harness_netns_enter(t, i) moves the CALLING THREAD into namespace i (-1:
 * back to where it was at create): sockets it then opens, and processes it
 * forks (harness_start), live there. Needs root and iproute2; create says
 * why it cannot work (for a "SKIPPED: ..." line) instead of failing. */
#ifndef NATTER_HARNESS_NETNS_H
#define NATTER_HARNESS_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HARNESS_NETNS_MAX 32
#define HARNESS_NETNS_NAME_MAX 48

typedef struct harness_netns {
    int n;
    int root_fd;                                  /* the creator's namespace */
    char prefix[HARNESS_NETNS_NAME_MAX - 8];
    char bridge[HARNESS_NETNS_NAME_MAX];
    char ns[HARNESS_NETNS_MAX][HARNESS_NETNS_NAME_MAX];
    char addr[HARNESS_NETNS_MAX][20];             /* "10.a.b.c" */
    bool created;
    pid_t owner;                                  /* only the creator destroys (not forked children) */
} harness_netns;

/* 0 on success. -1 if namespaces cannot be made here, with the reason in
 * why (then nothing is left behind). n in 1..HARNESS_NETNS_MAX. */
int harness_netns_create(harness_netns *t, int n, char *why, size_t cap);
/* Delete every namespace of t (the processes in them should be stopped
 * first). Safe to call twice and after a failed create. */
void harness_netns_destroy(harness_netns *t);
/* Calling thread into namespace i, or back home with -1. 0 on success. */
int harness_netns_enter(const harness_netns *t, int i);
/* Run "ip -n <ns i> <args>" (i = -1: the bridge namespace); exit status. */
int harness_netns_ip(const harness_netns *t, int i, const char *args);

#endif
