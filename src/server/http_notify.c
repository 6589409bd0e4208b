/* /api/v1/notifications: the routes document (show, set a new version, history), the
 * deliveries with their status, a test message through one route, a retry now.
 * docs/notifications.md, docs/api.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "dynbuf.h"
#include "log.h"
#include "notify.h"
#include "notify_route.h"
#include "server_int.h"

#include "banned.h"

#define REASON_MAX 500

static const char *const columns =
    "SELECT id, kind, alert_id, route, host, rule_name, severity, group_name, status, attempts, "
    "created_at, next_try, sent_at, last_error FROM notifications";

static json_t *text_or_null(const struct store_val *c)
{
	return c->type == STORE_TEXT ? json_stringn(c->s, c->n) : json_null();
}

static json_t *int_or_null(const struct store_val *c)
{
	return c->type == STORE_INT ? json_integer(c->i) : json_null();
}

static int row_delivery(void *ctx, const struct store_val *c, size_t n)
{
	bool pending;
	json_t *o;

	if (n < 14 || c[0].type != STORE_INT)
		return 0;
	pending = c[8].type == STORE_TEXT && c[8].n == 7 && !memcmp(c[8].s, "pending", 7);
	o = json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
		      (json_int_t)c[0].i, "kind", text_or_null(&c[1]), "alert_id",
		      text_or_null(&c[2]), "route", text_or_null(&c[3]), "host",
		      text_or_null(&c[4]), "rule", text_or_null(&c[5]), "severity",
		      c[6].type == STORE_INT
			  ? json_string(detect_severity_name((enum detect_severity)c[6].i))
			  : json_null(),
		      "group", text_or_null(&c[7]), "status", text_or_null(&c[8]), "attempts",
		      int_or_null(&c[9]), "created_at", int_or_null(&c[10]), "next_try",
		      pending ? int_or_null(&c[11]) : json_null(), "sent_at", int_or_null(&c[12]),
		      "last_error", text_or_null(&c[13]));
	if (o)
		json_array_append_new(ctx, o);
	return 0;
}

static bool reason_ok(struct api_ctx *a, json_t *why)
{
	if (why && (!json_is_string(why) || strlen(json_string_value(why)) > REASON_MAX)) {
		server_reply_error(a->req, 400, "reason: a string of at most %d bytes", REASON_MAX);
		return false;
	}
	return true;
}

/* The routes with secrets masked. */
static json_t *shown(json_t *got)
{
	json_t *m = notify_routes_masked(got);

	return m ? m : json_incref(got);
}

static void routes_show(struct api_ctx *a)
{
	char *v = api_query_param(a, "version"), *end;
	int64_t version = 0;
	json_t *got;
	int rc;

	if (v) {
		version = strtoll(v, &end, 10);
		if (*end || version < 1) {
			free(v);
			server_reply_error(a->req, 400, "version: a number from 1");
			return;
		}
		free(v);
	}
	got = notify_routes_load(a->s->store, version, &rc);
	if (!got && rc == -ENOENT)
		server_reply_error(a->req, 404, "no routes version %lld", (long long)version);
	else if (!got)
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
	else
		server_reply_json(a->req, 200, shown(got));
	json_decref(got);
}

static void routes_set(struct api_ctx *a)
{
	json_t *body = server_body_json(a->req), *doc = NULL, *in, *old = NULL, *why, *got;
	char err[400], detail[700];
	int64_t version;
	int rc;

	if (!body)
		return;
	why = json_object_get(body, "reason");
	if (!reason_ok(a, why))
		goto out;
	if (!json_object_get(body, "routes")) {
		notify_count_rejected(a->s);
		server_reply_error(a->req, 400, "routes: required, a list of routes");
		goto out;
	}
	in = json_pack("{s:O}", "routes", json_object_get(body, "routes"));
	doc = in ? notify_routes_normalize(in, err, sizeof(err)) : NULL;
	if (!in)
		snprintf(err, sizeof(err), "out of memory");
	json_decref(in);
	if (doc) {
		old = notify_routes_load(a->s->store, 0, &rc);
		if (!old) {
			server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
			goto out;
		}
		if (notify_routes_unmask(doc, old, err, sizeof(err))) {
			json_decref(doc);
			doc = NULL;
		}
	}
	if (!doc) {
		notify_count_rejected(a->s);
		server_reply_error(a->req, 400, "%s", err);
		goto out;
	}
	rc = notify_routes_store(a->s->store, doc, a->user, json_string_value(why), server_now_ms(),
				 &version);
	if (rc) {
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
		goto out;
	}
	notify_routes_changed(a->s);
	log_info("notify", "routes version=%lld routes=%zu by=%s", (long long)version,
		 json_array_size(json_object_get(doc, "routes")), a->user);
	snprintf(detail, sizeof(detail), "notification routes v%lld (%zu routes)%s%s",
		 (long long)version, json_array_size(json_object_get(doc, "routes")),
		 why ? ": " : "", why ? json_string_value(why) : "");
	api_audit(a, 200, detail);
	got = notify_routes_load(a->s->store, version, &rc);
	if (got)
		server_reply_json(a->req, 200, shown(got));
	else
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
	json_decref(got);
out:
	json_decref(old);
	json_decref(doc);
	json_decref(body);
}

static void deliveries(struct api_ctx *a)
{
	char *status = api_query_param(a, "status"), *route = api_query_param(a, "route");
	int64_t since, until, limit;
	json_t *arr = json_array();
	struct store_val p[4];
	struct dynbuf sql;
	size_t np = 0;

	dynbuf_init(&sql, 4096);
	if (!api_list_window(a, &since, &until, &limit))
		goto out;
	if (status && strcmp(status, "pending") && strcmp(status, "sent") &&
	    strcmp(status, "failed")) {
		server_reply_error(a->req, 400, "status: pending, sent or failed");
		goto out;
	}
	dynbuf_adds(&sql, columns);
	dynbuf_adds(&sql, " WHERE created_at >= ? AND created_at < ?");
	p[np++] = store_int(since / 1000000);
	p[np++] = store_int(until == INT64_MAX ? INT64_MAX : until / 1000000);
	if (status) {
		dynbuf_adds(&sql, " AND status = ?");
		p[np++] = store_text(status);
	}
	if (route) {
		dynbuf_adds(&sql, " AND route = ?");
		p[np++] = store_text(route);
	}
	dynbuf_printf(&sql, " ORDER BY id DESC LIMIT %lld", (long long)limit);
	if (!arr || store_exec(a->s->store, sql.data, p, np, row_delivery, arr) < 0) {
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
		goto out;
	}
	server_reply_json(a->req, 200,
			  json_pack("{s:O,s:I}", "notifications", arr, "count",
				    (json_int_t)json_array_size(arr)));
out:
	json_decref(arr);
	dynbuf_release(&sql);
	free(status);
	free(route);
}

/* The delivery id in text, or -1. */
static int64_t delivery_id(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	return s[0] >= '0' && s[0] <= '9' && (!*end || *end == '/') && v > 0 ? v : -1;
}

static void one(struct api_ctx *a, int64_t id)
{
	json_t *arr = json_array();
	struct store_val p[] = {store_int(id)};
	struct dynbuf sql;

	dynbuf_init(&sql, 1024);
	dynbuf_adds(&sql, columns);
	dynbuf_adds(&sql, " WHERE id = ?");
	if (!arr || store_exec(a->s->store, sql.data, p, 1, row_delivery, arr) < 0)
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
	else if (!json_array_size(arr))
		server_reply_error(a->req, 404, "no delivery %lld", (long long)id);
	else
		server_reply_json(a->req, 200, json_incref(json_array_get(arr, 0)));
	json_decref(arr);
	dynbuf_release(&sql);
}

static void test(struct api_ctx *a)
{
	json_t *body = server_body_json(a->req);
	const char *route;
	char detail[200];
	int64_t id = 0;
	int rc;

	if (!body)
		return;
	route = json_string_value(json_object_get(body, "route"));
	if (!route) {
		server_reply_error(a->req, 400, "route: the name of a route");
		goto out;
	}
	rc = notify_queue_test(a->s, route, &id);
	if (rc == -ENOENT) {
		server_reply_error(a->req, 404, "no route named %.64s", route);
	} else if (rc) {
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
	} else {
		snprintf(detail, sizeof(detail), "test through %.64s: delivery %lld", route,
			 (long long)id);
		api_audit(a, 202, detail);
		server_reply_json(a->req, 202,
				  json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "route", route,
					    "status", "pending"));
	}
out:
	json_decref(body);
}

static void retry(struct api_ctx *a, int64_t id)
{
	char detail[64];
	int rc = notify_retry_now(a->s, id);

	if (rc == -ENOENT) {
		server_reply_error(a->req, 404, "no delivery %lld", (long long)id);
	} else if (rc == -EALREADY) {
		server_reply_error(a->req, 409, "delivery %lld was already sent", (long long)id);
	} else if (rc) {
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
	} else {
		snprintf(detail, sizeof(detail), "retry delivery %lld", (long long)id);
		api_audit(a, 200, detail);
		one(a, id);
	}
}

void http_notify(struct api_ctx *a)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(a->req);
	const char *rest = a->path + strlen("/notifications");
	int64_t id;

	if (!api_require(a, ROLE_VIEWER))
		return;
	if (!strcmp(rest, "/routes") && m == EVHTTP_REQ_GET) {
		routes_show(a);
	} else if (!strcmp(rest, "/routes") && m == EVHTTP_REQ_PUT) {
		if (api_require(a, ROLE_ADMIN))
			routes_set(a);
	} else if (!strcmp(rest, "/routes/history") && m == EVHTTP_REQ_GET) {
		json_t *h = notify_routes_history(a->s->store);

		if (h)
			server_reply_json(a->req, 200, json_pack("{s:o}", "versions", h));
		else
			server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
	} else if (!*rest && m == EVHTTP_REQ_GET) {
		deliveries(a);
	} else if (!strcmp(rest, "/test") && m == EVHTTP_REQ_POST) {
		if (api_require(a, ROLE_ADMIN))
			test(a);
	} else if (rest[0] == '/' && (id = delivery_id(rest + 1)) > 0) {
		const char *tail = strchr(rest + 1, '/');

		if (!tail && m == EVHTTP_REQ_GET)
			one(a, id);
		else if (tail && !strcmp(tail, "/retry") && m == EVHTTP_REQ_POST) {
			if (api_require(a, ROLE_ADMIN))
				retry(a, id);
		} else
			server_reply_error(a->req, 405, "method not allowed");
	} else if (!strcmp(rest, "/routes") || !strcmp(rest, "/test") || !*rest) {
		server_reply_error(a->req, 405, "method not allowed");
	} else {
		server_reply_error(a->req, 404, "no such endpoint: /api/v1%s", a->path);
	}
}
