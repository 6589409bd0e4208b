/* The server's view of its agents: authentication of mutual-TLS peers, last-seen and health
 * from heartbeats (flushed to the store in batches), and the agents' held command long polls. */
#ifndef MAMORI_FLEET_H
#define MAMORI_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>

struct server;
struct fleet;

/* Caller owns the result. */
struct fleet *fleet_new(struct server *s, char *err, size_t errlen);
void fleet_free(struct fleet *f);

/* The agent id (borrowed, stable) when cn names an enrolled agent whose certificate serial is
 * serial and which was not removed; NULL otherwise. Marks the agent seen. */
const char *fleet_authenticate(struct fleet *f, const char *cn, const char *serial);
/* After enrollment or removal in the store: reloads that agent. */
void fleet_reload(struct fleet *f, const char *agent_id);
/* Records a heartbeat body (health, version). */
void fleet_heartbeat(struct fleet *f, const char *agent_id, json_t *body);
/* Last time (ms since the epoch) this node heard from the agent, 0 if never. */
int64_t fleet_last_seen_ms(struct fleet *f, const char *agent_id);
/* Holds req as the agent's command long poll (answered at once when commands wait). */
/* etag: the policy the agent runs (may be NULL); a newer one is sent with the reply at once. */
void fleet_poll(struct fleet *f, const char *agent_id, struct evhttp_request *req, unsigned wait_s,
		const char *etag);
/* A policy or the block list changed: held polls of agents whose policy is now out of date are
 * answered with the new one. */
void fleet_policy_changed(struct fleet *f);
/* Delivers queued commands to the agent if this node holds its long poll. */
void fleet_wake(struct fleet *f, const char *agent_id);
/* Answers and drops the agent's held poll (agent removed). */
void fleet_drop(struct fleet *f, const char *agent_id);
/* Once a second: flushes last-seen/health, refreshes removals, expires commands. */
void fleet_tick(struct fleet *f);
void fleet_flush(struct fleet *f);
size_t fleet_polls_held(struct fleet *f);

#endif
