#include "agent_enforce.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "agent.h"
#include "agent_policy.h"
#include "agent_prevent.h"
#include "block_exec.h"
#include "policy_match.h"
#include "procfs.h"
#include "event_json.h"
#include "log.h"

#include "banned.h"

struct agent_enforce {
	struct agent *ag;
	struct block_exec *blk;
	struct agent_policy_hooks hooks;
	atomic_size_t nblocked;
	/* Prevention rules: set while the gate is off; used by the gate on the worker thread. */
	struct agent_prevent *prevent;
	json_t *pol;		 /* the policy's exclusions and disabled rules, for the gate */
	char *prevent_key;	 /* what it was built for, to rebuild only on change */
	struct event ev, parent; /* the gate's scratch */
	atomic_uint_fast64_t prevented;
	atomic_uint_fast32_t prevent_rules;
};

/* One at a time per process: the heartbeat reads it without a handle. */
static struct agent_enforce *current;
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;

static void now_rfc3339(char *out, size_t n)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	json_format_time((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, out, n);
}

static void on_hit(void *ctx, const struct block_exec_hit *hit)
{
	struct agent_enforce *e = ctx;
	unsigned char rnd[16];
	char id[33], ts[40], msg[600];
	json_t *a;
	char *line;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return;
	for (int i = 0; i < 16; i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	now_rfc3339(ts, sizeof(ts));
	snprintf(msg, sizeof(msg), "Execution of %.400s %s (%s): its SHA-256 is on the block list",
		 hit->path, hit->action, hit->how);
	a = json_pack(
	    "{s:s,s:{s:s,s:s,s:s,s:[s],s:s,s:s},s:{s:s},"
	    "s:{s:s,s:s,s:s,s:s,s:s},s:i,s:{s:s,s:{s:[s]},s:{s:[s]}},"
	    "s:{s:i,s:s},s:{s:s,s:{s:s}},s:s,"
	    "s:{s:s,s:{s:s,s:s},s:s}}",
	    "@timestamp", ts, "event", "kind", "alert", "id", id, "created", ts, "category",
	    "process", "action", "exec_blocked", "outcome", "failure", "host", "name",
	    e->ag->host_name, "rule", "id", "mamori-blocked-hash", "name",
	    "Execution of a blocked file stopped", "severity", "high", "ruleset", "mamori",
	    "description", "A file whose SHA-256 is on the block list was executed.", "risk_score",
	    73, "threat", "framework", "MITRE ATT&CK", "tactic", "name", "Execution", "technique",
	    "id", "T1204", "process", "pid", (int)hit->pid, "executable", hit->path, "file", "path",
	    hit->path, "hash", "sha256", hit->sha256, "message", msg, "mamori", "detected_by",
	    "agent", "prevention", "action", hit->action, "how", hit->how, "advice",
	    "The file was stopped before it ran. Find where it came from (the parent process, the "
	    "file's creation and downloads on this host) and whether other hosts have it.");
	line = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	if (line) {
		agent_emit_alert(e->ag, line, strlen(line));
		free(line);
	}
	log_warn("enforce", "exec %s pid=%u path=%s how=%s sha256=%.16s", hit->action, hit->pid,
		 hit->path, hit->how, hit->sha256);
}

/* The process stopped at exec, as an exec event: itself and its parent from /proc. */
static void exec_event(struct agent_enforce *e, uint32_t pid)
{
	struct procfs_stat st;
	struct event *ev = &e->ev, *pe = &e->parent;
	struct timespec ts;

	event_reset(ev);
	clock_gettime(CLOCK_REALTIME, &ts);
	ev->timestamp_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	event_mark(ev, EVF_TIMESTAMP);
	ev->action = EVENT_ACTION_EXEC;
	event_mark(ev, EVF_EVENT_ACTION);
	event_copy_str(ev->host_name, sizeof(ev->host_name), e->ag->host_name,
		       strlen(e->ag->host_name));
	event_mark(ev, EVF_HOST_NAME);
	procfs_fill_process("/proc", pid, e->ag->config ? e->ag->config->args_max_count : 64, ev);
	if (procfs_read_stat("/proc", pid, &st) != 0)
		return;
	agent_entity_id(e->ag, pid, st.start_ticks, ev->process.entity_id);
	event_mark(ev, EVF_PROCESS_ENTITY_ID);
	if (!st.ppid)
		return;
	ev->process.parent.pid = st.ppid;
	event_mark(ev, EVF_PROCESS_PARENT_PID);
	event_reset(pe);
	if (procfs_fill_process("/proc", st.ppid, 64, pe) != 0)
		return;
	event_copy_str(ev->process.parent.executable, sizeof(ev->process.parent.executable),
		       pe->process.executable, strlen(pe->process.executable));
	event_copy_str(ev->process.parent.name, sizeof(ev->process.parent.name), pe->process.name,
		       strlen(pe->process.name));
	event_copy_str(ev->process.parent.command_line, sizeof(ev->process.parent.command_line),
		       pe->process.command_line, strlen(pe->process.command_line));
	event_mark(ev, EVF_PROCESS_PARENT_EXECUTABLE);
	event_mark(ev, EVF_PROCESS_PARENT_NAME);
	event_mark(ev, EVF_PROCESS_PARENT_COMMAND_LINE);
}

/* Worker thread, the process stopped: true kills it. */
static bool gate(void *ctx, uint32_t pid)
{
	struct agent_enforce *e = ctx;
	json_t *alert = NULL;
	char *line;

	if (!e->prevent)
		return false;
	exec_event(e, pid);
	if (agent_prevent_check(e->prevent, &e->ev, &alert) != 1)
		return false;
	{
		/* What the policy excludes is spared, as the server marks its alerts excluded. */
		struct policy_alert pa = {
		    .rule_id =
			json_string_value(json_object_get(json_object_get(alert, "rule"), "id")),
		    .executable = e->ev.process.executable,
		    .command_line = e->ev.process.command_line,
		};
		struct timespec ts;
		int ex;

		clock_gettime(CLOCK_REALTIME, &ts);
		ex = policy_match_excluded(e->pol, &pa,
					   (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
		if (ex != -1) {
			log_info(
			    "enforce",
			    "exec not prevented pid=%u path=%s rule=%s: excluded by the policy",
			    pid, e->ev.process.executable, pa.rule_id ? pa.rule_id : "?");
			json_decref(alert);
			return false;
		}
	}
	line = json_dumps(alert, JSON_COMPACT);
	log_warn("enforce", "exec prevented pid=%u path=%s rule=%s", pid, e->ev.process.executable,
		 json_string_value(json_object_get(json_object_get(alert, "rule"), "id")));
	json_decref(alert);
	if (line) {
		agent_emit_alert(e->ag, line, strlen(line));
		free(line);
	}
	atomic_fetch_add(&e->prevented, 1);
	return true;
}

/* Policy changed: prevention rules are enforced in block mode only. */
static void on_changed(void *ctx, json_t *bundle)
{
	struct agent_enforce *e = ctx;
	json_t *ids = json_object_get(bundle, "prevent_rules"), *missing = NULL;
	const char *mode = json_string_value(json_object_get(bundle, "mode"));
	bool want = mode && !strcmp(mode, "block") && json_array_size(ids);
	json_t *pol = json_pack("{s:O?,s:O?}", "exclusions", json_object_get(bundle, "exclusions"),
				"disabled_rules", json_object_get(bundle, "disabled_rules"));
	char err[256];
	struct agent_prevent *p = NULL;
	json_t *kj = json_pack("{s:O?,s:O?}", "ids", want ? ids : NULL, "pol", want ? pol : NULL);
	char *key = kj ? json_dumps(kj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(kj);
	if (key && e->prevent_key && !strcmp(key, e->prevent_key)) {
		free(key);
		json_decref(pol);
		return;
	}
	if (want) {
		if (!e->ag->config || !e->ag->config->detect_rules.n) {
			log_warn("enforce",
				 "prevent rules in the policy but the agent has no rules "
				 "(detect.rules): not enforced");
		} else {
			p = agent_prevent_new(&e->ag->config->detect_rules, ids, &missing, err,
					      sizeof(err));
			if (!p)
				log_warn("enforce", "prevent rules not enforced: %s", err);
			if (json_array_size(missing)) {
				char *m = json_dumps(missing, JSON_COMPACT);

				log_warn("enforce", "prevent rules not among the agent's rules: %s",
					 m ? m : "?");
				free(m);
			}
			json_decref(missing);
		}
	}
	/* The gate off while the rules change hands, then on again with the new ones. */
	block_exec_set_gate(e->blk, NULL, NULL, NULL, 0);
	agent_prevent_free(e->prevent);
	e->prevent = p;
	json_decref(e->pol);
	e->pol = pol;
	atomic_store(&e->prevent_rules, p ? (uint32_t)json_array_size(ids) : 0);
	free(e->prevent_key);
	e->prevent_key = key;
	if (p) {
		const char *const *names;
		size_t nn;
		int rc;

		agent_prevent_names(p, &names, &nn);
		rc = block_exec_set_gate(e->blk, gate, e, names, nn);
		if (rc)
			log_error("enforce", "prevention at exec not enforced err=%s",
				  strerror(-rc));
		else if (names)
			log_info("enforce", "prevention at exec on rules=%zu images=%zu",
				 json_array_size(ids), nn);
		else
			log_info(
			    "enforce",
			    "prevention at exec on rules=%zu, every exec checked (a rule is not "
			    "limited to named images)",
			    json_array_size(ids));
	} else if (want) {
		log_info("enforce", "prevention at exec off");
	}
}

static void on_blocked(void *ctx, const char (*sha256)[65], size_t n)
{
	struct agent_enforce *e = ctx;
	int rc = block_exec_set(e->blk, sha256, n);

	if (rc)
		log_error("enforce", "block list not applied hashes=%zu err=%s", n, strerror(-rc));
	else
		atomic_store(&e->nblocked, n);
	log_info("enforce", "block list applied hashes=%zu", n);
}

struct agent_enforce *agent_enforce_new(struct agent *ag, char *err, size_t errlen)
{
	struct agent_enforce *e = calloc(1, sizeof(*e));
	struct block_exec_opts bo = {.on_hit = on_hit};

	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->ag = ag;
	bo.ctx = e;
	bo.max_hash_bytes = ag->config ? ag->config->hash_max_bytes : 0;
	e->blk = block_exec_new(&bo, err, errlen);
	if (!e->blk) {
		free(e);
		return NULL;
	}
	e->hooks =
	    (struct agent_policy_hooks){.blocked = on_blocked, .changed = on_changed, .ctx = e};
	pthread_mutex_lock(&current_lock);
	current = e;
	pthread_mutex_unlock(&current_lock);
	agent_policy_set_hooks(&e->hooks);
	return e;
}

void agent_enforce_free(struct agent_enforce *e)
{
	if (!e)
		return;
	agent_policy_set_hooks(NULL);
	pthread_mutex_lock(&current_lock);
	current = NULL;
	pthread_mutex_unlock(&current_lock);
	block_exec_free(e->blk);
	agent_prevent_free(e->prevent);
	json_decref(e->pol);
	free(e->prevent_key);
	free(e);
}

json_t *agent_enforce_report(void)
{
	struct block_exec_stats st = {0};
	json_t *r;

	pthread_mutex_lock(&current_lock);
	if (!current) {
		pthread_mutex_unlock(&current_lock);
		return json_pack("{s:b}", "blocking", 0);
	}
	block_exec_get_stats(current->blk, &st);
	r = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I}", "blocking", 1, "prevent_rules",
		      (json_int_t)atomic_load(&current->prevent_rules), "prevented",
		      (json_int_t)atomic_load(&current->prevented), "blocked_hashes",
		      (json_int_t)atomic_load(&current->nblocked), "denied", (json_int_t)st.denied,
		      "killed", (json_int_t)st.killed, "perm_events", (json_int_t)st.perm_events);
	pthread_mutex_unlock(&current_lock);
	return r;
}
