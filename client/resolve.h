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
#define RESOLVE_ID_KEYS "id|node_id"
#define RESOLVE_NAME_KEYS "name"

/* Find query in list (a JSON array of objects). On NT_OK *index is the
 * match. NT_ERR_NOT_FOUND: nothing fits; NT_ERR_EXISTS: ambiguous (err
 * lists the candidates); NT_ERR_INVALID: empty query or list not an array.
 * what ("peer", "room") words the message in err. */
NT_MUST_USE nt_err resolve_find(const json_t *list, const char *query, const char *what,
                                size_t *index, char err[static RESOLVE_ERR_MAX]);

/* Find the peer query names in peers (a peer list): by exact id, exact
 * label ("bob~3fa2c9d1", ident.h), name and leading hex digits of the id
 * ("bob~3fa2": fewer digits than the label shows, or digits for a peer
 * shown by its bare name), exact name (case-sensitive, then not), then a
 * unique prefix of an id, name or label. At each step trusted peers come
 * first: if exactly one trusted peer fits, it is the one, whatever
 * untrusted peers fit too (a stranger who takes a friend's name does not
 * get their invitations); if none does, exactly one peer must fit. Else
 * NT_ERR_EXISTS and err lists the candidates by label and trust; codes as
 * resolve_find. */
NT_MUST_USE nt_err resolve_peer(const json_t *peers, const char *query, size_t *index,
                                char err[static RESOLVE_ERR_MAX]);

#endif
