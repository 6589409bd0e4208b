/* The ECS JSON codec: nesting, escaping, round trips, and hostile input. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "event.h"
#include "event_json.h"

static struct event ev, ev2;

static char *encode(const struct event *e)
{
	static struct dynbuf b;

	dynbuf_release(&b);
	dynbuf_init(&b, EVENT_JSON_MAX_LINE);
	assert_int_equal(event_json_encode(e, &b), 0);
	return b.data;
}

static void exec_event(struct event *e)
{
	event_reset(e);
	e->action = EVENT_ACTION_EXEC;
	e->timestamp_ns = 1763766740123456789ull;
	event_mark(e, EVF_TIMESTAMP);
	e->process.pid = 4242;
	event_mark(e, EVF_PROCESS_PID);
	event_copy_str(e->process.executable, sizeof(e->process.executable), "/usr/bin/id", 11);
	event_copy_str(e->process.name, sizeof(e->process.name), "id", 2);
	event_list_add(e->process.args, sizeof(e->process.args), &e->process.args_len, "id", 2);
	event_list_add(e->process.args, sizeof(e->process.args), &e->process.args_len, "-u", 2);
	event_build_command_line(e);
	e->process.parent.pid = 1;
	event_mark(e, EVF_PROCESS_PARENT_PID);
	event_copy_str(e->process.parent.name, sizeof(e->process.parent.name), "bash", 4);
	e->process.euid = 0;
	event_mark(e, EVF_USER_ID);
	event_copy_str(e->host_name, sizeof(e->host_name), "web-1", 5);
}

static void test_encode_nesting(void **state)
{
	(void)state;
	exec_event(&ev);
	const char *js = encode(&ev);

	assert_string_equal(
		js, "{\"@timestamp\":\"2025-11-21T23:12:20.123456789Z\",\"event\":{\"kind\":\"event\","
		    "\"category\":[\"process\"],\"type\":[\"start\"],\"action\":\"exec\"},"
		    "\"host\":{\"name\":\"web-1\"},\"process\":{\"pid\":4242,"
		    "\"executable\":\"/usr/bin/id\",\"name\":\"id\",\"args\":[\"id\",\"-u\"],"
		    "\"command_line\":\"id -u\",\"parent\":{\"pid\":1,\"name\":\"bash\"}},"
		    "\"user\":{\"id\":\"0\"}}");
}

static void test_round_trip(void **state)
{
	char err[128];
	char *js;

	(void)state;
	exec_event(&ev);
	event_copy_str(ev.process.working_directory, sizeof(ev.process.working_directory),
		       "/tmp/a \"b\"\n\t\\", 13);
	ev.process.exit_code = -3;
	event_mark(&ev, EVF_PROCESS_EXIT_CODE);
	ev.file.mode = 04755;
	event_mark(&ev, EVF_FILE_MODE);
	ev.process.setuid = true;
	event_mark(&ev, EVF_PROCESS_EXT_SETUID);
	js = strdup(encode(&ev));
	assert_int_equal(event_json_decode(js, strlen(js), &ev2, err, sizeof(err), NULL), 0);
	assert_string_equal(encode(&ev2), js);
	assert_string_equal(ev2.process.working_directory, "/tmp/a \"b\"\n\t\\");
	assert_int_equal(ev2.process.exit_code, -3);
	assert_int_equal(ev2.file.mode, 04755);
	assert_true(ev2.process.setuid);
	assert_int_equal(ev2.timestamp_ns, ev.timestamp_ns);
	free(js);
}

static void test_decode_dotted_and_unknown(void **state)
{
	const char *js = "{\"event.action\":\"creation\",\"file\":{\"path\":\"/etc/cron.d/x\","
			 "\"unknown\":{\"deep\":[1,2,{\"a\":null}]}},\"process.pid\":\"77\","
			 "\"@timestamp\":\"2026-01-02T03:04:05+01:00\"}";
	unsigned unknown = 0;
	char err[128];

	(void)state;
	assert_int_equal(event_json_decode(js, strlen(js), &ev, err, sizeof(err), &unknown), 0);
	assert_int_equal(ev.action, EVENT_ACTION_CREATION);
	assert_string_equal(ev.file.path, "/etc/cron.d/x");
	assert_int_equal(ev.process.pid, 77);
	assert_int_equal(unknown, 1);
	/* 2026-01-02T02:04:05Z */
	assert_int_equal(ev.timestamp_ns, 1767319445ull * 1000000000ull);
}

static void test_unicode_and_invalid_utf8(void **state)
{
	const char *js = "{\"event\":{\"action\":\"exec\"},\"process\":{\"name\":\"\\u00e9\\ud83d\\ude00"
			 "\\u0000x\"}}";
	char err[128];
	char *out;

	(void)state;
	assert_int_equal(event_json_decode(js, strlen(js), &ev, err, sizeof(err), NULL), 0);
	assert_string_equal(ev.process.name, "\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx");
	/* Raw invalid bytes are escaped so the output stays valid JSON. */
	event_copy_str(ev.process.name, sizeof(ev.process.name), "a\xff\xc3(b", 5);
	out = encode(&ev);
	assert_non_null(strstr(out, "\"name\":\"a\\u00ff\\u00c3(b\""));
}

static void expect_error(const char *js, const char *what)
{
	char err[128];
	int rc = event_json_decode(js, strlen(js), &ev, err, sizeof(err), NULL);

	assert_true(rc < 0);
	if (!strstr(err, what))
		fail_msg("input %s: error '%s' lacks '%s'", js, err, what);
}

static void test_malformed(void **state)
{
	(void)state;
	expect_error("", "not a JSON object");
	expect_error("[1,2]", "not a JSON object");
	expect_error("{\"event\":{\"action\":\"exec\"}", "malformed JSON");
	expect_error("{\"event\":{\"action\":\"exec\"}} trailing", "trailing");
	expect_error("{\"process\":{\"pid\":1}}", "missing event.action");
	expect_error("{\"event\":{\"action\":\"nope\"}}", "unknown event.action");
	expect_error("{\"event\":{\"action\":\"exec\"},\"process\":{\"pid\":-1}}", "non-negative");
	expect_error("{\"event\":{\"action\":\"exec\"},\"process\":{\"pid\":99999999999}}", "range");
	expect_error("{\"event\":{\"action\":\"exec\"},\"process\":{\"pid\":\"x\"}}", "range");
	expect_error("{\"event\":{\"action\":\"exec\"},\"process\":{\"args\":\"x\"}}", "array");
	expect_error("{\"event\":{\"action\":\"exec\"},\"process\":{\"args\":[1]}}", "strings");
	expect_error("{\"event\":{\"action\":\"exec\"},\"@timestamp\":\"yesterday\"}", "bad time");
	expect_error("{\"event\":{\"action\":\"exec\"},\"process\":{\"name\":\"\\q\"}}", "malformed JSON");
	expect_error("{\"event\":{\"action\":\"exec\"},\"file\":{\"mode\":\"999\"}}", "mode");
}

static void test_limits(void **state)
{
	size_t n = 3 * EVENT_ARGS_LEN, i;
	char *js = malloc(n + 200), *p;
	char err[128];

	(void)state;
	/* Oversized args are truncated and flagged, not rejected. */
	p = js + snprintf(js, 200, "{\"event\":{\"action\":\"exec\"},\"process\":{\"args\":[");
	for (i = 0; i < 200; i++)
		p += snprintf(p, 40, "%s\"argument-number-%03zu-xxxxxxxxxxxx\"", i ? "," : "", i);
	p += snprintf(p, 8, "]}}");
	assert_int_equal(event_json_decode(js, strlen(js), &ev, err, sizeof(err), NULL), 0);
	assert_true(ev.process.args_truncated);
	assert_true(ev.process.args_len <= EVENT_ARGS_LEN);
	free(js);

	/* Deep nesting and token floods are refused. */
	js = malloc(EVENT_JSON_MAX_TOKENS * 4 + 100);
	p = js + snprintf(js, 100, "{\"event\":{\"action\":\"exec\"},\"x\":[");
	for (i = 0; i < EVENT_JSON_MAX_TOKENS + 10; i++)
		p += snprintf(p, 4, "%s1", i ? "," : "");
	p += snprintf(p, 4, "]}");
	assert_int_equal(event_json_decode(js, strlen(js), &ev, err, sizeof(err), NULL), -E2BIG);
	free(js);
	expect_error("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":{\"j\":1}}}}}}}}},"
		     "\"event\":{\"action\":\"exec\"}}",
		     "deep");
}

static void test_encode_cap(void **state)
{
	struct dynbuf b;

	(void)state;
	exec_event(&ev);
	dynbuf_init(&b, 64);
	assert_int_equal(event_json_encode(&ev, &b), -ENOSPC);
	assert_int_equal(b.len, 0);
	dynbuf_release(&b);
}

/* Every byte that needs escaping, at every position of the 8-byte fast path. */
static void test_escape_positions(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"\"", "\\\""},      {"\\", "\\\\"},       {"\n", "\\n"},      {"\t", "\\t"},
	    {"\r", "\\r"},       {"\x01", "\\u0001"},  {"\x1f", "\\u001f"}, {"\x7f", "\\u007f"},
	    {"\xff", "\\u00ff"}, {"\xc3\xa9", "\xc3\xa9"}, {"\xe2\x82", "\\u00e2\\u0082"},
	};
	struct dynbuf b;
	char in[64], want[128];

	(void)state;
	dynbuf_init(&b, 4096);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (size_t pre = 0; pre < 20; pre++) {
			size_t il = strlen(cases[c].in);

			memset(in, 'a', pre);
			memcpy(in + pre, cases[c].in, il);
			memcpy(in + pre + il, "bcdefghijk", 10);
			snprintf(want, sizeof(want), "\"%.*s%sbcdefghijk\"", (int)pre, in,
				 cases[c].out);
			dynbuf_reset(&b);
			assert_int_equal(json_escape(&b, in, pre + il + 10), 0);
			if (strcmp(b.data, want) != 0)
				fail_msg("case %zu at %zu: got %s want %s", c, pre, b.data, want);
		}
	}
	dynbuf_release(&b);
}

/* One event with every kind of value: numbers, booleans, modes, negative codes, lists. */
static void test_encode_value_types(void **state)
{
	const char *js;

	(void)state;
	exec_event(&ev);
	ev.action = EVENT_ACTION_END;
	ev.process.exit_code = -2147483647 - 1;
	event_mark(&ev, EVF_PROCESS_EXIT_CODE);
	ev.process.args_truncated = true;
	event_mark(&ev, EVF_PROCESS_EXT_ARGS_TRUNCATED);
	ev.file.mode = 0104755;
	event_mark(&ev, EVF_FILE_MODE);
	ev.sequence = UINT64_MAX;
	event_mark(&ev, EVF_EVENT_SEQUENCE);
	js = encode(&ev);
	assert_non_null(strstr(js, "\"type\":[\"end\"],\"action\":\"end\",\"sequence\":"
				   "18446744073709551615}"));
	assert_non_null(strstr(js, "\"exit_code\":-2147483648"));
	assert_non_null(strstr(js, "\"args_truncated\":true"));
	assert_non_null(strstr(js, "\"file\":{\"mode\":\"4755\"}"));
	assert_int_equal(event_json_decode(js, strlen(js), &ev2, NULL, 0, NULL), 0);
	assert_int_equal(ev2.process.exit_code, ev.process.exit_code);
	assert_int_equal(ev2.file.mode, 04755);
	assert_int_equal(ev2.sequence, UINT64_MAX);
}

/* The cap is honoured to the byte: an event fits in exactly its length and fails, leaving the
 * buffer as it was, one byte short; this drives the exact path that the fast path's worst-case
 * reservation falls back to. */
static void test_encode_cap_exact(void **state)
{
	/* Escapes make the worst case (6 bytes per byte) far above the real size. */
	static const char cmd[] = "sh -c \"echo \\x\" \xc3\xa9\x01 tail";
	struct dynbuf b;
	size_t full;
	char *want;

	(void)state;
	exec_event(&ev);
	event_copy_str(ev.process.command_line, sizeof(ev.process.command_line), cmd,
		       sizeof(cmd) - 1);
	want = strdup(encode(&ev));
	full = strlen(want);
	for (size_t cap = full - 40; cap <= full + 8; cap++) {
		dynbuf_init(&b, cap + 3);
		assert_int_equal(dynbuf_add(&b, "ab,", 3), 0);
		if (cap < full) {
			assert_int_equal(event_json_encode(&ev, &b), -ENOSPC);
			assert_int_equal(b.len, 3);
			assert_string_equal(b.data, "ab,");
		} else {
			assert_int_equal(event_json_encode(&ev, &b), 0);
			assert_string_equal(b.data + 3, want);
		}
		dynbuf_release(&b);
	}
	free(want);
}

static void test_copy_str_utf8_boundary(void **state)
{
	char small[4];

	(void)state;
	/* "aé" + "€" = 61 C3 A9 E2 82 AC: cutting at 3 bytes must not split é or €. */
	assert_true(event_copy_str(small, sizeof(small), "a\xc3\xa9\xe2\x82\xac", 6));
	assert_string_equal(small, "a\xc3\xa9");
	assert_true(event_copy_str(small, sizeof(small), "ab\xc3\xa9", 4));
	assert_string_equal(small, "ab");
	assert_false(event_copy_str(small, sizeof(small), "abc", 3));
}

static void test_time(void **state)
{
	uint64_t ns;
	char buf[40];

	(void)state;
	assert_int_equal(json_parse_time("1970-01-01T00:00:00Z", 20, &ns), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(json_parse_time("2024-02-29T12:00:00.5Z", 22, &ns), 0);
	json_format_time(ns, buf, sizeof(buf));
	assert_string_equal(buf, "2024-02-29T12:00:00.500000000Z");
	assert_true(json_parse_time("2024-13-01T00:00:00Z", 20, &ns) < 0);
	assert_true(json_parse_time("2024-01-01T00:00:00", 19, &ns) < 0);
	assert_true(json_parse_time("2024-01-01T00:00:00Zjunk", 24, &ns) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_nesting),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_decode_dotted_and_unknown),
		cmocka_unit_test(test_unicode_and_invalid_utf8),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_encode_cap),
		cmocka_unit_test(test_escape_positions),
		cmocka_unit_test(test_encode_value_types),
		cmocka_unit_test(test_encode_cap_exact),
		cmocka_unit_test(test_copy_str_utf8_boundary),
		cmocka_unit_test(test_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
