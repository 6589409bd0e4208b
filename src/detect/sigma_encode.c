#include "sigma_encode.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Byte j of the virtual input "shift zero bytes, then in"; zero past the end. */
static uint8_t shifted_byte(const uint8_t *in, size_t n, size_t shift, size_t j)
{
	if (j < shift || j - shift >= n)
		return 0;
	return in[j - shift];
}

/* Character j of base64(shift zero bytes + in). Computing characters one at a time lets the
 * offset variants be written straight into their output without a temporary encoding. */
static char b64_char(const uint8_t *in, size_t n, size_t shift, size_t j)
{
	size_t total = n + shift, g = j / 4 * 3;
	uint8_t b0 = shifted_byte(in, n, shift, g);
	uint8_t b1 = shifted_byte(in, n, shift, g + 1);
	uint8_t b2 = shifted_byte(in, n, shift, g + 2);
	unsigned v;

	switch (j % 4) {
	case 0:
		v = b0 >> 2;
		break;
	case 1:
		v = (unsigned)(b0 & 0x03) << 4 | b1 >> 4;
		break;
	case 2:
		if (g + 1 >= total)
			return '=';
		v = (unsigned)(b1 & 0x0f) << 2 | b2 >> 6;
		break;
	default:
		if (g + 2 >= total)
			return '=';
		v = b2 & 0x3f;
		break;
	}
	return b64_alphabet[v];
}

/* Writes characters [from, to) of base64(shift zero bytes + in) to out, all or nothing. */
static int b64_range(const uint8_t *in, size_t n, size_t shift, size_t from, size_t to,
		     struct dynbuf *out)
{
	int rc = dynbuf_reserve(out, to - from);

	if (rc)
		return rc;
	for (size_t j = from; j < to; j++)
		out->data[out->len++] = b64_char(in, n, shift, j);
	out->data[out->len] = '\0';
	return 0;
}

int sigma_base64(const void *in, size_t n, struct dynbuf *out)
{
	if (n > SIZE_MAX / 4 * 3 - 3)
		return -ENOSPC;
	return b64_range(in, n, 0, 0, (n + 2) / 3 * 4, out);
}

int sigma_base64offset(const void *in, size_t n, struct dynbuf out[3])
{
	static const size_t drop_head[3] = {0, 2, 3};
	static const size_t drop_tail[3] = {0, 3, 2}; /* by (shift + n) % 3 */
	size_t saved[3];
	int rc = 0;

	if (n > SIZE_MAX / 4 * 3 - 6)
		return -ENOSPC;
	for (size_t i = 0; i < 3; i++)
		saved[i] = out[i].len;
	for (size_t i = 0; i < 3; i++) {
		size_t total = (n + i + 2) / 3 * 4;
		size_t from = drop_head[i], to = total - drop_tail[(n + i) % 3];

		if (to < from)
			to = from; /* too short for any stable character */
		rc = b64_range(in, n, i, from, to, &out[i]);
		if (rc)
			goto out;
	}
out:
	if (rc)
		for (size_t i = 0; i < 3; i++)
			dynbuf_truncate(&out[i], saved[i]);
	return rc;
}

/* Decodes one UTF-8 sequence at p (avail > 0 bytes): its length, or -EILSEQ. */
static int utf8_next(const uint8_t *p, size_t avail, uint32_t *cp)
{
	uint32_t c = p[0], min;
	int len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return -EILSEQ; /* continuation byte, C0/C1 overlong lead, or F5..FF */
	}
	if (avail < (size_t)len)
		return -EILSEQ;
	for (int k = 1; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return -EILSEQ;
		c = c << 6 | (p[k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -EILSEQ;
	*cp = c;
	return len;
}

static void put_unit(char *dst, uint16_t u, bool big_endian)
{
	dst[big_endian ? 1 : 0] = (char)(u & 0xff);
	dst[big_endian ? 0 : 1] = (char)(u >> 8);
}

int sigma_utf16(const void *in, size_t n, enum sigma_utf16 kind, struct dynbuf *out)
{
	const uint8_t *p = in;
	bool be = kind == SIGMA_UTF16BE;
	size_t units = kind == SIGMA_UTF16_BOM ? 1 : 0;
	char *dst;
	uint32_t cp;
	int rc, len;

	if (kind != SIGMA_UTF16LE && kind != SIGMA_UTF16BE && kind != SIGMA_UTF16_BOM)
		return -EINVAL;
	/* Validate and size first so out is untouched by bad input. */
	for (size_t i = 0; i < n; i += (size_t)len) {
		len = utf8_next(p + i, n - i, &cp);
		if (len < 0)
			return len;
		units += cp > 0xffff ? 2 : 1;
	}
	if (units > SIZE_MAX / 2 - 1)
		return -ENOSPC;
	rc = dynbuf_reserve(out, units * 2);
	if (rc)
		return rc;
	dst = out->data + out->len;
	if (kind == SIGMA_UTF16_BOM) {
		put_unit(dst, 0xfeff, false);
		dst += 2;
	}
	for (size_t i = 0; i < n; i += (size_t)len) {
		len = utf8_next(p + i, n - i, &cp);
		if (cp > 0xffff) {
			cp -= 0x10000;
			put_unit(dst, (uint16_t)(0xd800 | cp >> 10), be);
			put_unit(dst + 2, (uint16_t)(0xdc00 | (cp & 0x3ff)), be);
			dst += 4;
		} else {
			put_unit(dst, (uint16_t)cp, be);
			dst += 2;
		}
	}
	out->len += units * 2;
	out->data[out->len] = '\0';
	return 0;
}

/* The five interchangeable dash characters, in pySigma's order. */
static const struct {
	const char *s;
	size_t len;
} dashes[5] = {
    {"-", 1}, {"/", 1}, {"\xe2\x80\x93", 3}, {"\xe2\x80\x94", 3}, {"\xe2\x80\x95", 3},
};

/* Length of the dash character at p, or 0. */
static size_t dash_at(const char *p, size_t avail)
{
	if (*p == '-' || *p == '/')
		return 1;
	if (avail >= 3 && (uint8_t)p[0] == 0xe2 && (uint8_t)p[1] == 0x80 && (uint8_t)p[2] >= 0x93 &&
	    (uint8_t)p[2] <= 0x95)
		return 3;
	return 0;
}

/* 5^27 < 2^64 < 5^28: no size_t cap admits more dashes than this. */
#define WINDASH_MAX_DASHES 28

int sigma_windash(const char *in, size_t n, size_t max_variants, sigma_variant_fn fn, void *ctx)
{
	size_t pos[WINDASH_MAX_DASHES], plen[WINDASH_MAX_DASHES];
	unsigned digit[WINDASH_MAX_DASHES] = {0};
	size_t k = 0, variants = 1;
	char *buf = NULL;
	int rc = 0;

	for (size_t i = 0; i < n;) {
		size_t l = dash_at(in + i, n - i);

		if (!l) {
			i++;
			continue;
		}
		if (variants > max_variants / 5 || k == WINDASH_MAX_DASHES)
			return -E2BIG;
		variants *= 5;
		pos[k] = i;
		plen[k++] = l;
		i += l;
	}
	if (variants > max_variants)
		return -E2BIG;
	/* Each dash grows by at most two bytes; k <= 27 so this cannot overflow unless n is. */
	if (n > SIZE_MAX - 2 * k - 1)
		return -ENOMEM;
	buf = malloc(n + 2 * k + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		size_t len = 0, from = 0, j;

		for (size_t d = 0; d < k; d++) {
			memcpy(buf + len, in + from, pos[d] - from); /* k > 0: in is not NULL */
			len += pos[d] - from;
			memcpy(buf + len, dashes[digit[d]].s, dashes[digit[d]].len);
			len += dashes[digit[d]].len;
			from = pos[d] + plen[d];
		}
		if (n > from)
			memcpy(buf + len, in + from, n - from);
		len += n - from;
		buf[len] = '\0';
		rc = fn(ctx, buf, len);
		if (rc)
			goto out;
		/* Odometer step, last dash fastest; wrapping past the first means done. */
		j = k;
		while (j > 0 && ++digit[j - 1] == 5)
			digit[--j] = 0;
		if (j == 0)
			break;
	}
out:
	free(buf);
	return rc;
}
