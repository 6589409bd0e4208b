/* Reading the server's JSON for display: values looked up by dotted path ("host.name") in the
 * nested ECS objects the API returns, and any value rendered as the short text a table cell or
 * a message shows. */
#ifndef MAMORI_CLI_JSON_H
#define MAMORI_CLI_JSON_H

#include <jansson.h>

struct dynbuf;

/* The value at a dotted path: "process.parent.pid" finds obj.process.parent.pid; a key that
 * itself contains dots ("process.pid" stored flat) is found too. Returns a borrowed reference,
 * or NULL when absent or obj is not an object. */
json_t *cli_json_get(const json_t *obj, const char *path);

/* The string at path, or NULL when absent or not a string. Borrowed like the object. */
const char *cli_json_get_string(const json_t *obj, const char *path);

/* Appends v as text: strings as is, numbers in decimal, true/false, nothing for null or NULL,
 * arrays of scalars joined by ",", objects and nested arrays as compact JSON.
 * Returns 0 or a negative errno from the buffer. */
int cli_json_format(const json_t *v, struct dynbuf *out);

/* Appends a time: strings as is; integers as seconds or, past 1e11, milliseconds since the
 * epoch, written RFC 3339 in UTC; 0, null or NULL as nothing (never). */
int cli_json_format_time(const json_t *v, struct dynbuf *out);

#endif
