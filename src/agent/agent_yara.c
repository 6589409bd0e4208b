#include "agent_yara.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent_config.h"
#include "detect_alert.h"
#include "dynbuf.h"
#include "event.h"
#include "event_json.h"
#include "file_read.h"
#include "log.h"
#include "yara_scan.h"

#include "banned.h"

#define CACHE_SIZE 4096
#define MAX_CACHED_HITS 4

struct verdict {
	unsigned char sha[32];
	bool used;
	uint8_t nhits;
	const struct detect_rule_meta *hits[MAX_CACHED_HITS];
};

struct job {
	struct event ev;
	char path[EVENT_PATH_LEN];
};

struct agent_yara {
	struct yara_rules *rules;
	struct agent_yara_opts o;
	agent_yara_emit_fn emit;
	void *emit_ctx;
	pthread_t thread;
	bool started, stop, busy;
	pthread_mutex_t lock;
	pthread_cond_t cond, idle;
	struct job **queue;
	unsigned head, count;
	struct verdict *cache; /* direct-mapped by hash */
	struct agent_yara_stats st;
	/* worker only */
	unsigned char *buf;
	struct dynbuf json;
	const struct detect_rule_meta *found[MAX_CACHED_HITS];
	unsigned nfound;
};

static uint64_t now_ns(int clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct load_ctx {
	struct yara_rules *rules;
	struct dynbuf buf;
};

static void on_diag(void *ctx, const struct detect_diag *d)
{
	(void)ctx;
	if (d->fatal)
		log_warn("yara", "rule file not loaded path=%s line=%u reason=\"%s\"",
			 d->path ? d->path : "?", d->line, d->message);
}

static int load_one(void *ctx, const char *path)
{
	struct load_ctx *l = ctx;
	int rc = file_read(path, 16u << 20, &l->buf);
	if (rc < 0) {
		log_warn("yara", "rule file not read path=%s err=%s", path, strerror(-rc));
		return 0;
	}
	yara_rules_add(l->rules, path, l->buf.data, l->buf.len, on_diag, NULL);
	return 0;
}

static void *worker(void *arg);

struct agent_yara *agent_yara_new(const struct agent_config_list *paths,
				  const struct agent_yara_opts *o, agent_yara_emit_fn emit,
				  void *emit_ctx, char *err, size_t errlen)
{
	static const char *const sfx[] = {".yar", ".yara", NULL};
	struct agent_yara *y = calloc(1, sizeof(*y));
	struct load_ctx l = {0};
	if (!y) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	y->o = *o;
	if (!y->o.queue)
		y->o.queue = 64;
	if (!y->o.mb_per_s)
		y->o.mb_per_s = 50;
	y->emit = emit;
	y->emit_ctx = emit_ctx;
	pthread_mutex_init(&y->lock, NULL);
	pthread_cond_init(&y->cond, NULL);
	pthread_cond_init(&y->idle, NULL);
	dynbuf_init(&y->json, EVENT_JSON_MAX_LINE);
	y->queue = calloc(y->o.queue, sizeof(*y->queue));
	y->cache = calloc(CACHE_SIZE, sizeof(*y->cache));
	y->buf = malloc(y->o.max_file_bytes ? y->o.max_file_bytes : 1);
	y->rules = yara_rules_new();
	if (!y->queue || !y->cache || !y->buf || !y->rules) {
		snprintf(err, errlen, "out of memory (YARA buffer %llu bytes)",
			 (unsigned long long)y->o.max_file_bytes);
		goto fail;
	}
	l.rules = y->rules;
	dynbuf_init(&l.buf, (16u << 20) + 1);
	for (size_t i = 0; i < paths->n; i++) {
		int rc = file_list(paths->items[i], sfx, 100000, load_one, &l);
		if (rc < 0) {
			snprintf(err, errlen, "detect.yara %s: %s", paths->items[i], strerror(-rc));
			dynbuf_release(&l.buf);
			goto fail;
		}
	}
	dynbuf_release(&l.buf);
	if (yara_rules_finish(y->rules) < 0) {
		snprintf(err, errlen, "cannot build the YARA rules");
		goto fail;
	}
	y->st.rules = (unsigned)yara_rules_count(y->rules);
	y->st.failed_files = (unsigned)yara_rules_failed_files(y->rules);
	if (pthread_create(&y->thread, NULL, worker, y)) {
		snprintf(err, errlen, "cannot start the YARA thread");
		goto fail;
	}
	y->started = true;
	log_info("yara", "rules=%u failed_files=%u max_file_mb=%llu pace_mb_s=%u", y->st.rules,
		 y->st.failed_files, (unsigned long long)(y->o.max_file_bytes >> 20),
		 y->o.mb_per_s);
	return y;
fail:
	agent_yara_free(y);
	return NULL;
}

void agent_yara_free(struct agent_yara *y)
{
	if (!y)
		return;
	if (y->started) {
		pthread_mutex_lock(&y->lock);
		y->stop = true;
		pthread_cond_broadcast(&y->cond);
		pthread_mutex_unlock(&y->lock);
		pthread_join(y->thread, NULL);
	}
	for (unsigned i = 0; y->queue && i < y->count; i++)
		free(y->queue[(y->head + i) % y->o.queue]);
	free(y->queue);
	free(y->cache);
	free(y->buf);
	yara_rules_free(y->rules);
	dynbuf_release(&y->json);
	pthread_cond_destroy(&y->idle);
	pthread_cond_destroy(&y->cond);
	pthread_mutex_destroy(&y->lock);
	free(y);
}

void agent_yara_submit(struct agent_yara *y, const struct event *ev)
{
	const char *path = ev->action == EVENT_ACTION_EXEC ? ev->process.executable : ev->file.path;
	if (!path[0] || path[0] != '/')
		return;
	struct job *j = malloc(sizeof(*j));
	if (!j) {
		pthread_mutex_lock(&y->lock);
		y->st.dropped++;
		pthread_mutex_unlock(&y->lock);
		return;
	}
	memcpy(&j->ev, ev, sizeof(*ev));
	snprintf(j->path, sizeof(j->path), "%s", path);
	pthread_mutex_lock(&y->lock);
	if (y->count == y->o.queue) {
		y->st.dropped++;
		pthread_mutex_unlock(&y->lock);
		free(j);
		return;
	}
	y->queue[(y->head + y->count) % y->o.queue] = j;
	y->count++;
	pthread_cond_signal(&y->cond);
	pthread_mutex_unlock(&y->lock);
}

static int on_match(void *ctx, const struct detect_rule_meta *rule)
{
	struct agent_yara *y = ctx;
	if (y->nfound < MAX_CACHED_HITS)
		y->found[y->nfound++] = rule;
	return 0;
}

static void raise_alert(struct agent_yara *y, const struct job *j,
			const struct detect_rule_meta *rule, const char *sha_hex)
{
	dynbuf_reset(&y->json);
	if (event_json_encode(&j->ev, &y->json) < 0)
		return;
	json_t *ev = json_loadb(y->json.data, y->json.len, 0, NULL);
	if (!ev)
		return;
	struct detect_hit hit = {.rule = rule};
	json_t *a = detect_alert_new(&hit, ev, now_ns(CLOCK_REALTIME));
	json_decref(ev);
	if (!a)
		return;
	/* The scanned file's hash where the alert names that file, so that a policy's hash
	 * exclusion covers the alert (the event may have been sent before its hash was known). */
	const char *fp = json_string_value(detect_json_path(a, "file.path"));
	const char *exe = json_string_value(detect_json_path(a, "process.executable"));
	if (fp && !strcmp(fp, j->path))
		detect_alert_set(a, "file.hash.sha256", json_string(sha_hex));
	else if (exe && !strcmp(exe, j->path) && !detect_json_path(a, "process.hash.sha256"))
		detect_alert_set(a, "process.hash.sha256", json_string(sha_hex));
	json_t *m = json_object_get(a, "mamori");
	if (m) {
		json_object_set_new(m, "detected_by", json_string("agent"));
		json_object_set_new(m, "yara", json_pack("{s:s,s:s,s:s}", "rule", rule->id, "file",
							 j->path, "sha256", sha_hex));
	}
	char *line = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (line) {
		y->emit(y->emit_ctx, line, strlen(line));
		free(line);
	}
}

/* Reads the file with a cap; 0, -EFBIG (too big), -EMEDIUMTYPE (not an executable), -errno. */
static int read_file(struct agent_yara *y, const char *path, size_t *len, bool need_exec_magic)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = -EMEDIUMTYPE;
		goto out;
	}
	if ((uint64_t)st.st_size > y->o.max_file_bytes) {
		rc = -EFBIG;
		goto out;
	}
	size_t have = 0;
	while (have < (size_t)st.st_size) {
		ssize_t r = read(fd, y->buf + have, (size_t)st.st_size - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		if (need_exec_magic && have >= 4 && have == (size_t)r &&
		    memcmp(y->buf, "\177ELF", 4) != 0 && memcmp(y->buf, "#!", 2) != 0) {
			rc = -EMEDIUMTYPE;
			goto out;
		}
	}
	if (need_exec_magic && (have < 4 || (memcmp(y->buf, "\177ELF", 4) != 0 &&
					     memcmp(y->buf, "#!", 2) != 0)))
		rc = -EMEDIUMTYPE;
	*len = have;
out:
	close(fd);
	return rc;
}

static void scan_job(struct agent_yara *y, struct job *j)
{
	size_t len = 0;
	bool exec = j->ev.action == EVENT_ACTION_EXEC;
	int rc = read_file(y, j->path, &len, !exec);
	pthread_mutex_lock(&y->lock);
	if (rc == -EFBIG)
		y->st.skipped_size++;
	else if (rc == -EMEDIUMTYPE)
		y->st.skipped_type++;
	else if (rc < 0)
		y->st.errors++;
	pthread_mutex_unlock(&y->lock);
	if (rc < 0)
		return;
	unsigned char sha[32];
	unsigned int shalen = 0;
	EVP_Digest(y->buf, len, sha, &shalen, EVP_sha256(), NULL);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sha[i]);
	struct verdict *v = &y->cache[(sha[0] | (unsigned)sha[1] << 8) % CACHE_SIZE];
	if (v->used && memcmp(v->sha, sha, 32) == 0) {
		pthread_mutex_lock(&y->lock);
		y->st.cached++;
		pthread_mutex_unlock(&y->lock);
		for (unsigned i = 0; i < v->nhits; i++)
			raise_alert(y, j, v->hits[i], hex);
		return;
	}
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	y->nfound = 0;
	int n = yara_rules_scan(y->rules, y->buf, len, 10, on_match, y);
	pthread_mutex_lock(&y->lock);
	y->st.scanned++;
	y->st.bytes += len;
	if (n < 0)
		y->st.errors++;
	else
		y->st.matches += (uint64_t)n;
	pthread_mutex_unlock(&y->lock);
	if (n >= 0) {
		memcpy(v->sha, sha, 32);
		v->used = true;
		v->nhits = (uint8_t)y->nfound;
		memcpy(v->hits, y->found, sizeof(v->hits));
		for (unsigned i = 0; i < y->nfound; i++)
			raise_alert(y, j, y->found[i], hex);
	}
	/* Pace: len bytes may take len / rate seconds; sleep off the difference. */
	uint64_t want = (uint64_t)len * 1000000000ull / ((uint64_t)y->o.mb_per_s << 20);
	uint64_t took = now_ns(CLOCK_MONOTONIC) - t0;
	if (want > took) {
		struct timespec ts = {(time_t)((want - took) / 1000000000ull),
				      (long)((want - took) % 1000000000ull)};
		nanosleep(&ts, NULL);
	}
}

static void *worker(void *arg)
{
	struct agent_yara *y = arg;
	for (;;) {
		pthread_mutex_lock(&y->lock);
		while (!y->count && !y->stop) {
			y->busy = false;
			pthread_cond_broadcast(&y->idle);
			pthread_cond_wait(&y->cond, &y->lock);
		}
		if (!y->count && y->stop) {
			y->busy = false;
			pthread_cond_broadcast(&y->idle);
			pthread_mutex_unlock(&y->lock);
			break;
		}
		struct job *j = y->queue[y->head];
		y->head = (y->head + 1) % y->o.queue;
		y->count--;
		y->busy = true;
		pthread_mutex_unlock(&y->lock);
		scan_job(y, j);
		free(j);
	}
	return NULL;
}

void agent_yara_get_stats(struct agent_yara *y, struct agent_yara_stats *st)
{
	pthread_mutex_lock(&y->lock);
	*st = y->st;
	pthread_mutex_unlock(&y->lock);
}

bool agent_yara_idle(struct agent_yara *y, unsigned timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&y->lock);
	while (y->count || y->busy)
		if (pthread_cond_timedwait(&y->idle, &y->lock, &ts) == ETIMEDOUT)
			break;
	bool idle = !y->count && !y->busy;
	pthread_mutex_unlock(&y->lock);
	return idle;
}
