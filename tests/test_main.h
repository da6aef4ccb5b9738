/* test_main.h - what a test binary gives the shared main (tests/test_main.c).
 *
 * Every tests/unit/test_*.c and tests/integration/test_*.c is its own
 * binary, linked with tests/test_main.c, which builds a runner from
 * test_suite(), runs it (CK_ENV: CK_VERBOSITY picks the output, normal by
 * default, so the "Checks:" line tests/run.sh reads is always printed) and
 * exits EXIT_FAILURE if any check failed.
 *
 * A file must define test_suite(). It may also define any of the hooks
 * below; test_main.c holds weak defaults that do nothing. */
#ifndef NATTER_TEST_MAIN_H
#define NATTER_TEST_MAIN_H

#include <check.h>

/* The suite this binary runs. Called once, after test_setup(). */
Suite *test_suite(void);

/* test_setup returns TEST_GO to run the suite, or an exit status to stop
 * at once without running it (EXIT_FAILURE when setup failed, EXIT_SUCCESS
 * when there is nothing to run). test_teardown is not called then. */
#define TEST_GO (-1)
int test_setup(void);

/* Runner settings (e.g. srunner_set_fork_status) before the run. */
void test_runner(SRunner *sr);

/* After the run: frees what test_setup made; gets the number of failed
 * checks and returns it, plus any failure of its own. */
int test_teardown(int failed);

#endif
