/* Unit tests for procnet_parse: /proc/net/tcp{,6} lines as a little-endian kernel prints them,
 * fd link targets, and malformed or hostile lines that must be rejected. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "procnet_parse.h"

static int parse(const char *line, struct procnet_sock *s)
{
	return procnet_parse_line(line, strlen(line), s);
}

static const char *ip(const struct procnet_sock *s, bool remote, char *buf)
{
	int rc = procnet_parse_format_ip(s->family, remote ? s->remote : s->local, buf,
					 PROCNET_PARSE_IP_LEN);

	assert_true(rc == AF_INET || rc == AF_INET6);
	return buf;
}

static bool little_endian(void)
{
	uint16_t x = 1;

	return *(uint8_t *)&x == 1;
}

static void test_ipv4_listen(void **state)
{
	const char *l = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 "
			"00000000  1000        0 48213 1 0000000000000000 100 0 0 10 0\n";
	struct procnet_sock s;
	char buf[PROCNET_PARSE_IP_LEN];

	(void)state;
	if (!little_endian())
		skip();
	assert_int_equal(parse(l, &s), 0);
	assert_int_equal(s.family, AF_INET);
	assert_string_equal(ip(&s, false, buf), "127.0.0.1");
	assert_int_equal(s.local_port, 8080);
	assert_string_equal(ip(&s, true, buf), "0.0.0.0");
	assert_int_equal(s.remote_port, 0);
	assert_int_equal(s.state, PROCNET_TCP_LISTEN);
	assert_int_equal(s.uid, 1000);
	assert_int_equal(s.inode, 48213);
}

static void test_ipv4_established(void **state)
{
	const char *l = "  12: 0F02000A:C35A 2260D9AC:01BB 01 00000000:00000000 02:00000A3C "
			"00000000     0        0 91234 2 ffff8f0a12345678 20 4 30 10 -1";
	struct procnet_sock s;
	char buf[PROCNET_PARSE_IP_LEN];

	(void)state;
	if (!little_endian())
		skip();
	assert_int_equal(parse(l, &s), 0);
	assert_string_equal(ip(&s, false, buf), "10.0.2.15");
	assert_int_equal(s.local_port, 50010);
	assert_string_equal(ip(&s, true, buf), "172.217.96.34");
	assert_int_equal(s.remote_port, 443);
	assert_int_equal(s.state, PROCNET_TCP_ESTABLISHED);
	assert_int_equal(s.uid, 0);
	assert_int_equal(s.inode, 91234);
}

static void test_ipv6_loopback_and_mapped(void **state)
{
	const char *lo = "   1: 00000000000000000000000001000000:0016 "
			 "00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 "
			 "00000000     0        0 23456 1 0000000000000000 100 0 0 10 0";
	const char *mapped =
	    "   2: 0000000000000000FFFF00000100007F:1F90 "
	    "0000000000000000FFFF00000100007F:D431 01 00000000:00000000 "
	    "00:00000000 00000000    33        0 777 1 0000000000000000 20 4 1 10 -1";
	const char *global =
	    "   3: B80D0120000000000000000001000000:0050 "
	    "B80D01200000000000000000020000FE:E2A4 02 00000001:00000000 "
	    "01:00000123 00000000  1000        0 4242 2 0000000000000000 20 4 1 10 -1";
	struct procnet_sock s;
	char buf[PROCNET_PARSE_IP_LEN];

	(void)state;
	if (!little_endian())
		skip();
	assert_int_equal(parse(lo, &s), 0);
	assert_int_equal(s.family, AF_INET6);
	assert_string_equal(ip(&s, false, buf), "::1");
	assert_int_equal(s.local_port, 22);
	assert_string_equal(ip(&s, true, buf), "::");

	/* A dual-stack socket's IPv4 peer: written as plain IPv4. */
	assert_int_equal(parse(mapped, &s), 0);
	assert_int_equal(s.family, AF_INET6);
	assert_int_equal(procnet_parse_format_ip(s.family, s.local, buf, sizeof(buf)), AF_INET);
	assert_string_equal(buf, "127.0.0.1");
	assert_int_equal(s.remote_port, 54321);
	assert_int_equal(s.uid, 33);

	assert_int_equal(parse(global, &s), 0);
	assert_string_equal(ip(&s, false, buf), "2001:db8::1");
	assert_string_equal(ip(&s, true, buf), "2001:db8::fe00:2");
	assert_int_equal(s.state, PROCNET_TCP_SYN_SENT);
	assert_int_equal(s.inode, 4242);
}

static void test_time_wait_no_inode(void **state)
{
	const char *l = "   4: 0100007F:0016 0100007F:A8C2 06 00000000:00000000 03:000016F1 "
			"00000000     0        0 0 3 0000000000000000";
	struct procnet_sock s;

	(void)state;
	assert_int_equal(parse(l, &s), 0);
	assert_int_equal(s.state, PROCNET_TCP_TIME_WAIT);
	assert_int_equal(s.inode, 0);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    "\n",
	    ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
	     "timeout inode"),
	    "   0:",
	    "   0: 0100007F:1F90",
	    "   0: 0100007F:1F90 00000000:0000",
	    "   0: 0100007F:1F90 00000000:0000 0A",
	    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 1000 0",
	    /* non-hex address, port, state */
	    "   0: 0100007G:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1",
	    "   0: 0100007F:1F9Z 00000000:0000 0A 0:0 0:0 0 0 0 1",
	    "   0: 0100007F:1F90 00000000:0000 ZZ 0:0 0:0 0 0 0 1",
	    "   0: 0100007F:1F90 00000000:0000 0AB 0:0 0:0 0 0 0 1",
	    /* wrong lengths, mixed families, missing colon */
	    "   0: 100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1",
	    "   0: 0100007F:1F900 00000000:0000 0A 0:0 0:0 0 0 0 1",
	    "   0: 0100007F:1F90 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 1",
	    "   0: 0100007F-1F90 00000000:0000 0A 0:0 0:0 0 0 0 1",
	    /* bad slot, uid, inode */
	    "   x: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1",
	    "   0 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1",
	    "   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 -1 0 1",
	    "   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 4294967296 0 1",
	    "   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1x",
	    "   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 99999999999999999999999",
	    "   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 18446744073709551616",
	};
	struct procnet_sock s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &s);

		if (rc != -EINVAL)
			fail_msg("case %zu (%s): rc %d", i, bad[i], rc);
	}
}

static void test_minimal_and_max_inode(void **state)
{
	struct procnet_sock s;

	(void)state;
	assert_int_equal(
	    parse("0: 00000000:0000 00000000:0000 1 a b c 0 d 18446744073709551615", &s), 0);
	assert_true(s.inode == UINT64_MAX);
	assert_int_equal(s.state, 1);
}

static void test_not_nul_terminated_and_huge(void **state)
{
	const char *l = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 "
			"00000000  1000        0 48213 1";
	size_t n = strlen(l);
	char *copy = malloc(n);
	char *huge = malloc(PROCNET_PARSE_MAX_LINE + 2);
	struct procnet_sock s;

	(void)state;
	assert_non_null(copy);
	assert_non_null(huge);
	/* Exactly the line's bytes, no terminator: ASan catches any over-read. */
	memcpy(copy, l, n);
	assert_int_equal(procnet_parse_line(copy, n, &s), 0);
	assert_int_equal(s.inode, 48213);
	/* Cut anywhere before the inode: never a success with a half-read number. */
	for (size_t cut = 0; cut + 6 < n; cut++)
		assert_int_equal(procnet_parse_line(copy, cut, &s), -EINVAL);
	memset(huge, ' ', PROCNET_PARSE_MAX_LINE + 1);
	assert_int_equal(procnet_parse_line(huge, PROCNET_PARSE_MAX_LINE + 1, &s), -E2BIG);
	assert_int_equal(procnet_parse_line(huge, PROCNET_PARSE_MAX_LINE, &s), -EINVAL);
	free(copy);
	free(huge);
}

static void test_socket_link(void **state)
{
	uint64_t inode;

	(void)state;
	assert_int_equal(procnet_parse_socket_link("socket:[48213]", 14, &inode), 0);
	assert_int_equal(inode, 48213);
	assert_int_equal(procnet_parse_socket_link("socket:[]", 9, &inode), -EINVAL);
	assert_int_equal(procnet_parse_socket_link("socket:[12", 10, &inode), -EINVAL);
	assert_int_equal(procnet_parse_socket_link("socket:[1a]", 11, &inode), -EINVAL);
	assert_int_equal(procnet_parse_socket_link("pipe:[48213]", 12, &inode), -EINVAL);
	assert_int_equal(procnet_parse_socket_link("/dev/null", 9, &inode), -EINVAL);
	assert_int_equal(procnet_parse_socket_link("anon_inode:[eventfd]", 20, &inode), -EINVAL);
	assert_int_equal(procnet_parse_socket_link("socket:[184467440737095516150]", 30, &inode),
			 -EINVAL);
	assert_int_equal(procnet_parse_socket_link("socket:[18446744073709551616]", 29, &inode),
			 -EINVAL);
}

static void test_format_ip_errors(void **state)
{
	uint8_t a[16] = {10, 0, 0, 1};
	char small[9];

	(void)state;
	assert_int_equal(procnet_parse_format_ip(AF_UNIX, a, small, sizeof(small)), -EAFNOSUPPORT);
	/* "10.0.0.1" needs 9 bytes with its NUL. */
	assert_int_equal(procnet_parse_format_ip(AF_INET, a, small, 8), -ENOSPC);
	assert_int_equal(procnet_parse_format_ip(AF_INET, a, small, sizeof(small)), AF_INET);
	assert_string_equal(small, "10.0.0.1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4_listen),
	    cmocka_unit_test(test_ipv4_established),
	    cmocka_unit_test(test_ipv6_loopback_and_mapped),
	    cmocka_unit_test(test_time_wait_no_inode),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_minimal_and_max_inode),
	    cmocka_unit_test(test_not_nul_terminated_and_huge),
	    cmocka_unit_test(test_socket_link),
	    cmocka_unit_test(test_format_ip_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
