/* `make install` honours PREFIX and DESTDIR, installs a working natterd and
 * the man page; `make uninstall` removes them. Runs make from the
 * repository root (as `make check` does); the Makefile's own variables
 * (BUILD, SANITIZE, WERROR) come through the environment/MAKEFLAGS, so the
 * programs already built are the ones installed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tests/test_main.h"

static char dest[64];

static int sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static unsigned mode_at(const char *rel)
{
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s%s", dest, rel);
    return stat(p, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0xFFFF;
}

START_TEST(install_and_uninstall)
{
    const char *build = getenv("BUILD");
    char out[512];
    strcpy(dest, "/tmp/natter-install-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dest));
    snprintf(out, sizeof out, "make -s --no-print-directory install PREFIX=/opt/nt DESTDIR=%s %s%s >/dev/null", dest,
             build ? "BUILD=" : "", build ? build : "");
    ck_assert_int_eq(sh(out), 0);
    ck_assert_uint_eq(mode_at("/opt/nt/sbin/natterd"), 0755);
    ck_assert_uint_eq(mode_at("/opt/nt/share/man/man8/natterd.8"), 0644);
    char client[256];
    snprintf(client, sizeof client, "%s/natter", build ? build : "build");
    if (access(client, X_OK) == 0)
        ck_assert_uint_eq(mode_at("/opt/nt/bin/natter"), 0755);
    /* the installed binary runs */
    char ver[256];
    snprintf(ver, sizeof ver, "%s/opt/nt/sbin/natterd --version | grep -q '^natterd [0-9]'", dest);
    ck_assert_int_eq(sh(ver), 0);
    snprintf(out, sizeof out, "make -s --no-print-directory uninstall PREFIX=/opt/nt DESTDIR=%s >/dev/null", dest);
    ck_assert_int_eq(sh(out), 0);
    ck_assert_uint_eq(mode_at("/opt/nt/sbin/natterd"), 0xFFFF);
    ck_assert_uint_eq(mode_at("/opt/nt/share/man/man8/natterd.8"), 0xFFFF);
    snprintf(out, sizeof out, "rm -rf '%s'", dest);
    ck_assert_int_eq(sh(out), 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("install");
    TCase *tc = tcase_create("install");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, install_and_uninstall);
    suite_add_tcase(s, tc);
    return s;
}
