#include "server/core/node.h"

#include <errno.h>
#include <fcntl.h>
#include <mbedtls/platform_util.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "crypto/encoding.h"
#include "crypto/rng.h"
#include "server/core/presence.h"
#include "storage/peers.h"

#define META_NODE_ID "node_id"
#define META_NAME "name"

/* vsnprintf: reasons are one line and may be cut at NODE_ERR_MAX. */
static void seterr(char err[static NODE_ERR_MAX], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void seterr(char err[static NODE_ERR_MAX], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, NODE_ERR_MAX, fmt, ap);
    va_end(ap);
}

nt_err node_path(const node *nd, const char *name, char buf[static PATH_MAX])
{
    int n = snprintf(buf, PATH_MAX, "%s/%s", nd->data_dir, name);
    return n < 0 || n >= PATH_MAX ? NT_ERR_TOO_BIG : NT_OK;
}

/* mkdir -p for the parents (0755, as any XDG dir), the last one 0700. */
static nt_err make_dirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return NT_ERR_TOO_BIG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return NT_ERR_IO;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return NT_ERR_IO;
    return NT_OK;
}

/* Refuse anything others could read or write, or that is not ours. */
static nt_err check_private(const char *path, bool want_dir, char err[static NODE_ERR_MAX])
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        seterr(err, "%s: %s", path, strerror(errno));
        return NT_ERR_IO;
    }
    if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
        seterr(err, "%s: not a %s", path, want_dir ? "directory" : "regular file");
        return NT_ERR_PERM;
    }
    if (st.st_uid != geteuid()) {
        seterr(err, "%s: owned by uid %u, not by us", path, (unsigned)st.st_uid);
        return NT_ERR_PERM;
    }
    if (st.st_mode & 077) {
        seterr(err, "%s: mode %04o lets others in; chmod %s it", path,
                 (unsigned)(st.st_mode & 07777), want_dir ? "700" : "600");
        return NT_ERR_PERM;
    }
    return NT_OK;
}

static nt_err take_lock(node *nd, char err[static NODE_ERR_MAX])
{
    char path[PATH_MAX];
    if (node_path(nd, NODE_LOCK_FILE, path))
        return NT_ERR_TOO_BIG;
    nd->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (nd->lock_fd < 0) {
        seterr(err, "%s: %s", path, strerror(errno));
        return NT_ERR_IO;
    }
    if (flock(nd->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        seterr(err, "%s: another natterd is running on this data dir", nd->data_dir);
        return NT_ERR_BUSY;
    }
    return NT_OK;
}

/* Write data to path via a temp file, fsync and rename, mode 0600. */
static nt_err write_atomic(const char *path, const char *data, size_t len)
{
    char tmp[PATH_MAX];
    nt_err rc = NT_ERR_IO;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return NT_ERR_TOO_BIG;
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return NT_ERR_IO;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto out;
        off += (size_t)w;
    }
    if (fsync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto out;
    rc = NT_OK;
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        unlink(tmp);
    return rc;
}

static nt_err load_or_make_identity(node *nd, char err[static NODE_ERR_MAX])
{
    char path[PATH_MAX], tmp[PATH_MAX];
    nt_err rc;
    if (node_path(nd, NODE_KEY_FILE, path) || snprintf(tmp, sizeof tmp, "%s.new", path) >= (int)sizeof tmp)
        return NT_ERR_TOO_BIG;
    if (access(path, F_OK) == 0) {
        if ((rc = check_private(path, false, err)))
            return rc;
        if ((rc = identity_load(&nd->id, path))) {
            seterr(err, "%s: corrupt or foreign key file (%s)", path, err_str(rc));
            return rc;
        }
        if (config_given(nd->cfg, "key-bits"))
            log_warn("--key-bits %lu ignored: the identity in %s already exists (RSA-%u)", nd->cfg->key_bits, path,
                     identity_bits(nd->id));
        return NT_OK;
    }
    log_info("no identity yet: generating an RSA-%lu key", nd->cfg->key_bits);
    if ((rc = identity_generate(&nd->id, (unsigned)nd->cfg->key_bits))) {
        seterr(err, "key generation failed: %s", err_str(rc));
        return rc;
    }
    atomic_fetch_add(&nd->n_keys_generated, 1);
    /* Save under a temp name and rename, so a crash never leaves half a key. */
    unlink(tmp);
    if ((rc = identity_save(nd->id, tmp)) || rename(tmp, path) != 0) {
        seterr(err, "%s: cannot save the key: %s", path, rc ? err_str(rc) : strerror(errno));
        unlink(tmp);
        return rc ? rc : NT_ERR_IO;
    }
    return NT_OK;
}

nt_err node_token_parse(const char *buf, size_t len, char out[static NODE_TOKEN_HEX_LEN + 1])
{
    /* Bounded by len: the file's bytes are not NUL-terminated. */
    if (len < NODE_TOKEN_HEX_LEN || len > NODE_TOKEN_HEX_LEN + 1 ||
        (len > NODE_TOKEN_HEX_LEN && buf[NODE_TOKEN_HEX_LEN] != '\n'))
        return NT_ERR_INVALID;
    for (size_t i = 0; i < NODE_TOKEN_HEX_LEN; i++)
        if (!((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f')))
            return NT_ERR_INVALID;
    memcpy(out, buf, NODE_TOKEN_HEX_LEN);
    out[NODE_TOKEN_HEX_LEN] = '\0';
    return NT_OK;
}

static nt_err load_or_make_token(node *nd, char err[static NODE_ERR_MAX])
{
    char path[PATH_MAX], buf[NODE_TOKEN_HEX_LEN + 2];
    uint8_t raw[NODE_TOKEN_BYTES];
    nt_err rc = NT_ERR_IO;
    if (node_path(nd, NODE_TOKEN_FILE, path))
        return NT_ERR_TOO_BIG;
    if (access(path, F_OK) == 0) {
        if ((rc = check_private(path, false, err)))
            return rc;
        FILE *f = fopen(path, "re");
        size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f)
            fclose(f);
        if ((rc = node_token_parse(buf, n, nd->token)))
            seterr(err, "%s: not a natter token (64 hex digits); delete it to make a new one", path);
        goto out;
    }
    if ((rc = rng_bytes(raw, sizeof raw)) || (rc = encoding_hex_encode(raw, sizeof raw, nd->token, sizeof nd->token)))
        goto out;
    memcpy(buf, nd->token, NODE_TOKEN_HEX_LEN);
    buf[NODE_TOKEN_HEX_LEN] = '\n';
    if ((rc = write_atomic(path, buf, NODE_TOKEN_HEX_LEN + 1)))
        seterr(err, "%s: cannot write the token: %s", path, strerror(errno));
out:
    mbedtls_platform_zeroize(raw, sizeof raw);
    mbedtls_platform_zeroize(buf, sizeof buf);
    return rc;
}

/* The database remembers the node id: a key file swapped for another one
 * (a "foreign" key) would silently change who we are, so refuse it. */
static nt_err open_store(node *nd, char err[static NODE_ERR_MAX])
{
    char path[PATH_MAX], stored[IDENTITY_ID_HEX_LEN + 1];
    nt_err rc;
    if (node_path(nd, STORE_FILE_NAME, path))
        return NT_ERR_TOO_BIG;
    if ((rc = store_open(path, &nd->db))) {
        if (rc == NT_ERR_VERSION)
            seterr(err, "%s: made by a newer natterd (schema newer than %zu)", path,
                     store_latest_version());
        else
            seterr(err, "%s: cannot open the database (%s)", path, err_str(rc));
        return rc;
    }
    rc = store_meta_get(nd->db, META_NODE_ID, stored, sizeof stored);
    if (rc == NT_ERR_NOT_FOUND)
        rc = store_meta_set(nd->db, META_NODE_ID, nd->id_hex);
    else if (rc == NT_OK && strcmp(stored, nd->id_hex) != 0) {
        seterr(err, "%s/%s: foreign key file: node id %.16s... but the database belongs to %.16s...",
                 nd->data_dir, NODE_KEY_FILE, nd->id_hex, stored);
        return NT_ERR_AUTH;
    }
    /* rows written by an older natterd: names compared as this one folds them */
    if (!rc)
        rc = peers_names_refresh(nd->db);
    if (rc)
        seterr(err, "%s: database error (%s)", path, err_str(rc));
    return rc;
}

/* --name if given, else the name set over the API, else the host name. */
static nt_err init_name(node *nd)
{
    char host[256];
    nt_err rc;
    if (nd->cfg->name) {
        snprintf(nd->name, sizeof nd->name, "%s", nd->cfg->name);
        return NT_OK;
    }
    rc = store_meta_get(nd->db, META_NAME, nd->name, sizeof nd->name);
    if (rc == NT_OK && text_name_valid(nd->name, strlen(nd->name)))
        return NT_OK;
    if (rc != NT_OK && rc != NT_ERR_NOT_FOUND && rc != NT_ERR_TOO_BIG)
        return rc;
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    host[TEXT_NAME_MAX] = '\0';
    snprintf(nd->name, sizeof nd->name, "%s", text_name_valid(host, strlen(host)) ? host : "natter");
    return NT_OK;
}

void node_name(node *nd, char out[static TEXT_NAME_MAX + 1])
{
    pthread_mutex_lock(&nd->name_mu);
    memcpy(out, nd->name, sizeof nd->name);
    pthread_mutex_unlock(&nd->name_mu);
}

nt_err node_set_name(node *nd, const char *name)
{
    if (!name || !text_name_valid(name, strlen(name)))
        return NT_ERR_INVALID;
    nt_err rc = store_meta_set(nd->db, META_NAME, name);
    if (rc)
        return rc;
    pthread_mutex_lock(&nd->name_mu);
    snprintf(nd->name, sizeof nd->name, "%s", name);
    pthread_mutex_unlock(&nd->name_mu);
    return NT_OK;
}

nt_err node_open(const config *cfg, node **out, char err[static NODE_ERR_MAX])
{
    nt_err rc;
    node *nd = calloc(1, sizeof *nd);
    *out = NULL;
    err[0] = '\0';
    if (!nd)
        return NT_ERR_NOMEM;
    nd->cfg = cfg;
    nd->lock_fd = -1;
    pthread_mutex_init(&nd->name_mu, NULL);
    clock_gettime(CLOCK_MONOTONIC, &nd->started_mono);
    nd->started_at = time(NULL);
    if (snprintf(nd->data_dir, sizeof nd->data_dir, "%s", cfg->data_dir) >= (int)sizeof nd->data_dir) {
        seterr(err, "--data-dir is too long");
        rc = NT_ERR_TOO_BIG;
        goto fail;
    }
    if ((rc = make_dirs(nd->data_dir))) {
        seterr(err, "%s: cannot create: %s", nd->data_dir, strerror(errno));
        goto fail;
    }
    if ((rc = check_private(nd->data_dir, true, err)) || (rc = take_lock(nd, err)))
        goto fail;
    if ((rc = rng_init())) {
        seterr(err, "cannot seed the random generator: %s", err_str(rc));
        goto fail;
    }
    if ((rc = load_or_make_identity(nd, err)))
        goto fail;
    identity_id_hex(nd->id, nd->id_hex);
    identity_fingerprint(identity_id(nd->id), nd->fingerprint);
    if ((rc = identity_public_pem(nd->id, nd->pub_pem, sizeof nd->pub_pem))) {
        seterr(err, "cannot encode the public key: %s", err_str(rc));
        goto fail;
    }
    if ((rc = load_or_make_token(nd, err)) || (rc = open_store(nd, err)))
        goto fail;
    if ((rc = presence_new(&nd->presence))) {
        seterr(err, "cannot allocate presence: %s", err_str(rc));
        goto fail;
    }
    if ((rc = init_name(nd))) {
        seterr(err, "cannot read the stored name: %s", err_str(rc));
        goto fail;
    }
    *out = nd;
    return NT_OK;
fail:
    node_close(nd, false);
    return rc;
}

void node_close(node *nd, bool remove_runfile)
{
    char path[PATH_MAX];
    if (!nd)
        return;
    if (remove_runfile && node_path(nd, NODE_RUN_FILE, path) == NT_OK)
        unlink(path);
    store_close(nd->db);
    presence_free(nd->presence);
    identity_free(nd->id);
    mbedtls_platform_zeroize(nd->token, sizeof nd->token);
    if (nd->lock_fd >= 0)
        close(nd->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&nd->name_mu);
    free(nd);
}

nt_err node_on_peer_up(node *nd, void (*fn)(void *arg, const uint8_t peer_id[static IDENTITY_ID_LEN]), void *arg)
{
    return presence_on_up(nd->presence, fn, arg);
}

void node_off_peer_up(node *nd, void (*fn)(void *arg, const uint8_t peer_id[static IDENTITY_ID_LEN]), void *arg)
{
    presence_off_up(nd->presence, fn, arg);
}

nt_err node_write_runfile(const node *nd)
{
    char path[PATH_MAX];
    nt_err rc;
    if ((rc = node_path(nd, NODE_RUN_FILE, path)))
        return rc;
    json_t *j = json_pack("{s:I,s:s,s:s,s:s}", "pid", (json_int_t)getpid(), "peer", nd->peer_addr, "client",
                          nd->client_addr, "node_id", nd->id_hex);
    char *s = j ? json_to_string(j) : NULL;
    json_decref(j);
    if (!s)
        return NT_ERR_NOMEM;
    rc = write_atomic(path, s, strlen(s));
    free(s);
    return rc;
}

uint64_t node_uptime_s(const node *nd)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)(now.tv_sec - nd->started_mono.tv_sec);
}

bool node_stopping(const node *nd) { return atomic_load(&((node *)nd)->stopping); }

void node_begin_stop(node *nd)
{
    atomic_store(&nd->stopping, true);
}
