/* The input line: editing at the cursor over whole characters (UTF-8 in,
 * UTF-8 out), the kill commands, caps, and history browsing that keeps the
 * line being typed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "client/editline.h"
#include "tests/test_main.h"

static editline *e;

static void setup(void)
{
    ck_assert_int_eq(editline_new(&e), NT_OK);
}

static void teardown(void)
{
    editline_free(e);
    e = NULL;
}

static const char *text(void)
{
    static char buf[EDITLINE_UTF8_MAX];
    editline_utf8(e, buf);
    return buf;
}

static void type(const char *s)
{
    editline_insert_utf8(e, s);
}

/* Keys: a script of one-letter commands applied to a typed start. */
static const struct {
    const char *start;
    const char *keys;   /* L left, R right, H home, E end, B backspace, D delete,
                           W kill word, U kill line, K kill to end, i insert 'X' */
    const char *want;
    size_t cursor;
} cases[] = {
    {"hello", "", "hello", 5},
    {"hello", "B", "hell", 4},
    {"hello", "LLB", "helo", 2},
    {"hello", "HD", "ello", 0},
    {"hello", "HB", "hello", 0},          /* backspace at the start does nothing */
    {"hello", "D", "hello", 5},           /* delete at the end does nothing */
    {"hello", "Hi", "Xhello", 1},
    {"hello", "LLi", "helXlo", 4},
    {"hello", "HRRRRRRRRi", "helloX", 6}, /* right stops at the end */
    {"hello", "LLLLLLLLLi", "Xhello", 1}, /* left stops at the start */
    {"héllo wörld", "LLLLLB", "héllowörld", 5}, /* one character, two bytes */
    {"日本語", "LB", "日語", 1},
    {"a😀b", "LB", "ab", 1},             /* four-byte character */
    {"a😀b", "LLD", "ab", 1},
    {"one two three", "W", "one two ", 8},
    {"one two  ", "W", "one ", 4},
    {"one two three", "HRRRRK", "one ", 4},
    {"one two three", "LLLU", "", 0},
    {"x", "HEi", "xX", 2},
};

START_TEST(test_keys)
{
    type(cases[_i].start);
    for (const char *k = cases[_i].keys; *k; k++) {
        switch (*k) {
        case 'L': editline_left(e); break;
        case 'R': editline_right(e); break;
        case 'H': editline_home(e); break;
        case 'E': editline_end(e); break;
        case 'B': editline_backspace(e); break;
        case 'D': editline_delete(e); break;
        case 'W': editline_kill_word(e); break;
        case 'U': editline_kill_line(e); break;
        case 'K': editline_kill_to_end(e); break;
        case 'i': ck_assert(editline_insert(e, L'X')); break;
        }
    }
    ck_assert_str_eq(text(), cases[_i].want);
    ck_assert_uint_eq(editline_cursor(e), cases[_i].cursor);
}
END_TEST

START_TEST(test_rejects_controls_and_caps)
{
    ck_assert(!editline_insert(e, 0x1B)); /* ESC would reach the terminal */
    ck_assert(!editline_insert(e, 0x7F));
    ck_assert(!editline_insert(e, 0x9B));  /* C1 CSI */
    ck_assert(!editline_insert(e, 0xD800)); /* surrogate */
    ck_assert(!editline_insert(e, 0x110000));
    ck_assert_uint_eq(editline_len(e), 0);
    for (size_t i = 0; i < EDITLINE_MAX; i++)
        ck_assert(editline_insert(e, L'a'));
    ck_assert(!editline_insert(e, L'a'));
    ck_assert_uint_eq(editline_len(e), EDITLINE_MAX);
}
END_TEST

/* The cap is the node's: 16 KiB of UTF-8, whatever the characters. */
START_TEST(test_cap_is_utf8_bytes)
{
    ck_assert_uint_ge(EDITLINE_BYTES_MAX, 16384);
    for (size_t i = 0; i < EDITLINE_BYTES_MAX / 2; i++)
        ck_assert(editline_insert(e, 0xE9)); /* é: two bytes */
    ck_assert_uint_eq(editline_bytes(e), EDITLINE_BYTES_MAX);
    ck_assert(!editline_insert(e, L'a'));
    ck_assert(!editline_newline(e));
    editline_backspace(e);
    ck_assert_uint_eq(editline_bytes(e), EDITLINE_BYTES_MAX - 2);
    ck_assert(editline_insert(e, L'a'));
    ck_assert(!editline_insert(e, 0xE9));
    char out[EDITLINE_UTF8_MAX];
    editline_submit(e, out);
    ck_assert_uint_eq(strlen(out), EDITLINE_BYTES_MAX - 1);
    ck_assert_uint_eq(editline_bytes(e), 0);
}
END_TEST

START_TEST(test_newlines_kept)
{
    ck_assert(!editline_insert(e, L'\n'));
    type("one");
    ck_assert(!editline_multiline(e));
    ck_assert(editline_newline(e));
    type("two\nthree");
    ck_assert(editline_multiline(e));
    ck_assert_str_eq(text(), "one\ntwo\nthree");
    char out[EDITLINE_UTF8_MAX];
    editline_submit(e, out);
    editline_history_up(e);
    ck_assert_str_eq(text(), "one\ntwo\nthree");
}
END_TEST

START_TEST(test_invalid_utf8_stops)
{
    type("ok\xC3");  /* truncated sequence */
    ck_assert_str_eq(text(), "ok");
    editline_kill_line(e);
    type("a\xC0\xAF" "b"); /* overlong '/' */
    ck_assert_str_eq(text(), "a");
    editline_kill_line(e);
    type("tab\there");
    ck_assert_str_eq(text(), "tab here");
}
END_TEST

START_TEST(test_codec_roundtrip)
{
    static const wchar_t cps[] = {0x24, 0xA2, 0x20AC, 0x10348, 0x7FF, 0xFFFF, 0x10FFFF};
    for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
        char b[4];
        wchar_t c;
        size_t n = editline_encode(cps[i], b);
        ck_assert_uint_gt(n, 0);
        ck_assert_uint_eq(editline_decode(b, n, &c), n);
        ck_assert_int_eq(c, cps[i]);
        ck_assert_uint_eq(editline_decode(b, n - 1, &c), n == 1 ? 0 : 0);
    }
    wchar_t c;
    ck_assert_uint_eq(editline_decode("\xED\xA0\x80", 3, &c), 0); /* surrogate */
    ck_assert_uint_eq(editline_decode("\xF4\x90\x80\x80", 4, &c), 0); /* > U+10FFFF */
    ck_assert_uint_eq(editline_decode("\xE0\x80\xAF", 3, &c), 0); /* overlong */
}
END_TEST

START_TEST(test_history)
{
    char out[EDITLINE_UTF8_MAX];
    type("first");
    editline_submit(e, out);
    ck_assert_str_eq(out, "first");
    ck_assert_str_eq(text(), "");
    type("second");
    editline_submit(e, out);
    type("second");
    editline_submit(e, out); /* repeated: stored once */
    editline_submit(e, out); /* empty: not stored */
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(editline_history_len(e), 2);

    type("draft");
    editline_history_up(e);
    ck_assert_str_eq(text(), "second");
    ck_assert_uint_eq(editline_cursor(e), 6);
    editline_history_up(e);
    ck_assert_str_eq(text(), "first");
    editline_history_up(e); /* oldest: stays */
    ck_assert_str_eq(text(), "first");
    editline_history_down(e);
    ck_assert_str_eq(text(), "second");
    editline_history_down(e);
    ck_assert_str_eq(text(), "draft"); /* back to what was being typed */
    editline_history_down(e);
    ck_assert_str_eq(text(), "draft");

    editline_history_up(e);
    editline_backspace(e); /* edit a recalled line and send it */
    editline_submit(e, out);
    ck_assert_str_eq(out, "secon");
    ck_assert_uint_eq(editline_history_len(e), 3);
    editline_history_up(e);
    ck_assert_str_eq(text(), "secon");
}
END_TEST

START_TEST(test_history_cap)
{
    char out[EDITLINE_UTF8_MAX], want[32];
    for (int i = 0; i < EDITLINE_HISTORY + 10; i++) {
        snprintf(want, sizeof want, "line %d", i);
        type(want);
        editline_submit(e, out);
    }
    ck_assert_uint_eq(editline_history_len(e), EDITLINE_HISTORY);
    for (int i = 0; i < EDITLINE_HISTORY + 5; i++)
        editline_history_up(e);
    snprintf(want, sizeof want, "line %d", 10); /* the 10 oldest were dropped */
    ck_assert_str_eq(text(), want);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("editline");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_keys, 0, sizeof cases / sizeof cases[0]);
    tcase_add_test(tc, test_rejects_controls_and_caps);
    tcase_add_test(tc, test_invalid_utf8_stops);
    tcase_add_test(tc, test_cap_is_utf8_bytes);
    tcase_add_test(tc, test_newlines_kept);
    tcase_add_test(tc, test_codec_roundtrip);
    tcase_add_test(tc, test_history);
    tcase_add_test(tc, test_history_cap);
    suite_add_tcase(s, tc);
    return s;
}
