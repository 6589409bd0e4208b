/* Host isolation (the isolate and release commands): an nftables table, installed through
 * libnftables in one transaction, that drops all traffic but the management channel to the
 * Mamori servers, DNS when asked for and an allow-list. A self-test after applying checks that
 * the server is still reachable and reverts when it is not. The applied spec is kept in the
 * state directory so a restarted agent (or a rebooted host) isolates itself again at once. */
#ifndef MAMORI_RESPOND_ISOLATE_H
#define MAMORI_RESPOND_ISOLATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct respond_isolate_ctx {
	const char *state_dir;	 /* isolation.json is kept here */
	const char *server_url;	 /* https://host:port: where the management channel goes */
	const char *resolv_conf; /* nameservers allowed when the server is a name; NULL: none */
	/* Checks over a new connection that the server answers: 0, or a negative errno and the
	 * reason in err. NULL: no self-test. */
	int (*selftest)(void *ctx, char *err, size_t errlen);
	void *selftest_ctx;
};

/* args: {"servers": [IP], "allow": [IP | CIDR | name], "dns": [IP], "selftest": bool}, all
 * optional; servers default to the addresses of the server URL's host. Caller owns *result. */
int respond_isolate(const struct respond_isolate_ctx *c, json_t *args, json_t **result);
/* Removes the table and the saved spec. Not isolated is not an error. */
int respond_release(const struct respond_isolate_ctx *c, json_t **result);
/* At agent start: applies the saved spec again if there is one (no self-test: the server holds
 * the host isolated until it says otherwise). 0 when there was nothing to do or it applied. */
int respond_isolate_resume(const struct respond_isolate_ctx *c);
/* Re-applies the saved spec when the table has gone (flushed by hand, another firewall tool).
 * Cheap when the table is there; called periodically. 1 when it re-applied. */
int respond_isolate_check(const struct respond_isolate_ctx *c);
/* Whether this agent holds its host isolated. Thread-safe. */
bool respond_isolate_active(void);

#endif
