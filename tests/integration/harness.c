#include "harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 20
#define BODY_MAX (16 * 1024 * 1024)

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

json_t *harness_json_find(json_t *obj, const char *array, const char *key, const char *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(obj, array), i, e) {
        const char *v = json_string_value(json_object_get(e, key));
        if (v && !strcmp(v, value))
            return e;
    }
    return NULL;
}

bool harness_wait(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    long end = now_ms() + timeout_ms;
    for (;;) {
        if (cond(arg))
            return true;
        if (now_ms() >= end)
            return false;
        sleep_ms(POLL_MS);
    }
}

static const char *natterd_path(void)
{
    const char *p = getenv("NATTERD");
    return p && *p ? p : "build/natterd";
}

/* fork+exec natterd with args; stdout/stderr to log (append) or a pipe. */
static pid_t spawn(const char *const *args, const char *log_path, int out_fd)
{
    const char *argv[HARNESS_ARGS_MAX * 2 + 2];
    size_t k = 0;
    argv[k++] = natterd_path();
    for (size_t i = 0; args && args[i] && k < sizeof argv / sizeof argv[0] - 1; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = out_fd >= 0 ? out_fd : open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
    }
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "harness: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static int exit_status(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

void harness_dump_log(const harness_node *n)
{
    FILE *f = fopen(n->log_path, "r");
    char line[1024];
    if (!f)
        return;
    fprintf(stderr, "---- %s (last lines)\n", n->log_path);
    long pos = 0;
    fseek(f, 0, SEEK_END);
    pos = ftell(f);
    fseek(f, pos > 4000 ? pos - 4000 : 0, SEEK_SET);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

static bool read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0;
}

static void split_port(const char *addr, uint16_t *port)
{
    const char *c = strrchr(addr, ':');
    *port = c ? (uint16_t)atoi(c + 1) : 0;
}

/* natterd.json exists and names our child: read the listeners. */
static bool runfile_ready(harness_node *n)
{
    char path[PATH_MAX + 32], buf[4096];
    snprintf(path, sizeof path, "%s/natterd.json", n->data_dir);
    if (!read_file(path, buf, sizeof buf))
        return false;
    json_t *j = json_loads(buf, 0, NULL);
    bool ok = j && json_integer_value(json_object_get(j, "pid")) == n->pid &&
              json_is_string(json_object_get(j, "peer")) && json_is_string(json_object_get(j, "client"));
    if (ok) {
        snprintf(n->peer, sizeof n->peer, "%s", json_string_value(json_object_get(j, "peer")));
        snprintf(n->client, sizeof n->client, "%s", json_string_value(json_object_get(j, "client")));
        snprintf(n->node_id, sizeof n->node_id, "%s", json_string_value(json_object_get(j, "node_id")));
        snprintf(n->peer_url, sizeof n->peer_url, "http://%s", n->peer);
        snprintf(n->client_url, sizeof n->client_url, "http://%s", n->client);
        split_port(n->peer, &n->peer_port);
        split_port(n->client, &n->client_port);
    }
    json_decref(j);
    return ok;
}

static int launch(harness_node *n, const char *const *extra, bool defaults)
{
    const char *args[HARNESS_ARGS_MAX * 2 + 1];
    char tokpath[PATH_MAX + 32];
    size_t k = 0;
    const char *base[] = {"--data-dir", n->data_dir, "--listen", "127.0.0.1:0", "--client-listen", "127.0.0.1:0",
                          "--key-bits", "2048", "--name", n->name, "--no-discovery"};
    for (size_t i = 0; defaults && i < sizeof base / sizeof base[0]; i++)
        args[k++] = base[i];
    for (size_t i = 0; extra && extra[i] && k < sizeof args / sizeof args[0] - 1; i++)
        args[k++] = extra[i];
    args[k] = NULL;
    n->pid = spawn(args, n->log_path, -1);
    if (n->pid < 0) {
        n->pid = 0;
        return -1;
    }
    long end = now_ms() + HARNESS_START_TIMEOUT_MS;
    while (!runfile_ready(n)) {
        int st;
        if (waitpid(n->pid, &st, WNOHANG) == n->pid) {
            fprintf(stderr, "harness: natterd exited with %d before it was ready\n", exit_status(st));
            n->pid = 0;
            harness_dump_log(n);
            return -1;
        }
        if (now_ms() >= end) {
            fprintf(stderr, "harness: natterd not ready after %d ms\n", HARNESS_START_TIMEOUT_MS);
            harness_dump_log(n);
            harness_kill(n);
            return -1;
        }
        sleep_ms(POLL_MS);
    }
    snprintf(tokpath, sizeof tokpath, "%s/api-token", n->data_dir);
    if (!read_file(tokpath, n->token, sizeof n->token))
        return -1;
    n->token[strcspn(n->token, "\n")] = '\0';
    return 0;
}

int harness_start(harness_node *n, const char *name, const char *const *extra_args)
{
    memset(n, 0, sizeof *n);
    const char *tmp = getenv("TMPDIR");
    snprintf(n->dir, sizeof n->dir, "%s/natter-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(n->dir)) {
        perror("harness: mkdtemp");
        return -1;
    }
    snprintf(n->data_dir, sizeof n->data_dir, "%s/data", n->dir);
    snprintf(n->log_path, sizeof n->log_path, "%s/natterd.log", n->dir);
    snprintf(n->name, sizeof n->name, "%s", name ? name : "test");
    return launch(n, extra_args, true);
}

int harness_restart(harness_node *n, const char *const *extra_args)
{
    if (n->pid)
        return -1;
    return launch(n, extra_args, true);
}

int harness_restart_args(harness_node *n, const char *const *args)
{
    if (n->pid)
        return -1;
    return launch(n, args, false);
}

int harness_stop(harness_node *n)
{
    int st;
    if (!n->pid)
        return -1;
    kill(n->pid, SIGTERM);
    long end = now_ms() + HARNESS_STOP_TIMEOUT_MS;
    for (;;) {
        pid_t r = waitpid(n->pid, &st, WNOHANG);
        if (r == n->pid) {
            n->pid = 0;
            int code = exit_status(st);
            if (code != 0) {
                fprintf(stderr, "harness: natterd exited with %d on SIGTERM\n", code);
                harness_dump_log(n);
            }
            return code;
        }
        if (r < 0 || now_ms() >= end)
            break;
        sleep_ms(POLL_MS);
    }
    fprintf(stderr, "harness: natterd %d did not stop in %d ms\n", (int)n->pid, HARNESS_STOP_TIMEOUT_MS);
    harness_dump_log(n);
    harness_kill(n);
    return -1;
}

void harness_kill(harness_node *n)
{
    if (!n->pid)
        return;
    kill(n->pid, SIGKILL);
    waitpid(n->pid, NULL, 0);
    n->pid = 0;
}

int harness_pause(harness_node *n)
{
    int st;
    if (!n->pid || kill(n->pid, SIGSTOP) != 0)
        return -1;
    long end = now_ms() + HARNESS_STOP_TIMEOUT_MS;
    for (;;) {
        /* the stop is reported once every thread has stopped */
        pid_t r = waitpid(n->pid, &st, WUNTRACED | WNOHANG);
        if (r == n->pid && WIFSTOPPED(st))
            return 0;
        if (r == n->pid) { /* it died meanwhile */
            n->pid = 0;
            return -1;
        }
        if (r < 0 || now_ms() >= end)
            break;
        sleep_ms(1);
    }
    fprintf(stderr, "harness: natterd %d did not stop on SIGSTOP in %d ms\n", (int)n->pid, HARNESS_STOP_TIMEOUT_MS);
    return -1;
}

int harness_resume(harness_node *n)
{
    return n->pid && kill(n->pid, SIGCONT) == 0 ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    chmod(path, 0700); /* tests may have removed permissions */
    remove(path);
    return 0;
}

void harness_cleanup(harness_node *n)
{
    harness_kill(n);
    if (n->dir[0]) {
        chmod(n->dir, 0700);
        chmod(n->data_dir, 0700);
        nftw(n->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        n->dir[0] = '\0';
    }
}

/* Read what the non-blocking fd has now into err (cap bytes, one kept for
 * the NUL; err may be NULL), dropping what does not fit. */
static void drain(int fd, char *err, size_t cap, size_t *len)
{
    char tmp[512];
    ssize_t r;
    while ((r = read(fd, tmp, sizeof tmp)) > 0) {
        size_t room = err && cap > *len + 1 ? cap - *len - 1 : 0;
        size_t c = (size_t)r < room ? (size_t)r : room;
        if (c) {
            memcpy(err + *len, tmp, c);
            *len += c;
        }
    }
}

int harness_run(const char *const *args, int timeout_ms, char *err, size_t cap)
{
    int pfd[2], st;
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = spawn(args, NULL, pfd[1]);
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        return -1;
    }
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    size_t len = 0;
    long end = now_ms() + timeout_ms;
    int rc = -1;
    for (;;) {
        drain(pfd[0], err, cap, &len);
        if (waitpid(pid, &st, WNOHANG) == pid) {
            rc = exit_status(st);
            drain(pfd[0], err, cap, &len);
            break;
        }
        if (now_ms() >= end) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        sleep_ms(POLL_MS);
    }
    close(pfd[0]);
    if (err && cap)
        err[len] = '\0';
    return rc;
}

/* ---- HTTP ------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len;
} dbuf;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    dbuf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > BODY_MAX)
        return 0;
    char *q = realloc(b->p, b->len + n + 1);
    if (!q)
        return 0;
    memcpy(q + b->len, ptr, n);
    b->p = q;
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* harness_request_on, from the local address iface (NULL: any). */
static int request_on(CURL *c, const char *method, const char *url, const char *token, const char *iface,
                      const char *body, size_t body_len, harness_resp *out)
{
    pthread_once(&curl_once, curl_init);
    memset(out, 0, sizeof *out);
    struct curl_slist *hdrs = NULL;
    dbuf b = {0}, h = {0};
    char auth[160];
    int rc = -1;
    curl_easy_reset(c); /* keeps the open connection */
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)HARNESS_HTTP_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (iface) {
        char host[80];
        snprintf(host, sizeof host, "host!%s", iface);
        curl_easy_setopt(c, CURLOPT_INTERFACE, host);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        rc = 0;
    } else {
        fprintf(stderr, "harness: %s %s: %s\n", method, url, curl_easy_strerror(cc));
    }
    out->body = b.p ? b.p : strdup("");
    out->len = b.len;
    out->headers = h.p ? h.p : strdup("");
    if (out->body && out->len)
        out->json = json_loadb(out->body, out->len, JSON_DECODE_ANY, NULL);
    curl_slist_free_all(hdrs);
    return rc;
}

int harness_request_on(void *curl, const char *method, const char *url, const char *token, const char *body,
                       size_t body_len, harness_resp *out)
{
    return request_on(curl, method, url, token, NULL, body, body_len, out);
}

/* One request on a handle of its own, from the local address iface (NULL:
 * any). */
static int request_once(const char *method, const char *url, const char *token, const char *iface,
                        const char *body, size_t body_len, harness_resp *out)
{
    pthread_once(&curl_once, curl_init);
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    int rc = request_on(c, method, url, token, iface, body, body_len, out);
    curl_easy_cleanup(c);
    return rc;
}

int harness_request(const char *method, const char *url, const char *token, const char *body, size_t body_len,
                    harness_resp *out)
{
    return request_once(method, url, token, NULL, body, body_len, out);
}

int harness_request_from(const char *src, const char *method, const char *url, const char *body, size_t body_len,
                         harness_resp *out)
{
    return request_once(method, url, NULL, src, body, body_len, out);
}

int harness_call(const harness_node *n, harness_api api, const char *method, const char *path, const char *body,
                 harness_resp *out)
{
    char url[1200];
    snprintf(url, sizeof url, "%s%s", api == HARNESS_CLIENT ? n->client_url : n->peer_url, path);
    return harness_request(method, url, api == HARNESS_CLIENT ? n->token : NULL, body, body ? strlen(body) : 0, out);
}

int harness_get(const harness_node *n, harness_api api, const char *path, harness_resp *out)
{
    return harness_call(n, api, "GET", path, NULL, out);
}
int harness_post(const harness_node *n, harness_api api, const char *path, const char *body, harness_resp *out)
{
    return harness_call(n, api, "POST", path, body ? body : "", out);
}
int harness_put(const harness_node *n, harness_api api, const char *path, const char *body, harness_resp *out)
{
    return harness_call(n, api, "PUT", path, body ? body : "", out);
}
int harness_delete(const harness_node *n, harness_api api, const char *path, harness_resp *out)
{
    return harness_call(n, api, "DELETE", path, NULL, out);
}

const char *harness_resp_header(const harness_resp *r, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(p + len - v);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            if (vl >= cap)
                vl = cap - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return buf;
        }
        p = eol ? eol + 1 : p + len;
    }
    return NULL;
}

const char *harness_error_code(const harness_resp *r)
{
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

void harness_resp_free(harness_resp *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}
