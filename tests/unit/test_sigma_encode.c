/* Sigma encoding modifiers: base64 against RFC 4648 vectors, base64offset against pySigma's
 * documented outputs and the property that makes it useful (one variant is always a substring of
 * the encoded surrounding text), utf16 in its three forms with strict UTF-8, and windash counts,
 * contents and its cap. */
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

#include "dynbuf.h"
#include "sigma_encode.h"

#include "banned.h"

#define CAP (1u << 20)

static void expect_bytes(const struct dynbuf *b, const void *want, size_t n)
{
	assert_int_equal(b->len, n);
	if (n)
		assert_memory_equal(b->data, want, n);
	assert_int_equal(b->data[b->len], '\0');
}

static void expect_b64(const char *in, const char *want)
{
	struct dynbuf b;

	dynbuf_init(&b, CAP);
	assert_int_equal(sigma_base64(in, strlen(in), &b), 0);
	expect_bytes(&b, want, strlen(want));
	dynbuf_release(&b);
}

static void test_base64_vectors(void **state)
{
	(void)state;
	expect_b64("", "");
	expect_b64("f", "Zg==");
	expect_b64("fo", "Zm8=");
	expect_b64("foo", "Zm9v");
	expect_b64("foob", "Zm9vYg==");
	expect_b64("fooba", "Zm9vYmE=");
	expect_b64("foobar", "Zm9vYmFy");
	expect_b64("/bin/bash", "L2Jpbi9iYXNo");
}

static void test_base64_binary_and_append(void **state)
{
	static const uint8_t bin[] = {0x00, 0xff, 0xfe, 0x3e, 0x3f, 0x00, 0x80};
	struct dynbuf b;

	(void)state;
	dynbuf_init(&b, CAP);
	assert_int_equal(dynbuf_adds(&b, "x:"), 0);
	assert_int_equal(sigma_base64(bin, sizeof(bin), &b), 0);
	expect_bytes(&b, "x:AP/+Pj8AgA==", 14);
	dynbuf_release(&b);
}

static void test_base64_cap(void **state)
{
	struct dynbuf b;

	(void)state;
	dynbuf_init(&b, 6);
	assert_int_equal(dynbuf_adds(&b, "ab"), 0);
	assert_int_equal(sigma_base64("foob", 4, &b), -ENOSPC); /* 8 characters */
	expect_bytes(&b, "ab", 2);
	assert_int_equal(sigma_base64("foo", 3, &b), 0);
	expect_bytes(&b, "abZm9v", 6);
	dynbuf_release(&b);
}

/* Plain loop encoder: the reference the property test encodes surrounding text with. */
static size_t ref_b64(const uint8_t *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = a[v >> 18];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		out[o++] = a[in[i] >> 2];
		out[o++] = a[(in[i] & 3) << 4];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

		out[o++] = a[v >> 10];
		out[o++] = a[v >> 4 & 63];
		out[o++] = a[(v & 15) << 2];
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static void offset_variants(const void *in, size_t n, struct dynbuf v[3])
{
	for (size_t i = 0; i < 3; i++)
		dynbuf_init(&v[i], CAP);
	assert_int_equal(sigma_base64offset(in, n, v), 0);
}

static void release3(struct dynbuf v[3])
{
	for (size_t i = 0; i < 3; i++)
		dynbuf_release(&v[i]);
}

static void test_base64offset_known(void **state)
{
	static const char *const wrap[3] = {"/bin/bash", "x/bin/bash", "xx/bin/bash"};
	struct dynbuf v[3];
	char enc[64];

	(void)state;
	offset_variants("/bin/bash", 9, v);
	expect_bytes(&v[0], "L2Jpbi9iYXNo", 12);
	expect_bytes(&v[1], "9iaW4vYmFza", 11);
	expect_bytes(&v[2], "vYmluL2Jhc2", 11);
	for (size_t i = 0; i < 3; i++) {
		ref_b64((const uint8_t *)wrap[i], strlen(wrap[i]), enc);
		assert_non_null(strstr(enc, v[i].data));
	}
	release3(v);

	offset_variants("foobar", 6, v);
	expect_bytes(&v[0], "Zm9vYmFy", 8);
	expect_bytes(&v[1], "Zvb2Jhc", 7);
	expect_bytes(&v[2], "mb29iYX", 7);
	release3(v);
}

/* Too short for a stable character: documented empty variants. */
static void test_base64offset_short(void **state)
{
	struct dynbuf v[3];

	(void)state;
	offset_variants("", 0, v);
	for (size_t i = 0; i < 3; i++)
		expect_bytes(&v[i], "", 0);
	release3(v);
	offset_variants("A", 1, v); /* 0x41: base64 "QQ==", " A" "IEE=", "  A" "ICBB" */
	expect_bytes(&v[0], "Q", 1);
	expect_bytes(&v[1], "", 0);
	expect_bytes(&v[2], "B", 1);
	release3(v);
	offset_variants("AB", 2, v);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(v[i].len, 2);
	release3(v);
}

static void test_base64offset_cap(void **state)
{
	struct dynbuf v[3];

	(void)state;
	dynbuf_init(&v[0], CAP);
	dynbuf_init(&v[1], CAP);
	dynbuf_init(&v[2], 12); /* "vYmluL2Jhc2" needs 11 more after "ab" */
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(dynbuf_adds(&v[i], "ab"), 0);
	assert_int_equal(sigma_base64offset("/bin/bash", 9, v), -ENOSPC);
	for (size_t i = 0; i < 3; i++)
		expect_bytes(&v[i], "ab", 2);
	release3(v);
}

static uint32_t rng = 0x5eed1234u;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* For any value of 2+ bytes at any offset in any text, the variant for that offset mod 3 occurs in
 * the text's base64 encoding, exactly where the value's stable characters fall. */
static void test_base64offset_property(void **state)
{
	uint8_t text[96] = {0};
	char enc[160];

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		size_t plen = next_rand() % 20, vlen = 2 + next_rand() % 40,
		       slen = next_rand() % 20;
		bool ascii = iter & 1;
		struct dynbuf v[3];
		const char *hit;
		size_t elen, at;

		for (size_t i = 0; i < plen + vlen + slen; i++)
			text[i] = ascii ? (uint8_t)(' ' + next_rand() % 95) : (uint8_t)next_rand();
		offset_variants(text + plen, vlen, v);
		elen = ref_b64(text, plen + vlen + slen, enc);
		for (size_t i = 0; i < 3; i++)
			assert_true(v[i].len > 0);
		hit = memmem(enc, elen, v[plen % 3].data, v[plen % 3].len);
		assert_non_null(hit);
		at = plen / 3 * 4 + (size_t[]){0, 2, 3}[plen % 3];
		assert_memory_equal(enc + at, v[plen % 3].data, v[plen % 3].len);
		/* Nothing that could be decided by the value alone was dropped: the variant is at
		 * most one character shorter at each end than the span of the value's bits. */
		assert_true(v[plen % 3].len + 2 >= (vlen * 8) / 6);
		release3(v);
	}
}

static void expect_utf16(const char *in, size_t n, enum sigma_utf16 kind, const void *want,
			 size_t wn)
{
	struct dynbuf b;

	dynbuf_init(&b, CAP);
	assert_int_equal(sigma_utf16(in, n, kind, &b), 0);
	expect_bytes(&b, want, wn);
	dynbuf_release(&b);
}

static void test_utf16_vectors(void **state)
{
	(void)state;
	expect_utf16("cmd", 3, SIGMA_UTF16LE, "c\0m\0d\0", 6);
	expect_utf16("cmd", 3, SIGMA_UTF16BE, "\0c\0m\0d", 6);
	expect_utf16("cmd", 3, SIGMA_UTF16_BOM, "\xff\xfe\x63\0m\0d\0", 8);
	expect_utf16("", 0, SIGMA_UTF16LE, "", 0);
	expect_utf16("", 0, SIGMA_UTF16_BOM, "\xff\xfe", 2);
	expect_utf16("a\0b", 3, SIGMA_UTF16LE, "a\0\0\0b\0", 6);
	expect_utf16("\xc3\xa9", 2, SIGMA_UTF16LE, "\xe9\x00", 2);		   /* U+00E9 */
	expect_utf16("\xe2\x82\xac", 3, SIGMA_UTF16BE, "\x20\xac", 2);		   /* U+20AC */
	expect_utf16("\xef\xbf\xbf", 3, SIGMA_UTF16LE, "\xff\xff", 2);		   /* U+FFFF */
	expect_utf16("\xf0\x9f\x98\x80", 4, SIGMA_UTF16LE, "\x3d\xd8\x00\xde", 4); /* U+1F600 */
	expect_utf16("\xf0\x9f\x98\x80", 4, SIGMA_UTF16BE, "\xd8\x3d\xde\x00", 4);
	expect_utf16("\xf0\x90\x80\x80", 4, SIGMA_UTF16BE, "\xd8\x00\xdc\x00", 4); /* U+10000 */
	expect_utf16("\xf4\x8f\xbf\xbf", 4, SIGMA_UTF16BE, "\xdb\xff\xdf\xff", 4); /* U+10FFFF */
	expect_utf16("x\xf0\x9f\x98\x80y", 6, SIGMA_UTF16_BOM, "\xff\xfex\0\x3d\xd8\x00\xdey\0",
		     10);
}

static void test_utf16_invalid(void **state)
{
	static const char *const bad[] = {
	    "\x80",		/* lone continuation */
	    "a\xc3",		/* truncated */
	    "\xe2\x82",		/* truncated */
	    "\xf0\x9f\x98",	/* truncated */
	    "\xc3\x28",		/* bad continuation */
	    "\xc0\xaf",		/* overlong '/' */
	    "\xc1\xbf",		/* overlong */
	    "\xe0\x80\xaf",	/* overlong */
	    "\xf0\x80\x80\xaf", /* overlong */
	    "\xed\xa0\x80",	/* surrogate U+D800 */
	    "\xed\xbf\xbf",	/* surrogate U+DFFF */
	    "\xf4\x90\x80\x80", /* U+110000 */
	    "\xf5\x80\x80\x80",
	    "\xff",
	};
	struct dynbuf b;

	(void)state;
	dynbuf_init(&b, CAP);
	assert_int_equal(dynbuf_adds(&b, "keep"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sigma_utf16(bad[i], strlen(bad[i]), SIGMA_UTF16LE, &b), -EILSEQ);
		expect_bytes(&b, "keep", 4);
	}
	dynbuf_release(&b);
	dynbuf_init(&b, 5);
	assert_int_equal(sigma_utf16("abc", 3, SIGMA_UTF16LE, &b), -ENOSPC);
	assert_int_equal(b.len, 0);
	assert_int_equal(sigma_utf16("ab", 2, (enum sigma_utf16)7, &b), -EINVAL);
	dynbuf_release(&b);
}

struct collect {
	char items[128][32];
	size_t n;
	int fail_at; /* return -ECANCELED on this call (1-based), 0 never */
};

static int collect_fn(void *ctx, const char *s, size_t n)
{
	struct collect *c = ctx;

	assert_true(n < 32);
	assert_int_equal(s[n], '\0');
	if (c->n < 128) {
		memcpy(c->items[c->n], s, n + 1);
		c->n++;
	}
	if (c->fail_at && (int)c->n == c->fail_at)
		return -ECANCELED;
	return 0;
}

static bool has_item(const struct collect *c, const char *s)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->items[i], s) == 0)
			return true;
	return false;
}

static void expect_distinct(const struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = i + 1; j < c->n; j++)
			assert_string_not_equal(c->items[i], c->items[j]);
}

#define EN "\xe2\x80\x93"
#define EM "\xe2\x80\x94"
#define BAR "\xe2\x80\x95"

static void test_windash(void **state)
{
	static struct collect c;
	const char *in = "-a /b";

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(sigma_windash(in, strlen(in), 25, collect_fn, &c), 0);
	assert_int_equal(c.n, 25);
	expect_distinct(&c);
	assert_string_equal(c.items[0], "-a -b"); /* odometer order, first dash slowest */
	assert_string_equal(c.items[1], "-a /b");
	assert_string_equal(c.items[24], BAR "a " BAR "b");
	assert_true(has_item(&c, "/a -b"));
	assert_true(has_item(&c, EM "a " EN "b"));
	assert_true(has_item(&c, in));

	memset(&c, 0, sizeof(c));
	assert_int_equal(sigma_windash("a" EN "b", 5, 100, collect_fn, &c), 0);
	assert_int_equal(c.n, 5);
	assert_true(has_item(&c, "a-b"));
	assert_true(has_item(&c, "a/b"));
	assert_true(has_item(&c, "a" EN "b"));
	assert_true(has_item(&c, "a" EM "b"));
	assert_true(has_item(&c, "a" BAR "b"));

	/* No dashes: the original alone; near-dashes are not dashes. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(sigma_windash("a\xe2\x80\x96\x62\xe2\x80", 7, 1, collect_fn, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.items[0], "a\xe2\x80\x96\x62\xe2\x80");
	memset(&c, 0, sizeof(c));
	assert_int_equal(sigma_windash("", 0, 1, collect_fn, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.items[0], "");

	/* Wildcards and escapes are carried through untouched. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(sigma_windash("*\\*-x?", 6, 5, collect_fn, &c), 0);
	assert_int_equal(c.n, 5);
	assert_true(has_item(&c, "*\\*/x?"));
	assert_true(has_item(&c, "*\\*" EM "x?"));
}

static void test_windash_cap(void **state)
{
	static struct collect c;
	char hostile[4096];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(sigma_windash("-a /b", 5, 24, collect_fn, &c), -E2BIG);
	assert_int_equal(c.n, 0); /* nothing partial */
	assert_int_equal(sigma_windash("-", 1, 0, collect_fn, &c), -E2BIG);
	assert_int_equal(c.n, 0);
	memset(hostile, '-', sizeof(hostile));
	assert_int_equal(sigma_windash(hostile, sizeof(hostile), SIZE_MAX, collect_fn, &c), -E2BIG);
	assert_int_equal(sigma_windash(hostile, 3, 125, collect_fn, &c), 0);
	assert_int_equal(c.n, 125);
	expect_distinct(&c);

	/* The callback's error stops the enumeration and comes back. */
	memset(&c, 0, sizeof(c));
	c.fail_at = 3;
	assert_int_equal(sigma_windash("-a /b", 5, 25, collect_fn, &c), -ECANCELED);
	assert_int_equal(c.n, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64_vectors),
	    cmocka_unit_test(test_base64_binary_and_append),
	    cmocka_unit_test(test_base64_cap),
	    cmocka_unit_test(test_base64offset_known),
	    cmocka_unit_test(test_base64offset_short),
	    cmocka_unit_test(test_base64offset_cap),
	    cmocka_unit_test(test_base64offset_property),
	    cmocka_unit_test(test_utf16_vectors),
	    cmocka_unit_test(test_utf16_invalid),
	    cmocka_unit_test(test_windash),
	    cmocka_unit_test(test_windash_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
