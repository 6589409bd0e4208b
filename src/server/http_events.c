/* /api/v1/events: hunting search (docs/search.md) and process trees. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "query.h"
#include "server_int.h"

#include "banned.h"

#define TREE_MAX_NODES 2000
#define TREE_MAX_DEPTH 64

static const struct query_column columns[] = {
    {"@timestamp", "ts", QUERY_TIME},
    {"host.name", "host", QUERY_TEXT},
    {"agent.id", "agent_id", QUERY_TEXT},
    {"event.action", "action", QUERY_TEXT},
    {"process.entity_id", "entity_id", QUERY_TEXT},
    {"process.parent.entity_id", "parent_entity_id", QUERY_TEXT},
    {"process.pid", "pid", QUERY_INT},
    {"process.name", "name", QUERY_TEXT},
    {"process.executable", "exe", QUERY_TEXT},
    {"process.hash.sha256", "hash", QUERY_TEXT},
    {"file.path", "path", QUERY_TEXT},
    {"source.ip", "src_ip", QUERY_TEXT},
    {"destination.ip", "dst_ip", QUERY_TEXT},
    {"destination.port", "dst_port", QUERY_INT},
    {"user.name", "user_name", QUERY_TEXT},
    {"dns.question.name", "dns", QUERY_TEXT},
};

struct doc_out {
	struct evbuffer *b;
	size_t n;
};

/* Appends a stored document, adding agent.id (kept in its own column) when absent. */
static void add_doc(struct evbuffer *b, const struct store_val *doc, const struct store_val *agent)
{
	if (doc->type != STORE_TEXT || doc->n < 2) {
		evbuffer_add(b, "null", 4);
		return;
	}
	if (agent && agent->type == STORE_TEXT && agent->n == 32 &&
	    !memmem(doc->s, doc->n, "\"agent\"", 7)) {
		evbuffer_add(b, "{\"agent\":{\"id\":\"", 16);
		evbuffer_add(b, agent->s, agent->n);
		evbuffer_add(b, "\"}", 2);
		if (doc->n > 2)
			evbuffer_add(b, ",", 1);
		evbuffer_add(b, doc->s + 1, doc->n - 1);
		return;
	}
	evbuffer_add(b, doc->s, doc->n);
}

static int doc_row(void *ctx, const struct store_val *c, size_t n)
{
	struct doc_out *o = ctx;

	if (n < 2)
		return 0;
	if (o->n++)
		evbuffer_add(o->b, ",", 1);
	add_doc(o->b, &c[0], &c[1]);
	return 0;
}

static void reply_error_pos(struct evhttp_request *req, const char *msg, size_t pos)
{
	server_reply_json(req, 400,
			  json_pack("{s:s,s:I}", "error", msg, "position", (json_int_t)pos));
}

static void search(struct api_ctx *a)
{
	char *q = api_query_param(a, "q"), *since_s = api_query_param(a, "since"),
	     *until_s = api_query_param(a, "until"), *limit_s = api_query_param(a, "limit"),
	     *count_s = api_query_param(a, "count");
	bool pg = store_dialect(a->s->store) == STORE_DIALECT_PG;
	struct query_sql qs = {0};
	struct store_val params[QUERY_MAX_PARAMS + 3];
	size_t np = 0, i;
	int64_t since = 0, until = INT64_MAX, limit = 100;
	struct dynbuf sql;
	char err[256];
	size_t pos = 0;
	bool count = count_s && (!strcmp(count_s, "1") || !strcmp(count_s, "true"));
	bool has_q = q && q[strspn(q, " \t")];

	dynbuf_init(&sql, QUERY_MAX_SQL + 512);
	if ((since_s && server_parse_time(since_s, &since)) ||
	    (until_s && server_parse_time(until_s, &until))) {
		server_reply_error(a->req, 400, "since/until: RFC 3339 time or 30s, 15m, 2h, 7d");
		goto out;
	}
	if (limit_s) {
		char *end;

		limit = strtoll(limit_s, &end, 10);
		if (*end || limit < 1 || limit > 10000) {
			server_reply_error(a->req, 400, "limit must be 1-10000");
			goto out;
		}
	}
	if (has_q) {
		if (query_compile(q, strlen(q), pg ? QUERY_PG : QUERY_SQLITE, columns,
				  sizeof(columns) / sizeof(columns[0]), &qs, err, sizeof(err),
				  &pos)) {
			reply_error_pos(a->req, err, pos);
			goto out;
		}
		for (i = 0; i < qs.nparams; i++)
			params[np++] = qs.params[i].type == QUERY_INT
					   ? store_int(qs.params[i].num)
					   : store_textn(qs.params[i].text, qs.params[i].len);
	}
	dynbuf_adds(&sql, count ? "SELECT count(*) FROM events WHERE "
				: "SELECT doc, agent_id FROM events WHERE ");
	if (has_q) {
		dynbuf_add(&sql, qs.sql.data, qs.sql.len);
		dynbuf_adds(&sql, " AND ");
	}
	if (pg)
		dynbuf_printf(&sql, "ts >= $%zu AND ts < $%zu", np + 1, np + 2);
	else
		dynbuf_adds(&sql, "ts >= ? AND ts < ?");
	params[np++] = store_int(since);
	params[np++] = store_int(until);
	if (!count) {
		if (pg)
			dynbuf_printf(&sql, " ORDER BY ts DESC, id DESC LIMIT $%zu", np + 1);
		else
			dynbuf_adds(&sql, " ORDER BY ts DESC, id DESC LIMIT ?");
		params[np++] = store_int(limit);
	} else if (pg && !has_q) {
		/* keep "$1" present so the backend does not rewrite '?' */
	}
	if (count) {
		int64_t n = 0;

		if (store_query_int(a->s->store, sql.data, params, np, &n)) {
			server_reply_error(a->req, 400, "search failed: %s",
					   store_error(a->s->store));
			goto out;
		}
		server_reply_json(a->req, 200, json_pack("{s:I}", "count", (json_int_t)n));
	} else {
		struct doc_out o = {evbuffer_new(), 0};
		int64_t rc;

		evbuffer_add(o.b, "{\"events\":[", 11);
		rc = store_exec(a->s->store, sql.data, params, np, doc_row, &o);
		if (rc < 0) {
			evbuffer_free(o.b);
			server_reply_error(a->req, 400, "search failed: %s",
					   store_error(a->s->store));
			goto out;
		}
		evbuffer_add(o.b, "]}\n", 3);
		evhttp_add_header(evhttp_request_get_output_headers(a->req), "Content-Type",
				  "application/json");
		evhttp_send_reply(a->req, 200, NULL, o.b);
		evbuffer_free(o.b);
	}
out:
	if (has_q)
		query_sql_release(&qs);
	dynbuf_release(&sql);
	free(q);
	free(since_s);
	free(until_s);
	free(limit_s);
	free(count_s);
}

struct proc_row {
	struct evbuffer *doc; /* the representative event */
	char parent[80];
	bool found;
};

static int proc_cb(void *ctx, const struct store_val *c, size_t n)
{
	struct proc_row *p = ctx;

	if (p->found || n < 3)
		return 0;
	p->found = true;
	add_doc(p->doc, &c[0], &c[1]);
	if (c[2].type == STORE_TEXT && c[2].n < sizeof(p->parent)) {
		memcpy(p->parent, c[2].s, c[2].n);
		p->parent[c[2].n] = 0;
	}
	return 0;
}

/* The process's exec event (else its fork, else anything naming it). */
static bool load_proc(struct server *s, const char *entity, int64_t since, struct proc_row *p)
{
	struct store_val v[] = {store_text(entity), store_int(since)};

	p->found = false;
	p->parent[0] = 0;
	p->doc = evbuffer_new();
	store_exec(
	    s->store,
	    "SELECT doc, agent_id, parent_entity_id FROM events WHERE entity_id = ? AND ts >= "
	    "? ORDER BY CASE action WHEN 'exec' THEN 0 WHEN 'fork' THEN 1 ELSE 2 END, ts DESC "
	    "LIMIT 1",
	    v, 2, proc_cb, p);
	if (!p->found) {
		evbuffer_free(p->doc);
		p->doc = NULL;
	}
	return p->found;
}

struct kids {
	char (*ids)[80];
	size_t n, cap;
};

static int kid_cb(void *ctx, const struct store_val *c, size_t n)
{
	struct kids *k = ctx;

	if (n < 1 || c[0].type != STORE_TEXT || c[0].n >= 80 || k->n >= k->cap)
		return 0;
	for (size_t i = 0; i < k->n; i++)
		if (strlen(k->ids[i]) == c[0].n && !memcmp(k->ids[i], c[0].s, c[0].n))
			return 0;
	memcpy(k->ids[k->n], c[0].s, c[0].n);
	k->ids[k->n][c[0].n] = 0;
	k->n++;
	return 0;
}

static void tree(struct api_ctx *a, const char *entity)
{
	char *since_s = api_query_param(a, "since");
	int64_t since = 0;
	struct proc_row root, anc;
	struct evbuffer *out = evbuffer_new();
	struct kids k = {calloc(TREE_MAX_NODES, 80), 0, TREE_MAX_NODES};
	unsigned char *depth = calloc(TREE_MAX_NODES, 1);
	size_t head = 0, na = 0;
	char cur[80];

	if (since_s && server_parse_time(since_s, &since)) {
		server_reply_error(a->req, 400, "since: RFC 3339 time or 30s, 15m, 2h, 7d");
		goto out;
	}
	if (!k.ids || !depth || !out) {
		server_reply_error(a->req, 500, "out of memory");
		goto out;
	}
	if (!load_proc(a->s, entity, since, &root)) {
		server_reply_error(a->req, 404, "no events for process.entity_id %s", entity);
		goto out;
	}
	evbuffer_add(out, "{\"process\":", 11);
	evbuffer_add_buffer(out, root.doc);
	evbuffer_free(root.doc);
	evbuffer_add(out, ",\"ancestors\":[", 14);
	snprintf(cur, sizeof(cur), "%s", root.parent);
	while (cur[0] && na < TREE_MAX_DEPTH && strcmp(cur, entity)) {
		if (!load_proc(a->s, cur, since, &anc))
			break;
		if (na++)
			evbuffer_add(out, ",", 1);
		evbuffer_add_buffer(out, anc.doc);
		evbuffer_free(anc.doc);
		snprintf(cur, sizeof(cur), "%s", anc.parent);
	}
	evbuffer_add(out, "],\"descendants\":[", 17);
	/* Breadth first below the root; k.ids[0] is the root itself. */
	snprintf(k.ids[0], 80, "%s", entity);
	k.n = 1;
	for (head = 0; head < k.n; head++) {
		size_t before = k.n;
		struct store_val v[] = {store_text(k.ids[head]), store_int(since)};

		if (depth[head] >= TREE_MAX_DEPTH)
			continue;
		store_exec(
		    a->s->store,
		    "SELECT entity_id FROM events WHERE parent_entity_id = ? AND ts >= ? AND "
		    "action IN ('exec', 'fork') ORDER BY ts LIMIT 500",
		    v, 2, kid_cb, &k);
		for (size_t i = before; i < k.n; i++)
			depth[i] = (unsigned char)(depth[head] + 1);
	}
	for (size_t i = 1, shown = 0; i < k.n; i++) {
		struct proc_row d;

		if (!load_proc(a->s, k.ids[i], since, &d))
			continue;
		evbuffer_add_printf(out, "%s{\"depth\":%u,\"process\":", shown++ ? "," : "",
				    depth[i]);
		evbuffer_add_buffer(out, d.doc);
		evbuffer_free(d.doc);
		evbuffer_add(out, "}", 1);
	}
	evbuffer_add_printf(out, "],\"truncated\":%s}\n", k.n >= TREE_MAX_NODES ? "true" : "false");
	evhttp_add_header(evhttp_request_get_output_headers(a->req), "Content-Type",
			  "application/json");
	evhttp_send_reply(a->req, 200, NULL, out);
out:
	if (out)
		evbuffer_free(out);
	free(k.ids);
	free(depth);
	free(since_s);
}

void http_events(struct api_ctx *a)
{
	if (evhttp_request_get_command(a->req) != EVHTTP_REQ_GET) {
		server_reply_error(a->req, 405, "method not allowed");
		return;
	}
	if (!strcmp(a->path, "/events"))
		search(a);
	else if (!strncmp(a->path, "/events/tree/", 13) && a->path[13] && strlen(a->path + 13) < 80)
		tree(a, a->path + 13);
	else
		server_reply_error(a->req, 404, "no such endpoint");
}
