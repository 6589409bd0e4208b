/* The detection document's adapters: ECS JSON (flattening, escapes, arrays, limits, malformed
 * input), raw auditd lines (hex, enriched format, syscall names, msg='...') and struct event
 * (values, and the same document as the JSON round trip for every action). */
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

#include "detect_doc.h"
#include "detect_doc_auditd.h"
#include "detect_doc_event.h"
#include "detect_doc_json.h"
#include "detect_fields.h"
#include "dynbuf.h"
#include "event.h"
#include "event_json.h"

static struct detect_fields *fields;
static struct detect_doc *doc;
static char err[128];

static const char *const rule_fields[] = {
    "process.pid",
    "process.name",
    "process.args",
    "process.parent.executable",
    "process.Ext.setuid",
    "process.Ext.memfd",
    "file.path",
    "user.name",
    "user.id",
    "obj.list.name",
    "obj.list.v",
    "dotted.x.y.z",
    "neg",
    "s",
    "process.command_line",
    "dns.question.name",
    "big",
    "big2",
    /* auditd */
    "type",
    "node",
    "argc",
    "a0",
    "a1",
    "a2",
    "a3",
    "a1[0]",
    "a1_len",
    "arch",
    "syscall",
    "SYSCALL",
    "exe",
    "comm",
    "key",
    "proctitle",
    "name",
    "nametype",
    "cwd",
    "unit",
    "cmd",
    "msg",
    "res",
    "euid",
    "AUID",
    "UID",
    "ARCH",
    "data",
    "success",
};

static int setup(void **state)
{
	(void)state;
	fields = detect_fields_new();
	assert_non_null(fields);
	for (size_t i = 0; i < sizeof(rule_fields) / sizeof(rule_fields[0]); i++)
		assert_int_not_equal(
		    detect_fields_intern(fields, rule_fields[i], strlen(rule_fields[i])),
		    DETECT_FIELD_NONE);
	/* Every field struct event has, for the round trip. */
	for (unsigned f = 0; f < EVF_COUNT; f++) {
		const char *n = event_field_table[f].name;

		assert_int_not_equal(detect_fields_intern(fields, n, strlen(n)), DETECT_FIELD_NONE);
	}
	doc = detect_doc_new(fields);
	assert_non_null(doc);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	detect_doc_free(doc);
	detect_fields_free(fields);
	return 0;
}

/* The values of name in d joined with '|' ("" when none); NULL name means DETECT_FIELD_OTHER. */
static const char *vals(const struct detect_doc *d, const char *name)
{
	static char buf[2][8192];
	static int which;
	char *b = buf[which ^= 1];
	size_t n = 0;
	uint32_t id = name ? detect_doc_field(d, name, strlen(name)) : DETECT_FIELD_OTHER;

	b[0] = '\0';
	for (const struct detect_value *v = detect_doc_first(d, id); v; v = detect_doc_next(d, v)) {
		n += (size_t)snprintf(b + n, sizeof(buf[0]) - n, "%s%.*s", n ? "|" : "",
				      (int)v->len, v->str);
		assert_true(n < sizeof(buf[0]));
	}
	return b;
}

static const char *cats(const struct detect_doc *d)
{
	static char buf[256];
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned k = 0; k < d->src.ncategory; k++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", k ? "," : "",
				      d->src.category[k]);
	return buf;
}

static int json(const char *js)
{
	return detect_doc_from_json(doc, js, strlen(js), err, sizeof(err));
}

/* ---- JSON ---- */

static void test_json_flatten(void **state)
{
	const char *js =
	    "{\"@timestamp\":\"2026-11-21T10:00:00.5Z\",\"event\":{\"category\":[\"process\"],"
	    "\"type\":[\"start\"],\"action\":\"exec\",\"module\":\"mamori\"},"
	    "\"process\":{\"pid\":100,\"args\":[\"curl\",\"-s\",\"x\"],\"parent\":{"
	    "\"executable\":\"/bin/bash\",\"pid\":99},\"Ext\":{\"setuid\":true,\"memfd\":false}},"
	    "\"file.path\":\"/tmp/a\",\"user\":{\"name\":null,\"id\":\"0\"},"
	    "\"obj\":{\"list\":[{\"name\":\"a\",\"v\":[1,[2,3]]},{\"name\":\"b\",\"v\":null}]},"
	    "\"dotted\":{\"x.y\":{\"z\":\"deep\"}},\"empty\":{},\"emptyarr\":[],\"neg\":-1.5e3,"
	    "\"unknown\":\"dropped\"}";
	const struct detect_value *v;

	(void)state;
	assert_int_equal(json(js), 0);
	assert_string_equal(err, "");
	assert_string_equal(vals(doc, "event.action"), "exec");
	assert_string_equal(vals(doc, "event.category"), "process");
	assert_string_equal(vals(doc, "process.pid"), "100");
	assert_string_equal(vals(doc, "process.args"), "curl|-s|x");
	assert_string_equal(vals(doc, "process.parent.executable"), "/bin/bash");
	assert_string_equal(vals(doc, "process.Ext.setuid"), "true");
	assert_string_equal(vals(doc, "process.Ext.memfd"), "false");
	assert_string_equal(vals(doc, "file.path"), "/tmp/a");
	assert_string_equal(vals(doc, "user.name"), "");
	assert_string_equal(vals(doc, "user.id"), "0");
	assert_string_equal(vals(doc, "obj.list.name"), "a|b");
	assert_string_equal(vals(doc, "obj.list.v"), "1|2|3");
	assert_string_equal(vals(doc, "dotted.x.y.z"), "deep");
	assert_string_equal(vals(doc, "neg"), "-1.5e3");
	assert_string_equal(vals(doc, NULL), "");
	/* Unescaped strings are borrowed from the input, not copied. */
	v = detect_doc_first(doc, detect_doc_field(doc, "file.path", 9));
	assert_true(v->str > js && v->str < js + strlen(js));
	assert_int_equal(doc->arena_used, 0);
	assert_int_equal(doc->time_ns, 1795255200500000000ull);
	assert_string_equal(doc->src.product, "linux");
	assert_string_equal(cats(doc), "process_creation");
	assert_int_equal(doc->overflow, 0);

	/* keep_other: every value of an unknown field, numbers included, under OTHER. */
	detect_fields_set_keep_other(fields, true);
	assert_int_equal(json("{\"unknown\":\"a\",\"deep\":{\"er\":[1,null,\"b\"]},\"s\":\"k\"}"),
			 0);
	assert_string_equal(vals(doc, NULL), "a|1|b");
	assert_string_equal(vals(doc, "s"), "k");
	detect_fields_set_keep_other(fields, false);
	/* Without @timestamp or with a bad one, time stays 0. */
	assert_int_equal(json("{\"@timestamp\":\"yesterday\",\"event\":{\"action\":\"rename\"}}"),
			 0);
	assert_int_equal(doc->time_ns, 0);
	assert_string_equal(cats(doc), "file_event,file_rename");
}

/* The reader remembers field ids by name per thread: a second table, one that grows, and one
 * made where a freed one was must each get their own ids. */
static void test_json_name_cache(void **state)
{
	const char *js = "{\"process\":{\"executable\":\"/bin/a\",\"command_line\":\"a b\"}}";
	struct detect_fields *a = detect_fields_new(), *b;
	struct detect_doc *da, *db;

	(void)state;
	assert_non_null(a);
	uint32_t exe_a = detect_fields_intern(a, "process.executable", 18);
	da = detect_doc_new(a);
	assert_int_equal(detect_doc_from_json(da, js, strlen(js), err, sizeof(err)), 0);
	assert_non_null(detect_doc_first(da, exe_a));
	assert_null(detect_doc_first(da, detect_doc_field(da, "process.command_line", 20)));

	/* Another table where the same name has another id, and the other name is known. */
	b = detect_fields_new();
	assert_non_null(b);
	uint32_t cmd_b = detect_fields_intern(b, "process.command_line", 20);
	uint32_t exe_b = detect_fields_intern(b, "process.executable", 18);
	assert_int_not_equal(exe_a, exe_b);
	db = detect_doc_new(b);
	assert_int_equal(detect_doc_from_json(db, js, strlen(js), err, sizeof(err)), 0);
	assert_string_equal(detect_doc_first(db, cmd_b)->str, "a b\"}}");
	assert_int_equal(detect_doc_first(db, exe_b)->len, 6);
	assert_int_equal(db->nvalues, 2);
	detect_doc_free(db);
	detect_fields_free(b);

	/* The first table again, after it learnt the other name: a doc made since sees it. */
	assert_int_equal(detect_doc_from_json(da, js, strlen(js), err, sizeof(err)), 0);
	assert_int_equal(da->nvalues, 1);
	uint32_t cmd_a = detect_fields_intern(a, "process.command_line", 20);
	detect_doc_free(da);
	da = detect_doc_new(a);
	assert_int_equal(detect_doc_from_json(da, js, strlen(js), err, sizeof(err)), 0);
	assert_int_equal(da->nvalues, 2);
	assert_non_null(detect_doc_first(da, cmd_a));
	detect_doc_free(da);
	detect_fields_free(a);

	/* A table made after both were freed (perhaps at the same address), with one name only. */
	b = detect_fields_new();
	assert_non_null(b);
	uint32_t only = detect_fields_intern(b, "process.command_line", 20);
	db = detect_doc_new(b);
	assert_int_equal(detect_doc_from_json(db, js, strlen(js), err, sizeof(err)), 0);
	assert_int_equal(db->nvalues, 1);
	assert_non_null(detect_doc_first(db, only));
	detect_doc_free(db);
	detect_fields_free(b);
}

static void test_json_escapes(void **state)
{
	const struct detect_value *v;

	(void)state;
	assert_int_equal(json("{\"s\":\"a\\\"b\\\\c\\/d\\n\\t\\b\\f\\r\"}"), 0);
	assert_string_equal(vals(doc, "s"), "a\"b\\c/d\n\t\b\f\r");
	v = detect_doc_first(doc, detect_doc_field(doc, "s", 1));
	assert_true(v->str >= doc->arena && v->str < doc->arena + DETECT_DOC_ARENA);

	/* BMP, a surrogate pair, a lone high and a lone low surrogate, a high one before a BMP one.
	 */
	assert_int_equal(json("{\"s\":[\"\\u00e9\\u20AC\",\"\\ud83d\\ude00!\",\"\\ud800x\","
			      "\"\\udc00\",\"\\ud83d\\u0041\"]}"),
			 0);
	assert_string_equal(vals(doc, "s"), "\xc3\xa9\xe2\x82\xac|\xf0\x9f\x98\x80!|\xef\xbf\xbdx|"
					    "\xef\xbf\xbd|\xef\xbf\xbd"
					    "A");
	/* \u0000 stays a NUL byte: values are counted, not NUL-terminated, and Sigma's utf16
	 * modifiers look for NULs. */
	assert_int_equal(json("{\"s\":\"a\\u0000b\"}"), 0);
	v = detect_doc_first(doc, detect_doc_field(doc, "s", 1));
	assert_int_equal(v->len, 3);
	assert_memory_equal(v->str, "a\0b", 3);
	/* Escaped keys name the same field. */
	assert_int_equal(
	    json("{\"pro\\u0063ess\":{\"n\\u0061me\":\"x\"},\"file\\u002epath\":\"y\"}"), 0);
	assert_string_equal(vals(doc, "process.name"), "x");
	assert_string_equal(vals(doc, "file.path"), "y");
	/* Raw UTF-8 (even invalid) passes through as bytes. */
	assert_int_equal(json("{\"s\":\"caf\xc3\xa9 \xff\"}"), 0);
	assert_string_equal(vals(doc, "s"), "caf\xc3\xa9 \xff");
}

static void test_json_names(void **state)
{
	char js[4096], key[300];
	size_t n;

	(void)state;
	detect_fields_set_keep_other(fields, true);
	/* "a" x 250 + ".bbb.c" = 256 bytes: kept; one byte more: skipped with its subtree. */
	memset(key, 'a', 250);
	key[250] = '\0';
	snprintf(js, sizeof(js),
		 "{\"%s\":{\"bbbb\":{\"c\":\"257\"}},\"%s\":{\"bbb\":{\"c\":\"256\"}},"
		 "\"s\":\"after\"}",
		 key, key);
	assert_int_equal(json(js), 0);
	assert_string_equal(vals(doc, NULL), "256");
	assert_string_equal(vals(doc, "s"), "after");
	/* Escaped keys: too long raw (skipped), short (kept). */
	n = (size_t)snprintf(js, sizeof(js), "{\"");
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(js + n, sizeof(js) - n, "\\u0061");
	snprintf(js + n, sizeof(js) - n, "\":\"long\",\"\\u0061\\u0062\":\"ab\"}");
	assert_int_equal(json(js), 0);
	assert_string_equal(vals(doc, NULL), "ab");
	/* Deep nesting is walked to a limit, then skipped; the rest of the object still counts. */
	n = (size_t)snprintf(js, sizeof(js), "{");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(js + n, sizeof(js) - n, "\"d\":{");
	n += (size_t)snprintf(js + n, sizeof(js) - n, "\"x\":1");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(js + n, sizeof(js) - n, "}");
	snprintf(js + n, sizeof(js) - n, ",\"s\":\"tail\",\"e\":{\"\":\"emptykey\"}}");
	assert_int_equal(json(js), 0);
	assert_string_equal(vals(doc, NULL), "emptykey");
	assert_string_equal(vals(doc, "s"), "tail");
	detect_fields_set_keep_other(fields, false);
}

static void expect_json_error(const char *js, int rc, const char *what)
{
	int got = json(js);

	if (got != rc || !strstr(err, what))
		fail_msg("input '%s': got %d '%s', want %d '%s'", js, got, err, rc, what);
	assert_int_equal(doc->nvalues, 0);
	assert_null(detect_doc_first(doc, DETECT_FIELD_EVENT_ACTION));
}

static void test_json_malformed(void **state)
{
	(void)state;
	/* A valid doc first: errors must leave the doc empty, not holding the last event. */
	assert_int_equal(json("{\"event\":{\"action\":\"exec\"}}"), 0);
	expect_json_error("", -EINVAL, "not a JSON object");
	expect_json_error("   ", -EINVAL, "not a JSON object");
	expect_json_error("[1,2]", -EINVAL, "not a JSON object");
	expect_json_error("\"str\"", -EINVAL, "not a JSON object");
	expect_json_error("{\"event\":{\"action\":\"exec\"}", -EINVAL, "truncated");
	expect_json_error("{\"event\":{\"action\":\"exec\"}} x", -EINVAL, "");
	expect_json_error("{\"a\":1}{}", -EINVAL, "trailing");
	expect_json_error("{\"a\":\"\\q\"}", -EINVAL, "malformed");
	expect_json_error("{\"a\":\"\\u12G4\"}", -EINVAL, "malformed");
	expect_json_error("{1:2}", -EINVAL, "malformed");
	expect_json_error("{\"a\":wat}", -EINVAL, "malformed");
	expect_json_error("{\"a\"}", -EINVAL, "malformed");
	expect_json_error("{\"a\":[1,2}", -EINVAL, "malformed");
	/* Numbers and words follow JSON's grammar. */
	expect_json_error("{\"a\":44e}", -EINVAL, "malformed");
	expect_json_error("{\"a\":0dash}", -EINVAL, "malformed");
	expect_json_error("{\"a\":01}", -EINVAL, "malformed");
	expect_json_error("{\"a\":1.}", -EINVAL, "malformed");
	expect_json_error("{\"a\":-}", -EINVAL, "malformed");
	expect_json_error("{\"a\":tru}", -EINVAL, "malformed");
	expect_json_error("{\"a\":nulls}", -EINVAL, "malformed");
	expect_json_error("{\"a\":-0.5E+3", -EINVAL, "truncated");
	assert_int_equal(json("{\"a\":[-0.5E+3,0,1e-2,true,false,null]}"), 0);
	{
		/* Embedded NUL in the middle: jsmn stops there. */
		static const char nul[] = "{\"a\":\"x\0y\"}";

		static const char after[] = "{\"a\":1}\0{}";

		assert_true(detect_doc_from_json(doc, nul, sizeof(nul) - 1, err, sizeof(err)) < 0);
		assert_int_equal(
		    detect_doc_from_json(doc, after, sizeof(after) - 1, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "trailing"));
	}
	{
		/* The text stops at its first NUL wherever it is: inside a string (short, or past
		 * the first sixteen bytes), a key, an escape, a number or a word, the parse sees
		 * the text end there. */
		static const struct {
			const char *s;
			size_t len;
		} cut[] = {
#define CUT(lit) {lit, sizeof(lit) - 1}
		    CUT("{\"s\":\"0123456789abcdefghij\0klm\"}"),
		    CUT("{\"s\":\"0123456789abcdefghij\\n\0\"}"),
		    CUT("{\"s\0\":1}"),
		    CUT("{\"s\":\"\\\0\"}"),
		    CUT("{\"s\":\"\\u00\0\"}"),
		    CUT("{\"s\":12\0}"),
		    CUT("{\"s\":tr\0ue}"),
		    CUT("{\"s\":\0\"x\"}"),
		    /* with sixteen bytes or more left: the block searches must stop at the NUL */
		    CUT("{\"s\":\"ab\0cdefghijklmnopq\"}"),
		    CUT("{\"s\":\"\\nab\0cdefghijklmnopqrst\"}"),
#undef CUT
		};
		for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
			int rc = detect_doc_from_json(doc, cut[i].s, cut[i].len, err, sizeof(err));
			if (rc != -EINVAL || !strstr(err, "truncated"))
				fail_msg("case %zu: got %d '%s', want truncated", i, rc, err);
			assert_int_equal(doc->nvalues, 0);
		}
	}
	/* err may be NULL. */
	assert_int_equal(detect_doc_from_json(doc, "[", 1, NULL, 0), -EINVAL);
}

/* Strings of every length around the sixteen-byte blocks the parser reads, with the closing
 * quote, an escape or a lone backslash-quote at every position. */
static void test_json_string_blocks(void **state)
{
	char js[256], want[128];

	(void)state;
	for (int len = 0; len <= 48; len++) {
		for (int at = -1; at < len; at++) {
			int n = snprintf(js, sizeof(js), "{\"s\":\""), w = 0;
			for (int k = 0; k < len; k++) {
				if (k == at) {
					n += snprintf(js + n, sizeof(js) - (size_t)n, "\\\"");
					want[w++] = '"';
				} else {
					js[n++] = (char)('a' + k % 26);
					want[w++] = (char)('a' + k % 26);
				}
			}
			want[w] = '\0';
			snprintf(js + n, sizeof(js) - (size_t)n, "\",\"user\":{\"name\":\"u\"}}");
			if (json(js) != 0)
				fail_msg("'%s': %s", js, err);
			assert_string_equal(vals(doc, "s"), want);
			assert_string_equal(vals(doc, "user.name"), "u");
		}
	}
}

static void test_json_limits(void **state)
{
	size_t cap = DETECT_DOC_JSON_MAX_LEN + 64, n;
	char *js = malloc(cap);

	(void)state;
	assert_non_null(js);
	/* Token flood. */
	n = (size_t)snprintf(js, cap, "{\"s\":[");
	for (int i = 0; i < DETECT_DOC_JSON_MAX_TOKENS + 10; i++)
		n += (size_t)snprintf(js + n, cap - n, "%s1", i ? "," : "");
	snprintf(js + n, cap - n, "]}");
	expect_json_error(js, -E2BIG, "tokens");

	/* Too long. */
	memset(js, ' ', DETECT_DOC_JSON_MAX_LEN + 1);
	js[0] = '{';
	js[DETECT_DOC_JSON_MAX_LEN - 1] = '}';
	js[DETECT_DOC_JSON_MAX_LEN + 1] = '\0';
	expect_json_error(js, -E2BIG, "too long");
	js[DETECT_DOC_JSON_MAX_LEN] = '\0';
	assert_int_equal(json(js), 0);

	/* More values than the doc holds: counted, the event is still usable. */
	n = (size_t)snprintf(js, cap, "{\"event\":{\"action\":\"exec\"},\"s\":[");
	for (int i = 0; i < 600; i++)
		n += (size_t)snprintf(js + n, cap - n, "%s\"v%d\"", i ? "," : "", i);
	snprintf(js + n, cap - n, "]}");
	assert_int_equal(json(js), 0);
	assert_int_equal(doc->nvalues, DETECT_DOC_MAX_VALUES);
	assert_int_equal(doc->overflow, 600 + 1 - DETECT_DOC_MAX_VALUES);
	assert_string_equal(cats(doc), "process_creation");

	/* Escaped strings beyond the arena: counted, borrowed ones still fit. */
	n = (size_t)snprintf(js, cap, "{\"big\":\"");
	for (int i = 0; i < 150000; i++)
		n += (size_t)snprintf(js + n, cap - n, "\\n");
	n += (size_t)snprintf(js + n, cap - n, "\",\"big2\":\"");
	for (int i = 0; i < 150000; i++)
		n += (size_t)snprintf(js + n, cap - n, "\\t");
	snprintf(js + n, cap - n, "\",\"s\":\"small\"}");
	assert_int_equal(json(js), 0);
	{
		const struct detect_value *v =
		    detect_doc_first(doc, detect_doc_field(doc, "big", 3));

		assert_non_null(v);
		assert_int_equal(v->len, 150000);
		assert_true(v->str[0] == '\n' && v->str[149999] == '\n' && v->str[150000] == '\0');
		assert_null(detect_doc_next(doc, v));
	}
	assert_string_equal(vals(doc, "big2"), "");
	assert_string_equal(vals(doc, "s"), "small");
	assert_int_equal(doc->overflow, 1);
	free(js);
}

/* ---- auditd ---- */

static int audit(const char *line)
{
	return detect_doc_from_auditd(doc, line, strlen(line), err, sizeof(err));
}

static void test_auditd_execve(void **state)
{
	(void)state;
	assert_int_equal(audit("type=EXECVE msg=audit(1700000000.123:456): argc=3 a0=\"ls\" "
			       "a1=2D6C61 a2=2F746D702F6120622063\n"),
			 0);
	assert_string_equal(vals(doc, "type"), "EXECVE");
	assert_string_equal(vals(doc, "argc"), "3");
	assert_string_equal(vals(doc, "a0"), "ls");
	assert_string_equal(vals(doc, "a1"), "-la");
	assert_string_equal(vals(doc, "a2"), "/tmp/a b c");
	assert_int_equal(doc->time_ns, 1700000000123000000ull);
	assert_string_equal(doc->src.product, "linux");
	assert_string_equal(doc->src.service, "auditd");
	assert_int_equal(doc->src.ncategory, 0);

	/* Chunked arguments keep their keys; odd-length or non-hex bare values stay as written. */
	assert_int_equal(audit("type=EXECVE msg=audit(1731974401.020:8813): argc=2 a0=\"python3\" "
			       "a1_len=12 a1[0]=7072696E7428 a1[1]=2731272920"),
			 0);
	assert_string_equal(vals(doc, "a1_len"), "12");
	assert_string_equal(vals(doc, "a1[0]"), "print(");
	/* The kernel's netlink form has no type=: no type field, and a0.. are not known to be
	 * argument strings. */
	assert_int_equal(audit("audit(1731974400.512:8812): argc=2 a0=\"curl\" a1=2D73"), 0);
	assert_string_equal(vals(doc, "type"), "");
	assert_string_equal(vals(doc, "a1"), "2D73");
	assert_int_equal(audit("type=EXECVE msg=audit(1.5:1): argc=2 a0=ABC a1=zz"), 0);
	assert_string_equal(vals(doc, "a0"), "ABC");
	assert_string_equal(vals(doc, "a1"), "zz");
	assert_int_equal(doc->time_ns, 1500000000ull);
}

static void test_auditd_syscall(void **state)
{
	(void)state;
	/* Raw format: SYSCALL comes from arch + syscall; a0 in SYSCALL records is a number. */
	assert_int_equal(
	    audit("node=web-2 type=SYSCALL msg=audit(1731974410.003:9001): arch=c000003e "
		  "syscall=101 success=yes exit=0 a0=4206 a1=1a2b a2=0 a3=0 items=0 ppid=1 "
		  "pid=5120 auid=4294967295 uid=0 euid=0 tty=(none) ses=4294967295 "
		  "comm=6D7920746F6F6C exe=\"/opt/x/bin/tool\" key=(null)"),
	    0);
	assert_string_equal(vals(doc, "node"), "web-2");
	assert_string_equal(vals(doc, "type"), "SYSCALL");
	assert_string_equal(vals(doc, "syscall"), "101");
	assert_string_equal(vals(doc, "SYSCALL"), "ptrace");
	assert_string_equal(vals(doc, "a0"), "4206");
	assert_string_equal(vals(doc, "comm"), "my tool");
	assert_string_equal(vals(doc, "exe"), "/opt/x/bin/tool");
	assert_string_equal(vals(doc, "key"), "(null)");
	assert_string_equal(vals(doc, "euid"), "0");
	assert_string_equal(vals(doc, "success"), "yes");

	/* Enriched format: the translation after 0x1d is kept and not duplicated. */
	assert_int_equal(
	    audit("type=SYSCALL msg=audit(1731974400.512:8812): arch=c000003e syscall=59 "
		  "success=yes exit=0 a0=5611f2a8c0a0 a1=5611f2a8c2e8 items=2 ppid=4410 pid=4475 "
		  "auid=1000 uid=1000 euid=33 comm=\"curl\" exe=\"/usr/bin/curl\" key=\"exec\""
		  "\x1d"
		  "ARCH=x86_64 SYSCALL=execve AUID=\"dev\" UID=\"dev\" EUID=\"www-data\""),
	    0);
	assert_string_equal(vals(doc, "SYSCALL"), "execve");
	assert_string_equal(vals(doc, "ARCH"), "x86_64");
	assert_string_equal(vals(doc, "AUID"), "dev");
	assert_string_equal(vals(doc, "UID"), "dev");
	assert_string_equal(vals(doc, "euid"), "33");
	assert_string_equal(vals(doc, "key"), "exec");
	assert_string_equal(vals(doc, "a0"), "5611f2a8c0a0");

	/* No name for other architectures or unknown numbers. */
	assert_int_equal(audit("type=SYSCALL msg=audit(1.1:2): arch=40000003 syscall=11 a0=0"), 0);
	assert_string_equal(vals(doc, "SYSCALL"), "");
	assert_int_equal(audit("type=SYSCALL msg=audit(1.1:2): arch=c000003e syscall=999"), 0);
	assert_string_equal(vals(doc, "SYSCALL"), "");
	assert_int_equal(audit("type=SYSCALL msg=audit(1.1:2): arch=c000003e syscall=x"), 0);
	assert_string_equal(vals(doc, "SYSCALL"), "");
	assert_int_equal(audit("type=SYSCALL msg=audit(1.1:2): arch=c000003e syscall=319"), 0);
	assert_string_equal(vals(doc, "SYSCALL"), "memfd_create");
	assert_int_equal(audit("type=SYSCALL msg=audit(1.1:2): syscall=0 arch=c000003e"), 0);
	assert_string_equal(vals(doc, "SYSCALL"), "read");
}

static void test_auditd_strings(void **state)
{
	(void)state;
	/* proctitle: NUL separators become spaces. */
	assert_int_equal(audit("type=PROCTITLE msg=audit(1731974400.512:8812): proctitle=6375726C00"
			       "2D730068747470733A2F2F6578616D706C652E636F6D"),
			 0);
	assert_string_equal(vals(doc, "type"), "PROCTITLE");
	assert_string_equal(vals(doc, "proctitle"), "curl -s https://example.com");
	/* PATH: quoted, hex (a space in the name) and absent names. */
	assert_int_equal(
	    audit("type=PATH msg=audit(1731974400.512:8812): item=0 name=\"/etc/passwd\" "
		  "inode=1835122 dev=08:01 mode=0100644 nametype=NORMAL"),
	    0);
	assert_string_equal(vals(doc, "name"), "/etc/passwd");
	assert_string_equal(vals(doc, "nametype"), "NORMAL");
	assert_int_equal(audit("type=PATH msg=audit(1.1:1): item=1 name=2F746D702F6D792066696C65 "
			       "nametype=CREATE"),
			 0);
	assert_string_equal(vals(doc, "name"), "/tmp/my file");
	assert_int_equal(audit("type=PATH msg=audit(1.1:1): item=1 name=(null) nametype=UNKNOWN"),
			 0);
	assert_string_equal(vals(doc, "name"), "(null)");
	/* A key holding several rule keys (0x01-separated) gives one value each. */
	assert_int_equal(audit("type=SYSCALL msg=audit(1.1:1): key=6B657931016B657932"), 0);
	assert_string_equal(vals(doc, "key"), "key1|key2");
	assert_int_equal(audit("type=CWD msg=audit(1.1:1): cwd=\"/home/dev\""), 0);
	assert_string_equal(vals(doc, "cwd"), "/home/dev");
	/* User-space records: the fields inside msg='...'. */
	assert_int_equal(
	    audit("type=SERVICE_STOP msg=audit(1700000100.000:77): pid=1 uid=0 "
		  "auid=4294967295 ses=4294967295 subj=unconfined msg='unit=firewalld "
		  "comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? "
		  "terminal=? res=success'"),
	    0);
	assert_string_equal(vals(doc, "type"), "SERVICE_STOP");
	assert_string_equal(vals(doc, "unit"), "firewalld");
	assert_string_equal(vals(doc, "comm"), "systemd");
	assert_string_equal(vals(doc, "res"), "success");
	assert_int_equal(audit("type=USER_CMD msg=audit(1700000200.5:90): pid=4242 uid=1000 "
			       "auid=1000 ses=3 msg='cwd=\"/home/dev\" cmd=7375646F202D69 "
			       "exe=\"/usr/bin/sudo\" terminal=pts/0 res=success'"),
			 0);
	assert_string_equal(vals(doc, "cmd"), "sudo -i");
	assert_string_equal(vals(doc, "cwd"), "/home/dev");
	/* Unterminated quotes run to the end of the line: still usable. */
	assert_int_equal(audit("type=SYSCALL msg=audit(1.1:1): comm=\"su\" exe=\"/bin/su"), 0);
	assert_string_equal(vals(doc, "exe"), "/bin/su");
	/* keep_other: fields no rule names. */
	detect_fields_set_keep_other(fields, true);
	assert_int_equal(audit("type=PATH msg=audit(1.1:1): item=0 ouid=0 name=\"/x\""), 0);
	assert_string_equal(vals(doc, NULL), "0|0");
	detect_fields_set_keep_other(fields, false);
}

static void test_auditd_malformed(void **state)
{
	char *big;

	(void)state;
	assert_int_equal(audit("type=EXECVE msg=audit(1.1:1): a0=\"x\""), 0);
	assert_int_equal(audit(""), -EINVAL);
	assert_int_equal(doc->nvalues, 0);
	assert_non_null(strstr(err, "prefix"));
	assert_int_equal(audit("hello world"), -EINVAL);
	assert_int_equal(audit("type=SYSCALL msg=audit(abc): a0=1"), -EINVAL);
	assert_int_equal(audit("type=SYSCALL msg=audit(1.1): a0=1"), -EINVAL);
	assert_int_equal(detect_doc_from_auditd(doc, "x", 1, NULL, 0), -EINVAL);
	big = malloc(70000);
	assert_non_null(big);
	memset(big, 'a', 70000);
	memcpy(big, "type=EXECVE msg=audit(1.1:1): a0=", 33);
	assert_int_equal(detect_doc_from_auditd(doc, big, 70000, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "too long"));
	free(big);
	/* No fields at all is fine. */
	assert_int_equal(audit("type=EOE msg=audit(1731974400.512:8812): "), 0);
	assert_string_equal(vals(doc, "type"), "EOE");
}

/* ---- struct event ---- */

static void fill_event(struct event *e, enum event_action a)
{
	event_reset(e);
	e->action = a;
	e->timestamp_ns = 1763766740123456789ull;
	event_mark(e, EVF_TIMESTAMP);
	e->sequence = 18446744073709551615ull;
	event_mark(e, EVF_EVENT_SEQUENCE);
	event_copy_str(e->host_name, sizeof(e->host_name), "web-1", 5);
	e->process.pid = 4242;
	event_mark(e, EVF_PROCESS_PID);
	event_copy_str(e->process.entity_id, sizeof(e->process.entity_id),
		       "0123456789abcdef0123456789abcdef", 32);
	event_copy_str(e->process.executable, sizeof(e->process.executable), "/usr/bin/id", 11);
	event_copy_str(e->process.name, sizeof(e->process.name), "id", 2);
	event_list_add(e->process.args, sizeof(e->process.args), &e->process.args_len, "id", 2);
	event_list_add(e->process.args, sizeof(e->process.args), &e->process.args_len, "-u", 2);
	event_list_add(e->process.args, sizeof(e->process.args), &e->process.args_len,
		       "a \"q\" \\ \xc3\xa9", 10);
	e->process.args_count = 3;
	event_mark(e, EVF_PROCESS_ARGS_COUNT);
	event_build_command_line(e);
	e->process.exit_code = -3;
	event_mark(e, EVF_PROCESS_EXIT_CODE);
	e->process.start_ns = 1763766700000000000ull;
	event_mark(e, EVF_PROCESS_START);
	e->process.parent.pid = 1;
	event_mark(e, EVF_PROCESS_PARENT_PID);
	event_copy_str(e->process.parent.name, sizeof(e->process.parent.name), "bash", 4);
	e->process.euid = 0;
	event_mark(e, EVF_USER_ID);
	event_mark(e, EVF_PROCESS_USER_ID);
	e->process.uid = 1000;
	event_mark(e, EVF_PROCESS_REAL_USER_ID);
	e->process.setuid = true;
	event_mark(e, EVF_PROCESS_EXT_SETUID);
	e->process.memfd = false;
	event_mark(e, EVF_PROCESS_EXT_MEMFD);
	e->file.mode = 04755;
	event_mark(e, EVF_FILE_MODE);
	e->file.inode = 1835122;
	event_mark(e, EVF_FILE_INODE);
	event_copy_str(e->file.path, sizeof(e->file.path), "/etc/cron.d/job", 15);
	event_copy_str(e->destination.ip, sizeof(e->destination.ip), "203.0.113.7", 11);
	e->destination.port = 4444;
	event_mark(e, EVF_DESTINATION_PORT);
	event_copy_str(e->dns_question_name, sizeof(e->dns_question_name), "example.com", 11);
	event_list_add(e->tags, sizeof(e->tags), &e->tags_len, "t1", 2);
	event_list_add(e->tags, sizeof(e->tags), &e->tags_len, "t2", 2);
}

static void test_event_values(void **state)
{
	struct detect_event_map *map = detect_event_map_new(fields);
	struct event *e = calloc(1, sizeof(*e));

	(void)state;
	assert_non_null(map);
	fill_event(e, EVENT_ACTION_EXEC);
	assert_int_equal(detect_doc_from_event(doc, map, e), 0);
	assert_string_equal(vals(doc, "@timestamp"), "2025-11-21T23:12:20.123456789Z");
	assert_string_equal(vals(doc, "event.kind"), "event");
	assert_string_equal(vals(doc, "event.category"), "process");
	assert_string_equal(vals(doc, "event.type"), "start");
	assert_string_equal(vals(doc, "event.action"), "exec");
	assert_string_equal(vals(doc, "event.sequence"), "18446744073709551615");
	assert_string_equal(vals(doc, "process.pid"), "4242");
	assert_string_equal(vals(doc, "process.args"), "id|-u|a \"q\" \\ \xc3\xa9");
	assert_string_equal(vals(doc, "process.command_line"), "id -u a \"q\" \\ \xc3\xa9");
	assert_string_equal(vals(doc, "process.exit_code"), "-3");
	assert_string_equal(vals(doc, "process.parent.pid"), "1");
	assert_string_equal(vals(doc, "user.id"), "0");
	assert_string_equal(vals(doc, "process.real_user.id"), "1000");
	assert_string_equal(vals(doc, "process.Ext.setuid"), "true");
	assert_string_equal(vals(doc, "process.Ext.memfd"), "false");
	assert_string_equal(vals(doc, "file.mode"), "4755");
	assert_string_equal(vals(doc, "tags"), "t1|t2");
	assert_string_equal(vals(doc, "process.thread.id"), ""); /* absent */
	assert_string_equal(vals(doc, "process.working_directory"), "");
	assert_int_equal(doc->time_ns, 1763766740123456789ull);
	assert_string_equal(doc->src.product, "linux");
	assert_string_equal(cats(doc), "process_creation");

	e->action = EVENT_ACTION_AGENT_DROPS;
	assert_int_equal(detect_doc_from_event(doc, map, e), 0);
	assert_string_equal(vals(doc, "event.kind"), "metric");
	assert_string_equal(vals(doc, "event.category"), "host");
	assert_int_equal(doc->src.ncategory, 0);
	e->process.exit_code = INT32_MIN;
	assert_int_equal(detect_doc_from_event(doc, map, e), 0);
	assert_string_equal(vals(doc, "process.exit_code"), "-2147483648");

	/* A table without most fields: only known ones are filled, the rest go to OTHER only
	 * under keep_other; a map of another table is refused. */
	{
		struct detect_fields *small = detect_fields_new();
		struct detect_doc *d2;
		struct detect_event_map *m2;

		detect_fields_intern(small, "process.name", 12);
		d2 = detect_doc_new(small);
		m2 = detect_event_map_new(small);
		assert_non_null(d2);
		assert_non_null(m2);
		assert_int_equal(detect_doc_from_event(d2, map, e), -EINVAL);
		assert_int_equal(detect_doc_from_event(d2, m2, e), 0);
		/* process.name plus the always-present event.* fields. */
		assert_string_equal(vals(d2, "process.name"), "id");
		assert_string_equal(vals(d2, NULL), "");
		detect_fields_set_keep_other(small, true);
		assert_int_equal(detect_doc_from_event(d2, m2, e), 0);
		assert_string_equal(vals(d2, "process.name"), "id");
		assert_non_null(strstr(vals(d2, NULL), "web-1|4242|"));
		detect_event_map_free(m2);
		detect_doc_free(d2);
		detect_fields_free(small);
	}
	detect_event_map_free(map);
	detect_event_map_free(NULL);
	free(e);
}

/* struct event -> doc must equal struct event -> JSON -> doc, field by field, for every action
 * (so derived event.type/category and number rendering agree with the JSON encoder). */
static void test_event_json_round_trip(void **state)
{
	struct detect_event_map *map = detect_event_map_new(fields);
	struct detect_doc *dj = detect_doc_new(fields);
	struct event *e = calloc(1, sizeof(*e));
	struct dynbuf b;

	(void)state;
	assert_non_null(map);
	assert_non_null(dj);
	dynbuf_init(&b, EVENT_JSON_MAX_LINE);
	for (int a = 1; a < EVENT_ACTION_COUNT; a++) {
		fill_event(e, (enum event_action)a);
		dynbuf_reset(&b);
		assert_int_equal(event_json_encode(e, &b), 0);
		assert_int_equal(detect_doc_from_json(dj, b.data, b.len, err, sizeof(err)), 0);
		assert_int_equal(detect_doc_from_event(doc, map, e), 0);
		for (unsigned f = 0; f < EVF_COUNT; f++) {
			const char *n = event_field_table[f].name;
			const char *from_json = vals(dj, n), *from_event = vals(doc, n);

			if (strcmp(from_json, from_event))
				fail_msg("action %s field %s: json '%s' event '%s'",
					 event_action_name((enum event_action)a), n, from_json,
					 from_event);
		}
		assert_int_equal(dj->nvalues, doc->nvalues);
		assert_int_equal(dj->time_ns, doc->time_ns);
		assert_string_equal(cats(dj), cats(doc));
		assert_string_equal(dj->src.product, doc->src.product);
	}
	dynbuf_release(&b);
	detect_doc_free(dj);
	detect_event_map_free(map);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_flatten),	  cmocka_unit_test(test_json_name_cache),
	    cmocka_unit_test(test_json_escapes),	  cmocka_unit_test(test_json_names),
	    cmocka_unit_test(test_json_malformed),	  cmocka_unit_test(test_json_string_blocks),
	    cmocka_unit_test(test_json_limits),		  cmocka_unit_test(test_auditd_execve),
	    cmocka_unit_test(test_auditd_syscall),	  cmocka_unit_test(test_auditd_strings),
	    cmocka_unit_test(test_auditd_malformed),	  cmocka_unit_test(test_event_values),
	    cmocka_unit_test(test_event_json_round_trip),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
