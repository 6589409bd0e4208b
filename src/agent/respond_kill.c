#include "respond_kill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "procfs.h"

#include "banned.h"

#define PF_KTHREAD 0x00200000u
#define MAX_TARGETS 8192
#define MAX_PASSES 64
#define WAIT_MS 2000
/* A process may start up to this long after the command was queued and still be its target:
 * the server's and the host's clocks are not the same clock. */
#define QUEUED_SLACK_MS 2000

struct target {
	uint32_t pid;
	uint64_t start_ticks;
	char comm[17];
	bool gone;
	bool denied; /* the kernel refused a signal (EPERM) */
};

struct targets {
	struct target *v;
	size_t n, cap;
};

/* agent_entity_id only reads the seed, which agent_set_boot_id derives from the boot id. */
static struct agent *id_maker(const char *proc_root)
{
	struct agent *ag = calloc(1, sizeof(*ag));
	char path[512], boot[64];
	ssize_t n = -1;
	int fd;

	if (!ag)
		return NULL;
	snprintf(path, sizeof(path), "%s/sys/kernel/random/boot_id", proc_root);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, boot, sizeof(boot) - 1);
		close(fd);
	}
	boot[n > 0 ? n : 0] = '\0';
	agent_set_boot_id(ag, boot, strcspn(boot, "\n"));
	return ag;
}

static void entity_id(const struct agent *ag, uint32_t pid, uint64_t start_ticks, char *out)
{
	if (ag)
		agent_entity_id(ag, pid, start_ticks, out);
	else
		out[0] = '\0';
}

struct respond_ids {
	struct agent *ag;
};

struct respond_ids *respond_ids_new(const char *proc_root)
{
	struct respond_ids *ids = calloc(1, sizeof(*ids));

	if (ids && !(ids->ag = id_maker(proc_root))) {
		free(ids);
		return NULL;
	}
	return ids;
}

void respond_ids_entity(const struct respond_ids *ids, uint32_t pid, uint64_t start_ticks,
			char *out)
{
	entity_id(ids ? ids->ag : NULL, pid, start_ticks, out);
}

void respond_ids_free(struct respond_ids *ids)
{
	if (ids)
		free(ids->ag);
	free(ids);
}

void respond_entity_id(const char *proc_root, uint32_t pid, uint64_t start_ticks, char *out)
{
	struct agent *ag = id_maker(proc_root);

	entity_id(ag, pid, start_ticks, out);
	free(ag);
}

/* The number after the line prefix key ("Tgid:", "btime ") in a /proc file, or -1. Lines are
 * read whole: /proc/stat's intr line runs to many kilobytes before btime. */
static long long proc_number(const char *path, const char *key)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0, klen = strlen(key);
	char *line = NULL;
	long long v = -1;

	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0)
		if (!strncmp(line, key, klen)) {
			v = strtoll(line + klen, NULL, 10);
			break;
		}
	free(line);
	fclose(f);
	return v;
}

static long status_field(const char *root, uint32_t pid, const char *key)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%u/status", root, pid);
	return (long)proc_number(path, key);
}

/* 1 when the process runs (a zombie leader whose other threads still run counts), 0 when it is
 * gone or a plain zombie, a negative errno when /proc could not be read for another reason. */
static int running(const char *root, uint32_t pid, struct procfs_stat *st)
{
	int rc = procfs_read_stat(root, pid, st);

	if (rc == -ENOENT || rc == -ESRCH)
		return 0;
	if (rc)
		return rc;
	if (st->state == 'Z' || st->state == 'X')
		return status_field(root, pid, "Threads:") > 1;
	return 1;
}

/* Still the process that was listed: same start time, still running. Read errors other than
 * "gone" count as still there, so that a process is never reported killed on a guess. */
static bool same(const char *root, const struct target *x)
{
	struct procfs_stat st;
	int rc = running(root, x->pid, &st);

	return rc < 0 || (rc == 1 && st.start_ticks == x->start_ticks);
}

static void signal_one(const char *root, struct target *x, int sig)
{
	if (x->gone || !same(root, x))
		return;
	if (kill((pid_t)x->pid, sig) == 0)
		return;
	if (errno == ESRCH)
		x->gone = true;
	else if (errno == EPERM)
		x->denied = true;
}

/* Adds and at once stops pid; 1 when new, 0 when known, a negative errno. */
static int add(const char *root, struct targets *t, uint32_t pid, const struct procfs_stat *st)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].pid == pid)
			return 0;
	if (t->n == MAX_TARGETS)
		return -E2BIG;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct target *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n] = (struct target){.pid = pid, .start_ticks = st->start_ticks};
	memcpy(t->v[t->n].comm, st->comm, sizeof(st->comm));
	signal_one(root, &t->v[t->n], SIGSTOP);
	t->n++;
	return 1;
}

/* A live target that is pid's parent and older than it (a child of a reused pid is not). */
static bool child_of_target(const struct targets *t, const struct procfs_stat *st)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].pid == st->ppid && !t->v[i].gone &&
		    st->start_ticks >= t->v[i].start_ticks)
			return true;
	return false;
}

/* One pass over /proc adding (and stopping) every process whose parent is a target. Returns
 * how many were added, or a negative errno. */
static int add_descendants(const struct respond_kill_opts *o, struct targets *t)
{
	DIR *d = opendir(o->proc_root);
	struct dirent *de;
	int added = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct procfs_stat st;
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);
		int rc;

		if (*end || !pid || pid > UINT32_MAX || pid == o->self_pid ||
		    running(o->proc_root, (uint32_t)pid, &st) != 1 || !child_of_target(t, &st))
			continue;
		rc = add(o->proc_root, t, (uint32_t)pid, &st);
		if (rc < 0) {
			closedir(d);
			return rc;
		}
		added += rc;
	}
	closedir(d);
	return added;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static json_t *error(uint32_t pid, const char *what)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "pid %u %s", pid, what);
	return json_pack("{s:s,s:I}", "error", msg, "pid", (json_int_t)pid);
}

/* When the process started, in ms since the epoch (boot time from /proc/stat's btime). */
static int64_t started_ms(const char *root, uint64_t start_ticks)
{
	char path[512];
	long long btime;

	snprintf(path, sizeof(path), "%s/stat", root);
	btime = proc_number(path, "btime ");
	if (btime < 0)
		return -1;
	return btime * 1000 + (int64_t)(start_ticks * 1000 / (uint64_t)procfs_clk_tck());
}

static int refuse(const struct respond_kill_opts *o, const struct procfs_stat *st, json_t **result)
{
	long tgid = status_field(o->proc_root, o->pid, "Tgid:");

	if (o->pid <= 1 || o->pid == o->self_pid || tgid == (long)o->self_pid) {
		*result = error(o->pid, "is init or the agent: not killed");
		return -EPERM;
	}
	if (tgid > 0 && tgid != (long)o->pid) {
		char what[96];

		snprintf(what, sizeof(what), "is a thread of process %ld: name the process", tgid);
		*result = error(o->pid, what);
		return -EINVAL;
	}
	if ((st->flags & PF_KTHREAD) || st->ppid == 2 || o->pid == 2) {
		*result = error(o->pid, "is a kernel thread: not killed");
		return -EPERM;
	}
	if (o->queued_ms > 0) {
		int64_t t = started_ms(o->proc_root, st->start_ticks);

		if (t > o->queued_ms + QUEUED_SLACK_MS) {
			*result = error(o->pid, "started after the kill was asked for (a reused "
						"pid): not killed");
			return -ESTALE;
		}
	}
	return 0;
}

/* comm is whatever the process set (prctl): only printable ASCII goes into the result. */
static json_t *target_json(const struct agent *ids, const struct target *x)
{
	char id[33], name[sizeof(x->comm)];

	for (size_t i = 0; i < sizeof(name); i++) {
		unsigned char c = (unsigned char)x->comm[i];

		name[i] = c == 0 ? 0 : (c < 0x20 || c > 0x7e) ? '?' : (char)c;
		if (!c)
			break;
	}
	name[sizeof(name) - 1] = '\0';
	entity_id(ids, x->pid, x->start_ticks, id);
	return json_pack("{s:I,s:s,s:s}", "pid", (json_int_t)x->pid, "entity_id", id, "name", name);
}

static bool valid_entity_id(const char *s)
{
	return strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

int respond_kill(const struct respond_kill_opts *o, json_t **result)
{
	struct targets t = {0};
	struct procfs_stat st;
	struct agent *ids = NULL;
	size_t alive = 0, denied = 0;
	json_t *killed, *left;
	char id[33];
	int rc, err = 0;

	*result = NULL;
	if (o->entity_id && !valid_entity_id(o->entity_id)) {
		*result = error(o->pid, "entity_id is not 32 lowercase hex digits: not killed");
		return -EINVAL;
	}
	rc = running(o->proc_root, o->pid, &st);
	if (rc != 1) {
		*result = error(o->pid, rc == 0 ? "does not exist" : "cannot be read in /proc");
		return rc == 0 ? -ESRCH : rc;
	}
	ids = id_maker(o->proc_root);
	entity_id(ids, o->pid, st.start_ticks, id);
	if (o->entity_id && strcmp(o->entity_id, id)) {
		free(ids);
		*result =
		    error(o->pid, "is now another process (its entity id differs): not killed");
		return -ESTALE;
	}
	if ((rc = refuse(o, &st, result))) {
		free(ids);
		return rc;
	}
	/* Each process is stopped as soon as it is found, so it forks no more: passes over /proc
	 * end when one finds nothing new. */
	rc = add(o->proc_root, &t, o->pid, &st);
	for (int pass = 0; rc >= 0 && o->tree && pass < MAX_PASSES; pass++) {
		rc = add_descendants(o, &t);
		if (rc == 0)
			break;
	}
	if (rc < 0)
		err = rc; /* still kill what was found: the user asked for a kill */
	for (size_t i = 0; i < t.n; i++)
		signal_one(o->proc_root, &t.v[i], SIGKILL);
	for (uint64_t end = now_ms() + WAIT_MS;;) {
		alive = 0;
		for (size_t i = 0; i < t.n; i++) {
			if (!t.v[i].gone && !same(o->proc_root, &t.v[i]))
				t.v[i].gone = true;
			alive += !t.v[i].gone;
		}
		if (!alive || now_ms() >= end)
			break;
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	killed = json_array();
	left = json_array();
	for (size_t i = 0; i < t.n; i++) {
		json_t *x = target_json(ids, &t.v[i]);

		denied += !t.v[i].gone && t.v[i].denied;
		if (x)
			json_array_append_new(t.v[i].gone ? killed : left, x);
	}
	if (!err && alive)
		err = denied ? -EPERM : -ETIMEDOUT;
	*result = json_pack("{s:o,s:I,s:b}", "killed", killed, "count",
			    (json_int_t)json_array_size(killed), "tree", o->tree);
	if (*result && err) {
		json_object_set_new(*result, "error",
				    json_string(err == -E2BIG	? "tree larger than 8192 processes"
						: err == -EPERM ? "the kernel refused the signal"
						: alive		? "some processes are still running"
								: strerror(-err)));
		json_object_set_new(*result, "alive", left);
	} else {
		json_decref(left);
	}
	free(t.v);
	free(ids);
	return err;
}
