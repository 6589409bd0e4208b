/* /api/v1 administration: whoami, users, enrollment tokens, groups, audit log, counters. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detection.h"
#include "enroll_token.h"
#include "event_json.h"
#include "fleet.h"
#include "ingest_pool.h"
#include "notify.h"
#include "pki.h"
#include "server_auth.h"
#include "server_int.h"

#include "banned.h"

static bool name_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static int user_row(void *ctx, const struct store_val *c, size_t n)
{
	if (n >= 2)
		json_array_append_new(
		    ctx, json_pack("{s:s%,s:s%}", "name", c[0].s, c[0].n, "role", c[1].s, c[1].n));
	return 0;
}

static void users(struct api_ctx *a, enum evhttp_cmd_type m)
{
	json_t *body, *arr;
	const char *name, *role_s, *pw;
	enum role role;
	char token[80];
	int rc;

	if (!api_require(a, ROLE_ADMIN))
		return;
	if (m == EVHTTP_REQ_GET) {
		arr = json_array();
		store_exec(a->s->store, "SELECT name, role FROM users ORDER BY name", NULL, 0,
			   user_row, arr);
		server_reply_json(a->req, 200, json_pack("{s:o}", "users", arr));
		return;
	}
	body = server_body_json(a->req);
	if (!body)
		return;
	name = json_string_value(json_object_get(body, "name"));
	role_s = json_string_value(json_object_get(body, "role"));
	pw = json_string_value(json_object_get(body, "password"));
	role = auth_role_parse(role_s);
	if (!name_ok(name, 63) || role == ROLE_NONE || !pw || strlen(pw) < 8) {
		server_reply_error(a->req, 400,
				   "name ([A-Za-z0-9._-], max 63), role (admin, analyst, viewer) "
				   "and password (8+ characters) are required");
		goto out;
	}
	rc = auth_user_create(a->s->store, name, role, pw);
	if (rc == -EEXIST) {
		server_reply_error(a->req, 409, "user %s exists", name);
		goto out;
	}
	if (rc || auth_token_create(a->s->store, name, 0, token, sizeof(token))) {
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
		goto out;
	}
	api_audit(a, 200, name);
	server_reply_json(a->req, 200,
			  json_pack("{s:s,s:s,s:s}", "name", name, "role", role_s, "token", token));
out:
	json_decref(body);
}

static void tokens(struct api_ctx *a)
{
	json_t *body;
	const char *group, *exp_s;
	int64_t ttl = 7 * 86400ll * 1000000000ll, n = 0, expires;
	struct enroll_token t;
	char text[160], h[65];

	if (!api_require(a, ROLE_ADMIN))
		return;
	body = server_body_json(a->req);
	if (!body)
		return;
	group = json_string_value(json_object_get(body, "group"));
	exp_s = json_string_value(json_object_get(body, "expires"));
	if (!group)
		group = "default";
	if (exp_s && (server_parse_duration(exp_s, &ttl) || ttl <= 0)) {
		server_reply_error(a->req, 400, "expires: a duration such as 1h, 7d");
		goto out;
	}
	{
		struct store_val p[] = {store_text(group)};

		if (store_query_int(a->s->store, "SELECT count(*) FROM groups WHERE name = ?", p, 1,
				    &n) ||
		    n == 0) {
			server_reply_error(a->req, 404, "no such group: %s", group);
			goto out;
		}
	}
	if (enroll_token_generate(&t, pki_pin(a->s->pki)) ||
	    enroll_token_format(&t, text, sizeof(text))) {
		server_reply_error(a->req, 500, "cannot generate a token");
		goto out;
	}
	enroll_token_secret_hash(t.secret, h);
	expires = server_now_ms() + ttl / 1000000;
	{
		struct store_val p[] = {store_text(t.id),    store_text(h),
					store_text(group),   store_int(expires),
					store_text(a->user), store_int(server_now_ms())};

		if (store_exec(
			a->s->store,
			"INSERT INTO enroll_tokens (id, secret_hash, group_name, expires_at, "
			"created_by, created_at) VALUES (?,?,?,?,?,?)",
			p, 6, NULL, NULL) < 0) {
			server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
			goto out;
		}
	}
	api_audit(a, 200, t.id);
	server_reply_json(a->req, 200,
			  json_pack("{s:s,s:s,s:s,s:I}", "token", text, "id", t.id, "group", group,
				    "expires", (json_int_t)expires));
out:
	json_decref(body);
}

static int group_row(void *ctx, const struct store_val *c, size_t n)
{
	if (n >= 2)
		json_array_append_new(ctx,
				      json_pack("{s:s%,s:I}", "name", c[0].s, c[0].n, "hosts",
						(json_int_t)(c[1].type == STORE_INT ? c[1].i : 0)));
	return 0;
}

static void groups(struct api_ctx *a, enum evhttp_cmd_type m)
{
	json_t *body, *arr;
	const char *name;
	int64_t rc;

	if (m == EVHTTP_REQ_GET) {
		arr = json_array();
		store_exec(
		    a->s->store,
		    "SELECT g.name, (SELECT count(*) FROM agents a WHERE a.group_name = g.name "
		    "AND a.removed = 0) FROM groups g ORDER BY g.name",
		    NULL, 0, group_row, arr);
		server_reply_json(a->req, 200, json_pack("{s:o}", "groups", arr));
		return;
	}
	if (!api_require(a, ROLE_ADMIN))
		return;
	body = server_body_json(a->req);
	if (!body)
		return;
	name = json_string_value(json_object_get(body, "name"));
	if (!name_ok(name, 63)) {
		server_reply_error(a->req, 400, "name: 1-63 characters of [A-Za-z0-9._-]");
		goto out;
	}
	{
		struct store_val p[] = {store_text(name), store_int(server_now_ms())};

		rc = store_exec(a->s->store, "INSERT INTO groups (name, created_at) VALUES (?, ?)",
				p, 2, NULL, NULL);
	}
	if (rc == -EEXIST) {
		server_reply_error(a->req, 409, "group %s exists", name);
		goto out;
	}
	if (rc < 0) {
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
		goto out;
	}
	api_audit(a, 200, name);
	server_reply_json(a->req, 200, json_pack("{s:s}", "name", name));
out:
	json_decref(body);
}

static int audit_row(void *ctx, const struct store_val *c, size_t n)
{
	char ts[40];
	json_t *o;

	if (n < 6)
		return 0;
	json_format_time(c[0].type == STORE_INT ? (uint64_t)c[0].i : 0, ts, sizeof(ts));
	o = json_pack("{s:s}", "@timestamp", ts);
	json_object_set_new(o, "user",
			    c[1].type == STORE_TEXT ? json_stringn(c[1].s, c[1].n) : json_null());
	json_object_set_new(o, "method",
			    c[2].type == STORE_TEXT ? json_stringn(c[2].s, c[2].n) : json_null());
	json_object_set_new(o, "path",
			    c[3].type == STORE_TEXT ? json_stringn(c[3].s, c[3].n) : json_null());
	json_object_set_new(o, "status", json_integer(c[4].type == STORE_INT ? c[4].i : 0));
	json_object_set_new(o, "detail",
			    c[5].type == STORE_TEXT ? json_stringn(c[5].s, c[5].n) : json_null());
	json_array_append_new(ctx, o);
	return 0;
}

static void audit(struct api_ctx *a)
{
	char *since_s = api_query_param(a, "since"), *limit_s = api_query_param(a, "limit");
	int64_t since = 0, limit = 1000;
	json_t *arr = json_array();

	if (!api_require(a, ROLE_ADMIN))
		goto out;
	if (since_s && server_parse_time(since_s, &since)) {
		server_reply_error(a->req, 400, "since: RFC 3339 time or 30s, 15m, 2h, 7d");
		goto out;
	}
	if (limit_s)
		limit = strtoll(limit_s, NULL, 10);
	if (limit < 1 || limit > 100000)
		limit = 1000;
	{
		struct store_val p[] = {store_int(since), store_int(limit)};

		store_exec(
		    a->s->store,
		    "SELECT ts, user_name, method, path, status, detail FROM audit WHERE ts >= ? "
		    "ORDER BY id DESC LIMIT ?",
		    p, 2, audit_row, arr);
	}
	server_reply_json(a->req, 200, json_pack("{s:O}", "audit", arr));
out:
	json_decref(arr);
	free(since_s);
	free(limit_s);
}

static void stats(struct api_ctx *a)
{
	struct server_counters *c = &a->s->c;
	json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "store",
		      a->s->store->ops->name, "uptime_s",
		      (json_int_t)((server_now_ns() - a->s->started_ns) / 1000000000ull), "batches",
		      (json_int_t)c->batches, "events_stored", (json_int_t)c->events_stored,
		      "ingest_rejected_lines", (json_int_t)c->lines_rejected, "duplicate_batches",
		      (json_int_t)c->duplicates, "rejected_frames", (json_int_t)c->frames_rejected,
		      "requests", (json_int_t)c->requests, "auth_failures",
		      (json_int_t)c->auth_failures, "commands_queued",
		      (json_int_t)c->commands_queued, "commands_done", (json_int_t)c->commands_done,
		      "polls_held", (json_int_t)fleet_polls_held(a->s->fleet), "ingest_queue",
		      (json_int_t)ingest_pool_depth(a->s->ingest));

	json_object_set_new(o, "alerts_stored", json_integer((json_int_t)c->alerts_stored));
	json_object_set_new(o, "alerts_excluded", json_integer((json_int_t)c->alerts_excluded));
	json_object_set_new(o, "notifications", notify_stats(a->s));
	if (a->s->detection) {
		struct detection_stats st;
		char ts[40];

		detection_get_stats(a->s->detection, &st);
		json_format_time(st.loaded_ns, ts, sizeof(ts));
		json_object_set_new(
		    o, "detection",
		    json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:I}", "version",
			      st.version, "loaded", ts, "rules", (int)st.rules, "correlations",
			      (int)st.correlations, "filters", (int)st.filters, "failed",
			      (int)st.failed, "indicators", (int)st.iocs, "evaluated",
			      (json_int_t)st.evaluated, "alerts", (json_int_t)st.alerts, "ioc_hits",
			      (json_int_t)st.ioc_hits, "bad_events", (json_int_t)st.bad_events,
			      "reloads", (json_int_t)st.reloads, "reload_failures",
			      (json_int_t)st.reload_failures));
	}
	server_reply_json(a->req, 200, o);
}

void http_admin(struct api_ctx *a)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(a->req);

	if (!strcmp(a->path, "/whoami") && m == EVHTTP_REQ_GET)
		server_reply_json(
		    a->req, 200,
		    json_pack("{s:s,s:s}", "user", a->user, "role", auth_role_name(a->role)));
	else if (!strcmp(a->path, "/users") && (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_POST))
		users(a, m);
	else if (!strcmp(a->path, "/tokens") && m == EVHTTP_REQ_POST)
		tokens(a);
	else if (!strcmp(a->path, "/groups") && (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_POST))
		groups(a, m);
	else if (!strcmp(a->path, "/audit") && m == EVHTTP_REQ_GET)
		audit(a);
	else if (!strcmp(a->path, "/stats") && m == EVHTTP_REQ_GET)
		stats(a);
	else
		server_reply_error(a->req, 404, "no such endpoint: /api/v1%s", a->path);
}
