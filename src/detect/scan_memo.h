/* A small memory of what a literal scanner found in short values, per matching context. Events
 * repeat their short values (event.kind "event", event.category "process", a process name, an
 * executable, a user name): a value found here with the same scanner is not scanned again, and
 * what the scan reported (nothing, or up to SCAN_MEMO_IDS literal ids) is reported again
 * instead. A scan is a function of the value's bytes and the scanner alone, so the replay is
 * exact. Only values of SCAN_MEMO_MAX_LEN bytes or fewer are kept, as two 64-bit words that
 * hold every byte (with the length, they identify the value exactly), in a direct-mapped
 * table: a collision only replaces an entry. A value with more occurrences than SCAN_MEMO_IDS
 * is not kept. Not shared between threads. */
#ifndef MAMORI_SCAN_MEMO_H
#define MAMORI_SCAN_MEMO_H

#include <stdbool.h>
#include <stdint.h>

#include "le.h"

#define SCAN_MEMO_MAX_LEN 16
#define SCAN_MEMO_LOG2 8
#define SCAN_MEMO_IDS 2

struct scan_memo_key {
	uint64_t a, b;
	uint32_t len;
	uint32_t slot;
};

struct scan_memo_entry {
	uint64_t a, b;
	const void *scanner;
	uint32_t len;
	uint32_t nids;
	uint32_t ids[SCAN_MEMO_IDS]; /* what the scan reported, in order */
};

struct scan_memo {
	struct scan_memo_entry e[1u << SCAN_MEMO_LOG2];
	uint64_t hits, misses; /* lookups that skipped a scan, and those that did not */
};

/* The key of p[0..len), 1 <= len <= SCAN_MEMO_MAX_LEN: two loads from each end that overlap
 * in the middle, so every byte is read and none past the end. */
static inline struct scan_memo_key scan_memo_key(const char *s, uint32_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	struct scan_memo_key k = {.len = len};

	if (len >= 8) {
		k.a = le64_get(p);
		k.b = le64_get(p + len - 8);
	} else if (len >= 4) {
		k.a = (uint64_t)le32_get(p) | (uint64_t)le32_get(p + len - 4) << 32;
	} else {
		for (uint32_t i = 0; i < len; i++)
			k.a |= (uint64_t)p[i] << (8 * i);
	}
	uint64_t h = (k.a ^ (k.b * 0x9E3779B97F4A7C15ull) ^ len) * 0xC2B2AE3D27D4EB4Full;
	k.slot = (uint32_t)(h >> (64 - SCAN_MEMO_LOG2));
	return k;
}

/* The entry of this value scanned by scanner (its ids are what the scan reported), or NULL. */
static inline const struct scan_memo_entry *
scan_memo_known(struct scan_memo *m, const struct scan_memo_key *k, const void *scanner)
{
	const struct scan_memo_entry *e = &m->e[k->slot];
	bool known = e->scanner == scanner && e->a == k->a && e->b == k->b && e->len == k->len;

	m->hits += known;
	m->misses += !known;
	return known ? e : NULL;
}

/* Remembers that scanner reported ids[0, n) (n <= SCAN_MEMO_IDS) in the value. */
static inline void scan_memo_put(struct scan_memo *m, const struct scan_memo_key *k,
				 const void *scanner, const uint32_t *ids, uint32_t n)
{
	struct scan_memo_entry *e = &m->e[k->slot];

	*e = (struct scan_memo_entry){
	    .a = k->a, .b = k->b, .scanner = scanner, .len = k->len, .nids = n};
	for (uint32_t i = 0; i < n && i < SCAN_MEMO_IDS; i++)
		e->ids[i] = ids[i];
}

#endif
