/* src/detect/bytes.h, the matchers' byte-string tests, against the C library: equality against
 * memcmp, the substring search against memmem (needles at every position of haystacks of every
 * length around the sixteen-byte blocks, first and last bytes that recur, bytes from 0x80 up), and
 * lower-casing and the first upper-case byte against a byte-by-byte reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bytes.h"

#include "banned.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void fill(unsigned char *p, size_t n, const char *alpha)
{
	size_t k = strlen(alpha);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)alpha[rnd((unsigned)k)];
}

static void test_eq(void **state)
{
	(void)state;
	unsigned char a[64], b[64];
	for (unsigned r = 0; r < 20000; r++) {
		size_t n = rnd(40);
		fill(a, n, "ab\x80\xff");
		memcpy(b, a, n);
		if (n && rnd(2))
			b[rnd((unsigned)n)] ^= (unsigned char)(1u << rnd(8));
		assert_int_equal(bytes_eq(a, b, n), memcmp(a, b, n) == 0);
	}
}

static void test_find(void **state)
{
	(void)state;
	static const char *const alpha[] = {"ab", "abc /", "a\x80\xff", "xyz-ABC012"};
	unsigned char h[128], s[40];
	for (unsigned r = 0; r < 200000; r++) {
		const char *al = alpha[rnd(4)];
		size_t n = rnd(70), len = rnd(r % 3 ? 6 : 24);
		fill(h, n, al);
		fill(s, len, al);
		if (len <= n && rnd(2)) /* plant it, sometimes with its middle changed */
			memcpy(h + rnd((unsigned)(n - len + 1)), s, len);
		if (len > 2 && n && rnd(4) == 0)
			h[rnd((unsigned)n)] = s[1 + rnd((unsigned)(len - 2))];
		bool want = memmem(h, n, s, len) != NULL;
		if (bytes_find(h, n, s, len) != want)
			fail_msg("n %zu len %zu: want %d", n, len, want);
	}
	/* The needle at every position of every haystack length around the block edges. */
	for (size_t n = 1; n < 60; n++)
		for (size_t len = 1; len <= n && len < 20; len++)
			for (size_t at = 0; at + len <= n; at++) {
				memset(h, 'a', n);
				memset(s, 'b', len);
				s[0] = 'c';
				memcpy(h + at, s, len);
				assert_true(bytes_find(h, n, s, len));
				h[at + len - 1] = 'a';
				assert_int_equal(bytes_find(h, n, s, len),
						 memmem(h, n, s, len) != NULL);
			}
	assert_true(bytes_find("x", 1, "", 0));
	assert_false(bytes_find("ab", 2, "abc", 3));
}

static void test_lower(void **state)
{
	(void)state;
	char src[100], dst[100], want[100];
	for (unsigned r = 0; r < 20000; r++) {
		size_t n = rnd(100), up = n;
		fill((unsigned char *)src, n,
		     "aZ@[`{\x80\xc1\xda"
		     "A09 ");
		for (size_t i = 0; i < n; i++) {
			want[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] + 32) : src[i];
			if (up == n && src[i] >= 'A' && src[i] <= 'Z')
				up = i;
		}
		bytes_lower(dst, src, n);
		assert_memory_equal(dst, want, n);
		assert_int_equal(bytes_first_upper(src, n), up);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_eq),
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_lower),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
