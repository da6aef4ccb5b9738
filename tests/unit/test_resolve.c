/* Naming peers and rooms: exact id, exact name, case-insensitive name,
 * unique prefix of a name or id; ambiguity and misses are told apart. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "client/ident.h"
#include "client/resolve.h"
#include "tests/test_main.h"

static const char *list_json =
    "[{\"id\":\"aa11bb22\",\"name\":\"alice\"},"
    " {\"id\":\"aa11cc33\",\"name\":\"alicia\"},"
    " {\"node_id\":\"ff00ee11\",\"name\":\"Bob\"},"
    " {\"id\":\"0123abcd\",\"name\":\"general\"},"
    " {\"id\":\"9999aaaa\",\"name\":\"gen\"},"
    " {\"id\":\"77770000\",\"name\":\"twin\"},"
    " {\"id\":\"77771111\",\"name\":\"twin\"},"
    " {\"id\":\"55550000\",\"name\":\"aa11\"}]";

static const struct {
    const char *q;
    nt_err rc;
    int index;
} cases[] = {
    {"alice", NT_OK, 0},       /* exact name */
    {"alicia", NT_OK, 1},
    {"ali", NT_ERR_EXISTS, -1},/* prefix of two names */
    {"alic", NT_ERR_EXISTS, -1},
    {"alici", NT_OK, 1},       /* unique prefix */
    {"aa11bb22", NT_OK, 0},    /* exact id */
    {"AA11BB22", NT_OK, 0},    /* ids are hex: any case */
    {"aa11b", NT_OK, 0},       /* unique id prefix */
    {"aa11", NT_OK, 7},        /* an exact name wins over id prefixes */
    {"bob", NT_OK, 2},         /* case-insensitive name */
    {"ff00", NT_OK, 2},        /* id under node_id */
    {"gen", NT_OK, 4},         /* exact beats prefix of "general" */
    {"gene", NT_OK, 3},
    {"twin", NT_ERR_EXISTS, -1}, /* same name twice */
    {"7777", NT_ERR_EXISTS, -1},
    {"77771", NT_OK, 6},       /* the id tells twins apart */
    {"zed", NT_ERR_NOT_FOUND, -1},
    {"", NT_ERR_INVALID, -1},
};

START_TEST(test_table)
{
    json_t *list = json_loads(list_json, 0, NULL);
    ck_assert_ptr_nonnull(list);
    size_t idx = 999;
    char err[RESOLVE_ERR_MAX];
    nt_err rc = resolve_find(list, cases[_i].q, "peer", &idx, err);
    ck_assert_msg(rc == cases[_i].rc, "\"%s\": rc %d want %d (%s)", cases[_i].q, rc, cases[_i].rc, err);
    if (rc == NT_OK)
        ck_assert_int_eq((int)idx, cases[_i].index);
    else
        ck_assert(err[0] != '\0');
    json_decref(list);
}
END_TEST

START_TEST(test_ambiguous_names_candidates)
{
    json_t *list = json_loads(list_json, 0, NULL);
    size_t idx;
    char err[RESOLVE_ERR_MAX];
    ck_assert_int_eq(resolve_find(list, "ali", "peer", &idx, err), NT_ERR_EXISTS);
    ck_assert_ptr_nonnull(strstr(err, "alice"));
    ck_assert_ptr_nonnull(strstr(err, "alicia"));
    ck_assert_int_eq(resolve_find(list, "nobody", "room", &idx, err), NT_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err, "no room"));
    json_decref(list);
}
END_TEST

START_TEST(test_not_a_list)
{
    json_t *o = json_object();
    size_t idx;
    char err[RESOLVE_ERR_MAX];
    ck_assert_int_eq(resolve_find(o, "x", "peer", &idx, err), NT_ERR_INVALID);
    ck_assert_int_eq(resolve_find(NULL, "x", "peer", &idx, err), NT_ERR_INVALID);
    json_t *empty = json_array();
    ck_assert_int_eq(resolve_find(empty, "x", "peer", &idx, err), NT_ERR_NOT_FOUND);
    json_decref(o);
    json_decref(empty);
}
END_TEST

/* ---- peers: labels, trusted first ---------------------------------------- */

#define ID_BOB "3fa2aaaa00000000000000000000000000000000000000000000000000000000"
#define ID_IMP "77bbcccc00000000000000000000000000000000000000000000000000000000"
#define ID_GRD "3fa2999900000000000000000000000000000000000000000000000000000000" /* ground to bob's 4 digits */
#define ID_C1 "1111000000000000000000000000000000000000000000000000000000000000"
#define ID_C2 "2222000000000000000000000000000000000000000000000000000000000000"
#define ID_DAVE "4444000000000000000000000000000000000000000000000000000000000000"

/* As an older node lists them: trusted only, no label or trust. */
static const char *peers_old =
    "[{\"id\":\"" ID_BOB "\",\"name\":\"bob\",\"trusted\":true},"
    " {\"id\":\"" ID_IMP "\",\"name\":\"bob\",\"trusted\":false},"
    " {\"id\":\"" ID_C1 "\",\"name\":\"carol\",\"trusted\":false},"
    " {\"id\":\"" ID_C2 "\",\"name\":\"carol\",\"trusted\":false},"
    " {\"id\":\"" ID_GRD "\",\"name\":\"bob\",\"trusted\":false},"
    " {\"id\":\"" ID_DAVE "\",\"name\":\"dave\",\"trusted\":true}]";

/* The same as a node with the identity fields lists them. */
static const char *peers_new =
    "[{\"id\":\"" ID_BOB "\",\"name\":\"bob\",\"trusted\":true,\"trust\":\"trusted\",\"label\":\"bob~3fa2aaaa\",\"name_collision\":true},"
    " {\"id\":\"" ID_IMP "\",\"name\":\"bob\",\"trusted\":false,\"trust\":\"untrusted\",\"label\":\"bob~77bbcccc\",\"name_collision\":true},"
    " {\"id\":\"" ID_C1 "\",\"name\":\"carol\",\"trusted\":false,\"trust\":\"untrusted\",\"label\":\"carol~11110000\",\"name_collision\":true},"
    " {\"id\":\"" ID_C2 "\",\"name\":\"carol\",\"trusted\":false,\"trust\":\"untrusted\",\"label\":\"carol~22220000\",\"name_collision\":true},"
    " {\"id\":\"" ID_GRD "\",\"name\":\"bob\",\"trusted\":false,\"trust\":\"untrusted\",\"label\":\"bob~3fa29999\",\"name_collision\":true},"
    " {\"id\":\"" ID_DAVE "\",\"name\":\"dave\",\"trusted\":true,\"trust\":\"trusted\",\"label\":\"dave\",\"name_collision\":false}]";

static const struct {
    const char *q;
    nt_err rc;
    int index;
    const char *in_err[2];
} peer_cases[] = {
    {"bob", NT_OK, 0, {0}},              /* two untrusted bobs besides: the trusted one */
    {"bob~77bbcccc", NT_OK, 1, {0}},     /* a label names exactly one */
    {"bob~3fa29999", NT_OK, 4, {0}},     /* the stranger's own label */
    {"bob~77bb", NT_OK, 1, {0}},         /* fewer digits than the label (as 4-digit labels were typed) */
    {"bob~3fa2", NT_OK, 0, {0}},         /* a stranger ground to the same 4 digits: trusted first */
    {"bob~3fa29", NT_OK, 4, {0}},        /* a 5th digit sets them apart */
    {"dave~4444", NT_OK, 5, {0}},        /* digits for a peer shown by its bare name */
    {"dave~5", NT_ERR_NOT_FOUND, -1, {"no peer called"}},
    {"carol", NT_ERR_EXISTS, -1, {"carol~1111", "carol~2222"}},
    {"carol~2222", NT_OK, 3, {0}},
    {"carol~9999", NT_ERR_NOT_FOUND, -1, {"no peer called"}}, /* a label nobody has */
    {"dave", NT_OK, 5, {0}},
    {ID_IMP, NT_OK, 1, {0}},             /* an exact id always */
    {"2222", NT_OK, 3, {0}},             /* id prefix */
    {"bo", NT_OK, 0, {0}},               /* prefix of three bobs: the trusted one */
    {"carol~1", NT_OK, 2, {0}},          /* label prefix */
    {"zed", NT_ERR_NOT_FOUND, -1, {"no peer called"}},
};

static void peer_case(const char *json, int i)
{
    json_t *list = json_loads(json, 0, NULL);
    ck_assert_ptr_nonnull(list);
    size_t idx = 999;
    char err[RESOLVE_ERR_MAX];
    nt_err rc = resolve_peer(list, peer_cases[i].q, &idx, err);
    ck_assert_msg(rc == peer_cases[i].rc, "\"%s\": rc %d want %d (%s)", peer_cases[i].q, rc,
                  peer_cases[i].rc, err);
    if (rc == NT_OK)
        ck_assert_int_eq((int)idx, peer_cases[i].index);
    for (int k = 0; k < 2 && peer_cases[i].in_err[k]; k++)
        ck_assert_msg(strstr(err, peer_cases[i].in_err[k]), "\"%s\": %s", peer_cases[i].q, err);
    json_decref(list);
}

START_TEST(test_peers_old_node) { peer_case(peers_old, _i); }
END_TEST

START_TEST(test_peers_new_node) { peer_case(peers_new, _i); }
END_TEST

START_TEST(test_two_untrusted_bobs)
{
    json_t *list = json_loads("[{\"id\":\"" ID_IMP "\",\"name\":\"bob\",\"trusted\":false},"
                              " {\"id\":\"" ID_GRD "\",\"name\":\"bob\",\"trusted\":false}]", 0, NULL);
    size_t idx;
    char err[RESOLVE_ERR_MAX];
    ck_assert_int_eq(resolve_peer(list, "bob", &idx, err), NT_ERR_EXISTS);
    ck_assert_ptr_nonnull(strstr(err, "bob~77bbcccc (untrusted)"));
    ck_assert_ptr_nonnull(strstr(err, "bob~3fa29999 (untrusted)"));
    ck_assert_int_eq(resolve_peer(list, "bob~3fa2", &idx, err), NT_OK);
    ck_assert_int_eq((int)idx, 1);
    json_decref(list);
    /* two trusted peers with one name: still ambiguous, listed by label */
    list = json_loads("[{\"id\":\"" ID_BOB "\",\"name\":\"bob\",\"trusted\":true},"
                      " {\"id\":\"" ID_IMP "\",\"name\":\"bob\",\"trusted\":true}]", 0, NULL);
    ck_assert_int_eq(resolve_peer(list, "bob", &idx, err), NT_ERR_EXISTS);
    ck_assert_ptr_nonnull(strstr(err, "bob~3fa2aaaa (trusted)"));
    ck_assert_ptr_nonnull(strstr(err, "bob~77bbcccc (trusted)"));
    json_decref(list);
}
END_TEST

/* The label rule (ident.h), as the node computes it. */
START_TEST(test_label_rule)
{
    static const struct {
        const char *name, *trust;
        bool shared;
        const char *label;
    } c[] = {
        {"bob", "trusted", false, "bob"},          {"bob", "trusted", true, "bob~3fa2aaaa"},
        {"bob", "untrusted", false, "bob~3fa2aaaa"}, {"bob", "unknown", false, "bob~3fa2aaaa"},
        {"me", "self", true, "me"},                {"", "trusted", false, "~3fa2aaaa"},
        {NULL, "untrusted", false, "~3fa2aaaa"},
    };
    char out[IDENT_LABEL_MAX];
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        ident_label(c[i].name, ID_BOB, c[i].trust, c[i].shared, out);
        ck_assert_str_eq(out, c[i].label);
    }
    /* the node's label wins over the rule; without one the list decides "shared" */
    json_t *l = json_loads(peers_old, 0, NULL);
    ck_assert_str_eq(ident_peer_label(json_array_get(l, 5), l, out), "dave");
    ck_assert_str_eq(ident_peer_label(json_array_get(l, 0), l, out), "bob~3fa2aaaa");
    json_t *named = json_pack("{s:s, s:s, s:s}", "id", ID_BOB, "name", "bob", "label", "bob!");
    ck_assert_str_eq(ident_peer_label(named, NULL, out), "bob!");
    ck_assert_str_eq(out, "bob!"); /* always in buf */
    json_decref(named);
    json_t *map = ident_map(l, ID_DAVE, "dave-self");
    ck_assert_str_eq(ident_label_of(map, ID_DAVE, NULL, NULL, out), "dave-self"); /* self, not the peer row */
    ck_assert_str_eq(ident_trust_of(map, ID_DAVE, NULL), "self");
    ck_assert_str_eq(ident_trust_of(map, ID_IMP, NULL), "untrusted");
    ck_assert_str_eq(ident_label_of(map, ID_C2, NULL, NULL, out), "carol~22220000");
    ck_assert_str_eq(ident_label_of(map, "9999", "eve", NULL, out), "eve~9999"); /* not a peer */
    ck_assert_str_eq(ident_trust_of(map, "9999", NULL), "unknown");
    ck_assert_str_eq(ident_label_of(map, "9999", "eve", "eve~9999ab", out), "eve~9999ab");
    json_decref(map);
    json_decref(l);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("resolve");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_table, 0, sizeof cases / sizeof cases[0]);
    tcase_add_test(tc, test_ambiguous_names_candidates);
    tcase_add_test(tc, test_not_a_list);
    tcase_add_loop_test(tc, test_peers_old_node, 0, sizeof peer_cases / sizeof peer_cases[0]);
    tcase_add_loop_test(tc, test_peers_new_node, 0, sizeof peer_cases / sizeof peer_cases[0]);
    tcase_add_test(tc, test_two_untrusted_bobs);
    tcase_add_test(tc, test_label_rule);
    suite_add_tcase(s, tc);
    return s;
}
