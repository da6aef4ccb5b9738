/* json helpers and text checks. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/text.h"
#include "tests/test_main.h"

static const struct {
    const char *in;
    nt_err want;
} parse_cases[] = {
    {"{}", NT_OK},
    {"{\"a\":[1,{\"b\":null}]}", NT_OK},
    {"[]", NT_ERR_INVALID},           /* not an object */
    {"\"s\"", NT_ERR_INVALID},
    {"", NT_ERR_INVALID},
    {"{", NT_ERR_INVALID},
    {"{\"a\":1,\"a\":2}", NT_ERR_INVALID},
    {"{\"a\":\"\\ud800\"}", NT_ERR_INVALID}, /* lone surrogate */
    {"{\"a\":\"\xff\"}", NT_ERR_INVALID},    /* bad UTF-8 */
    {"{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}", NT_ERR_TOO_BIG}, /* 17 levels */
    {"{\"a\":[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}", NT_OK},            /* 16 levels */
    {"{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}", NT_OK},       /* brackets in strings do not count */
    {"{\"a\":\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[\"}", NT_OK},
};

START_TEST(parse_object)
{
    json_t *j = NULL;
    nt_err rc = json_parse_object(parse_cases[_i].in, strlen(parse_cases[_i].in), JSON_DEPTH_DEFAULT, &j);
    ck_assert_msg(rc == parse_cases[_i].want, "case %d (%s): got %d", _i, parse_cases[_i].in, rc);
    ck_assert(rc ? j == NULL : json_is_object(j));
    json_decref(j);
}
END_TEST

/* json_load_fast must mean exactly what Jansson means: the same value, or
 * a failure from both, for every text and flag set. */
static void same_as_jansson(const char *in, size_t len)
{
    static const size_t flag_sets[] = {0, JSON_REJECT_DUPLICATES, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY};
    for (size_t f = 0; f < sizeof flag_sets / sizeof flag_sets[0]; f++) {
        json_error_t e1, e2;
        json_t *fast = json_load_fast(in, len, flag_sets[f], &e1), *slow = json_loadb(in, len, flag_sets[f], &e2);
        ck_assert_msg((fast == NULL) == (slow == NULL) && (!fast || json_equal(fast, slow)),
                      "json_load_fast and Jansson disagree on [%.*s] (flags %zu)", (int)len, in, flag_sets[f]);
        json_decref(fast);
        json_decref(slow);
    }
}

static const char *const fast_cases[] = {
    "{}", " { } ", "{\"a\":1}", "{ \"a\" : \"x\" , \"b\" : -12 }\n", "{\"\":1}", "{\"a\":01}",
    "{\"a\":-0}", "{\"a\":-}", "{\"a\":1.5}", "{\"a\":1e3}", "{\"a\":1E3}", "{\"a\":123456789012345678}",
    "{\"a\":1234567890123456789}", "{\"a\":-9223372036854775808}", "{\"a\":99999999999999999999}",
    "{\"a\":\"\\/\"}", "{\"a\":\"\xc3\xa9\"}", "{\"a\":\"\xff\"}", "{\"a\":1,}", "{,}", "{\"a\" 1}",
    "{\"a\":1}x", "{\"a\":1}{}", "{\"a\":1,\"a\":1}", "{\"a\":1,\"a\":\"1\"}", "{\"a\":true}",
    "{\"a\":null}", "{\"a\":[]}", "{\"a\":{}}", "{\"a\":\"\x7f\"}", "{\"a\":\"\t\"}", "{\"a\":\"b\"",
    "{\"a\"", "{\"a\":", "{", "", "[1]", "\"s\"", "7", "{\"a\":\"\\u0041\"}", "{\"a\":+1}", "{\"a\":1 2}",
    "{\"a\":\"x\" \"b\":1}", "{\"v\":1,\"session\":\"00ff\",\"seq\":7,\"box\":\"AAEC/+==\"}",
    "{\"k0123456789012345678901234567890123456789012345678901234567890123\":1}",
    "{\"k012345678901234567890123456789012345678901234567890123456789012\":1}",
    /* lists of flat objects */
    "{\"m\":[]}", "{\"m\":[{}]}", "{\"m\":[{\"a\":1},{\"b\":\"x\"}]}", " { \"m\" : [ { \"a\" : 1 } , { } ] } ",
    "{\"m\":[{\"a\":1},]}", "{\"m\":[,]}", "{\"m\":[{\"a\":1}}", "{\"m\":[1]}", "{\"m\":[\"s\"]}",
    "{\"m\":[[]]}", "{\"m\":[{\"a\":[]}]}", "{\"m\":[{\"a\":{}}]}", "{\"m\":[{\"a\":1,\"a\":2}]}",
    "{\"m\":[{\"a\":1}],\"m\":[]}", "{\"m\":[{\"a\":1}] , \"n\":2}", "{\"m\":[{\"a\":1.5}]}",
    "{\"m\":[{\"a\":\"\xff\"}]}", "{\"m\":[{\"a\":null}]}", "{\"m\":[{\"a\":1}]", "{\"m\":[{\"a\":1}]}]",
};

/* The fast path's lists are three levels deep: a cap below that still
 * refuses them, as it refuses any deeper text. */
START_TEST(fast_path_lists_respect_the_depth_cap)
{
    const char *in = "{\"m\":[{\"a\":1,\"b\":\"x\"}]}";
    json_t *j = NULL;
    ck_assert_int_eq(json_parse_capped(in, strlen(in), 2, &j), NT_ERR_TOO_BIG);
    ck_assert_ptr_null(j);
    ck_assert_int_eq(json_parse_capped(in, strlen(in), 3, &j), NT_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(j, "m"), 0), "a")), 1);
    json_decref(j);
    ck_assert_int_eq(json_parse_capped("{\"a\":1}", 7, 1, &j), NT_OK);
    json_decref(j);
}
END_TEST

START_TEST(fast_path_cases)
{
    same_as_jansson(fast_cases[_i], strlen(fast_cases[_i]));
}
END_TEST

START_TEST(fast_path_nul_byte)
{
    same_as_jansson("{\"a\":1}\0", 8);
    same_as_jansson("{\"a\":\"x\0y\"}", 11);
    same_as_jansson("{\"a\0\":1}", 9);
}
END_TEST

static uint32_t xorshift(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Valid flat objects with random edits: fixed seed, bounded. */
START_TEST(fast_path_mutations)
{
    static const char alphabet[] = "{}[]\":, \t\n\\-+.eE0123456789abtnul\x7f\xc3\xa9\x01";
    uint32_t x = 0x9e3779b9u;
#define RND() xorshift(&x)
    for (int round = 0; round < 20000; round++) {
        char buf[512];
        size_t n = 0;
        int fields = (int)(RND() % 5);
        buf[n++] = '{';
        for (int f = 0; f < fields; f++) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"%c%d\":", f ? "," : "", 'a' + (int)(RND() % 3),
                                  (int)(RND() % 2));
            unsigned kind = RND() % 5;
            if (kind < 2)
                n += (size_t)snprintf(buf + n, sizeof buf - n, "%ld", (long)(RND() % 2000) - 1000);
            else if (kind < 4)
                n += (size_t)snprintf(buf + n, sizeof buf - n, "\"%08x\"", RND());
            else /* a list of small flat objects */
                n += (size_t)snprintf(buf + n, sizeof buf - n, "[{\"x\":%d,\"y\":\"%04x\"},{\"x\":\"%02x\"}]",
                                      (int)(RND() % 100), RND() % 65536, RND() % 256);
        }
        buf[n++] = '}';
        for (int m = (int)(RND() % 4); m > 0 && n > 0 && n < sizeof buf - 1; m--) {
            size_t at = RND() % n;
            char c = alphabet[RND() % (sizeof alphabet - 1)];
            switch (RND() % 3) {
            case 0: /* replace */
                buf[at] = c;
                break;
            case 1: /* insert */
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = c;
                n++;
                break;
            default: /* delete */
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
            }
        }
        same_as_jansson(buf, n);
    }
#undef RND
}
END_TEST

START_TEST(getters)
{
    json_t *j;
    const char *s;
    json_int_t i;
    bool b;
    static const char in[] = "{\"s\":\"hey\",\"e\":\"\",\"i\":5,\"b\":true,\"n\":null}";
    ck_assert_int_eq(json_parse_object(in, sizeof in - 1, 4, &j), NT_OK);
    ck_assert_int_eq(json_get_str(j, "s", 10, &s), NT_OK);
    ck_assert_str_eq(s, "hey");
    ck_assert_int_eq(json_get_str(j, "s", 2, &s), NT_ERR_INVALID);
    ck_assert_int_eq(json_get_str(j, "e", 10, &s), NT_ERR_INVALID);
    ck_assert_int_eq(json_get_str(j, "i", 10, &s), NT_ERR_INVALID);
    ck_assert_int_eq(json_get_str(j, "zz", 10, &s), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(json_get_int(j, "i", 0, 10, &i), NT_OK);
    ck_assert_int_eq(i, 5);
    ck_assert_int_eq(json_get_int(j, "i", 6, 10, &i), NT_ERR_INVALID);
    ck_assert_int_eq(json_get_int(j, "s", 0, 10, &i), NT_ERR_INVALID);
    ck_assert_int_eq(json_get_bool(j, "b", &b), NT_OK);
    ck_assert(b);
    ck_assert_int_eq(json_get_bool(j, "n", &b), NT_ERR_INVALID);
    char *out = json_to_string(j);
    ck_assert_ptr_nonnull(strstr(out, "\"s\":\"hey\""));
    free(out);
    json_decref(j);
}
END_TEST

static const struct {
    const char *s;
    bool utf8, name;
} text_cases[] = {
    {"alice", true, true},
    {"Zoë 🐱", true, true},
    {"", true, false},
    {"   ", true, false},
    {"tab\there", true, false},
    {"del\x7f", true, false},
    {"c1\xc2\x85", true, false},          /* U+0085 NEL */
    {"\xc0\xaf", false, false},           /* overlong '/' */
    {"\xed\xa0\x80", false, false},       /* surrogate */
    {"\xf4\x90\x80\x80", false, false},   /* > U+10FFFF */
    {"\xe2\x82", false, false},           /* truncated */
    {"\x80", false, false},
    /* look like another name: surrounding space, invisible and format characters */
    {"Alice ", true, false},
    {" Alice", true, false},
    {"Alice\xc2\xa0", true, false},          /* trailing U+00A0 NBSP */
    {"\xe3\x80\x80" "Alice", true, false},      /* leading U+3000 ideographic space */
    {"Alice\xe2\x80\x8d", true, false},      /* U+200D ZWJ */
    {"Al\xe2\x80\x8cice", true, false},      /* U+200C ZWNJ */
    {"Alice\xe3\x85\xa4", true, false},      /* U+3164 Hangul filler */
    {"\xe3\x85\xa4", true, false},
    {"Alice\xef\xbe\xa0", true, false},      /* U+FFA0 halfwidth Hangul filler */
    {"Al\xe1\x85\x9fice", true, false},      /* U+115F Hangul choseong filler */
    {"Alice\xc2\xad", true, false},          /* U+00AD soft hyphen */
    {"Alice\xcd\x8f", true, false},          /* U+034F combining grapheme joiner */
    {"Alice\xe2\x80\x8b", true, false},      /* U+200B zero width space */
    {"Alice\xe2\x81\xa0", true, false},      /* U+2060 word joiner */
    {"Alice\xe2\x80\xae", true, false},      /* U+202E right-to-left override */
    {"Alice\xef\xbb\xbf", true, false},      /* U+FEFF */
    {"Alice\xe2\xa0\x80", true, false},      /* U+2800 braille blank */
    {"Alice\xf3\xa0\x80\x81", true, false},  /* U+E0001 language tag */
    {"Alice\xef\xb8\x8f", true, false},      /* U+FE0F after a Latin letter: shows nothing */
    {"\xe2\x9d\xa4\xef\xb8\x8f Alice", true, true}, /* U+2764 U+FE0F: a red heart */
    {"Alice\xc2\xa0" "Bob", true, true},        /* inner NBSP */
    /* a tilde, or one alike, would let a name carry a fake label suffix */
    {"Alice~ec4a1b19", true, false},
    {"Alice\xcb\x9c" "ec4a1b19", true, false},   /* U+02DC small tilde */
    {"Alice\xe2\x88\xbc" "ec4a1b19", true, false}, /* U+223C tilde operator */
    {"Alice\xe3\x80\x9c" "ec4a1b19", true, false}, /* U+301C wave dash */
    {"Alice\xef\xbd\x9e" "ec4a1b19", true, false}, /* U+FF5E fullwidth tilde */
    {"Alice\xe2\x81\x93" "ec4a1b19", true, false}, /* U+2053 swung dash */
    {"Alice\xe1\xbf\x80" "ec4a1b19", true, false}, /* U+1FC0 Greek perispomeni */
    {"Alice\xcb\xb7" "ec4a1b19", true, false},     /* U+02F7 modifier letter low tilde */
    {"Jos\xc3\xa9 Mu\xc3\xb1oz", true, true},       /* precomposed letters with accents and a tilde */
    {"Alice  Bob", true, true},
};

START_TEST(text_checks)
{
    const char *s = text_cases[_i].s;
    ck_assert_msg(text_utf8_valid(s, strlen(s)) == text_cases[_i].utf8, "utf8 case %d", _i);
    ck_assert_msg(text_name_valid(s, strlen(s)) == text_cases[_i].name, "name case %d", _i);
}
END_TEST

static const struct {
    const char *in, *out;
} fold_cases[] = {
    {"Alice", "alice"},
    {"  ALICE  ", "alice"},
    {"Alice\xe2\x80\x8d", "alice"},                   /* ZWJ */
    {"Al\xe3\x85\xa4ice", "alice"},                   /* Hangul filler */
    {"Alice\xc2\xa0\xe2\x80\x83" "Bob", "alice bob"}, /* NBSP, em space */
    {"\xd0\x90lice", "alice"},                        /* Cyrillic A */
    {"\xd0\xa3\xd1\x83", "yy"},                        /* Cyrillic U, u: the small letter looks Latin */
    {"\xef\xbc\xa1lice", "alice"},                    /* fullwidth A */
    {"Zo\xc3\x8b", "zo\xc3\xab"},                     /* E with diaeresis */
    {"\xd0\x96\xd0\xb5\xd0\xbd\xd1\x8f", "\xd0\xb6" "e\xd0\xbd\xd1\x8f"},
    {"\xe2\x9d\xa4\xef\xb8\x8f", "\xe2\x9d\xa4"},     /* heart, selector dropped */
    {"\xe3\x85\xa4", ""},
    {"\xff" "A", "\xff" "a"},                         /* not UTF-8: kept */
    {"", ""},
};

START_TEST(name_fold)
{
    char out[TEXT_FOLD_MAX], again[TEXT_FOLD_MAX];
    ck_assert_str_eq(text_name_fold(fold_cases[_i].in, out, sizeof out), fold_cases[_i].out);
    ck_assert_str_eq(text_name_fold(out, again, sizeof again), out); /* a folded name folds to itself */
    ck_assert_str_eq(text_name_fold("abcdef", out, 4), "abc"); /* cut at cap */
}
END_TEST

START_TEST(name_length)
{
    char buf[TEXT_NAME_MAX + 2];
    memset(buf, 'a', sizeof buf);
    ck_assert(text_name_valid(buf, TEXT_NAME_MAX));
    ck_assert(!text_name_valid(buf, TEXT_NAME_MAX + 1));
    ck_assert(!text_utf8_valid("a\0b", 3));
}
END_TEST

static const char *const push_poll[] = {"push", "poll", NULL};
static const json_field item_fields[] = {JSON_FIELD("txn_id", JSON_F_STRING), JSON_FIELD("epoch", JSON_F_INT),
                                         JSON_FIELDS_END};
static const json_field check_fields[] = {
    JSON_FIELD("name", JSON_F_STRING),
    JSON_FIELD_ENUM("delivery", push_poll),
    JSON_FIELD("trusted", JSON_F_BOOL),
    JSON_FIELD("echo", JSON_F_ANY),
    JSON_FIELD_SUB("messages", JSON_F_ARRAY, item_fields),
    JSON_FIELD_SUB("room", JSON_F_OBJECT, item_fields),
    JSON_FIELDS_END,
};

static const struct {
    const char *in;
    const char *msg; /* NULL: accepted */
} check_cases[] = {
    {"{}", NULL},
    {"{\"name\":\"a\",\"delivery\":\"poll\",\"trusted\":false,\"echo\":[1,null]}", NULL},
    {"{\"echo\":null}", NULL},
    {"{\"echo\":1.5}", NULL},
    {"{\"trusted\":1.5}", "field \"trusted\" must be true or false"},
    {"{\"messages\":[{\"txn_id\":\"t\",\"epoch\":1}],\"room\":{\"epoch\":2}}", NULL},
    {"{\"name\":\"a\",\"foo\":1}", "unknown field \"foo\""},
    {"{\"delivery\":12345}", "field \"delivery\" must be a string"},
    {"{\"delivery\":\"later\"}", "field \"delivery\" must be one of: push, poll"},
    {"{\"trusted\":\"yes\"}", "field \"trusted\" must be true or false"},
    {"{\"name\":null}", "field \"name\" must be a string"},
    {"{\"messages\":[{\"txn_id\":\"t\",\"extra\":1}]}", "unknown field \"extra\""},
    {"{\"messages\":[{\"epoch\":\"1\"}]}", "field \"epoch\" must be an integer"},
    {"{\"messages\":[1]}", "field \"messages\" must hold objects"},
    {"{\"room\":{\"x\":1}}", "unknown field \"x\""},
    {"{\"a\\nb\\u00e9\":1}", "unknown field \"a?b??\""},
};

START_TEST(check_fields_cases)
{
    json_t *j = json_loads(check_cases[_i].in, 0, NULL);
    char msg[JSON_FIELD_MSG_MAX];
    ck_assert_ptr_nonnull(j);
    nt_err rc = json_check_fields(j, check_fields, msg);
    if (!check_cases[_i].msg) {
        ck_assert_msg(rc == NT_OK, "case %d: %s", _i, msg);
    } else {
        ck_assert_int_eq(rc, NT_ERR_INVALID);
        ck_assert_str_eq(msg, check_cases[_i].msg);
    }
    json_decref(j);
}
END_TEST

START_TEST(check_fields_long_name)
{
    char key[300], msg[JSON_FIELD_MSG_MAX];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    json_t *j = json_pack("{s:i}", key, 1);
    static const json_field none[] = {JSON_FIELDS_END};
    ck_assert_int_eq(json_check_fields(j, none, msg), NT_ERR_INVALID);
    ck_assert_uint_eq(strlen(msg), strlen("unknown field \"\"") + 64);
    ck_assert_int_eq(json_check_fields(NULL, none, msg), NT_OK);
    json_decref(j);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_add_loop_test(tc, parse_object, 0, sizeof parse_cases / sizeof parse_cases[0]);
    tcase_add_loop_test(tc, fast_path_cases, 0, sizeof fast_cases / sizeof fast_cases[0]);
    tcase_add_test(tc, fast_path_nul_byte);
    tcase_add_test(tc, fast_path_mutations);
    tcase_add_test(tc, fast_path_lists_respect_the_depth_cap);
    tcase_add_test(tc, getters);
    tcase_add_loop_test(tc, text_checks, 0, sizeof text_cases / sizeof text_cases[0]);
    tcase_add_test(tc, name_length);
    tcase_add_loop_test(tc, name_fold, 0, sizeof fold_cases / sizeof fold_cases[0]);
    tcase_add_loop_test(tc, check_fields_cases, 0, sizeof check_cases / sizeof check_cases[0]);
    tcase_add_test(tc, check_fields_long_name);
    suite_add_tcase(s, tc);
    return s;
}
