#include "event_bloom.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash64.h"

#include "banned.h"

#define BLOOM_VERSION 1
#define BLOOM_HEADER 8
#define BLOOM_BLOCK 64 /* bytes: one cache line */
#define BLOOM_BITS_PER_KEY 10
#define BLOOM_K 6
#define BLOOM_MAX_BLOCKS (1u << 24)
#define GOLDEN 0x9e3779b97f4a7c15ull

/* host: a batch comes from one agent, so its filter picks out that host's blocks, and no
 * (host, ts) index is kept per event (with a hundred agents it cost a third of the ingest rate). */
static const char *const bloom_columns[] = {
    "entity_id", "parent_entity_id", "hash", "path", "src_ip", "dst_ip",
    "exe",	 "name",	     "user_name", "dns", "host",
};

bool event_bloom_column(const char *column)
{
	for (size_t i = 0; i < sizeof(bloom_columns) / sizeof(bloom_columns[0]); i++)
		if (!strcmp(bloom_columns[i], column))
			return true;
	return false;
}

uint64_t event_bloom_seed(const char *column)
{
	return hash64_bytes(column, strlen(column), 0);
}

uint64_t event_bloom_key_at(uint64_t seed, const char *value, size_t len)
{
	return hash64_bytes(value, len, seed);
}

uint64_t event_bloom_key(const char *column, const char *value, size_t len)
{
	return event_bloom_key_at(event_bloom_seed(column), value, len);
}

void event_bloom_init(struct event_bloom *b)
{
	memset(b, 0, sizeof(*b));
}

void event_bloom_release(struct event_bloom *b)
{
	free(b->set);
	memset(b, 0, sizeof(*b));
}

void event_bloom_reset(struct event_bloom *b)
{
	if (b->set && b->n)
		memset(b->set, 0, b->cap * sizeof(*b->set));
	b->n = 0;
}

static void set_put(uint64_t *set, size_t cap, uint64_t key, size_t *n)
{
	size_t i = (size_t)(hash64_mix(key) & (cap - 1));

	while (set[i] && set[i] != key)
		i = (i + 1) & (cap - 1);
	if (!set[i]) {
		set[i] = key;
		(*n)++;
	}
}

int event_bloom_add(struct event_bloom *b, uint64_t key)
{
	if (!key)
		key = 1; /* 0 marks an empty slot */
	if ((b->n + 1) * 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024, n = 0;
		uint64_t *set = calloc(cap, sizeof(*set));

		if (!set)
			return -ENOMEM;
		for (size_t i = 0; i < b->cap; i++)
			if (b->set[i])
				set_put(set, cap, b->set[i], &n);
		free(b->set);
		b->set = set;
		b->cap = cap;
		b->n = n;
	}
	set_put(b->set, b->cap, key, &b->n);
	return 0;
}

static inline size_t block_of(uint64_t key, uint32_t nblocks)
{
	return (size_t)(((key >> 32) * nblocks) >> 32);
}

/* Bit positions inside the block: six 9-bit slices of a rehash of the key. */
static inline unsigned bit_of(uint64_t g, unsigned i)
{
	return (unsigned)(g >> (10 + 9 * i)) & 511u;
}

int event_bloom_write(const struct event_bloom *b, struct dynbuf *out)
{
	size_t want = (b->n * BLOOM_BITS_PER_KEY + BLOOM_BLOCK * 8 - 1) / (BLOOM_BLOCK * 8);
	uint32_t nblocks = (uint32_t)(want < 1 ? 1 : want > BLOOM_MAX_BLOCKS ? BLOOM_MAX_BLOCKS : want);
	size_t base = out->len, total = BLOOM_HEADER + (size_t)nblocks * BLOOM_BLOCK;
	unsigned char *f;
	int rc = dynbuf_reserve(out, total);

	if (rc)
		return rc;
	f = (unsigned char *)out->data + base;
	memset(f, 0, total);
	f[0] = 'B';
	f[1] = BLOOM_VERSION;
	f[4] = (unsigned char)nblocks;
	f[5] = (unsigned char)(nblocks >> 8);
	f[6] = (unsigned char)(nblocks >> 16);
	f[7] = (unsigned char)(nblocks >> 24);
	for (size_t i = 0; i < b->cap; i++) {
		uint64_t key = b->set[i], g = key * GOLDEN;
		unsigned char *blk;

		if (!key)
			continue;
		blk = f + BLOOM_HEADER + block_of(key, nblocks) * BLOOM_BLOCK;
		for (unsigned k = 0; k < BLOOM_K; k++) {
			unsigned bit = bit_of(g, k);

			blk[bit >> 3] |= (unsigned char)(1u << (bit & 7));
		}
	}
	out->len = base + total;
	out->data[out->len] = 0;
	return 0;
}

bool event_bloom_may_contain(const void *blob, size_t len, uint64_t key)
{
	const unsigned char *f = blob, *blk;
	uint32_t nblocks;
	uint64_t g;

	if (!key)
		key = 1;
	if (!f || len < BLOOM_HEADER || f[0] != 'B' || f[1] != BLOOM_VERSION)
		return true;
	nblocks = (uint32_t)f[4] | (uint32_t)f[5] << 8 | (uint32_t)f[6] << 16 | (uint32_t)f[7] << 24;
	if (!nblocks || nblocks > BLOOM_MAX_BLOCKS ||
	    len != BLOOM_HEADER + (size_t)nblocks * BLOOM_BLOCK)
		return true;
	blk = f + BLOOM_HEADER + block_of(key, nblocks) * BLOOM_BLOCK;
	g = key * GOLDEN;
	for (unsigned k = 0; k < BLOOM_K; k++) {
		unsigned bit = bit_of(g, k);

		if (!(blk[bit >> 3] & (1u << (bit & 7))))
			return false;
	}
	return true;
}
