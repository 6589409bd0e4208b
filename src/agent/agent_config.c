#include "agent_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "log.h"

#include "banned.h"

#define MAX_FILE_BYTES (1024 * 1024)

enum key_type { K_BOOL, K_U32, K_U64, K_I32, K_STR, K_MODE, K_LIST, K_LEVEL };

struct key_desc {
	const char *name;
	enum key_type type;
	size_t offset;
	uint64_t min, max;
};

#define OFF(m) offsetof(struct agent_config, m)
static const struct key_desc keys[] = {
    {"log_level", K_LEVEL, OFF(log_level), 0, 0},
    {"host_name", K_STR, OFF(host_name), 0, 0},
    {"sources.ebpf", K_MODE, OFF(src_ebpf), 0, 0},
    {"sources.fanotify", K_MODE, OFF(src_fanotify), 0, 0},
    {"sources.netlink", K_MODE, OFF(src_netlink), 0, 0},
    {"sources.audit", K_MODE, OFF(src_audit), 0, 0},
    {"sources.procfs", K_MODE, OFF(src_procfs), 0, 0},
    {"sources.inventory", K_MODE, OFF(src_inventory), 0, 0},
    {"sources.syscalls", K_BOOL, OFF(syscalls), 0, 0},
    {"sources.syscalls_raw", K_BOOL, OFF(syscalls_raw), 0, 0},
    {"sources.dns", K_BOOL, OFF(dns), 0, 0},
    {"ignore.comm", K_LIST, OFF(ignore_comm), 0, 0},
    {"ignore.executable", K_LIST, OFF(ignore_executable), 0, 0},
    {"ignore.path_prefix", K_LIST, OFF(ignore_path_prefix), 0, 0},
    {"file.writes", K_BOOL, OFF(file_writes), 0, 0},
    {"file.skip_fs", K_LIST, OFF(skip_fs), 0, 0},
    {"process.args_max_count", K_U32, OFF(args_max_count), 1, 4096},
    {"process.hash", K_BOOL, OFF(hash_executables), 0, 0},
    {"process.hash_max_bytes", K_U64, OFF(hash_max_bytes), 1, 1ull << 40},
    {"ringbuf.size_kb", K_U32, OFF(ringbuf_kb), 64, 1024 * 1024},
    {"ringbuf.wakeup_ms", K_U32, OFF(wakeup_ms), 1, 1000},
    {"ringbuf.wakeup_bytes", K_U32, OFF(wakeup_bytes), 1, 1u << 30},
    {"budget.cpu_percent", K_U32, OFF(budget_cpu_percent), 1, 100},
    {"budget.memory_mb", K_U32, OFF(budget_memory_mb), 8, 1u << 20},
    {"budget.queue_events", K_U32, OFF(queue_events), 1, 65536},
    {"budget.nice", K_I32, OFF(nice), 0, 0}, /* range -20..19, checked below */
    {"budget.idle_class", K_BOOL, OFF(idle_class), 0, 0},
    {"inventory.interval_s", K_U32, OFF(inventory_interval_s), 0, 7 * 86400},
    {"stats.interval_s", K_U32, OFF(stats_interval_s), 1, 86400},
    {"replay.path", K_STR, OFF(replay_path), 0, 0},
    {"state_dir", K_STR, OFF(state_dir), 0, 0},
    {"spool.max_mb", K_U32, OFF(spool_max_mb), 1, 1024 * 1024},
    {"spool.sync", K_BOOL, OFF(spool_sync), 0, 0},
    {"uplink.batch_events", K_U32, OFF(batch_events), 1, 100000},
    {"uplink.batch_kb", K_U32, OFF(batch_kb), 1, 16 * 1024},
    {"uplink.batch_ms", K_U32, OFF(batch_ms), 10, 60000},
    {"uplink.heartbeat_s", K_U32, OFF(heartbeat_s), 1, 3600},
    {"detect.rules", K_LIST, OFF(detect_rules), 0, 0},
    {"detect.iocs", K_LIST, OFF(detect_iocs), 0, 0},
    {"detect.yara", K_LIST, OFF(detect_yara), 0, 0},
    {"detect.yara_max_mb", K_U32, OFF(yara_max_mb), 1, 1024},
    {"detect.yara_mb_per_s", K_U32, OFF(yara_mb_per_s), 1, 10000},
};

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		log_error("config", "out of memory");
		abort();
	}
	return d;
}

void agent_config_init(struct agent_config *c)
{
	memset(c, 0, sizeof(*c));
	c->log_level = xstrdup("info");
	c->host_name = xstrdup("");
	c->replay_path = xstrdup("");
	c->state_dir = xstrdup("/var/lib/mamori");
	c->spool_max_mb = 512;
	c->spool_sync = true;
	c->batch_events = 4000;
	c->batch_kb = 1024;
	c->batch_ms = 1000;
	c->heartbeat_s = 10;
	c->src_ebpf = c->src_fanotify = c->src_netlink = c->src_audit = c->src_procfs =
	    c->src_inventory = SOURCE_MODE_AUTO;
	c->syscalls = true;
	c->dns = true;
	c->file_writes = true;
	c->args_max_count = 256;
	c->hash_executables = true;
	c->hash_max_bytes = 256ull * 1024 * 1024;
	c->ringbuf_kb = 4 * 1024;
	c->wakeup_ms = 50;
	c->wakeup_bytes = 1024 * 1024;
	c->budget_cpu_percent = 25;
	c->budget_memory_mb = 30;
	c->queue_events = 64;
	c->nice = 10;
	c->idle_class = true;
	c->inventory_interval_s = 3600;
	c->stats_interval_s = 60;
	c->yara_max_mb = 32;
	c->yara_mb_per_s = 50;
}

static void list_clear(struct agent_config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	l->n = 0;
}

void agent_config_release(struct agent_config *c)
{
	free(c->log_level);
	free(c->host_name);
	free(c->replay_path);
	free(c->state_dir);
	list_clear(&c->ignore_comm);
	list_clear(&c->ignore_executable);
	list_clear(&c->ignore_path_prefix);
	list_clear(&c->skip_fs);
	list_clear(&c->detect_rules);
	list_clear(&c->detect_iocs);
	list_clear(&c->detect_yara);
	memset(c, 0, sizeof(*c));
}

bool agent_config_list_has(const struct agent_config_list *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->items[i], s) == 0)
			return true;
	}
	return false;
}

struct loader {
	struct agent_config *c;
	const char *name;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int bad(struct loader *l, size_t line, const char *fmt,
						     ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(l->err, l->errlen, "%s:%zu: %s", l->name, line + 1, msg);
	return -EINVAL;
}

static const struct key_desc *find_key(const char *name)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
	return NULL;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static int set_scalar(struct loader *l, const struct key_desc *k, const char *v, size_t line)
{
	void *p = (char *)l->c + k->offset;
	unsigned long long n;
	char *end;

	switch (k->type) {
	case K_BOOL:
		if (parse_bool(v, p))
			return bad(l, line, "expected true or false, got '%s'", v);
		return 0;
	case K_U32:
	case K_U64:
		errno = 0;
		n = strtoull(v, &end, 10);
		if (!v[0] || *end || errno || v[0] == '-')
			return bad(l, line, "expected a whole number, got '%s'", v);
		if (n < k->min || n > k->max) {
			char range[160];

			snprintf(range, sizeof(range), "%s: %llu is out of range %llu..%llu",
				 k->name, n, (unsigned long long)k->min,
				 (unsigned long long)k->max);
			return bad(l, line, "%s", range);
		}
		if (k->type == K_U32)
			*(uint32_t *)p = (uint32_t)n;
		else
			*(uint64_t *)p = (uint64_t)n;
		return 0;
	case K_I32: {
		long iv;

		errno = 0;
		iv = strtol(v, &end, 10);
		if (!v[0] || *end || errno)
			return bad(l, line, "expected a whole number, got '%s'", v);
		if (iv < -20 || iv > 19)
			return bad(l, line, "%s: %ld is out of range -20..19", k->name, iv);
		*(int32_t *)p = (int32_t)iv;
		return 0;
	}
	case K_MODE:
		if (!strcmp(v, "auto"))
			*(enum source_mode *)p = SOURCE_MODE_AUTO;
		else if (!strcmp(v, "on") || !strcmp(v, "true"))
			*(enum source_mode *)p = SOURCE_MODE_ON;
		else if (!strcmp(v, "off") || !strcmp(v, "false"))
			*(enum source_mode *)p = SOURCE_MODE_OFF;
		else
			return bad(l, line, "expected auto, on or off, got '%s'", v);
		return 0;
	case K_LEVEL: {
		enum log_level lv;

		if (log_level_parse(v, &lv))
			return bad(l, line, "expected debug, info, warn or error, got '%s'", v);
	}
		/* fall through */
	case K_STR:
		if (strlen(v) > 4096)
			return bad(l, line, "%s: value too long", k->name);
		free(*(char **)p);
		*(char **)p = xstrdup(v);
		return 0;
	case K_LIST:
		return bad(l, line, "%s: expected a list", k->name);
	}
	return -EINVAL;
}

static int add_item(struct loader *l, const struct key_desc *k, const char *v, size_t line)
{
	struct agent_config_list *list = (struct agent_config_list *)((char *)l->c + k->offset);

	if (list->n >= AGENT_CONFIG_LIST_MAX)
		return bad(l, line, "%s: too many entries", k->name);
	if (!v[0] || strlen(v) > 4096)
		return bad(l, line, "%s: empty or too long entry", k->name);
	list->items[list->n++] = xstrdup(v);
	return 0;
}

/* Walks the document with libyaml's event API, keeping the path of mapping keys. */
static int walk(struct loader *l, yaml_parser_t *p)
{
	char path[256] = "";
	size_t depth_len[8] = {0};
	int depth = -1; /* mapping depth */
	bool want_key[8] = {false};
	const struct key_desc *list_key = NULL;
	bool in_seq = false;
	int rc = 0;

	for (bool done = false; !done && rc == 0;) {
		yaml_event_t ev;
		size_t line;

		if (!yaml_parser_parse(p, &ev)) {
			return bad(l, p->problem_mark.line, "YAML error: %s",
				   p->problem ? p->problem : "malformed");
		}
		line = ev.start_mark.line;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_MAPPING_START_EVENT:
			if (in_seq) {
				rc = bad(l, line, "%s: list entries must be plain values", path);
				break;
			}
			if (depth + 1 >= 8) {
				rc = bad(l, line, "%s", "nesting too deep");
				break;
			}
			if (depth >= 0 && want_key[depth]) {
				rc = bad(l, line, "%s", "a mapping cannot be a key");
				break;
			}
			depth++;
			depth_len[depth] = strlen(path);
			want_key[depth] = true;
			break;
		case YAML_MAPPING_END_EVENT:
			path[depth_len[depth]] = '\0';
			depth--;
			if (depth >= 0) {
				/* The value of the enclosing key is complete: drop that key. */
				path[depth_len[depth]] = '\0';
				want_key[depth] = true;
			}
			break;
		case YAML_SEQUENCE_START_EVENT:
			if (depth < 0 || want_key[depth] || in_seq) {
				rc = bad(l, line, "%s", "unexpected list");
				break;
			}
			list_key = find_key(path);
			if (!list_key)
				rc = bad(l, line, "unknown key '%s'", path);
			else if (list_key->type != K_LIST)
				rc = bad(l, line, "%s: expected a single value, not a list", path);
			else
				list_clear(
				    (struct agent_config_list *)((char *)l->c + list_key->offset));
			in_seq = true;
			break;
		case YAML_SEQUENCE_END_EVENT:
			in_seq = false;
			path[depth_len[depth]] = '\0';
			want_key[depth] = true;
			break;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ev.data.scalar.value;

			if (depth < 0) {
				if (v[0])
					rc = bad(l, line, "%s", "expected a mapping of keys");
				break;
			}
			if (in_seq) {
				rc = add_item(l, list_key, v, line);
				break;
			}
			if (want_key[depth]) {
				size_t at = depth_len[depth];

				if (at + 1 + strlen(v) >= sizeof(path)) {
					rc = bad(l, line, "%s", "key too long");
					break;
				}
				snprintf(path + at, sizeof(path) - at, "%s%s", at ? "." : "", v);
				want_key[depth] = false;
				break;
			}
			const struct key_desc *k = find_key(path);

			if (!k)
				rc = bad(l, line, "unknown key '%s'", path);
			else if (k->type == K_LIST && !v[0])
				list_clear((struct agent_config_list *)((char *)l->c + k->offset));
			else
				rc = set_scalar(l, k, v, line);
			path[depth_len[depth]] = '\0';
			want_key[depth] = true;
			break;
		}
		case YAML_ALIAS_EVENT:
			rc = bad(l, line, "%s", "YAML aliases are not allowed");
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	return rc;
}

int agent_config_load_string(struct agent_config *c, const char *yaml, size_t len, const char *name,
			     char *err, size_t errlen)
{
	struct loader l = {c, name, err, errlen};
	yaml_parser_t p;
	int rc;

	if (len > MAX_FILE_BYTES) {
		snprintf(err, errlen, "%s: larger than %d bytes", name, MAX_FILE_BYTES);
		return -EINVAL;
	}
	if (!yaml_parser_initialize(&p)) {
		snprintf(err, errlen, "%s: cannot start the YAML parser", name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
	rc = walk(&l, &p);
	yaml_parser_delete(&p);
	return rc;
}

int agent_config_load(struct agent_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;
	int rc;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	buf = malloc(MAX_FILE_BYTES + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, MAX_FILE_BYTES + 1, f);
	fclose(f);
	rc = agent_config_load_string(c, buf, n, path, err, errlen);
	free(buf);
	return rc;
}
