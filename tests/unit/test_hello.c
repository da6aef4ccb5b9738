/* The client API's proof of token: a known answer (Python's hmac), and
 * every change of token, nonce, node id or proof refused. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "common/hello.h"

#define TOKEN "abababababababababababababababababababababababababababababababab"
#define NODE_ID "485c168d75d372560466171bb3f4304cc871f30177082dc7fc331d289aa9040b"
#define PROOF "e85e549d3f084f674790ad3b56165544766bc976ed93e956ac19e16f2a10e348"

static void nonce_of(uint8_t n[static HELLO_NONCE_LEN])
{
    for (int i = 0; i < HELLO_NONCE_LEN; i++)
        n[i] = (uint8_t)i;
}

START_TEST(test_known_answer)
{
    uint8_t n[HELLO_NONCE_LEN];
    char out[HELLO_PROOF_HEX_LEN + 1];
    nonce_of(n);
    ck_assert_int_eq(hello_proof(TOKEN, n, NODE_ID, out), NT_OK);
    ck_assert_str_eq(out, PROOF);
    ck_assert(hello_check(TOKEN, n, NODE_ID, PROOF));
    char upper[] = PROOF;
    for (char *p = upper; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
    ck_assert(hello_check(TOKEN, n, NODE_ID, upper));
}
END_TEST

START_TEST(test_refusals)
{
    uint8_t n[HELLO_NONCE_LEN];
    char out[HELLO_PROOF_HEX_LEN + 1];
    nonce_of(n);
    ck_assert(!hello_check(TOKEN "x", n, NODE_ID, PROOF));
    ck_assert(!hello_check(TOKEN, n, NODE_ID "0", PROOF));
    ck_assert(!hello_check(TOKEN, n, NODE_ID, PROOF "0"));
    ck_assert(!hello_check(TOKEN, n, NODE_ID, "e85e"));
    ck_assert(!hello_check(TOKEN, n, NODE_ID, NULL));
    ck_assert(!hello_check("", n, NODE_ID, PROOF));
    char bad[] = PROOF;
    bad[10] ^= 1;
    ck_assert(!hello_check(TOKEN, n, NODE_ID, bad));
    n[31] ^= 1;
    ck_assert(!hello_check(TOKEN, n, NODE_ID, PROOF));
    ck_assert_int_eq(hello_proof("", n, NODE_ID, out), NT_ERR_INVALID);
    ck_assert_int_eq(hello_proof(TOKEN, n, NULL, out), NT_ERR_INVALID);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hello");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_known_answer);
    tcase_add_test(tc, test_refusals);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
