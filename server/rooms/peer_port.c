/* peer_port.c - see peer_port.h. */
#include "server/rooms/peer_port.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *method, *what; /* what: NULL for the room list */
} targets[] = {
    [PORT_LIST] = {"GET", NULL},          [PORT_JOIN] = {"POST", "join"},
    [PORT_LEAVE] = {"POST", "leave"},     [PORT_DELIVERY] = {"POST", "delivery"},
    [PORT_MEMBERS] = {"GET", "members"},  [PORT_KEYS] = {"GET", "keys"},
    [PORT_POLL] = {"GET", "messages"},    [PORT_SUBMIT] = {"POST", "messages"},
    [PORT_BATCH] = {"POST", "batch"},     [PORT_NOTIFY] = {"POST", "notify"},
};

nt_err peer_port_target(const port_call *c, const char **method, char *path, size_t cap)
{
    if ((unsigned)c->op >= sizeof targets / sizeof targets[0])
        return NT_ERR_INVALID;
    const char *what = targets[c->op].what;
    int n;
    *method = targets[c->op].method;
    if (!what)
        n = snprintf(path, cap, "/v1/peer/rooms");
    else if (c->op == PORT_MEMBERS || c->op == PORT_KEYS)
        n = snprintf(path, cap, "/v1/peer/rooms/%s/%s?since=%lld", c->room, what, (long long)c->since);
    else if (c->op == PORT_POLL)
        n = snprintf(path, cap, "/v1/peer/rooms/%s/messages?after=%lld&limit=%d&wait=%u", c->room,
                     (long long)c->after, c->limit, c->wait);
    else
        n = snprintf(path, cap, "/v1/peer/rooms/%s/%s", c->room, what);
    return n < 0 || (size_t)n >= cap ? NT_ERR_TOO_BIG : NT_OK;
}
