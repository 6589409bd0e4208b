/* /api/v1/events: hunting search (docs/search.md) and process trees. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "api_pool.h"
#include "event_bloom.h"
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

/* A JSON error into a worker's reply body; returns the status. */
static int body_error(struct evbuffer *b, int status, const char *what, const char *detail)
{
	json_t *j = json_pack("{s:s+}", "error", what, detail ? detail : "");
	char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (t)
		evbuffer_add(b, t, strlen(t));
	free(t);
	json_decref(j);
	return status;
}

struct search_job {
	struct query_sql qs;
	bool has_q, count;
	struct dynbuf sql;
	struct store_val params[QUERY_MAX_PARAMS + QUERY_MAX_TERMS + 5];
	size_t np;
};

static void search_job_free(void *arg)
{
	struct search_job *j = arg;

	if (j->has_q)
		query_sql_release(&j->qs);
	dynbuf_release(&j->sql);
	free(j);
}

/* On an API worker: runs the compiled search. */
static int search_run(struct store *st, void *arg, struct evbuffer *b)
{
	struct search_job *j = arg;

	if (j->count) {
		int64_t n = 0;

		if (store_query_int(st, j->sql.data, j->params, j->np, &n))
			return body_error(b, 400, "search failed: ", store_error(st));
		evbuffer_add_printf(b, "{\"count\":%lld}\n", (long long)n);
		return 200;
	}
	{
		struct doc_out o = {b, 0};

		evbuffer_add(b, "{\"events\":[", 11);
		if (store_exec(st, j->sql.data, j->params, j->np, doc_row, &o) < 0) {
			evbuffer_drain(b, evbuffer_get_length(b));
			return body_error(b, 400, "search failed: ", store_error(st));
		}
		evbuffer_add(b, "]}\n", 3);
	}
	return 200;
}

static void search(struct api_ctx *a)
{
	char *q = api_query_param(a, "q"), *since_s = api_query_param(a, "since"),
	     *until_s = api_query_param(a, "until"), *limit_s = api_query_param(a, "limit"),
	     *count_s = api_query_param(a, "count");
	bool pg = store_dialect(a->s->store) == STORE_DIALECT_PG;
	struct search_job *j = calloc(1, sizeof(*j));
	int64_t since = 0, until = INT64_MAX, limit = 100;
	char err[256];
	size_t pos = 0, i;

	if (!j) {
		server_reply_error(a->req, 500, "out of memory");
		goto out;
	}
	dynbuf_init(&j->sql, QUERY_MAX_SQL + 512);
	j->count = count_s && (!strcmp(count_s, "1") || !strcmp(count_s, "true"));
	if ((since_s && server_parse_time(since_s, &since)) ||
	    (until_s && server_parse_time(until_s, &until))) {
		server_reply_error(a->req, 400, "since/until: RFC 3339 time or 30s, 15m, 2h, 7d");
		goto fail;
	}
	if (limit_s) {
		char *end;

		limit = strtoll(limit_s, &end, 10);
		if (*end || limit < 1 || limit > 10000) {
			server_reply_error(a->req, 400, "limit must be 1-10000");
			goto fail;
		}
	}
	if (q && q[strspn(q, " \t")]) {
		if (query_compile(q, strlen(q), pg ? QUERY_PG : QUERY_SQLITE, columns,
				  sizeof(columns) / sizeof(columns[0]), &j->qs, err, sizeof(err),
				  &pos)) {
			reply_error_pos(a->req, err, pos);
			goto fail;
		}
		j->has_q = true;
		for (i = 0; i < j->qs.nparams; i++)
			j->params[j->np++] =
				j->qs.params[i].type == QUERY_INT
					? store_int(j->qs.params[i].num)
					: store_textn(j->qs.params[i].text, j->qs.params[i].len);
	}
	/* SQLite keeps no per-event index on ids, hashes, paths or addresses: an exact match on
	 * one of them reads only the blocks whose filter may hold the value (docs/storage.md). A
	 * query that reads documents goes block by block too, so that each block is inflated once
	 * rather than once per event as the time index interleaves the agents' blocks. */
	bool blocks = !pg && j->has_q && (j->qs.nblock_keys || j->qs.uses_doc);

	dynbuf_adds(&j->sql, j->count ? "SELECT count(*) FROM " : "SELECT doc, agent_id FROM ");
	dynbuf_adds(&j->sql, pg ? "events WHERE " : "event_docs WHERE ");
	if (j->has_q) {
		dynbuf_add(&j->sql, j->qs.sql.data, j->qs.sql.len);
		dynbuf_adds(&j->sql, " AND ");
	}
	if (pg)
		dynbuf_printf(&j->sql, "ts >= $%zu AND ts < $%zu", j->np + 1, j->np + 2);
	else if (blocks) /* '+': not through the time index, through the blocks */
		dynbuf_adds(&j->sql, "+ts >= ? AND +ts < ?");
	else
		dynbuf_adds(&j->sql, "ts >= ? AND ts < ?");
	j->params[j->np++] = store_int(since);
	j->params[j->np++] = store_int(until);
	if (blocks) {
		dynbuf_adds(&j->sql, " AND blk IN (SELECT id FROM event_blocks WHERE ts_max >= ? AND"
				     " ts_min < ? AND ");
		dynbuf_add(&j->sql, j->qs.blocks.data, j->qs.blocks.len);
		dynbuf_adds(&j->sql, ")");
		j->params[j->np++] = store_int(since);
		j->params[j->np++] = store_int(until);
		for (i = 0; i < j->qs.nblock_keys; i++)
			j->params[j->np++] = store_int(j->qs.block_keys[i]);
	}
	if (!j->count) {
		if (pg)
			dynbuf_printf(&j->sql, " ORDER BY ts DESC, id DESC LIMIT $%zu", j->np + 1);
		else
			dynbuf_adds(&j->sql, " ORDER BY ts DESC, id DESC LIMIT ?");
		j->params[j->np++] = store_int(limit);
	}
	api_pool_submit(a->s->api, a->req, search_run, j, search_job_free);
	goto out;
fail:
	search_job_free(j);
out:
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

/* The key of column = value in the block filters (SQLite). */
static int64_t block_key(const char *column, const char *value)
{
	return (int64_t)event_bloom_key(column, value, strlen(value));
}

/* The process's exec event (else its fork, else anything naming it). */
static bool load_proc(struct store *st, const char *entity, int64_t since, struct proc_row *p)
{
	struct store_val v[] = {store_text(entity), store_int(since), store_int(since),
				store_int(block_key("entity_id", entity))};
	bool pg = store_dialect(st) == STORE_DIALECT_PG;

	p->found = false;
	p->parent[0] = 0;
	p->doc = evbuffer_new();
	store_exec(st,
		   pg ? "SELECT doc, agent_id, parent_entity_id FROM events WHERE entity_id = ? AND "
			"ts >= ? ORDER BY CASE action WHEN 'exec' THEN 0 WHEN 'fork' THEN 1 ELSE 2 "
			"END, ts DESC LIMIT 1"
		      : "SELECT doc, agent_id, parent_entity_id FROM event_docs WHERE entity_id = ? "
			"AND +ts >= ? AND blk IN (SELECT id FROM event_blocks "
			"WHERE ts_max >= ? AND mamori_bloom(bloom, ?)) ORDER BY CASE action WHEN "
			"'exec' THEN 0 WHEN 'fork' THEN 1 ELSE 2 END, ts DESC LIMIT 1",
		   v, pg ? 2 : 4, proc_cb, p);
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

struct tree_job {
	char entity[80];
	int64_t since;
};

/* On an API worker: the process, its ancestors and its descendants (breadth first). */
static int tree_run(struct store *st, void *arg, struct evbuffer *out)
{
	struct tree_job *t = arg;
	struct proc_row root, anc;
	struct kids k = {calloc(TREE_MAX_NODES, 80), 0, TREE_MAX_NODES};
	unsigned char *depth = calloc(TREE_MAX_NODES, 1);
	size_t head = 0, na = 0;
	char cur[80];
	int status = 200;

	if (!k.ids || !depth) {
		status = body_error(out, 500, "out of memory", NULL);
		goto out;
	}
	if (!load_proc(st, t->entity, t->since, &root)) {
		status = body_error(out, 404, "no events for process.entity_id ", t->entity);
		goto out;
	}
	evbuffer_add(out, "{\"process\":", 11);
	evbuffer_add_buffer(out, root.doc);
	evbuffer_free(root.doc);
	evbuffer_add(out, ",\"ancestors\":[", 14);
	snprintf(cur, sizeof(cur), "%s", root.parent);
	while (cur[0] && na < TREE_MAX_DEPTH && strcmp(cur, t->entity)) {
		if (!load_proc(st, cur, t->since, &anc))
			break;
		if (na++)
			evbuffer_add(out, ",", 1);
		evbuffer_add_buffer(out, anc.doc);
		evbuffer_free(anc.doc);
		snprintf(cur, sizeof(cur), "%s", anc.parent);
	}
	evbuffer_add(out, "],\"descendants\":[", 17);
	/* Breadth first below the root; k.ids[0] is the root itself. */
	snprintf(k.ids[0], 80, "%s", t->entity);
	k.n = 1;
	for (head = 0; head < k.n; head++) {
		size_t before = k.n;
		struct store_val v[] = {store_text(k.ids[head]), store_int(t->since),
					store_int(t->since),
					store_int(block_key("parent_entity_id", k.ids[head]))};
		bool pg = store_dialect(st) == STORE_DIALECT_PG;

		if (depth[head] >= TREE_MAX_DEPTH)
			continue;
		store_exec(st,
			   pg ? "SELECT entity_id FROM events WHERE parent_entity_id = ? AND ts >= ? "
				"AND action IN ('exec', 'fork') ORDER BY ts LIMIT 500"
			      : "SELECT entity_id FROM events INDEXED BY events_blk WHERE "
				"parent_entity_id = ? AND +ts >= ? AND action IN ('exec', 'fork') AND "
				"blk IN (SELECT id FROM event_blocks WHERE ts_max >= ? AND "
				"mamori_bloom(bloom, ?)) ORDER BY ts LIMIT 500",
			   v, pg ? 2 : 4, kid_cb, &k);
		for (size_t i = before; i < k.n; i++)
			depth[i] = (unsigned char)(depth[head] + 1);
	}
	for (size_t i = 1, shown = 0; i < k.n; i++) {
		struct proc_row d;

		if (!load_proc(st, k.ids[i], t->since, &d))
			continue;
		evbuffer_add_printf(out, "%s{\"depth\":%u,\"process\":", shown++ ? "," : "",
				    depth[i]);
		evbuffer_add_buffer(out, d.doc);
		evbuffer_free(d.doc);
		evbuffer_add(out, "}", 1);
	}
	evbuffer_add_printf(out, "],\"truncated\":%s}\n", k.n >= TREE_MAX_NODES ? "true" : "false");
out:
	free(k.ids);
	free(depth);
	return status;
}

static void tree(struct api_ctx *a, const char *entity)
{
	char *since_s = api_query_param(a, "since");
	struct tree_job *t = calloc(1, sizeof(*t));

	if (!t) {
		server_reply_error(a->req, 500, "out of memory");
	} else if (since_s && server_parse_time(since_s, &t->since)) {
		server_reply_error(a->req, 400, "since: RFC 3339 time or 30s, 15m, 2h, 7d");
		free(t);
	} else {
		snprintf(t->entity, sizeof(t->entity), "%s", entity);
		api_pool_submit(a->s->api, a->req, tree_run, t, free);
	}
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
