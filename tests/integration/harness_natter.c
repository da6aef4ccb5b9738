/* harness_natter.c - run natter for integration tests (harness_natter.h). */
#include "harness_natter.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 20

static const char *natter_bin(void)
{
    const char *b = getenv("NATTER");
    return b && b[0] ? b : "build/natter";
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;
    if (!f)
        return strdup("");
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(m);
    fclose(f);
    return buf;
}

/* argv for execv: natter [--data-dir D] args... */
static int build_argv(const harness_node *n, va_list ap, const char **argv)
{
    int i = 0;
    argv[i++] = natter_bin();
    if (n) {
        argv[i++] = "--data-dir";
        argv[i++] = n->data_dir;
    }
    const char *a;
    while ((a = va_arg(ap, const char *)) && i < NATTER_ARGS_MAX - 1)
        argv[i++] = a;
    argv[i] = NULL;
    return i;
}

static pid_t start(const char **argv, const char *in_path, const char *out_path,
                   const char *err_path)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0)
        _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    unsetenv("NATTER_URL");
    unsetenv("NATTER_TOKEN");
    unsetenv("NATTER_DATA_DIR");
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

static int wait_exit(pid_t pid, int timeout_ms)
{
    int st;
    for (int waited = 0; waited <= timeout_ms; waited += POLL_MS) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        sleep_ms(POLL_MS);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

int natter_run(const harness_node *n, const char *stdin_text, natter_out *o, ...)
{
    const char *argv[NATTER_ARGS_MAX];
    char in_path[64] = "", out_path[64], err_path[64];
    va_list ap;
    memset(o, 0, sizeof *o);
    va_start(ap, o);
    build_argv(n, ap, argv);
    va_end(ap);
    snprintf(out_path, sizeof out_path, "/tmp/natter-out-%d-XXXXXX", (int)getpid());
    snprintf(err_path, sizeof err_path, "/tmp/natter-err-%d-XXXXXX", (int)getpid());
    int fo = mkstemp(out_path), fe = mkstemp(err_path);
    if (fo < 0 || fe < 0)
        return -1;
    close(fo);
    close(fe);
    if (stdin_text) {
        snprintf(in_path, sizeof in_path, "/tmp/natter-in-%d-XXXXXX", (int)getpid());
        int fi = mkstemp(in_path);
        if (fi < 0 || write(fi, stdin_text, strlen(stdin_text)) != (ssize_t)strlen(stdin_text))
            return -1;
        close(fi);
    }
    pid_t pid = start(argv, in_path[0] ? in_path : NULL, out_path, err_path);
    if (pid < 0)
        return -1;
    o->status = wait_exit(pid, NATTER_RUN_TIMEOUT_MS);
    o->out = slurp(out_path);
    o->err = slurp(err_path);
    o->json = json_loads(o->out, JSON_DECODE_ANY, NULL);
    unlink(out_path);
    unlink(err_path);
    if (in_path[0])
        unlink(in_path);
    return 0;
}

void natter_out_free(natter_out *o)
{
    free(o->out);
    free(o->err);
    json_decref(o->json);
    memset(o, 0, sizeof *o);
}

int natter_spawn(const harness_node *n, natter_proc *p, ...)
{
    const char *argv[NATTER_ARGS_MAX];
    va_list ap;
    va_start(ap, p);
    build_argv(n, ap, argv);
    va_end(ap);
    snprintf(p->out_path, sizeof p->out_path, "/tmp/natter-bg-%d-XXXXXX", (int)getpid());
    snprintf(p->err_path, sizeof p->err_path, "/tmp/natter-bge-%d-XXXXXX", (int)getpid());
    int fo = mkstemp(p->out_path), fe = mkstemp(p->err_path);
    if (fo < 0 || fe < 0)
        return -1;
    close(fo);
    close(fe);
    p->pid = start(argv, NULL, p->out_path, p->err_path);
    return p->pid > 0 ? 0 : -1;
}

static bool wait_in(const char *path, const char *text, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += POLL_MS) {
        char *s = slurp(path);
        bool hit = s && strstr(s, text);
        free(s);
        if (hit)
            return true;
        sleep_ms(POLL_MS);
    }
    return false;
}

bool natter_wait_output(const natter_proc *p, const char *text, int timeout_ms)
{
    return wait_in(p->out_path, text, timeout_ms);
}

bool natter_wait_stderr(const natter_proc *p, const char *text, int timeout_ms)
{
    return wait_in(p->err_path, text, timeout_ms);
}

void natter_stop(natter_proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        if (wait_exit(p->pid, 3000) < 0)
            kill(p->pid, SIGKILL);
        p->pid = 0;
    }
    unlink(p->out_path);
    unlink(p->err_path);
}

#define FAKE_REQ_MAX 8192

/* Read one request head (bounded, 2 s), answer, close. */
static void fake_serve(fake_http *f, int c)
{
    char req[FAKE_REQ_MAX + 1], head[256];
    size_t n = 0;
    struct timeval tv = {2, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (n < FAKE_REQ_MAX) {
        ssize_t r = recv(c, req + n, FAKE_REQ_MAX - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    req[n] = '\0';
    atomic_fetch_add(&f->requests, 1);
    if (strcasestr(req, "\nauthorization:"))
        atomic_store(&f->saw_auth, 1);
    int hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n", strlen(f->body));
    if (send(c, head, (size_t)hl, MSG_NOSIGNAL) == hl)
        (void)!send(c, f->body, strlen(f->body), MSG_NOSIGNAL);
    close(c);
}

static void *fake_main(void *arg)
{
    fake_http *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int c = accept(f->fd, NULL, NULL);
        if (c >= 0)
            fake_serve(f, c);
    }
    return NULL;
}

int fake_http_start(fake_http *f, const char *body)
{
    memset(f, 0, sizeof *f);
    snprintf(f->body, sizeof f->body, "%s", body);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sa, sizeof sa) || listen(f->fd, 16) ||
        getsockname(f->fd, (struct sockaddr *)&sa, &len) ||
        pthread_create(&f->thread, NULL, fake_main, f)) {
        if (f->fd >= 0)
            close(f->fd);
        f->fd = -1;
        return -1;
    }
    f->port = ntohs(sa.sin_port);
    return 0;
}

void fake_http_stop(fake_http *f)
{
    if (f->fd < 0)
        return;
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    close(f->fd);
    f->fd = -1;
}

void natter_expect(const natter_out *o, int status, const char *in_out, const char *in_err)
{
    ck_assert_msg(o->status == status, "exit %d, want %d; stdout: %s stderr: %s", o->status, status, o->out,
                  o->err);
    if (in_out)
        ck_assert_msg(strstr(o->out, in_out), "stdout \"%s\" lacks \"%s\"", o->out, in_out);
    if (in_err)
        ck_assert_msg(strstr(o->err, in_err), "stderr \"%s\" lacks \"%s\"", o->err, in_err);
}

json_t *natter_api_get(const harness_node *n, const char *path)
{
    harness_resp r;
    ck_assert_int_eq(harness_get(n, HARNESS_CLIENT, path, &r), 0);
    ck_assert_msg(r.status == 200, "GET %s: %ld %s", path, r.status, r.body);
    json_t *j = json_incref(r.json);
    harness_resp_free(&r);
    return j;
}
