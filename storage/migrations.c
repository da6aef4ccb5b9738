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
    /* 2 (peers): known nodes, keys pinned at first sight; their addresses. */
    "CREATE TABLE peers ("
    "  id             TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 64),"
    "  name           TEXT NOT NULL,"
    "  pub_der        BLOB NOT NULL,"
    "  first_seen     INTEGER NOT NULL,"
    "  last_seen      INTEGER NOT NULL,"
    "  trusted        INTEGER NOT NULL DEFAULT 0,"
    "  delivery       TEXT NOT NULL DEFAULT 'push' CHECK (delivery IN ('push', 'poll')),"
    "  source         TEXT NOT NULL CHECK (source IN ('manual', 'multicast', 'handshake')),"
    "  instance_id    BLOB,"
    "  name_collision INTEGER NOT NULL DEFAULT 0"
    ") STRICT;"
    "CREATE INDEX peers_name ON peers (name);"
    "CREATE TABLE peer_addresses ("
    "  peer      TEXT NOT NULL REFERENCES peers (id) ON DELETE CASCADE,"
    "  address   TEXT NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  PRIMARY KEY (peer, address)"
    ") STRICT;",
    /* 3 (rooms): rooms, members, room keys, the message log, outbox, client events. */
    ROOMDB_SCHEMA,
    /* 4 (rooms): member-list versions, so that a host tells its members
     * of joins, leaves and kicks as they happen. */
    ROOMDB_MEMBERS_VER,
    /* 5 (peers): the address a row was first learned from, so that one
     * source cannot mint an unbounded number of peer rows; and
     * name_collision on every row that shares its name (it was set on
     * the newer row only). */
    "ALTER TABLE peers ADD COLUMN origin TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX peers_origin ON peers (origin, first_seen);"
    "UPDATE peers SET name_collision = (name <> '' AND EXISTS "
    "(SELECT 1 FROM peers o WHERE o.name = peers.name AND o.id <> peers.id));",
    /* 6 (peers): rows known only from multicast (untrusted, never
     * handshaken) are capped and age out (peers.c multicast_make_room); their
     * least recently seen first. */
    "CREATE INDEX peers_multicast ON peers (last_seen, id) WHERE source = 'multicast' AND trusted = 0;",
    /* 7 (rooms): what began each hosted room's current epoch, so that a
     * host takes the previous epoch after a routine rotation only, not
     * after a removal, across restarts too. */
    ROOMDB_EPOCH_CAUSE,
    /* 8 (rooms): a member's first epoch, so that it opens no key of an
     * epoch from before its membership. */
    ROOMDB_FROM_EPOCH,
    /* 9 (peers): names are compared folded (name_key: text_name_fold of
     * name), and a label shows label_hex hex digits of the id, as many as
     * set it apart from every other row of a name alike. Both are
     * computed in C: peers_names_refresh fills them at start. */
    "ALTER TABLE peers ADD COLUMN name_key TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE peers ADD COLUMN label_hex INTEGER NOT NULL DEFAULT 8;"
    "CREATE INDEX peers_name_key ON peers (name_key);",
    /* 10 (peers): when origin added the row or made it lasting (a
     * handshake from it upgraded a row known only from multicast), for
     * the cap of new rows per origin; first_seen stays when it was first
     * seen. */
    "ALTER TABLE peers ADD COLUMN origin_at INTEGER NOT NULL DEFAULT 0;"
    "UPDATE peers SET origin_at = first_seen;"
    "DROP INDEX peers_origin;"
    "CREATE INDEX peers_origin ON peers (origin, origin_at);",
    /* 11 (rooms): the member-list version at which a member's membership
     * began, so that it ignores a kick the host recorded before it (one
     * pushed while it joined again). */
    ROOMDB_JOINED_VER,
};

const size_t store_migrations_count = sizeof store_migrations / sizeof store_migrations[0];
