/* UTF-8 sequence check shared by the JSON encoder (escapes what is not valid) and decoder. */
#ifndef MAMORI_UTF8_H
#define MAMORI_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one (overlong forms,
 * surrogates and code points past U+10FFFF included). */
static inline size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t need;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		need = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		need = 4;
	else
		return 0;
	if (n < need)
		return 0;
	cp = c & (0xFF >> (need + 1));
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return need;
}

/* Where to cut s (longer than limit) so that no UTF-8 sequence is split: back from limit over
 * continuation bytes (at most 3; text that is not UTF-8 there is cut at limit). s[limit] must be
 * readable. */
static inline size_t utf8_cut(const char *s, size_t limit)
{
	size_t i = limit;

	while (i > 0 && limit - i < 3 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return ((unsigned char)s[i] & 0xC0) == 0x80 ? limit : i;
}

/* Length of s (NUL-terminated) kept to at most max bytes without cutting a UTF-8 sequence. */
static inline size_t utf8_prefix_len(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	return n <= max ? n : utf8_cut(s, max);
}

#endif
