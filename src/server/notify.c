#include "notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "detect.h"
#include "dynbuf.h"
#include "log.h"
#include "notify_render.h"
#include "notify_route.h"
#include "notify_send.h"
#include "server_int.h"

#include "banned.h"

#define BATCH 32
#define LEASE_MS (5 * 60 * 1000)      /* a claimed row is due again after this (a crashed node) */
#define ROUTES_CHECK_MS 2000	      /* the loop thread looks for a newer routes version */
#define KEEP_MS (30ll * 86400 * 1000) /* sent and failed rows are deleted after 30 days */
#define ERROR_MAX 300

/* A route whose destination was just found unreachable, until it is worth trying again. */
struct route_down {
	char route[NOTIFY_NAME_MAX + 1];
	char err[ERROR_MAX];
	int rc;
	int64_t until_ms; /* 0: free slot */
};

struct notify {
	struct server *s;
	struct store *store; /* the worker's connection */
	pthread_t thread;
	bool started, curl_ready;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool kick;
	atomic_bool stop;
	unsigned base_s;
	char hostname[256];
	atomic_uint_fast64_t sent, failed, retried;
	int64_t last_cleanup_ms;		   /* worker */
	struct route_down down[NOTIFY_MAX_ROUTES]; /* worker */
	/* Loop thread only. */
	uint64_t queued, rejected;
	json_t *routes;
	int64_t routes_version, routes_checked_ms;
};

/* One due row, copied out of the store. */
struct due {
	int64_t id, next_try, queued_at;
	unsigned attempts;
	bool test;
	char alert_id[80], route[NOTIFY_NAME_MAX + 1], group[128];
};

int64_t notify_backoff_ms(unsigned base_s, unsigned attempts)
{
	int64_t d = base_s ? base_s : NOTIFY_DEFAULT_BASE_S;

	for (unsigned i = 1; i < attempts && d < NOTIFY_MAX_DELAY_S; i++)
		d *= 2;
	return (d < NOTIFY_MAX_DELAY_S ? d : NOTIFY_MAX_DELAY_S) * 1000;
}

bool notify_give_up(unsigned attempts, int64_t age_ms)
{
	return attempts >= NOTIFY_MAX_ATTEMPTS || age_ms >= NOTIFY_GIVE_UP_MS;
}

/* ---- routes in the store ---- */

static json_t *opt_text(const struct store_val *c)
{
	return c->type == STORE_TEXT ? json_stringn(c->s, c->n) : json_null();
}

static int row_routes(void *ctx, const struct store_val *c, size_t n)
{
	json_t **out = ctx, *doc, *routes;

	if (n < 5 || *out || c[0].type != STORE_INT || c[1].type != STORE_TEXT)
		return 0;
	doc = json_loadb(c[1].s, c[1].n, 0, NULL);
	routes = json_object_get(doc, "routes");
	/* A document that no longer loads (edited by hand in the store) routes nothing. */
	routes = json_is_array(routes) ? json_incref(routes) : json_array();
	*out =
	    json_pack("{s:I,s:o,s:o,s:I,s:o}", "version", (json_int_t)c[0].i, "routes", routes,
		      "created_by", opt_text(&c[2]), "created_at",
		      (json_int_t)(c[3].type == STORE_INT ? c[3].i : 0), "reason", opt_text(&c[4]));
	json_decref(doc);
	return 0;
}

json_t *notify_routes_load(struct store *st, int64_t version, int *rc)
{
	struct store_val p[] = {store_int(version)};
	json_t *out = NULL;
	int64_t r;

	*rc = 0;
	r = store_exec(st,
		       version ? "SELECT version, doc, created_by, created_at, reason FROM "
				 "notify_routes WHERE version = ?"
			       : "SELECT version, doc, created_by, created_at, reason FROM "
				 "notify_routes ORDER BY version DESC LIMIT 1",
		       p, version ? 1 : 0, row_routes, &out);
	if (r < 0) {
		*rc = (int)r;
		return NULL;
	}
	if (!out && version) {
		*rc = -ENOENT;
		return NULL;
	}
	if (!out)
		out = json_pack("{s:I,s:[],s:n,s:I,s:n}", "version", (json_int_t)0, "routes",
				"created_by", "created_at", (json_int_t)0, "reason");
	if (!out)
		*rc = -ENOMEM;
	return out;
}

int notify_routes_store(struct store *st, json_t *doc, const char *user, const char *reason,
			int64_t now_ms, int64_t *version)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	int64_t cur = 0, r = 0;
	int rc;

	if (!text)
		return -ENOMEM;
	rc = store_begin(st);
	if (rc)
		goto out;
	rc = store_query_int(st, "SELECT coalesce(max(version), 0) FROM notify_routes", NULL, 0,
			     &cur);
	if (!rc || rc == -ENOENT) {
		struct store_val p[] = {store_int(cur + 1), store_text(text), store_text(user),
					store_int(now_ms), store_text(reason)};

		r = store_exec(st,
			       "INSERT INTO notify_routes (version, doc, created_by, created_at, "
			       "reason) VALUES (?, ?, ?, ?, ?)",
			       p, 5, NULL, NULL);
		rc = r < 0 ? (int)r : store_commit(st);
	}
	if (rc) {
		store_rollback(st);
		goto out;
	}
	*version = cur + 1;
out:
	free(text);
	return rc;
}

static int row_history(void *ctx, const struct store_val *c, size_t n)
{
	if (n < 4 || c[0].type != STORE_INT)
		return 0;
	json_array_append_new(ctx, json_pack("{s:I,s:o,s:I,s:o}", "version", (json_int_t)c[0].i,
					     "created_by", opt_text(&c[1]), "created_at",
					     (json_int_t)(c[2].type == STORE_INT ? c[2].i : 0),
					     "reason", opt_text(&c[3])));
	return 0;
}

json_t *notify_routes_history(struct store *st)
{
	json_t *arr = json_array();

	if (!arr || store_exec(st,
			       "SELECT version, created_by, created_at, reason FROM notify_routes "
			       "ORDER BY version DESC",
			       NULL, 0, row_history, arr) < 0) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

/* ---- the outbox, loop thread ---- */

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static struct notify_alert_facts facts_of(json_t *a, const char *group)
{
	return (struct notify_alert_facts){
	    .group = group,
	    .severity = (int)json_integer_value(json_object_get(a, "severity")),
	    .tactics = str(a, "tactics"),
	    .techniques = str(a, "techniques"),
	};
}

/* Alerts marked excluded by their group's policy are not notified. */
static bool wanted(json_t *a)
{
	return str(a, "id") && !json_is_true(json_object_get(a, "excluded"));
}

/* Whether any alert to notify matches any route: a batch that notifies nothing takes no write
 * lock. */
static bool outbox_has_match(json_t *routes, const char *group, json_t *summaries)
{
	json_t *a, *r;
	size_t i, k;

	json_array_foreach(summaries, i, a)
	{
		struct notify_alert_facts f = facts_of(a, group);

		if (!wanted(a))
			continue;
		json_array_foreach(json_object_get(routes, "routes"), k, r)
		{
			if (notify_route_matches(r, &f))
				return true;
		}
	}
	return false;
}

int notify_outbox_add(struct store *st, json_t *routes, const char *agent_id, const char *group,
		      json_t *summaries, int64_t now_ms, size_t *queued)
{
	json_t *a, *r;
	size_t i, k;
	int rc;

	*queued = 0;
	if (!outbox_has_match(routes, group, summaries))
		return 0;
	rc = store_begin(st);
	if (rc)
		return rc;
	json_array_foreach(summaries, i, a)
	{
		struct notify_alert_facts f = facts_of(a, group);

		if (!wanted(a))
			continue;
		json_array_foreach(json_object_get(routes, "routes"), k, r)
		{
			struct store_val p[] = {store_text(str(a, "id")),
						store_text(str(r, "name")),
						store_text(agent_id),
						store_text(group),
						store_text(str(a, "host")),
						store_text(str(a, "rule_name") ? str(a, "rule_name")
									       : str(a, "rule_id")),
						store_int(f.severity),
						store_int(now_ms),
						store_int(now_ms),
						store_int(now_ms)};
			int64_t n;

			if (!notify_route_matches(r, &f))
				continue;
			n = store_exec(
			    st,
			    "INSERT INTO notifications (kind, alert_id, route, agent_id, "
			    "group_name, host, rule_name, severity, status, attempts, "
			    "created_at, queued_at, next_try) VALUES ('alert', ?, ?, ?, ?, "
			    "?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT (alert_id, route) "
			    "DO NOTHING",
			    p, sizeof(p) / sizeof(p[0]), NULL, NULL);
			if (n < 0) {
				store_rollback(st);
				*queued = 0;
				return (int)n;
			}
			*queued += (size_t)n;
		}
	}
	rc = store_commit(st);
	if (rc) {
		store_rollback(st);
		*queued = 0;
	}
	return rc;
}

static void kick(struct notify *n)
{
	pthread_mutex_lock(&n->lock);
	n->kick = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

/* The newest routes, re-read when another version appeared (another node, or a PUT). */
static json_t *routes_now(struct server *s)
{
	struct notify *n = s->notify;
	int64_t now = server_now_ms(), v = 0;
	json_t *got;
	int rc;

	if (n->routes && now - n->routes_checked_ms < ROUTES_CHECK_MS)
		return n->routes;
	if (store_query_int(s->store, "SELECT coalesce(max(version), 0) FROM notify_routes", NULL,
			    0, &v))
		return n->routes;
	n->routes_checked_ms = now;
	if (n->routes && v == n->routes_version)
		return n->routes;
	got = notify_routes_load(s->store, 0, &rc);
	if (!got)
		return n->routes;
	json_decref(n->routes);
	n->routes = got;
	n->routes_version = json_integer_value(json_object_get(got, "version"));
	return n->routes;
}

void notify_routes_changed(struct server *s)
{
	if (s->notify)
		s->notify->routes_checked_ms = 0;
}

void notify_alerts(struct server *s, const char *agent_id, json_t *summaries)
{
	struct notify *n = s->notify;
	struct store_val p[] = {store_text(agent_id)};
	char group[128];
	json_t *routes;
	size_t queued = 0;
	int rc;

	if (!n || !json_array_size(summaries))
		return;
	routes = routes_now(s);
	if (!json_array_size(json_object_get(routes, "routes")))
		return;
	if (store_query_text(s->store, "SELECT group_name FROM agents WHERE id = ?", p, 1, group,
			     sizeof(group)))
		group[0] = 0;
	rc = notify_outbox_add(s->store, routes, agent_id, group[0] ? group : NULL, summaries,
			       server_now_ms(), &queued);
	if (rc)
		log_warn("notify", "notifications not queued agent=%s err=%s", agent_id,
			 store_error(s->store));
	if (queued) {
		n->queued += queued;
		kick(n);
	}
}

int notify_queue_test(struct server *s, const char *route, int64_t *id)
{
	json_t *routes = s->notify ? routes_now(s) : NULL;
	char tid[40] = "test-";
	int64_t now = server_now_ms();
	int rc;

	if (!notify_routes_find(routes, route))
		return -ENOENT;
	if (server_random_hex(tid + 5, 12))
		return -EIO;
	{
		struct store_val p[] = {store_text(tid), store_text(route), store_int(now),
					store_int(now), store_int(now)};

		rc =
		    store_query_int(s->store,
				    "INSERT INTO notifications (kind, alert_id, route, status, "
				    "attempts, created_at, queued_at, next_try) VALUES ('test', ?, "
				    "?, 'pending', 0, ?, ?, ?) RETURNING id",
				    p, 5, id);
	}
	if (!rc) {
		s->notify->queued++;
		kick(s->notify);
	}
	return rc;
}

int notify_retry_now(struct server *s, int64_t id)
{
	struct store_val q[] = {store_int(id)};
	char status[16];
	int64_t r, now = server_now_ms();
	int rc;

	rc = store_query_text(s->store, "SELECT status FROM notifications WHERE id = ?", q, 1,
			      status, sizeof(status));
	if (rc)
		return rc;
	if (!strcmp(status, "sent"))
		return -EALREADY;
	{
		struct store_val p[] = {store_int(now), store_int(now), store_int(id)};

		r = store_exec(s->store,
			       "UPDATE notifications SET status = 'pending', attempts = 0, "
			       "next_try = ?, queued_at = ? WHERE id = ? AND status <> 'sent'",
			       p, 3, NULL, NULL);
	}
	if (r < 0)
		return (int)r;
	if (s->notify)
		kick(s->notify);
	return r ? 0 : -EALREADY;
}

json_t *notify_stats(struct server *s)
{
	struct notify *n = s->notify;
	int64_t pending = 0;

	if (!n)
		return json_object();
	store_query_int(s->store, "SELECT count(*) FROM notifications WHERE status = 'pending'",
			NULL, 0, &pending);
	routes_now(s);
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "queued", (json_int_t)n->queued, "sent",
			 (json_int_t)atomic_load(&n->sent), "failed",
			 (json_int_t)atomic_load(&n->failed), "retried",
			 (json_int_t)atomic_load(&n->retried), "pending", (json_int_t)pending,
			 "routes_version", (json_int_t)n->routes_version, "routes_rejected",
			 (json_int_t)n->rejected);
}

void notify_count_rejected(struct server *s)
{
	if (s->notify)
		s->notify->rejected++;
}

/* ---- delivery, worker thread ---- */

struct due_list {
	struct due rows[BATCH];
	size_t n;
};

static void copy_text(char *dst, size_t size, const struct store_val *c)
{
	size_t k = c->type == STORE_TEXT ? (c->n < size - 1 ? c->n : size - 1) : 0;

	if (k)
		memcpy(dst, c->s, k);
	dst[k] = 0;
}

static int row_due(void *ctx, const struct store_val *c, size_t n)
{
	struct due_list *l = ctx;
	struct due *d;

	if (n < 8 || l->n >= BATCH || c[0].type != STORE_INT)
		return 0;
	d = &l->rows[l->n++];
	memset(d, 0, sizeof(*d));
	d->id = c[0].i;
	d->test = c[1].type == STORE_TEXT && c[1].n == 4 && !memcmp(c[1].s, "test", 4);
	copy_text(d->alert_id, sizeof(d->alert_id), &c[2]);
	copy_text(d->route, sizeof(d->route), &c[3]);
	copy_text(d->group, sizeof(d->group), &c[4]);
	d->attempts = c[5].type == STORE_INT ? (unsigned)c[5].i : 0;
	d->queued_at = c[6].type == STORE_INT ? c[6].i : 0;
	d->next_try = c[7].type == STORE_INT ? c[7].i : 0;
	return 0;
}

static int row_alert(void *ctx, const struct store_val *c, size_t n)
{
	json_t **out = ctx;

	if (n < 2 || *out || c[0].type != STORE_TEXT)
		return 0;
	*out = json_loadb(c[0].s, c[0].n, 0, NULL);
	if (json_is_object(*out) && c[1].type == STORE_TEXT)
		json_object_set_new(*out, "status", json_stringn(c[1].s, c[1].n));
	return 0;
}

/* Records the outcome of one try: sent, retried later, or given up. */
static void finish(struct notify *n, const struct due *d, int rc, const char *err, bool permanent)
{
	int64_t now = server_now_ms(), r;
	unsigned attempts = d->attempts + 1;
	static struct log_rate rate;

	if (rc == -ECANCELED) {
		/* Shutdown: due again at the next start, this try not counted. */
		struct store_val p[] = {store_int(now), store_int(d->id)};

		r = store_exec(n->store, "UPDATE notifications SET next_try = ? WHERE id = ?", p, 2,
			       NULL, NULL);
	} else if (!rc) {
		struct store_val p[] = {store_int(attempts), store_int(now), store_int(d->id)};

		r = store_exec(
		    n->store,
		    "UPDATE notifications SET status = 'sent', attempts = ?, sent_at = ?, "
		    "last_error = NULL WHERE id = ?",
		    p, 3, NULL, NULL);
		atomic_fetch_add(&n->sent, 1);
		log_info("notify", "sent route=%s delivery=%lld alert=%s attempt=%u", d->route,
			 (long long)d->id, d->alert_id, attempts);
	} else if (permanent || notify_give_up(attempts, now - d->queued_at)) {
		struct store_val p[] = {store_int(attempts), store_text(err), store_int(d->id)};

		r = store_exec(n->store,
			       "UPDATE notifications SET status = 'failed', attempts = ?, "
			       "last_error = ? WHERE id = ?",
			       p, 3, NULL, NULL);
		atomic_fetch_add(&n->failed, 1);
		log_ratelimited(&rate, 30, LOG_LEVEL_WARN, "notify",
				"given up route=%s delivery=%lld attempts=%u err=\"%s\"", d->route,
				(long long)d->id, attempts, err);
	} else {
		int64_t next = now + notify_backoff_ms(n->base_s, attempts);
		struct store_val p[] = {store_int(attempts), store_int(next), store_text(err),
					store_int(d->id)};

		r = store_exec(
		    n->store,
		    "UPDATE notifications SET attempts = ?, next_try = ?, last_error = ? "
		    "WHERE id = ?",
		    p, 4, NULL, NULL);
		atomic_fetch_add(&n->retried, 1);
		log_ratelimited(
		    &rate, 30, LOG_LEVEL_WARN, "notify",
		    "failed route=%s delivery=%lld attempt=%u retry_in=%llds err=\"%s\"", d->route,
		    (long long)d->id, attempts, (long long)((next - now) / 1000), err);
	}
	if (r < 0)
		log_warn("notify", "delivery %lld not updated err=%s", (long long)d->id,
			 store_error(n->store));
}

/* Due again in a minute, this try not counted. */
static void hold(struct notify *n, const struct due *d, const char *why)
{
	struct store_val p[] = {store_int(server_now_ms() + 60000), store_text(why),
				store_int(d->id)};

	if (store_exec(n->store,
		       "UPDATE notifications SET next_try = ?, last_error = ? WHERE id = ?", p, 3,
		       NULL, NULL) < 0)
		log_warn("notify", "delivery %lld not updated err=%s", (long long)d->id,
			 store_error(n->store));
}

static int send_one(struct notify *n, const struct notify_msg *m, json_t *dest, const char *title,
		    const char *text, char *err, size_t errlen)
{
	struct dynbuf wire;
	char msgid[400], rnd[17];
	char *body;
	int rc;

	if (!strcmp(m->dest_kind, "webhook")) {
		body = notify_render_webhook(m, title, text);
		/* The triggering events are what can make an alert large: without them first. */
		if (body && strlen(body) > NOTIFY_WIRE_MAX && m->alert) {
			free(body);
			json_object_del(json_object_get(m->alert, "mamori"), "events");
			body = notify_render_webhook(m, title, text);
		}
		if (body && strlen(body) > NOTIFY_WIRE_MAX) {
			free(body);
			snprintf(err, errlen, "the message is larger than %u bytes",
				 NOTIFY_WIRE_MAX);
			return -E2BIG;
		}
		if (!body) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		rc = notify_send_webhook(dest, body, strlen(body), m->delivery_id, &n->stop, err,
					 errlen);
		free(body);
		return rc;
	}
	dynbuf_init(&wire, NOTIFY_WIRE_MAX);
	if (!strcmp(m->dest_kind, "email")) {
		if (server_random_hex(rnd, 8))
			snprintf(rnd, sizeof(rnd), "0");
		snprintf(msgid, sizeof(msgid), "mamori.%lld.%u.%s@%s", (long long)m->delivery_id,
			 m->attempt, rnd, n->hostname);
		rc = notify_render_email(m, dest, title, text, msgid, &wire);
		if (!rc)
			rc = notify_send_email(dest, wire.data, wire.len, &n->stop, err, errlen);
		else
			snprintf(err, errlen, "the message does not fit %u bytes", NOTIFY_WIRE_MAX);
	} else {
		rc = notify_render_syslog(m, dest, title, &wire);
		if (!rc)
			rc = notify_send_syslog(dest, wire.data, wire.len, &n->stop, err, errlen);
		else
			snprintf(err, errlen, "the syslog line cannot be built");
	}
	dynbuf_release(&wire);
	return rc;
}

/* Whether a failure says the destination was not reached at all (down, unknown, silent), as
 * opposed to a message it refused. */
static bool unreachable(int rc)
{
	return rc == -ETIMEDOUT || rc == -ECONNREFUSED || rc == -EHOSTUNREACH ||
	       rc == -ENETUNREACH || rc == -ECONNRESET;
}

/* One try of one claimed row, its outcome recorded. Returns the send's result. */
static int deliver(struct notify *n, json_t *routes, const struct due *d, char *err, size_t errlen)
{
	json_t *route = notify_routes_find(routes, d->route), *dest = NULL, *alert = NULL;
	const char *kind = route ? notify_route_kind(route, &dest) : NULL;
	struct dynbuf title, text;
	int rc;

	err[0] = 0;
	if (!kind) {
		snprintf(err, errlen, "route %s is no longer configured", d->route);
		finish(n, d, -ENOENT, err, true);
		return -ENOENT;
	}
	/* A paused route keeps its deliveries until it is enabled again; tests go through. */
	if (json_is_false(json_object_get(route, "enabled")) && !d->test) {
		hold(n, d, "the route is paused (enabled: false)");
		return 0;
	}
	if (!d->test) {
		struct store_val p[] = {store_text(d->alert_id)};

		if (store_exec(n->store, "SELECT doc, status FROM alerts WHERE id = ?", p, 1,
			       row_alert, &alert) < 0) {
			snprintf(err, errlen, "store: %s", store_error(n->store));
			finish(n, d, -EIO, err, false);
			return -EIO;
		}
		if (!json_is_object(alert)) {
			json_decref(alert);
			snprintf(err, errlen, "the alert is no longer stored");
			finish(n, d, -ENOENT, err, true);
			return -ENOENT;
		}
	}
	{
		struct notify_msg m = {
		    .kind = d->test ? NOTIFY_KIND_TEST : NOTIFY_KIND_ALERT,
		    .route = d->route,
		    .language = str(route, "language"),
		    .dest_kind = kind,
		    .group = d->group[0] ? d->group : NULL,
		    .alert = alert,
		    .delivery_id = d->id,
		    .attempt = d->attempts + 1,
		    .now_ms = server_now_ms(),
		    .hostname = n->hostname,
		};

		dynbuf_init(&title, NOTIFY_TEXT_MAX);
		dynbuf_init(&text, NOTIFY_TEXT_MAX);
		rc = notify_render_text(&m, &title, &text);
		if (rc)
			snprintf(err, errlen, "the message does not fit %u bytes", NOTIFY_TEXT_MAX);
		else
			rc = send_one(n, &m, dest, title.data, text.data, err, errlen);
		dynbuf_release(&title);
		dynbuf_release(&text);
	}
	json_decref(alert);
	if (rc && !err[0])
		snprintf(err, errlen, "%s", strerror(-rc));
	finish(n, d, rc, err, false);
	return rc;
}

/* The route's entry while it is known unreachable, else NULL. */
static struct route_down *down_of(struct notify *n, const char *route, int64_t now)
{
	for (size_t i = 0; i < NOTIFY_MAX_ROUTES; i++)
		if (n->down[i].until_ms > now && !strcmp(n->down[i].route, route))
			return &n->down[i];
	return NULL;
}

static void down_set(struct notify *n, const char *route, int rc, const char *err, int64_t now)
{
	struct route_down *slot = NULL;

	for (size_t i = 0; i < NOTIFY_MAX_ROUTES && !slot; i++)
		if (n->down[i].until_ms <= now || !strcmp(n->down[i].route, route))
			slot = &n->down[i];
	if (!slot)
		return;
	snprintf(slot->route, sizeof(slot->route), "%s", route);
	snprintf(slot->err, sizeof(slot->err), "%s", err);
	slot->rc = rc;
	slot->until_ms = now + notify_backoff_ms(n->base_s, 1);
}

/* Claims and delivers the due rows of one batch; the number found. Once a route's destination
 * proved unreachable, its other rows are not tried until its first retry delay passed or a
 * test got through (each would wait out the same timeout and hold up the other routes): they
 * count a failed try with the same error. */
static size_t run_due(struct notify *n)
{
	struct due_list *l = calloc(1, sizeof(*l));
	struct store_val p[] = {store_int(server_now_ms()), store_int(BATCH)};
	static struct log_rate rate;
	json_t *routes = NULL;
	size_t found = 0;
	int rc;

	if (!l)
		return 0;
	if (store_exec(
		n->store,
		"SELECT id, kind, alert_id, route, group_name, attempts, queued_at, next_try "
		"FROM notifications WHERE status = 'pending' AND next_try <= ? ORDER BY "
		"next_try, id LIMIT ?",
		p, 2, row_due, l) < 0) {
		log_ratelimited(&rate, 6, LOG_LEVEL_WARN, "notify", "outbox not read err=%s",
				store_error(n->store));
		goto out;
	}
	found = l->n;
	if (l->n)
		routes = notify_routes_load(n->store, 0, &rc);
	for (size_t i = 0; routes && i < l->n && !atomic_load(&n->stop); i++) {
		const struct due *d = &l->rows[i];
		struct store_val c[] = {store_int(server_now_ms() + LEASE_MS), store_int(d->id),
					store_int(d->next_try)};
		struct route_down *down;
		char err[ERROR_MAX];

		/* Several nodes share a PostgreSQL store: whoever moves next_try first owns the
		 * row until the lease ends. */
		if (store_exec(n->store,
			       "UPDATE notifications SET next_try = ? WHERE id = ? AND status = "
			       "'pending' AND next_try = ?",
			       c, 3, NULL, NULL) != 1)
			continue;
		/* A test always tries: it is how one checks that a destination is back. */
		down = d->test ? NULL : down_of(n, d->route, server_now_ms());
		if (down) {
			snprintf(err, sizeof(err), "not tried, unreachable just before: %.250s",
				 down->err);
			finish(n, d, down->rc, err, false);
			continue;
		}
		rc = deliver(n, routes, d, err, sizeof(err));
		if (unreachable(rc))
			down_set(n, d->route, rc, err, server_now_ms());
		else if (!rc && (down = down_of(n, d->route, server_now_ms())))
			down->until_ms = 0;
	}
	json_decref(routes);
out:
	free(l);
	return found;
}

static void cleanup(struct notify *n)
{
	int64_t now = server_now_ms();
	struct store_val p[] = {store_int(now - KEEP_MS)};

	if (now - n->last_cleanup_ms < 3600 * 1000)
		return;
	n->last_cleanup_ms = now;
	if (store_exec(n->store,
		       "DELETE FROM notifications WHERE status <> 'pending' AND created_at < ?", p,
		       1, NULL, NULL) < 0)
		log_warn("notify", "old deliveries not deleted err=%s", store_error(n->store));
}

static void *worker_main(void *arg)
{
	struct notify *n = arg;

	for (;;) {
		struct timespec until;

		pthread_mutex_lock(&n->lock);
		if (!n->kick && !atomic_load(&n->stop)) {
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&n->cond, &n->lock, &until);
		}
		n->kick = false;
		pthread_mutex_unlock(&n->lock);
		if (atomic_load(&n->stop))
			break;
		/* Full batches mean more rows are due; a bound keeps shutdown checks frequent. */
		for (int i = 0; i < 16 && !atomic_load(&n->stop) && run_due(n) == BATCH; i++)
			;
		cleanup(n);
	}
	return NULL;
}

struct notify *notify_new(struct server *s, unsigned base_s, char *err, size_t errlen)
{
	struct notify *n = calloc(1, sizeof(*n));
	pthread_condattr_t ca;

	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n->s = s;
	n->base_s = base_s ? base_s : NOTIFY_DEFAULT_BASE_S;
	n->last_cleanup_ms = server_now_ms() - 3500 * 1000; /* first cleanup a minute after start */
	atomic_init(&n->stop, false);
	atomic_init(&n->sent, 0);
	atomic_init(&n->failed, 0);
	atomic_init(&n->retried, 0);
	if (gethostname(n->hostname, sizeof(n->hostname) - 1) || !n->hostname[0])
		snprintf(n->hostname, sizeof(n->hostname), "localhost");
	pthread_mutex_init(&n->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&n->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (notify_send_global_init()) {
		snprintf(err, errlen, "libcurl initialisation failed");
		goto fail;
	}
	n->curl_ready = true;
	n->store = store_open(s->store_target, err, errlen);
	if (!n->store)
		goto fail;
	if (pthread_create(&n->thread, NULL, worker_main, n)) {
		snprintf(err, errlen, "cannot start the notification thread");
		goto fail;
	}
	n->started = true;
	return n;
fail:
	notify_free(n);
	return NULL;
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	atomic_store(&n->stop, true);
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	if (n->started)
		pthread_join(n->thread, NULL);
	store_close(n->store);
	if (n->curl_ready)
		notify_send_global_cleanup();
	json_decref(n->routes);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
	free(n);
}
