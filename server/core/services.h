/* services.h - background parts of natterd started and stopped by main.
 *
 * A module with a thread or per-node state (discovery, delivery, session
 * expiry...) exports a start and a stop function and adds ONE line to the
 * table in server/core/services.c. main calls start in table order once both
 * listeners are up (nd->peer_addr/client_addr are set) and before the node
 * reports itself ready; it calls stop in reverse order after the HTTP
 * servers have stopped (no handler runs any more). A start that fails stops
 * natterd with its one-line reason in err. stop is only called after a
 * successful start, and must join its threads. Threads should watch
 * node_stopping(nd) or be woken by stop. */
#ifndef NATTER_SERVICES_H
#define NATTER_SERVICES_H

#include "server/core/node.h"

typedef struct node_service {
    const char *name;  /* NULL ends the table */
    nt_err (*start)(node *nd, char err[static NODE_ERR_MAX]);
    void (*stop)(node *nd);
} node_service;

extern const node_service node_services[];

#endif
