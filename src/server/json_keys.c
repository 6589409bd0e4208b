#include "json_keys.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

bool json_keys_only(json_t *o, const char *const *keys, const char *where, char *err, size_t errlen)
{
	size_t wl = strlen(where);
	const char *k, *sep = wl && where[wl - 1] != '.' ? "." : "";
	json_t *v;

	json_object_foreach(o, k, v)
	{
		size_t i;

		for (i = 0; keys[i]; i++)
			if (!strcmp(k, keys[i]))
				break;
		if (!keys[i]) {
			snprintf(err, errlen, "%s%s%s: unknown key", where, sep, k);
			return false;
		}
	}
	return true;
}
