#include "commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "isolation.h"
#include "log.h"
#include "server_int.h"

#include "banned.h"

#define COMMANDS_REDELIVER_MS 10000

struct waiter {
	struct waiter *next;
	struct server *s;
	char id[33];
	struct evhttp_request *req;
	struct evhttp_connection *con;
	struct event *timer;
};

/* API requests waiting for results; few at a time, a list is enough. */
static struct waiter *waiters;

static void notify(struct server *s, const char *channel, const char *payload)
{
	struct store_val p[] = {store_text(channel), store_text(payload)};

	if (store_dialect(s->store) != STORE_DIALECT_PG)
		return;
	if (store_exec(s->store, "SELECT pg_notify(?, ?)", p, 2, NULL, NULL) < 0)
		log_warn("commands", "notify failed channel=%s err=%s", channel,
			 store_error(s->store));
}

int commands_queue(struct server *s, const char *agent_id, const char *type, json_t *args,
		   const char *user, const char *reason, char id[33])
{
	int64_t now = server_now_ms(), rc;
	/* queued_at lets the agent tell a target from a process that reused its pid later. */
	json_t *a = args ? json_deep_copy(args) : json_object();

	if (a && !strcmp(type, "isolate"))
		isolation_merge_policy(s, agent_id, a);
	char *args_s = a && !json_object_set_new(a, "queued_at", json_integer(now))
			   ? json_dumps(a, JSON_COMPACT)
			   : NULL;

	json_decref(a);
	struct store_val p[9];

	if (!args_s || server_random_hex(id, 16)) {
		free(args_s);
		return -ENOMEM;
	}
	p[0] = store_text(id);
	p[1] = store_text(agent_id);
	p[2] = store_text(type);
	p[3] = store_text(args_s);
	p[4] = store_text("queued");
	p[5] = store_int(now);
	p[6] = store_int(now + (int64_t)s->opts.command_ttl_s * 1000);
	p[7] = store_text(user);
	p[8] = store_text(reason);
	rc = store_exec(s->store,
			"INSERT INTO commands (id, agent_id, type, args, status, created_at, "
			"expires_at, created_by, reason) VALUES (?,?,?,?,?,?,?,?,?)",
			p, 9, NULL, NULL);
	free(args_s);
	if (rc < 0)
		return (int)rc;
	s->c.commands_queued++;
	isolation_on_queue(s, agent_id, type, args, id);
	fleet_wake(s->fleet, agent_id);
	notify(s, "mamori_commands", agent_id);
	return 0;
}

static int take_row(void *ctx, const struct store_val *c, size_t n)
{
	json_t *arr = ctx, *args;

	if (n < 3 || c[0].type != STORE_TEXT || c[1].type != STORE_TEXT)
		return 0;
	args = c[2].type == STORE_TEXT ? json_loadb(c[2].s, c[2].n, 0, NULL) : NULL;
	json_array_append_new(arr, json_pack("{s:s%,s:s%,s:o}", "id", c[0].s, c[0].n, "type",
					     c[1].s, c[1].n, "args", args ? args : json_object()));
	return 0;
}

json_t *commands_take(struct server *s, const char *agent_id, int64_t redeliver_ms)
{
	json_t *arr = json_array();
	/* A poll answered into a connection that had already died loses its commands: those
	 * delivered without a result for a while go out again (the agent runs each id once). */
	int64_t before = server_now_ms() - COMMANDS_REDELIVER_MS;
	struct store_val p[3];

	if (redeliver_ms > before)
		before = redeliver_ms;
	p[0] = store_text(agent_id);
	p[1] = store_int(server_now_ms());
	p[2] = store_int(before);
	struct store_val u[3];
	size_t i;

	if (!arr)
		return NULL;
	if (store_exec(s->store,
		       "SELECT id, type, args FROM commands WHERE agent_id = ? AND expires_at > ? "
		       "AND (status = 'queued' OR (status = 'delivered' AND delivered_at <= ?)) "
		       "ORDER BY created_at LIMIT 100",
		       p, 3, take_row, arr) < 0) {
		log_warn("commands", "cannot read queue err=%s", store_error(s->store));
		return arr;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		u[0] = store_int(server_now_ms());
		u[1] = store_text(json_string_value(json_object_get(json_array_get(arr, i), "id")));
		store_exec(
		    s->store,
		    "UPDATE commands SET status = 'delivered', delivered_at = ? WHERE id = ? "
		    "AND status IN ('queued', 'delivered')",
		    u, 2, NULL, NULL);
	}
	return arr;
}

int commands_result(struct server *s, const char *agent_id, const char *id, json_t *body)
{
	const char *status = json_string_value(json_object_get(body, "status"));
	json_t *result = json_object_get(body, "result");
	char *res_s, type[40] = "";
	struct store_val p[5];
	int64_t rc;

	if (!status || (strcmp(status, "ok") && strcmp(status, "error")))
		return -EINVAL;
	{
		struct store_val q[] = {store_text(id), store_text(agent_id)};

		store_query_text(s->store,
				 "SELECT type FROM commands WHERE id = ? AND agent_id = ?", q, 2,
				 type, sizeof(type));
	}
	res_s = json_dumps(result ? result : json_object(), JSON_COMPACT | JSON_ENCODE_ANY);
	p[0] = store_text(status);
	p[1] = store_int(server_now_ms());
	p[2] = store_text(res_s);
	p[3] = store_text(id);
	p[4] = store_text(agent_id);
	/* A result after the expiry still says what the agent did (a kill that ran is not
	 * "expired"), so it is recorded too. */
	rc = store_exec(s->store,
			"UPDATE commands SET status = ?, done_at = ?, result = ? WHERE id = ? AND "
			"agent_id = ? AND status IN ('queued', 'delivered', 'expired')",
			p, 5, NULL, NULL);
	free(res_s);
	if (rc < 0)
		return (int)rc;
	if (rc == 0)
		return -ENOENT;
	s->c.commands_done++;
	isolation_on_result(s, agent_id, id, type, status, result);
	commands_notify_result(s, id);
	notify(s, "mamori_results", id);
	return 0;
}

static int get_row(void *ctx, const struct store_val *c, size_t n)
{
	json_t **out = ctx, *o;
	static const char *const names[] = {
	    "id",     "agent_id", "type",	"status", "created_at", "delivered_at", "done_at",
	    "result", "args",	  "created_by", "reason", "host_name",	"expires_at"};

	if (n < 13)
		return 0;
	o = json_object();
	for (size_t i = 0; i < 13; i++) {
		json_t *v = NULL;

		if (c[i].type == STORE_INT)
			v = json_integer(c[i].i);
		else if (c[i].type == STORE_TEXT && (i == 7 || i == 8))
			v = json_loadb(c[i].s, c[i].n, JSON_DECODE_ANY, NULL);
		else if (c[i].type == STORE_TEXT)
			v = json_stringn(c[i].s, c[i].n);
		json_object_set_new(o, names[i], v ? v : json_null());
	}
	if (c[6].type == STORE_INT && c[4].type == STORE_INT)
		json_object_set_new(o, "rtt_ms", json_integer(c[6].i - c[4].i));
	if (json_is_array(*out))
		json_array_append_new(*out, o);
	else
		*out = o;
	return 0;
}

#define COMMAND_COLS                                                                               \
	"SELECT c.id, c.agent_id, c.type, c.status, c.created_at, c.delivered_at, c.done_at, "     \
	"c.result, c.args, c.created_by, c.reason, a.host_name, c.expires_at FROM commands c "     \
	"LEFT JOIN agents a ON a.id = c.agent_id "

json_t *commands_get(struct server *s, const char *id)
{
	json_t *o = NULL;
	struct store_val p[] = {store_text(id)};

	store_exec(s->store, COMMAND_COLS "WHERE c.id = ?", p, 1, get_row, &o);
	return o;
}

json_t *commands_list(struct server *s, int64_t since_ms, int64_t until_ms, const char *host,
		      const char *type, int64_t limit)
{
	json_t *arr = json_array();
	struct store_val p[6];
	size_t np = 0;
	char sql[768];

	p[np++] = store_int(since_ms);
	p[np++] = store_int(until_ms);
	if (host) {
		p[np++] = store_text(host);
		p[np++] = store_text(host);
	}
	if (type)
		p[np++] = store_text(type);
	p[np++] = store_int(limit);
	snprintf(sql, sizeof(sql),
		 COMMAND_COLS "WHERE c.created_at >= ? AND c.created_at < ?%s%s "
			      "ORDER BY c.created_at DESC, c.id LIMIT ?",
		 host ? " AND (c.agent_id = ? OR a.host_name = ?)" : "",
		 type ? " AND c.type = ?" : "");
	if (!arr || store_exec(s->store, sql, p, np, get_row, &arr) < 0) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

static void waiter_free(struct waiter *w)
{
	struct waiter **pp;

	for (pp = &waiters; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	if (w->con)
		evhttp_connection_set_closecb(w->con, NULL, NULL);
	if (w->timer)
		event_free(w->timer);
	free(w);
}

static void waiter_answer(struct waiter *w)
{
	json_t *cmd = commands_get(w->s, w->id);

	if (cmd)
		server_reply_json(w->req, 200, cmd);
	else
		server_reply_error(w->req, 404, "no such command");
	waiter_free(w);
}

static void waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	waiter_answer(arg);
}

static void waiter_closed(struct evhttp_connection *con, void *arg)
{
	struct waiter *w = arg;

	(void)con;
	w->con = NULL;
	waiter_free(w);
}

void commands_wait(struct server *s, const char *id, struct evhttp_request *req, unsigned wait_s)
{
	struct waiter *w;
	struct timeval tv = {wait_s, 0};
	json_t *cmd = commands_get(s, id);
	const char *st = cmd ? json_string_value(json_object_get(cmd, "status")) : NULL;

	if (!cmd || wait_s == 0 || (st && strcmp(st, "queued") && strcmp(st, "delivered"))) {
		if (cmd)
			server_reply_json(req, 200, cmd);
		else
			server_reply_error(req, 404, "no such command");
		return;
	}
	json_decref(cmd);
	w = calloc(1, sizeof(*w));
	if (!w) {
		server_reply_error(req, 500, "out of memory");
		return;
	}
	w->s = s;
	snprintf(w->id, sizeof(w->id), "%s", id);
	w->req = req;
	w->con = evhttp_request_get_connection(req);
	w->timer = evtimer_new(s->base, waiter_timeout, w);
	evhttp_connection_set_closecb(w->con, waiter_closed, w);
	evtimer_add(w->timer, &tv);
	w->next = waiters;
	waiters = w;
}

void commands_notify_result(struct server *s, const char *id)
{
	struct waiter *w = waiters, *next;

	(void)s;
	for (; w; w = next) {
		next = w->next;
		if (!strcmp(w->id, id))
			waiter_answer(w);
	}
}

void commands_expire(struct server *s)
{
	struct store_val p[] = {store_int(server_now_ms())};

	store_exec(s->store,
		   "UPDATE commands SET status = 'expired' WHERE status IN ('queued', 'delivered') "
		   "AND expires_at < ?",
		   p, 1, NULL, NULL);
}

void commands_free_waiters(struct server *s)
{
	(void)s;
	while (waiters)
		waiter_free(waiters);
}
