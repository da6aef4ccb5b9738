/* refusal.c - see refusal.h. */
#include "server/rooms/refusal.h"

static const struct {
    int status;
    const char *code;
} refusals[] = {
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
    [REFUSE_ROOM_FULL] = {409, "room_full"},
    [REFUSE_STALE_EPOCH] = {409, "stale_epoch"},
    [REFUSE_TOO_LARGE] = {413, "too_large"},
    [REFUSE_RATE_LIMITED] = {429, "rate_limited"},
    [REFUSE_INTERNAL] = {500, "internal"},
    [REFUSE_BAD_HOST_REPLY] = {502, "bad_host_reply"},
    [REFUSE_BAD_PEER_REPLY] = {502, "bad_peer_reply"},
    [REFUSE_BUSY] = {503, "busy"},
    [REFUSE_UNAVAILABLE] = {503, "unavailable"},
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
