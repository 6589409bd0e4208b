/* Aho-Corasick multi-literal matcher: the literal prefilter of the Sigma engine. Thousands of rule
 * literals are compiled once into an immutable automaton; every event field value is then scanned
 * in one pass, at most two transitions per byte amortised, with no allocation. A built automaton
 * is read-only, so any number of threads may scan it at once. */
#ifndef MAMORI_AC_H
#define MAMORI_AC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AC_MAX_PATTERN 4096
#define AC_MAX_PATTERNS (1u << 20)

struct ac_builder;
struct ac;

/* Caller owns the result (ac_builder_free). NULL + errno. */
struct ac_builder *ac_builder_new(void);
void ac_builder_free(struct ac_builder *b);
/* Adds pattern (len >= 1, arbitrary bytes, may contain NUL) with a caller id. The same bytes may
 * be added several times with different ids (all are reported). 0 or -ENOMEM/-EINVAL/-E2BIG
 * (pattern longer than AC_MAX_PATTERN or more than AC_MAX_PATTERNS patterns). */
int ac_builder_add(struct ac_builder *b, const void *pat, size_t len, uint32_t id);

/* Builds the automaton. nocase: ASCII letters match regardless of case (patterns and text are
 * folded). The builder stays valid and unchanged. Caller owns the result (ac_free). NULL + errno
 * (ENOMEM, EINVAL, E2BIG when the trie would exceed 2^30 states). */
struct ac *ac_build(const struct ac_builder *b, bool nocase);
void ac_free(struct ac *a); /* NULL is a no-op */

/* Called for every occurrence: id of the pattern and offset just past its last byte in text.
 * Hits come in order of end; at one end, longer patterns first. Return nonzero to stop the scan
 * (ac_scan then returns that value). */
typedef int (*ac_hit_fn)(void *ctx, uint32_t id, size_t end);
/* Returns 0, or the first nonzero value fn returned. text is borrowed for the call only. */
int ac_scan(const struct ac *a, const void *text, size_t len, ac_hit_fn fn, void *ctx);
/* Sets bit id in the caller's bitset (which has room for every id added) for every pattern found;
 * returns the number of new bits set. */
size_t ac_scan_bits(const struct ac *a, const void *text, size_t len, uint64_t *bits);

/* ac_scan_bits over n texts into one bitset (say all the values of one event). The scans are
 * interleaved so their table reads overlap in the memory system: faster than n calls once the
 * automaton outgrows the cache. */
size_t ac_scan_bits_many(const struct ac *a, const void *const *texts, const size_t *lens, size_t n,
			 uint64_t *bits);

/* Statistics for logs and benchmarks. */
size_t ac_pattern_count(const struct ac *a);
size_t ac_state_count(const struct ac *a);
/* States with a full transition row (the rest use sparse edges plus a failure link). */
size_t ac_dense_state_count(const struct ac *a);
/* Byte equivalence classes (columns of a full row). */
size_t ac_class_count(const struct ac *a);
size_t ac_memory_bytes(const struct ac *a);

#endif
