#include "isolation.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "log.h"
#include "policy.h"
#include "server_int.h"

#include "banned.h"

/* A heartbeat may have left the agent just before a command changed its isolation: only
 * reconcile when the last isolate or release is older than this. */
#define SETTLE_MS 15000

static void set_desired(struct server *s, const char *agent_id, json_t *args, const char *cmd_id)
{
	char *text = args ? json_dumps(args, JSON_COMPACT) : NULL;
	struct store_val p[] = {store_text(text), store_text(args ? cmd_id : NULL),
				store_text(agent_id)};

	if (store_exec(s->store, "UPDATE agents SET isolation = ?, isolation_cmd = ? WHERE id = ?",
		       p, 3, NULL, NULL) < 0)
		log_warn("isolation", "cannot record agent=%s err=%s", agent_id,
			 store_error(s->store));
	free(text);
}

static void merge_list(json_t *args, const char *key, json_t *from)
{
	json_t *to = json_object_get(args, key), *v, *w;
	size_t i, k;

	if (!json_array_size(from))
		return;
	if (!json_is_array(to)) {
		if (to)
			return; /* malformed: the agent refuses it with its own message */
		to = json_array();
		json_object_set_new(args, key, to);
	}
	json_array_foreach(from, i, v)
	{
		bool have = false;

		json_array_foreach(to, k, w) have = have || json_equal(v, w);
		if (!have)
			json_array_append(to, v);
	}
}

void isolation_merge_policy(struct server *s, const char *agent_id, json_t *args)
{
	json_t *iso = json_object_get(policy_of_agent(s, agent_id, NULL), "isolation");

	merge_list(args, "allow", json_object_get(iso, "allow"));
	merge_list(args, "dns", json_object_get(iso, "dns"));
}

void isolation_on_queue(struct server *s, const char *agent_id, const char *type, json_t *args,
			const char *cmd_id)
{
	json_t *a;

	if (!strcmp(type, "release")) {
		set_desired(s, agent_id, NULL, NULL);
		return;
	}
	if (strcmp(type, "isolate"))
		return;
	/* What is re-sent later: the arguments without the one-off fields. */
	a = args ? json_deep_copy(args) : json_object();
	json_object_del(a, "queued_at");
	set_desired(s, agent_id, a, cmd_id);
	json_decref(a);
}

static void set_confirmed(struct server *s, const char *agent_id, bool on)
{
	struct store_val p[] = {on ? store_int(server_now_ms()) : store_text(NULL),
				store_text(agent_id)};

	store_exec(s->store, "UPDATE agents SET isolated_at = ? WHERE id = ?", p, 2, NULL, NULL);
}

void isolation_on_result(struct server *s, const char *agent_id, const char *cmd_id,
			 const char *type, const char *status, json_t *result)
{
	bool ok = status && !strcmp(status, "ok");

	if (!strcmp(type, "release")) {
		if (ok)
			set_confirmed(s, agent_id, false);
		return;
	}
	if (strcmp(type, "isolate"))
		return;
	if (ok) {
		set_confirmed(s, agent_id, true);
		return;
	}
	/* Failed (self-test reverted, nftables refused...): the host is as the agent says now,
	 * unless a newer isolate or release has been queued since. */
	{
		struct store_val p[] = {store_text(agent_id), store_text(cmd_id)};
		int64_t mine = 0;

		if (store_query_int(
			s->store, "SELECT count(*) FROM agents WHERE id = ? AND isolation_cmd = ?",
			p, 2, &mine) ||
		    !mine)
			return;
	}
	if (json_is_true(json_object_get(result, "isolated")) &&
	    json_is_object(json_object_get(result, "spec"))) {
		json_t *spec = json_deep_copy(json_object_get(result, "spec"));

		json_object_del(spec, "server_port");
		set_desired(s, agent_id, spec, cmd_id);
		json_decref(spec);
	} else {
		set_desired(s, agent_id, NULL, NULL);
		set_confirmed(s, agent_id, false);
	}
}

/* Whether an isolate or release for the agent is waiting or was answered lately. */
static bool settling(struct server *s, const char *agent_id)
{
	struct store_val p[] = {store_text(agent_id), store_int(server_now_ms()),
				store_int(server_now_ms() - SETTLE_MS)};
	int64_t n = 0;

	if (store_query_int(s->store,
			    "SELECT count(*) FROM commands WHERE agent_id = ? AND type IN "
			    "('isolate', 'release') AND ((status IN ('queued', 'delivered') AND "
			    "expires_at > ?) OR done_at > ?)",
			    p, 3, &n))
		return true;
	return n > 0;
}

void isolation_on_health(struct server *s, const char *agent_id, json_t *health)
{
	json_t *iso = json_object_get(health, "isolation"), *args;
	struct store_val p[] = {store_text(agent_id)};
	char desired[16384] = "", cmd[33];
	int64_t confirmed = 0;
	bool active;
	int rc;

	/* Agents before isolation existed say nothing: nothing to reconcile. */
	if (!json_is_object(iso) || !json_is_boolean(json_object_get(iso, "active")))
		return;
	active = json_is_true(json_object_get(iso, "active"));
	rc = store_query_text(s->store, "SELECT isolation FROM agents WHERE id = ?", p, 1, desired,
			      sizeof(desired));
	if (rc && rc != -ENOENT)
		return;
	store_query_int(s->store,
			"SELECT count(*) FROM agents WHERE id = ? AND isolated_at IS NOT NULL", p,
			1, &confirmed);
	if (!active && confirmed)
		set_confirmed(s, agent_id, false);
	if (active == (desired[0] != 0) || settling(s, agent_id))
		return;
	if (active) {
		log_warn("isolation", "agent=%s isolated without the server holding it: release",
			 agent_id);
		commands_queue(s, agent_id, "release", NULL, "system",
			       "reconcile: the server does not hold this host isolated", cmd);
		return;
	}
	args = json_loads(desired, 0, NULL);
	if (!args)
		return;
	log_warn("isolation", "agent=%s not isolated while the server holds it: isolate again",
		 agent_id);
	commands_queue(s, agent_id, "isolate", args, "system",
		       "reconcile: the server holds this host isolated", cmd);
	json_decref(args);
}
