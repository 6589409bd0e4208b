/* A fast 64-bit hash of bytes, for in-memory tables (indicators) and the store's block filters.
 * Not cryptographic. */
#ifndef MAMORI_HASH64_H
#define MAMORI_HASH64_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Final avalanche: every input bit reaches every output bit. */
static inline uint64_t hash64_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xFF51AFD7ED558CCDull;
	h ^= h >> 29;
	h *= 0xC4CEB9FE1A85EC53ull;
	h ^= h >> 32;
	return h;
}

/* p[0..n), eight bytes at a time; seed selects an independent family (0 for plain use). */
static inline uint64_t hash64_bytes(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = seed ^ 0x9E3779B97F4A7C15ull ^ n, w;

	while (n >= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xFF51AFD7ED558CCDull;
		h ^= h >> 32;
		s += 8;
		n -= 8;
	}
	if (n) {
		w = 0;
		memcpy(&w, s, n);
		h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
	}
	return hash64_mix(h);
}

#endif
