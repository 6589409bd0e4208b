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
#define FREEZE_PASSES 5
#define WAIT_MS 2000

struct target {
	uint32_t pid;
	uint64_t start_ticks;
	char comm[17];
	bool gone;
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

void respond_entity_id(const char *proc_root, uint32_t pid, uint64_t start_ticks, char *out)
{
	struct agent *ag = id_maker(proc_root);

	entity_id(ag, pid, start_ticks, out);
	free(ag);
}

static int add(struct targets *t, uint32_t pid, const struct procfs_stat *st)
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
	t->n++;
	return 1;
}

/* The same process as when it was listed: a pid reused since fails this. */
static bool same(const char *root, const struct target *x)
{
	struct procfs_stat st;

	return procfs_read_stat(root, x->pid, &st) == 0 && st.start_ticks == x->start_ticks &&
	       st.state != 'Z' && st.state != 'X';
}

static bool is_target(const struct targets *t, uint32_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].pid == pid)
			return true;
	return false;
}

/* Adds every process whose parent is a target, until no new one turns up in a pass of /proc.
 * Returns how many were added, or a negative errno. */
static int add_descendants(const struct respond_kill_opts *o, struct targets *t)
{
	int added = 0;

	for (;;) {
		DIR *d = opendir(o->proc_root);
		struct dirent *de;
		int pass = 0;

		if (!d)
			return -errno;
		while ((de = readdir(d))) {
			struct procfs_stat st;
			char *end;
			unsigned long pid = strtoul(de->d_name, &end, 10);
			int rc;

			if (*end || !pid || pid > UINT32_MAX || pid == o->self_pid ||
			    procfs_read_stat(o->proc_root, (uint32_t)pid, &st) ||
			    !is_target(t, st.ppid) || st.state == 'Z')
				continue;
			rc = add(t, (uint32_t)pid, &st);
			if (rc < 0) {
				closedir(d);
				return rc;
			}
			pass += rc;
		}
		closedir(d);
		added += pass;
		if (!pass)
			return added;
	}
}

static void signal_all(const char *root, struct targets *t, int sig)
{
	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i].gone && same(root, &t->v[i]) && kill((pid_t)t->v[i].pid, sig) != 0 &&
		    errno == ESRCH)
			t->v[i].gone = true;
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

static int refuse(const struct respond_kill_opts *o, const struct procfs_stat *st, json_t **result)
{
	if (o->pid <= 1 || o->pid == o->self_pid) {
		*result = error(o->pid, "is init or the agent: not killed");
		return -EPERM;
	}
	if ((st->flags & PF_KTHREAD) || st->ppid == 2 || o->pid == 2) {
		*result = error(o->pid, "is a kernel thread: not killed");
		return -EPERM;
	}
	return 0;
}

int respond_kill(const struct respond_kill_opts *o, json_t **result)
{
	struct targets t = {0};
	struct procfs_stat st;
	struct agent *ids;
	char id[33];
	int rc;

	*result = NULL;
	if (procfs_read_stat(o->proc_root, o->pid, &st) || st.state == 'Z') {
		*result = error(o->pid, "does not exist");
		return -ESRCH;
	}
	ids = id_maker(o->proc_root);
	entity_id(ids, o->pid, st.start_ticks, id);
	if (o->entity_id && o->entity_id[0] && strcmp(o->entity_id, id)) {
		free(ids);
		*result =
		    error(o->pid, "is now another process (its entity id differs): not killed");
		return -ESTALE;
	}
	if ((rc = refuse(o, &st, result))) {
		free(ids);
		return rc;
	}
	if ((rc = add(&t, o->pid, &st)) < 0)
		goto fail;
	/* Stop first, then look for children: a stopped process forks no more, so a few passes
	 * find every descendant, including those forked while we looked. */
	for (int pass = 0; pass < FREEZE_PASSES; pass++) {
		signal_all(o->proc_root, &t, SIGSTOP);
		if (!o->tree)
			break;
		rc = add_descendants(o, &t);
		if (rc < 0)
			goto fail;
		if (rc == 0)
			break;
	}
	signal_all(o->proc_root, &t, SIGKILL);
	for (uint64_t end = now_ms() + WAIT_MS;;) {
		size_t left = 0;

		for (size_t i = 0; i < t.n; i++) {
			if (!t.v[i].gone && !same(o->proc_root, &t.v[i]))
				t.v[i].gone = true;
			left += !t.v[i].gone;
		}
		if (!left || now_ms() >= end)
			break;
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	{
		json_t *killed = json_array(), *alive = json_array();

		for (size_t i = 0; i < t.n; i++) {
			entity_id(ids, t.v[i].pid, t.v[i].start_ticks, id);
			json_array_append_new(t.v[i].gone ? killed : alive,
					      json_pack("{s:I,s:s,s:s}", "pid",
							(json_int_t)t.v[i].pid, "entity_id", id,
							"name", t.v[i].comm));
		}
		rc = json_array_size(alive) ? -ETIMEDOUT : 0;
		*result = json_pack("{s:o,s:I,s:b}", "killed", killed, "count",
				    (json_int_t)json_array_size(killed), "tree", o->tree);
		if (rc && *result) {
			json_object_set_new(*result, "error",
					    json_string("some processes are still running"));
			json_object_set_new(*result, "alive", alive);
		} else {
			json_decref(alive);
		}
	}
	free(t.v);
	free(ids);
	return rc;
fail:
	free(t.v);
	free(ids);
	*result = json_pack("{s:s,s:I}", "error", strerror(-rc), "pid", (json_int_t)o->pid);
	return rc;
}
