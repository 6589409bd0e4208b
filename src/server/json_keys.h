/* Documents users write (policies, notification routes) refuse keys they do not know, so a
 * typo is an error that names it rather than a setting silently ignored. */
#ifndef MAMORI_JSON_KEYS_H
#define MAMORI_JSON_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* True when every key of object o is in keys (NULL-terminated). Otherwise false, with
 * "<where><sep><key>: unknown key" in err, sep being "." when where is not empty and does not
 * already end with one. */
bool json_keys_only(json_t *o, const char *const *keys, const char *where, char *err,
		    size_t errlen);

#endif
