#include "agent.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent_detect.h"
#include "agent_yara.h"
#include "hashcache.h"
#include "log.h"
#include "output.h"
#include "proctable.h"
#include "sensitive.h"
#include "source.h"
#include "stdio_socket.h"

#include "banned.h"

uint64_t agent_now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t agent_now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* realtime - boottime, cached so that one process's start time reads the same in every event;
 * resynchronised every 10 s, and only adopted when the clock really moved (over 1 ms). */
static _Atomic int64_t boot_offset;
static _Atomic uint64_t boot_offset_at;

uint64_t agent_boot_to_real(uint64_t boot_ns)
{
	/* Called for every event: the coarse clock (a few ms) is plenty for a 10 s resync and
	 * costs a third of the precise one. */
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + 1;

	if (atomic_load(&boot_offset_at) == 0 ||
	    now - atomic_load(&boot_offset_at) > 10000000000ull) {
		struct timespec rt, bt;
		int64_t off, old = atomic_load(&boot_offset);

		clock_gettime(CLOCK_REALTIME, &rt);
		clock_gettime(CLOCK_BOOTTIME, &bt);
		off = ((int64_t)rt.tv_sec - (int64_t)bt.tv_sec) * 1000000000ll +
		      ((int64_t)rt.tv_nsec - (int64_t)bt.tv_nsec);
		if (atomic_load(&boot_offset_at) == 0 || off - old > 1000000 || old - off > 1000000)
			atomic_store(&boot_offset, off);
		atomic_store(&boot_offset_at, now);
	}
	return (uint64_t)((int64_t)boot_ns + atomic_load(&boot_offset));
}

/* splitmix64's finaliser: a strong 64-bit mix. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void agent_set_boot_id(struct agent *ag, const char *boot_id, size_t len)
{
	event_copy_str(ag->boot_id, sizeof(ag->boot_id), boot_id, len);
	ag->id_seed[0] = 0x6d616d6f72690001ull;
	ag->id_seed[1] = 0x6d616d6f72690002ull;
	for (size_t i = 0; ag->boot_id[i]; i++) {
		ag->id_seed[0] = mix64(ag->id_seed[0] ^ (unsigned char)ag->boot_id[i]);
		ag->id_seed[1] = mix64(ag->id_seed[1] + (unsigned char)ag->boot_id[i]);
	}
}

void agent_entity_id(const struct agent *ag, uint32_t pid, uint64_t start_ticks, char *out)
{
	static const char digits[] = "0123456789abcdef";
	uint64_t h[2] = {ag->id_seed[0], ag->id_seed[1]};

	/* Not a secret, only an identity: a 128-bit mix of boot id, pid and start time, cheap
	 * enough to compute for every event (SHA-256 through OpenSSL 3 costs locks per call). */
	h[0] = mix64(h[0] ^ pid);
	h[1] = mix64(h[1] ^ ((uint64_t)pid << 32 | 0x9e37u));
	h[0] = mix64(h[0] ^ start_ticks);
	h[1] = mix64(h[1] + start_ticks * 0x9e3779b97f4a7c15ull);
	for (int w = 0; w < 2; w++) {
		for (int i = 0; i < 16; i++)
			out[16 * w + i] = digits[(h[w] >> (60 - 4 * i)) & 15];
	}
	out[32] = '\0';
}

size_t agent_source_names(const struct agent *ag, const char **names, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < ag->nsources && n < max; i++) {
		if (ag->sources[i].active)
			names[n++] = ag->sources[i].ops->name;
	}
	return n;
}

/* uid -> user name, a small direct-mapped cache in front of getpwuid_r. */
static void user_name(uint32_t uid, char *out, size_t size)
{
	static struct {
		uint32_t uid;
		bool valid;
		char name[EVENT_SHORT_LEN];
		time_t at;
	} cache[64];
	unsigned s = uid % 64;
	time_t now = time(NULL);

	if (!cache[s].valid || cache[s].uid != uid || now - cache[s].at > 300) {
		struct passwd pw, *res = NULL;
		char buf[1024];

		cache[s].uid = uid;
		cache[s].valid = true;
		cache[s].at = now;
		cache[s].name[0] = '\0';
		if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
			event_copy_str(cache[s].name, sizeof(cache[s].name), pw.pw_name,
				       strlen(pw.pw_name));
	}
	event_copy_str(out, size, cache[s].name, strlen(cache[s].name));
}

static bool is_file_action(enum event_action a)
{
	return a == EVENT_ACTION_CREATION || a == EVENT_ACTION_MODIFICATION ||
	       a == EVENT_ACTION_RENAME || a == EVENT_ACTION_DELETION ||
	       a == EVENT_ACTION_ATTRIBUTES_MODIFICATION;
}

/* What to drop first when over budget: high-volume events with little detection value. A
 * file event on a sensitive path is never shed. */
static bool is_low_value(const struct event *ev, bool sensitive)
{
	switch (ev->action) {
	case EVENT_ACTION_FORK:
	case EVENT_ACTION_DISCONNECT_RECEIVED:
		return true;
	case EVENT_ACTION_MODIFICATION:
	case EVENT_ACTION_ATTRIBUTES_MODIFICATION:
		return !sensitive;
	default:
		return false;
	}
}

/* Prefixes match whole path components: "/var/log" covers "/var/log/x", not "/var/logs". */
bool agent_path_ignored(const struct agent_config *c, const char *path)
{
	for (size_t i = 0; i < c->ignore_path_prefix.n; i++) {
		const char *p = c->ignore_path_prefix.items[i];
		size_t n = strlen(p);

		while (n > 1 && p[n - 1] == '/')
			n--; /* "/var/log/" also covers "/var/log" itself */
		if (strncmp(path, p, n) == 0 && (path[n] == '\0' || path[n] == '/' || n == 1))
			return true;
	}
	return false;
}

static void emit_alert(void *ctx, const char *line, size_t len)
{
	struct agent *ag = ctx;

	if (output_line(ag->out, line, len) == 0)
		atomic_fetch_add(&ag->counters.alerts, 1);
	else
		atomic_fetch_add(&ag->counters.queue_dropped, 1);
}

void agent_emit_alert(void *ctx, const char *line, size_t len)
{
	struct agent *ag = ctx;

	emit_alert(ctx, line, len);
	output_flush_all(ag->out);
}

/* Files worth a YARA look when written: executable bits, or places and names droppers use.
 * The scanner still checks for an ELF or #! header before scanning. */
static bool may_be_executable(const struct event *ev)
{
	static const char *const DIRS[] = {"/tmp/", "/dev/shm/", "/var/tmp/", "/run/user/"};
	static const char *const EXTS[] = {".so", ".sh", ".py", ".pl", ".elf", ".bin", ".run"};
	const char *p = ev->file.path;
	size_t n = strlen(p);

	if (ev->file.mode & 0111)
		return true;
	for (size_t i = 0; i < sizeof(DIRS) / sizeof(DIRS[0]); i++)
		if (!strncmp(p, DIRS[i], strlen(DIRS[i])))
			return true;
	for (size_t i = 0; i < sizeof(EXTS) / sizeof(EXTS[0]); i++) {
		size_t k = strlen(EXTS[i]);
		if (n > k && !strcmp(p + n - k, EXTS[i]))
			return true;
	}
	return false;
}

static void write_out(struct agent *ag, const struct event *ev)
{
	if (output_event(ag->out, ev) == 0)
		atomic_fetch_add(&ag->counters.emitted, 1);
	else
		atomic_fetch_add(&ag->counters.queue_dropped, 1);
	/* An alert seals the batch at once so it leaves ahead of the batch timer. */
	if (ag->detect && agent_detect_event(ag->detect, ev, emit_alert, ag) > 0)
		output_flush_all(ag->out);
	if (ag->yara &&
	    (ev->action == EVENT_ACTION_EXEC ||
	     ((ev->action == EVENT_ACTION_CREATION || ev->action == EVENT_ACTION_MODIFICATION ||
	       ev->action == EVENT_ACTION_RENAME) &&
	      may_be_executable(ev))))
		agent_yara_submit(ag->yara, ev);
}

/* Fills, attributes and filters; false when the event is dropped. */
static bool prepare(struct agent *ag, struct event *ev)
{
	const struct agent_config *c = ag->config;
	const char *klass = NULL;

	if (ev->action == EVENT_ACTION_NONE)
		return false;
	if (!event_has(ev, EVF_TIMESTAMP)) {
		ev->timestamp_ns = agent_now_real();
		event_mark(ev, EVF_TIMESTAMP);
	}
	if (!ev->host_name[0])
		event_copy_str(ev->host_name, sizeof(ev->host_name), ag->host_name,
			       strlen(ag->host_name));
	if (!ev->host_boot_id[0])
		event_copy_str(ev->host_boot_id, sizeof(ev->host_boot_id), ag->boot_id,
			       strlen(ag->boot_id));
	/* The agent never reports itself; replayed events come from elsewhere, whatever pid. */
	if (ev->process.pid == (uint32_t)ag->self_pid && ev->action != EVENT_ACTION_AGENT_DROPS &&
	    !c->replay_path[0])
		return false;

	if (ag->procs && ev->process.pid) {
		if (ev->action == EVENT_ACTION_FORK || ev->action == EVENT_ACTION_EXEC)
			proctable_update(ag->procs, ev);
		proctable_fill_process(ag->procs, ev);
		proctable_fill_parent(ag->procs, ev);
		if (ev->action == EVENT_ACTION_END)
			proctable_update(ag->procs, ev);
	}
	if (event_has(ev, EVF_USER_ID) && !ev->user_name[0])
		user_name(ev->process.euid, ev->user_name, sizeof(ev->user_name));

	if (ev->process.executable[0] &&
	    agent_config_list_has(&c->ignore_executable, ev->process.executable)) {
		atomic_fetch_add(&ag->counters.ignored, 1);
		return false;
	}
	if (is_file_action(ev->action)) {
		/* A rename is dropped only when both ends are ignored: a file staged in an
		 * ignored directory and moved into /etc/cron.d must still be seen. */
		if (agent_path_ignored(c, ev->file.path) &&
		    (!ev->file.original_path[0] || agent_path_ignored(c, ev->file.original_path))) {
			atomic_fetch_add(&ag->counters.ignored, 1);
			return false;
		}
		klass = sensitive_path_class(ev->file.path);
		if (!klass && ev->file.original_path[0])
			klass = sensitive_path_class(ev->file.original_path);
		if (klass) {
			event_list_add(ev->tags, sizeof(ev->tags), &ev->tags_len, "sensitive", 9);
			event_list_add(ev->tags, sizeof(ev->tags), &ev->tags_len, klass,
				       strlen(klass));
		}
	}
	/* A shell whose standard streams are a TCP/UDP socket is a reverse shell. */
	if (ev->action == EVENT_ACTION_EXEC && !c->replay_path[0] && ev->process.pid &&
	    stdio_socket_is_shell(ev->process.name) && stdio_socket_inet("/proc", (pid_t)ev->process.pid))
		event_list_add(ev->tags, sizeof(ev->tags), &ev->tags_len, "stdio-socket", 12);
	if (ag->shedding && is_low_value(ev, klass != NULL)) {
		atomic_fetch_add(&ag->counters.shed, 1);
		return false;
	}
	ev->sequence = ++ag->seq;
	event_mark(ev, EVF_EVENT_SEQUENCE);
	return true;
}

void agent_emit(struct agent *ag, struct event *ev)
{
	if (prepare(ag, ev))
		write_out(ag, ev);
}

void agent_emit_exec(struct agent *ag, struct event *ev, uint32_t dev, uint64_t ino,
		     uint64_t mtime_ns, uint64_t size)
{
	struct hashcache_key key = {dev, ino, mtime_ns, size};

	/* The exe identity rode in file.*; an exec event has no file fields of its own. */
	ev->file.inode = 0;
	ev->file.size = 0;
	ev->file.mode = 0;
	if (!prepare(ag, ev))
		return;
	if (ag->hashes && ag->config->hash_executables &&
	    !hashcache_lookup(ag->hashes, &key, ev->process.sha256)) {
		if (hashcache_submit(ag->hashes, &key, ev))
			return; /* written by the worker once hashed */
		static struct log_rate full_rate;

		log_ratelimited(&full_rate, 5, LOG_LEVEL_WARN, "agent",
				"hash queue full: exec pid=%u written without hash",
				ev->process.pid);
	}
	write_out(ag, ev);
}

void agent_emit_json(struct agent *ag, const char *json, size_t len)
{
	if (output_line(ag->out, json, len) == 0)
		atomic_fetch_add(&ag->counters.emitted, 1);
	else
		atomic_fetch_add(&ag->counters.queue_dropped, 1);
}

void agent_hash_done(void *ctx, struct event *ev)
{
	write_out(ctx, ev);
}
