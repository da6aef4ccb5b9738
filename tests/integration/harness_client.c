/* harness_client.c - asserting client API helpers for integration tests. */
#include "harness_client.h"

#include <check.h>
#include <stdio.h>

json_t *client_json(const harness_node *n, harness_api api, const char *method, const char *path, const char *body,
                    long want)
{
    harness_resp r;
    ck_assert_int_eq(harness_call(n, api, method, path, body, &r), 0);
    if (r.status != want) {
        harness_dump_log(n);
        ck_abort_msg("%s %s: status %ld (want %ld): %s", method, path, r.status, want, r.body);
    }
    json_t *j = json_incref(r.json);
    harness_resp_free(&r);
    return j;
}

void client_add_peer(const harness_node *a, const char *addr, const char *want_id)
{
    char body[128];
    snprintf(body, sizeof body, "{\"address\":\"%s\"}", addr);
    harness_resp r;
    ck_assert_int_eq(harness_post(a, HARNESS_CLIENT, "/v1/client/peers", body, &r), 0);
    ck_assert_msg(r.status == 201 || r.status == 200, "add peer: %ld %s", r.status, r.body);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "id")), want_id);
    harness_resp_free(&r);
}

void client_peer_action(const harness_node *a, const char *id, const char *what, const char *body, harness_resp *r)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/client/peers/%s/%s", id, what);
    ck_assert_int_eq(harness_post(a, HARNESS_CLIENT, path, body, r), 0);
}
