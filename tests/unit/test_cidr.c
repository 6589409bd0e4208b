/* IP addresses and CIDR networks: parse edge cases, agreement with inet_pton/inet_ntop where they
 * define the answer, containment at /0, /32, /128 and odd prefixes, IPv4 in its mapped form, and
 * the longest-prefix-match set against a linear scan over random nested networks. */
#include <arpa/inet.h>
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

#include "cidr.h"

#include "banned.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t next_rand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}

static struct ip_addr addr(const char *s)
{
	struct ip_addr a;

	if (ip_addr_parse(s, strlen(s), &a))
		fail_msg("ip_addr_parse(%s) failed", s);
	return a;
}

static struct cidr net(const char *s)
{
	struct cidr c;

	if (cidr_parse(s, strlen(s), &c))
		fail_msg("cidr_parse(%s) failed", s);
	return c;
}

static void expect_addr(const char *s, const char *hex)
{
	struct ip_addr a = addr(s);
	uint8_t want[16];

	assert_int_equal(strlen(hex), 32);
	for (size_t i = 0; i < 16; i++) {
		char two[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
		char *end;

		want[i] = (uint8_t)strtoul(two, &end, 16);
		assert_true(*end == '\0');
	}
	assert_memory_equal(a.b, want, 16);
}

static void test_parse_valid(void **state)
{
	struct ip_addr a;

	(void)state;
	expect_addr("10.1.2.3", "00000000000000000000ffff0a010203");
	expect_addr("0.0.0.0", "00000000000000000000ffff00000000");
	expect_addr("255.255.255.255", "00000000000000000000ffffffffffff");
	expect_addr("::", "00000000000000000000000000000000");
	expect_addr("::1", "00000000000000000000000000000001");
	expect_addr("1::", "00010000000000000000000000000000");
	expect_addr("2001:DB8::a:Bc", "20010db80000000000000000000a00bc");
	expect_addr("1:2:3:4:5:6:7:8", "00010002000300040005000600070008");
	expect_addr("1:2:3:4:5:6:7::", "00010002000300040005000600070000");
	expect_addr("::2:3:4:5:6:7:8", "00000002000300040005000600070008");
	expect_addr("0000:0000:0000:0000:0000:0000:0000:0001", "00000000000000000000000000000001");
	expect_addr("fe80::1%eth0", "fe800000000000000000000000000001");
	expect_addr("fe80::1%25", "fe800000000000000000000000000001");
	expect_addr("[::1]", "00000000000000000000000000000001");
	expect_addr("[fe80::1%br-lan.2]", "fe800000000000000000000000000001");
	expect_addr("::ffff:1.2.3.4", "00000000000000000000ffff01020304");
	expect_addr("64:ff9b::192.0.2.33", "0064ff9b0000000000000000c0000221");
	expect_addr("::1.2.3.4", "00000000000000000000000001020304");
	expect_addr("0:0:0:0:0:ffff:255.255.255.255", "00000000000000000000ffffffffffff");
	/* Not NUL-terminated: only n bytes are read. */
	assert_int_equal(ip_addr_parse("10.1.2.3999", 8, &a), 0);
	assert_int_equal(a.b[15], 3);
	assert_int_equal(ip_addr_parse("::1::", 3, &a), 0);
	assert_false(ip_addr_is_v4(&a));
	a = addr("::ffff:7.7.7.7");
	assert_true(ip_addr_is_v4(&a));
	a = addr("7.7.7.7");
	assert_true(ip_addr_is_v4(&a));
	a = addr("::7.7.7.7");
	assert_false(ip_addr_is_v4(&a));
}

static void test_parse_invalid(void **state)
{
	/* clang-format off */
	static const char *const bad[] = {
	    "", " ", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "1.2.3.1000", "01.2.3.4",
	    "1.2.3.04", "00.1.1.1", "1.2.3.00", "0x1.2.3.4", "1..2.3", ".1.2.3.4", "1.2.3.4.",
	    "1.2.3.-4", "+1.2.3.4", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4\n", "1.2.3.4/8", "1",
	    "4294967295", ":", ":::", "1:::2", "1::2::3", "::1::", ":1::", "1:", ":1", "1::2:",
	    "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8",
	    "12345::", "g::", "::g", "::1.2.3", "::1.2.3.04", "::256.1.2.3",
	    "1:2:3:4:5:6:7:1.2.3.4", "1.2.3.4::", "::1.2.3.4:5", "::ffff:1.2.3.4.5",
	    "1:2:3:4:5:6:1.2.3.4:8", "[1.2.3.4]", "1.2.3.4%eth0", "[::1", "::1]", "[]", "[", "]",
	    "[[::1]]", "fe80::1%", "fe80::1%eth 0", "fe80::1%a/b", "fe80::1%a%b", "fe80::1%a]",
	    "%eth0", "::1 ", " ::1", "::-1", "::1/128",
	    "0000000000000000000000000000000000000000000000000000000000000000000000000000000001::",
	};
	/* clang-format on */
	char longer[300] = "fe80::1%";
	struct ip_addr a = addr("9.9.9.9"), orig = a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ip_addr_parse(bad[i], strlen(bad[i]), &a) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_memory_equal(&a, &orig, sizeof(a)); /* untouched on error */
	}
	assert_int_equal(ip_addr_parse("1.2\0.3.4", 8, &a), -EINVAL);
	/* Too long, even when it would otherwise be a valid zone. */
	memset(longer + 8, 'a', sizeof(longer) - 8);
	assert_int_equal(ip_addr_parse(longer, 8 + 64, &a), 0);
	assert_int_equal(ip_addr_parse(longer, 8 + 65, &a), -EINVAL);
	assert_int_equal(ip_addr_parse(longer, sizeof(longer), &a), -EINVAL);
}

/* Agreement with glibc's inet_pton on strings built from address-like pieces (zones and brackets
 * aside, which inet_pton does not take). */
static void test_parse_vs_inet_pton(void **state)
{
	static const char *const piece[] = {
	    "0",
	    "1",
	    "9",
	    "00",
	    "01",
	    "10",
	    "99",
	    "255",
	    "256",
	    "999",
	    "1000",
	    "a",
	    "F",
	    "ff",
	    "fff",
	    "ffff",
	    "fFfF",
	    "0000",
	    "00000",
	    "12345",
	    ":",
	    ":",
	    ":",
	    "::",
	    "::",
	    ".",
	    ".",
	    ".",
	    "g",
	    "1.2.3.4",
	    "255.255.255.255",
	    "ffff:",
	    ":ffff:",
	    "0:",
	    "::ffff:",
	};
	const size_t npiece = sizeof(piece) / sizeof(piece[0]);
	size_t accepted = 0;

	(void)state;
	for (int iter = 0; iter < 300000; iter++) {
		char s[96] = "";
		size_t len = 0, k = 1 + next_rand() % 12;
		uint8_t want[16];
		struct ip_addr a;
		int ok, rc;

		for (size_t i = 0; i < k; i++) {
			const char *p = piece[next_rand() % npiece];
			size_t l = strlen(p);

			if (len + l >= sizeof(s))
				break;
			memcpy(s + len, p, l + 1);
			len += l;
		}
		if (strchr(s, ':')) {
			ok = inet_pton(AF_INET6, s, want);
		} else {
			memset(want, 0, 10);
			want[10] = want[11] = 0xff;
			ok = inet_pton(AF_INET, s, want + 12);
		}
		rc = ip_addr_parse(s, len, &a);
		if ((rc == 0) != (ok == 1))
			fail_msg("\"%s\": ours %d, inet_pton %d", s, rc, ok);
		if (rc == 0) {
			assert_memory_equal(a.b, want, 16);
			accepted++;
		}
	}
	assert_true(accepted > 1000); /* the generator does reach valid addresses */
}

static void expect_format(const char *in, const char *want)
{
	struct ip_addr a = addr(in);
	char buf[CIDR_ADDR_STRLEN];

	ip_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_format(void **state)
{
	struct ip_addr a;
	char buf[CIDR_ADDR_STRLEN], ref[INET6_ADDRSTRLEN], small[5];

	(void)state;
	expect_format("::", "::");
	expect_format("::1", "::1");
	expect_format("1::", "1::");
	expect_format("10.1.2.3", "10.1.2.3");
	expect_format("::ffff:10.1.2.3", "10.1.2.3");
	expect_format("0.0.0.0", "0.0.0.0");
	expect_format("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1");
	expect_format("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"); /* one zero group stays */
	expect_format("2001:0:0:1:0:0:0:1", "2001:0:0:1::1");	       /* longest run */
	expect_format("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");    /* first of equal runs */
	expect_format("fe80::1%eth0", "fe80::1");
	expect_format("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	a = addr("2001:db8::1");
	ip_addr_format(&a, small, sizeof(small));
	assert_string_equal(small, "2001"); /* truncated like snprintf */

	/* Round trip, and the same text as inet_ntop where glibc does not pick a dotted form. */
	for (int iter = 0; iter < 100000; iter++) {
		struct ip_addr back;
		bool dotted;

		for (size_t i = 0; i < 16; i += 2) {
			uint32_t r = next_rand();

			a.b[i] = r & 1 ? (uint8_t)(r >> 8) : 0;
			a.b[i + 1] = r & 1 ? (uint8_t)(r >> 16) : 0;
			if (r & 2) /* single non-zero byte groups too */
				a.b[i] = 0;
		}
		if (iter % 7 == 0)
			memcpy(a.b, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
		ip_addr_format(&a, buf, sizeof(buf));
		assert_int_equal(ip_addr_parse(buf, strlen(buf), &back), 0);
		assert_memory_equal(back.b, a.b, 16);
		dotted = memcmp(a.b, "\0\0\0\0\0\0\0\0\0\0\0\0", 12) == 0 || ip_addr_is_v4(&a);
		if (ip_addr_is_v4(&a)) {
			assert_non_null(inet_ntop(AF_INET, a.b + 12, ref, sizeof(ref)));
			assert_string_equal(buf, ref);
		} else if (!dotted) {
			assert_non_null(inet_ntop(AF_INET6, a.b, ref, sizeof(ref)));
			assert_string_equal(buf, ref);
		}
	}
}

static void expect_cidr(const char *s, const char *net_text, unsigned prefix)
{
	struct cidr c = net(s);
	struct ip_addr n = addr(net_text);

	assert_memory_equal(c.net.b, n.b, 16);
	assert_int_equal(c.prefix, prefix);
}

static void test_cidr_parse(void **state)
{
	static const char *const bad[] = {
	    "",		  "/",		"/8",	      "1.2.3.4/",    "1.2.3.4/33",
	    "1.2.3.4/08", "1.2.3.4/-1", "1.2.3.4/ 8", "1.2.3.4/8 ",  "1.2.3.4/8/8",
	    "1.2.3.4/8x", "1.2.3.4/+8", "1.2.3/8",    "::/129",	     "::/1000",
	    "::/0128",	  "::1/",	"[::1/64]",   "256.0.0.0/8", "1.2.3.4/4294967304",
	    "x/8",
	};
	struct cidr c;

	(void)state;
	expect_cidr("10.0.0.0/8", "10.0.0.0", 104);
	expect_cidr("10.1.2.3/8", "10.0.0.0", 104);
	expect_cidr("10.1.2.3/31", "10.1.2.2", 127);
	expect_cidr("10.1.2.3/0", "0.0.0.0", 96);
	expect_cidr("10.1.2.3/32", "10.1.2.3", 128);
	expect_cidr("10.1.2.3", "10.1.2.3", 128);
	expect_cidr("::ffff:10.1.2.3/104", "10.0.0.0", 104);
	expect_cidr("2001:db8::/32", "2001:db8::", 32);
	expect_cidr("2001:db8:ffff::1/33", "2001:db8:8000::", 33);
	expect_cidr("2001:db8::1/127", "2001:db8::", 127);
	expect_cidr("::1", "::1", 128);
	expect_cidr("ffff::1/0", "::", 0);
	expect_cidr("fe80::1%eth0/64", "fe80::", 64);
	expect_cidr("[2001:db8::1]/48", "2001:db8::", 48);
	assert_int_equal(cidr_parse("10.0.0.0/8zzz", 10, &c), 0); /* only n bytes */
	assert_int_equal(c.prefix, 104);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cidr_parse(bad[i], strlen(bad[i]), &c) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
}

static bool contains(const char *c, const char *a)
{
	struct cidr n = net(c);
	struct ip_addr x = addr(a);

	return cidr_contains(&n, &x);
}

/* Bit by bit, straight from the definition. */
static bool ref_contains(const struct cidr *c, const struct ip_addr *a)
{
	for (unsigned bit = 0; bit < c->prefix; bit++) {
		unsigned m = 0x80u >> (bit % 8);

		if ((c->net.b[bit / 8] & m) != (a->b[bit / 8] & m))
			return false;
	}
	return true;
}

static void test_contains(void **state)
{
	(void)state;
	assert_true(contains("10.0.0.0/8", "10.0.0.0"));
	assert_true(contains("10.0.0.0/8", "10.255.255.255"));
	assert_false(contains("10.0.0.0/8", "11.0.0.0"));
	assert_false(contains("10.0.0.0/8", "9.255.255.255"));
	assert_true(contains("10.0.0.0/8", "::ffff:10.1.2.3")); /* v4-mapped */
	assert_true(contains("::ffff:10.0.0.0/104", "10.1.2.3"));
	assert_false(contains("10.0.0.0/8", "::10.1.2.3"));
	assert_false(contains("10.0.0.0/8", "10::"));
	assert_true(contains("0.0.0.0/0", "255.255.255.255"));
	assert_true(contains("0.0.0.0/0", "0.0.0.0"));
	assert_false(contains("0.0.0.0/0", "::1"));
	assert_false(contains("0.0.0.0/0", "2001:db8::1"));
	assert_true(contains("::/0", "2001:db8::1"));
	assert_true(contains("::/0", "1.2.3.4"));
	assert_true(contains("1.2.3.4/32", "1.2.3.4"));
	assert_false(contains("1.2.3.4/32", "1.2.3.5"));
	assert_true(contains("1.2.3.4", "1.2.3.4"));
	assert_true(contains("2001:db8::1/128", "2001:db8::1"));
	assert_false(contains("2001:db8::1/128", "2001:db8::"));
	assert_true(contains("2001:db8::/127", "2001:db8::1"));
	assert_false(contains("2001:db8::/127", "2001:db8::2"));
	assert_true(contains("172.16.0.0/12", "172.31.255.255"));
	assert_false(contains("172.16.0.0/12", "172.32.0.0"));
	assert_true(contains("2001:db8::/33", "2001:db8:7fff::"));
	assert_false(contains("2001:db8::/33", "2001:db8:8000::"));
	assert_false(cidr_contains(&(struct cidr){.prefix = 129}, &(struct ip_addr){{0}}));

	for (int iter = 0; iter < 200000; iter++) {
		struct cidr c;
		struct ip_addr a;
		unsigned bit;

		for (size_t i = 0; i < 16; i++)
			c.net.b[i] = (uint8_t)next_rand();
		c.prefix = (uint8_t)(next_rand() % 129);
		a = c.net;
		/* Flip one bit, near the prefix boundary half of the time. */
		bit = next_rand() % 2 ? next_rand() % 128 : (c.prefix + next_rand() % 5) % 128;
		a.b[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
		assert_int_equal(cidr_contains(&c, &a), ref_contains(&c, &a));
	}
}

static void test_set_basic(void **state)
{
	struct cidr_set *s = cidr_set_new();
	struct cidr c;
	uint32_t id = 0;
	struct ip_addr a;

	(void)state;
	assert_non_null(s);
	c = net("10.0.0.0/8");
	assert_int_equal(cidr_set_add(s, &c, 1), 0);
	c = net("10.1.0.0/16");
	assert_int_equal(cidr_set_add(s, &c, 2), 0);
	c = net("10.1.2.0/24");
	assert_int_equal(cidr_set_add(s, &c, 3), 0);
	c = net("10.1.2.3/16"); /* same network as id 2: the first id stays */
	assert_int_equal(cidr_set_add(s, &c, 99), 0);
	c = net("2001:db8::/32");
	assert_int_equal(cidr_set_add(s, &c, UINT32_MAX), 0);
	c = net("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124");
	assert_int_equal(cidr_set_add(s, &c, 7), 0);
	c.prefix = 129;
	assert_int_equal(cidr_set_add(s, &c, 8), -EINVAL);
	assert_int_equal(cidr_set_count(s), 6);
	a = addr("10.1.2.3");
	assert_false(cidr_set_lookup(s, &a, &id)); /* not frozen yet */
	assert_int_equal(cidr_set_freeze(s), 0);
	assert_int_equal(cidr_set_freeze(s), 0);
	assert_int_equal(cidr_set_count(s), 5);
	c = net("1.1.1.1");
	assert_int_equal(cidr_set_add(s, &c, 9), -EBUSY);

	assert_true(cidr_set_lookup(s, &a, &id));
	assert_int_equal(id, 3);
	a = addr("10.1.3.0");
	assert_true(cidr_set_lookup(s, &a, &id));
	assert_int_equal(id, 2);
	a = addr("10.2.0.0");
	assert_true(cidr_set_lookup(s, &a, &id));
	assert_int_equal(id, 1);
	a = addr("::ffff:10.2.0.0");
	assert_true(cidr_set_lookup(s, &a, &id));
	assert_int_equal(id, 1);
	a = addr("11.0.0.0");
	assert_false(cidr_set_lookup(s, &a, &id));
	a = addr("2001:db8:1::5");
	assert_true(cidr_set_lookup(s, &a, &id));
	assert_int_equal(id, UINT32_MAX);
	a = addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_true(cidr_set_lookup(s, &a, &id));
	assert_int_equal(id, 7);
	a = addr("::");
	assert_false(cidr_set_lookup(s, &a, &id));
	cidr_set_free(s);
	cidr_set_free(NULL);

	/* Empty set, and /0 catching everything else. */
	s = cidr_set_new();
	assert_int_equal(cidr_set_freeze(s), 0);
	assert_false(cidr_set_lookup(s, &a, &id));
	cidr_set_free(s);
	s = cidr_set_new();
	c = net("::/0");
	assert_int_equal(cidr_set_add(s, &c, 5), 0);
	c = net("0.0.0.0/0");
	assert_int_equal(cidr_set_add(s, &c, 6), 0);
	assert_int_equal(cidr_set_freeze(s), 0);
	a = addr("::");
	assert_true(cidr_set_lookup(s, &a, &id));
	assert_int_equal(id, 5);
	a = addr("255.255.255.255");
	assert_true(cidr_set_lookup(s, &a, &id));
	assert_int_equal(id, 6);
	a = addr("::1:0:0:0"); /* just above the IPv4 block */
	assert_true(cidr_set_lookup(s, &a, &id));
	assert_int_equal(id, 5);
	cidr_set_free(s);
}

#define NNETS 4000

static struct cidr nets[NNETS];
static uint32_t ids[NNETS];

/* The reference: most specific wins, the first added among equals. */
static bool scan(size_t n, const struct ip_addr *a, uint32_t *id)
{
	int best = -1;

	for (size_t i = 0; i < n; i++)
		if (cidr_contains(&nets[i], a) && (best < 0 || nets[i].prefix > nets[best].prefix))
			best = (int)i;
	if (best < 0)
		return false;
	*id = ids[best];
	return true;
}

/* Random networks clustered around a few bases so that they nest, overlap and repeat. */
static void random_net(struct cidr *c)
{
	static const char *const base[] = {
	    "10.0.0.0",
	    "10.1.0.0",
	    "192.168.1.0",
	    "0.0.0.0",
	    "255.255.255.255",
	    "2001:db8::",
	    "2001:db8:1::",
	    "::",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "::1",
	    "fe80::",
	};
	uint32_t r = next_rand();
	struct ip_addr a = addr(base[r % (sizeof(base) / sizeof(base[0]))]);
	bool v4 = ip_addr_is_v4(&a);
	unsigned lo = v4 ? 96 : 0;

	/* Randomise the low bits so the same base spreads over many networks. */
	for (size_t i = v4 ? 14 : 8; i < 16; i++)
		if (next_rand() % 3 == 0)
			a.b[i] = (uint8_t)next_rand();
	if (next_rand() % 2)
		c->prefix = (uint8_t)(lo + next_rand() % (129 - lo));
	else /* favour prefixes near the randomised bits */
		c->prefix = (uint8_t)(v4 ? 112 + next_rand() % 17 : 56 + next_rand() % 73);
	/* Host bits stay set on purpose: add must clear them, and containment (the reference's
	 * test) ignores them. */
	c->net = a;
}

static void test_set_vs_scan(void **state)
{
	(void)state;
	for (int round = 0; round < 6; round++) {
		size_t n = round == 0 ? 1 : round == 1 ? 20 : (size_t)NNETS / (6 - (size_t)round);
		struct cidr_set *s = cidr_set_new();

		assert_non_null(s);
		for (size_t i = 0; i < n; i++) {
			random_net(&nets[i]);
			ids[i] = next_rand() % 64; /* shared ids too */
			assert_int_equal(cidr_set_add(s, &nets[i], ids[i]), 0);
		}
		assert_int_equal(cidr_set_freeze(s), 0);
		for (int q = 0; q < 4000; q++) {
			struct ip_addr a;
			uint32_t got = 0, want = 0;
			bool g, w;

			if (q % 2) {
				/* Near a listed network: its first or last address, or just
				 * outside. */
				const struct cidr *c = &nets[next_rand() % n];

				a = c->net;
				if (next_rand() % 2)
					for (unsigned bit = c->prefix; bit < 128; bit++)
						a.b[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
				if (next_rand() % 3 == 0) {
					unsigned bit = next_rand() % 128;

					a.b[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
				}
			} else {
				struct cidr c;

				random_net(&c);
				a = c.net;
			}
			g = cidr_set_lookup(s, &a, &got);
			w = scan(n, &a, &want);
			assert_int_equal(g, w);
			if (g)
				assert_int_equal(got, want);
		}
		cidr_set_free(s);
	}
}

#define NLARGE 60000

struct probe_entry {
	struct cidr c; /* normalised */
	uint32_t id;
	uint32_t seq;
};

static struct probe_entry large[NLARGE];

static int cmp_probe(const void *pa, const void *pb)
{
	const struct probe_entry *a = pa, *b = pb;
	int r = memcmp(a->c.net.b, b->c.net.b, 16);

	if (r)
		return r;
	if (a->c.prefix != b->c.prefix)
		return a->c.prefix < b->c.prefix ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The second reference, for sets too big to scan: for each prefix length from /128 down, look
 * the address's network of that length up in the sorted list (first added among equals). */
static bool probe(size_t n, const struct ip_addr *a, uint32_t *id)
{
	for (int p = 128; p >= 0; p--) {
		struct probe_entry key = {.c = {.net = *a, .prefix = (uint8_t)p}, .seq = 0};
		size_t lo = 0, hi = n;

		for (int bit = p; bit < 128; bit++)
			key.c.net.b[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
		while (lo < hi) { /* first entry >= key */
			size_t mid = lo + (hi - lo) / 2;

			if (cmp_probe(&large[mid], &key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < n && memcmp(large[lo].c.net.b, key.c.net.b, 16) == 0 &&
		    large[lo].c.prefix == p) {
			*id = large[lo].id;
			return true;
		}
	}
	return false;
}

/* Uniform random networks over both families: every slice, deep trees, many leaves. */
static void test_set_large(void **state)
{
	struct cidr_set *s = cidr_set_new();
	size_t n = NLARGE;

	(void)state;
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		struct cidr c;
		uint32_t r = next_rand();

		for (size_t k = 0; k < 16; k++)
			c.net.b[k] = (uint8_t)next_rand();
		if (r % 3) {
			memcpy(c.net.b, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
			c.prefix = (uint8_t)(96 + 8 + next_rand() % 25);
		} else {
			c.prefix = (uint8_t)(next_rand() % 129);
		}
		if (i % 1000 == 0) /* some duplicates with other ids */
			c = large[next_rand() % (i + 1)].c;
		assert_int_equal(cidr_set_add(s, &c, (uint32_t)i), 0);
		large[i].c = c;
		large[i].id = (uint32_t)i;
		large[i].seq = (uint32_t)i;
		for (unsigned bit = c.prefix; bit < 128; bit++)
			large[i].c.net.b[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	}
	assert_int_equal(cidr_set_freeze(s), 0);
	qsort(large, n, sizeof(large[0]), cmp_probe);
	for (int q = 0; q < 10000; q++) {
		const struct probe_entry *e = &large[next_rand() % n];
		struct ip_addr a = e->c.net;
		uint32_t got = 0, want = 0;
		bool g, w;

		if (q % 3 == 0)
			for (unsigned bit = e->c.prefix; bit < 128; bit++) /* last address */
				a.b[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
		else if (q % 3 == 1)
			a.b[next_rand() % 16] ^= (uint8_t)next_rand();
		g = cidr_set_lookup(s, &a, &got);
		w = probe(n, &a, &want);
		assert_int_equal(g, w);
		if (g)
			assert_int_equal(got, want);
	}
	cidr_set_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_valid),	       cmocka_unit_test(test_parse_invalid),
	    cmocka_unit_test(test_parse_vs_inet_pton), cmocka_unit_test(test_format),
	    cmocka_unit_test(test_cidr_parse),	       cmocka_unit_test(test_contains),
	    cmocka_unit_test(test_set_basic),	       cmocka_unit_test(test_set_vs_scan),
	    cmocka_unit_test(test_set_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
