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
#include "block_exec.h"
#include "event_json.h"
#include "log.h"

#include "banned.h"

struct agent_enforce {
	struct agent *ag;
	struct block_exec *blk;
	struct agent_policy_hooks hooks;
	atomic_size_t nblocked;
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
	e->hooks = (struct agent_policy_hooks){.blocked = on_blocked, .ctx = e};
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
	r = json_pack("{s:b,s:I,s:I,s:I,s:I}", "blocking", 1, "blocked_hashes",
		      (json_int_t)atomic_load(&current->nblocked), "denied", (json_int_t)st.denied,
		      "killed", (json_int_t)st.killed, "perm_events", (json_int_t)st.perm_events);
	pthread_mutex_unlock(&current_lock);
	return r;
}
