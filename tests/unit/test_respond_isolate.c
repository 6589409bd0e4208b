/* Isolation: address parsing, the generated ruleset, and (as root, in a network namespace of
 * the test's own) applying it through libnftables, the self-test revert, resume and release. */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <nftables/libnftables.h>

#include "isolate_rules.h"
#include "respond_isolate.h"

static void test_addr_parse(void **state)
{
	struct isolate_addr a;

	(void)state;
	assert_int_equal(isolate_addr_parse("192.0.2.1", false, &a), 0);
	assert_string_equal(a.text, "192.0.2.1");
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(isolate_addr_parse("2001:DB8:0::1", false, &a), 0);
	assert_string_equal(a.text, "2001:db8::1");
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(isolate_addr_parse("10.0.0.0/8", true, &a), 0);
	assert_string_equal(a.text, "10.0.0.0/8");
	assert_int_equal(isolate_addr_parse("10.0.0.1/32", true, &a), 0);
	assert_string_equal(a.text, "10.0.0.1");
	assert_int_equal(isolate_addr_parse("fd00::/64", true, &a), 0);
	assert_string_equal(a.text, "fd00::/64");
	/* Refused: networks where only addresses go, host bits, bad prefixes, names, junk. */
	assert_int_equal(isolate_addr_parse("10.0.0.0/8", false, &a), -EINVAL);
	assert_int_equal(isolate_addr_parse("10.0.0.1/8", true, &a), -EINVAL);
	assert_int_equal(isolate_addr_parse("10.0.0.0/33", true, &a), -EINVAL);
	assert_int_equal(isolate_addr_parse("10.0.0.0/", true, &a), -EINVAL);
	assert_int_equal(isolate_addr_parse("10.0.0.0/08", true, &a), -EINVAL);
	assert_int_equal(isolate_addr_parse("10.0.0.0/-1", true, &a), -EINVAL);
	assert_int_equal(isolate_addr_parse("example.com", true, &a), -EINVAL);
	assert_int_equal(isolate_addr_parse("1.2.3.4; flush ruleset", true, &a), -EINVAL);
	assert_int_equal(isolate_addr_parse("", true, &a), -EINVAL);
	assert_int_equal(isolate_addr_parse(NULL, true, &a), -EINVAL);
}

static void spec_init(struct isolate_spec *sp)
{
	struct isolate_addr a;

	memset(sp, 0, sizeof(*sp));
	sp->server_port = 8443;
	isolate_addr_parse("192.0.2.10", false, &a);
	isolate_addr_add(sp->servers, &sp->nservers, &a);
	isolate_addr_add(sp->servers, &sp->nservers, &a); /* duplicates kept once */
	isolate_addr_parse("2001:db8::10", false, &a);
	isolate_addr_add(sp->servers, &sp->nservers, &a);
	isolate_addr_parse("198.51.100.0/24", true, &a);
	isolate_addr_add(sp->allow, &sp->nallow, &a);
	isolate_addr_parse("192.0.2.53", false, &a);
	isolate_addr_add(sp->dns, &sp->ndns, &a);
}

static void test_rules_text(void **state)
{
	struct isolate_spec sp;
	struct dynbuf b;

	(void)state;
	spec_init(&sp);
	assert_int_equal(sp.nservers, 2);
	dynbuf_init(&b, 1 << 20);
	assert_int_equal(isolate_rules_build(&sp, &b), 0);
	assert_non_null(strstr(b.data, "delete table inet mamori_isolation\n"));
	assert_non_null(strstr(b.data, "policy drop;"));
	assert_non_null(strstr(b.data, "ip saddr { 192.0.2.10 } tcp sport 8443 accept"));
	assert_non_null(strstr(b.data, "ip daddr { 192.0.2.10 } tcp dport 8443 accept"));
	assert_non_null(strstr(b.data, "ip6 daddr { 2001:db8::10 } tcp dport 8443 accept"));
	assert_non_null(strstr(b.data, "ip daddr { 198.51.100.0/24 }  accept"));
	assert_non_null(strstr(b.data, "ip daddr { 192.0.2.53 } udp dport 53 accept"));
	assert_non_null(strstr(b.data, "chain forward"));
	/* No IPv6 allow-list rule when there is no IPv6 entry. */
	assert_null(strstr(b.data, "ip6 daddr {  }"));
	dynbuf_release(&b);

	/* Without a server the management channel would be cut: refused. */
	sp.nservers = 0;
	dynbuf_init(&b, 1 << 20);
	assert_int_equal(isolate_rules_build(&sp, &b), -EINVAL);
	dynbuf_release(&b);
}

static void test_spec_json(void **state)
{
	struct isolate_spec sp, back;
	char err[200];
	json_t *j;

	(void)state;
	spec_init(&sp);
	j = isolate_spec_to_json(&sp);
	assert_int_equal(isolate_spec_from_json(j, &back, err, sizeof(err)), 0);
	assert_int_equal(back.nservers, 2);
	assert_int_equal(back.server_port, 8443);
	assert_string_equal(back.allow[0].text, "198.51.100.0/24");
	json_object_set_new(j, "allow", json_pack("[s]", "not-an-ip"));
	assert_int_equal(isolate_spec_from_json(j, &back, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "allow[0]"));
	json_object_set_new(j, "allow", json_array());
	json_object_set_new(j, "server_port", json_integer(70000));
	assert_int_equal(isolate_spec_from_json(j, &back, err, sizeof(err)), -EINVAL);
	json_object_set_new(j, "server_port", json_integer(1));
	json_object_set_new(j, "servers", json_array());
	assert_int_equal(isolate_spec_from_json(j, &back, err, sizeof(err)), -EINVAL);
	json_decref(j);
}

/* ---- applied for real, in a network namespace of this process ---- */

static char dir[64];
static int selftest_rc;
static int selftests;

static int fake_selftest(void *ctx, char *err, size_t errlen)
{
	(void)ctx;
	selftests++;
	if (selftest_rc)
		snprintf(err, errlen, "connection timed out");
	return selftest_rc;
}

static bool table_exists(void)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int rc;

	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	rc = nft_run_cmd_from_buffer(nft, "list table inet mamori_isolation");
	nft_ctx_free(nft);
	return rc == 0;
}

/* The ruleset text as nft lists it. Caller frees. */
static char *table_text(void)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	char *out = NULL;

	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	if (nft_run_cmd_from_buffer(nft, "list table inet mamori_isolation") == 0)
		out = strdup(nft_ctx_get_output_buffer(nft));
	nft_ctx_free(nft);
	return out;
}

static bool state_exists(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/isolation.json", dir);
	return access(p, F_OK) == 0;
}

static int netns_setup(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: applying isolation needs root\n");
		return 0;
	}
	if (unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "SKIP: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 0;
	}
	snprintf(dir, sizeof(dir), "/tmp/mamori-iso-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static void test_apply_revert_resume_release(void **state)
{
	struct respond_isolate_ctx c = {.server_url = "https://192.0.2.10:8443",
					.selftest = fake_selftest};
	json_t *args, *res = NULL;
	char *text;

	(void)state;
	if (!dir[0])
		skip();
	c.state_dir = dir;
	assert_false(table_exists());

	/* Applied: table present, spec saved, the server from the URL kept reachable. */
	args = json_pack("{s:[s,s],s:[s]}", "allow", "198.51.100.0/24", "203.0.113.7", "dns",
			 "192.0.2.53");
	selftest_rc = 0;
	assert_int_equal(respond_isolate(&c, args, &res), 0);
	assert_int_equal(selftests, 1);
	assert_true(json_is_true(json_object_get(res, "isolated")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(res, "servers"), 0)),
			    "192.0.2.10");
	json_decref(res);
	assert_true(table_exists());
	assert_true(state_exists());
	assert_true(respond_isolate_active());
	text = table_text();
	assert_non_null(text);
	assert_non_null(strstr(text, "192.0.2.10"));
	assert_non_null(strstr(text, "198.51.100.0/24"));
	assert_non_null(strstr(text, "policy drop"));
	free(text);

	/* Removed by someone else: the periodic check puts it back. */
	assert_int_equal(system("nft delete table inet mamori_isolation 2>/dev/null || true") == -1,
			 0);
	if (!table_exists()) {
		assert_int_equal(respond_isolate_check(&c), 1);
		assert_true(table_exists());
	}
	assert_int_equal(respond_isolate_check(&c), 0);

	/* A second isolate whose self-test fails restores the first one, not nothing. */
	json_decref(args);
	args = json_pack("{s:[s]}", "servers", "192.0.2.99");
	selftest_rc = -ETIMEDOUT;
	res = NULL;
	assert_int_equal(respond_isolate(&c, args, &res), -EHOSTUNREACH);
	assert_non_null(strstr(json_string_value(json_object_get(res, "error")),
			       "previous isolation was restored"));
	json_decref(res);
	text = table_text();
	assert_non_null(text);
	assert_non_null(strstr(text, "192.0.2.10"));
	assert_null(strstr(text, "192.0.2.99"));
	free(text);

	/* Restart: the saved spec comes back without a self-test. */
	assert_int_equal(system("nft delete table inet mamori_isolation 2>/dev/null || true") == -1,
			 0);
	selftests = 0;
	assert_int_equal(respond_isolate_resume(&c), 0);
	assert_int_equal(selftests, 0);
	assert_true(table_exists());

	/* Release: gone, spec removed; releasing again is not an error. */
	res = NULL;
	assert_int_equal(respond_release(&c, &res), 0);
	assert_true(json_is_true(json_object_get(res, "was_isolated")));
	json_decref(res);
	assert_false(table_exists());
	assert_false(state_exists());
	assert_false(respond_isolate_active());
	res = NULL;
	assert_int_equal(respond_release(&c, &res), 0);
	assert_true(json_is_false(json_object_get(res, "was_isolated")));
	json_decref(res);

	/* First isolate with a failing self-test: reverted to no table, nothing saved. */
	res = NULL;
	assert_int_equal(respond_isolate(&c, args, &res), -EHOSTUNREACH);
	assert_non_null(
	    strstr(json_string_value(json_object_get(res, "error")), "isolation reverted"));
	json_decref(res);
	assert_false(table_exists());
	assert_false(state_exists());
	assert_int_equal(respond_isolate_resume(&c), 0);
	assert_false(table_exists());

	/* Bad arguments never touch the firewall. */
	json_decref(args);
	args = json_pack("{s:[s]}", "allow", "10.0.0.1/8");
	res = NULL;
	selftest_rc = 0;
	assert_int_equal(respond_isolate(&c, args, &res), -EINVAL);
	json_decref(res);
	json_decref(args);
	args = json_pack("{s:s}", "servers", "192.0.2.1");
	res = NULL;
	assert_int_equal(respond_isolate(&c, args, &res), -EINVAL);
	json_decref(res);
	json_decref(args);
	assert_false(table_exists());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_parse),
	    cmocka_unit_test(test_rules_text),
	    cmocka_unit_test(test_spec_json),
	    cmocka_unit_test_setup(test_apply_revert_resume_release, netns_setup),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[128];

	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) == -1)
			rc = 1;
	}
	return rc;
}
