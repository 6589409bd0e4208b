/* /api/v1/hosts: the fleet (status, inventory, support), removal with revocation, groups, and
 * commands to a host. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "fleet.h"
#include "log.h"
#include "server_int.h"
#include "support.h"

#include "banned.h"

#define HOST_COLS                                                                                  \
	"id, host_name, group_name, removed, enrolled_at, last_seen, version, os, platform, "      \
	"os_version, kernel, ips, health, isolated_at, isolation"

struct host_list {
	struct server *s;
	json_t *arr;
	bool with_inventory;
};

static json_t *text_or_null(const struct store_val *v)
{
	return v->type == STORE_TEXT ? json_stringn(v->s, v->n) : json_null();
}

static json_t *json_or_null(const struct store_val *v)
{
	json_t *j = v->type == STORE_TEXT ? json_loadb(v->s, v->n, JSON_DECODE_ANY, NULL) : NULL;

	return j ? j : json_null();
}

static int host_row(void *ctx, const struct store_val *c, size_t n)
{
	struct host_list *l = ctx;
	char id[33], reason[200];
	int64_t last, mem;
	json_t *h, *health;
	const char *status;
	int ebpf = -1;
	bool ok;

	if (n < 15 || c[0].type != STORE_TEXT || c[0].n >= sizeof(id))
		return 0;
	memcpy(id, c[0].s, c[0].n);
	id[c[0].n] = 0;
	last = c[5].type == STORE_INT ? c[5].i : 0;
	mem = fleet_last_seen_ms(l->s->fleet, id);
	if (mem > last)
		last = mem;
	if (c[3].type == STORE_INT && c[3].i)
		status = "removed";
	else if (server_now_ms() - last <= (int64_t)l->s->opts.heartbeat_timeout_s * 1000)
		status = c[13].type == STORE_INT ? "isolated" : "online";
	else
		status = "offline";
	health = json_or_null(&c[12]);
	if (json_is_object(health)) {
		json_t *src = json_object_get(health, "sources"), *v;
		size_t i;

		if (json_is_array(src) && json_array_size(src)) {
			ebpf = 0;
			json_array_foreach(src, i, v) if (json_is_string(v) &&
							  !strcmp(json_string_value(v), "ebpf"))
			    ebpf = 1;
		}
	}
	{
		char plat[64] = "", ver[32] = "", kern[128] = "";

		if (c[8].type == STORE_TEXT)
			snprintf(plat, sizeof(plat), "%.*s", (int)c[8].n, c[8].s);
		if (c[9].type == STORE_TEXT)
			snprintf(ver, sizeof(ver), "%.*s", (int)c[9].n, c[9].s);
		if (c[10].type == STORE_TEXT)
			snprintf(kern, sizeof(kern), "%.*s", (int)c[10].n, c[10].s);
		ok = support_check(plat[0] ? plat : NULL, ver[0] ? ver : NULL,
				   kern[0] ? kern : NULL, ebpf, reason, sizeof(reason));
	}
	h = json_pack("{s:{s:o},s:{s:s,s:o},s:s,s:o,s:I,s:I,s:o,s:o,s:o,s:{s:b,s:s},s:o}", "host",
		      "name", text_or_null(&c[1]), "agent", "id", id, "version",
		      text_or_null(&c[6]), "status", status, "group", text_or_null(&c[2]),
		      "last_seen", (json_int_t)last, "enrolled",
		      (json_int_t)(c[4].type == STORE_INT ? c[4].i : 0), "os", text_or_null(&c[7]),
		      "kernel", text_or_null(&c[10]), "ip", json_or_null(&c[11]), "support",
		      "supported", ok, "reason", reason, "health", health);
	if (h)
		json_object_set_new(
		    h, "isolation",
		    json_pack("{s:b,s:o}", "held", c[14].type == STORE_TEXT, "confirmed_at",
			      c[13].type == STORE_INT ? json_integer(c[13].i) : json_null()));
	if (h)
		json_array_append_new(l->arr, h);
	return 0;
}

/* Resolves an agent id or a host name (the newest enrolment of that name). */
int http_host_resolve(struct server *s, const char *h, char id[33])
{
	struct store_val p[] = {store_text(h), store_text(h)};

	if (store_query_text(
		s->store,
		"SELECT id FROM agents WHERE id = ? OR host_name = ? ORDER BY removed, "
		"enrolled_at DESC LIMIT 1",
		p, 2, id, 33))
		return -ENOENT;
	return 0;
}

static json_t *host_json(struct server *s, const char *id)
{
	struct host_list l = {s, json_array(), false};
	struct store_val p[] = {store_text(id)};
	json_t *h;

	store_exec(s->store, "SELECT " HOST_COLS " FROM agents WHERE id = ?", p, 1, host_row, &l);
	h = json_array_get(l.arr, 0);
	json_incref(h);
	json_decref(l.arr);
	return h;
}

static void list(struct api_ctx *a)
{
	struct host_list l = {a->s, json_array(), false};

	if (store_exec(a->s->store,
		       "SELECT " HOST_COLS " FROM agents WHERE removed = 0 ORDER BY host_name",
		       NULL, 0, host_row, &l) < 0) {
		json_decref(l.arr);
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
		return;
	}
	server_reply_json(a->req, 200, json_pack("{s:o}", "hosts", l.arr));
}

static void show(struct api_ctx *a, const char *id)
{
	json_t *h = host_json(a->s, id), *doc = NULL;
	struct store_val p[] = {store_text(id)};
	char *buf;

	if (!h) {
		server_reply_error(a->req, 404, "no such host");
		return;
	}
	buf = malloc(512 * 1024);
	if (buf && store_query_text(a->s->store, "SELECT inventory FROM agents WHERE id = ?", p, 1,
				    buf, 512 * 1024) == 0)
		doc = json_loads(buf, 0, NULL);
	free(buf);
	json_object_set_new(h, "inventory", doc ? doc : json_null());
	server_reply_json(a->req, 200, h);
}

static void remove_host(struct api_ctx *a, const char *id)
{
	struct store_val p[] = {store_int(server_now_ms()), store_text(id)};
	char serial[40] = "";
	struct store_val q[] = {store_text(id)};

	store_query_text(a->s->store, "SELECT cert_serial FROM agents WHERE id = ?", q, 1, serial,
			 sizeof(serial));
	if (store_begin(a->s->store))
		goto fail;
	if (store_exec(a->s->store, "UPDATE agents SET removed = 1 WHERE id = ?", q, 1, NULL,
		       NULL) < 0)
		goto fail_tx;
	{
		struct store_val r[] = {store_text(serial), store_text(id), p[0]};

		if (serial[0] &&
		    store_exec(
			a->s->store,
			"INSERT INTO revoked (serial, agent_id, revoked_at) VALUES (?,?,?) ON "
			"CONFLICT (serial) DO NOTHING",
			r, 3, NULL, NULL) < 0)
			goto fail_tx;
	}
	if (store_commit(a->s->store))
		goto fail_tx;
	fleet_reload(a->s->fleet, id);
	fleet_drop(a->s->fleet, id);
	api_audit(a, 200, id);
	log_info("hosts", "agent removed id=%s serial=%s by=%s", id, serial, a->user);
	server_reply_json(a->req, 200, json_pack("{s:s,s:s}", "removed", id, "revoked", serial));
	return;
fail_tx:
	store_rollback(a->s->store);
fail:
	server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
}

static void move(struct api_ctx *a, const char *id)
{
	json_t *body = server_body_json(a->req);
	const char *g = body ? json_string_value(json_object_get(body, "group")) : NULL;
	int64_t n = 0;

	if (!body)
		return;
	if (!g) {
		server_reply_error(a->req, 400, "group is required");
		goto out;
	}
	{
		struct store_val p[] = {store_text(g)};

		if (store_query_int(a->s->store, "SELECT count(*) FROM groups WHERE name = ?", p, 1,
				    &n) ||
		    n == 0) {
			server_reply_error(a->req, 404, "no such group: %s", g);
			goto out;
		}
	}
	{
		struct store_val p[] = {store_text(g), store_text(id)};

		if (store_exec(a->s->store, "UPDATE agents SET group_name = ? WHERE id = ?", p, 2,
			       NULL, NULL) < 0) {
			server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
			goto out;
		}
	}
	api_audit(a, 200, g);
	server_reply_json(a->req, 200, host_json(a->s, id));
out:
	json_decref(body);
}

static void command(struct api_ctx *a, const char *id)
{
	json_t *body = server_body_json(a->req);
	const char *type = body ? json_string_value(json_object_get(body, "type")) : NULL;
	json_t *args = body ? json_object_get(body, "args") : NULL;
	json_int_t wait = body ? json_integer_value(json_object_get(body, "wait")) : 0;
	json_t *why = body ? json_object_get(body, "reason") : NULL;
	const char *reason = json_string_value(why);
	char cmd[33], detail[640];

	if (!body)
		return;
	if (!type || strlen(type) > 32 || (args && !json_is_object(args)) || wait < 0 ||
	    wait > 300 || (why && (!reason || strlen(reason) > 500))) {
		server_reply_error(a->req, 400,
				   "type (string), args (object), wait (0-300 s), reason (string, "
				   "at most 500 bytes)");
		goto out;
	}
	if (commands_queue(a->s, id, type, args, a->user, reason, cmd)) {
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
		goto out;
	}
	snprintf(detail, sizeof(detail), "%s %s%s%s", type, cmd, reason ? ": " : "",
		 reason ? reason : "");
	api_audit(a, 200, detail);
	commands_wait(a->s, cmd, a->req, (unsigned)wait);
out:
	json_decref(body);
}

void http_hosts(struct api_ctx *a)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(a->req);
	char name[300], id[33], *slash;

	if (!strcmp(a->path, "/hosts")) {
		if (m == EVHTTP_REQ_GET)
			list(a);
		else
			server_reply_error(a->req, 405, "method not allowed");
		return;
	}
	snprintf(name, sizeof(name), "%s", a->path + 7);
	slash = strchr(name, '/');
	if (slash)
		*slash++ = 0;
	if (http_host_resolve(a->s, name, id)) {
		server_reply_error(a->req, 404, "no such host: %s", name);
		return;
	}
	if (!slash && m == EVHTTP_REQ_GET) {
		show(a, id);
	} else if (!slash && m == EVHTTP_REQ_DELETE) {
		if (api_require(a, ROLE_ADMIN))
			remove_host(a, id);
	} else if (slash && !strcmp(slash, "move") && m == EVHTTP_REQ_POST) {
		if (api_require(a, ROLE_ADMIN))
			move(a, id);
	} else if (slash && !strcmp(slash, "commands") && m == EVHTTP_REQ_POST) {
		if (api_require(a, ROLE_ANALYST))
			command(a, id);
	} else {
		server_reply_error(a->req, 405, "method not allowed");
	}
}
