/* Host inventory: one ECS state document (identity, OS, interfaces, users, listening sockets,
 * installed packages) sent at start and periodically so the server knows what each host is and
 * exposes. Files are read under a root prefix so tests and fuzzers can use fixtures. */
#ifndef MAMORI_INVENTORY_H
#define MAMORI_INVENTORY_H

#include <stddef.h>

#include <jansson.h>

/* Hard caps so that no host, however big or hostile, makes one document unbounded. */
#define INVENTORY_MAX_PACKAGES 65536
#define INVENTORY_MAX_USERS 65536
#define INVENTORY_MAX_LISTENING 4096
#define INVENTORY_MAX_INTERFACES 1024
#define INVENTORY_MAX_ADDRESSES 4096
#define INVENTORY_MAX_VALUE 256 /* longest field value kept (name, version, path) */

struct inventory_opts {
	/* Prefix of /etc, /proc and /var paths: "" (or NULL) for the live system, a fixture
	 * directory in tests. Interfaces and uname always describe the live system. */
	const char *root;
	const char *host_name;	    /* host.name; NULL or "": uname nodename */
	const char *const *sources; /* names of the agent's active sources; borrowed */
	size_t nsources;
};

/* Builds the inventory document. Caller owns the result (json_decref); NULL with errno set when
 * out of memory. Missing or malformed files leave their part empty, never fail the document. */
json_t *inventory_collect(const struct inventory_opts *o);

/* Serializes doc as one compact JSON line of at most max bytes. When it is longer, packages are
 * dropped from the end of the list (doc is modified; packages_count keeps the true number and
 * packages_truncated is set). Caller frees the result; NULL when it cannot fit or on ENOMEM. */
char *inventory_dump(json_t *doc, size_t max);

/* Appends {"name","version","architecture"} to array for each paragraph of a dpkg status file
 * whose Status is "install ok installed". Returns the number appended (stops at
 * INVENTORY_MAX_PACKAGES in array), or -EINVAL / -ENOMEM. */
int inventory_parse_dpkg_status(const char *buf, size_t len, json_t *array);

/* Sets name, version, full, platform and family in os from an os-release file (quotes and shell
 * escapes removed). family is the best-known ID_LIKE word, else ID. 0, or -EINVAL / -ENOMEM. */
int inventory_parse_os_release(const char *buf, size_t len, json_t *os);

/* Appends {"name","id","group_id","home","shell","login"} to array for each well-formed
 * /etc/passwd line. Returns the number appended, or -EINVAL / -ENOMEM. */
int inventory_parse_passwd(const char *buf, size_t len, json_t *array);

#endif
