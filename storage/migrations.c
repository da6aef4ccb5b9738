#include "migrations.h"
#include "roomdb.h"

/* Append new migrations at the END, one string per schema version, with a
 * comment naming the version and the area. */
const char *const store_migrations[] = {
    /* 1 (core): key/value facts about this node, e.g. first start time. */
    "CREATE TABLE node_meta ("
    "  key   TEXT PRIMARY KEY NOT NULL,"
    "  value TEXT NOT NULL"
    ") STRICT;",
    /* 2 (rooms): rooms, members, room keys, the message log, outbox, client events. */
    ROOMDB_SCHEMA,
};

const size_t store_migrations_count = sizeof store_migrations / sizeof store_migrations[0];
