/* discovery_packet.c - see discovery_packet.h and api-spec/protocol.md. */
#include "server/discovery/discovery_packet.h"

#include <assert.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "common/text.h"

/* Offsets of the fixed header. */
#define OFF_MAGIC 0
#define OFF_VERSION 4
#define OFF_TYPE 5
#define OFF_ID 6
#define OFF_INSTANCE (OFF_ID + IDENTITY_ID_LEN)
#define OFF_TIME (OFF_INSTANCE + DISCOVERY_INSTANCE_LEN)
static_assert(OFF_TIME + 8 == DISCOVERY_HEADER_LEN, "header layout");
static_assert(DISCOVERY_HEADER_LEN == 62, "header is 62 bytes as documented");
static_assert(DISCOVERY_NAME_MAX <= 255, "name length is one byte");
static_assert(DISCOVERY_KEY_MAX <= 0xFFFF, "key length is two bytes");

static const char *const drop_names[DISC__COUNT] = {
    [DISC_OK] = "ok",
    [DISC_TOO_BIG] = "too_big",
    [DISC_RATE_LIMITED] = "rate_limited",
    [DISC_TRUNCATED] = "truncated",
    [DISC_BAD_MAGIC] = "bad_magic",
    [DISC_BAD_VERSION] = "bad_version",
    [DISC_BAD_TYPE] = "bad_type",
    [DISC_BAD_NAME] = "bad_name",
    [DISC_BAD_PORT] = "bad_port",
    [DISC_BAD_KEY_LEN] = "bad_key_len",
    [DISC_BAD_SIG_LEN] = "bad_sig_len",
    [DISC_TRAILING] = "trailing",
    [DISC_OWN] = "own",
    [DISC_TIME_SKEW] = "time_skew",
    [DISC_REPLAY] = "replay",
    [DISC_ID_MISMATCH] = "id_mismatch",
    [DISC_BAD_KEY] = "bad_key",
    [DISC_KEY_UNAVAILABLE] = "key_unavailable",
    [DISC_BUSY] = "busy",
    [DISC_BAD_SIGNATURE] = "bad_signature",
    [DISC_STORE] = "store",
    [DISC_PEER_CAP] = "peer_cap",
    [DISC_BAD_ADDR] = "bad_addr",
};

const char *discovery_drop_str(discovery_drop d)
{
    if ((unsigned)d >= DISC__COUNT || !drop_names[d])
        return "unknown";
    return drop_names[d];
}

/* --- byte helpers ----------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* A cursor that refuses to read past the end. */
typedef struct {
    const uint8_t *p;
    size_t left;
} reader;

static const uint8_t *take(reader *r, size_t n)
{
    if (r->left < n)
        return NULL;
    const uint8_t *at = r->p;
    r->p += n;
    r->left -= n;
    return at;
}

/* --- names ------------------------------------------------------------ */

/* The one rule for display names (text_name_valid): a name ends up on
 * people's terminals, and must not look like another. */
bool discovery_packet_name_ok(const char *str, size_t len)
{
    return str && len <= DISCOVERY_NAME_MAX && text_name_valid(str, len);
}

/* --- decode ----------------------------------------------------------- */

static bool sig_len_ok(size_t n) { return n == 256 || n == 384 || n == 512; }

static discovery_drop decode_announce(reader *r, discovery_packet *out)
{
    const uint8_t *p;
    if (!(p = take(r, 4 + 2 + 1)))
        return DISC_TRUNCATED;
    out->seq = get32(p);
    out->peer_port = get16(p + 4);
    size_t name_len = p[6];
    if (out->peer_port == 0)
        return DISC_BAD_PORT;
    if (!(p = take(r, name_len)))
        return DISC_TRUNCATED;
    if (!discovery_packet_name_ok((const char *)p, name_len))
        return DISC_BAD_NAME;
    memcpy(out->name, p, name_len);
    out->name[name_len] = '\0';
    if (out->type == DISCOVERY_ANNOUNCE_EXT) {
        if (!(p = take(r, 2)))
            return DISC_TRUNCATED;
        out->flags = p[0];
        if (p[1] != 0 && p[1] != DISCOVERY_ADDR_LEN)
            return DISC_BAD_ADDR;
        out->has_addr = p[1] != 0;
        if (out->has_addr && !(p = take(r, DISCOVERY_ADDR_LEN)))
            return DISC_TRUNCATED;
        if (out->has_addr)
            memcpy(out->addr, p, DISCOVERY_ADDR_LEN);
    }

    if (!(p = take(r, 2)))
        return DISC_TRUNCATED;
    out->key_len = get16(p);
    if (out->key_len > DISCOVERY_KEY_MAX)
        return DISC_BAD_KEY_LEN;
    if (!(p = take(r, out->key_len)))
        return DISC_TRUNCATED;
    out->key = out->key_len ? p : NULL;

    out->signed_len = (size_t)(r->p - out->raw);
    if (!(p = take(r, 2)))
        return DISC_TRUNCATED;
    out->sig_len = get16(p);
    if (!sig_len_ok(out->sig_len))
        return DISC_BAD_SIG_LEN;
    if (!(out->sig = take(r, out->sig_len)))
        return DISC_TRUNCATED;
    return DISC_OK;
}

discovery_drop discovery_packet_decode(const uint8_t *buf, size_t len, discovery_packet *out)
{
    memset(out, 0, sizeof *out);
    out->raw = buf;
    if (len > DISCOVERY_PACKET_MAX)
        return DISC_TOO_BIG;
    reader r = {buf, len};
    const uint8_t *h;
    /* Magic and version first, each on its own, so that a short packet of
     * some other protocol is reported as what it is. */
    if (len < DISCOVERY_MAGIC_LEN)
        return len && memcmp(buf, DISCOVERY_MAGIC, len) ? DISC_BAD_MAGIC : DISC_TRUNCATED;
    if (memcmp(buf, DISCOVERY_MAGIC, DISCOVERY_MAGIC_LEN) != 0)
        return DISC_BAD_MAGIC;
    if (len > OFF_VERSION && buf[OFF_VERSION] != DISCOVERY_VERSION)
        return DISC_BAD_VERSION;
    if (len > OFF_TYPE && buf[OFF_TYPE] != DISCOVERY_ANNOUNCE && buf[OFF_TYPE] != DISCOVERY_QUERY &&
        buf[OFF_TYPE] != DISCOVERY_ANNOUNCE_EXT)
        return DISC_BAD_TYPE;
    if (!(h = take(&r, DISCOVERY_HEADER_LEN)))
        return DISC_TRUNCATED;
    out->type = (discovery_packet_type)h[OFF_TYPE];
    memcpy(out->node_id, h + OFF_ID, IDENTITY_ID_LEN);
    memcpy(out->instance_id, h + OFF_INSTANCE, DISCOVERY_INSTANCE_LEN);
    out->timestamp_ms = (int64_t)get64(h + OFF_TIME);

    if (out->type != DISCOVERY_QUERY) {
        discovery_drop d = decode_announce(&r, out);
        if (d != DISC_OK)
            return d;
    }
    return r.left ? DISC_TRAILING : DISC_OK;
}

discovery_drop discovery_packet_check_time(const discovery_packet *p, int64_t now_ms, int64_t window_ms)
{
    /* Compare without overflow: a hostile timestamp may be INT64_MIN. */
    int64_t t = p->timestamp_ms;
    if (t < now_ms - window_ms || t > now_ms + window_ms)
        return DISC_TIME_SKEW;
    return DISC_OK;
}

static bool key_matches_id(const uint8_t *der, size_t len, const uint8_t id[static IDENTITY_ID_LEN])
{
    uint8_t h[32];
    if (mbedtls_sha256_ret(der, len, h, 0) != 0)
        return false;
    return memcmp(h, id, IDENTITY_ID_LEN) == 0;
}

discovery_drop discovery_packet_check_binding(const discovery_packet *p)
{
    if (!p->key)
        return DISC_KEY_UNAVAILABLE;
    return key_matches_id(p->key, p->key_len, p->node_id) ? DISC_OK : DISC_ID_MISMATCH;
}

discovery_drop discovery_packet_check_key(const discovery_packet *p, identity **out)
{
    identity *k = NULL;
    if (out)
        *out = NULL;
    if (!p->key)
        return DISC_KEY_UNAVAILABLE;
    if (!key_matches_id(p->key, p->key_len, p->node_id))
        return DISC_ID_MISMATCH;
    if (identity_from_der(&k, p->key, p->key_len) != NT_OK)
        return DISC_BAD_KEY;
    if (identity_bits(k) / 8 != p->sig_len) {
        identity_free(k);
        return DISC_BAD_SIG_LEN;
    }
    if (out)
        *out = k;
    else
        identity_free(k);
    return DISC_OK;
}

discovery_drop discovery_packet_verify(const discovery_packet *p, const identity *key)
{
    if (p->type == DISCOVERY_QUERY || !key)
        return DISC_BAD_SIGNATURE;
    if (memcmp(identity_id(key), p->node_id, IDENTITY_ID_LEN) != 0)
        return DISC_ID_MISMATCH;
    if (identity_bits(key) / 8 != p->sig_len)
        return DISC_BAD_SIG_LEN;
    if (sign_verify(key, SIGN_ANNOUNCE, p->raw, p->signed_len, p->sig, p->sig_len) != NT_OK)
        return DISC_BAD_SIGNATURE;
    return DISC_OK;
}

static bool loopback(const uint8_t a[static DISCOVERY_ADDR_LEN]) { return a[0] == 127; }

discovery_drop discovery_packet_address(const discovery_packet *p, const uint8_t src[static DISCOVERY_ADDR_LEN],
                                        uint8_t out[static DISCOVERY_ADDR_LEN])
{
    const uint8_t *use = src;
    if (p->has_addr && memcmp(p->addr, src, DISCOVERY_ADDR_LEN) != 0) {
        if (!loopback(p->addr) || !loopback(src))
            return DISC_BAD_ADDR;
        use = p->addr;
    }
    memcpy(out, use, DISCOVERY_ADDR_LEN);
    return DISC_OK;
}

/* --- encode ----------------------------------------------------------- */

static void put_header(uint8_t *out, discovery_packet_type type, const uint8_t *node_id,
                       const uint8_t *instance_id, int64_t ts)
{
    memcpy(out + OFF_MAGIC, DISCOVERY_MAGIC, DISCOVERY_MAGIC_LEN);
    out[OFF_VERSION] = DISCOVERY_VERSION;
    out[OFF_TYPE] = (uint8_t)type;
    memcpy(out + OFF_ID, node_id, IDENTITY_ID_LEN);
    memcpy(out + OFF_INSTANCE, instance_id, DISCOVERY_INSTANCE_LEN);
    put64(out + OFF_TIME, (uint64_t)ts);
}

nt_err discovery_packet_encode_query(const uint8_t node_id[static IDENTITY_ID_LEN],
                                     const uint8_t instance_id[static DISCOVERY_INSTANCE_LEN],
                                     int64_t timestamp_ms, uint8_t *out, size_t cap, size_t *len)
{
    if (cap < DISCOVERY_QUERY_LEN)
        return NT_ERR_TOO_BIG;
    put_header(out, DISCOVERY_QUERY, node_id, instance_id, timestamp_ms);
    *len = DISCOVERY_QUERY_LEN;
    return NT_OK;
}

/* Bytes of the type 3 fields (flags, addr_len, addr); 0 for type 1. */
static size_t ext_len(const discovery_announce_fields *f)
{
    return f->flags || f->has_addr ? 2 + (f->has_addr ? DISCOVERY_ADDR_LEN : 0) : 0;
}

nt_err discovery_packet_encode_unsigned(const uint8_t node_id[static IDENTITY_ID_LEN],
                                        const discovery_announce_fields *f, const uint8_t *key, size_t key_len,
                                        uint8_t *out, size_t cap, size_t *len)
{
    size_t name_len = f->name ? strlen(f->name) : 0;
    if (!discovery_packet_name_ok(f->name, name_len) || f->peer_port == 0 || key_len > DISCOVERY_KEY_MAX ||
        (key_len && !key))
        return NT_ERR_INVALID;
    bool ext = f->flags || f->has_addr;
    size_t need = DISCOVERY_HEADER_LEN + 4 + 2 + 1 + name_len + ext_len(f) + 2 + key_len;
    if (cap < need)
        return NT_ERR_TOO_BIG;
    put_header(out, ext ? DISCOVERY_ANNOUNCE_EXT : DISCOVERY_ANNOUNCE, node_id, f->instance_id, f->timestamp_ms);
    uint8_t *p = out + DISCOVERY_HEADER_LEN;
    put32(p, f->seq);
    put16(p + 4, f->peer_port);
    p[6] = (uint8_t)name_len;
    p += 7;
    memcpy(p, f->name, name_len);
    p += name_len;
    if (ext) {
        *p++ = f->flags;
        *p++ = f->has_addr ? DISCOVERY_ADDR_LEN : 0;
        if (f->has_addr)
            memcpy(p, f->addr, DISCOVERY_ADDR_LEN);
        p += f->has_addr ? DISCOVERY_ADDR_LEN : 0;
    }
    put16(p, (uint16_t)key_len);
    p += 2;
    if (key_len)
        memcpy(p, key, key_len);
    *len = need;
    return NT_OK;
}

nt_err discovery_packet_encode_announce(const identity *self, const discovery_announce_fields *f, uint8_t *out,
                                        size_t cap, size_t *len)
{
    uint8_t der[IDENTITY_PUB_DER_MAX];
    size_t der_len = 0, head_len = 0, sig_len = 0;
    size_t want_sig = identity_bits(self) / 8;
    nt_err rc = identity_public_der(self, der, sizeof der, &der_len);
    if (rc)
        return rc;
    size_t name_len = f->name ? strlen(f->name) : 0;
    /* Everything but the key: header, seq, port, name, two length fields
     * and the signature. The key goes in only if the whole fits. */
    size_t fixed = DISCOVERY_HEADER_LEN + 4 + 2 + 1 + name_len + ext_len(f) + 2 + 2 + want_sig;
    if (fixed + der_len > DISCOVERY_PACKET_MAX)
        der_len = 0;
    if (cap > DISCOVERY_PACKET_MAX)
        cap = DISCOVERY_PACKET_MAX;
    rc = discovery_packet_encode_unsigned(identity_id(self), f, der, der_len, out, cap, &head_len);
    if (rc)
        return rc;
    if (cap < head_len + 2 + want_sig)
        return NT_ERR_TOO_BIG;
    rc = sign_create(self, SIGN_ANNOUNCE, out, head_len, out + head_len + 2, cap - head_len - 2, &sig_len);
    if (rc)
        return rc;
    if (sig_len != want_sig)
        return NT_ERR_CRYPTO;
    put16(out + head_len, (uint16_t)sig_len);
    *len = head_len + 2 + sig_len;
    return NT_OK;
}
