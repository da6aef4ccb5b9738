/* field.h - tolerant reads of the node's JSON answers.
 *
 * The client names fields as api-spec/openapi.yaml does; where a field has
 * a well-known alternative spelling, keys lists them separated by '|', first
 * match wins ("id|node_id"). Nested objects are reached with '.'
 * ("sender.name"). All results are borrowed from the JSON value. */
#ifndef NATTER_CLIENT_FIELD_H
#define NATTER_CLIENT_FIELD_H

#include <jansson.h>
#include <stdbool.h>

/* The first of keys that exists in o (any type), or NULL. */
json_t *field_get(const json_t *o, const char *keys);

/* String value, or NULL when absent or not a string. */
const char *field_str(const json_t *o, const char *keys);

/* Integer (also accepts a real or a numeric string), or def. */
long long field_int(const json_t *o, const char *keys, long long def);

/* Boolean (true, 1, "true"), or def. */
bool field_bool(const json_t *o, const char *keys, bool def);

/* A list answer: reply itself when it is an array, else the array under
 * one of keys. NULL when neither. */
json_t *field_list(const json_t *reply, const char *keys);

#endif
