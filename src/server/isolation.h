/* Host isolation as the server holds it: the isolation a host should have (set when isolate or
 * release is queued), whether the agent confirmed it, and the reconciliation that re-sends
 * isolate when an agent reports itself not isolated while the server holds it isolated (a lost
 * state directory, a reinstall) or release in the opposite case. */
#ifndef MAMORI_ISOLATION_H
#define MAMORI_ISOLATION_H

#include <jansson.h>

struct server;

/* Adds the allow-list and resolvers of the host's group policy (isolation.allow, .dns) to the
 * arguments of an isolate command, after those it has. */
void isolation_merge_policy(struct server *s, const char *agent_id, json_t *args);

/* A command was queued (any type; only isolate and release matter). */
void isolation_on_queue(struct server *s, const char *agent_id, const char *type, json_t *args,
			const char *cmd_id);
/* The agent answered command cmd_id of type with status "ok" or "error" and result. */
void isolation_on_result(struct server *s, const char *agent_id, const char *cmd_id,
			 const char *type, const char *status, json_t *result);
/* A heartbeat's health arrived: isolation.active is what the agent enforces now. */
void isolation_on_health(struct server *s, const char *agent_id, json_t *health);

#endif
