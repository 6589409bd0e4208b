/* DNS query parsing: names, types, and hostile messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dns_parse.h"

/* Builds a query for name (dotted) and qtype into buf; returns its length. */
static size_t build(uint8_t *buf, const char *name, uint16_t qtype)
{
	static const uint8_t hdr[12] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
	size_t n = 12;

	memcpy(buf, hdr, 12);
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		buf[n++] = (uint8_t)l;
		memcpy(buf + n, name, l);
		n += l;
		name += l + (dot ? 1 : 0);
	}
	buf[n++] = 0;
	buf[n++] = (uint8_t)(qtype >> 8);
	buf[n++] = (uint8_t)qtype;
	buf[n++] = 0;
	buf[n++] = 1;
	return n;
}

static void test_queries(void **state)
{
	uint8_t buf[512];
	struct dns_question q;
	size_t n;

	(void)state;
	n = build(buf, "www.example.com", 1);
	assert_int_equal(dns_parse_query(buf, n, &q), 0);
	assert_string_equal(q.name, "www.example.com");
	assert_string_equal(q.type, "A");
	assert_int_equal(q.id, 0x1234);
	n = build(buf, "x.mamori.test", 28);
	assert_int_equal(dns_parse_query(buf, n, &q), 0);
	assert_string_equal(q.type, "AAAA");
	n = build(buf, "a.b", 4242);
	assert_int_equal(dns_parse_query(buf, n, &q), 0);
	assert_string_equal(q.type, "4242");
	n = build(buf, "", 2);
	assert_int_equal(dns_parse_query(buf, n, &q), 0);
	assert_string_equal(q.name, ".");
}

static void test_hostile(void **state)
{
	uint8_t buf[1024];
	struct dns_question q;
	size_t n = build(buf, "www.example.com", 1);

	(void)state;
	/* Truncated anywhere. */
	for (size_t cut = 0; cut < n; cut++)
		assert_true(dns_parse_query(buf, cut, &q) < 0);
	/* A response, not a query. */
	buf[2] |= 0x80;
	assert_int_equal(dns_parse_query(buf, n, &q), -EINVAL);
	buf[2] &= 0x7f;
	/* No question. */
	buf[5] = 0;
	assert_int_equal(dns_parse_query(buf, n, &q), -EINVAL);
	buf[5] = 1;
	/* A compression pointer in the question. */
	buf[12] = 0xC0;
	assert_int_equal(dns_parse_query(buf, n, &q), -EINVAL);
	/* A label running past the end. */
	buf[12] = 60;
	assert_int_equal(dns_parse_query(buf, n, &q), -EINVAL);
	/* A name longer than 255 characters. */
	memset(buf + 12, 0, sizeof(buf) - 12);
	n = 12;
	for (int i = 0; i < 5; i++) {
		buf[n++] = 63;
		memset(buf + n, 'a', 63);
		n += 63;
	}
	buf[n++] = 0;
	n += 4;
	assert_int_equal(dns_parse_query(buf, n, &q), -ENOSPC);
	/* Unprintable bytes are shown as '?'. */
	n = build(buf, "ab", 1);
	buf[13] = 0x07;
	assert_int_equal(dns_parse_query(buf, n, &q), 0);
	assert_string_equal(q.name, "?b");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queries),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
