/* Agent configuration: defaults, every key type, and errors that name the key and line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "agent.h"
#include "agent_config.h"

static int load(struct agent_config *c, const char *yaml, char *err, size_t errlen)
{
	agent_config_init(c);
	return agent_config_load_string(c, yaml, strlen(yaml), "agent.yml", err, errlen);
}

static void test_defaults(void **state)
{
	struct agent_config c;

	(void)state;
	agent_config_init(&c);
	assert_int_equal(c.src_ebpf, SOURCE_MODE_AUTO);
	assert_true(c.syscalls);
	assert_false(c.syscalls_raw);
	assert_int_equal(c.budget_memory_mb, 30);
	assert_int_equal(c.wakeup_ms, 50);
	agent_config_release(&c);
}

static void test_full(void **state)
{
	struct agent_config c;
	char err[256] = "";
	const char *y = "# comment\n"
			"log_level: debug\n"
			"host_name: web-1\n"
			"sources:\n"
			"  ebpf: on\n"
			"  netlink: off\n"
			"  syscalls: false\n"
			"  syscalls_raw: true\n"
			"ignore:\n"
			"  comm: [cron, \"sshd\"]\n"
			"  path_prefix:\n"
			"    - /var/log/\n"
			"    - /proc/\n"
			"process:\n"
			"  args_max_count: 64\n"
			"  hash_max_bytes: 1048576\n"
			"budget:\n"
			"  cpu_percent: 5\n"
			"  nice: -5\n";

	(void)state;
	assert_int_equal(load(&c, y, err, sizeof(err)), 0);
	assert_string_equal(c.log_level, "debug");
	assert_string_equal(c.host_name, "web-1");
	assert_int_equal(c.src_ebpf, SOURCE_MODE_ON);
	assert_true(c.syscalls_raw);
	assert_int_equal(c.src_netlink, SOURCE_MODE_OFF);
	assert_false(c.syscalls);
	assert_int_equal(c.ignore_comm.n, 2);
	assert_true(agent_config_list_has(&c.ignore_comm, "sshd"));
	assert_int_equal(c.ignore_path_prefix.n, 2);
	assert_string_equal(c.ignore_path_prefix.items[1], "/proc/");
	assert_int_equal(c.args_max_count, 64);
	assert_int_equal(c.hash_max_bytes, 1048576);
	assert_int_equal(c.budget_cpu_percent, 5);
	assert_int_equal(c.nice, -5);
	agent_config_release(&c);
}

static void expect_error(const char *yaml, const char *want)
{
	struct agent_config c;
	char err[256] = "";

	assert_int_equal(load(&c, yaml, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("yaml %s: error '%s' lacks '%s'", yaml, err, want);
	agent_config_release(&c);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("log_level: info\nsourcez:\n  ebpf: on\n", "agent.yml:3: unknown key 'sourcez.ebpf'");
	expect_error("sources:\n  ebpf: maybe\n", "agent.yml:2: expected auto, on or off, got 'maybe'");
	expect_error("process:\n  args_max_count: 0\n", "agent.yml:2: process.args_max_count: 0 is out of range");
	expect_error("process:\n  args_max_count: -5\n", "expected a whole number");
	expect_error("process:\n  args_max_count: 12abc\n", "expected a whole number");
	expect_error("budget:\n  cpu_percent: [1, 2]\n", "expected a single value");
	expect_error("ignore:\n  comm: bash\n", "ignore.comm: expected a list");
	expect_error("ignore:\n  comm:\n    - {a: b}\n", "plain values");
	expect_error("log_level: loud\n", "expected debug, info, warn or error");
	expect_error("log_level: &x info\nhost_name: *x\n", "aliases");
	expect_error("ignore:\n  comm: [unclosed\n", "YAML error");
	expect_error("just a string\n", "expected a mapping");
	expect_error("file:\n  writes: sometimes\n", "expected true or false");
	expect_error("budget:\n  nice: 25\n", "agent.yml:2: budget.nice: 25 is out of range -20..19");
	expect_error("budget:\n  nice: low\n", "expected a whole number");
}

static void test_empty_file(void **state)
{
	struct agent_config c;
	char err[256] = "";

	(void)state;
	assert_int_equal(load(&c, "", err, sizeof(err)), 0);
	agent_config_release(&c);
	assert_int_equal(load(&c, "# only a comment\n", err, sizeof(err)), 0);
	agent_config_release(&c);
}

static void test_path_ignored(void **state)
{
	struct agent_config c;
	char err[256] = "";

	(void)state;
	assert_int_equal(load(&c, "ignore:\n  path_prefix: [/var/log/, /srv/cache]\n", err,
			      sizeof(err)),
			 0);
	assert_true(agent_path_ignored(&c, "/var/log/syslog"));
	assert_true(agent_path_ignored(&c, "/var/log"));
	assert_true(agent_path_ignored(&c, "/srv/cache/a/b"));
	assert_true(agent_path_ignored(&c, "/srv/cache"));
	assert_false(agent_path_ignored(&c, "/var/logs/x"));
	assert_false(agent_path_ignored(&c, "/srv/cache2"));
	assert_false(agent_path_ignored(&c, "/etc/cron.d/x"));
	agent_config_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_path_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
