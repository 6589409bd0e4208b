/* SHA-256 of executables, cached by (device, inode, mtime, size) so an unchanged binary is hashed
 * once, and computed by a worker thread so hashing never blocks the event path: an exec whose
 * file is not cached waits in a bounded queue and is written out once hashed. */
#ifndef MAMORI_HASHCACHE_H
#define MAMORI_HASHCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"

struct hashcache;

struct hashcache_key {
	uint32_t dev;
	uint64_t ino;
	uint64_t mtime_ns;
	uint64_t size;
};

/* Called by the worker with the event once hashed (sha256 filled, or empty if unreadable). */
typedef void (*hashcache_done_fn)(void *ctx, struct event *ev);

/* Caller owns the result. queue_len events of room are allocated up front; files larger than
 * max_bytes are not hashed. */
struct hashcache *hashcache_new(unsigned entries, unsigned queue_len, uint64_t max_bytes,
				hashcache_done_fn done, void *ctx);
/* Stops the worker after it finishes the queued events (each still goes to done). */
void hashcache_free(struct hashcache *h);

/* Cached digest into out[65]; false on a miss. Thread-safe. */
bool hashcache_lookup(struct hashcache *h, const struct hashcache_key *k, char *out);

/* Queues a copy of ev to be hashed from /proc/<pid>/exe (falling back to the executable path,
 * checked against the key). False when the queue is full; the caller then emits without hash. */
bool hashcache_submit(struct hashcache *h, const struct hashcache_key *k, const struct event *ev);

/* Hashes a file now (no cache): 0 and hex digest in out[65], or a negative errno. When want is
 * non-NULL the open file must match it (device and inode). */
int hashcache_file(const char *path, const struct hashcache_key *want, uint64_t max_bytes,
		   char *out);

struct hashcache_stats {
	uint64_t hits, misses, hashed, failed, queue_full;
};
void hashcache_get_stats(struct hashcache *h, struct hashcache_stats *out);

#endif
