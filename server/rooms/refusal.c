/* refusal.c - see refusal.h. */
#include "server/rooms/refusal.h"

#include <stdio.h>
#include <string.h>

static const struct {
    int status;
    const char *code;
} refusals[] = {
    [REFUSE_NONE] = {200, ""},
    [REFUSE_BAD_REQUEST] = {400, "bad_request"},
    [REFUSE_UNAUTHENTICATED] = {401, "unauthenticated"},
    [REFUSE_BAD_KEY] = {401, "bad_key"},
    [REFUSE_BAD_SIGNATURE] = {401, "bad_signature"},
    [REFUSE_FORBIDDEN] = {403, "forbidden"},
    [REFUSE_NOT_MEMBER] = {403, "not_member"},
    [REFUSE_NOT_MASTER] = {403, "not_master"},
    [REFUSE_PASSWORD_REQUIRED] = {403, "password_required"},
    [REFUSE_WRONG_PASSWORD] = {403, "wrong_password"},
    [REFUSE_NOT_FOUND] = {404, "not_found"},
    [REFUSE_NO_SUCH_MEMBER] = {404, "not_member"},
    [REFUSE_METHOD] = {405, "method"},
    [REFUSE_CONFLICT] = {409, "conflict"},
    [REFUSE_TXN_CONFLICT] = {409, "txn_conflict"},
    [REFUSE_ROOM_FULL] = {409, "room_full"},
    [REFUSE_STALE_EPOCH] = {409, "stale_epoch"},
    [REFUSE_TOO_LARGE] = {413, "too_large"},
    [REFUSE_RATE_LIMITED] = {429, "rate_limited"},
    [REFUSE_INTERNAL] = {500, "internal"},
    [REFUSE_BAD_HOST_REPLY] = {502, "bad_host_reply"},
    [REFUSE_BAD_PEER_REPLY] = {502, "bad_peer_reply"},
    [REFUSE_BUSY] = {503, "busy"},
    [REFUSE_UNAVAILABLE] = {503, "unavailable"},
    [REFUSE_RELAYED] = {502, "bad_host_reply"}, /* only without the relayed status */
};

static unsigned idx(rooms_refusal why)
{
    return (unsigned)why < sizeof refusals / sizeof refusals[0] ? (unsigned)why : (unsigned)REFUSE_INTERNAL;
}

int rooms_refusal_status(rooms_refusal why)
{
    return refusals[idx(why)].status;
}

const char *rooms_refusal_code(rooms_refusal why)
{
    return refusals[idx(why)].code;
}

int rooms_refuse(json_t **reply, rooms_refusal why, const char *msg)
{
    *reply = json_pack("{s:{s:s,s:s}}", "error", "code", rooms_refusal_code(why), "message", msg);
    return rooms_refusal_status(why);
}

rooms_refusal rooms_decline(rooms_answer *a, rooms_refusal why, const char *msg)
{
    json_decref(a->body);
    a->body = json_pack("{s:s}", "message", msg);
    return why;
}

rooms_refusal rooms_relay(rooms_answer *a, int status, json_t *hreply)
{
    json_decref(a->body);
    a->body = hreply;
    if (status == 200)
        return REFUSE_NONE;
    const char *code = json_string_value(json_object_get(json_object_get(hreply, "error"), "code"));
    a->relayed.status = status;
    snprintf(a->relayed.code, sizeof a->relayed.code, "%s", code ? code : "");
    return REFUSE_RELAYED;
}

/* {"error": {code, message}} and the members of detail beside it. */
static json_t *error_body(rooms_refusal why, json_t *detail)
{
    const char *msg = json_string_value(json_object_get(detail, "message"));
    json_t *out = json_pack("{s:{s:s,s:s}}", "error", "code", rooms_refusal_code(why), "message", msg ? msg : "");
    const char *k;
    json_t *v;
    json_object_foreach(detail, k, v)
    {
        if (out && strcmp(k, "message") != 0)
            json_object_set(out, k, v);
    }
    return out;
}

int rooms_answer_http(rooms_refusal why, rooms_answer *a, json_t **body)
{
    int status;
    if (why == REFUSE_NONE) {
        status = a->created ? 201 : a->pending ? 202 : a->stale ? 503 : 200;
        *body = a->body;
    } else if (why == REFUSE_RELAYED && a->relayed.status >= 100 && a->relayed.status <= 599) {
        status = a->relayed.status;
        *body = a->body;
    } else {
        status = rooms_refusal_status(why == REFUSE_RELAYED ? REFUSE_BAD_HOST_REPLY : why);
        *body = error_body(why == REFUSE_RELAYED ? REFUSE_BAD_HOST_REPLY : why, a->body);
        json_decref(a->body);
    }
    a->body = NULL;
    return status;
}
