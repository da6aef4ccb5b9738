/* peers.c - see peers.h. */
#include "peers.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../common/text.h"
#include "../crypto/encoding.h"

static_assert(PEERS_NAME_MAX == TEXT_NAME_MAX, "a peer's name is a display name");

#define PEER_COLUMNS                                                                                   \
    "id, name, pub_der, first_seen, last_seen, trusted, delivery, source, instance_id, name_collision, label_hex"

/* A name is shown to people: text_name_valid (no control or invisible
 * characters, no surrounding space). */
static bool name_ok(const char *s)
{
    return text_name_valid(s, strlen(s));
}

static bool source_ok(const char *s)
{
    return s && (!strcmp(s, "manual") || !strcmp(s, "multicast") || !strcmp(s, "handshake"));
}

static bool addr_ok(const char *a)
{
    size_t n = strlen(a);
    const char *colon = strrchr(a, ':');
    if (!n || n >= PEERS_ADDR_MAX || !colon || colon == a || !colon[1])
        return false;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    long port = strtol(colon + 1, NULL, 10);
    return port > 0 && port <= 65535;
}

nt_err peers_id_parse(const char *hex, uint8_t id[static IDENTITY_ID_LEN])
{
    size_t got = 0;
    if (!hex || strlen(hex) != IDENTITY_ID_HEX_LEN ||
        encoding_hex_decode(hex, IDENTITY_ID_HEX_LEN, id, IDENTITY_ID_LEN, &got) || got != IDENTITY_ID_LEN)
        return NT_ERR_INVALID;
    return NT_OK;
}

const char *peers_delivery_name(peer_delivery d)
{
    return d == PEER_DELIVERY_POLL ? "poll" : "push";
}

nt_err peers_delivery_parse(const char *name, peer_delivery *out)
{
    if (name && !strcmp(name, "push"))
        *out = PEER_DELIVERY_PUSH;
    else if (name && !strcmp(name, "poll"))
        *out = PEER_DELIVERY_POLL;
    else
        return NT_ERR_INVALID;
    return NT_OK;
}

static void hex_of(const uint8_t id[static IDENTITY_ID_LEN], char out[static IDENTITY_ID_HEX_LEN + 1])
{
    if (encoding_hex_encode(id, IDENTITY_ID_LEN, out, IDENTITY_ID_HEX_LEN + 1))
        out[0] = 0; /* cannot happen: the buffer is sized for it */
}

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

/* Step a statement that returns no rows we need, and reset it. */
static nt_err step_done(sqlite3_stmt *st)
{
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    if (r == SQLITE_DONE || r == SQLITE_ROW)
        return NT_OK;
    return (r & 0xff) == SQLITE_CONSTRAINT ? NT_ERR_INVALID : NT_ERR_DB;
}

static nt_err add_address(store *s, const char *hex, const char *addr, int64_t now)
{
    sqlite3_stmt *st = store_stmt(s, "INSERT INTO peer_addresses (peer, address, last_seen) VALUES (?1, ?2, ?3) "
                                     "ON CONFLICT (peer, address) DO UPDATE SET last_seen = "
                                     "max(last_seen, excluded.last_seen)");
    if (!st)
        return NT_ERR_DB;
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, addr, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    nt_err rc = step_done(st);
    if (rc)
        return rc;
    /* Keep only the newest few. */
    st = store_stmt(s, "DELETE FROM peer_addresses WHERE peer = ?1 AND address NOT IN "
                       "(SELECT address FROM peer_addresses WHERE peer = ?1 "
                       " ORDER BY last_seen DESC, address LIMIT ?2)");
    if (!st)
        return NT_ERR_DB;
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, PEERS_ADDRS_KEPT);
    return step_done(st);
}

/* ---- names alike: name_key, name_collision, label_hex ------------------- */

typedef struct {
    char id[IDENTITY_ID_HEX_LEN + 1];
    char key[TEXT_FOLD_MAX];
    bool collision;
    unsigned hex;
} name_row;

static unsigned common_hex(const char *a, const char *b)
{
    unsigned n = 0;
    while (n < IDENTITY_ID_HEX_LEN && a[n] && a[n] == b[n])
        n++;
    return n;
}

/* The rows st (SELECT id, name_key, name_collision, label_hex, bound)
 * gives, into *out (malloc'd) (lock held). */
static nt_err read_name_rows(sqlite3_stmt *st, name_row **out, size_t *n)
{
    name_row *v = NULL;
    size_t len = 0, cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            name_row *nv = realloc(v, (cap = cap ? 2 * cap : 8) * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        copy_text(v[len].id, sizeof v[len].id, sqlite3_column_text(st, 0));
        copy_text(v[len].key, sizeof v[len].key, sqlite3_column_text(st, 1));
        v[len].collision = sqlite3_column_int(st, 2) != 0;
        v[len++].hex = (unsigned)sqlite3_column_int(st, 3);
    }
    sqlite3_reset(st);
    if (r != SQLITE_DONE) {
        free(v);
        return r == SQLITE_ROW ? NT_ERR_NOMEM : NT_ERR_DB;
    }
    *out = v;
    *n = len;
    return NT_OK;
}

/* The rows whose name_key is key (every row when key is NULL), by key and
 * id, into *out (malloc'd) (lock held). */
static nt_err name_rows(store *s, const char *key, name_row **out, size_t *n)
{
    sqlite3_stmt *st = store_stmt(s, key ? "SELECT id, name_key, name_collision, label_hex FROM peers "
                                           "WHERE name_key = ?1 ORDER BY name_key, id"
                                         : "SELECT id, name_key, name_collision, label_hex FROM peers "
                                           "ORDER BY name_key, id");
    if (!st)
        return NT_ERR_DB;
    if (key)
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    return read_name_rows(st, out, n);
}

static nt_err write_name_row(store *s, const name_row *w)
{
    sqlite3_stmt *st = store_stmt(s, "UPDATE peers SET name_collision = ?2, label_hex = ?3 WHERE id = ?1");
    if (!st)
        return NT_ERR_DB;
    sqlite3_bind_text(st, 1, w->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, w->collision);
    sqlite3_bind_int(st, 3, (int)w->hex);
    return step_done(st);
}

/* name_collision and label_hex of the rows whose name folds to key (of
 * every row when key is NULL) (lock held). Rows of one key are
 * neighbours in id order, and the id that shares the most leading digits
 * with a row's is one of its neighbours: the label shows one digit more
 * than that. The empty key (no name) collides with nothing but still
 * gets digits that set it apart. */
static nt_err relabel(store *s, const char *key)
{
    name_row *v = NULL;
    size_t n = 0;
    nt_err rc = name_rows(s, key, &v, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        bool before = i > 0 && !strcmp(v[i - 1].key, v[i].key);
        bool after = i + 1 < n && !strcmp(v[i + 1].key, v[i].key);
        unsigned hex = PEERS_SUFFIX_MIN, c;
        if (before && (c = common_hex(v[i - 1].id, v[i].id) + 1) > hex)
            hex = c;
        if (after && (c = common_hex(v[i + 1].id, v[i].id) + 1) > hex)
            hex = c;
        name_row w = v[i];
        w.collision = v[i].key[0] && (before || after);
        w.hex = hex > IDENTITY_ID_HEX_LEN ? IDENTITY_ID_HEX_LEN : hex;
        if (w.collision != v[i].collision || w.hex != v[i].hex)
            rc = write_name_row(s, &w);
    }
    free(v);
    return rc;
}

/* The row hex is named name now (NULL or "": none), was named old (NULL:
 * a new row): its name_key, then the rows alike either (lock held). */
static nt_err names_changed(store *s, const char *hex, const char *old, const char *name)
{
    char k_old[TEXT_FOLD_MAX], k_new[TEXT_FOLD_MAX];
    text_name_fold(name, k_new, sizeof k_new);
    sqlite3_stmt *st = store_stmt(s, "UPDATE peers SET name_key = ?2 WHERE id = ?1");
    if (!st)
        return NT_ERR_DB;
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, k_new, -1, SQLITE_STATIC);
    nt_err rc = step_done(st);
    if (!rc && old && strcmp(text_name_fold(old, k_old, sizeof k_old), k_new))
        rc = relabel(s, k_old);
    return rc ? rc : relabel(s, k_new);
}

/* Fill out with the name, trust and label of the row hex; self_name: a
 * name alike it is shared. Unknown when there is no row (lock held). */
static void identify_locked(store *s, const char *hex, const char *self_name, peer_ident *out)
{
    bool collision = false;
    unsigned digits = PEERS_SUFFIX_MIN;
    sqlite3_stmt *st = store_stmt(s, "SELECT name, trusted, name_collision, label_hex FROM peers WHERE id = ?1");
    out->trust = PEER_TRUST_UNKNOWN;
    out->name[0] = 0;
    if (st) {
        sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            copy_text(out->name, sizeof out->name, sqlite3_column_text(st, 0));
            out->trust = sqlite3_column_int(st, 1) ? PEER_TRUST_TRUSTED : PEER_TRUST_UNTRUSTED;
            collision = sqlite3_column_int(st, 2) != 0 || peers_names_alike(out->name, self_name);
            digits = (unsigned)sqlite3_column_int(st, 3);
        }
        sqlite3_reset(st);
    }
    peers_label(out->name, hex, out->trust, collision, digits, out->label);
}

/* Rows origin added (or made lasting) within the window, other than the
 * row hex, of one kind: lasting ones, or (lasting false) ones known from
 * multicast only. The kinds are capped apart: a multicast source address
 * can be spoofed, and rows announced under a victim's address must not
 * refuse the victim's own handshakes. When there are cap of them,
 * NT_ERR_BUSY and *retry_after the seconds until the oldest leaves the
 * window (lock held). */
static nt_err origin_allows(store *s, const char *origin, unsigned cap, const char *hex, bool lasting, int64_t now,
                            int64_t *retry_after)
{
    sqlite3_stmt *st = store_stmt(s, "SELECT count(*), min(origin_at) FROM peers WHERE origin = ?1 AND "
                                     "origin_at > ?2 AND id <> ?3 AND (source <> 'multicast') = ?4");
    if (!st)
        return NT_ERR_DB;
    sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now - PEERS_ORIGIN_WINDOW_S);
    sqlite3_bind_text(st, 3, hex, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, lasting);
    nt_err rc = NT_ERR_DB;
    if (sqlite3_step(st) == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(st, 0), oldest = sqlite3_column_int64(st, 1);
        rc = n < (int64_t)cap ? NT_OK : NT_ERR_BUSY;
        *retry_after = oldest + PEERS_ORIGIN_WINDOW_S - now;
        if (*retry_after < 1)
            *retry_after = 1;
    }
    sqlite3_reset(st);
    return rc;
}

/* What the table holds for an id (lookup). */
typedef struct {
    bool known;
    bool same;      /* known, and its pinned key is the DER looked up with */
    bool multicast; /* known, from multicast only (source "multicast") */
    bool trusted;   /* known and trusted */
    char name[PEERS_NAME_MAX + 1];
} held_row;

/* What the table holds for hex now, der (may be NULL) compared with its
 * pinned key, into *out (lock held). */
static nt_err lookup(store *s, const char *hex, const uint8_t *der, size_t der_len, held_row *out)
{
    sqlite3_stmt *st = store_stmt(s, "SELECT pub_der, name, source, trusted FROM peers WHERE id = ?1");
    memset(out, 0, sizeof *out);
    if (!st)
        return NT_ERR_DB;
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    out->known = r == SQLITE_ROW;
    if (out->known) {
        size_t pinned_len = (size_t)sqlite3_column_bytes(st, 0);
        const unsigned char *src = sqlite3_column_text(st, 2);
        out->same = der && pinned_len == der_len && !memcmp(sqlite3_column_blob(st, 0), der, der_len);
        out->multicast = src && !strcmp((const char *)src, "multicast");
        out->trusted = sqlite3_column_int(st, 3) != 0;
        copy_text(out->name, sizeof out->name, sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    return r == SQLITE_ROW || r == SQLITE_DONE ? NT_OK : NT_ERR_DB;
}

/* Does a sighting from source add a row for its origin's cap? A new id
 * does; so does one known from multicast only (any source address can be
 * spoofed, and such rows are capped and age out) that source makes
 * "handshake" or "manual", which stay; not one trusted, which stays
 * already. */
static bool adds_row(const held_row *h, const char *source)
{
    return !h->known || (h->multicast && !h->trusted && strcmp(source, "multicast") != 0);
}

typedef struct {
    const char *hex, *name, *addr, *source;
    const uint8_t *der, *instance_id;
    size_t der_len;
    int64_t now;
} sighting;

/* Insert (known false) or refresh the row of a sighting (lock held). */
static nt_err write_row(store *s, const sighting *g, bool known, const char *origin)
{
    sqlite3_stmt *st;
    if (known)
        st = store_stmt(s, "UPDATE peers SET name = coalesce(?2, name), last_seen = max(last_seen, ?3), "
                           "instance_id = coalesce(?4, instance_id), "
                           "source = CASE WHEN ?5 = 'manual' THEN 'manual' WHEN ?5 = 'handshake' AND "
                           "source = 'multicast' THEN 'handshake' ELSE source END WHERE id = ?1");
    else
        st = store_stmt(s, "INSERT INTO peers (id, name, last_seen, instance_id, source, pub_der, first_seen, "
                           "origin, origin_at) VALUES (?1, coalesce(?2, ''), ?3, ?4, ?5, ?6, ?3, ?7, ?3)");
    if (!st)
        return NT_ERR_DB;
    sqlite3_bind_text(st, 1, g->hex, -1, SQLITE_STATIC);
    if (g->name && *g->name)
        sqlite3_bind_text(st, 2, g->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, g->now);
    if (g->instance_id)
        sqlite3_bind_blob(st, 4, g->instance_id, PEERS_INSTANCE_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, g->source, -1, SQLITE_STATIC);
    if (!known) {
        sqlite3_bind_blob(st, 6, g->der, (int)g->der_len, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, origin ? origin : "", -1, SQLITE_STATIC);
    }
    return step_done(st);
}

/* The rows multicast_make_room deletes (?1: now - PEERS_MULTICAST_EXPIRY_S,
 * ?2: the cap): multicast only, untrusted, and unseen since ?1 or the
 * least recently seen while there are ?2 or more of them. */
#define MULTICAST_GOING                                                                                 \
    "source = 'multicast' AND trusted = 0 AND (last_seen < ?1 OR id IN (SELECT id FROM peers WHERE "      \
    "source = 'multicast' AND trusted = 0 ORDER BY last_seen, id LIMIT max(0, (SELECT count(*) FROM peers " \
    "WHERE source = 'multicast' AND trusted = 0) - ?2 + 1)))"

static sqlite3_stmt *going_stmt(store *s, const char *sql, int64_t now, unsigned cap)
{
    sqlite3_stmt *st = store_stmt(s, sql);
    if (st) {
        sqlite3_bind_int64(st, 1, now - PEERS_MULTICAST_EXPIRY_S);
        sqlite3_bind_int64(st, 2, cap ? cap : PEERS_MULTICAST_MAX);
    }
    return st;
}

/* Rows known only from multicast: what an attacker can mint without a
 * handshake, so few and not for ever (lock held, in the caller's
 * transaction): those unseen for PEERS_MULTICAST_EXPIRY_S go, then the
 * least recently seen until one more fits under cap (0:
 * PEERS_MULTICAST_MAX). A row that goes may have shared its name, alike,
 * with others: their flags and label digits are computed again. */
static nt_err multicast_make_room(store *s, int64_t now, unsigned cap)
{
    name_row *v = NULL;
    size_t n = 0;
    sqlite3_stmt *st = going_stmt(s, "SELECT id, name_key, name_collision, label_hex FROM peers WHERE "
                                  MULTICAST_GOING " ORDER BY name_key", now, cap);
    nt_err rc = st ? read_name_rows(st, &v, &n) : NT_ERR_DB;
    if (!rc && n) {
        st = going_stmt(s, "DELETE FROM peers WHERE " MULTICAST_GOING, now, cap);
        rc = st ? step_done(st) : NT_ERR_DB;
    }
    for (size_t i = 0; !rc && i < n; i++)
        if (i == 0 || strcmp(v[i - 1].key, v[i].key))
            rc = relabel(s, v[i].key);
    free(v);
    return rc;
}

/* A row known only from multicast that a sighting from origin made
 * lasting is origin's new row from now on (lock held). */
static nt_err adopt_origin(store *s, const char *hex, const char *origin, int64_t now)
{
    sqlite3_stmt *st = store_stmt(s, "UPDATE peers SET origin = ?2, origin_at = ?3 WHERE id = ?1");
    if (!st)
        return NT_ERR_DB;
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, origin, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    return step_done(st);
}

static nt_err observe_locked(store *s, const sighting *g, peers_sighting *out)
{
    held_row h;
    nt_err rc = lookup(s, g->hex, g->der, g->der_len, &h);
    if (rc)
        return rc;
    bool capped = out->origin && *out->origin, adds = adds_row(&h, g->source);
    if (h.known && !h.same)
        return NT_ERR_AUTH; /* the pinned key stays */
    if (capped && adds &&
        (rc = origin_allows(s, out->origin, out->origin_cap ? out->origin_cap : PEERS_ORIGIN_CAP, g->hex,
                            strcmp(g->source, "multicast") != 0, g->now, &out->retry_after)))
        return rc;
    if (!h.known && !strcmp(g->source, "multicast") && (rc = multicast_make_room(s, g->now, out->multicast_cap)))
        return rc;
    bool named = g->name && *g->name && (!h.known || strcmp(h.name, g->name));
    if (h.known && named && h.name[0]) { /* the label it had, for the rename notice */
        peer_ident was;
        identify_locked(s, g->hex, out->self_name, &was);
        memcpy(out->old_label, was.label, sizeof out->old_label);
    }
    if ((rc = write_row(s, g, h.known, out->origin)))
        return rc;
    if (h.known && adds && capped && (rc = adopt_origin(s, g->hex, out->origin, g->now)))
        return rc;
    if ((named || !h.known) && (rc = names_changed(s, g->hex, h.known ? h.name : NULL, g->name)))
        return rc;
    if (g->addr && (rc = add_address(s, g->hex, g->addr, g->now)))
        return rc;
    out->is_new = !h.known;
    out->renamed = h.known && named && h.name[0];
    if (out->renamed)
        memcpy(out->old_name, h.name, sizeof out->old_name);
    return NT_OK;
}

nt_err peers_record(store *s, const identity *pub, const char *name, const char *addr, const char *source,
                    const uint8_t *instance_id, int64_t now_unix, peers_sighting *sg)
{
    uint8_t der[IDENTITY_PUB_DER_MAX];
    char hex[IDENTITY_ID_HEX_LEN + 1];
    sighting g = {.hex = hex, .name = name, .addr = addr, .source = source, .der = der,
                  .instance_id = instance_id, .now = now_unix};
    sg->is_new = sg->renamed = false;
    sg->old_name[0] = sg->old_label[0] = 0;
    sg->retry_after = 0;
    if (!s || !pub || !source_ok(source) || (name && !name_ok(name)) || (addr && !addr_ok(addr)))
        return NT_ERR_INVALID;
    nt_err rc = identity_public_der(pub, der, sizeof(der), &g.der_len);
    if (rc)
        return rc;
    hex_of(identity_id(pub), hex);
    store_lock(s);
    if ((rc = store_begin(s)))
        goto out;
    rc = observe_locked(s, &g, sg);
    if (rc)
        store_rollback(s);
    else
        rc = store_commit(s);
out:
    store_unlock(s);
    if (rc)
        sg->is_new = sg->renamed = false;
    return rc;
}

nt_err peers_may_add(store *s, const uint8_t id[static IDENTITY_ID_LEN], const char *origin, unsigned origin_cap,
                     int64_t now_unix, int64_t *retry_after)
{
    char hex[IDENTITY_ID_HEX_LEN + 1];
    held_row h;
    *retry_after = 0;
    if (!origin || !*origin)
        return NT_OK;
    hex_of(id, hex);
    store_lock(s);
    nt_err rc = lookup(s, hex, NULL, 0, &h);
    if (!rc && adds_row(&h, "handshake"))
        rc = origin_allows(s, origin, origin_cap ? origin_cap : PEERS_ORIGIN_CAP, hex, true, now_unix, retry_after);
    store_unlock(s);
    return rc;
}

nt_err peers_observe(store *s, const identity *pub, const char *name, const char *addr, const char *source,
                     const uint8_t *instance_id, int64_t now_unix, bool *is_new)
{
    peers_sighting sg = {0};
    nt_err rc = peers_record(s, pub, name, addr, source, instance_id, now_unix, &sg);
    if (is_new)
        *is_new = sg.is_new;
    return rc;
}

/* Fill out from a row of PEER_COLUMNS, then its addresses (lock held). */
static nt_err row_to_info(store *s, sqlite3_stmt *st, peer_info *out)
{
    memset(out, 0, sizeof(*out));
    copy_text(out->id_hex, sizeof(out->id_hex), sqlite3_column_text(st, 0));
    if (peers_id_parse(out->id_hex, out->id))
        return NT_ERR_DB;
    copy_text(out->name, sizeof(out->name), sqlite3_column_text(st, 1));
    size_t dl = (size_t)sqlite3_column_bytes(st, 2);
    if (dl > sizeof(out->pub_der))
        return NT_ERR_DB;
    memcpy(out->pub_der, sqlite3_column_blob(st, 2), dl);
    out->pub_der_len = dl;
    out->first_seen = sqlite3_column_int64(st, 3);
    out->last_seen = sqlite3_column_int64(st, 4);
    out->trusted = sqlite3_column_int(st, 5) != 0;
    const unsigned char *d = sqlite3_column_text(st, 6);
    out->delivery = d && !strcmp((const char *)d, "poll") ? PEER_DELIVERY_POLL : PEER_DELIVERY_PUSH;
    copy_text(out->source, sizeof(out->source), sqlite3_column_text(st, 7));
    if (sqlite3_column_bytes(st, 8) == PEERS_INSTANCE_LEN) {
        out->has_instance = true;
        memcpy(out->instance_id, sqlite3_column_blob(st, 8), PEERS_INSTANCE_LEN);
    }
    out->name_collision = sqlite3_column_int(st, 9) != 0;
    out->label_hex = (unsigned)sqlite3_column_int(st, 10);

    sqlite3_stmt *a = store_stmt(s, "SELECT address FROM peer_addresses WHERE peer = ?1 "
                                    "ORDER BY last_seen DESC, address LIMIT ?2");
    if (!a)
        return NT_ERR_DB;
    sqlite3_bind_text(a, 1, out->id_hex, -1, SQLITE_STATIC);
    sqlite3_bind_int(a, 2, PEERS_ADDRS_KEPT);
    int r;
    while ((r = sqlite3_step(a)) == SQLITE_ROW && out->n_addresses < PEERS_ADDRS_KEPT)
        copy_text(out->addresses[out->n_addresses++], PEERS_ADDR_MAX, sqlite3_column_text(a, 0));
    sqlite3_reset(a);
    if (r != SQLITE_DONE && r != SQLITE_ROW)
        return NT_ERR_DB;
    if (out->n_addresses)
        memcpy(out->address, out->addresses[0], PEERS_ADDR_MAX);
    return NT_OK;
}

nt_err peers_get(store *s, const uint8_t id[static IDENTITY_ID_LEN], peer_info *out)
{
    char hex[IDENTITY_ID_HEX_LEN + 1];
    hex_of(id, hex);
    nt_err rc = NT_ERR_DB;
    store_lock(s);
    sqlite3_stmt *st = store_stmt(s, "SELECT " PEER_COLUMNS " FROM peers WHERE id = ?1");
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE)
        rc = NT_ERR_NOT_FOUND;
    else if (r == SQLITE_ROW)
        rc = row_to_info(s, st, out);
    sqlite3_reset(st);
out:
    store_unlock(s);
    return rc;
}

nt_err peers_get_key(store *s, const uint8_t id[static IDENTITY_ID_LEN], identity **out)
{
    *out = NULL;
    peer_info *p = malloc(sizeof(*p));
    if (!p)
        return NT_ERR_NOMEM;
    nt_err rc = peers_get(s, id, p);
    if (!rc)
        rc = identity_from_der(out, p->pub_der, p->pub_der_len);
    /* A stored key that does not hash to its id means a corrupt row. */
    if (!rc && memcmp(identity_id(*out), id, IDENTITY_ID_LEN)) {
        identity_free(*out);
        *out = NULL;
        rc = NT_ERR_AUTH;
    }
    free(p);
    return rc;
}

nt_err peers_list(store *s, peer_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    peer_info *v = NULL;
    size_t cap = 0, len = 0;
    nt_err rc = NT_ERR_DB;
    store_lock(s);
    sqlite3_stmt *st = store_stmt(s, "SELECT " PEER_COLUMNS " FROM peers ORDER BY last_seen DESC, id");
    if (!st)
        goto out;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t nc = cap ? 2 * cap : 16;
            peer_info *nv = realloc(v, nc * sizeof(*nv));
            if (!nv) {
                rc = NT_ERR_NOMEM;
                goto out;
            }
            v = nv;
            cap = nc;
        }
        if ((rc = row_to_info(s, st, &v[len])))
            goto out;
        len++;
    }
    rc = r == SQLITE_DONE ? NT_OK : NT_ERR_DB;
out:
    if (st)
        sqlite3_reset(st);
    store_unlock(s);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = len;
    return NT_OK;
}

/* Run one UPDATE/DELETE keyed by id; NT_ERR_NOT_FOUND when no row. */
static nt_err exec_on(store *s, const char *sql, const uint8_t *id, const char *text, int integer)
{
    char hex[IDENTITY_ID_HEX_LEN + 1];
    hex_of(id, hex);
    nt_err rc = NT_ERR_DB;
    store_lock(s);
    sqlite3_stmt *st = store_stmt(s, sql);
    if (st) {
        sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
        if (text)
            sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int(st, 2, integer);
        rc = step_done(st);
        if (!rc && sqlite3_changes(store_db(s)) == 0)
            rc = NT_ERR_NOT_FOUND;
    }
    store_unlock(s);
    return rc;
}

nt_err peers_delete(store *s, const uint8_t id[static IDENTITY_ID_LEN])
{
    char hex[IDENTITY_ID_HEX_LEN + 1], key[TEXT_FOLD_MAX];
    held_row h = {0};
    hex_of(id, hex);
    store_lock(s);
    nt_err rc = store_begin(s);
    if (!rc)
        rc = lookup(s, hex, NULL, 0, &h);
    if (!rc && !h.known)
        rc = NT_ERR_NOT_FOUND;
    sqlite3_stmt *st = rc ? NULL : store_stmt(s, "DELETE FROM peers WHERE id = ?1");
    if (!rc && !st)
        rc = NT_ERR_DB;
    if (st) {
        sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
        rc = step_done(st);
    }
    /* the peer it shared its name with may now stand alone */
    if (!rc)
        rc = relabel(s, text_name_fold(h.name, key, sizeof key));
    if (rc)
        store_rollback(s);
    else
        rc = store_commit(s);
    store_unlock(s);
    return rc;
}

nt_err peers_set_trusted(store *s, const uint8_t id[static IDENTITY_ID_LEN], bool trusted)
{
    return exec_on(s, "UPDATE peers SET trusted = ?2 WHERE id = ?1", id, NULL, trusted ? 1 : 0);
}

nt_err peers_set_delivery(store *s, const uint8_t id[static IDENTITY_ID_LEN], peer_delivery d)
{
    return exec_on(s, "UPDATE peers SET delivery = ?2 WHERE id = ?1", id, peers_delivery_name(d), 0);
}

const char *peers_trust_name(peer_trust t)
{
    static const char *const names[] = {"self", "trusted", "untrusted", "unknown"};
    return t <= PEER_TRUST_UNKNOWN ? names[t] : "unknown";
}

void peers_label(const char *name, const char *id_hex, peer_trust trust, bool collision, unsigned hex_digits,
                 char out[static PEERS_LABEL_MAX])
{
    name = name ? name : "";
    bool bare = name[0] && text_name_valid(name, strlen(name)) &&
                (trust == PEER_TRUST_SELF || (trust == PEER_TRUST_TRUSTED && !collision));
    int digits = hex_digits < PEERS_SUFFIX_MIN      ? PEERS_SUFFIX_MIN
                 : hex_digits > IDENTITY_ID_HEX_LEN ? IDENTITY_ID_HEX_LEN
                                                    : (int)hex_digits;
    if (bare)
        snprintf(out, PEERS_LABEL_MAX, "%s", name);
    else
        snprintf(out, PEERS_LABEL_MAX, "%s~%.*s", name, digits, id_hex ? id_hex : "");
}

bool peers_names_alike(const char *a, const char *b)
{
    char fa[TEXT_FOLD_MAX], fb[TEXT_FOLD_MAX];
    if (!a || !b)
        return false;
    text_name_fold(a, fa, sizeof fa);
    return fa[0] && !strcmp(fa, text_name_fold(b, fb, sizeof fb));
}

void peers_info_label(const peer_info *p, const char *self_name, char out[static PEERS_LABEL_MAX])
{
    peers_label(p->name, p->id_hex, p->trusted ? PEER_TRUST_TRUSTED : PEER_TRUST_UNTRUSTED,
                p->name_collision || peers_names_alike(p->name, self_name), p->label_hex, out);
}

void peers_identify(store *s, const char *self_hex, const char *self_name, const char *id_hex, peer_ident *out)
{
    memset(out, 0, sizeof *out);
    out->trust = PEER_TRUST_UNKNOWN;
    if (self_hex && id_hex && !strcmp(self_hex, id_hex)) {
        out->trust = PEER_TRUST_SELF;
        snprintf(out->name, sizeof out->name, "%s", self_name ? self_name : "");
    } else if (s && id_hex) {
        store_lock(s);
        identify_locked(s, id_hex, self_name, out);
        store_unlock(s);
        return;
    }
    peers_label(out->name, id_hex, out->trust, false, PEERS_SUFFIX_MIN, out->label);
}

/* Every row's name_key as the fold gives it now (lock held). */
static nt_err refold(store *s)
{
    sqlite3_stmt *st = store_stmt(s, "SELECT id, name, name_key FROM peers");
    name_row *v = NULL;
    size_t len = 0, cap = 0;
    nt_err rc = NT_OK;
    int r;
    if (!st)
        return NT_ERR_DB;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        char key[TEXT_FOLD_MAX];
        const unsigned char *k = sqlite3_column_text(st, 2);
        text_name_fold((const char *)sqlite3_column_text(st, 1), key, sizeof key);
        if (k && !strcmp((const char *)k, key))
            continue;
        if (len == cap) {
            name_row *nv = realloc(v, (cap = cap ? 2 * cap : 8) * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        copy_text(v[len].id, sizeof v[len].id, sqlite3_column_text(st, 0));
        memcpy(v[len++].key, key, sizeof key);
    }
    sqlite3_reset(st);
    if (r != SQLITE_DONE)
        rc = r == SQLITE_ROW ? NT_ERR_NOMEM : NT_ERR_DB;
    for (size_t i = 0; !rc && i < len; i++) {
        if (!(st = store_stmt(s, "UPDATE peers SET name_key = ?2 WHERE id = ?1")))
            rc = NT_ERR_DB;
        else {
            sqlite3_bind_text(st, 1, v[i].id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, v[i].key, -1, SQLITE_STATIC);
            rc = step_done(st);
        }
    }
    free(v);
    return rc;
}

nt_err peers_names_refresh(store *s)
{
    store_lock(s);
    nt_err rc = store_begin(s);
    if (!rc) {
        if (!(rc = refold(s)))
            rc = relabel(s, NULL);
        if (rc)
            store_rollback(s);
        else
            rc = store_commit(s);
    }
    store_unlock(s);
    return rc;
}
