/* Byte-string tests of the matchers' hot path (detect_match.c): equality of short strings
 * without a library call, a substring search that compares a needle's first and last bytes at
 * sixteen positions at once before the rest, and ASCII lower-casing sixteen bytes at a time.
 * Exact: bytes_eq is memcmp() == 0, bytes_find is memmem() != NULL (for a non-NULL haystack:
 * the empty needle is found in any). */
#ifndef MAMORI_BYTES_H
#define MAMORI_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "le.h"

/* Whether a[0, n) and b[0, n) hold the same bytes. Up to 16 bytes: two loads from each end that
 * overlap in the middle. */
static inline bool bytes_eq(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	if (n > 16)
		return memcmp(x, y, n) == 0;
	if (n >= 8)
		return le64_get(x) == le64_get(y) && le64_get(x + n - 8) == le64_get(y + n - 8);
	if (n >= 4)
		return le32_get(x) == le32_get(y) && le32_get(x + n - 4) == le32_get(y + n - 4);
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return false;
	return true;
}

/* Whether s[0, len) occurs in h[0, n). */
static inline bool bytes_find(const void *hay, size_t n, const void *needle, size_t len)
{
	const unsigned char *h = hay, *s = needle;
	size_t i = 0;

	if (len == 0)
		return true;
	if (len > n)
		return false;
	if (len == 1)
		return memchr(h, s[0], n) != NULL;
#ifdef __SSE2__
	const __m128i first = _mm_set1_epi8((char)s[0]), last = _mm_set1_epi8((char)s[len - 1]);
	for (; i + len - 1 + 16 <= n; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(h + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(h + i + len - 1));
		unsigned m = (unsigned)_mm_movemask_epi8(
		    _mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last)));
		for (; m; m &= m - 1)
			if (bytes_eq(h + i + (unsigned)__builtin_ctz(m) + 1, s + 1, len - 2))
				return true;
	}
#endif
	for (; i + len <= n; i++)
		if (h[i] == s[0] && h[i + len - 1] == s[len - 1] &&
		    bytes_eq(h + i + 1, s + 1, len - 2))
			return true;
	return false;
}

/* The index of the first byte of p[0, n) in 'A'..'Z', or n. */
static inline size_t bytes_first_upper(const char *p, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i lo = _mm_set1_epi8('A' - 1), hi = _mm_set1_epi8('Z' + 1);
	for (; i + 16 <= n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		/* Signed compares: bytes from 0x80 up are negative, never above 'A' - 1. */
		unsigned m = (unsigned)_mm_movemask_epi8(
		    _mm_and_si128(_mm_cmpgt_epi8(x, lo), _mm_cmplt_epi8(x, hi)));
		if (m)
			return i + (unsigned)__builtin_ctz(m);
	}
#endif
	for (; i < n; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			return i;
	return n;
}

/* dst[0, n) = src[0, n) with 'A'..'Z' made lower case; other bytes as they are. */
static inline void bytes_lower(char *dst, const char *src, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i lo = _mm_set1_epi8('A' - 1), hi = _mm_set1_epi8('Z' + 1),
		      bit = _mm_set1_epi8(0x20);
	for (; i + 16 <= n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
		__m128i up = _mm_and_si128(_mm_cmpgt_epi8(x, lo), _mm_cmplt_epi8(x, hi));
		_mm_storeu_si128((__m128i *)(void *)(dst + i),
				 _mm_or_si128(x, _mm_and_si128(up, bit)));
	}
#endif
	for (; i < n; i++) {
		char c = src[i];
		dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
	}
}

#endif
