/* refusal.h - why the rooms refuse a request, and the ONE table that maps
 * each refusal to its HTTP status and JSON error code
 * ({"error": {"code", "message"}}, api-spec/openapi.yaml).
 *
 * The client and peer APIs' domain functions return a rooms_refusal and
 * fill a rooms_answer; the route handlers turn it into HTTP with
 * rooms_answer_http. A status that travels inside a reply body (a batch's
 * per-message status, the answer the host's own outbox reads) is taken
 * from this table where that JSON is built. */
#ifndef NATTER_REFUSAL_H
#define NATTER_REFUSAL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

typedef enum {
    REFUSE_NONE,              /* not refused: done */
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
    REFUSE_TXN_CONFLICT,      /* 409 txn_conflict: the txn id holds another text */
    REFUSE_ROOM_FULL,         /* 409 room_full */
    REFUSE_STALE_EPOCH,       /* 409 stale_epoch (the reply also carries the current epoch) */
    REFUSE_TOO_LARGE,         /* 413 too_large */
    REFUSE_RATE_LIMITED,      /* 429 rate_limited */
    REFUSE_INTERNAL,          /* 500 internal */
    REFUSE_BAD_HOST_REPLY,    /* 502 bad_host_reply */
    REFUSE_BAD_PEER_REPLY,    /* 502 bad_peer_reply */
    REFUSE_BUSY,              /* 503 busy */
    REFUSE_UNAVAILABLE,       /* 503 unavailable: the room's host could not be reached */
    REFUSE_RELAYED,           /* another node's answer passed on: rooms_answer.relayed */
} rooms_refusal;

/* Another node's answer passed on as it came: its status and error code
 * from the wire ("" when it sent none). Its body travels unchanged. */
typedef struct {
    int status;
    char code[32];
} rooms_relayed;

/* What a client or peer API call answers. */
typedef struct {
    json_t *body;          /* done: the answer; refused: {"message", and any
                            * members that go beside "error"}; relayed: the
                            * other node's body. Owned by the answer. */
    bool created;          /* done, a new room: 201 */
    bool pending;          /* done, a message not yet sent: 202 */
    bool stale;            /* done from what this node holds, the host
                            * not reached: 503 */
    rooms_relayed relayed; /* REFUSE_RELAYED */
    /* done, nothing to answer yet (body NULL): wait on q after generation
     * gen for up to ms, then ask again with "since" (events) at cursor */
    struct {
        struct waitq *q;
        uint64_t gen;
        unsigned ms;
        int64_t cursor;
        struct rooms_pending *pending; /* a submission waiting for its commit (rooms.h) */
    } wait;
} rooms_answer;

int rooms_refusal_status(rooms_refusal why);
const char *rooms_refusal_code(rooms_refusal why);
/* Set *reply to the error object of why with msg; returns its status
 * (for route handlers that answer before any domain function runs). */
int rooms_refuse(json_t **reply, rooms_refusal why, const char *msg);

/* Refuse a client API call: a->body = {"message": msg}; returns why. */
rooms_refusal rooms_decline(rooms_answer *a, rooms_refusal why, const char *msg);
/* Pass on another node's answer (hreply stolen): REFUSE_NONE when status
 * is 200, else REFUSE_RELAYED with its status and code. */
rooms_refusal rooms_relay(rooms_answer *a, int status, json_t *hreply);
/* The HTTP status of the answer why, a, and its body into *body (taken
 * from a; for a refusal {"error": {"code", "message"}} and the other
 * members of a->body after it). */
int rooms_answer_http(rooms_refusal why, rooms_answer *a, json_t **body);

#endif
