/* Required literals of PCRE2 patterns: the longest byte string that every match of a Sigma |re
 * value must contain, so the literal prefilter can skip the rule on events that lack it.
 * Conservative by design: whatever is not understood yields no literal, never a wrong one. */
#ifndef MAMORI_REGEX_ATOM_H
#define MAMORI_REGEX_ATOM_H

#include <stddef.h>
#include <stdint.h>

/* Longest literal returned; a longer required run is cut, as any piece of it is required too. */
#define REGEX_ATOM_MAX 256

/* Writes into out (cap bytes) the longest literal that every match of the PCRE2 pattern
 * pat[0..n) must contain, lowercased; returns its length, or 0 when no literal of at least
 * min_len bytes is certain. flags: the engine's compile flags (PCRE2_CASELESS, PCRE2_MULTILINE,
 * PCRE2_DOTALL, PCRE2_EXTENDED...) so extended mode can be refused. out is NUL-terminated when
 * cap > 0 and holds at most cap - 1 bytes (it may itself contain NUL from \x00). Pure function:
 * no allocation, pat and out are borrowed for the call only. */
size_t regex_required_literal(const char *pat, size_t n, uint32_t flags, size_t min_len, char *out,
			      size_t cap);

/* A set of literals, one of which every match contains: for patterns such as -(W|R)... whose
 * only certain literal is short, the strings a group of plain alternatives makes with the
 * literal characters around it ("-w", "-r"). At most REGEX_SET_MAX strings, each shorter than
 * REGEX_SET_LEN, lowercased, NUL-terminated. */
#define REGEX_SET_MAX 8
#define REGEX_SET_LEN 64
struct regex_set {
	unsigned n;
	uint32_t len[REGEX_SET_MAX];
	char lit[REGEX_SET_MAX][REGEX_SET_LEN];
};

/* Fills out with the best such set (the longest shortest string; a single literal when there is
 * no better set) and returns out->n, or 0 when no set's shortest string has min_len bytes.
 * Only groups at the top level of the pattern count; anything else is treated as by
 * regex_required_literal. Pure function, like it. */
unsigned regex_required_set(const char *pat, size_t n, uint32_t flags, size_t min_len,
			    struct regex_set *out);

#endif
