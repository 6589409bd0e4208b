/* libFuzzer target for the inventory's file parsers: the same bytes go through the dpkg status,
 * os-release and passwd parsers, which must stay bounded and always leave serializable JSON. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_serializable(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);

	if (!s)
		abort();
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	json_t *pkgs = json_array(), *users = json_array(), *os = json_object();

	if (!pkgs || !users || !os)
		abort();
	if (inventory_parse_dpkg_status(buf, size, pkgs) < 0 ||
	    json_array_size(pkgs) > INVENTORY_MAX_PACKAGES)
		abort();
	if (inventory_parse_passwd(buf, size, users) < 0)
		abort();
	if (inventory_parse_os_release(buf, size, os) < 0)
		abort();
	check_serializable(pkgs);
	check_serializable(users);
	check_serializable(os);
	json_decref(pkgs);
	json_decref(users);
	json_decref(os);
	return 0;
}
