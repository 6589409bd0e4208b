/* Unit tests for audit_parse: records as auditd logs them and as the kernel multicasts them, plus
 * truncated, oversized and hostile ones that must fail cleanly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit_parse.h"

static const char syscall_line[] =
    "type=SYSCALL msg=audit(1700000000.123:456): arch=c000003e syscall=59 success=yes exit=0 "
    "a0=55d0c3a1e2f0 a1=55d0c3a1e318 a2=55d0c3a1e330 a3=8 items=2 ppid=1201 pid=1234 "
    "auid=1000 uid=1000 gid=1000 euid=0 suid=0 fsuid=0 egid=1000 sgid=1000 fsgid=1000 "
    "tty=pts0 ses=3 comm=6D7920636F6D6D exe=\"/usr/bin/id\" subj=unconfined key=(null)";

/* Finds key in text and returns the field, failing the test when absent. */
static struct audit_parse_field find(const char *text, uint32_t hint, const char *key)
{
	struct audit_parse_header h;
	struct audit_parse_iter it;
	struct audit_parse_field f;

	assert_int_equal(audit_parse_header(text, strlen(text), hint, &h), 0);
	audit_parse_iter_init(&it, text, strlen(text), &h);
	while (audit_parse_next(&it, &f)) {
		if (audit_parse_key_is(&f, key))
			return f;
	}
	fail_msg("key %s not found", key);
	return f;
}

static void test_header_log_form(void **state)
{
	struct audit_parse_header h;

	(void)state;
	assert_int_equal(audit_parse_header(syscall_line, strlen(syscall_line), 0, &h), 0);
	assert_int_equal(h.type, AUDIT_PARSE_SYSCALL);
	assert_true(h.ts_ns == 1700000000123000000ull);
	assert_int_equal(h.serial, 456);
	assert_memory_equal(syscall_line + h.body, " arch=", 6);
}

static void test_header_netlink_form(void **state)
{
	const char *t = "audit(1700000001.007:99): cwd=\"/root\"";
	const char *node = "node=web1 type=CWD msg=audit(1700000001.5:100): cwd=\"/\"";
	struct audit_parse_header h;

	(void)state;
	assert_int_equal(audit_parse_header(t, strlen(t), AUDIT_PARSE_CWD, &h), 0);
	assert_int_equal(h.type, AUDIT_PARSE_CWD);
	assert_true(h.ts_ns == 1700000001007000000ull);
	assert_int_equal(h.serial, 99);
	/* The text's own type wins over the hint; fractional digits scale to ns. */
	assert_int_equal(audit_parse_header(node, strlen(node), AUDIT_PARSE_PATH, &h), 0);
	assert_int_equal(h.type, AUDIT_PARSE_CWD);
	assert_true(h.ts_ns == 1700000001500000000ull);
}

static void test_header_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    "type=SYSCALL",
	    "audit(",
	    "audit()",
	    "audit(abc.1:2): x=1",
	    "audit(1700000000:2): x=1",
	    "audit(1700000000.:2): x=1",
	    "audit(1700000000.123:): x=1",
	    "audit(1700000000.123:45",
	    "audit(1700000000.123:45]",
	    "audit(1700000000.1234567890:45): x=1",
	    "audit(99999999999999999999.1:2): x=1",
	    "audit(18446744073.1:2): x=1",
	    "audit(1.1:99999999999999999999999): x=1",
	};
	struct audit_parse_header h;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = audit_parse_header(bad[i], strlen(bad[i]), 0, &h);

		if (rc != -EINVAL)
			fail_msg("case %zu (%s): rc %d", i, bad[i], rc);
	}
}

static void test_header_too_long_and_far(void **state)
{
	size_t n = AUDIT_PARSE_MAX_TEXT + 1;
	char *big = malloc(n + 1);
	struct audit_parse_header h;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', n);
	big[n] = '\0';
	assert_int_equal(audit_parse_header(big, n, 0, &h), -E2BIG);
	/* "audit(" beyond the bounded prefix search is not found. */
	memcpy(big + 600, "audit(1.1:1): a=b", 17);
	assert_int_equal(audit_parse_header(big, 700, 0, &h), -EINVAL);
	free(big);
}

static void test_syscall_fields(void **state)
{
	struct audit_parse_field f;
	uint64_t v;
	int64_t s;
	char buf[64];
	size_t n;

	(void)state;
	f = find(syscall_line, 0, "arch");
	assert_int_equal(audit_parse_u64(&f, 16, &v), 0);
	assert_true(v == 0xc000003eull);
	f = find(syscall_line, 0, "syscall");
	assert_int_equal(audit_parse_u64(&f, 10, &v), 0);
	assert_int_equal(v, 59);
	f = find(syscall_line, 0, "a0");
	assert_int_equal(audit_parse_u64(&f, 16, &v), 0);
	assert_true(v == 0x55d0c3a1e2f0ull);
	f = find(syscall_line, 0, "exit");
	assert_int_equal(audit_parse_i64(&f, &s), 0);
	assert_int_equal(s, 0);
	f = find(syscall_line, 0, "exe");
	assert_int_equal(f.quote, '"');
	assert_int_equal(audit_parse_string(&f, buf, sizeof(buf), &n), 0);
	assert_string_equal(buf, "/usr/bin/id");
	assert_int_equal(n, 11);
	/* comm with a space was hex-encoded by the kernel. */
	f = find(syscall_line, 0, "comm");
	assert_int_equal(audit_parse_string(&f, buf, sizeof(buf), &n), 0);
	assert_string_equal(buf, "my comm");
	f = find(syscall_line, 0, "key");
	assert_int_equal(audit_parse_string(&f, buf, sizeof(buf), &n), -ENOENT);
	/* A decimal field read as a string is not hex: rejected, not misread. */
	f = find(syscall_line, 0, "subj");
	assert_int_equal(audit_parse_string(&f, buf, sizeof(buf), &n), -EINVAL);
}

static void test_execve_args(void **state)
{
	const char *t = "audit(1700000000.200:457): argc=4 a0=\"ls\" a1=2D6C61 a2=\"\" a3_len=10 "
			"a3[0]=\"hello\" a3[1]=776F726C64";
	struct audit_parse_header h;
	struct audit_parse_iter it;
	struct audit_parse_field f;
	char out[4][32];
	unsigned count = 0;
	uint32_t idx, chunk;
	uint64_t v;

	(void)state;
	memset(out, 0, sizeof(out));
	assert_int_equal(audit_parse_header(t, strlen(t), AUDIT_PARSE_EXECVE, &h), 0);
	audit_parse_iter_init(&it, t, strlen(t), &h);
	while (audit_parse_next(&it, &f)) {
		char buf[32];
		size_t n;

		switch (audit_parse_arg_key(&f, &idx, &chunk)) {
		case AUDIT_PARSE_ARG_WHOLE:
			assert_true(idx < 4);
			assert_true(audit_parse_string(&f, out[idx], sizeof(out[idx]), &n) >= 0);
			count++;
			break;
		case AUDIT_PARSE_ARG_LEN:
			assert_int_equal(idx, 3);
			assert_int_equal(audit_parse_u64(&f, 10, &v), 0);
			assert_int_equal(v, 10);
			break;
		case AUDIT_PARSE_ARG_CHUNK:
			assert_int_equal(idx, 3);
			assert_int_equal(audit_parse_string(&f, buf, sizeof(buf), &n), 0);
			assert_true(strlen(out[3]) + n < sizeof(out[3]));
			memcpy(out[3] + strlen(out[3]), buf, n + 1);
			count += chunk == 0;
			break;
		case AUDIT_PARSE_ARG_NONE:
			assert_true(audit_parse_key_is(&f, "argc"));
			break;
		}
	}
	assert_int_equal(count, 4);
	assert_string_equal(out[0], "ls");
	assert_string_equal(out[1], "-la");
	assert_string_equal(out[2], "");
	assert_string_equal(out[3], "helloworld");
	assert_int_equal(it.skipped, 0);
	assert_false(it.malformed);
}

static void test_arg_keys(void **state)
{
	static const struct {
		const char *key;
		enum audit_parse_arg kind;
		uint32_t idx, chunk;
	} cases[] = {
	    {"a0", AUDIT_PARSE_ARG_WHOLE, 0, 0},
	    {"a17", AUDIT_PARSE_ARG_WHOLE, 17, 0},
	    {"a2_len", AUDIT_PARSE_ARG_LEN, 2, 0},
	    {"a2[3]", AUDIT_PARSE_ARG_CHUNK, 2, 3},
	    {"a", AUDIT_PARSE_ARG_NONE, 0, 0},
	    {"argc", AUDIT_PARSE_ARG_NONE, 0, 0},
	    {"a1[", AUDIT_PARSE_ARG_NONE, 0, 0},
	    {"a1[2", AUDIT_PARSE_ARG_NONE, 0, 0},
	    {"a1[x]", AUDIT_PARSE_ARG_NONE, 0, 0},
	    {"a1[2]]", AUDIT_PARSE_ARG_NONE, 0, 0},
	    {"a1_lenx", AUDIT_PARSE_ARG_NONE, 0, 0},
	    {"a99999999999", AUDIT_PARSE_ARG_NONE, 0, 0},
	    {"a1[99999999999]", AUDIT_PARSE_ARG_NONE, 0, 0},
	    {"b1", AUDIT_PARSE_ARG_NONE, 0, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct audit_parse_field f = {cases[i].key, strlen(cases[i].key), "x", 1, '"'};
		uint32_t idx = 99, chunk = 99;
		enum audit_parse_arg kind = audit_parse_arg_key(&f, &idx, &chunk);

		if (kind != cases[i].kind)
			fail_msg("%s: kind %d", cases[i].key, kind);
		if (kind != AUDIT_PARSE_ARG_NONE) {
			assert_int_equal(idx, cases[i].idx);
			assert_int_equal(chunk, cases[i].chunk);
		}
	}
}

static void test_proctitle_nul(void **state)
{
	const char *t = "type=PROCTITLE msg=audit(1700000000.123:456): proctitle=6C73002D6C";
	struct audit_parse_field f = find(t, 0, "proctitle");
	char buf[16];
	size_t n;

	(void)state;
	assert_int_equal(audit_parse_string(&f, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "ls\0-l", 5);
}

static void test_hex(void **state)
{
	char out[4];
	size_t n;

	(void)state;
	assert_int_equal(audit_parse_hex("414243", 6, out, sizeof(out), &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "ABC", 3);
	assert_int_equal(audit_parse_hex("4142434445", 10, out, sizeof(out), &n), 1);
	assert_int_equal(n, 4);
	assert_int_equal(audit_parse_hex("414", 3, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(audit_parse_hex("41G1", 4, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(audit_parse_hex("", 0, out, sizeof(out), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(audit_parse_hex("aAfF", 4, out, sizeof(out), &n), 0);
	assert_int_equal((unsigned char)out[0], 0xaa);
	assert_int_equal((unsigned char)out[1], 0xff);
}

static void test_string_truncation(void **state)
{
	struct audit_parse_field q = {"exe", 3, "/usr/bin/python3", 16, '"'};
	struct audit_parse_field h = {"a0", 2, "41424344454647", 14, 0};
	struct audit_parse_field none = {"tty", 3, "(none)", 6, 0};
	struct audit_parse_field empty = {"a0", 2, "", 0, 0};
	char buf[5];
	size_t n;

	(void)state;
	assert_int_equal(audit_parse_string(&q, buf, sizeof(buf), &n), 1);
	assert_string_equal(buf, "/usr");
	assert_int_equal(audit_parse_string(&h, buf, sizeof(buf), &n), 1);
	assert_string_equal(buf, "ABCD");
	assert_int_equal(audit_parse_string(&none, buf, sizeof(buf), &n), -ENOENT);
	assert_int_equal(audit_parse_string(&empty, buf, sizeof(buf), &n), -ENOENT);
	assert_int_equal(audit_parse_string(&q, buf, 0, &n), -EINVAL);
}

static void test_numbers(void **state)
{
	struct audit_parse_field f = {"x", 1, NULL, 0, 0};
	uint64_t v;
	int64_t s;

	(void)state;
#define SET(str) (f.val = (str), f.val_len = strlen(str))
	SET("18446744073709551615");
	assert_int_equal(audit_parse_u64(&f, 10, &v), 0);
	assert_true(v == UINT64_MAX);
	SET("18446744073709551616");
	assert_int_equal(audit_parse_u64(&f, 10, &v), -ERANGE);
	SET("ffffffffffffffff");
	assert_int_equal(audit_parse_u64(&f, 16, &v), 0);
	SET("1ffffffffffffffff");
	assert_int_equal(audit_parse_u64(&f, 16, &v), -ERANGE);
	SET("12a");
	assert_int_equal(audit_parse_u64(&f, 10, &v), -EINVAL);
	SET("");
	assert_int_equal(audit_parse_u64(&f, 10, &v), -EINVAL);
	SET("-2");
	assert_int_equal(audit_parse_u64(&f, 10, &v), -EINVAL);
	assert_int_equal(audit_parse_i64(&f, &s), 0);
	assert_int_equal(s, -2);
	SET("-9223372036854775808");
	assert_int_equal(audit_parse_i64(&f, &s), 0);
	assert_true(s == INT64_MIN);
	SET("9223372036854775808");
	assert_int_equal(audit_parse_i64(&f, &s), -ERANGE);
	SET("-");
	assert_int_equal(audit_parse_i64(&f, &s), -EINVAL);
	SET("5");
	f.quote = '"';
	assert_int_equal(audit_parse_u64(&f, 10, &v), -EINVAL);
	f.quote = 0;
	assert_int_equal(audit_parse_u64(&f, 7, &v), -EINVAL);
#undef SET
}

static void test_type_names(void **state)
{
	(void)state;
	assert_int_equal(audit_parse_type_name("SYSCALL", 7), AUDIT_PARSE_SYSCALL);
	assert_int_equal(audit_parse_type_name("EOE", 3), AUDIT_PARSE_EOE);
	assert_int_equal(audit_parse_type_name("UNKNOWN[1334]", 13), 1334);
	assert_int_equal(audit_parse_type_name("UNKNOWN[]", 9), 0);
	assert_int_equal(audit_parse_type_name("UNKNOWN[12x]", 12), 0);
	assert_int_equal(audit_parse_type_name("UNKNOWN[99999999999]", 20), 0);
	assert_int_equal(audit_parse_type_name("SYSCAL", 6), 0);
	assert_int_equal(audit_parse_type_name("", 0), 0);
}

static void test_hostile_fields(void **state)
{
	/* Bare words, an empty key, a key with junk, an over-long key, the group separator, an
	 * unterminated quote and a NUL that ends the record early. */
	static const char t[] = "audit(1.000:1): avc: denied { read } =x k!y=1 "
				"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=2 ok=1\x1dUID=\"root\" "
				"q=\"unterminated value\0hidden=1";
	struct audit_parse_header h;
	struct audit_parse_iter it;
	struct audit_parse_field f;
	unsigned fields = 0;

	(void)state;
	assert_int_equal(audit_parse_header(t, sizeof(t) - 1, 0, &h), 0);
	audit_parse_iter_init(&it, t, sizeof(t) - 1, &h);
	while (audit_parse_next(&it, &f)) {
		fields++;
		assert_false(audit_parse_key_is(&f, "hidden"));
		if (audit_parse_key_is(&f, "q")) {
			assert_int_equal(f.val_len, strlen("unterminated value"));
		}
	}
	assert_int_equal(fields, 3); /* ok, UID, q */
	assert_int_equal(it.skipped, 8);
	assert_true(it.malformed);
}

static void test_body_past_end(void **state)
{
	const char *t = "audit(1.1:1):";
	struct audit_parse_header h;
	struct audit_parse_iter it;
	struct audit_parse_field f;

	(void)state;
	assert_int_equal(audit_parse_header(t, strlen(t), 0, &h), 0);
	audit_parse_iter_init(&it, t, strlen(t), &h);
	assert_false(audit_parse_next(&it, &f));
	/* A header offset from a longer text must not read past a shorter one. */
	h.body = 1000;
	audit_parse_iter_init(&it, t, strlen(t), &h);
	assert_false(audit_parse_next(&it, &f));
}

static void test_many_fields_bounded(void **state)
{
	size_t n = AUDIT_PARSE_MAX_TEXT;
	char *t = malloc(n);
	struct audit_parse_header h;
	struct audit_parse_iter it;
	struct audit_parse_field f;
	size_t pos, fields = 0;

	(void)state;
	assert_non_null(t);
	pos = (size_t)snprintf(t, n, "audit(1.1:1):");
	while (pos + 4 <= n) {
		memcpy(t + pos, " a=b", 4);
		pos += 4;
	}
	assert_int_equal(audit_parse_header(t, pos, 0, &h), 0);
	audit_parse_iter_init(&it, t, pos, &h);
	while (audit_parse_next(&it, &f))
		fields++;
	assert_true(fields > 10000);
	free(t);
}

/* Deterministic garbage: nothing may crash or read out of bounds (run under ASan in CI). */
static void test_random_garbage(void **state)
{
	static const char alphabet[] = "audit(0123456789.:)= \"'\x1d[]_lenaAfFxX\n";
	uint32_t seed = 12345;
	char buf[256];

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len = (seed >> 8) % sizeof(buf);
		struct audit_parse_header h;

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		seed = seed * 1103515245u + 12345u;
		if (audit_parse_header(buf, len, 0, &h) == 0) {
			struct audit_parse_iter it;
			struct audit_parse_field f;
			char out[8];
			size_t n;
			uint32_t a, b;

			assert_true(h.body <= len);
			audit_parse_iter_init(&it, buf, len, &h);
			while (audit_parse_next(&it, &f)) {
				assert_true(f.val + f.val_len <= buf + len);
				(void)audit_parse_string(&f, out, sizeof(out), &n);
				(void)audit_parse_arg_key(&f, &a, &b);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_log_form),
	    cmocka_unit_test(test_header_netlink_form),
	    cmocka_unit_test(test_header_malformed),
	    cmocka_unit_test(test_header_too_long_and_far),
	    cmocka_unit_test(test_syscall_fields),
	    cmocka_unit_test(test_execve_args),
	    cmocka_unit_test(test_arg_keys),
	    cmocka_unit_test(test_proctitle_nul),
	    cmocka_unit_test(test_hex),
	    cmocka_unit_test(test_string_truncation),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_type_names),
	    cmocka_unit_test(test_hostile_fields),
	    cmocka_unit_test(test_body_past_end),
	    cmocka_unit_test(test_many_fields_bounded),
	    cmocka_unit_test(test_random_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
