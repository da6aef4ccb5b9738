/* envelope.c - see envelope.h. */
#include "server/channel/envelope.h"

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <mbedtls/platform_util.h>
#include "common/json.h"
#include "crypto/encoding.h"

#define AD_LABEL "natter/v1/envelope"
#define SID_HEX_LEN (2 * HS_SESSION_ID_LEN)

nt_err envelope_ad(envelope_dir dir, const uint8_t sid[static HS_SESSION_ID_LEN], uint64_t seq, const char *method,
                   const char *path, const char *query, int status, uint8_t out[static ENVELOPE_AD_MAX], size_t *len)
{
    size_t ml = method ? strlen(method) : 0, pl = path ? strlen(path) : 0, ql = query ? strlen(query) : 0;
    if (!ml || ml > ENVELOPE_METHOD_MAX || !pl || pl > ENVELOPE_PATH_MAX || ql > ENVELOPE_QUERY_MAX || status < 0 ||
        status > 999)
        return NT_ERR_INVALID;
    size_t n = 0;
    memcpy(out, AD_LABEL, strlen(AD_LABEL));
    n += strlen(AD_LABEL);
    out[n++] = 0;
    out[n++] = (uint8_t)dir;
    memcpy(out + n, sid, HS_SESSION_ID_LEN);
    n += HS_SESSION_ID_LEN;
    for (int i = 0; i < 8; i++)
        out[n++] = (uint8_t)(seq >> (56 - 8 * i));
    out[n++] = (uint8_t)(ml >> 8);
    out[n++] = (uint8_t)ml;
    memcpy(out + n, method, ml);
    n += ml;
    out[n++] = (uint8_t)(pl >> 8);
    out[n++] = (uint8_t)pl;
    memcpy(out + n, path, pl);
    n += pl;
    out[n++] = (uint8_t)(ql >> 8);
    out[n++] = (uint8_t)ql;
    if (ql)
        memcpy(out + n, query, ql);
    n += ql;
    out[n++] = (uint8_t)(status >> 8);
    out[n++] = (uint8_t)status;
    *len = n;
    return NT_OK;
}

static char *b64(const uint8_t *in, size_t n)
{
    size_t cap = encoding_b64_len(n, B64_STD);
    char *s = malloc(cap);
    if (s && encoding_b64_encode(in, n, B64_STD, s, cap)) {
        free(s);
        s = NULL;
    }
    return s;
}

nt_err envelope_seal(const seal_key *k, envelope_dir dir, const uint8_t sid[static HS_SESSION_ID_LEN], uint64_t seq,
                     const char *method, const char *path, const char *query, int status, const uint8_t *confirm,
                     const uint8_t *pt, size_t pt_len, char **json)
{
    uint8_t ad[ENVELOPE_AD_MAX];
    size_t ad_len = 0, box_len = 0;
    uint8_t *box = NULL;
    char *box64 = NULL, *conf64 = NULL;
    json_t *o = NULL;
    char sidhex[SID_HEX_LEN + 1];
    *json = NULL;
    if (dir == ENVELOPE_C2S)
        status = 0;
    if (pt_len > ENVELOPE_MAX_PLAIN || seq >= (UINT64_C(1) << 63))
        return NT_ERR_TOO_BIG;
    nt_err rc = envelope_ad(dir, sid, seq, method, path, query, status, ad, &ad_len);
    if (rc)
        return rc;
    rc = NT_ERR_NOMEM;
    size_t cap = seal_len(pt_len);
    if (!(box = malloc(cap)))
        goto out;
    static const uint8_t empty[1];
    if ((rc = seal_encrypt(k, ad, ad_len, pt ? pt : empty, pt_len, box, cap, &box_len)))
        goto out;
    rc = NT_ERR_NOMEM;
    if (!(box64 = b64(box, box_len)))
        goto out;
    if (confirm && dir == ENVELOPE_C2S && !(conf64 = b64(confirm, KEYSCHED_CONFIRM_LEN)))
        goto out;
    if (encoding_hex_encode(sid, HS_SESSION_ID_LEN, sidhex, sizeof(sidhex)))
        goto out;
    o = json_pack("{s:i, s:s, s:I, s:s}", "v", ENVELOPE_VERSION, "session", sidhex, "seq", (json_int_t)seq, "box",
                  box64);
    if (!o)
        goto out;
    if (dir == ENVELOPE_S2C && json_object_set_new(o, "status", json_integer(status)))
        goto out;
    if (conf64 && json_object_set_new(o, "confirm", json_string(conf64)))
        goto out;
    if (dir == ENVELOPE_C2S && query && *query && json_object_set_new(o, "query", json_string(query)))
        goto out;
    if (!(*json = json_dumps(o, JSON_COMPACT)))
        goto out;
    rc = NT_OK;
out:
    json_decref(o);
    free(box);
    free(box64);
    free(conf64);
    return rc;
}

/* A length some seal has: version, IV, whole blocks, MAC. The length is
 * public, so a box no seal can be is malformed (400) wherever it is short
 * or misaligned, before any session lookup; one of a possible length that
 * does not open is bad_envelope (401). */
static bool box_len_possible(size_t n)
{
    return n >= SEAL_MIN_LEN && (n - (SEAL_MIN_LEN - SEAL_BLOCK)) % SEAL_BLOCK == 0;
}

/* public: the box is ciphertext, decoded without the constant-time cost */
static nt_err get_b64(json_t *v, uint8_t *out, size_t cap, size_t *out_len, bool public)
{
    if (!json_is_string(v))
        return NT_ERR_INVALID;
    return (public ? encoding_b64_decode_public : encoding_b64_decode)(json_string_value(v), json_string_length(v),
                                                                      B64_STD, out, cap, out_len)
               ? NT_ERR_INVALID
               : NT_OK;
}

nt_err envelope_parse(const char *text, size_t len, envelope_dir dir, envelope *e)
{
    memset(e, 0, sizeof(*e));
    if (!text || len > ENVELOPE_MAX_JSON)
        return NT_ERR_INVALID;
    nt_err rc = NT_ERR_INVALID;
    json_error_t jerr;
    json_t *o = json_load_fast(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o))
        goto out;
    size_t expect = 4;
    json_t *v = json_object_get(o, "v"), *sid = json_object_get(o, "session"), *seq = json_object_get(o, "seq"),
           *box = json_object_get(o, "box");
    if (!json_is_integer(v) || json_integer_value(v) != ENVELOPE_VERSION)
        goto out;
    if (!json_is_string(sid) || json_string_length(sid) != SID_HEX_LEN)
        goto out;
    size_t got = 0;
    if (encoding_hex_decode(json_string_value(sid), SID_HEX_LEN, e->session_id, HS_SESSION_ID_LEN, &got) ||
        got != HS_SESSION_ID_LEN)
        goto out;
    if (!json_is_integer(seq) || json_integer_value(seq) < 0)
        goto out;
    e->seq = (uint64_t)json_integer_value(seq);
    if (!json_is_string(box) || json_string_length(box) > ENVELOPE_MAX_JSON)
        goto out;
    size_t cap = json_string_length(box) / 4 * 3 + 3;
    if (cap < SEAL_MIN_LEN || !(e->box = malloc(cap)))
        goto out;
    if (get_b64(box, e->box, cap, &e->box_len, true) || !box_len_possible(e->box_len))
        goto out;
    if (dir == ENVELOPE_S2C) {
        json_t *st = json_object_get(o, "status");
        if (!json_is_integer(st) || json_integer_value(st) < 100 || json_integer_value(st) > 599)
            goto out;
        e->status = (int)json_integer_value(st);
        expect++;
    } else {
        json_t *q = json_object_get(o, "query");
        if (q) {
            if (!json_is_string(q) || json_string_length(q) > ENVELOPE_QUERY_MAX ||
                strlen(json_string_value(q)) != json_string_length(q))
                goto out;
            memcpy(e->query, json_string_value(q), json_string_length(q) + 1);
            expect++;
        }
        json_t *cf = json_object_get(o, "confirm");
        if (cf) {
            size_t cl = 0;
            if (get_b64(cf, e->confirm, sizeof(e->confirm), &cl, false) || cl != KEYSCHED_CONFIRM_LEN)
                goto out;
            e->has_confirm = true;
            expect++;
        }
    }
    if (json_object_size(o) != expect)
        goto out;
    rc = NT_OK;
out:
    json_decref(o);
    if (rc)
        envelope_clear(e);
    return rc;
}

nt_err envelope_open(const seal_key *k, const envelope *e, envelope_dir dir, const char *method, const char *path,
                     const char *query, uint8_t **pt, size_t *pt_len)
{
    uint8_t ad[ENVELOPE_AD_MAX];
    size_t ad_len = 0;
    *pt = NULL;
    *pt_len = 0;
    if (dir == ENVELOPE_C2S)
        query = e->query;
    if (envelope_ad(dir, e->session_id, e->seq, method, path, query, dir == ENVELOPE_S2C ? e->status : 0, ad,
                    &ad_len))
        return NT_ERR_AUTH;
    uint8_t *buf = malloc(e->box_len + 1);
    if (!buf)
        return NT_ERR_NOMEM;
    size_t n = 0;
    nt_err rc = seal_open(k, ad, ad_len, e->box, e->box_len, buf, e->box_len, &n);
    if (rc) {
        mbedtls_platform_zeroize(buf, e->box_len + 1);
        free(buf);
        return NT_ERR_AUTH;
    }
    buf[n] = 0;
    *pt = buf;
    *pt_len = n;
    return NT_OK;
}

void envelope_clear(envelope *e)
{
    if (!e)
        return;
    free(e->box);
    mbedtls_platform_zeroize(e, sizeof(*e));
}
