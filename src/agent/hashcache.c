#include "hashcache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <openssl/evp.h>

#include "banned.h"

struct cache_entry {
	struct hashcache_key key;
	bool used;
	uint64_t last_use;
	char hex[65];
};

struct job {
	struct hashcache_key key;
	struct event ev;
};

struct hashcache {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool stop;
	struct cache_entry *cache;
	unsigned entries;
	uint64_t clock;
	struct job *jobs; /* ring of queue_len */
	unsigned queue_len, head, count;
	uint64_t max_bytes;
	hashcache_done_fn done;
	void *ctx;
	struct hashcache_stats stats;
};

static bool key_eq(const struct hashcache_key *a, const struct hashcache_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->mtime_ns == b->mtime_ns &&
	       a->size == b->size;
}

static unsigned key_slot(const struct hashcache *h, const struct hashcache_key *k)
{
	uint64_t x = k->ino * 0x9E3779B97F4A7C15ull ^ k->dev ^ (k->mtime_ns * 31) ^ k->size;

	return (unsigned)((x ^ (x >> 29)) % h->entries);
}

/* Set-associative: four ways per slot, least recently used way replaced. Locked by caller. */
static struct cache_entry *find(struct hashcache *h, const struct hashcache_key *k, bool insert)
{
	unsigned base = key_slot(h, k) & ~3u;
	struct cache_entry *victim = &h->cache[base];

	for (unsigned w = 0; w < 4 && base + w < h->entries; w++) {
		struct cache_entry *e = &h->cache[base + w];

		if (e->used && key_eq(&e->key, k)) {
			e->last_use = ++h->clock;
			return e;
		}
		if (!e->used || e->last_use < victim->last_use)
			victim = e;
	}
	if (!insert)
		return NULL;
	victim->used = true;
	victim->key = *k;
	victim->last_use = ++h->clock;
	victim->hex[0] = '\0';
	return victim;
}

int hashcache_file(const char *path, const struct hashcache_key *want, uint64_t max_bytes,
		   char *out)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	struct stat st;
	EVP_MD_CTX *ctx;
	ssize_t n;
	uint64_t total = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (want && (st.st_ino != want->ino)) {
		close(fd);
		return -ESTALE;
	}
	if ((uint64_t)st.st_size > max_bytes) {
		close(fd);
		return -EFBIG;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		total += (uint64_t)n;
		if (total > max_bytes) {
			rc = -EFBIG;
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (unsigned i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
out:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return rc;
}

static void hash_job(struct hashcache *h, struct job *j)
{
	char path[64], hex[65];
	bool cached;
	int rc;

	pthread_mutex_lock(&h->lock);
	{
		struct cache_entry *e = find(h, &j->key, false);

		cached = e && e->hex[0];
		if (cached)
			memcpy(hex, e->hex, sizeof(hex));
	}
	pthread_mutex_unlock(&h->lock);
	if (!cached) {
		/* /proc/<pid>/exe reaches the very file that ran, even deleted or a memfd. */
		snprintf(path, sizeof(path), "/proc/%u/exe", j->ev.process.pid);
		rc = hashcache_file(path, &j->key, h->max_bytes, hex);
		if (rc && j->ev.process.executable[0])
			rc = hashcache_file(j->ev.process.executable, &j->key, h->max_bytes, hex);
		pthread_mutex_lock(&h->lock);
		if (rc == 0) {
			memcpy(find(h, &j->key, true)->hex, hex, sizeof(hex));
			h->stats.hashed++;
		} else {
			h->stats.failed++;
			hex[0] = '\0';
		}
		pthread_mutex_unlock(&h->lock);
	}
	event_copy_str(j->ev.process.sha256, sizeof(j->ev.process.sha256), hex, strlen(hex));
	h->done(h->ctx, &j->ev);
}

static void *worker(void *arg)
{
	struct hashcache *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (h->count == 0 && !h->stop)
			pthread_cond_wait(&h->cond, &h->lock);
		if (h->count == 0 && h->stop)
			break;
		struct job *j = &h->jobs[h->head];

		/* The slot stays reserved (count not yet lowered) while it is being hashed. */
		pthread_mutex_unlock(&h->lock);
		hash_job(h, j);
		pthread_mutex_lock(&h->lock);
		h->head = (h->head + 1) % h->queue_len;
		h->count--;
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

struct hashcache *hashcache_new(unsigned entries, unsigned queue_len, uint64_t max_bytes,
				hashcache_done_fn done, void *ctx)
{
	struct hashcache *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->entries = entries < 4 ? 4 : entries;
	h->queue_len = queue_len ? queue_len : 1;
	h->max_bytes = max_bytes;
	h->done = done;
	h->ctx = ctx;
	h->cache = calloc(h->entries, sizeof(*h->cache));
	h->jobs = calloc(h->queue_len, sizeof(*h->jobs));
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	if (!h->cache || !h->jobs || pthread_create(&h->thread, NULL, worker, h) != 0) {
		free(h->cache);
		free(h->jobs);
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	return h;
}

void hashcache_free(struct hashcache *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h->cache);
	free(h->jobs);
	free(h);
}

bool hashcache_lookup(struct hashcache *h, const struct hashcache_key *k, char *out)
{
	struct cache_entry *e;
	bool hit = false;

	pthread_mutex_lock(&h->lock);
	e = find(h, k, false);
	if (e && e->hex[0]) {
		memcpy(out, e->hex, 65);
		hit = true;
		h->stats.hits++;
	} else {
		h->stats.misses++;
	}
	pthread_mutex_unlock(&h->lock);
	return hit;
}

bool hashcache_submit(struct hashcache *h, const struct hashcache_key *k, const struct event *ev)
{
	struct job *j;

	pthread_mutex_lock(&h->lock);
	if (h->count >= h->queue_len || h->stop) {
		h->stats.queue_full++;
		pthread_mutex_unlock(&h->lock);
		return false;
	}
	/* Copied under the lock: the worker may look at the slot as soon as count covers it. */
	j = &h->jobs[(h->head + h->count) % h->queue_len];
	j->key = *k;
	memcpy(&j->ev, ev, sizeof(*ev));
	h->count++;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	return true;
}

void hashcache_get_stats(struct hashcache *h, struct hashcache_stats *out)
{
	pthread_mutex_lock(&h->lock);
	*out = h->stats;
	pthread_mutex_unlock(&h->lock);
}
