#include "prevalence.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store.h"

#include "banned.h"

#define MAX_PENDING 65536

static const char *const T_EXEC[] = {"Execution"};
static const char *const X_BIN[] = {"T1204"};
static const char *const X_PAIR[] = {"T1059"};

static const struct detect_rule_meta RULES[2] = {
    [PREVALENCE_BINARY] =
	{.id = "mamori-prevalence-new-binary",
	 .title = "Binary never seen before in the fleet",
	 .description = "The first execution, anywhere in the fleet, of a file with this SHA-256 "
			"(or at this path when it has no hash).",
	 .path = "builtin", .status = "stable", .kind = "prevalence",
	 .severity = DETECT_SEV_LOW, .risk_score = 25,
	 .advice = "Check where the file came from (package, build, download: process tree and "
		   "file events) and who ran it. Unknown origin: quarantine it and scan the host.",
	 .tactics = T_EXEC, .ntactics = 1, .techniques = X_BIN, .ntechniques = 1, .generate = true},
    [PREVALENCE_PAIR] =
	{.id = "mamori-prevalence-rare-parent-child",
	 .title = "Parent -> child process pair never seen before in the fleet",
	 .description = "A process started a program it has never started anywhere in the fleet "
			"before, such as a web server starting a shell.",
	 .path = "builtin", .status = "stable", .kind = "prevalence",
	 .severity = DETECT_SEV_LOW, .risk_score = 30,
	 .advice = "Look at the child's command line and what it did next. A service process "
		   "starting a shell or a download tool is a common sign of exploitation.",
	 .tactics = T_EXEC, .ntactics = 1, .techniques = X_PAIR, .ntechniques = 1, .generate = true},
};

struct pending {
	int kind;
	uint64_t hash;
	char key[256];
	uint64_t ts;
};

struct prevalence {
	pthread_mutex_t lock;
	uint64_t *slots; /* open addressing of (hash | 1) */
	size_t cap, count;
	uint64_t baseline_ns, learning_ns;
	struct pending *pending;
	size_t npending;
};

static uint64_t key_hash(int kind, const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)kind;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h | 1; /* 0 marks an empty slot */
}

static int grow(struct prevalence *p)
{
	size_t nc = p->cap ? p->cap * 2 : 1u << 16;
	uint64_t *ns = calloc(nc, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < p->cap; i++)
		if (p->slots[i]) {
			size_t k = p->slots[i] & (nc - 1);
			while (ns[k])
				k = (k + 1) & (nc - 1);
			ns[k] = p->slots[i];
		}
	free(p->slots);
	p->slots = ns;
	p->cap = nc;
	return 0;
}

/* true when h was not there (and is now). */
static bool insert(struct prevalence *p, uint64_t h)
{
	if ((p->count + 1) * 2 > p->cap && grow(p) < 0)
		return false;
	size_t k = h & (p->cap - 1);
	while (p->slots[k]) {
		if (p->slots[k] == h)
			return false;
		k = (k + 1) & (p->cap - 1);
	}
	p->slots[k] = h;
	p->count++;
	return true;
}

static int load_row(void *ctx, const struct store_val *c, size_t n)
{
	struct prevalence *p = ctx;
	if (n < 2 || c[0].type != STORE_INT || c[1].type != STORE_TEXT)
		return 0;
	insert(p, key_hash((int)c[0].i, c[1].s, c[1].n));
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct prevalence *prevalence_new(struct store *st, uint64_t learning_s)
{
	struct prevalence *p = calloc(1, sizeof(*p));
	if (!p || grow(p) < 0 || !(p->pending = calloc(MAX_PENDING, sizeof(*p->pending)))) {
		prevalence_free(p);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->learning_ns = learning_s * 1000000000ull;
	int64_t base = 0;
	if (store_query_int(st, "SELECT first_seen FROM prevalence WHERE kind = -1", NULL, 0,
			    &base) != 0) {
		base = (int64_t)now_ns();
		struct store_val v[] = {store_int(base)};
		store_exec(st,
			   "INSERT INTO prevalence (kind, key, first_seen, last_seen) VALUES "
			   "(-1, 'baseline', ?, 0) ON CONFLICT (kind, key) DO NOTHING",
			   v, 1, NULL, NULL);
		store_query_int(st, "SELECT first_seen FROM prevalence WHERE kind = -1", NULL, 0,
				&base);
	}
	p->baseline_ns = (uint64_t)base;
	if (store_exec(st, "SELECT kind, key FROM prevalence WHERE kind >= 0", NULL, 0, load_row,
		       p) < 0)
		log_warn("prevalence", "cannot load known keys: %s", store_error(st));
	log_info("prevalence", "known=%zu learning_until_s=%llu", p->count,
		 (unsigned long long)((p->baseline_ns + p->learning_ns) / 1000000000ull));
	return p;
}

void prevalence_free(struct prevalence *p)
{
	if (!p)
		return;
	free(p->slots);
	free(p->pending);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

bool prevalence_check(struct prevalence *p, enum prevalence_kind kind, const char *key,
		      size_t len, uint64_t now)
{
	if (!len)
		return false;
	uint64_t h = key_hash((int)kind, key, len);
	pthread_mutex_lock(&p->lock);
	bool fresh = insert(p, h);
	if (fresh && p->npending < MAX_PENDING) {
		struct pending *q = &p->pending[p->npending++];
		q->kind = (int)kind;
		q->hash = h;
		size_t n = len < sizeof(q->key) - 1 ? len : sizeof(q->key) - 1;
		memcpy(q->key, key, n);
		q->key[n] = 0;
		q->ts = now;
	}
	bool alert = fresh && now_ns() >= p->baseline_ns + p->learning_ns;
	pthread_mutex_unlock(&p->lock);
	return alert;
}

int prevalence_flush(struct prevalence *p, struct store *st)
{
	struct pending *batch = NULL;
	size_t n;
	int rc = 0;
	pthread_mutex_lock(&p->lock);
	bool any = p->npending > 0;
	pthread_mutex_unlock(&p->lock);
	if (!any)
		return 0;
	if (!(batch = malloc(1024 * sizeof(*batch))))
		return -ENOMEM;
	if ((rc = store_begin(st)) != 0) {
		free(batch);
		return rc;
	}
	do {
		pthread_mutex_lock(&p->lock);
		n = p->npending < 1024 ? p->npending : 1024;
		memcpy(batch, p->pending + p->npending - n, n * sizeof(*batch));
		p->npending -= n;
		pthread_mutex_unlock(&p->lock);
		for (size_t i = 0; i < n && rc == 0; i++) {
			struct store_val v[] = {store_int(batch[i].kind), store_text(batch[i].key),
						store_int((int64_t)batch[i].ts),
						store_int((int64_t)batch[i].ts)};
			if (store_exec(st,
				       "INSERT INTO prevalence (kind, key, first_seen, last_seen) "
				       "VALUES (?, ?, ?, ?) ON CONFLICT (kind, key) DO NOTHING",
				       v, 4, NULL, NULL) < 0)
				rc = -EIO;
		}
	} while (n && rc == 0);
	if (rc == 0)
		rc = store_commit(st);
	if (rc)
		store_rollback(st);
	free(batch);
	return rc;
}

const struct detect_rule_meta *prevalence_rule(enum prevalence_kind kind)
{
	return &RULES[kind];
}

uint64_t prevalence_known(struct prevalence *p)
{
	pthread_mutex_lock(&p->lock);
	uint64_t n = p->count;
	pthread_mutex_unlock(&p->lock);
	return n;
}
