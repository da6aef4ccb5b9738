/* dbconn.c - see dbconn.h. */
#include "dbconn.h"

#include <stdbool.h>
#include <string.h>

static const struct {
    int flags;
    bool extended; /* extended result codes */
    bool writer;   /* WAL, synchronous=FULL, foreign_keys=ON */
    bool query_only;
} policy[] = {
    [DBCONN_STORE] = {SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW, true,
                      true, false},
    [DBCONN_WRITER] = {SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, false, true, false},
    [DBCONN_READER] = {SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, false, false, true},
};

static nt_err exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? NT_OK : NT_ERR_DB;
}

static nt_err writer_pragmas(sqlite3 *db)
{
    /* journal_mode answers with a row; check it really became WAL. */
    sqlite3_stmt *s = NULL;
    nt_err rc = NT_ERR_DB;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_step(s) != SQLITE_ROW || !sqlite3_column_text(s, 0) ||
        strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0)
        goto out;
    if (exec(db, "PRAGMA synchronous = FULL") || exec(db, "PRAGMA foreign_keys = ON"))
        goto out;
    rc = NT_OK;
out:
    sqlite3_finalize(s);
    return rc;
}

nt_err dbconn_init(void)
{
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK ? NT_OK : NT_ERR_DB;
}

nt_err dbconn_durable(sqlite3 *db, bool full)
{
    return exec(db, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
}

nt_err dbconn_open(const char *path, dbconn_kind kind, dbconn_check_fn *check, void *check_arg, sqlite3 **out)
{
    sqlite3 *db = NULL;
    nt_err rc = NT_ERR_DB;
    *out = NULL;
    if (sqlite3_open_v2(path, &db, policy[kind].flags, NULL) != SQLITE_OK)
        goto out;
    if (policy[kind].extended)
        sqlite3_extended_result_codes(db, 1);
    if (sqlite3_busy_timeout(db, DBCONN_BUSY_TIMEOUT_MS) != SQLITE_OK)
        goto out;
    if (check && (rc = check(db, check_arg)))
        goto out;
    rc = NT_ERR_DB;
    if (policy[kind].writer && writer_pragmas(db))
        goto out;
    if (policy[kind].query_only && exec(db, "PRAGMA query_only = ON"))
        goto out;
    *out = db;
    db = NULL;
    rc = NT_OK;
out:
    sqlite3_close(db);
    return rc;
}
