/* node: the api-token file's text. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "server/node.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* buf is copied into a heap block of exactly len bytes, so that a read
 * past it is caught under ASan. */
static nt_err parse_exact(const char *buf, size_t len, char out[static NODE_TOKEN_HEX_LEN + 1])
{
    char *b = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b, buf, len);
    nt_err rc = node_token_parse(b, len, out);
    free(b);
    return rc;
}

static const struct {
    const char *text;
    size_t len;
    nt_err want;
} token_cases[] = {
    {HEX64, 64, NT_OK},        /* no newline: the buffer ends with the token */
    {HEX64 "\n", 65, NT_OK},
    {HEX64 "\n\n", 66, NT_ERR_INVALID},
    {HEX64 "a", 65, NT_ERR_INVALID},
    {HEX64 "\nx", 66, NT_ERR_INVALID},
    {HEX64, 63, NT_ERR_INVALID},
    {"", 0, NT_ERR_INVALID},
    {"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", 64, NT_ERR_INVALID},
    {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", 65, NT_ERR_INVALID},
    {"0123456789abcdef0123456789abcdef\0""123456789abcdef0123456789abcdef", 64, NT_ERR_INVALID},
};

START_TEST(token_text)
{
    char out[NODE_TOKEN_HEX_LEN + 1];
    memset(out, 'z', sizeof out);
    nt_err rc = parse_exact(token_cases[_i].text, token_cases[_i].len, out);
    ck_assert_msg(rc == token_cases[_i].want, "case %d: got %d", _i, rc);
    if (rc == NT_OK)
        ck_assert_str_eq(out, HEX64);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("node");
    TCase *tc = tcase_create("token");
    tcase_add_loop_test(tc, token_text, 0, sizeof token_cases / sizeof token_cases[0]);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
