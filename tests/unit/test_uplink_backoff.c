/* uplink_backoff_ms: the retry wait doubles per attempt up to its cap, stays within +-50 % of the
 * step's base whatever the random word, and the random word spreads agents over that range. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "uplink.h"

/* The base wait of an attempt, as the documentation of uplink_backoff_ms states it. */
static uint64_t base_of(unsigned attempt)
{
	uint64_t b = UPLINK_BACKOFF_MIN_MS;

	while (attempt-- && b < UPLINK_BACKOFF_MAX_MS)
		b *= 2;
	return b < UPLINK_BACKOFF_MAX_MS ? b : UPLINK_BACKOFF_MAX_MS;
}

static void test_bounds(void **state)
{
	static const uint32_t words[] = {
	    0, 1, 2, 499, 500, 501, 12345, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};

	(void)state;
	for (unsigned a = 0; a < 40; a++) {
		uint64_t base = base_of(a);

		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
			uint64_t ms = uplink_backoff_ms(a, words[i]);

			if (ms < base / 2 || ms > base + base / 2)
				fail_msg("attempt %u word %u: %llu ms outside [%llu, %llu]", a,
					 words[i], (unsigned long long)ms,
					 (unsigned long long)(base / 2),
					 (unsigned long long)(base + base / 2));
		}
	}
}

static void test_growth_and_cap(void **state)
{
	(void)state;
	/* With the same random word the wait doubles per attempt until the cap. */
	assert_int_equal(uplink_backoff_ms(0, 0), UPLINK_BACKOFF_MIN_MS / 2);
	assert_int_equal(uplink_backoff_ms(1, 0), UPLINK_BACKOFF_MIN_MS);
	assert_int_equal(uplink_backoff_ms(2, 0), UPLINK_BACKOFF_MIN_MS * 2);
	assert_int_equal(uplink_backoff_ms(3, 0), UPLINK_BACKOFF_MIN_MS * 4);
	/* 500 ms doubled six times is 32 s: capped at 30 s from then on. */
	assert_int_equal(uplink_backoff_ms(6, 0), UPLINK_BACKOFF_MAX_MS / 2);
	assert_int_equal(uplink_backoff_ms(16, 0), UPLINK_BACKOFF_MAX_MS / 2);
	assert_int_equal(uplink_backoff_ms(1000, 0), UPLINK_BACKOFF_MAX_MS / 2);
	/* The largest wait is base + base/2, reached when the word's remainder is base. */
	assert_int_equal(uplink_backoff_ms(0, UPLINK_BACKOFF_MIN_MS),
			 UPLINK_BACKOFF_MIN_MS + UPLINK_BACKOFF_MIN_MS / 2);
	assert_int_equal(uplink_backoff_ms(20, UPLINK_BACKOFF_MAX_MS),
			 UPLINK_BACKOFF_MAX_MS + UPLINK_BACKOFF_MAX_MS / 2);
}

/* A fleet's agents draw different words: their waits cover the whole range, in every tenth of
 * it, instead of landing on one instant. */
static void test_jitter_spreads(void **state)
{
	const unsigned attempt = 10; /* at the cap */
	const uint64_t base = UPLINK_BACKOFF_MAX_MS;
	unsigned bins[10] = {0};
	uint32_t x = 2463534242u; /* xorshift32: deterministic words */

	(void)state;
	for (int i = 0; i < 10000; i++) {
		uint64_t ms;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		ms = uplink_backoff_ms(attempt, x);
		bins[(ms - base / 2) * 10 / (base + 1)]++;
	}
	for (int b = 0; b < 10; b++)
		if (bins[b] < 800 || bins[b] > 1200)
			fail_msg("tenth %d of the jitter range holds %u of 10000 waits", b,
				 bins[b]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_growth_and_cap),
	    cmocka_unit_test(test_jitter_spreads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
