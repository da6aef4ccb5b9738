/* resolve.h - name a peer or room by name, unique prefix or id.
 *
 * Order: an exact id; an exact name (case-sensitive, then case-insensitive);
 * then a prefix of ids and names together that fits exactly one object.
 * Two objects with the same exact name, or a prefix that fits several, is
 * ambiguous and the caller is told which ones. */
#ifndef NATTER_CLIENT_RESOLVE_H
#define NATTER_CLIENT_RESOLVE_H

#include <jansson.h>
#include <stddef.h>
#include "common/err.h"

#define RESOLVE_ERR_MAX 512
#define RESOLVE_ID_KEYS "id|node_id|room_id|peer_id"
#define RESOLVE_NAME_KEYS "name|display_name"

/* Find query in list (a JSON array of objects). On NT_OK *index is the
 * match. NT_ERR_NOT_FOUND: nothing fits; NT_ERR_EXISTS: ambiguous (err
 * lists the candidates); NT_ERR_INVALID: empty query or list not an array.
 * what ("peer", "room") words the message in err. */
NT_MUST_USE nt_err resolve_find(const json_t *list, const char *query, const char *what,
                                size_t *index, char err[static RESOLVE_ERR_MAX]);

#endif
