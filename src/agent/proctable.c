#include "proctable.h"

#include <errno.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "procfs.h"

#include "banned.h"

#define BUCKETS 4096
#define GRACE_NS (5ull * 1000000000ull)

struct proc_entry {
	struct proc_entry *next;
	uint32_t pid;
	uint32_t ppid;
	uint64_t start_ns; /* wall clock */
	uint64_t ended_mono; /* 0 while alive */
	char entity_id[EVENT_ENTITY_ID_LEN];
	char *executable; /* owned, exact size */
	char *name;
	char *command_line; /* capped at EVENT_PARENT_CMDLINE_LEN */
};

struct proctable {
	struct agent *ag;
	struct proc_entry *buckets[BUCKETS];
	size_t count;
	size_t max;
};

struct proctable *proctable_new(struct agent *ag, size_t max_entries)
{
	struct proctable *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ag = ag;
	t->max = max_entries;
	return t;
}

static void entry_free(struct proc_entry *e)
{
	free(e->executable);
	free(e->name);
	free(e->command_line);
	free(e);
}

void proctable_free(struct proctable *t)
{
	if (!t)
		return;
	for (size_t b = 0; b < BUCKETS; b++) {
		struct proc_entry *e = t->buckets[b], *next;

		for (; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	}
	free(t);
}

static struct proc_entry **slot(struct proctable *t, uint32_t pid)
{
	struct proc_entry **p = &t->buckets[pid % BUCKETS];

	while (*p && (*p)->pid != pid)
		p = &(*p)->next;
	return p;
}

static char *dup_capped(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap - 1);
	char *d = malloc(n + 1);

	if (d)
		event_copy_str(d, n + 1, s, n);
	return d;
}

static void set_str(char **dst, const char *s, size_t cap)
{
	if (!s[0])
		return;
	free(*dst);
	*dst = dup_capped(s, cap);
}

/* Finds or creates the entry for ev's process. */
static struct proc_entry *upsert(struct proctable *t, const struct event *ev)
{
	struct proc_entry **p = slot(t, ev->process.pid), *e = *p;

	/* Same pid, another entity: the pid was reused. */
	if (e && ev->process.entity_id[0] && strcmp(e->entity_id, ev->process.entity_id) != 0 &&
	    ev->action != EVENT_ACTION_EXEC) {
		*p = e->next;
		entry_free(e);
		t->count--;
		e = NULL;
	}
	if (!e) {
		if (t->count >= t->max)
			return NULL;
		e = calloc(1, sizeof(*e));
		if (!e)
			return NULL;
		e->pid = ev->process.pid;
		e->next = t->buckets[e->pid % BUCKETS];
		t->buckets[e->pid % BUCKETS] = e;
		t->count++;
	}
	return e;
}

static void record(struct proctable *t, const struct event *ev, struct proc_entry *parent)
{
	struct proc_entry *e = upsert(t, ev);

	if (!e)
		return;
	e->ended_mono = 0;
	if (ev->process.entity_id[0])
		event_copy_str(e->entity_id, sizeof(e->entity_id), ev->process.entity_id,
			       strlen(ev->process.entity_id));
	if (event_has(ev, EVF_PROCESS_PARENT_PID))
		e->ppid = ev->process.parent.pid;
	if (event_has(ev, EVF_PROCESS_START))
		e->start_ns = ev->process.start_ns;
	if (parent && ev->action == EVENT_ACTION_FORK) {
		/* A fork child runs its parent's image until it execs. */
		if (parent->executable)
			set_str(&e->executable, parent->executable, EVENT_PATH_LEN);
		if (parent->name)
			set_str(&e->name, parent->name, EVENT_NAME_LEN);
		if (parent->command_line)
			set_str(&e->command_line, parent->command_line, EVENT_PARENT_CMDLINE_LEN);
		return;
	}
	set_str(&e->executable, ev->process.executable, EVENT_PATH_LEN);
	set_str(&e->name, ev->process.name, EVENT_NAME_LEN);
	set_str(&e->command_line, ev->process.command_line, EVENT_PARENT_CMDLINE_LEN);
}

static struct proc_entry *load_from_proc(struct proctable *t, uint32_t pid)
{
	static struct event tmp; /* event thread only */
	struct procfs_stat st;

	event_reset(&tmp);
	if (procfs_read_stat("/proc", pid, &st) != 0)
		return NULL;
	if (procfs_fill_process("/proc", pid, t->ag->config->args_max_count, &tmp) != 0)
		return NULL;
	agent_entity_id(t->ag, pid, st.start_ticks, tmp.process.entity_id);
	tmp.process.start_ns =
		agent_boot_to_real(st.start_ticks * (1000000000ull / (uint64_t)procfs_clk_tck()));
	event_mark(&tmp, EVF_PROCESS_START);
	tmp.action = EVENT_ACTION_EXEC;
	record(t, &tmp, NULL);
	return *slot(t, pid);
}

size_t proctable_scan(struct proctable *t)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t added = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || pid == 0 || pid > UINT32_MAX)
			continue;
		if (load_from_proc(t, (uint32_t)pid))
			added++;
	}
	closedir(d);
	return added;
}

void proctable_update(struct proctable *t, const struct event *ev)
{
	struct proc_entry *e, *parent = NULL;

	switch (ev->action) {
	case EVENT_ACTION_FORK:
		parent = *slot(t, ev->process.parent.pid);
		record(t, ev, parent);
		break;
	case EVENT_ACTION_EXEC:
		record(t, ev, NULL);
		break;
	case EVENT_ACTION_END:
		e = *slot(t, ev->process.pid);
		if (e)
			e->ended_mono = agent_now_mono();
		break;
	default:
		break;
	}
}

void proctable_fill_process(struct proctable *t, struct event *ev)
{
	struct proc_entry *e = *slot(t, ev->process.pid);

	if (!ev->process.pid)
		return;
	if (e && ev->process.entity_id[0] && strcmp(ev->process.entity_id, e->entity_id) != 0)
		e = NULL; /* a stale entry of a reused pid */
	if (!e)
		e = load_from_proc(t, ev->process.pid);
	if (!e)
		return;
	if (!ev->process.entity_id[0])
		event_copy_str(ev->process.entity_id, sizeof(ev->process.entity_id), e->entity_id,
			       strlen(e->entity_id));
	if (!ev->process.executable[0] && e->executable)
		event_copy_str(ev->process.executable, sizeof(ev->process.executable),
			       e->executable, strlen(e->executable));
	if (!ev->process.name[0] && e->name)
		event_copy_str(ev->process.name, sizeof(ev->process.name), e->name,
			       strlen(e->name));
	if (!ev->process.command_line[0] && e->command_line &&
	    ev->action != EVENT_ACTION_EXEC)
		event_copy_str(ev->process.command_line, sizeof(ev->process.command_line),
			       e->command_line, strlen(e->command_line));
	if (!event_has(ev, EVF_PROCESS_START) && e->start_ns) {
		ev->process.start_ns = e->start_ns;
		event_mark(ev, EVF_PROCESS_START);
	}
	if (!event_has(ev, EVF_PROCESS_PARENT_PID) && e->ppid) {
		ev->process.parent.pid = e->ppid;
		event_mark(ev, EVF_PROCESS_PARENT_PID);
	}
}

void proctable_fill_parent(struct proctable *t, struct event *ev)
{
	struct proc_entry *p;
	struct event_proc_ref *r = &ev->process.parent;

	if (!event_has(ev, EVF_PROCESS_PARENT_PID) || r->pid == 0)
		return;
	p = *slot(t, r->pid);
	if (p && r->entity_id[0] && strcmp(p->entity_id, r->entity_id) != 0)
		p = NULL;
	if (!p)
		p = load_from_proc(t, r->pid);
	if (!p)
		return;
	if (!r->entity_id[0])
		event_copy_str(r->entity_id, sizeof(r->entity_id), p->entity_id,
			       strlen(p->entity_id));
	if (!r->executable[0] && p->executable)
		event_copy_str(r->executable, sizeof(r->executable), p->executable,
			       strlen(p->executable));
	if (!r->name[0] && p->name)
		event_copy_str(r->name, sizeof(r->name), p->name, strlen(p->name));
	if (!r->command_line[0] && p->command_line)
		event_copy_str(r->command_line, sizeof(r->command_line), p->command_line,
			       strlen(p->command_line));
}

void proctable_expire(struct proctable *t, uint64_t now_mono_ns)
{
	for (size_t b = 0; b < BUCKETS; b++) {
		struct proc_entry **p = &t->buckets[b];

		while (*p) {
			struct proc_entry *e = *p;

			if (e->ended_mono && now_mono_ns - e->ended_mono > GRACE_NS) {
				*p = e->next;
				entry_free(e);
				t->count--;
			} else {
				p = &e->next;
			}
		}
	}
}

size_t proctable_count(const struct proctable *t)
{
	return t->count;
}
