/* Per-block Bloom filters of the embedded store (docs/storage.md): every stored block of events
 * carries one filter over the values of its high-cardinality columns (process ids, hashes, paths,
 * addresses...), so an equality search reads only the blocks that may hold the value instead of
 * keeping a B-tree index entry per event. Pure: no I/O.
 *
 * A filter is "blocked": each key sets 6 bits inside one 64-byte block, so a test touches one cache
 * line. About 10 bits per distinct key, about 1% false positives. */
#ifndef MAMORI_EVENT_BLOOM_H
#define MAMORI_EVENT_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

/* True when the store keeps column (an events table column name) in its block filters. */
bool event_bloom_column(const char *column);

/* The filter key of value[0..len) in column: the same on the writing and the searching side.
 * event_bloom_key_at(event_bloom_seed(column), ...) is the same key, for a writer that keys many
 * values of one column. */
uint64_t event_bloom_key(const char *column, const char *value, size_t len);
uint64_t event_bloom_seed(const char *column);
uint64_t event_bloom_key_at(uint64_t seed, const char *value, size_t len);

/* Collects distinct keys, then writes a filter sized for them. */
struct event_bloom {
	uint64_t *set; /* open addressing; 0 marks an empty slot */
	size_t cap, n;
};

void event_bloom_init(struct event_bloom *b);
void event_bloom_release(struct event_bloom *b);
void event_bloom_reset(struct event_bloom *b);
/* 0, or -ENOMEM. */
int event_bloom_add(struct event_bloom *b, uint64_t key);
/* Appends the filter's bytes to out. 0, or -ENOMEM / -ENOSPC (out's cap). */
int event_bloom_write(const struct event_bloom *b, struct dynbuf *out);

/* False only when the filter proves key was never added. A blob that is not a filter (damaged,
 * or from a future version) answers true: a search then reads the block instead of missing it. */
bool event_bloom_may_contain(const void *blob, size_t len, uint64_t key);

#endif
