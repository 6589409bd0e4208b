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

#endif
