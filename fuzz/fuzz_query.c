/* Hunting search compiler: any bytes compile or fail cleanly in both dialects. A compiled query
 * has exactly one placeholder per parameter, numbered in order for PostgreSQL, and its SQLite form
 * is valid SQL over the events table with that many parameters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "dynbuf.h"
#include "query.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct query_column cols[] = {
    {"@timestamp", "ts", QUERY_TIME},
    {"host.name", "host", QUERY_TEXT},
    {"event.action", "action", QUERY_TEXT},
    {"process.pid", "pid", QUERY_INT},
    {"process.name", "name", QUERY_TEXT},
    {"file.path", "path", QUERY_TEXT},
    {"destination.port", "dst_port", QUERY_INT},
};

static sqlite3 *db;

/* Counts '?' (SQLite) or checks that $k appear as $1, $2, ... in order (PostgreSQL). */
static size_t placeholders(const struct query_sql *s, enum query_dialect d)
{
	const char *p = s->sql.data;
	size_t n = 0;

	for (; *p; p++) {
		if (d == QUERY_SQLITE && *p == '?') {
			n++;
		} else if (d == QUERY_PG && *p == '$') {
			char *end;
			unsigned long k = strtoul(p + 1, &end, 10);

			if (end == p + 1 || k != n + 1)
				abort();
			n++;
			p = end - 1;
		}
	}
	return n;
}

static void check_sqlite(const struct query_sql *s)
{
	struct dynbuf sql;
	sqlite3_stmt *st = NULL;

	if (!db &&
	    (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	     sqlite3_exec(db,
			  "CREATE TABLE events (ts INTEGER, host TEXT, action TEXT, pid INTEGER,"
			  " name TEXT, path TEXT, dst_port INTEGER, doc TEXT)",
			  NULL, NULL, NULL) != SQLITE_OK))
		abort();
	dynbuf_init(&sql, QUERY_MAX_SQL + 64);
	if (dynbuf_adds(&sql, "SELECT count(*) FROM events WHERE ") ||
	    dynbuf_add(&sql, s->sql.data, s->sql.len))
		abort();
	if (sqlite3_prepare_v2(db, sql.data, (int)sql.len, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_parameter_count(st) != (int)s->nparams)
		abort();
	sqlite3_finalize(st);
	dynbuf_release(&sql);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum query_dialect dialects[] = {QUERY_SQLITE, QUERY_PG};
	char err[128];
	size_t pos;

	for (size_t i = 0; i < 2; i++) {
		struct query_sql s;
		int rc = query_compile((const char *)data, size, dialects[i], cols,
				       sizeof(cols) / sizeof(cols[0]), &s, err, sizeof(err), &pos);

		if (rc) {
			if (pos > size || err[0] == '\0' || s.sql.data || s.nparams)
				abort();
			continue;
		}
		if (strlen(s.sql.data) != s.sql.len || placeholders(&s, dialects[i]) != s.nparams)
			abort();
		for (size_t k = 0; k < s.nparams; k++)
			if (s.params[k].type == QUERY_TEXT &&
			    (!s.params[k].text || s.params[k].text[s.params[k].len] != '\0'))
				abort();
		if (dialects[i] == QUERY_SQLITE)
			check_sqlite(&s);
		query_sql_release(&s);
	}
	return 0;
}
