#include "fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "commands.h"
#include "isolation.h"
#include "log.h"
#include "policy.h"
#include "server_int.h"
#include "wire.h"

#include "banned.h"

struct fleet_agent {
	char id[33];
	char serial[33];
	bool removed;
	bool dirty;
	bool announced_online;
	int64_t last_seen_ms;
	int64_t flushed_ms;
	char *health; /* JSON text */
	char version[40];
	struct fleet *f;
	struct evhttp_request *poll;
	struct evhttp_connection *poll_con;
	struct event *poll_timer;
	/* The connection the last commands went out on: a poll on another connection means the
	 * agent may never have read them (it restarted, or the connection died). */
	struct evhttp_connection *sent_con;
	int64_t sent_ms;
	char policy_etag[24]; /* the policy the agent said it runs, with its last poll */
};

struct fleet {
	struct server *s;
	struct fleet_agent **slots;
	size_t cap, count;
	size_t polls;
	uint64_t ticks;
};

static uint64_t hash_id(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct fleet_agent *find(struct fleet *f, const char *id)
{
	size_t i = (size_t)hash_id(id) & (f->cap - 1);

	while (f->slots[i]) {
		if (!strcmp(f->slots[i]->id, id))
			return f->slots[i];
		i = (i + 1) & (f->cap - 1);
	}
	return NULL;
}

static int insert(struct fleet *f, struct fleet_agent *a)
{
	size_t i;

	if ((f->count + 1) * 10 > f->cap * 7) {
		size_t ncap = f->cap * 2, j;
		struct fleet_agent **ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		for (j = 0; j < f->cap; j++) {
			if (!f->slots[j])
				continue;
			i = (size_t)hash_id(f->slots[j]->id) & (ncap - 1);
			while (ns[i])
				i = (i + 1) & (ncap - 1);
			ns[i] = f->slots[j];
		}
		free(f->slots);
		f->slots = ns;
		f->cap = ncap;
	}
	i = (size_t)hash_id(a->id) & (f->cap - 1);
	while (f->slots[i])
		i = (i + 1) & (f->cap - 1);
	f->slots[i] = a;
	f->count++;
	return 0;
}

struct load_ctx {
	struct fleet *f;
};

static int load_row(void *ctx, const struct store_val *c, size_t n)
{
	struct load_ctx *l = ctx;
	struct fleet_agent *a;

	if (n < 4 || c[0].type != STORE_TEXT || c[0].n >= sizeof(a->id))
		return 0;
	{
		char id[33];

		memcpy(id, c[0].s, c[0].n);
		id[c[0].n] = 0;
		a = find(l->f, id);
		if (!a) {
			a = calloc(1, sizeof(*a));
			if (!a)
				return -ENOMEM;
			memcpy(a->id, id, sizeof(id));
			a->f = l->f;
			if (insert(l->f, a)) {
				free(a);
				return -ENOMEM;
			}
		}
	}
	if (c[1].type == STORE_TEXT && c[1].n < sizeof(a->serial)) {
		memcpy(a->serial, c[1].s, c[1].n);
		a->serial[c[1].n] = 0;
	}
	a->removed = c[2].type == STORE_INT && c[2].i != 0;
	if (c[3].type == STORE_INT && c[3].i > a->last_seen_ms) {
		a->last_seen_ms = c[3].i;
		a->flushed_ms = c[3].i;
	}
	return 0;
}

static int load(struct fleet *f, const char *only)
{
	struct load_ctx l = {f};
	struct store_val p[1];
	int64_t rc;

	if (only) {
		p[0] = store_text(only);
		rc = store_exec(
		    f->s->store,
		    "SELECT id, cert_serial, removed, last_seen FROM agents WHERE id = ?", p, 1,
		    load_row, &l);
	} else {
		rc = store_exec(f->s->store,
				"SELECT id, cert_serial, removed, last_seen FROM agents", NULL, 0,
				load_row, &l);
	}
	return rc < 0 ? (int)rc : 0;
}

struct fleet *fleet_new(struct server *s, char *err, size_t errlen)
{
	struct fleet *f = calloc(1, sizeof(*f));

	if (!f)
		goto oom;
	f->s = s;
	f->cap = 1024;
	f->slots = calloc(f->cap, sizeof(*f->slots));
	if (!f->slots)
		goto oom;
	if (load(f, NULL)) {
		snprintf(err, errlen, "cannot load agents: %s", store_error(s->store));
		fleet_free(f);
		return NULL;
	}
	log_info("fleet", "agents loaded count=%zu", f->count);
	return f;
oom:
	snprintf(err, errlen, "out of memory");
	fleet_free(f);
	return NULL;
}

/* {"commands": [...]} plus "policy" when the agent's copy is out of date (commands stolen). */
static json_t *poll_body(struct fleet_agent *a, json_t *commands)
{
	json_t *o = json_pack("{s:o}", "commands", commands ? commands : json_array());
	json_t *b =
	    policy_bundle_if_changed(a->f->s, a->id, a->policy_etag[0] ? a->policy_etag : NULL);

	if (o && b)
		json_object_set_new(o, "policy", b);
	else
		json_decref(b);
	return o;
}

static void poll_reply(struct fleet_agent *a, json_t *commands)
{
	struct evhttp_request *req = a->poll;

	if (!req) {
		json_decref(commands);
		return;
	}
	a->poll = NULL;
	if (a->poll_con)
		evhttp_connection_set_closecb(a->poll_con, NULL, NULL);
	if (commands && json_array_size(commands)) {
		a->sent_con = a->poll_con;
		a->sent_ms = server_now_ms();
	}
	a->poll_con = NULL;
	if (a->poll_timer)
		event_del(a->poll_timer);
	a->f->polls--;
	server_reply_json(req, 200, poll_body(a, commands));
}

void fleet_free(struct fleet *f)
{
	if (!f)
		return;
	for (size_t i = 0; f->slots && i < f->cap; i++) {
		struct fleet_agent *a = f->slots[i];

		if (!a)
			continue;
		if (a->poll_con)
			evhttp_connection_set_closecb(a->poll_con, NULL, NULL);
		if (a->poll_timer)
			event_free(a->poll_timer);
		free(a->health);
		free(a);
	}
	free(f->slots);
	free(f);
}

const char *fleet_authenticate(struct fleet *f, const char *cn, const char *serial)
{
	struct fleet_agent *a = find(f, cn);

	if (!a) {
		/* Enrolled on another node, or a stranger. */
		if (strlen(cn) != 32)
			return NULL;
		load(f, cn);
		a = find(f, cn);
		if (!a)
			return NULL;
	}
	if (a->removed || strcmp(a->serial, serial))
		return NULL;
	a->last_seen_ms = server_now_ms();
	a->dirty = true;
	return a->id;
}

void fleet_reload(struct fleet *f, const char *agent_id)
{
	struct fleet_agent *a;

	load(f, agent_id);
	a = find(f, agent_id);
	if (a && a->removed)
		fleet_drop(f, agent_id);
}

int64_t fleet_last_seen_ms(struct fleet *f, const char *agent_id)
{
	struct fleet_agent *a = find(f, agent_id);

	return a ? a->last_seen_ms : 0;
}

static void flush_one(struct fleet *f, struct fleet_agent *a)
{
	struct store_val p[] = {store_int(a->last_seen_ms), store_text(a->health),
				store_text(a->version[0] ? a->version : NULL), store_text(a->id)};

	if (store_exec(f->s->store,
		       "UPDATE agents SET last_seen = ?, health = coalesce(?, health), version = "
		       "coalesce(?, version) WHERE id = ?",
		       p, 4, NULL, NULL) < 0) {
		log_warn("fleet", "last-seen not saved agent=%s err=%s", a->id,
			 store_error(f->s->store));
		return;
	}
	a->dirty = false;
	a->flushed_ms = a->last_seen_ms;
}

void fleet_heartbeat(struct fleet *f, const char *agent_id, json_t *body)
{
	struct fleet_agent *a = find(f, agent_id);
	json_t *health = json_object_get(body, "health");
	const char *version =
	    json_string_value(json_object_get(json_object_get(body, "agent"), "version"));
	int64_t now = server_now_ms();
	bool was_offline;

	if (!a)
		return;
	was_offline = now - a->flushed_ms > (int64_t)f->s->opts.heartbeat_timeout_s * 1000 / 2;
	if (json_is_object(health)) {
		free(a->health);
		a->health = json_dumps(health, JSON_COMPACT);
		isolation_on_health(f->s, agent_id, health);
	}
	if (version)
		snprintf(a->version, sizeof(a->version), "%s", version);
	a->last_seen_ms = now;
	a->dirty = true;
	/* A host coming online is visible at once; regular heartbeats are flushed in batches. */
	if (was_offline)
		flush_one(f, a);
}

void fleet_flush(struct fleet *f)
{
	size_t n = 0;

	if (!f)
		return;
	if (store_begin(f->s->store))
		return;
	for (size_t i = 0; i < f->cap; i++) {
		struct fleet_agent *a = f->slots[i];

		if (a && a->dirty) {
			flush_one(f, a);
			n++;
		}
	}
	if (store_commit(f->s->store))
		store_rollback(f->s->store);
	if (n)
		log_debug("fleet", "flushed agents=%zu", n);
}

static void poll_closed(struct evhttp_connection *con, void *arg)
{
	struct fleet_agent *a = arg;

	if (a->poll_con != con)
		return;
	/* libevent frees the request with the connection. */
	a->poll = NULL;
	a->poll_con = NULL;
	if (a->poll_timer)
		event_del(a->poll_timer);
	a->f->polls--;
}

static void poll_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct fleet_agent *a = arg;

	(void)fd;
	(void)what;
	poll_reply(a, json_array());
}

void fleet_poll(struct fleet *f, const char *agent_id, struct evhttp_request *req, unsigned wait_s,
		const char *etag)
{
	json_t *bundle;

	struct fleet_agent *a = find(f, agent_id);
	struct timeval tv = {wait_s, 0};
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	int64_t redeliver = 0;
	json_t *cmds;

	if (!a) {
		server_reply_error(req, 401, "unknown agent");
		return;
	}

	if (a->poll)
		poll_reply(a, json_array()); /* a newer poll replaces the old one */
	snprintf(a->policy_etag, sizeof(a->policy_etag), "%s", etag ? etag : "");
	if (a->sent_ms && a->sent_con != con)
		redeliver = a->sent_ms;
	a->sent_ms = 0;
	cmds = commands_take(f->s, agent_id, redeliver);
	/* A policy newer than the agent's goes out at once, like a command. */
	bundle =
	    policy_bundle_if_changed(f->s, agent_id, a->policy_etag[0] ? a->policy_etag : NULL);
	if ((cmds && json_array_size(cmds)) || wait_s == 0 || bundle) {
		json_decref(bundle);
		if (cmds && json_array_size(cmds)) {
			a->sent_con = con;
			a->sent_ms = server_now_ms();
		}
		server_reply_json(req, 200, poll_body(a, cmds));
		return;
	}
	json_decref(cmds);
	if (!a->poll_timer) {
		a->poll_timer = evtimer_new(f->s->base, poll_timeout, a);
		if (!a->poll_timer) {
			server_reply_error(req, 500, "out of memory");
			return;
		}
	}
	a->poll = req;
	a->poll_con = evhttp_request_get_connection(req);
	evhttp_connection_set_closecb(a->poll_con, poll_closed, a);
	evtimer_add(a->poll_timer, &tv);
	f->polls++;
}

void fleet_wake(struct fleet *f, const char *agent_id)
{
	struct fleet_agent *a = find(f, agent_id);
	json_t *cmds;

	if (!a || !a->poll)
		return;
	cmds = commands_take(f->s, agent_id, 0);
	if (cmds && json_array_size(cmds))
		poll_reply(a, cmds);
	else
		json_decref(cmds);
}

void fleet_drop(struct fleet *f, const char *agent_id)
{
	struct fleet_agent *a = find(f, agent_id);
	struct evhttp_request *req;

	if (!a)
		return;
	a->removed = true;
	if (!a->poll)
		return;
	req = a->poll;
	a->poll = NULL;
	evhttp_connection_set_closecb(a->poll_con, NULL, NULL);
	a->poll_con = NULL;
	event_del(a->poll_timer);
	f->polls--;
	server_reply_error(req, 401, "agent removed");
}

void fleet_tick(struct fleet *f)
{
	f->ticks++;
	if (f->ticks % 5 == 0)
		fleet_flush(f);
	if (f->ticks % 10 == 0) {
		/* Removals made on other nodes. */
		load(f, NULL);
		for (size_t i = 0; i < f->cap; i++)
			if (f->slots[i] && f->slots[i]->removed && f->slots[i]->poll)
				fleet_drop(f, f->slots[i]->id);
		commands_expire(f->s);
	}
}

void fleet_policy_changed(struct fleet *f)
{
	for (size_t i = 0; f && i < f->cap; i++) {
		struct fleet_agent *a = f->slots[i];
		json_t *b;

		if (!a || !a->poll)
			continue;
		b = policy_bundle_if_changed(f->s, a->id,
					     a->policy_etag[0] ? a->policy_etag : NULL);
		if (b) {
			json_decref(b);
			poll_reply(a, json_array());
		}
	}
}

size_t fleet_polls_held(struct fleet *f)
{
	return f->polls;
}
