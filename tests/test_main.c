/* test_main.c - the main every test binary shares (see tests/test_main.h). */
#include <stdlib.h>
#include <check.h>
#include "tests/test_main.h"

__attribute__((weak)) int test_setup(void) { return TEST_GO; }

__attribute__((weak)) void test_runner(SRunner *sr) {}

__attribute__((weak)) int test_teardown(int failed) { return failed; }

int main(void)
{
    int rc = test_setup();
    if (rc != TEST_GO)
        return rc;
    SRunner *sr = srunner_create(test_suite());
    test_runner(sr);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    failed = test_teardown(failed);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
