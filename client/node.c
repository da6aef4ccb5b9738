/* node.c - shared client requests and answer reading (see node.h). */
#include "client/node.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "client/field.h"
#include "client/ident.h"
#include "client/resolve.h"

nt_err node_list(api *a, const char *path, const char *list_keys, json_t **list, api_error *err)
{
    json_t *reply = NULL;
    *list = NULL;
    nt_err rc = api_call(a, "GET", path, NULL, 0, &reply, err);
    if (rc != NT_OK)
        return rc;
    json_t *l = field_list(reply, list_keys);
    if (!l) {
        json_decref(reply);
        snprintf(err->code, sizeof err->code, "bad_reply");
        snprintf(err->message, sizeof err->message, "the node's answer to %s has no list", path);
        return NT_ERR_STATE;
    }
    *list = json_incref(l);
    json_decref(reply);
    return NT_OK;
}

nt_err node_find(api *a, node_kind kind, const char *query, json_t **obj,
                 char id[static NODE_ID_MAX], api_error *err)
{
    const char *path = kind == NODE_PEER ? "/v1/client/peers" : "/v1/client/rooms";
    const char *what = kind == NODE_PEER ? "peer" : "room";
    json_t *list = NULL;
    *obj = NULL;
    id[0] = '\0';
    nt_err rc = node_list(a, path, kind == NODE_PEER ? F_PEERS : F_ROOMS, &list, err);
    if (rc != NT_OK)
        return rc;
    size_t i;
    char msg[RESOLVE_ERR_MAX];
    rc = kind == NODE_PEER ? resolve_peer(list, query, &i, msg) : resolve_find(list, query, what, &i, msg);
    if (rc == NT_OK) {
        *obj = json_incref(json_array_get(list, i));
        snprintf(id, NODE_ID_MAX, "%s", field_str(*obj, F_ID) ? field_str(*obj, F_ID) : "");
        if (!id[0]) {
            rc = NT_ERR_STATE;
            snprintf(msg, sizeof msg, "the node listed a %s without an id", what);
        }
    }
    if (rc != NT_OK) {
        json_decref(*obj);
        *obj = NULL;
        if (rc == NT_ERR_INVALID)
            rc = NT_ERR_NOT_FOUND;
        memset(err, 0, sizeof *err);
        snprintf(err->code, sizeof err->code, "%s",
                 rc == NT_ERR_EXISTS ? "ambiguous" : "not_found");
        snprintf(err->message, sizeof err->message, "%s", msg);
    }
    json_decref(list);
    return rc;
}

nt_err node_txn_id(char out[static NODE_TXN_LEN + 1])
{
    unsigned char r[NODE_TXN_LEN / 2];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return NT_ERR_IO;
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    return NT_OK;
}

nt_err node_send(api *a, const char *room_id, const char *text, json_t **reply, api_error *err)
{
    char txn[NODE_TXN_LEN + 1], path[NODE_ID_MAX + 100];
    nt_err rc = node_txn_id(txn);
    if (rc != NT_OK) {
        snprintf(err->message, sizeof err->message, "no random transaction id");
        return rc;
    }
    snprintf(path, sizeof path, "/v1/client/rooms/%s/messages/%s", room_id, txn);
    json_t *body = json_pack("{s:s}", "text", text);
    if (!body)
        return NT_ERR_NOMEM;
    rc = api_call(a, "PUT", path, body, 0, reply, err);
    json_decref(body);
    return rc;
}

static time_t parse_time(const json_t *v)
{
    if (json_is_integer(v) || json_is_real(v)) {
        double t = json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
        return (time_t)(t > 1e11 ? t / 1000 : t);
    }
    if (json_is_string(v)) {
        struct tm tm = {0};
        const char *end = strptime(json_string_value(v), "%Y-%m-%dT%H:%M:%S", &tm);
        if (end)
            return timegm(&tm);
    }
    return 0;
}

void node_fmt_time(const json_t *msg, char out[static NODE_TIME_MAX])
{
    out[0] = '\0';
    time_t t = parse_time(field_get(msg, F_TIME));
    if (!t)
        return;
    time_t now = time(NULL);
    struct tm tm, tn;
    localtime_r(&t, &tm);
    localtime_r(&now, &tn);
    bool today = tm.tm_year == tn.tm_year && tm.tm_yday == tn.tm_yday;
    strftime(out, NODE_TIME_MAX, today ? "%H:%M" : "%b %d %H:%M", &tm);
}

const char *node_short(const char *id, char buf[static 13])
{
    snprintf(buf, 13, "%.12s", id ? id : "-");
    return buf;
}

const char *node_name_of(const char *id, const json_t *names, char buf[static IDENT_LABEL_MAX])
{
    return ident_label_of(names, id, NULL, NULL, buf);
}

const char *node_sender(const json_t *msg, const json_t *names, char buf[static IDENT_LABEL_MAX])
{
    return ident_label_of(names, field_str(msg, F_SENDER_ID), field_str(msg, "sender_name"),
                          field_str(msg, "sender_label"), buf);
}

const char *node_sender_trust(const json_t *msg, const json_t *names)
{
    return ident_trust_of(names, field_str(msg, F_SENDER_ID), field_str(msg, "sender_trust"));
}

nt_err node_names(api *a, json_t **names, char self_id[static NODE_ID_MAX], api_error *err)
{
    json_t *st = NULL, *peers = NULL;
    self_id[0] = '\0';
    *names = NULL;
    nt_err rc = api_call(a, "GET", "/v1/client/status", NULL, 0, &st, err);
    if (rc != NT_OK)
        return rc;
    const char *id = field_str(st, F_ID), *nm = field_str(st, F_NAME);
    snprintf(self_id, NODE_ID_MAX, "%s", id ? id : "");
    /* a node without the peers endpoint still names itself */
    if (node_list(a, "/v1/client/peers", F_PEERS, &peers, err) != NT_OK)
        peers = NULL;
    *names = ident_map(peers, id, nm ? nm : "me");
    json_decref(st);
    json_decref(peers);
    return *names ? NT_OK : NT_ERR_NOMEM;
}
