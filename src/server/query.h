/* Hunting search: compiles a KQL-like query (field:value, wildcards, ranges, and/or/not) into a
 * parameterised SQL WHERE clause over the events table, for SQLite or PostgreSQL. Pure: no I/O and
 * no database handle; values typed by the user only ever reach the database as bound parameters. */
#ifndef MAMORI_QUERY_H
#define MAMORI_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

/* Hard limits; each one, when exceeded, fails the compile with a clear message and -E2BIG. */
#define QUERY_MAX_LEN 4096  /* bytes of query text */
#define QUERY_MAX_DEPTH 32  /* nested parentheses, 'not' and value lists together */
#define QUERY_MAX_TERMS 64  /* field comparisons, existence tests and bare values */
#define QUERY_MAX_FIELD 128 /* bytes in one field name */
#define QUERY_MAX_PARAMS (2 * QUERY_MAX_TERMS) /* a document field takes a path and a value */
#define QUERY_MAX_SQL ((size_t)64 * 1024)      /* bytes of generated SQL */
#define QUERY_MAX_ARENA ((size_t)64 * 1024)    /* bytes of parameter text */

enum query_dialect { QUERY_SQLITE, QUERY_PG };

/* QUERY_TIME is ns since the epoch in an integer column; the user writes RFC 3339, a plain date
 * (YYYY-MM-DD, midnight UTC) or an integer. */
enum query_type { QUERY_TEXT, QUERY_INT, QUERY_TIME };

/* Maps a user-visible field (e.g. "process.name") to an indexed column of the events table.
 * Fields absent from the map are looked up in the JSON column "doc". */
struct query_column {
	const char *field;
	const char *column; /* [A-Za-z0-9_]+, trusted text that goes into the SQL */
	enum query_type type;
};

/* One bound parameter: QUERY_TEXT (text/len, text NUL-terminated, len excludes the NUL) or
 * QUERY_INT (num). Never QUERY_TIME: times are already converted to ns. text is borrowed from the
 * owning query_sql until query_sql_release(). */
struct query_param {
	enum query_type type;
	const char *text;
	size_t len;
	int64_t num;
};

/* A compiled query: sql is a parenthesised boolean expression for "WHERE <sql>", safe to combine
 * with AND. Placeholders are '?' (SQLite, bind params in order) or $1..$n with an explicit cast
 * (PostgreSQL); params[i] goes to placeholder i + 1. */
struct query_sql {
	struct dynbuf sql;
	struct query_param params[QUERY_MAX_PARAMS];
	size_t nparams;
	struct dynbuf arena; /* backing store of the parameters' text */
	/* SQLite only: a condition on event_blocks rows that every block holding a match satisfies.
	 * The query's shape with each exact match on a column that the block filters cover
	 * (event_bloom_column) as "mamori_bloom(bloom, ?)" and every other term as "1"; 'not'
	 * subexpressions are "1". Its '?' take block_keys in order. nblock_keys == 0: no term can
	 * narrow the blocks, and blocks is not to be used. */
	struct dynbuf blocks;
	int64_t block_keys[QUERY_MAX_TERMS];
	size_t nblock_keys;
	bool uses_doc; /* some term reads the JSON document, not only columns */
};

/* Compiles q[0..len) for dialect d, looking fields up in cols[0..ncols) (borrowed for the call
 * only). out is initialised by the call; on success the caller owns it and releases it with
 * query_sql_release(). Returns 0; -EINVAL for a syntax error or an invalid column map; -E2BIG when
 * a limit is exceeded; -ENOMEM. On error out is left empty, err (when non-NULL) gets a message and
 * *errpos (when non-NULL) the 0-based byte offset in q that the message refers to. */
int query_compile(const char *q, size_t len, enum query_dialect d, const struct query_column *cols,
		  size_t ncols, struct query_sql *out, char *err, size_t errlen, size_t *errpos);

/* Frees what query_compile() allocated; safe on an out that failed to compile. */
void query_sql_release(struct query_sql *s);

#endif
