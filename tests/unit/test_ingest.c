/* The server's ingest path: strict validation and column extraction of one event line
 * (ingest_doc), the zstd batch codec with its output cap, whole batches into a temp SQLite store
 * (line errors, duplicates, epochs) and the host support check. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "batch_codec.h"
#include "dynbuf.h"
#include "event_json.h"
#include "ingest.h"
#include "ingest_doc.h"
#include "store.h"
#include "support.h"

#include "banned.h"

#define TS "\"@timestamp\":\"2024-03-01T12:34:56.123456789Z\""
#define TS_NS (1709296496LL * 1000000000LL + 123456789LL)
#define CANARY 0xA5
#define AGENT "0123456789abcdef0123456789abcdef"

/* ---- ingest_doc_parse ---- */

struct parsed {
	struct store_event_row row;
	char *arena; /* len + 32 bytes of room, then a canary tail */
	size_t room;
	char err[160];
	int rc;
};

static void parsed_release(struct parsed *p)
{
	free(p->arena);
	p->arena = NULL;
}

/* Parses line[0..len) with exactly the documented arena room and checks that nothing was
 * written past it. */
static int parse_n(struct parsed *p, const char *line, size_t len)
{
	size_t tail = 256;
	char *cursor;

	memset(p, 0, sizeof(*p));
	p->room = len + 32;
	p->arena = malloc(p->room + tail);
	assert_non_null(p->arena);
	memset(p->arena, CANARY, p->room + tail);
	cursor = p->arena;
	p->rc = ingest_doc_parse(line, len, &p->row, &cursor, p->err, sizeof(p->err));
	assert_true(cursor >= p->arena && (size_t)(cursor - p->arena) <= p->room);
	for (size_t i = p->room; i < p->room + tail; i++)
		assert_int_equal((unsigned char)p->arena[i], CANARY);
	if (p->rc)
		assert_true(p->err[0] != 0);
	return p->rc;
}

static int parse(struct parsed *p, const char *line)
{
	return parse_n(p, line, strlen(line));
}

static void expect_reject(const char *line, size_t len, int want)
{
	struct parsed p;

	if (parse_n(&p, line, len) != want)
		fail_msg("rc=%d (want %d) err=%s for: %.*s", p.rc, want, p.err,
			 (int)(len > 200 ? 200 : len), line);
	parsed_release(&p);
}

static void expect_invalid(const char *line)
{
	expect_reject(line, strlen(line), -EINVAL);
}

static void expect_valid(const char *line)
{
	struct parsed p;

	if (parse(&p, line) != 0)
		fail_msg("rejected (%s): %s", p.err, line);
	parsed_release(&p);
}

static void test_doc_nested_columns(void **state)
{
	static const char line[] =
	    "{" TS ",\"host\":{\"name\":\"web-1\"},"
	    "\"event\":{\"action\":\"exec\",\"category\":[\"process\",\"start\"],\"kind\":"
	    "\"event\"},"
	    "\"process\":{\"entity_id\":\"E1\",\"parent\":{\"entity_id\":\"E0\",\"pid\":1},"
	    "\"pid\":4242,\"name\":\"bash\",\"executable\":\"/usr/bin/bash\","
	    "\"hash\":{\"sha256\":\"9f86d081884c7d659a2feaa0c55ad015\"},"
	    "\"args\":[\"bash\",\"-c\",\"id\"]},"
	    "\"file\":{\"path\":\"/etc/passwd\"},"
	    "\"source\":{\"ip\":\"10.0.0.1\",\"port\":51000},"
	    "\"destination\":{\"ip\":\"10.0.0.2\",\"port\":443},"
	    "\"user\":{\"name\":\"root\",\"id\":\"0\"},"
	    "\"dns\":{\"question\":{\"name\":\"example.com\",\"type\":\"A\"}},"
	    "\"labels\":{\"x\":true,\"y\":false,\"z\":null,\"n\":-1.5e3}}";
	struct parsed p;

	(void)state;
	assert_int_equal(parse(&p, line), 0);
	assert_int_equal(p.row.ts, TS_NS);
	assert_ptr_equal(p.row.doc, line);
	assert_int_equal(p.row.doc_len, strlen(line));
	assert_string_equal(p.row.host, "web-1");
	assert_string_equal(p.row.action, "exec");
	assert_string_equal(p.row.category, "process");
	assert_string_equal(p.row.entity_id, "E1");
	assert_string_equal(p.row.parent_entity_id, "E0");
	assert_int_equal(p.row.pid, 4242);
	assert_string_equal(p.row.name, "bash");
	assert_string_equal(p.row.exe, "/usr/bin/bash");
	assert_string_equal(p.row.hash, "9f86d081884c7d659a2feaa0c55ad015");
	assert_string_equal(p.row.path, "/etc/passwd");
	assert_string_equal(p.row.src_ip, "10.0.0.1");
	assert_string_equal(p.row.dst_ip, "10.0.0.2");
	assert_int_equal(p.row.dst_port, 443);
	assert_string_equal(p.row.user_name, "root");
	assert_string_equal(p.row.dns, "example.com");
	parsed_release(&p);
}

static void test_doc_absent_columns(void **state)
{
	struct parsed p;

	(void)state;
	assert_int_equal(parse(&p, "{" TS ",\"process\":{\"pid\":\"12\"}}"), 0);
	assert_int_equal(p.row.ts, TS_NS);
	assert_null(p.row.host);
	assert_null(p.row.name);
	assert_null(p.row.category);
	assert_int_equal(p.row.pid, -1); /* a string is not a pid */
	assert_int_equal(p.row.dst_port, -1);
	parsed_release(&p);

	/* Whitespace around the object and between tokens; other time zones. */
	assert_int_equal(parse(&p, " \t{ \"@timestamp\" : \"2024-03-01T13:34:56.123456789+01:00\" ,"
				   " \"event\" : { \"category\" : [ ] } }\r "),
			 0);
	assert_int_equal(p.row.ts, TS_NS);
	assert_null(p.row.category);
	parsed_release(&p);
}

static void test_doc_dotted_keys(void **state)
{
	struct parsed p;

	(void)state;
	assert_int_equal(parse(&p, "{" TS ",\"process.name\":\"x\",\"host.name\":\"h\","
				   "\"process\":{\"parent.entity_id\":\"P\"},"
				   "\"destination.port\":53,\"event.category\":\"network\"}"),
			 0);
	assert_string_equal(p.row.name, "x");
	assert_string_equal(p.row.host, "h");
	assert_string_equal(p.row.parent_entity_id, "P");
	assert_int_equal(p.row.dst_port, 53);
	assert_string_equal(p.row.category, "network"); /* a plain string as well as an array */
	parsed_release(&p);

	/* The first occurrence wins, dotted or nested. */
	assert_int_equal(
	    parse(&p, "{\"process\":{\"name\":\"first\"},\"process.name\":\"second\"," TS "}"), 0);
	assert_string_equal(p.row.name, "first");
	parsed_release(&p);
}

static void test_doc_long_key_does_not_shift_paths(void **state)
{
	char line[2048];
	char key[700];
	struct parsed p;

	(void)state;
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = 0;
	/* A field below a key too long to track must not be taken for a top-level one. */
	snprintf(line, sizeof(line),
		 "{" TS ",\"%s\":{\"process\":{\"name\":\"spoof\"},\"a\":{\"b\":1}},"
		 "\"user\":{\"name\":\"real\"}}",
		 key);
	assert_int_equal(parse(&p, line), 0);
	assert_null(p.row.name);
	assert_string_equal(p.row.user_name, "real");
	parsed_release(&p);
}

static void test_doc_escapes(void **state)
{
	static const char line[] = "{" TS ",\"process\":{\"name\":"
				   "\"a\\nb\\\"c\\u00e9d\\ud83d\\ude00e\\/\\\\\\t\","
				   "\"executable\":\"\\u20ac\\u0041\"}}";
	struct parsed p;

	(void)state;
	assert_int_equal(parse(&p, line), 0);
	/* Surrogate pairs become U+FFFD in columns; the document keeps the original text. */
	assert_string_equal(p.row.name, "a\nb\"c\xc3\xa9"
					"d\xef\xbf\xbd\xef\xbf\xbd"
					"e/\\\t");
	assert_string_equal(p.row.exe, "\xe2\x82\xac"
				       "A");
	assert_int_equal(p.row.doc_len, strlen(line));
	assert_memory_equal(p.row.doc, line, strlen(line));
	assert_non_null(strstr(p.row.doc, "\\ud83d\\ude00"));
	parsed_release(&p);

	/* Raw UTF-8 passes through unchanged. */
	assert_int_equal(parse(&p, "{" TS ",\"user\":{\"name\":\"J\xc3\xbcrgen \xe2\x82\xac "
				   "\xf0\x9f\x98\x80\"}}"),
			 0);
	assert_string_equal(p.row.user_name, "J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x98\x80");
	parsed_release(&p);
}

static void test_doc_rejects_structure(void **state)
{
	(void)state;
	expect_invalid("");
	expect_invalid("   ");
	expect_invalid("[" TS "]");
	expect_invalid("\"" TS "\"");
	expect_invalid("42");
	expect_invalid("{" TS "} x");
	expect_invalid("{" TS "}}");
	expect_invalid("{" TS "}{" TS "}");
	expect_invalid("{" TS "} {}");
	expect_invalid("{" TS "}\n");
	expect_reject("{" TS "}\0", sizeof("{" TS "}\0") - 1, -EINVAL);
	expect_invalid("{" TS);
	expect_invalid("{" TS ",\"a\":[1,2}");
	expect_invalid("{" TS ",\"a\":{\"b\":1]}");
	/* Separators jsmn lets through. */
	expect_invalid("{" TS ",\"a\":[1 2]}");
	expect_invalid("{" TS ",\"a\":[\"x\" \"y\"]}");
	expect_invalid("{" TS ",,\"a\":1}");
	expect_invalid("{" TS ",\"a\":1,}");
	expect_invalid("{," TS "}");
	expect_invalid(",{" TS "}");
	expect_invalid(":{" TS "}");
	expect_invalid("{\"@timestamp\"::\"2024-03-01T12:34:56Z\"}");
	expect_invalid("{" TS ",\"a\":[1,,2]}");
	expect_invalid("{" TS ",\"a\":[,1]}");
	expect_invalid("{" TS ",\"a\":[1,]}");
	expect_invalid("{" TS ",\"k\":[\"a\":\"b\",\"c\":\"d\"],\"e\" \"f\"}");
	expect_invalid("{" TS ",\"a\":\"b\":\"c\"}");
	expect_invalid("{" TS ",\"a\" \"b\"}");
	expect_invalid("{" TS ",\"a\"}");
	expect_invalid("{" TS ",1:2}");
	expect_invalid("{" TS ",{}:2}");
	/* Still fine: empty containers and whitespace everywhere. */
	expect_valid("{" TS ",\"a\":[],\"b\":{},\"c\":[[],{}],\"d\":[ 1 , \"x\" , null ]}");
	expect_valid("{\n" TS "\n,\n\"a\"\n:\n[\n1\n]\n}");
}

static void test_doc_rejects_timestamp(void **state)
{
	(void)state;
	expect_invalid("{}");
	expect_invalid("{\"host\":{\"name\":\"h\"}}");
	expect_invalid("{\"@timestamp\":1709296496}");
	expect_invalid("{\"@timestamp\":\"yesterday\"}");
	expect_invalid("{\"@timestamp\":\"2024-13-01T00:00:00Z\"}");
	expect_invalid("{\"@timestamp\":\"2024-03-01T00:00:00\"}");
	expect_invalid("{\"@timestamp\":\"1960-03-01T00:00:00Z\"}");
	expect_invalid("{\"@timestamp\":\"\"}");
	expect_invalid("{\"@timestamp\":null}");
}

static void test_doc_rejects_literals(void **state)
{
	static const char *const bad[] = {
	    "tru", "True", "nul", "falsey", "01", "1.", "-", "+1", ".5", "1e", "1e+", "0x10", "--1",
	    "1.2.3", "NaN", "Infinity", "-01", "1E+-2",
	    /* Beyond what PostgreSQL's numeric (behind jsonb) takes. */
	    "1e99999", "1e-10000", "1E+00001"};
	static const char *const good[] = {
	    "true",  "false", "null",	"0",	  "-0",		"1.5",
	    "-1e10", "2E-3",  "1.0e+2", "1e9999", "-9.5E-9999", "123456789012345678901"};
	char line[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "{" TS ",\"v\":%s}", bad[i]);
		expect_invalid(line);
		snprintf(line, sizeof(line), "{" TS ",\"v\":[%s]}", bad[i]);
		expect_invalid(line);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(line, sizeof(line), "{" TS ",\"v\":%s}", good[i]);
		expect_valid(line);
	}
	/* At most 100 characters per number. */
	{
		char digits[128];

		memset(digits, '7', 101);
		digits[101] = 0;
		snprintf(line, sizeof(line), "{" TS ",\"v\":%s}", digits);
		expect_invalid(line);
		digits[100] = 0;
		snprintf(line, sizeof(line), "{" TS ",\"v\":%s}", digits);
		expect_valid(line);
	}
}

static void test_doc_rejects_strings(void **state)
{
	static const char *const bad[] = {
	    "a\tb", /* raw control characters */
	    "a\nb",
	    "\x01",
	    "\x1f",
	    "\xff", /* invalid UTF-8 */
	    "\xc3",
	    "\xc3\x28",
	    "\x80",
	    "\xe2\x82",
	    "\xf8\x88\x80\x80\x80",
	    "\xc0\xaf", /* overlong */
	    "\xc1\xbf",
	    "\xe0\x80\xaf",
	    "\xe0\x9f\xbf",
	    "\xf0\x80\x80\xaf",
	    "\xf0\x8f\xbf\xbf",
	    "\xed\xa0\x80", /* UTF-16 surrogates encoded in UTF-8 */
	    "\xed\xbf\xbf",
	    "\xed\xa0\xbd\xed\xb8\x80",
	    "\xf4\x90\x80\x80", /* above U+10FFFF */
	    "\\u0000",		/* NUL escape */
	    "a\\u0000b",
	    "\\x41",
	    "\\a",
	    "\\U0041",
	    "\\u12",
	    "\\u12g4",
	    "\\u",
	    "\\",
	    "\\'",
	    /* \u surrogates must come in pairs (PostgreSQL's jsonb refuses the rest). */
	    "\\ud800",
	    "\\udc00",
	    "\\ud800x",
	    "\\ud800\\u0041",
	    "\\ud800\\ud800",
	    "\\ude00\\ud83d",
	    "\\ud83d\\n",
	    "\\ud83d\\",
	    "\\ud83d\\u",
	};
	char line[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "{" TS ",\"v\":\"%s\"}", bad[i]);
		expect_invalid(line);
		/* The same in a key. */
		snprintf(line, sizeof(line), "{" TS ",\"%s\":1}", bad[i]);
		expect_invalid(line);
	}
	/* Unterminated strings. */
	expect_invalid("{" TS ",\"v\":\"abc}");
	expect_invalid("{" TS ",\"v\":\"abc\\\"}");
	expect_invalid("{\"@timestamp\":\"2024-03-01T12:34:56Z");
	/* Boundaries that are fine. */
	expect_valid("{" TS ",\"v\":\"\\u0001\\u001f\\u007f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf"
		     "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\xee\x80\x80\"}");
}

static void test_doc_rejects_deep_nesting(void **state)
{
	char line[1024];
	size_t n = 0;

	(void)state;
	for (int depth = 60; depth <= 70; depth++) {
		struct parsed p;

		n = (size_t)snprintf(line, sizeof(line), "{" TS ",\"a\":");
		for (int i = 0; i < depth; i++)
			line[n++] = '[';
		for (int i = 0; i < depth; i++)
			line[n++] = ']';
		line[n++] = '}';
		line[n] = 0;
		parse(&p, line);
		/* The object is level 0 and "a"'s value level 1: 64 levels below the object. */
		if (depth <= 64)
			assert_int_equal(p.rc, 0);
		else
			assert_int_equal(p.rc, -EINVAL);
		parsed_release(&p);
	}
	/* Far deeper than jsmn's token budget allows walking. */
	{
		size_t big = 20000;
		char *deep = malloc(2 * big + 64);

		assert_non_null(deep);
		n = (size_t)snprintf(deep, 64, "{" TS ",\"a\":");
		memset(deep + n, '[', big);
		memset(deep + n + big, ']', big);
		n += 2 * big;
		deep[n++] = '}';
		expect_reject(deep, n, -EINVAL);
		free(deep);
	}
}

static void test_doc_too_many_tokens(void **state)
{
	size_t count = INGEST_DOC_MAX_TOKENS + 10, n;
	char *line = malloc(2 * count + 128);

	(void)state;
	assert_non_null(line);
	n = (size_t)snprintf(line, 128, "{" TS ",\"a\":[");
	for (size_t i = 0; i < count; i++) {
		line[n++] = '0';
		line[n++] = ',';
	}
	line[n - 1] = ']';
	line[n++] = '}';
	assert_true(n <= INGEST_DOC_MAX_LINE);
	expect_reject(line, n, -E2BIG);

	/* Just under the budget parses. */
	count = INGEST_DOC_MAX_TOKENS - 8;
	n = (size_t)snprintf(line, 128, "{" TS ",\"a\":[");
	for (size_t i = 0; i < count; i++) {
		line[n++] = '0';
		line[n++] = ',';
	}
	line[n - 1] = ']';
	line[n++] = '}';
	{
		struct parsed p;

		assert_int_equal(parse_n(&p, line, n), 0);
		parsed_release(&p);
	}
	free(line);
}

static void test_doc_line_too_long(void **state)
{
	size_t n = INGEST_DOC_MAX_LINE + 1, at;
	char *line = malloc(n);

	(void)state;
	assert_non_null(line);
	at = (size_t)snprintf(line, n, "{" TS ",\"pad\":\"");
	memset(line + at, 'x', n - at - 2);
	line[n - 2] = '"';
	line[n - 1] = '}';
	expect_reject(line, n, -E2BIG);
	/* One byte shorter (dropping a pad byte) is accepted. */
	memmove(line + at, line + at + 1, n - at - 1);
	{
		struct parsed p;

		assert_int_equal(parse_n(&p, line, n - 1), 0);
		parsed_release(&p);
	}
	free(line);
}

static void test_doc_arena_bounded(void **state)
{
	char line[8192];
	size_t n;
	struct parsed p;

	(void)state;
	/* Every extracted field at once, all short, so the NULs dominate. */
	assert_int_equal(parse(&p, "{" TS ",\"host.name\":\"\",\"event.action\":\"\","
				   "\"event.category\":[\"\"],\"process.entity_id\":\"\","
				   "\"process.parent.entity_id\":\"\",\"process.name\":\"\","
				   "\"process.executable\":\"\",\"process.hash.sha256\":\"\","
				   "\"file.path\":\"\",\"source.ip\":\"\",\"destination.ip\":\"\","
				   "\"user.name\":\"\",\"dns.question.name\":\"\"}"),
			 0);
	assert_string_equal(p.row.host, "");
	assert_string_equal(p.row.dns, "");
	parsed_release(&p);

	/* Long values full of escapes: \u escapes expand to at most 3 bytes. */
	n = (size_t)snprintf(line, sizeof(line), "{" TS ",\"process\":{\"name\":\"");
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\\uffff\\ud83d\\ude00\\n");
	n += (size_t)snprintf(line + n, sizeof(line) - n, "\"},\"host\":{\"name\":\"");
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\xf0\x9f\x98\x80");
	n += (size_t)snprintf(line + n, sizeof(line) - n, "\"}}");
	assert_true(n < sizeof(line) - 1);
	assert_int_equal(parse(&p, line), 0);
	assert_int_equal(strlen(p.row.name), 300 * 10);
	assert_int_equal(strlen(p.row.host), 300 * 4);
	parsed_release(&p);
}

/* ---- batch_codec ---- */

static void compress_str(const char *s, size_t n, struct dynbuf *out)
{
	assert_int_equal(batch_compress(s, n, 3, out), 0);
}

static void test_codec_round_trip(void **state)
{
	struct dynbuf z, plain;
	char text[5000];

	(void)state;
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)('a' + (i * 7) % 26);
	dynbuf_init(&z, 1 << 20);
	dynbuf_init(&plain, 1 << 20);
	compress_str(text, sizeof(text), &z);
	assert_true(z.len > 0 && z.len < sizeof(text));
	assert_int_equal(batch_decompress(z.data, z.len, 1 << 20, &plain), 0);
	assert_int_equal(plain.len, sizeof(text));
	assert_memory_equal(plain.data, text, sizeof(text));

	/* An empty payload still makes a valid frame. */
	dynbuf_reset(&z);
	dynbuf_reset(&plain);
	compress_str("", 0, &z);
	assert_int_equal(batch_decompress(z.data, z.len, 1 << 20, &plain), 0);
	assert_int_equal(plain.len, 0);
	dynbuf_release(&z);
	dynbuf_release(&plain);
}

static void test_codec_malformed(void **state)
{
	struct dynbuf z, plain;
	static const char garbage[] = "this is not a zstd frame at all, just text\n";
	static const unsigned char magic_only[] = {0x28, 0xb5, 0x2f, 0xfd};
	char text[3000];

	(void)state;
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)(i * 131 % 251);
	dynbuf_init(&z, 1 << 20);
	dynbuf_init(&plain, 1 << 20);
	compress_str(text, sizeof(text), &z);
	/* Previous content is kept on failure. */
	assert_int_equal(dynbuf_adds(&plain, "keep"), 0);
	for (size_t cut = 1; cut < z.len; cut += (cut < 16 ? 1 : 37)) {
		assert_int_equal(batch_decompress(z.data, z.len - cut, 1 << 20, &plain), -EINVAL);
		assert_int_equal(plain.len, 4);
		assert_string_equal(plain.data, "keep");
	}
	assert_int_equal(batch_decompress(garbage, sizeof(garbage) - 1, 1 << 20, &plain), -EINVAL);
	assert_int_equal(batch_decompress(magic_only, sizeof(magic_only), 1 << 20, &plain),
			 -EINVAL);
	assert_int_equal(batch_decompress("", 0, 1 << 20, &plain), -EINVAL);
	/* A valid frame followed by garbage. */
	assert_int_equal(dynbuf_add(&z, garbage, 8), 0);
	assert_int_equal(batch_decompress(z.data, z.len, 1 << 20, &plain), -EINVAL);
	assert_int_equal(plain.len, 4);
	dynbuf_release(&z);
	dynbuf_release(&plain);
}

static void test_codec_output_cap(void **state)
{
	size_t big = (size_t)10 << 20;
	char *zeros = calloc(1, big);
	struct dynbuf z, plain;

	(void)state;
	assert_non_null(zeros);
	dynbuf_init(&z, (size_t)16 << 20); /* room for the compress bound */
	dynbuf_init(&plain, (size_t)64 << 20);
	compress_str(zeros, big, &z);
	assert_true(z.len < 4096);
	assert_int_equal(batch_decompress(z.data, z.len, (size_t)1 << 20, &plain), -E2BIG);
	assert_int_equal(plain.len, 0);
	/* Exactly at the cap is fine. */
	assert_int_equal(batch_decompress(z.data, z.len, big, &plain), 0);
	assert_int_equal(plain.len, big);
	assert_memory_equal(plain.data, zeros, big);
	/* The buffer's own cap is respected as well. */
	{
		struct dynbuf small;

		dynbuf_init(&small, 100000);
		assert_int_equal(batch_decompress(z.data, z.len, big, &small), -E2BIG);
		assert_int_equal(small.len, 0);
		assert_true(small.alloc <= 100001);
		dynbuf_release(&small);
	}
	dynbuf_release(&z);
	dynbuf_release(&plain);
	free(zeros);
}

static void test_codec_concatenated(void **state)
{
	struct dynbuf z, plain;

	(void)state;
	dynbuf_init(&z, 1 << 20);
	dynbuf_init(&plain, 1 << 20);
	compress_str("first line\n", 11, &z);
	compress_str("", 0, &z);
	compress_str("second line\n", 12, &z);
	assert_int_equal(batch_decompress(z.data, z.len, 1 << 20, &plain), 0);
	assert_string_equal(plain.data, "first line\nsecond line\n");
	/* The cap counts all frames together. */
	dynbuf_reset(&plain);
	assert_int_equal(batch_decompress(z.data, z.len, 20, &plain), -E2BIG);
	dynbuf_release(&z);
	dynbuf_release(&plain);
}

/* ---- ingest_batch against a temp SQLite store ---- */

struct ing {
	char dir[64];
	char db[128];
	struct store *st;
	struct ingest in;
};

static int ing_setup(void **state)
{
	struct ing *t = calloc(1, sizeof(*t));
	char target[160], err[256];

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/mamori-ingest-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->db, sizeof(t->db), "%s/t.db", t->dir);
	snprintf(target, sizeof(target), "sqlite:%s", t->db);
	t->st = store_open(target, err, sizeof(err));
	if (!t->st) {
		fprintf(stderr, "store_open: %s\n", err);
		rmdir(t->dir);
		free(t);
		return -1;
	}
	ingest_init(&t->in, t->st);
	*state = t;
	return 0;
}

static int ing_teardown(void **state)
{
	struct ing *t = *state;
	char p[160];

	ingest_release(&t->in);
	store_close(t->st);
	unlink(t->db);
	snprintf(p, sizeof(p), "%s-wal", t->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", t->db);
	unlink(p);
	rmdir(t->dir);
	free(t);
	return 0;
}

static int64_t count_events(struct ing *t, const char *agent)
{
	struct store_val p[] = {store_text(agent)};
	int64_t n = -1;

	assert_int_equal(
	    store_query_int(t->st, "SELECT count(*) FROM events WHERE agent_id = ?", p, 1, &n), 0);
	return n;
}

/* An RFC 3339 time minutes_ago before now (ingest refuses times far from the server's clock). */
static void recent_time(int minutes_ago, char *buf, size_t size)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	json_format_time((uint64_t)(now.tv_sec - 60ll * minutes_ago) * 1000000000ull, buf, size);
}

static void event_line(struct dynbuf *b, int i)
{
	char ts[64];

	recent_time(i, ts, sizeof(ts));
	assert_int_equal(
	    dynbuf_printf(b,
			  "{\"@timestamp\":\"%s\",\"host\":{\"name\":\"h1\"},\"event\":{"
			  "\"action\":\"exec\"},\"process\":{\"entity_id\":\"E%d\","
			  "\"pid\":%d,\"name\":\"p%d\"}}",
			  ts, i, 100 + i, i),
	    0);
}

/* n lines, those whose 1-based number is in bad[] replaced by broken JSON. */
static void make_batch(struct dynbuf *plain, int n, const int *bad, size_t nbad)
{
	for (int i = 1; i <= n; i++) {
		bool broken = false;

		for (size_t k = 0; k < nbad; k++)
			broken |= bad[k] == i;
		if (broken)
			assert_int_equal(dynbuf_printf(plain, "{\"@timestamp\":\"2024-03-01T00:00:"
							      "00Z\",\"x\":tru}"),
					 0);
		else
			event_line(plain, i);
		assert_int_equal(dynbuf_addc(plain, '\n'), 0);
	}
}

static int send_batch(struct ing *t, const char *agent, uint64_t epoch, uint64_t seq,
		      const struct dynbuf *plain, bool zstd, struct ingest_result *res)
{
	struct dynbuf z;
	int rc;

	if (!zstd)
		return ingest_batch(&t->in, agent, epoch, seq, plain->data ? plain->data : "",
				    plain->len, false, res);
	dynbuf_init(&z, 16 << 20);
	assert_int_equal(batch_compress(plain->data ? plain->data : "", plain->len, 3, &z), 0);
	rc = ingest_batch(&t->in, agent, epoch, seq, z.data, z.len, true, res);
	dynbuf_release(&z);
	return rc;
}

static void test_batch_lines_and_duplicates(void **state)
{
	struct ing *t = *state;
	static const int bad[] = {4, 7};
	struct ingest_result res;
	struct dynbuf plain;
	int64_t last = 0;

	dynbuf_init(&plain, 1 << 20);
	make_batch(&plain, 20, bad, 2);
	assert_int_equal(send_batch(t, AGENT, 0x1111, 5, &plain, true, &res), 0);
	assert_false(res.duplicate);
	assert_int_equal(res.stored, 18);
	assert_int_equal(res.rejected, 2);
	assert_true(!strncmp(res.first_error, "line 4: ", 8));
	assert_int_equal(count_events(t, AGENT), 18);
	{
		struct store_val p[] = {store_text(AGENT), store_text("E2")};
		int64_t pid = 0;

		assert_int_equal(store_query_int(t->st,
						 "SELECT pid FROM events WHERE agent_id = ? AND "
						 "entity_id = ?",
						 p, 2, &pid),
				 0);
		assert_int_equal(pid, 102);
	}

	/* The same (agent, epoch, seq) again: a duplicate, nothing stored. */
	assert_int_equal(send_batch(t, AGENT, 0x1111, 5, &plain, true, &res), 0);
	assert_true(res.duplicate);
	assert_int_equal(res.stored, 0);
	assert_int_equal(res.rejected, 0);
	assert_int_equal(count_events(t, AGENT), 18);

	/* A lower sequence in the same epoch is a duplicate too. */
	assert_int_equal(send_batch(t, AGENT, 0x1111, 3, &plain, true, &res), 0);
	assert_true(res.duplicate);
	assert_int_equal(count_events(t, AGENT), 18);

	/* A new epoch starts again at 1. */
	assert_int_equal(send_batch(t, AGENT, 0x2222, 1, &plain, true, &res), 0);
	assert_false(res.duplicate);
	assert_int_equal(res.stored, 18);
	assert_int_equal(count_events(t, AGENT), 36);

	/* The next sequence in the first epoch is new. */
	assert_int_equal(send_batch(t, AGENT, 0x1111, 6, &plain, true, &res), 0);
	assert_false(res.duplicate);
	assert_int_equal(count_events(t, AGENT), 54);
	{
		struct store_val p[] = {store_text(AGENT), store_text("0000000000001111")};

		assert_int_equal(store_query_int(t->st,
						 "SELECT last_seq FROM batches WHERE agent_id = ? "
						 "AND epoch = ?",
						 p, 2, &last),
				 0);
		assert_int_equal(last, 6);
	}

	/* Another agent with the same epoch and sequence is independent. */
	assert_int_equal(
	    send_batch(t, "ffffffffffffffffffffffffffffffff", 0x1111, 6, &plain, true, &res), 0);
	assert_false(res.duplicate);
	assert_int_equal(count_events(t, "ffffffffffffffffffffffffffffffff"), 18);
	dynbuf_release(&plain);
}

static void test_batch_identity_crlf_blank(void **state)
{
	struct ing *t = *state;
	struct ingest_result res;
	struct dynbuf plain;
	char doc[1024];

	dynbuf_init(&plain, 1 << 20);
	/* Identity (not compressed). */
	make_batch(&plain, 3, NULL, 0);
	assert_int_equal(send_batch(t, AGENT, 1, 1, &plain, false, &res), 0);
	assert_int_equal(res.stored, 3);
	assert_int_equal(res.rejected, 0);

	/* CRLF endings, blank lines (also "\r" alone), no final newline. */
	dynbuf_reset(&plain);
	assert_int_equal(dynbuf_adds(&plain, "\r\n\n"), 0);
	event_line(&plain, 31);
	assert_int_equal(dynbuf_adds(&plain, "\r\n\r\n\n\r\n"), 0);
	event_line(&plain, 32);
	assert_int_equal(dynbuf_adds(&plain, "\r\n\n"), 0);
	event_line(&plain, 33);
	assert_int_equal(send_batch(t, AGENT, 1, 2, &plain, true, &res), 0);
	assert_int_equal(res.stored, 3);
	assert_int_equal(res.rejected, 0);
	assert_int_equal(count_events(t, AGENT), 6);
	{
		struct store_val p[] = {store_text("E32")};

		assert_int_equal(store_query_text(t->st,
						  "SELECT doc FROM event_docs WHERE entity_id = ?", p,
						  1, doc, sizeof(doc)),
				 0);
		assert_true(doc[0] == '{' && doc[strlen(doc) - 1] == '}');
	}

	/* A bad line after CRLF lines is numbered by physical line. */
	dynbuf_reset(&plain);
	event_line(&plain, 40);
	assert_int_equal(dynbuf_adds(&plain, "\r\n\r\n{oops}\r\n"), 0);
	assert_int_equal(send_batch(t, AGENT, 1, 3, &plain, false, &res), 0);
	assert_int_equal(res.stored, 1);
	assert_int_equal(res.rejected, 1);
	assert_true(!strncmp(res.first_error, "line 3: ", 8));
	dynbuf_release(&plain);
}

static void test_batch_no_valid_lines(void **state)
{
	struct ing *t = *state;
	static const int bad[] = {1, 2, 3};
	struct ingest_result res;
	struct dynbuf plain;

	dynbuf_init(&plain, 1 << 20);
	make_batch(&plain, 3, bad, 3);
	assert_int_equal(send_batch(t, AGENT, 7, 9, &plain, true, &res), 0);
	assert_false(res.duplicate);
	assert_int_equal(res.stored, 0);
	assert_int_equal(res.rejected, 3);
	assert_int_equal(count_events(t, AGENT), 0);
	/* The sequence was recorded: resending it is a duplicate. */
	assert_int_equal(send_batch(t, AGENT, 7, 9, &plain, true, &res), 0);
	assert_true(res.duplicate);

	/* Empty batches too, compressed or not. */
	dynbuf_reset(&plain);
	assert_int_equal(send_batch(t, AGENT, 7, 10, &plain, true, &res), 0);
	assert_false(res.duplicate);
	assert_int_equal(res.stored + res.rejected, 0);
	assert_int_equal(send_batch(t, AGENT, 7, 11, &plain, false, &res), 0);
	assert_false(res.duplicate);
	assert_int_equal(send_batch(t, AGENT, 7, 11, &plain, false, &res), 0);
	assert_true(res.duplicate);
	dynbuf_release(&plain);
}

static void test_batch_time_window(void **state)
{
	struct ing *t = *state;
	struct ingest_result res;
	struct dynbuf plain;
	char ahead[64];

	dynbuf_init(&plain, 1 << 20);
	/* Far in the past, two days ahead, then a current one. */
	recent_time(-2 * 24 * 60, ahead, sizeof(ahead));
	assert_int_equal(dynbuf_printf(&plain,
				       "{\"@timestamp\":\"2000-01-01T00:00:00Z\"}\n"
				       "{\"@timestamp\":\"%s\"}\n",
				       ahead),
			 0);
	event_line(&plain, 1);
	assert_int_equal(send_batch(t, AGENT, 3, 1, &plain, true, &res), 0);
	assert_int_equal(res.stored, 1);
	assert_int_equal(res.rejected, 2);
	assert_true(!strncmp(res.first_error, "line 1: ", 8));
	assert_int_equal(count_events(t, AGENT), 1);
	dynbuf_release(&plain);
}

/* An agent's alert goes to the summaries with its own fields; a hash it lacks comes from its
 * triggering event (agents older than the alert's hash fields), and nothing else does. */
static void test_batch_alert_summaries(void **state)
{
	struct ing *t = *state;
	struct ingest_result res;
	struct dynbuf plain;
	char ts[64];

	t->in.summaries = true;
	dynbuf_init(&plain, 1 << 20);
	recent_time(0, ts, sizeof(ts));
	assert_int_equal(
	    dynbuf_printf(&plain,
			  "{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"alert\",\"id\":"
			  "\"0123456789abcdef0123456789abcdef\",\"created\":\"%s\"},"
			  "\"rule\":{\"id\":\"r1\",\"severity\":\"high\"},\"risk_score\":73,"
			  "\"process\":{\"executable\":\"/tmp/x\"},"
			  "\"mamori\":{\"events\":[{\"process\":{\"pid\":42,\"executable\":"
			  "\"/tmp/y\",\"hash\":{\"sha256\":\"%064d\"}},\"file\":{\"path\":"
			  "\"/tmp/z\",\"hash\":{\"sha256\":\"%064d\"}}}]}}\n",
			  ts, ts, 1, 2),
	    0);
	assert_int_equal(send_batch(t, AGENT, 9, 1, &plain, false, &res), 0);
	assert_int_equal(res.alerts, 1);
	assert_non_null(res.alert_summaries);
	json_t *a = json_array_get(res.alert_summaries, 0);
	char want1[65], want2[65];
	snprintf(want1, sizeof(want1), "%064d", 1);
	snprintf(want2, sizeof(want2), "%064d", 2);
	assert_string_equal(json_string_value(json_object_get(a, "executable")), "/tmp/x");
	assert_string_equal(json_string_value(json_object_get(a, "process_sha256")), want1);
	assert_string_equal(json_string_value(json_object_get(a, "file_sha256")), want2);
	assert_null(json_object_get(a, "pid"));
	assert_null(json_object_get(a, "file_path"));
	json_decref(res.alert_summaries);
	dynbuf_release(&plain);
}

static void test_batch_bad_frames(void **state)
{
	struct ing *t = *state;
	struct ingest_result res;
	static const char garbage[] = "\x28\xb5\x2f\xfdnot really zstd";

	assert_int_equal(
	    ingest_batch(&t->in, AGENT, 1, 1, garbage, sizeof(garbage) - 1, true, &res), -EINVAL);
	assert_int_equal(count_events(t, AGENT), 0);
	/* Nothing recorded: the same sequence is accepted afterwards. */
	{
		struct dynbuf plain;

		dynbuf_init(&plain, 1 << 20);
		make_batch(&plain, 2, NULL, 0);
		assert_int_equal(send_batch(t, AGENT, 1, 1, &plain, true, &res), 0);
		assert_false(res.duplicate);
		assert_int_equal(res.stored, 2);
		dynbuf_release(&plain);
	}
}

/* ---- support_check ---- */

static void expect_support(const char *platform, const char *version, const char *kernel, int ebpf,
			   bool want, const char *phrase)
{
	char reason[256];
	bool ok;

	memset(reason, 'x', sizeof(reason));
	ok = support_check(platform, version, kernel, ebpf, reason, sizeof(reason));
	assert_true(memchr(reason, 0, sizeof(reason)) != NULL);
	if (ok != want || !strstr(reason, phrase))
		fail_msg("%s %s kernel %s ebpf %d: got %d \"%s\", want %d with \"%s\"",
			 platform ? platform : "(null)", version ? version : "(null)",
			 kernel ? kernel : "(null)", ebpf, ok, reason, want, phrase);
}

static void test_support(void **state)
{
	(void)state;
	expect_support("debian", "12", "6.1.0-18-amd64", 1, true, "debian 12");
	expect_support("ubuntu", "22.04", "6.5.0-26-generic", 1, true, "ubuntu 22.04");
	expect_support("rhel", "9.4", "6.1.0", 1, true, "rhel 9.4");
	expect_support("debian", "12", "6.1.0", -1, true, "debian 12");

	expect_support("debian", "12", "4.14.0", 1, false, "not supported");
	expect_support("debian", "12", "3.10.0-1160.el7", 1, false, "not supported");
	expect_support("ubuntu", "20.04", "5.4.0-150-generic", 1, false, "fallbacks");
	expect_support("debian", "12", "6.1.0", 0, false, "not active");
	expect_support("gentoo", "2.14", "6.6.0", 1, false, "not in the tested list");
	expect_support(NULL, NULL, "6.6.0", 1, false, "not in the tested list");
	expect_support("debian", "10", "6.1.0", 1, false, "outside the tested list");
	expect_support("ubuntu", "22.10", "6.1.0", 1, false, "outside the tested list");
	expect_support("ubuntu", "22", "6.1.0", 1, false, "outside the tested list");
	expect_support("debian", "12", NULL, 1, false, "no inventory");
	expect_support("debian", "12", "", 1, false, "no inventory");
	expect_support("debian", "12", "six", 1, false, "no inventory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_doc_nested_columns),
	    cmocka_unit_test(test_doc_absent_columns),
	    cmocka_unit_test(test_doc_dotted_keys),
	    cmocka_unit_test(test_doc_long_key_does_not_shift_paths),
	    cmocka_unit_test(test_doc_escapes),
	    cmocka_unit_test(test_doc_rejects_structure),
	    cmocka_unit_test(test_doc_rejects_timestamp),
	    cmocka_unit_test(test_doc_rejects_literals),
	    cmocka_unit_test(test_doc_rejects_strings),
	    cmocka_unit_test(test_doc_rejects_deep_nesting),
	    cmocka_unit_test(test_doc_too_many_tokens),
	    cmocka_unit_test(test_doc_line_too_long),
	    cmocka_unit_test(test_doc_arena_bounded),
	    cmocka_unit_test(test_codec_round_trip),
	    cmocka_unit_test(test_codec_malformed),
	    cmocka_unit_test(test_codec_output_cap),
	    cmocka_unit_test(test_codec_concatenated),
	    cmocka_unit_test_setup_teardown(test_batch_lines_and_duplicates, ing_setup,
					    ing_teardown),
	    cmocka_unit_test_setup_teardown(test_batch_identity_crlf_blank, ing_setup,
					    ing_teardown),
	    cmocka_unit_test_setup_teardown(test_batch_no_valid_lines, ing_setup, ing_teardown),
	    cmocka_unit_test_setup_teardown(test_batch_time_window, ing_setup, ing_teardown),
	    cmocka_unit_test_setup_teardown(test_batch_alert_summaries, ing_setup, ing_teardown),
	    cmocka_unit_test_setup_teardown(test_batch_bad_frames, ing_setup, ing_teardown),
	    cmocka_unit_test(test_support),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
