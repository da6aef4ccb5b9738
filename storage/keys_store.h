/* keys_store.h - room keys (table room_keys): the 32-byte key of every
 * epoch of a room this node holds. A secret that must persist, so it lives
 * only in the data dir's database; copies handed out are the caller's to
 * wipe.
 *
 * Threads: one thread at a time on the roomdb handle (the caller holds
 * the rooms lock). */
#ifndef NATTER_KEYS_STORE_H
#define NATTER_KEYS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"
#include "roomdb.h"

#define KEYS_STORE_KEY_LEN 32

/* The key of (room, epoch); NT_ERR_NOT_FOUND if not held (or not 32 bytes). */
NT_MUST_USE nt_err keys_store_get(roomdb *db, const char *room, int64_t epoch,
                                  uint8_t key[static KEYS_STORE_KEY_LEN]);
/* Add the key of a new epoch. NT_ERR_EXISTS if that epoch has one. */
NT_MUST_USE nt_err keys_store_add(roomdb *db, const char *room, int64_t epoch,
                                  const uint8_t key[static KEYS_STORE_KEY_LEN], int64_t created);
/* Keep a key received from the host; one already held for that epoch
 * stays as it is (NT_OK either way). */
NT_MUST_USE nt_err keys_store_keep(roomdb *db, const char *room, int64_t epoch,
                                   const uint8_t key[static KEYS_STORE_KEY_LEN], int64_t created);
/* The oldest epoch held; 0 when none. */
NT_MUST_USE nt_err keys_store_oldest(roomdb *db, const char *room, int64_t *epoch);

/* Called with each key of keys_store_each; key is borrowed for the call
 * (do not keep it) and len is as stored. */
typedef void keys_store_fn(void *arg, int64_t epoch, const uint8_t *key, size_t len);
/* The keys of epochs >= min_epoch, oldest first, at most max. */
NT_MUST_USE nt_err keys_store_each(roomdb *db, const char *room, int64_t min_epoch, size_t max, keys_store_fn *fn,
                                   void *arg);

#endif
