/* refusal.h - why the rooms refuse a request, and the ONE table that maps
 * each refusal to its HTTP status and JSON error code
 * ({"error": {"code", "message"}}, api-spec/openapi.yaml). */
#ifndef NATTER_REFUSAL_H
#define NATTER_REFUSAL_H

#include <jansson.h>

typedef enum {
    REFUSE_BAD_REQUEST,       /* 400 bad_request */
    REFUSE_UNAUTHENTICATED,   /* 401 unauthenticated */
    REFUSE_BAD_KEY,           /* 401 bad_key: a pub that is not the peer's */
    REFUSE_BAD_SIGNATURE,     /* 401 bad_signature */
    REFUSE_FORBIDDEN,         /* 403 forbidden */
    REFUSE_NOT_MEMBER,        /* 403 not_member */
    REFUSE_NOT_MASTER,        /* 403 not_master */
    REFUSE_PASSWORD_REQUIRED, /* 403 password_required */
    REFUSE_WRONG_PASSWORD,    /* 403 wrong_password */
    REFUSE_NOT_FOUND,         /* 404 not_found */
    REFUSE_NO_SUCH_MEMBER,    /* 404 not_member: kick of a peer who is none */
    REFUSE_METHOD,            /* 405 method */
    REFUSE_CONFLICT,          /* 409 conflict */
    REFUSE_ROOM_FULL,         /* 409 room_full */
    REFUSE_STALE_EPOCH,       /* 409 stale_epoch (the reply also carries the current epoch) */
    REFUSE_TOO_LARGE,         /* 413 too_large */
    REFUSE_RATE_LIMITED,      /* 429 rate_limited */
    REFUSE_INTERNAL,          /* 500 internal */
    REFUSE_BAD_HOST_REPLY,    /* 502 bad_host_reply */
    REFUSE_BAD_PEER_REPLY,    /* 502 bad_peer_reply */
    REFUSE_BUSY,              /* 503 busy */
    REFUSE_UNAVAILABLE,       /* 503 unavailable: the room's host could not be reached */
} rooms_refusal;

int rooms_refusal_status(rooms_refusal why);
const char *rooms_refusal_code(rooms_refusal why);
/* Set *reply to the error object of why with msg; returns its status. */
int rooms_refuse(json_t **reply, rooms_refusal why, const char *msg);

#endif
