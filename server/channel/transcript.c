/* transcript.c - see transcript.h and api-spec/protocol.md. */
#include "server/channel/transcript.h"

#include <stdbool.h>
#include <string.h>

typedef struct {
    uint8_t *p;
    size_t cap, len;
    bool over;
} writer;

static void put(writer *w, const void *data, size_t n)
{
    if (w->over || n > w->cap - w->len) {
        w->over = true;
        return;
    }
    if (n)
        memcpy(w->p + w->len, data, n);
    w->len += n;
}

static void put_u8(writer *w, uint8_t v)
{
    put(w, &v, 1);
}

static void put_be16(writer *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(w, b, 2);
}

static void put_be64(writer *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    put(w, b, 8);
}

/* lp(x) = be16(len) || x; a field of 64 KiB or more cannot be encoded. */
static void put_lp(writer *w, const void *data, size_t n)
{
    if (n > UINT16_MAX || (n && !data)) {
        w->over = true;
        return;
    }
    put_be16(w, (uint16_t)n);
    put(w, data, n);
}

static void put_str(writer *w, const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n > max) {
        w->over = true;
        return;
    }
    put_lp(w, s, n);
}

static void write_request(writer *w, const hs_request *rq)
{
    put(w, TRANSCRIPT_MAGIC, strlen(TRANSCRIPT_MAGIC));
    put_u8(w, rq->version);
    put_u8(w, rq->mode);
    put_u8(w, rq->curve);
    put_lp(w, rq->initiator_key, rq->initiator_key_len);
    put(w, rq->initiator_id, IDENTITY_ID_LEN);
    put(w, rq->responder_id, IDENTITY_ID_LEN);
    put_lp(w, rq->ephemeral, rq->ephemeral_len);
    put(w, rq->nonce, HS_NONCE_LEN);
    put_be64(w, (uint64_t)rq->timestamp);
    put_str(w, rq->name, HS_NAME_MAX);
    put_be16(w, rq->port);
}

static void write_core(writer *w, const hs_request *rq, const uint8_t *sig, size_t sig_len, const hs_reply *rp)
{
    write_request(w, rq);
    put_lp(w, sig, sig_len);
    put(w, rp->session_id, HS_SESSION_ID_LEN);
    put_lp(w, rp->kx, rp->kx_len);
    put(w, rp->nonce, HS_NONCE_LEN);
    put_be64(w, (uint64_t)rp->timestamp);
    put_be64(w, rp->idle_timeout);
    put_be64(w, (uint64_t)rp->expires_at);
    put_str(w, rp->name, HS_NAME_MAX);
}

static nt_err finish(const writer *w, size_t *len)
{
    if (w->over)
        return NT_ERR_TOO_BIG;
    *len = w->len;
    return NT_OK;
}

nt_err transcript_request(const hs_request *rq, uint8_t *out, size_t cap, size_t *len)
{
    writer w = {out, cap, 0, false};
    write_request(&w, rq);
    return finish(&w, len);
}

nt_err transcript_core(const hs_request *rq, const uint8_t *sig, size_t sig_len, const hs_reply *rp,
                       uint8_t *out, size_t cap, size_t *len)
{
    writer w = {out, cap, 0, false};
    write_core(&w, rq, sig, sig_len, rp);
    return finish(&w, len);
}

nt_err transcript_reply(const hs_request *rq, const uint8_t *sig, size_t sig_len, const hs_reply *rp,
                        uint8_t *out, size_t cap, size_t *len)
{
    writer w = {out, cap, 0, false};
    write_core(&w, rq, sig, sig_len, rp);
    put_lp(&w, rp->auth_sealed, rp->auth_sealed_len);
    return finish(&w, len);
}

const char *transcript_mode_name(uint8_t mode)
{
    switch (mode) {
    case HS_MODE_ECDH: return "ecdh";
    case HS_MODE_RSA: return "rsa";
    default: return NULL;
    }
}

uint8_t transcript_mode_parse(const char *name)
{
    if (!name)
        return 0;
    if (!strcmp(name, "ecdh"))
        return HS_MODE_ECDH;
    if (!strcmp(name, "rsa"))
        return HS_MODE_RSA;
    return 0;
}
