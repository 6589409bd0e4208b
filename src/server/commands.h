/* Commands from the server to agents: queued in the store, delivered on the agent's long poll,
 * answered by the agent; API callers may wait for the result. Works across server nodes that
 * share PostgreSQL through NOTIFY (channels mamori_commands and mamori_results). */
#ifndef MAMORI_COMMANDS_H
#define MAMORI_COMMANDS_H

#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>

struct server;

/* Queues a command; id gets 32 hex digits. 0 or a negative errno. */
int commands_queue(struct server *s, const char *agent_id, const char *type, json_t *args,
		   const char *user, const char *reason, char id[33]);
/* Takes the agent's queued commands (marks them delivered), plus delivered ones still without a
 * result that were delivered before redeliver_ms (ms since the epoch; 0: only those older than
 * the redelivery delay). New reference: a JSON array. */
json_t *commands_take(struct server *s, const char *agent_id, int64_t redeliver_ms);
/* Records a result sent by agent_id. -ENOENT when the command is not that agent's. */
int commands_result(struct server *s, const char *agent_id, const char *id, json_t *body);
/* The command as the API shows it, or NULL. New reference. */
json_t *commands_get(struct server *s, const char *id);
/* Commands created in [since_ms, until_ms), newest first, at most limit; host (an agent id or
 * a host name: every enrollment of that name) NULL for all hosts. New reference (a JSON array),
 * or NULL when the store failed. */
json_t *commands_list(struct server *s, int64_t since_ms, int64_t until_ms, const char *host,
		      const char *type, int64_t limit);
/* Replies to req with the command once it has a result, or after wait_s seconds. */
void commands_wait(struct server *s, const char *id, struct evhttp_request *req, unsigned wait_s);
/* A result arrived (locally or from another node): answers waiting API requests. */
void commands_notify_result(struct server *s, const char *id);
/* Marks commands past their expiry as expired. */
void commands_expire(struct server *s);
void commands_free_waiters(struct server *s);

#endif
