/* Alert notifications (docs/notifications.md): the versioned routes document, the outbox (one
 * row per alert and matching route, kept once per alert id however many copies of the alert
 * arrive) and a worker thread with its own store connection that delivers due rows and retries
 * failures with exponential backoff. The loop thread only writes rows; network I/O happens on
 * the worker. Rows not yet delivered at shutdown stay pending in the store. */
#ifndef MAMORI_NOTIFY_H
#define MAMORI_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct server;
struct store;
struct notify;

#define NOTIFY_MAX_ATTEMPTS 20
#define NOTIFY_GIVE_UP_MS (24ll * 3600 * 1000) /* after being queued */
#define NOTIFY_MAX_DELAY_S 3600
#define NOTIFY_DEFAULT_BASE_S 30

/* Starts the worker (base_s: first retry delay, 0 for the default). Caller owns the result.
 * NULL with err filled. */
struct notify *notify_new(struct server *s, unsigned base_s, char *err, size_t errlen);
/* Stops the worker (a delivery in progress is abandoned and stays pending) and joins it. */
void notify_free(struct notify *n);

/* Loop thread. summaries: the committed batch's alerts from agent_id (ingest_result, with
 * "excluded" set by auto_response_alerts), borrowed. Queues one row per alert and matching
 * route and wakes the worker. */
void notify_alerts(struct server *s, const char *agent_id, json_t *summaries);
/* Queues a test message through route. 0 and its delivery *id, -ENOENT (no such route), or
 * -errno. */
int notify_queue_test(struct server *s, const char *route, int64_t *id);
/* Makes a pending or failed delivery due now, with its attempts reset. 0, -ENOENT, -EALREADY
 * (already sent) or -errno. */
int notify_retry_now(struct server *s, int64_t id);
/* {"queued", "sent", "failed", "retried", "pending", "routes_version", "routes_rejected"}. New
 * ref. */
json_t *notify_stats(struct server *s);
/* A routes document was refused by the API. */
void notify_count_rejected(struct server *s);
/* Forgets the loop thread's copy of the routes (after a change). */
void notify_routes_changed(struct server *s);

/* Routes in a store. The version asked (0: the newest) as {"version", "routes", "created_by",
 * "created_at", "reason"}, secrets included; version 0 with no routes when none was ever set.
 * New ref, or NULL with -ENOENT (no such version) or another -errno in *rc. */
json_t *notify_routes_load(struct store *st, int64_t version, int *rc);
/* Stores doc (normalized) as the next version. 0 and *version, or -errno. */
int notify_routes_store(struct store *st, json_t *doc, const char *user, const char *reason,
			int64_t now_ms, int64_t *version);
/* Every version, newest first, without the documents. New ref or NULL. */
json_t *notify_routes_history(struct store *st);

/* Inserts the outbox rows for summaries (alerts that are not excluded, once per alert id and
 * route) in one transaction. *queued: rows added. 0 or -errno. */
int notify_outbox_add(struct store *st, json_t *routes, const char *agent_id, const char *group,
		      json_t *summaries, int64_t now_ms, size_t *queued);

/* Delay before the next try after attempts failed ones: base_s, doubled each time, at most
 * NOTIFY_MAX_DELAY_S (30 s, 1 min, 2 min ... 1 h). */
int64_t notify_backoff_ms(unsigned base_s, unsigned attempts);
/* Whether a delivery that failed attempts times, queued age_ms ago, is given up. */
bool notify_give_up(unsigned attempts, int64_t age_ms);

#endif
