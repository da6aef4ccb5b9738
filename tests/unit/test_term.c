/* Terminal-safe text: a table of hostile strings (escape sequences, C0,
 * C1, DEL, bidi overrides, invisible characters, bad UTF-8) and what each
 * shows as; nothing that reaches the terminal can start a control
 * sequence or reorder text. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "client/term.h"
#include "tests/test_main.h"

static const struct {
    const char *in, *out;
} cases[] = {
    {"plain", "plain"},
    {"wörld 日本 🙂", "wörld 日本 🙂"},
    {"\x1b]52;c;aGVsbG8=\x07", "^[]52;c;aGVsbG8=^G"},            /* OSC 52: clipboard write */
    {"\x1b]52;c;aGk=\x1b\\", "^[]52;c;aGk=^[\\"},                 /* ... ended by ST */
    {"\x1b[2J\x1b[H", "^[[2J^[[H"},                              /* CSI: clear, home */
    {"a\rb\nc\bd", "a^Mb^Jc^Hd"},
    {"tab\there", "tab here"},
    {"del\x7f", "del^?"},
    {"\xc2\x9b" "31m", "<U+009B>31m"},                           /* C1 CSI as UTF-8 */
    {"\xc2\x9d" "52;c;x\xc2\x9c", "<U+009D>52;c;x<U+009C>"},     /* C1 OSC ... ST */
    {"\xe2\x80\xae" "evil", "<U+202E>evil"},                     /* RLO */
    {"\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad", "<U+202A><U+202B><U+202C><U+202D>"},
    {"\xe2\x81\xa6x\xe2\x81\xa9", "<U+2066>x<U+2069>"},           /* isolates */
    {"\xe2\x80\x8f\xd8\x9c", "<U+200F><U+061C>"},                /* RLM, ALM */
    {"b\xe2\x80\x8bob", "b<U+200B>ob"},                          /* zero-width space */
    {"\xef\xbb\xbf" "bom", "<U+FEFF>bom"},
    {"line\xe2\x80\xa8sep", "line<U+2028>sep"},
    {"soft\xc2\xad" "hy", "soft<U+00AD>hy"},
    {"tag\xf3\xa0\x80\x81", "tag<U+E0001>"},
    /* blanks that are not spaces: a name "Alice" + one of them looked like "Alice" */
    {"Alice\xe3\x85\xa4", "Alice<U+3164>"},                     /* Hangul filler */
    {"Alice\xef\xbe\xa0", "Alice<U+FFA0>"},                     /* halfwidth Hangul filler */
    {"\xe1\x85\x9f\xe1\x85\xa0", "<U+115F><U+1160>"},         /* Hangul choseong/jungseong fillers */
    {"Al\xcd\x8fice", "Al<U+034F>ice"},                         /* combining grapheme joiner */
    {"\xe1\x9e\xb4\xe1\x9e\xb5", "<U+17B4><U+17B5>"},         /* Khmer inherent vowels */
    {"\xe2\x81\xaa\xe2\x81\xaf", "<U+206A><U+206F>"},         /* deprecated format controls */
    {"\xf0\x9b\xb2\xa0", "<U+1BCA0>"},                         /* shorthand format control */
    {"\xf0\x9d\x85\xb3", "<U+1D173>"},                         /* musical format control */
    {"\xe2\x80\x8d", "\xe2\x80\x8d"},                         /* ZWJ stays: emoji and scripts need it */
    {"\xe2\x80\x8d", "\xe2\x80\x8d"},                            /* ZWJ stays (emoji) */
    {"bad\xff\xfe", "bad\\xFF\\xFE"},
    {"\xc0\xaf", "\\xC0\\xAF"},                                  /* overlong '/' */
    {"\xed\xa0\x80", "\\xED\\xA0\\x80"},                         /* surrogate */
    {"cut\xe2\x80", "cut\\xE2\\x80"},                            /* truncated sequence */
    {"", ""},
};

START_TEST(test_table)
{
    char out[256];
    term_clean(cases[_i].in, out, sizeof out);
    ck_assert_msg(strcmp(out, cases[_i].out) == 0, "case %d: got \"%s\" want \"%s\"", _i, out,
                  cases[_i].out);
    ck_assert_ptr_null(strchr(out, 0x1b));
    char *d = term_dup(cases[_i].in);
    ck_assert_str_eq(d, out);
    free(d);
}
END_TEST

/* Whatever the input, no byte under 0x20, no DEL, no C1 and no bidi
 * control comes out: every byte value alone and in pairs. */
START_TEST(test_every_byte)
{
    char in[3] = {0}, out[64];
    for (int a = 1; a < 256; a++) {
        for (int b = 0; b < 256; b++) {
            in[0] = (char)a;
            in[1] = (char)b;
            term_clean(in, out, sizeof out);
            for (const unsigned char *p = (const unsigned char *)out; *p; p++)
                ck_assert_msg(*p >= 0x20 && *p != 0x7f, "%02x %02x gave byte %02x", a, b, *p);
            ck_assert_ptr_null(strstr(out, "\xc2\x9b"));
            ck_assert_ptr_null(strstr(out, "\xe2\x80\xae"));
        }
    }
}
END_TEST

START_TEST(test_cut_whole)
{
    char out[8];
    term_clean("ab\x1b[31m", out, sizeof out);
    ck_assert_str_eq(out, "ab^[[31"); /* 7 bytes + NUL */
    term_clean("a\xe2\x80\xae", out, 6);
    ck_assert_str_eq(out, "a"); /* "<U+202E>" does not fit: left out whole */
    term_clean("日本", out, 5);
    ck_assert_str_eq(out, "日");
    term_clean(NULL, out, sizeof out);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_printf)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_ne(term_printf(f, "[%s] <%s> %s\n", "12:00", "b\xe2\x80\xaeob", "hi\x1b]52;c;x\x07"), EOF);
    ck_assert_int_ne(term_printf(f, "%s", "no newline\n"), EOF);
    fclose(f);
    ck_assert_str_eq(buf, "[12:00] <b<U+202E>ob> hi^[]52;c;x^G\nno newline^J");
    free(buf);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("term");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_table, 0, sizeof cases / sizeof cases[0]);
    tcase_add_test(tc, test_every_byte);
    tcase_add_test(tc, test_cut_whole);
    tcase_add_test(tc, test_printf);
    suite_add_tcase(s, tc);
    return s;
}
