/* Block filters of the SQLite store: no false negatives, a false-positive rate near the design's
 * 1%, keys that depend on the column, and damaged filters that answer "maybe". */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "event_bloom.h"

static uint64_t key_of(const char *col, unsigned i)
{
	char v[48];
	int n = snprintf(v, sizeof(v), "%032x", i * 2654435761u);

	return event_bloom_key(col, v, (size_t)n);
}

static void test_members_and_false_positives(void **state)
{
	struct event_bloom b;
	struct dynbuf f;
	unsigned fp = 0;

	(void)state;
	event_bloom_init(&b);
	dynbuf_init(&f, 64 << 20);
	for (unsigned round = 0; round < 2; round++) { /* the second round reuses the builder */
		event_bloom_reset(&b);
		dynbuf_reset(&f);
		for (unsigned i = 0; i < 20000; i++) {
			assert_int_equal(event_bloom_add(&b, key_of("entity_id", i)), 0);
			/* duplicates do not count */
			assert_int_equal(event_bloom_add(&b, key_of("entity_id", i)), 0);
		}
		assert_int_equal(b.n, 20000);
		assert_int_equal(event_bloom_write(&b, &f), 0);
		/* about 10 bits per key: 20000 keys in 391 blocks of 64 bytes, plus the header */
		assert_int_equal(f.len, 8 + 391 * 64);
		for (unsigned i = 0; i < 20000; i++)
			assert_true(event_bloom_may_contain(f.data, f.len, key_of("entity_id", i)));
	}
	for (unsigned i = 20000; i < 120000; i++)
		fp += event_bloom_may_contain(f.data, f.len, key_of("entity_id", i));
	if (fp > 2500) { /* 2.5% of 100000 */
		print_error("false positives: %u of 100000\n", fp);
		fail();
	}
	/* The same value in another column is another key. */
	assert_true(event_bloom_key("path", "x", 1) != event_bloom_key("name", "x", 1));
	assert_true(event_bloom_key("path", "ab", 2) != event_bloom_key("path", "ab", 1));
	event_bloom_release(&b);
	dynbuf_release(&f);
}

static void test_empty_and_damaged(void **state)
{
	struct event_bloom b;
	struct dynbuf f;
	uint64_t k = event_bloom_key("hash", "aa", 2);

	(void)state;
	event_bloom_init(&b);
	dynbuf_init(&f, 1 << 20);
	assert_int_equal(event_bloom_write(&b, &f), 0);
	assert_int_equal(f.len, 8 + 64);
	assert_false(event_bloom_may_contain(f.data, f.len, k));
	/* Key 0 is stored (as 1) like any other. */
	event_bloom_reset(&b);
	assert_int_equal(event_bloom_add(&b, 0), 0);
	dynbuf_reset(&f);
	assert_int_equal(event_bloom_write(&b, &f), 0);
	assert_true(event_bloom_may_contain(f.data, f.len, 0));
	/* Not a filter, a future version, a length that disagrees: "maybe". */
	assert_true(event_bloom_may_contain(NULL, 0, k));
	assert_true(event_bloom_may_contain("B", 1, k));
	assert_true(event_bloom_may_contain(f.data, f.len - 1, k));
	f.data[1] = 2;
	assert_true(event_bloom_may_contain(f.data, f.len, k));
	f.data[1] = 1;
	f.data[4] = 0; /* zero blocks */
	assert_true(event_bloom_may_contain(f.data, f.len, k));
	/* A cap too small for the filter fails without writing. */
	{
		struct dynbuf small;

		dynbuf_init(&small, 16);
		assert_int_equal(event_bloom_write(&b, &small), -ENOSPC);
		assert_int_equal(small.len, 0);
		dynbuf_release(&small);
	}
	event_bloom_release(&b);
	dynbuf_release(&f);
}

static void test_columns(void **state)
{
	(void)state;
	assert_true(event_bloom_column("entity_id"));
	assert_true(event_bloom_column("parent_entity_id"));
	assert_true(event_bloom_column("hash"));
	assert_true(event_bloom_column("dst_ip"));
	assert_true(event_bloom_column("dns"));
	assert_true(event_bloom_column("host"));
	/* low-cardinality or range-searched columns are not in the filters */
	assert_false(event_bloom_column("action"));
	assert_false(event_bloom_column("ts"));
	assert_false(event_bloom_column("pid"));
	assert_false(event_bloom_column(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_members_and_false_positives),
	    cmocka_unit_test(test_empty_and_damaged),
	    cmocka_unit_test(test_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
