/* Multi-literal scanner for the Sigma engine's prefilter: which of many literals (ASCII case
 * folded) occur in a text, anywhere or bound to its start, its end or the whole of it. A literal
 * found anywhere is indexed under one short anchor, its rarest-looking four bytes (or the whole
 * literal when shorter); a scan hashes the window at every position of the text into a bitmap
 * small enough to stay in the first-level cache and compares literals only where a bit is set.
 * Unlike an automaton walk, no step waits on the previous one, and the cost per byte hardly
 * depends on the number of literals. Bound literals cost a few probes per text, at its ends. A
 * built scanner is read-only and may be shared by any number of threads. */
#ifndef MAMORI_LITSCAN_H
#define MAMORI_LITSCAN_H

#include <stddef.h>
#include <stdint.h>

#define LITSCAN_MAX_LITERAL 4096
#define LITSCAN_MAX_LITERALS (1u << 20)

struct litscan_builder;
struct litscan;

/* Caller owns the result (litscan_builder_free). NULL + errno. */
struct litscan_builder *litscan_builder_new(void);
void litscan_builder_free(struct litscan_builder *b); /* NULL is a no-op */
/* Adds lit (1..LITSCAN_MAX_LITERAL arbitrary bytes, NUL included) with a caller id, to be found
 * anywhere in a text; the same bytes may come several times with different ids (each is
 * reported). 0, -EINVAL, -E2BIG or -ENOMEM. */
int litscan_builder_add(struct litscan_builder *b, const void *lit, size_t len, uint32_t id);

enum litscan_where {
	LITSCAN_ANYWHERE,
	LITSCAN_START, /* a prefix of the text */
	LITSCAN_END,   /* a suffix of the text */
	LITSCAN_WHOLE, /* the text itself */
};
/* The same for a literal found only where says. */
int litscan_builder_add_at(struct litscan_builder *b, const void *lit, size_t len, uint32_t id,
			   enum litscan_where where);

/* Builds the scanner; ASCII letters match regardless of case. The builder stays valid and
 * unchanged. Caller owns the result (litscan_free). NULL + errno (ENOMEM). */
struct litscan *litscan_build(const struct litscan_builder *b);
void litscan_free(struct litscan *s); /* NULL is a no-op */
/* Builds out[i] from b[i] for every i < n, the anywhere bitmaps of the n scanners merged into
 * one per anchor width that all of them read. Each still finds exactly what it would alone;
 * texts that go through different scanners of the set then share one table in the cache
 * instead of one each, at the price of the other scanners' keys in it. Each out[i] is freed by
 * litscan_free, in any order. 0, or -ENOMEM with every out[i] NULL. */
int litscan_build_set(struct litscan_builder *const *b, size_t n, struct litscan **out);

/* Called for every occurrence of a literal in text: its id and where it starts. Return nonzero
 * to stop the scan (litscan_scan then returns that value). */
typedef int (*litscan_hit_fn)(void *ctx, uint32_t id, size_t start);
/* Returns 0, or the first nonzero value fn returned. Occurrences come in no particular order.
 * text is borrowed for the call only. */
int litscan_scan(const struct litscan *s, const void *text, size_t len, litscan_hit_fn fn,
		 void *ctx);

/* Statistics for logs and benchmarks. */
size_t litscan_literal_count(const struct litscan *s);
size_t litscan_memory_bytes(const struct litscan *s);

#endif
