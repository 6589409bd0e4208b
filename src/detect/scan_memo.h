/* A small memory of short values that a literal scanner found nothing in, per matching context.
 * Events repeat their short values (event.kind "event", event.category "process", a process
 * name, a user name): a value found here with the same scanner is not scanned again. Only
 * values of SCAN_MEMO_MAX_LEN bytes or fewer are kept, as two 64-bit words that hold every
 * byte (with the length, they identify the value exactly), in a direct-mapped table: a
 * collision only replaces an entry. Values a scan found a literal in are never kept, so what a
 * scan would report is always reported. Not shared between threads. */
#ifndef MAMORI_SCAN_MEMO_H
#define MAMORI_SCAN_MEMO_H

#include <stdbool.h>
#include <stdint.h>

#include "le.h"

#define SCAN_MEMO_MAX_LEN 16
#define SCAN_MEMO_LOG2 8

struct scan_memo_key {
	uint64_t a, b;
	uint32_t len;
	uint32_t slot;
};

struct scan_memo_entry {
	uint64_t a, b;
	const void *scanner;
	uint32_t len;
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

/* True when scanner found nothing in this value before. */
static inline bool scan_memo_known(struct scan_memo *m, const struct scan_memo_key *k,
				   const void *scanner)
{
	const struct scan_memo_entry *e = &m->e[k->slot];
	bool known = e->scanner == scanner && e->a == k->a && e->b == k->b && e->len == k->len;

	m->hits += known;
	m->misses += !known;
	return known;
}

/* Remembers that scanner found nothing in the value. */
static inline void scan_memo_put(struct scan_memo *m, const struct scan_memo_key *k,
				 const void *scanner)
{
	m->e[k->slot] =
	    (struct scan_memo_entry){.a = k->a, .b = k->b, .scanner = scanner, .len = k->len};
}

#endif
