#include "agent_commands.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_identity.h"
#include "dynbuf.h"
#include "respond_collect.h"
#include "respond_isolate.h"
#include "respond_kill.h"
#include "respond_persist.h"
#include "respond_quarantine.h"
#include "respond_live.h"
#include "uplink_http.h"

#include "banned.h"

static const struct agent_identity *ident;
static const char *state;

static bool isolate_ctx(struct respond_isolate_ctx *c);
static int selftest(void *ctx, char *err, size_t errlen);

void agent_commands_configure(const struct agent_identity *id, const char *state_dir)
{
	struct respond_isolate_ctx c;

	ident = id;
	state = state_dir;
	/* A host isolated before a restart or a reboot is isolated again before anything else. */
	if (isolate_ctx(&c))
		respond_isolate_resume(&c);
}

/* The isolation self-test: a new TLS connection to the server, answered. */
static int selftest(void *ctx, char *err, size_t errlen)
{
	CURL *c = uplink_http_for(ident, NULL);
	struct dynbuf resp;
	char url[600];
	long status = 0;
	int rc;

	(void)ctx;
	if (!c) {
		snprintf(err, errlen, "no HTTP handle");
		return -ENOMEM;
	}
	dynbuf_init(&resp, 64 * 1024);
	snprintf(url, sizeof(url), "%s/v1/enroll/ca", ident->url);
	curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	rc = uplink_http_do(c, "GET", url, NULL, NULL, 0, 4, &status, &resp, err, errlen);
	if (!rc && status != 200) {
		snprintf(err, errlen, "the server answered %ld", status);
		rc = -EPROTO;
	}
	dynbuf_release(&resp);
	curl_easy_cleanup(c);
	return rc;
}

static bool isolate_ctx(struct respond_isolate_ctx *c)
{
	if (!ident || !state)
		return false;
	*c = (struct respond_isolate_ctx){.state_dir = state,
					  .server_url = ident->url,
					  .resolv_conf = "/etc/resolv.conf",
					  .selftest = selftest};
	return true;
}

static int cmd_isolate(json_t *args, json_t **result)
{
	struct respond_isolate_ctx c;

	if (!isolate_ctx(&c)) {
		*result = json_pack("{s:s}", "error", "isolation needs an enrolled agent");
		return -ENOTSUP;
	}
	return respond_isolate(&c, args, result);
}

static int cmd_release(json_t *args, json_t **result)
{
	struct respond_isolate_ctx c;

	(void)args;
	if (!isolate_ctx(&c)) {
		*result = json_pack("{s:s}", "error", "isolation needs an enrolled agent");
		return -ENOTSUP;
	}
	return respond_release(&c, result);
}

void agent_commands_tick(void)
{
	struct respond_isolate_ctx c;

	if (isolate_ctx(&c))
		respond_isolate_check(&c);
}

/* The vault lives in the state directory, which is root-only. */
static bool vault_dir(char *out, size_t n)
{
	return state && (size_t)snprintf(out, n, "%s/vault", state) < n;
}

/* {"path": "/abs/path"} */
static int cmd_quarantine(json_t *args, json_t **result)
{
	json_t *path = json_object_get(args, "path");
	char dir[1100];

	if (!vault_dir(dir, sizeof(dir))) {
		*result = json_pack("{s:s}", "error", "quarantine needs the agent's state directory");
		return -ENOTSUP;
	}
	if (!json_is_string(path)) {
		*result = json_pack("{s:s}", "error", "args: path (an absolute path)");
		return -EINVAL;
	}
	return respond_quarantine(dir, json_string_value(path), result);
}

/* {"id": "32 hex", "force": bool} */
static int cmd_restore(json_t *args, json_t **result)
{
	json_t *id = json_object_get(args, "id"), *force = json_object_get(args, "force");
	char dir[1100];

	if (!vault_dir(dir, sizeof(dir))) {
		*result = json_pack("{s:s}", "error", "restore needs the agent's state directory");
		return -ENOTSUP;
	}
	if (!json_is_string(id) || (force && !json_is_boolean(force))) {
		*result = json_pack("{s:s}", "error", "args: id (string), force (boolean)");
		return -EINVAL;
	}
	return respond_restore(dir, json_string_value(id), json_is_true(force), result);
}

static int cmd_quarantine_list(json_t *args, json_t **result)
{
	char dir[1100];

	(void)args;
	if (!vault_dir(dir, sizeof(dir))) {
		*result = json_pack("{s:s}", "error", "quarantine needs the agent's state directory");
		return -ENOTSUP;
	}
	return respond_quarantine_list(dir, result);
}

static int cmd_persistence_remove(json_t *args, json_t **result)
{
	struct respond_persist_opts o = {.root = "", .use_systemctl = true};
	char dir[1100];

	if (!vault_dir(dir, sizeof(dir))) {
		*result = json_pack("{s:s}", "error", "removal needs the agent's state directory");
		return -ENOTSUP;
	}
	o.vault_dir = dir;
	return respond_persist_remove(&o, args, result);
}

static int cmd_ping(json_t *args, json_t **result)
{
	struct timespec ts;

	(void)args;
	clock_gettime(CLOCK_REALTIME, &ts);
	*result =
	    json_pack("{s:b,s:I,s:i}", "pong", 1, "agent_time_ms",
		      (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, "pid", (int)getpid());
	return 0;
}

/* {"pid": N, "entity_id": "32 hex" (optional), "tree": bool (optional)} */
static int cmd_kill(json_t *args, json_t **result)
{
	json_t *pid = json_object_get(args, "pid"), *eid = json_object_get(args, "entity_id");
	json_t *tree = json_object_get(args, "tree"), *queued = json_object_get(args, "queued_at");
	struct respond_kill_opts o = {.proc_root = "/proc", .self_pid = (uint32_t)getpid()};

	if (!json_is_integer(pid) || json_integer_value(pid) <= 0 ||
	    json_integer_value(pid) > (json_int_t)UINT32_MAX || (eid && !json_is_string(eid)) ||
	    (tree && !json_is_boolean(tree)) || (queued && !json_is_integer(queued))) {
		*result =
		    json_pack("{s:s}", "error",
			      "args: pid (a positive integer), entity_id (string), tree (boolean)");
		return -EINVAL;
	}
	o.pid = (uint32_t)json_integer_value(pid);
	o.entity_id = eid ? json_string_value(eid) : NULL;
	o.tree = tree && json_is_true(tree);
	o.queued_ms = queued ? json_integer_value(queued) : 0;
	return respond_kill(&o, result);
}

/* {"path": "/abs/path", "max_bytes": N (optional)} */
static int cmd_collect(json_t *args, json_t **result)
{
	json_t *path = json_object_get(args, "path"), *max = json_object_get(args, "max_bytes");

	if (!json_is_string(path) ||
	    (max && (!json_is_integer(max) || json_integer_value(max) < 1))) {
		*result =
		    json_pack("{s:s}", "error",
			      "args: path (an absolute path), max_bytes (a positive integer)");
		return -EINVAL;
	}
	return respond_collect(json_string_value(path),
			       max ? (size_t)json_integer_value(max) : RESPOND_COLLECT_MAX, result);
}

static int cmd_processes(json_t *args, json_t **result)
{
	(void)args;
	return respond_processes("/proc", result);
}

static int cmd_connections(json_t *args, json_t **result)
{
	(void)args;
	return respond_connections(result);
}

static const struct {
	const char *type;
	int (*run)(json_t *args, json_t **result);
} handlers[] = {
    {"ping", cmd_ping},		  {"kill", cmd_kill},
    {"processes", cmd_processes}, {"connections", cmd_connections},
    {"collect", cmd_collect},	  {"isolate", cmd_isolate},
    {"release", cmd_release},	  {"quarantine", cmd_quarantine},
    {"restore", cmd_restore},	  {"quarantine_list", cmd_quarantine_list},
    {"persistence_remove", cmd_persistence_remove},
};

int agent_command_run(const char *type, json_t *args, json_t **result)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (type && !strcmp(handlers[i].type, type))
			return handlers[i].run(args, result);
	*result = json_pack("{s:s}", "error", "unsupported command type");
	return -ENOTSUP;
}
