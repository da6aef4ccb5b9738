/* node.h - what both client front ends (one-shot commands and full screen)
 * ask the node: lists, name resolution, sends, and how its answers read.
 *
 * Paths follow DESIGN.md "Client API shape"; field names follow
 * api-spec/openapi.yaml (read through field.h). */
#ifndef NATTER_CLIENT_NODE_H
#define NATTER_CLIENT_NODE_H

#include <jansson.h>
#include <stddef.h>
#include "client/api.h"
#include "client/ident.h"
#include "common/err.h"

#define NODE_ID_MAX 130
#define NODE_TXN_LEN 32    /* hex characters */
#define NODE_TIME_MAX 32
#define NODE_TEXT_MAX (16 * 1024)

/* Field spellings the node uses (alternatives separated by '|'). */
#define F_ID "id|node_id"
#define F_NAME "name"
#define F_PEERS "peers"
#define F_ROOMS "rooms"
#define F_MEMBERS "members"
#define F_MESSAGES "messages"
#define F_EVENTS "events"
#define F_SEQ "seq"
#define F_TEXT "text"
#define F_STATE "state"
#define F_TIME "ts|created_at" /* a message's, or a pending entry's time of writing */
#define F_SENDER_ID "sender"
#define F_TXN "txn_id"
#define F_HOST "host"
#define F_ROOM "room"
#define F_NEXT "next"
#define F_TYPE "type"

typedef enum { NODE_PEER, NODE_ROOM } node_kind;

/* GET path and return the array inside the answer (under list_keys) as a
 * new reference in *list. */
NT_MUST_USE nt_err node_list(api *a, const char *path, const char *list_keys, json_t **list,
                             api_error *err);

/* Resolve a name, unique prefix or id among my peers or rooms. On NT_OK
 * *obj is a new reference to the object and id (cap NODE_ID_MAX) its id.
 * NT_ERR_NOT_FOUND / NT_ERR_EXISTS (ambiguous) with err filled. */
NT_MUST_USE nt_err node_find(api *a, node_kind kind, const char *query, json_t **obj,
                             char id[static NODE_ID_MAX], api_error *err);

/* Send text to room_id with a fresh transaction id; *reply as api_call. */
NT_MUST_USE nt_err node_send(api *a, const char *room_id, const char *text, json_t **reply,
                             api_error *err);

/* A fresh random transaction id (NODE_TXN_LEN hex + NUL). */
NT_MUST_USE nt_err node_txn_id(char out[static NODE_TXN_LEN + 1]);

/* "HH:MM" for today, "Mon DD HH:MM" otherwise, from a message's time field
 * (unix seconds or milliseconds, or an RFC 3339 string). "" when absent. */
void node_fmt_time(const json_t *msg, char out[static NODE_TIME_MAX]);

/* Who the nodes this one knows are, as an object id -> {"name", "label",
 * "trust"} (ident.h): every peer and this node itself (under its own id).
 * *self_id (cap NODE_ID_MAX) gets this node's id. New reference in *names. */
NT_MUST_USE nt_err node_names(api *a, json_t **names, char self_id[static NODE_ID_MAX],
                              api_error *err);

/* A message's sender as a person reads it: its label from names (may be
 * NULL), else the message's sender_label, else the label rule with its
 * sender_name and trust "unknown" (ident.h). Raw text: show through term.h. */
const char *node_sender(const json_t *msg, const json_t *names, char buf[static IDENT_LABEL_MAX]);
/* The sender's trust the same way ("unknown" when nobody says). */
const char *node_sender_trust(const json_t *msg, const json_t *names);

/* The label of a node id from names, else "~" and its first 4 hex digits. */
const char *node_name_of(const char *id, const json_t *names, char buf[static IDENT_LABEL_MAX]);

/* First 12 characters of an id, for tables. */
const char *node_short(const char *id, char buf[static 13]);

#endif
