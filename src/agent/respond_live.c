#include "respond_live.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "inventory_net.h"
#include "procfs.h"
#include "respond_kill.h"

#include "banned.h"

/* Appends x unless the list would pass RESPOND_LIVE_MAX_BYTES; false when it was left out. */
static bool append_within(json_t *arr, json_t *x, size_t *bytes, int *rc)
{
	size_t n = json_dumpb(x, NULL, 0, JSON_COMPACT) + 1;

	if (*bytes + n > RESPOND_LIVE_MAX_BYTES) {
		json_decref(x);
		return false;
	}
	*bytes += n;
	if (json_array_append_new(arr, x))
		*rc = -ENOMEM;
	return true;
}

/* Keeps the first entries of arr that fit in RESPOND_LIVE_MAX_BYTES; true when some went. */
static bool trim_to_size(json_t *arr)
{
	size_t bytes = 0, i;
	json_t *x;

	json_array_foreach(arr, i, x)
	{
		bytes += json_dumpb(x, NULL, 0, JSON_COMPACT) + 1;
		if (bytes > RESPOND_LIVE_MAX_BYTES) {
			while (json_array_size(arr) > i)
				json_array_remove(arr, json_array_size(arr) - 1);
			return true;
		}
	}
	return false;
}

static int cmp_pid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The numeric entries of proc_root, sorted; at most RESPOND_LIVE_MAX (*more set beyond). */
static int list_pids(const char *proc_root, uint32_t **pids, size_t *n, bool *more)
{
	DIR *d = opendir(proc_root);
	struct dirent *de;
	size_t cap = 0;

	*pids = NULL;
	*n = 0;
	*more = false;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || !pid || pid > UINT32_MAX)
			continue;
		if (*n == RESPOND_LIVE_MAX) {
			*more = true;
			break;
		}
		if (*n == cap) {
			uint32_t *p = realloc(*pids, (cap ? cap * 2 : 512) * sizeof(*p));

			if (!p) {
				closedir(d);
				return -ENOMEM;
			}
			*pids = p;
			cap = cap ? cap * 2 : 512;
		}
		(*pids)[(*n)++] = (uint32_t)pid;
	}
	closedir(d);
	qsort(*pids, *n, sizeof(**pids), cmp_pid);
	return 0;
}

/* Strings that are not UTF-8 (a file name can be anything) are left out, not the process. */
static void set_str(json_t *o, const char *key, const char *v)
{
	json_t *s = json_string(v);

	if (s)
		json_object_set_new(o, key, s);
}

static json_t *process_json(const char *proc_root, uint32_t pid, struct event *ev,
			    const struct respond_ids *ids)
{
	struct procfs_stat st;
	char id[33], state[2] = {0};
	json_t *o;

	event_reset(ev);
	if (procfs_read_stat(proc_root, pid, &st) || procfs_fill_process(proc_root, pid, 64, ev))
		return NULL; /* gone meanwhile */
	respond_ids_entity(ids, pid, st.start_ticks, id);
	state[0] = st.state;
	o = json_pack("{s:I, s:I, s:{s:I, s:I}, s:s, s:s, s:I}", "pid", (json_int_t)pid, "ppid",
		      (json_int_t)st.ppid, "user", "id", (json_int_t)ev->process.uid,
		      "effective_id", (json_int_t)ev->process.euid, "state", state, "entity_id", id,
		      "start_ticks", (json_int_t)st.start_ticks);
	if (!o)
		return NULL;
	set_str(o, "name", ev->process.name);
	set_str(o, "executable", ev->process.executable);
	set_str(o, "command_line", ev->process.command_line);
	set_str(o, "working_directory", ev->process.working_directory);
	return o;
}

int respond_processes(const char *proc_root, json_t **result)
{
	struct event *ev = malloc(sizeof(*ev));
	struct respond_ids *ids = respond_ids_new(proc_root);
	json_t *arr = json_array();
	uint32_t *pids = NULL;
	size_t n = 0, bytes = 0;
	bool more = false;
	int rc = ev && arr ? list_pids(proc_root, &pids, &n, &more) : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		json_t *p = process_json(proc_root, pids[i], ev, ids);

		if (p && !append_within(arr, p, &bytes, &rc)) {
			more = true;
			break;
		}
	}
	free(pids);
	free(ev);
	respond_ids_free(ids);
	if (rc) {
		json_decref(arr);
		*result = json_pack("{s:s}", "error", strerror(-rc));
		return rc;
	}
	*result = json_pack("{s:o, s:I, s:b}", "processes", arr, "count",
			    (json_int_t)json_array_size(arr), "truncated", more);
	return *result ? 0 : -ENOMEM;
}

int respond_connections(json_t **result)
{
	json_t *arr = json_array();
	size_t dropped = 0;
	int rc = arr ? inventory_net_sockets("", RESPOND_LIVE_MAX, arr, &dropped) : -ENOMEM;

	if (rc) {
		json_decref(arr);
		*result = json_pack("{s:s}", "error", strerror(-rc));
		return rc;
	}
	bool cut = trim_to_size(arr);

	*result = json_pack("{s:o, s:I, s:b}", "connections", arr, "count",
			    (json_int_t)json_array_size(arr), "truncated", dropped > 0 || cut);
	return *result ? 0 : -ENOMEM;
}
