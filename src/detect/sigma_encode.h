/* The byte strings Sigma's encoding value modifiers (base64, base64offset, utf16le/utf16be/utf16/
 * wide, windash) turn a rule value into before it is matched. Pure functions run while rules load,
 * never on the event path; outputs are bytes (not necessarily NUL-free) appended to dynbufs.
 *
 * Wildcards: Sigma values may hold the wildcards '*' and '?' and the escape '\'. These functions
 * know nothing about them and treat every byte literally, so the wildcard layer must only apply
 * base64, base64offset and utf16 to values without unescaped wildcards (and unescape them first):
 * encoding a '*' would produce bytes that no longer mean "anything". windash is the exception: it
 * only swaps dash characters and leaves '*', '?' and '\' in place, so it may run on a raw value
 * with wildcards and escapes and its variants still parse the same way. */
#ifndef MAMORI_SIGMA_ENCODE_H
#define MAMORI_SIGMA_ENCODE_H

#include <stddef.h>

#include "dynbuf.h"

/* Standard base64 (RFC 4648, with '=' padding) of in, appended to out. 0, or -ENOSPC past out's
 * cap (-ENOMEM if out of memory); out is unchanged on error. */
int sigma_base64(const void *in, size_t n, struct dynbuf *out);

/* base64offset: the three encodings of in as it would appear at offsets 0, 1 and 2 (mod 3) of a
 * longer base64-encoded text, each trimmed to the characters that do not depend on the
 * surrounding bytes (pySigma's semantics: for shift i, encode i padding bytes + value, drop the
 * first 0/2/3 characters, which depend on the padding, and the last 0/3/2 characters when
 * (i + n) % 3 is 0/1/2, which depend on what follows or are '=' padding). out[i] receives the
 * variant for a value starting at a byte offset congruent to i mod 3.
 * A variant can be empty: all three for n == 0, out[1] for n == 1. An empty variant matches any
 * text, so callers should reject such short values rather than match on them.
 * 0, or -ENOSPC (-ENOMEM); all three outputs are unchanged on error. */
int sigma_base64offset(const void *in, size_t n, struct dynbuf out[3]);

enum sigma_utf16 {
	SIGMA_UTF16LE,	/* utf16le, wide */
	SIGMA_UTF16BE,	/* utf16be */
	SIGMA_UTF16_BOM /* utf16: FF FE, then little-endian */
};

/* in is UTF-8 (strict: no overlong forms, no surrogates, nothing above U+10FFFF); code points
 * above U+FFFF become surrogate pairs. Appends to out. 0, -EILSEQ for invalid UTF-8, or -ENOSPC
 * (-ENOMEM); out is unchanged on error. */
int sigma_utf16(const void *in, size_t n, enum sigma_utf16 kind, struct dynbuf *out);

/* Called once per variant; s is borrowed until the call returns (NUL-terminated, though it may
 * hold NULs copied from the input). A non-zero return stops the enumeration and is passed back. */
typedef int (*sigma_variant_fn)(void *ctx, const char *s, size_t n);

/* windash: every variant of in where each '-', '/', en dash (U+2013), em dash (U+2014) or
 * horizontal bar (U+2015, all as UTF-8) is replaced by each of those five characters, in all
 * combinations: 5^k variants for k such characters, the original among them (k == 0 gives just
 * the original). Variants come in odometer order, the last dash varying fastest.
 * When 5^k > max_variants nothing is called and -E2BIG is returned, so a hostile rule can neither
 * explode nor leave a partial expansion behind. 0, -E2BIG, -ENOMEM, or fn's non-zero return. */
int sigma_windash(const char *in, size_t n, size_t max_variants, sigma_variant_fn fn, void *ctx);

#endif
