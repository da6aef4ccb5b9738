/* migrations.h - the ordered list of schema migrations.
 *
 * store_migrations[i] takes the schema from version i to i + 1 (version =
 * PRAGMA user_version). To change the schema, APPEND one entry at the end
 * of the array in storage/migrations.c; never edit or reorder a landed one
 * (databases in the field already ran it). An entry may hold several
 * statements separated by ';'. */
#ifndef NATTER_MIGRATIONS_H
#define NATTER_MIGRATIONS_H

#include <stddef.h>

extern const char *const store_migrations[];
extern const size_t store_migrations_count;

#endif
