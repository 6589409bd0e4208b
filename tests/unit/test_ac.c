/* The Aho-Corasick matcher: overlapping, duplicate, prefix and suffix patterns, case folding, NUL
 * bytes, stopping early, the bitset entries, limits, and randomized cross-checks against a naive
 * search in both case modes, over full-row and sparse states. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ac.h"

#include "banned.h"

struct hit {
	size_t end;
	uint32_t id;
};

struct hits {
	struct hit *v;
	size_t n;
	size_t cap;
	size_t stop_after; /* return 7 once this many hits are in; 0 = never */
};

static int on_hit(void *ctx, uint32_t id, size_t end)
{
	struct hits *h = ctx;

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->v = realloc(h->v, h->cap * sizeof(*h->v));
		assert_non_null(h->v);
	}
	h->v[h->n].end = end;
	h->v[h->n].id = id;
	h->n++;
	return h->stop_after && h->n >= h->stop_after ? 7 : 0;
}

static int cmp_hit(const void *x, const void *y)
{
	const struct hit *a = x, *b = y;

	if (a->end != b->end)
		return a->end < b->end ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

struct pat {
	const char *s;
	size_t len;
	uint32_t id;
};

static struct ac *build(const struct pat *p, size_t n, bool nocase)
{
	struct ac_builder *b = ac_builder_new();
	struct ac *a;

	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ac_builder_add(b, p[i].s, p[i].len, p[i].id), 0);
	a = ac_build(b, nocase);
	assert_non_null(a);
	ac_builder_free(b);
	return a;
}

/* Scans and checks the hits, in the order reported, against want. */
static void expect_hits(const struct ac *a, const char *text, size_t len, const struct hit *want,
			size_t nwant)
{
	struct hits h = {0};

	assert_int_equal(ac_scan(a, text, len, on_hit, &h), 0);
	assert_int_equal(h.n, nwant);
	for (size_t i = 0; i < nwant; i++) {
		assert_int_equal(h.v[i].end, want[i].end);
		assert_int_equal(h.v[i].id, want[i].id);
	}
	free(h.v);
}

/* clang-format off */
#define P(str, id) {str, sizeof(str) - 1, id}
/* clang-format on */
#define N(arr) (sizeof(arr) / sizeof((arr)[0]))

static void test_ushers(void **state)
{
	static const struct pat p[] = {P("he", 0), P("she", 1), P("his", 2), P("hers", 3)};
	static const struct hit want[] = {{4, 1}, {4, 0}, {6, 3}};
	struct ac *a = build(p, N(p), false);

	(void)state;
	expect_hits(a, "ushers", 6, want, N(want));
	assert_int_equal(ac_pattern_count(a), 4);
	/* root, h, he, her, hers, hi, his, s, sh, she */
	assert_int_equal(ac_state_count(a), 10);
	assert_true(ac_memory_bytes(a) > 0);
	ac_free(a);
}

static void test_duplicates(void **state)
{
	static const struct pat p[] = {P("abc", 1), P("abc", 2), P("x", 9), P("abc", 3),
				       P("abc", 1)};
	static const struct hit want[] = {{1, 9}, {4, 1}, {4, 2}, {4, 3}, {4, 1},
					  {7, 1}, {7, 2}, {7, 3}, {7, 1}};
	struct ac *a = build(p, N(p), false);

	(void)state;
	expect_hits(a, "xabcabc", 7, want, N(want));
	ac_free(a);
}

static void test_prefix_suffix(void **state)
{
	static const struct pat p[] = {P("a", 0),  P("ab", 1), P("abc", 2),
				       P("bc", 3), P("c", 4),  P("abcd", 5)};
	static const struct hit want[] = {{1, 0}, {2, 1}, {3, 2}, {3, 3}, {3, 4}, {4, 5}};
	struct ac *a = build(p, N(p), false);

	(void)state;
	expect_hits(a, "abcd", 4, want, N(want));
	expect_hits(a, "abc", 3, want, 5);
	ac_free(a);
}

static void test_nocase(void **state)
{
	static const struct pat p[] = {P("CmD.exe", 0), P("powershell", 1), P("[x", 2), P("@", 3)};
	static const char text[] = "C:\\Windows\\cmd.EXE -c PowerShell {X `";
	static const struct hit want_nocase[] = {{18, 0}, {32, 1}};
	struct ac *a = build(p, N(p), true);
	struct ac *cs = build(p, N(p), false);

	(void)state;
	/* Only ASCII letters fold: '[' is not '{' and '@' is not '`'. */
	expect_hits(a, text, sizeof(text) - 1, want_nocase, N(want_nocase));
	expect_hits(cs, text, sizeof(text) - 1, NULL, 0);
	expect_hits(cs, "cmd.exe CmD.exe", 15, (const struct hit[]){{15, 0}}, 1);
	ac_free(cs);
	ac_free(a);
}

static void test_nul_bytes(void **state)
{
	static const struct pat p[] = {P("a\0b", 0), P("\0", 1), P("\0\0", 2)};
	static const char text[] = "xa\0b\0\0";
	static const struct hit want[] = {{3, 1}, {4, 0}, {5, 1}, {6, 2}, {6, 1}};
	struct ac *a = build(p, N(p), true);

	(void)state;
	expect_hits(a, text, sizeof(text) - 1, want, N(want));
	ac_free(a);
}

static void test_empty_text(void **state)
{
	static const struct pat p[] = {P("a", 0)};
	struct ac *a = build(p, N(p), false);
	uint64_t bits[1] = {0};

	(void)state;
	expect_hits(a, "", 0, NULL, 0);
	expect_hits(a, NULL, 0, NULL, 0);
	assert_int_equal(ac_scan_bits(a, NULL, 0, bits), 0);
	assert_int_equal(bits[0], 0);
	ac_free(a);
}

static void test_no_patterns(void **state)
{
	struct ac *a = build(NULL, 0, true);
	uint64_t bits[1] = {0};

	(void)state;
	expect_hits(a, "anything", 8, NULL, 0);
	assert_int_equal(ac_scan_bits(a, "anything", 8, bits), 0);
	assert_int_equal(ac_pattern_count(a), 0);
	assert_int_equal(ac_state_count(a), 1);
	ac_free(a);
}

static void test_pattern_longer_than_text(void **state)
{
	static const struct pat p[] = {P("/usr/bin/python3", 0)};
	struct ac *a = build(p, N(p), false);

	(void)state;
	expect_hits(a, "/usr/bin/py", 11, NULL, 0);
	expect_hits(a, "/usr/bin/python3", 16, (const struct hit[]){{16, 0}}, 1);
	ac_free(a);
}

static void test_stop_early(void **state)
{
	static const struct pat p[] = {P("a", 0), P("aa", 1)};
	struct ac *a = build(p, N(p), false);
	struct hits h = {.stop_after = 2};

	(void)state;
	/* hits: (1,a) (2,aa) (2,a) ...: the second hit stops the scan */
	assert_int_equal(ac_scan(a, "aaaaaa", 6, on_hit, &h), 7);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.v[1].id, 1);
	h.n = 0;
	h.stop_after = 1;
	assert_int_equal(ac_scan(a, "xxxxa", 5, on_hit, &h), 7);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.v[0].end, 5);
	free(h.v);
	ac_free(a);
}

static void test_bits(void **state)
{
	static const struct pat p[] = {P("he", 0),    P("she", 1), P("his", 2), P("hers", 3),
				       P("hers", 70), P("x", 127), P("he", 64)};
	struct ac *a = build(p, N(p), false);
	uint64_t bits[2] = {0};

	(void)state;
	/* he, she, hers, plus 64 and 70 through duplicates */
	assert_int_equal(ac_scan_bits(a, "ushers he", 9, bits), 5);
	assert_int_equal(bits[0], (1u << 0) | (1u << 1) | (1u << 3));
	assert_int_equal(bits[1], (1u << 0) | (1u << 6));
	assert_int_equal(ac_scan_bits(a, "ushers", 6, bits), 0);
	assert_int_equal(ac_scan_bits(a, "this x", 6, bits), 2);
	assert_int_equal(bits[0], (1u << 0) | (1u << 1) | (1u << 2) | (1u << 3));
	assert_int_equal(bits[1], (1u << 0) | (1u << 6) | (UINT64_C(1) << 63));
	ac_free(a);
}

static void test_bits_many(void **state)
{
	static const struct pat p[] = {P("he", 0), P("she", 1), P("his", 2), P("hers", 3),
				       P("x", 64)};
	struct ac *a = build(p, N(p), false);
	const void *texts[7] = {"ushers", "", "this", "x", "", "h", "e"};
	size_t lens[7] = {6, 0, 4, 1, 0, 1, 1};
	uint64_t bits[2] = {0};

	(void)state;
	assert_int_equal(ac_scan_bits_many(a, NULL, NULL, 0, bits), 0);
	assert_int_equal(ac_scan_bits_many(a, texts, lens, 1, bits), 3);
	assert_int_equal(bits[0], (1u << 0) | (1u << 1) | (1u << 3));
	/* "h" then "e" are two texts: no "he" across them */
	bits[0] = 0;
	assert_int_equal(ac_scan_bits_many(a, texts + 4, lens + 4, 3, bits), 0);
	assert_int_equal(ac_scan_bits_many(a, texts, lens, 7, bits), 5);
	assert_int_equal(bits[0], 0xf);
	assert_int_equal(bits[1], 1);
	ac_free(a);
}

static void test_limits(void **state)
{
	struct ac_builder *b = ac_builder_new();
	char *big = calloc(1, AC_MAX_PATTERN + 1);
	size_t i;

	(void)state;
	assert_non_null(b);
	assert_non_null(big);
	assert_int_equal(ac_builder_add(b, "a", 0, 0), -EINVAL);
	assert_int_equal(ac_builder_add(b, NULL, 1, 0), -EINVAL);
	assert_int_equal(ac_builder_add(NULL, "a", 1, 0), -EINVAL);
	assert_int_equal(ac_builder_add(b, big, AC_MAX_PATTERN + 1, 0), -E2BIG);
	assert_int_equal(ac_builder_add(b, big, AC_MAX_PATTERN, 0), 0);
	for (i = 1; i < AC_MAX_PATTERNS; i++) {
		unsigned char k = (unsigned char)i;

		if (ac_builder_add(b, &k, 1, (uint32_t)i))
			break;
	}
	assert_int_equal(i, AC_MAX_PATTERNS);
	assert_int_equal(ac_builder_add(b, "a", 1, 0), -E2BIG);
	errno = 0;
	assert_null(ac_build(NULL, false));
	assert_int_equal(errno, EINVAL);
	ac_free(NULL);
	ac_builder_free(NULL);
	free(big);
	ac_builder_free(b);
}

/* The builder may be built from several times, in both modes, and keeps accepting patterns. */
static void test_builder_reuse(void **state)
{
	struct ac_builder *b = ac_builder_new();
	struct ac *a1, *a2, *a3;

	(void)state;
	assert_non_null(b);
	assert_int_equal(ac_builder_add(b, "ABC", 3, 0), 0);
	a1 = ac_build(b, false);
	a2 = ac_build(b, true);
	assert_int_equal(ac_builder_add(b, "bc", 2, 1), 0);
	a3 = ac_build(b, true);
	assert_non_null(a1);
	assert_non_null(a2);
	assert_non_null(a3);
	expect_hits(a1, "abc", 3, NULL, 0);
	expect_hits(a2, "abc", 3, (const struct hit[]){{3, 0}}, 1);
	expect_hits(a3, "abc", 3, (const struct hit[]){{3, 0}, {3, 1}}, 2);
	ac_free(a3);
	ac_free(a2);
	ac_free(a1);
	ac_builder_free(b);
}

/* Randomized cross-check against a naive search. */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)((rng_state >> 16) % n);
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool eq_at(const unsigned char *t, const unsigned char *p, size_t n, bool nocase)
{
	for (size_t i = 0; i < n; i++)
		if (nocase ? lower(t[i]) != lower(p[i]) : t[i] != p[i])
			return false;
	return true;
}

struct rcase {
	unsigned char *pat; /* npat * maxlen */
	size_t *len;
	uint32_t *id;
	size_t npat;
	size_t maxlen;
};

static void naive(const struct rcase *rc, const unsigned char *text, size_t len, bool nocase,
		  struct hits *h)
{
	for (size_t i = 0; i < rc->npat; i++) {
		const unsigned char *p = rc->pat + i * rc->maxlen;

		for (size_t e = rc->len[i]; e <= len; e++)
			if (eq_at(text + e - rc->len[i], p, rc->len[i], nocase))
				on_hit(h, rc->id[i], e);
	}
}

static void cross_check(const struct rcase *rc, const unsigned char *text, size_t len, bool nocase,
			const struct ac *a, uint32_t maxid)
{
	struct hits got = {0}, want = {0};
	uint64_t bits[4] = {0}, wbits[4] = {0};
	size_t nbits = 0;

	assert_int_equal(ac_scan(a, text, len, on_hit, &got), 0);
	naive(rc, text, len, nocase, &want);
	/* reported in order of end */
	for (size_t i = 1; i < got.n; i++)
		assert_true(got.v[i - 1].end <= got.v[i].end);
	if (got.n)
		qsort(got.v, got.n, sizeof(*got.v), cmp_hit);
	if (want.n)
		qsort(want.v, want.n, sizeof(*want.v), cmp_hit);
	assert_int_equal(got.n, want.n);
	for (size_t i = 0; i < got.n && i < want.n; i++) {
		assert_int_equal(got.v[i].end, want.v[i].end);
		assert_int_equal(got.v[i].id, want.v[i].id);
	}
	assert_true(maxid < 256);
	for (size_t i = 0; i < want.n; i++) {
		uint32_t id = want.v[i].id;

		if (!(wbits[id >> 6] & (UINT64_C(1) << (id & 63))))
			nbits++;
		wbits[id >> 6] |= UINT64_C(1) << (id & 63);
	}
	assert_int_equal(ac_scan_bits(a, text, len, bits), nbits);
	assert_memory_equal(bits, wbits, sizeof(bits));
	free(got.v);
	free(want.v);
}

/* ac_scan_bits_many over random pieces of text (empty, overlapping, any count) sets the same bits
 * as one ac_scan_bits per piece. */
static void check_many(const struct ac *a, const unsigned char *text, size_t len)
{
	const void *texts[12];
	size_t lens[12], n = rnd(13), want = 0;
	uint64_t bits[4] = {0}, wbits[4] = {0};

	for (size_t k = 0; k < n; k++) {
		size_t start = rnd((uint32_t)len + 1);

		lens[k] = rnd((uint32_t)(len - start) + 1);
		texts[k] = text + start;
		want += ac_scan_bits(a, texts[k], lens[k], wbits);
	}
	assert_int_equal(ac_scan_bits_many(a, texts, lens, n, bits), want);
	assert_memory_equal(bits, wbits, sizeof(bits));
}

static void random_cases(const unsigned char *alpha, size_t nalpha, size_t ncases, size_t maxpat,
			 size_t maxlen, size_t maxtext)
{
	struct rcase rc;
	unsigned char *text = malloc(maxtext + 1);

	rc.maxlen = maxlen;
	rc.pat = malloc(maxpat * maxlen);
	rc.len = malloc(maxpat * sizeof(*rc.len));
	rc.id = malloc(maxpat * sizeof(*rc.id));
	assert_non_null(text);
	assert_non_null(rc.pat);
	assert_non_null(rc.len);
	assert_non_null(rc.id);
	for (size_t n = 0; n < ncases; n++) {
		size_t na = 1 + rnd((uint32_t)nalpha);
		struct ac_builder *b = ac_builder_new();
		struct ac *a[2];
		uint32_t maxid = 0;

		assert_non_null(b);
		rc.npat = 1 + rnd((uint32_t)maxpat);
		for (size_t i = 0; i < rc.npat; i++) {
			unsigned char *p = rc.pat + i * maxlen;

			rc.len[i] = 1 + rnd((uint32_t)maxlen);
			for (size_t k = 0; k < rc.len[i]; k++)
				p[k] = alpha[rnd((uint32_t)na)];
			/* some ids repeat */
			rc.id[i] = rnd(4) ? (uint32_t)i : rnd((uint32_t)(i + 1));
			if (rc.id[i] > maxid)
				maxid = rc.id[i];
			assert_int_equal(ac_builder_add(b, p, rc.len[i], rc.id[i]), 0);
		}
		a[0] = ac_build(b, false);
		a[1] = ac_build(b, true);
		assert_non_null(a[0]);
		assert_non_null(a[1]);
		for (int t = 0; t < 3; t++) {
			size_t len = rnd((uint32_t)maxtext + 1);

			for (size_t k = 0; k < len; k++)
				text[k] =
				    rnd(16) ? alpha[rnd((uint32_t)na)] : (unsigned char)rnd(256);
			cross_check(&rc, text, len, false, a[0], maxid);
			cross_check(&rc, text, len, true, a[1], maxid);
			check_many(a[0], text, len);
			check_many(a[1], text, len);
		}
		ac_free(a[1]);
		ac_free(a[0]);
		ac_builder_free(b);
	}
	free(rc.id);
	free(rc.len);
	free(rc.pat);
	free(text);
}

static void test_random_small(void **state)
{
	static const unsigned char alpha[] = {'a', 'A', 'b', '\0', 'B', 'c', 0xff, '['};

	(void)state;
	rng_state = 0x9e3779b97f4a7c15u;
	random_cases(alpha, sizeof(alpha), 4000, 12, 6, 64);
}

/* Thousands of deep patterns and all 256 bytes in use (256 classes): most states are past the
 * full-row budget and run on sparse edges and failure links. */
static void test_random_sparse(void **state)
{
	static const unsigned char alpha[] = {'a', 'b', 'B', 'c'};
	struct ac_builder *b = ac_builder_new();
	struct rcase rc;
	unsigned char text[400];
	struct ac *a[2];

	(void)state;
	rng_state = 0x2545f4914f6cdd1du;
	assert_non_null(b);
	rc.maxlen = 24;
	rc.npat = 4000;
	rc.pat = malloc(rc.npat * rc.maxlen);
	rc.len = malloc(rc.npat * sizeof(*rc.len));
	rc.id = malloc(rc.npat * sizeof(*rc.id));
	assert_non_null(rc.pat);
	assert_non_null(rc.len);
	assert_non_null(rc.id);
	for (size_t i = 0; i < rc.npat; i++) {
		unsigned char *p = rc.pat + i * rc.maxlen;

		if (i < 256) {
			/* every byte value once, as the second byte after a rare lead */
			p[0] = 'c';
			p[1] = (unsigned char)i;
			rc.len[i] = 2;
		} else {
			/* a few short ones, mostly long ones that branch early */
			rc.len[i] = rnd(8) ? 8 + rnd((uint32_t)rc.maxlen - 7) : 1 + rnd(8);
			for (size_t k = 0; k < rc.len[i]; k++)
				p[k] = alpha[rnd(k < 6 ? 2 : 4)];
		}
		rc.id[i] = (uint32_t)(i % 250);
		assert_int_equal(ac_builder_add(b, p, rc.len[i], rc.id[i]), 0);
	}
	a[0] = ac_build(b, false);
	a[1] = ac_build(b, true);
	assert_non_null(a[0]);
	assert_non_null(a[1]);
	assert_int_equal(ac_class_count(a[0]), 256);
	assert_true(ac_dense_state_count(a[0]) < ac_state_count(a[0]) / 2);
	assert_true(ac_dense_state_count(a[1]) < ac_state_count(a[1]) / 2);
	for (int t = 0; t < 200; t++) {
		size_t len = rnd(sizeof(text) + 1);

		/* pieces of patterns, so the scan goes deep and fails from deep states into others
		 */
		for (size_t k = 0; k < len;) {
			size_t i = 256 + rnd((uint32_t)(rc.npat - 256));
			size_t n = rnd(4) ? rc.len[i] : 1 + rnd((uint32_t)rc.len[i]);

			if (!rnd(16))
				text[k++] = (unsigned char)rnd(256);
			for (size_t j = rnd(3) ? 0 : rnd((uint32_t)n); j < n && k < len; j++)
				text[k++] = rc.pat[i * rc.maxlen + j];
		}
		cross_check(&rc, text, len, false, a[0], 249);
		cross_check(&rc, text, len, true, a[1], 249);
		check_many(a[0], text, len);
		check_many(a[1], text, len);
	}
	ac_free(a[1]);
	ac_free(a[0]);
	ac_builder_free(b);
	free(rc.id);
	free(rc.len);
	free(rc.pat);
}

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ushers),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_prefix_suffix),
	    cmocka_unit_test(test_nocase),
	    cmocka_unit_test(test_nul_bytes),
	    cmocka_unit_test(test_empty_text),
	    cmocka_unit_test(test_no_patterns),
	    cmocka_unit_test(test_pattern_longer_than_text),
	    cmocka_unit_test(test_stop_early),
	    cmocka_unit_test(test_bits),
	    cmocka_unit_test(test_bits_many),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_builder_reuse),
	    cmocka_unit_test(test_random_small),
	    cmocka_unit_test(test_random_sparse),
	};
	/* clang-format on */

	return cmocka_run_group_tests(tests, NULL, NULL);
}
