/* Aho-Corasick matcher: any patterns and text build and scan cleanly in both case modes, and the
 * hits (callback and bitsets) are exactly those of a naive search, reported in order of end with
 * longer patterns first, and a nonzero callback return stops the scan there.
 *
 * Input: byte 0 gives the pattern count (1 + low 3 bits); each pattern is a length, one byte
 * (1 + b when b < 0xf0) or three (b >= 0xf0: 1 + the next two bytes, big endian, mod 8192, so
 * lengths past AC_MAX_PATTERN occur), then its bytes; the rest, up to TEXT_MAX bytes, is the text.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ac.h"

#include "banned.h"

#define MAX_PATTERNS 8
#define TEXT_MAX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pattern {
	const uint8_t *p;
	size_t len;
};

struct hit {
	size_t end;
	uint32_t id;
};

struct hits {
	struct hit *v;
	size_t n;
	size_t cap;
	size_t stop_after; /* 0: never */
};

static int on_hit(void *ctx, uint32_t id, size_t end)
{
	struct hits *h = ctx;

	if (h->n == h->cap)
		abort(); /* more hits than the naive search can produce */
	h->v[h->n].end = end;
	h->v[h->n].id = id;
	h->n++;
	return h->stop_after && h->n == h->stop_after ? 42 : 0;
}

static uint8_t fold(uint8_t c, bool nocase)
{
	return nocase && c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Checks the naive search's hits off seen (a bitmask of pattern indices per end offset) and returns
 * how many there were. Folds into scratch copies first so the comparisons are plain memcmp: long
 * runs of one byte in long patterns must not make the reference search the slow part. */
static size_t naive(const struct pattern *pats, size_t npat, const uint8_t *text, size_t len,
		    bool nocase, uint8_t *seen, uint64_t *bits)
{
	uint8_t *ft = malloc(len + 1), *fp = malloc(AC_MAX_PATTERN);
	size_t n = 0;

	if (!ft || !fp)
		abort();
	for (size_t k = 0; k < len; k++)
		ft[k] = fold(text[k], nocase);
	for (size_t i = 0; i < npat; i++) {
		for (size_t k = 0; k < pats[i].len; k++)
			fp[k] = fold(pats[i].p[k], nocase);
		for (size_t e = pats[i].len; e <= len; e++) {
			if (ft[e - pats[i].len] != fp[0] ||
			    memcmp(ft + e - pats[i].len, fp, pats[i].len) != 0)
				continue;
			if (!(seen[e] & (1u << i)))
				abort(); /* missed */
			seen[e] &= (uint8_t) ~(1u << i);
			*bits |= UINT64_C(1) << i;
			n++;
		}
	}
	free(fp);
	free(ft);
	return n;
}

/* The text cut into up to six pieces (lengths from the text itself, some empty): one
 * ac_scan_bits_many sets exactly what one ac_scan_bits per piece sets. */
static void check_many(const struct ac *a, const uint8_t *text, size_t len)
{
	const void *texts[6];
	size_t lens[6], n = 0, at = 0, want = 0;
	uint64_t bits = 0, want_bits = 0;

	while (n < 6 && at <= len) {
		size_t l = n == 5 || at == len ? len - at : text[at] % 64;

		if (l > len - at)
			l = len - at;
		texts[n] = text + at;
		lens[n] = l;
		want += ac_scan_bits(a, texts[n], l, &want_bits);
		n++;
		at += l + 1;
	}
	if (ac_scan_bits_many(a, texts, lens, n, &bits) != want || bits != want_bits)
		abort();
}

static void check(const struct ac_builder *b, const struct pattern *pats, size_t npat,
		  const uint8_t *text, size_t len, bool nocase)
{
	struct ac *a = ac_build(b, nocase);
	struct hits got = {0};
	uint8_t *seen = calloc(len + 1, 1);
	uint64_t bits = 0, want_bits = 0;
	size_t nwant;
	int rc;

	if (!a || !seen)
		abort();
	if (ac_pattern_count(a) != npat || ac_state_count(a) < 1 || ac_memory_bytes(a) == 0)
		abort();
	got.cap = npat * len + 1;
	got.v = malloc(got.cap * sizeof(*got.v));
	if (!got.v)
		abort();

	if (ac_scan(a, text, len, on_hit, &got) != 0)
		abort();
	for (size_t i = 0; i < got.n; i++) {
		const struct hit *q = &got.v[i];

		if (q->id >= npat || q->end > len || (seen[q->end] & (1u << q->id)))
			abort(); /* bad or reported twice */
		seen[q->end] |= (uint8_t)(1u << q->id);
		if (i &&
		    (got.v[i - 1].end > q->end ||
		     (got.v[i - 1].end == q->end && pats[got.v[i - 1].id].len < pats[q->id].len)))
			abort(); /* out of order */
	}
	nwant = naive(pats, npat, text, len, nocase, seen, &want_bits);
	if (got.n != nwant)
		abort(); /* reported one the naive search did not find */
	if (ac_scan_bits(a, text, len, &bits) != (size_t)__builtin_popcountll(want_bits) ||
	    bits != want_bits)
		abort();

	check_many(a, text, len);
	if (nwant) {
		got.n = 0;
		got.stop_after = 1 + (len + npat) % nwant;
		rc = ac_scan(a, text, len, on_hit, &got);
		if (rc != 42 || got.n != got.stop_after)
			abort();
	}
	free(got.v);
	free(seen);
	ac_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pattern pats[MAX_PATTERNS];
	struct ac_builder *b;
	size_t npat = 0, want_npat, pos = 1, len;

	if (size < 1)
		return 0;
	want_npat = 1 + (data[0] & 7);
	b = ac_builder_new();
	if (!b)
		abort();
	while (npat < want_npat && pos < size) {
		size_t n = 1 + (size_t)data[pos++];
		int rc;

		if (n > 0xf0) {
			if (size - pos < 2)
				break;
			n = 1 + ((((size_t)data[pos] << 8) | data[pos + 1]) % 8192);
			pos += 2;
		}
		if (n > size - pos)
			n = size - pos;
		if (n == 0)
			break;
		rc = ac_builder_add(b, data + pos, n, (uint32_t)npat);
		if (n > AC_MAX_PATTERN) {
			if (rc != -E2BIG)
				abort();
		} else {
			if (rc)
				abort();
			pats[npat].p = data + pos;
			pats[npat].len = n;
			npat++;
		}
		pos += n;
	}
	len = size - pos < TEXT_MAX ? size - pos : TEXT_MAX;
	check(b, pats, npat, data + pos, len, false);
	check(b, pats, npat, data + pos, len, true);
	ac_builder_free(b);
	return 0;
}
