/* harness_proxy.c - a loopback HTTP proxy for integration tests. */
#include "harness_proxy.h"
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len;
} px_req;

static enum MHD_Result px_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    harness_proxy *p = cls;
    (void)version;
    px_req *r = *con_cls;
    if (!r) {
        *con_cls = calloc(1, sizeof(px_req));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        char *nb = realloc(r->buf, r->len + *upload_size + 1);
        if (!nb)
            return MHD_NO;
        memcpy(nb + r->len, upload, *upload_size);
        r->buf = nb;
        r->len += *upload_size;
        r->buf[r->len] = 0;
        *upload_size = 0;
        return MHD_YES;
    }
    return p->fn(p->arg, c, url, method, r->buf, r->len);
}

static void px_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    px_req *r = *con_cls;
    if (r) {
        free(r->buf);
        free(r);
    }
    *con_cls = NULL;
}

void harness_proxy_start(harness_proxy *p, harness_proxy_fn fn, void *arg)
{
    memset(p, 0, sizeof *p);
    p->fn = fn;
    p->arg = arg;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    p->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
                            px_handler, p, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_NOTIFY_COMPLETED, px_done, NULL, MHD_OPTION_END);
    ck_assert_ptr_nonnull(p->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(p->d, MHD_DAEMON_INFO_BIND_PORT);
    ck_assert_ptr_nonnull(info);
    p->port = info->port;
    snprintf(p->addr, sizeof p->addr, "127.0.0.1:%u", (unsigned)p->port);
}

void harness_proxy_stop(harness_proxy *p)
{
    if (p->d)
        MHD_stop_daemon(p->d);
    p->d = NULL;
}

enum MHD_Result harness_proxy_answer(struct MHD_Connection *c, unsigned status, const char *body, size_t len)
{
    struct MHD_Response *m = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(m, "Content-Type", "application/json");
    enum MHD_Result q = MHD_queue_response(c, status, m);
    MHD_destroy_response(m);
    return q;
}

enum MHD_Result harness_proxy_relay(struct MHD_Connection *c, const char *upstream, const char *url,
                                    const char *method, const char *body, size_t len, harness_proxy_edit edit,
                                    void *arg)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", upstream, url);
    harness_resp resp;
    if (harness_request(method, full, NULL, body, len, &resp))
        return MHD_NO;
    char *out = NULL;
    if (edit && resp.json && edit(arg, url, resp.status, resp.json))
        out = json_dumps(resp.json, JSON_COMPACT);
    enum MHD_Result q = harness_proxy_answer(c, (unsigned)resp.status, out ? out : resp.body,
                                             out ? strlen(out) : resp.len);
    free(out);
    harness_resp_free(&resp);
    return q;
}
