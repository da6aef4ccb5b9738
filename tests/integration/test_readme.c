/* The README's curl lines, run as written against a live node: HOME points
 * at a temp home whose ~/.local/share/natter is the node's data dir, and
 * only the default ports (localhost:7711 / :7710) are replaced by the
 * node's real ones (tests never use fixed ports). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tests/test_main.h"

#define README_PATH "README.md"
#define MAX_LINES 64

/* Replace every `from` in line with `to` (into out, cap bytes). */
static void replace_all(const char *line, const char *from, const char *to, char *out, size_t cap)
{
    size_t fl = strlen(from), k = 0;
    for (const char *p = line; *p && k + 1 < cap;) {
        if (strncmp(p, from, fl) == 0) {
            k += (size_t)snprintf(out + k, cap - k, "%s", to);
            p += fl;
        } else {
            out[k++] = *p++;
        }
    }
    out[k < cap ? k : cap - 1] = '\0';
}

/* The lines of the ```sh block between the readme-test markers. */
static size_t readme_lines(char lines[][1024], size_t max)
{
    FILE *f = fopen(README_PATH, "r");
    char buf[1024];
    size_t n = 0;
    int state = 0; /* 0 before, 1 inside markers, 2 inside the code block */
    ck_assert_msg(f != NULL, "run from the repository root: %s not found", README_PATH);
    while (fgets(buf, sizeof buf, f) && n < max) {
        buf[strcspn(buf, "\n")] = '\0';
        if (state == 0 && strstr(buf, "<!-- readme-test:begin"))
            state = 1;
        else if (state == 1 && strncmp(buf, "```", 3) == 0)
            state = 2;
        else if (state == 2 && strncmp(buf, "```", 3) == 0)
            break;
        else if (state == 2 && buf[0] && buf[0] != '#')
            snprintf(lines[n++], 1024, "%s", buf);
    }
    fclose(f);
    return n;
}

static json_t *load_json(const char *path)
{
    return json_load_file(path, JSON_DECODE_ANY, NULL);
}

START_TEST(readme_curl_lines_work)
{
    harness_node n;
    static char lines[MAX_LINES][1024];
    char home[PATH_MAX / 2 + 16], share[PATH_MAX / 2 + 64], link[PATH_MAX / 2 + 96], script[PATH_MAX], cmd[PATH_MAX * 2];
    char peer[96], client[96], a[2048], b[2048];
    size_t nl = readme_lines(lines, MAX_LINES);
    ck_assert_uint_ge(nl, 4);

    ck_assert_int_eq(harness_start(&n, NULL, NULL), 0);
    snprintf(home, sizeof home, "%s/home", n.dir);
    snprintf(share, sizeof share, "%s/.local/share", home);
    snprintf(link, sizeof link, "%s/natter", share);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", share);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(symlink(n.data_dir, link), 0);

    snprintf(peer, sizeof peer, "localhost:%u", n.peer_port);
    snprintf(client, sizeof client, "localhost:%u", n.client_port);
    snprintf(script, sizeof script, "%s/readme.sh", n.dir);
    FILE *f = fopen(script, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "set -eu\nexport HOME='%s'\nunset XDG_DATA_HOME\n", home);
    size_t ncurl = 0;
    for (size_t i = 0; i < nl; i++) {
        replace_all(lines[i], "localhost:7711", peer, a, sizeof a);
        replace_all(a, "localhost:7710", client, b, sizeof b);
        if (strncmp(b, "curl ", 5) == 0)
            fprintf(f, "%s > '%s/out.%zu'\n", b, n.dir, ncurl++);
        else
            fprintf(f, "%s\n", b);
    }
    fclose(f);
    snprintf(cmd, sizeof cmd, "bash '%s'", script);
    int st = system(cmd);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "README lines failed (status %d)", st);

    /* every curl line printed a JSON object; check what each one is about */
    int seen_node = 0, seen_status = 0, seen_401 = 0;
    for (size_t i = 0, k = 0; i < nl; i++) {
        if (strncmp(lines[i], "curl ", 5) != 0)
            continue;
        char out[PATH_MAX];
        snprintf(out, sizeof out, "%s/out.%zu", n.dir, k++);
        json_t *j = load_json(out);
        ck_assert_msg(json_is_object(j), "not a JSON object from: %s", lines[i]);
        const char *id = json_string_value(json_object_get(j, "node_id"));
        if (strstr(lines[i], "/v1/node")) {
            ck_assert_str_eq(id, n.node_id);
            const char *pem = json_string_value(json_object_get(j, "public_key"));
            ck_assert(pem && strstr(pem, "-----BEGIN PUBLIC KEY-----"));
            seen_node++;
        } else if (strstr(lines[i], "/v1/client/status") && strstr(lines[i], "Bearer")) {
            ck_assert_str_eq(id, n.node_id);
            seen_status++;
        } else if (strstr(lines[i], "/v1/client/status")) {
            ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")), "unauthorized");
            seen_401++;
        } else if (strstr(lines[i], "/v1/client/name")) {
            ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "name")));
        }
        json_decref(j);
    }
    ck_assert_int_ge(seen_node, 1);
    ck_assert_int_ge(seen_status, 1);
    ck_assert_int_ge(seen_401, 1);
    ck_assert_int_eq(harness_stop(&n), 0);
    harness_cleanup(&n);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("readme");
    TCase *tc = tcase_create("readme");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, readme_curl_lines_work);
    suite_add_tcase(s, tc);
    return s;
}
