/* json.h - small helpers over Jansson with the caps natter needs.
 *
 * Jansson's own nesting limit is 2048; natter's inputs are shallow, so
 * json_parse_capped refuses anything deeper than max_depth before Jansson
 * sees it, and refuses NUL bytes inside strings. */
#ifndef NATTER_JSON_H
#define NATTER_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "err.h"

#define JSON_DEPTH_DEFAULT 16

/* Parse buf[0..len) as one JSON value no deeper than max_depth.
 * *out owned by the caller (json_decref). NT_ERR_INVALID on malformed JSON,
 * NT_ERR_TOO_BIG when too deep. */
NT_MUST_USE nt_err json_parse_capped(const char *buf, size_t len, size_t max_depth, json_t **out);

/* json_loadb(buf, len, flags, err), faster for a flat object of plain
 * strings and integers (the same value either way; other texts and flags
 * other than JSON_REJECT_DUPLICATES and JSON_DECODE_ANY go to Jansson). */
json_t *json_load_fast(const char *buf, size_t len, size_t flags, json_error_t *err);

/* As json_parse_capped, but the value must be an object. */
NT_MUST_USE nt_err json_parse_object(const char *buf, size_t len, size_t max_depth, json_t **out);

/* obj[key] as a string of 1..max_len bytes of valid UTF-8 (Jansson checks
 * UTF-8 while parsing). *out borrowed from obj. NT_ERR_NOT_FOUND when absent,
 * NT_ERR_INVALID for the wrong type or length. */
NT_MUST_USE nt_err json_get_str(const json_t *obj, const char *key, size_t max_len, const char **out);

/* obj[key] as an integer in [min, max]. NT_ERR_NOT_FOUND when absent. */
NT_MUST_USE nt_err json_get_int(const json_t *obj, const char *key, json_int_t min, json_int_t max,
                                json_int_t *out);

/* obj[key] as a boolean. NT_ERR_NOT_FOUND when absent. */
NT_MUST_USE nt_err json_get_bool(const json_t *obj, const char *key, bool *out);

/* What a request object may hold: one json_field per allowed member, the
 * list ended by JSON_FIELDS_END. types is a set of JSON_F_* bits
 * (JSON_F_ANY: any value, null and reals included); one_of, for a
 * string, lists the values it may take (NULL-terminated; NULL: any); sub,
 * for an object, lists its own members, and for an array, those of each
 * item (which must then be objects). */
enum { JSON_F_STRING = 1, JSON_F_INT = 2, JSON_F_BOOL = 4, JSON_F_ARRAY = 8, JSON_F_OBJECT = 16, JSON_F_ANY = 31 };

typedef struct json_field {
    const char *name;
    unsigned types;
    const char *const *one_of;
    const struct json_field *sub;
} json_field;

#define JSON_FIELD(name, types) {(name), (types), NULL, NULL}
#define JSON_FIELD_ENUM(name, values) {(name), JSON_F_STRING, (values), NULL}
#define JSON_FIELD_SUB(name, types, sub) {(name), (types), NULL, (sub)}
#define JSON_FIELDS_END {NULL, 0, NULL, NULL}

#define JSON_FIELD_MSG_MAX 192

/* Check that every member of obj is in fields, of its type and value.
 * NT_ERR_INVALID with msg naming the first bad member, e.g.
 * `unknown field "foo"` or `field "delivery" must be one of: push, poll`
 * (the name is shown as printable ASCII, cut at 64 bytes). A NULL obj has
 * no members. Ranges and required members are the caller's to check. */
NT_MUST_USE nt_err json_check_fields(const json_t *obj, const json_field fields[], char msg[static JSON_FIELD_MSG_MAX]);

/* Compact serialisation; caller frees. NULL on allocation failure. */
char *json_to_string(const json_t *v);

#endif
