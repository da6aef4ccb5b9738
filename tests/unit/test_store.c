/* store: open, pragmas, migrations from empty and from an older schema,
 * refusal of a newer schema, statement cache, meta table. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/migrations.h"
#include "storage/store.h"
#include "unit_util.h"
#include "tests/test_main.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    strcpy(dir, "/tmp/natter-store-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.db", dir);
}

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static int query_int(store *st, const char *sql)
{
    store_lock(st);
    sqlite3_stmt *s = store_stmt(st, sql);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    int v = sqlite3_column_int(s, 0);
    sqlite3_reset(s);
    store_unlock(st);
    return v;
}

static const char *query_text(store *st, const char *sql, char *buf, size_t cap)
{
    store_lock(st);
    sqlite3_stmt *s = store_stmt(st, sql);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    store_unlock(st);
    return buf;
}

START_TEST(fresh_db_gets_latest_schema_and_pragmas)
{
    store *st;
    char buf[32];
    ck_assert_int_eq(store_open(path, &st), NT_OK);
    ck_assert_int_eq(store_schema_version(st), (int)store_latest_version());
    ck_assert_int_eq(store_latest_version(), store_migrations_count);
    ck_assert_int_eq(query_int(st, "PRAGMA user_version"), (int)store_migrations_count);
    ck_assert_str_eq(query_text(st, "PRAGMA journal_mode", buf, sizeof buf), "wal");
    ck_assert_int_eq(query_int(st, "PRAGMA synchronous"), 2); /* FULL */
    ck_assert_int_eq(query_int(st, "PRAGMA foreign_keys"), 1);
    ck_assert_int_eq(query_int(st, "PRAGMA busy_timeout"), STORE_BUSY_TIMEOUT_MS);
    store_close(st);
    store_close(NULL);
}
END_TEST

/* A made-up history: v1 and v2 are "shipped", v3 is the upgrade. */
static const char *const migs[] = {
    "CREATE TABLE a (x INTEGER PRIMARY KEY, y TEXT NOT NULL) STRICT;",
    "CREATE TABLE b (a_x INTEGER NOT NULL REFERENCES a(x)) STRICT; INSERT INTO a(x, y) VALUES (1, 'one');",
    "ALTER TABLE a ADD COLUMN z INTEGER NOT NULL DEFAULT 7;",
};

START_TEST(migrates_from_older_schema)
{
    store *st;
    ck_assert_int_eq(store_open_with(path, migs, 2, &st), NT_OK);
    ck_assert_int_eq(store_schema_version(st), 2);
    store_close(st);
    /* the newer program: only v3 runs, and data survives */
    ck_assert_int_eq(store_open_with(path, migs, 3, &st), NT_OK);
    ck_assert_int_eq(store_schema_version(st), 3);
    ck_assert_int_eq(query_int(st, "SELECT z FROM a WHERE x = 1"), 7);
    ck_assert_int_eq(query_int(st, "SELECT count(*) FROM a"), 1);
    /* foreign keys are enforced */
    store_lock(st);
    ck_assert_int_ne(sqlite3_exec(store_db(st), "INSERT INTO b VALUES (42)", NULL, NULL, NULL), SQLITE_OK);
    store_unlock(st);
    store_close(st);
    /* reopening applies nothing again (v2's INSERT would fail on x = 1) */
    ck_assert_int_eq(store_open_with(path, migs, 3, &st), NT_OK);
    ck_assert_int_eq(query_int(st, "SELECT count(*) FROM a"), 1);
    store_close(st);
}
END_TEST

START_TEST(real_migrations_from_each_older_version)
{
    /* every prefix of the real list upgrades cleanly to the latest */
    for (size_t k = 0; k <= store_migrations_count; k++) {
        store *st;
        unlink(path);
        ck_assert_int_eq(store_open_with(path, store_migrations, k, &st), NT_OK);
        store_close(st);
        ck_assert_int_eq(store_open(path, &st), NT_OK);
        ck_assert_int_eq(store_schema_version(st), (int)store_migrations_count);
        store_close(st);
    }
}
END_TEST

START_TEST(newer_schema_refused_untouched)
{
    store *st;
    ck_assert_int_eq(store_open_with(path, migs, 3, &st), NT_OK);
    store_close(st);
    ck_assert_int_eq(store_open_with(path, migs, 2, &st), NT_ERR_VERSION);
    ck_assert_ptr_null(st);
    ck_assert_int_eq(store_open_with(path, migs, 3, &st), NT_OK);
    ck_assert_int_eq(store_schema_version(st), 3);
    store_close(st);
}
END_TEST

START_TEST(failed_migration_rolls_back)
{
    static const char *const broken[] = {
        "CREATE TABLE a (x INTEGER) STRICT;",
        "CREATE TABLE c (x INTEGER) STRICT; THIS IS NOT SQL;",
    };
    store *st;
    ck_assert_int_eq(store_open_with(path, broken, 2, &st), NT_ERR_DB);
    ck_assert_int_eq(store_open_with(path, broken, 1, &st), NT_OK);
    ck_assert_int_eq(store_schema_version(st), 1);
    /* table c of the failed step does not exist */
    ck_assert_int_eq(query_int(st, "SELECT count(*) FROM sqlite_schema WHERE name = 'c'"), 0);
    store_close(st);
}
END_TEST

START_TEST(not_a_database)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not an SQLite file\n", f);
    fclose(f);
    store *st;
    ck_assert_int_eq(store_open(path, &st), NT_ERR_DB);
}
END_TEST

START_TEST(meta_and_stmt_cache)
{
    store *st;
    char buf[16];
    ck_assert_int_eq(store_open(path, &st), NT_OK);
    ck_assert_int_eq(store_meta_get(st, "k", buf, sizeof buf), NT_ERR_NOT_FOUND);
    ck_assert_int_eq(store_meta_set(st, "k", "v1"), NT_OK);
    ck_assert_int_eq(store_meta_set(st, "k", "value-two"), NT_OK);
    ck_assert_int_eq(store_meta_get(st, "k", buf, sizeof buf), NT_OK);
    ck_assert_str_eq(buf, "value-two");
    ck_assert_int_eq(store_meta_get(st, "k", buf, 5), NT_ERR_TOO_BIG);
    store_lock(st);
    char sql[64];
    strcpy(sql, "SELECT 41 + 1");
    sqlite3_stmt *a = store_stmt(st, sql);
    strcpy(sql, "SELECT 0"); /* the cache keeps its own copy of the text */
    sqlite3_stmt *b = store_stmt(st, "SELECT 41 + 1");
    ck_assert_ptr_eq(a, b);
    ck_assert_ptr_null(store_stmt(st, "SELEKT nonsense"));
    /* transactions */
    ck_assert_int_eq(store_begin(st), NT_OK);
    ck_assert_int_eq(sqlite3_exec(store_db(st), "INSERT INTO node_meta VALUES ('t', 'x')", NULL, NULL, NULL), SQLITE_OK);
    store_rollback(st);
    store_unlock(st);
    ck_assert_int_eq(store_meta_get(st, "t", buf, sizeof buf), NT_ERR_NOT_FOUND);
    store_lock(st);
    ck_assert_int_eq(store_begin(st), NT_OK);
    ck_assert_int_eq(sqlite3_exec(store_db(st), "INSERT INTO node_meta VALUES ('t', 'y')", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(store_commit(st), NT_OK);
    store_unlock(st);
    ck_assert_uint_eq(store_leaked_statements(st), 0);
    store_close(st);
    ck_assert_int_eq(store_open(path, &st), NT_OK);
    ck_assert_int_eq(store_meta_get(st, "t", buf, sizeof buf), NT_OK);
    ck_assert_str_eq(buf, "y");
    ck_assert_uint_eq(store_leaked_statements(st), 0);
    store_close(st);
}
END_TEST

/* Schema 5 flags both rows that share a name (schema 4 flagged the newer). */
START_TEST(migration_5_flags_both_namesakes)
{
    store *st;
    ck_assert_int_eq(store_open_with(path, store_migrations, 4, &st), NT_OK);
    store_lock(st);
    ck_assert_int_eq(sqlite3_exec(store_db(st),
                                  "INSERT INTO peers (id, name, pub_der, first_seen, last_seen, source, name_collision) "
                                  "VALUES (printf('%064d', 1), 'twin', x'00', 1, 1, 'manual', 0),"
                                  "(printf('%064d', 2), 'twin', x'00', 2, 2, 'manual', 1),"
                                  "(printf('%064d', 3), 'solo', x'00', 3, 3, 'manual', 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    store_unlock(st);
    store_close(st);
    ck_assert_int_eq(store_open(path, &st), NT_OK);
    ck_assert_int_eq(query_int(st, "SELECT count(*) FROM peers WHERE name_collision"), 2);
    ck_assert_int_eq(query_int(st, "SELECT name_collision FROM peers WHERE name = 'solo'"), 0);
    store_close(st);
}
END_TEST

/* Schema 6 gives each member room of an older database the oldest epoch
 * it holds a key of as its first (a hosted room, and a room with no key,
 * 0: not known). */
START_TEST(migration_6_member_rooms_start_at_their_oldest_key)
{
    store *st;
    ck_assert_int_eq(store_open_with(path, store_migrations, 5, &st), NT_OK);
    store_lock(st);
    ck_assert_int_eq(sqlite3_exec(store_db(st),
                                  "INSERT INTO rooms (id, name, host, state, created) VALUES "
                                  "('m', 'm', 'h', 'joined', 1), ('k', 'k', 'h', 'kicked', 1), "
                                  "('i', 'i', 'h', 'invited', 1), ('o', 'o', 'me', 'hosted', 1);"
                                  "INSERT INTO room_keys (room, epoch, key, created) VALUES "
                                  "('m', 7, x'00', 1), ('m', 4, x'00', 1), ('k', 2, x'00', 1), ('o', 1, x'00', 1);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    store_unlock(st);
    store_close(st);
    ck_assert_int_eq(store_open(path, &st), NT_OK);
    ck_assert_int_eq(query_int(st, "SELECT from_epoch FROM rooms WHERE id = 'm'"), 4);
    ck_assert_int_eq(query_int(st, "SELECT from_epoch FROM rooms WHERE id = 'k'"), 2);
    ck_assert_int_eq(query_int(st, "SELECT from_epoch FROM rooms WHERE id = 'i'"), 0);
    ck_assert_int_eq(query_int(st, "SELECT from_epoch FROM rooms WHERE id = 'o'"), 0);
    store_close(st);
}
END_TEST

/* A statement stepped to a row and never reset, then a write through a
 * second connection: the unlock resets it (counted) so the store's next
 * writes and BEGINs work; without that they failed with
 * SQLITE_BUSY_SNAPSHOT for the life of the process. */
START_TEST(leak_swept_at_unlock)
{
    store *st;
    sqlite3 *other = NULL;
    char buf[16];
    ck_assert_int_eq(store_open(path, &st), NT_OK);
    ck_assert_int_eq(sqlite3_open_v2(path, &other, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    ck_assert_int_eq(store_meta_set(st, "a", "1"), NT_OK);
    ck_assert_int_eq(store_meta_set(st, "b", "2"), NT_OK);
    store_lock(st);
    sqlite3_stmt *s = store_stmt(st, "SELECT key FROM node_meta");
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(active_statements(store_db(st)), 1);
    store_unlock(st);
    ck_assert_uint_eq(store_active_statements(st), 0);
    ck_assert_uint_eq(store_leaked_statements(st), 1);
    ck_assert_int_eq(sqlite3_exec(other, "UPDATE node_meta SET value = 'x'", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(store_meta_set(st, "a", "3"), NT_OK);
    ck_assert_int_eq(store_meta_get(st, "b", buf, sizeof buf), NT_OK);
    ck_assert_str_eq(buf, "x");
    /* Inside one critical section: a leak before BEGIN is reset by it. */
    store_lock(st);
    s = store_stmt(st, "SELECT key FROM node_meta");
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_exec(other, "UPDATE node_meta SET value = 'y'", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(store_begin(st), NT_OK);
    ck_assert_int_eq(store_commit(st), NT_OK);
    /* A transaction left open is rolled back at the unlock. */
    ck_assert_int_eq(store_begin(st), NT_OK);
    store_unlock(st);
    ck_assert_uint_eq(store_leaked_statements(st), 3);
    ck_assert_int_eq(sqlite3_exec(other, "UPDATE node_meta SET value = 'z'", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(store_meta_get(st, "a", buf, sizeof buf), NT_OK);
    ck_assert_str_eq(buf, "z");
    sqlite3_close(other);
    store_close(st);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, fresh_db_gets_latest_schema_and_pragmas);
    tcase_add_test(tc, migrates_from_older_schema);
    tcase_add_test(tc, real_migrations_from_each_older_version);
    tcase_add_test(tc, newer_schema_refused_untouched);
    tcase_add_test(tc, failed_migration_rolls_back);
    tcase_add_test(tc, not_a_database);
    tcase_add_test(tc, meta_and_stmt_cache);
    tcase_add_test(tc, leak_swept_at_unlock);
    tcase_add_test(tc, migration_5_flags_both_namesakes);
    tcase_add_test(tc, migration_6_member_rooms_start_at_their_oldest_key);
    suite_add_tcase(s, tc);
    return s;
}
