#include "query.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_bloom.h"
#include "event_json.h"
#include "utf8.h"

#include "banned.h"

/*
 * A recursive-descent parser that writes SQL as it goes: the SQL operators NOT, AND, OR have the
 * same precedence as the query's, user parentheses are copied through, and negation is written
 * "(x) IS NOT TRUE" so that a missing field (SQL NULL) behaves as "no match" under 'not' too.
 * User values only ever land in the parameter arena, never in the SQL text.
 */

#define MAX_COLUMN_NAME 64

enum tok_kind {
	TOK_EOF,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_COLON,
	TOK_LT,
	TOK_LE,
	TOK_GT,
	TOK_GE,
	TOK_WORD,
	TOK_STRING,
	TOK_AND,
	TOK_OR,
	TOK_NOT
};

struct token {
	enum tok_kind kind;
	size_t start;
	size_t end;
};

/* In a term ':' '<' '>' end a word (they follow a field name); after ':' they are plain text. */
enum lex_mode { LEX_TERM, LEX_VALUE };

/* A field resolved against the column map; col is NULL for a path into doc. */
struct field_ref {
	const struct query_column *col;
	size_t start;
	size_t len;
};

enum pattern_kind { PAT_NONE, PAT_GLOB, PAT_LIKE };

struct parser {
	const char *q;
	size_t len;
	size_t pos;
	enum query_dialect dialect;
	const struct query_column *cols;
	size_t ncols;
	struct query_sql *out;
	const char *last_op; /* text of the last operator consumed, for error messages */
	unsigned depth;
	unsigned terms;
	unsigned block_off; /* > 0 inside 'not': block conditions are not written */
	char *err;
	size_t errlen;
	size_t errpos;
	size_t param_off[QUERY_MAX_PARAMS];
	/* The value being compiled, unescaped; wild[i] marks an unquoted, unescaped '*'. */
	size_t vlen;
	char val[QUERY_MAX_LEN];
	bool wild[QUERY_MAX_LEN];
};

static int fail(struct parser *p, int rc, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct parser *p, int rc, size_t pos, const char *fmt, ...)
{
	va_list ap;

	if (p->err && p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err, p->errlen, fmt, ap);
		va_end(ap);
	}
	p->errpos = pos;
	return rc;
}

/* Maps a dynbuf failure to the caller's error: the caps are limits, anything else is memory. */
static int buf_fail(struct parser *p, int rc)
{
	if (rc == -ENOSPC)
		return fail(p, -E2BIG, p->pos,
			    "query too complex: generated SQL or values too long");
	return fail(p, -ENOMEM, p->pos, "out of memory");
}

static int sql(struct parser *p, const char *s)
{
	int rc = dynbuf_adds(&p->out->sql, s);

	return rc ? buf_fail(p, rc) : 0;
}

/* Appends to the block condition (SQLite only, outside 'not'). */
static int bsql(struct parser *p, const char *s)
{
	int rc;

	if (p->dialect != QUERY_SQLITE || p->block_off)
		return 0;
	rc = dynbuf_adds(&p->out->blocks, s);
	return rc ? buf_fail(p, rc) : 0;
}

/* The block condition of an exact match of the decoded value on column f, else "1". */
static int bsql_match(struct parser *p, const struct field_ref *f, bool exact)
{
	struct query_sql *o = p->out;

	if (p->dialect != QUERY_SQLITE || p->block_off)
		return 0;
	if (!exact || !f->col || f->col->type != QUERY_TEXT || !event_bloom_column(f->col->column) ||
	    o->nblock_keys >= QUERY_MAX_TERMS)
		return bsql(p, "1");
	o->block_keys[o->nblock_keys++] =
	    (int64_t)event_bloom_key(f->col->column, p->val, p->vlen);
	return bsql(p, "mamori_bloom(bloom, ?)");
}

/* Appends each string up to a NULL. */
static int sqls(struct parser *p, ...)
{
	va_list ap;
	const char *s;
	int rc = 0;

	va_start(ap, p);
	while (rc == 0 && (s = va_arg(ap, const char *)) != NULL)
		rc = sql(p, s);
	va_end(ap);
	return rc;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_field_char(char c)
{
	return is_alnum(c) || c == '_' || c == '.' || c == '@' || c == '-';
}

static bool is_delim(char c, enum lex_mode m)
{
	if (is_space(c) || c == '(' || c == ')' || c == '"')
		return true;
	return m == LEX_TERM && (c == ':' || c == '<' || c == '>');
}

static bool word_is(const char *s, size_t n, const char *kw)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (kw[i] == '\0' || kw[i] != c)
			return false;
	}
	return kw[i] == '\0';
}

/* Reads the token at or after at (p->pos is left alone: callers consume with p->pos = t.end). */
static int lex(struct parser *p, size_t at, enum lex_mode m, struct token *t)
{
	const char *q = p->q;
	size_t i;

	while (at < p->len && is_space(q[at]))
		at++;
	t->start = at;
	t->end = at + 1;
	if (at >= p->len) {
		t->kind = TOK_EOF;
		t->end = at;
		return 0;
	}
	switch (q[at]) {
	case '(':
		t->kind = TOK_LPAREN;
		return 0;
	case ')':
		t->kind = TOK_RPAREN;
		return 0;
	case '"':
		for (i = at + 1; i < p->len; i++) {
			if (q[i] == '\\') {
				i++;
			} else if (q[i] == '"') {
				t->kind = TOK_STRING;
				t->end = i + 1;
				return 0;
			}
		}
		return fail(p, -EINVAL, at, "unterminated quoted string");
	default:
		break;
	}
	if (m == LEX_TERM) {
		bool eq = at + 1 < p->len && q[at + 1] == '=';

		switch (q[at]) {
		case ':':
			t->kind = TOK_COLON;
			return 0;
		case '<':
			t->kind = eq ? TOK_LE : TOK_LT;
			t->end += eq;
			return 0;
		case '>':
			t->kind = eq ? TOK_GE : TOK_GT;
			t->end += eq;
			return 0;
		default:
			break;
		}
	}
	for (i = at; i < p->len && !is_delim(q[i], m); i++) {
		if (q[i] == '\\' && ++i >= p->len)
			return fail(p, -EINVAL, i - 1,
				    "'\\' at the end of the query escapes nothing");
	}
	t->kind = TOK_WORD;
	t->end = i;
	if (word_is(q + at, i - at, "and"))
		t->kind = TOK_AND;
	else if (word_is(q + at, i - at, "or"))
		t->kind = TOK_OR;
	else if (word_is(q + at, i - at, "not"))
		t->kind = TOK_NOT;
	return 0;
}

static bool starts_term(enum tok_kind k)
{
	return k == TOK_WORD || k == TOK_STRING || k == TOK_LPAREN || k == TOK_NOT;
}

static const char *op_text(enum tok_kind k)
{
	switch (k) {
	case TOK_LT:
		return "<";
	case TOK_LE:
		return "<=";
	case TOK_GT:
		return ">";
	default:
		return ">=";
	}
}

/* Describes a token for an error message: "end of query" or its first bytes, quoted. */
static int tok_fail(struct parser *p, const struct token *t, const char *what)
{
	int n = (int)(t->end - t->start);

	if (t->kind == TOK_EOF)
		return fail(p, -EINVAL, t->start, "%s, found the end of the query", what);
	if (n > 24)
		n = 24;
	return fail(p, -EINVAL, t->start, "%s, found '%.*s'", what, n, p->q + t->start);
}

static int enter(struct parser *p, size_t pos)
{
	if (++p->depth > QUERY_MAX_DEPTH)
		return fail(p, -E2BIG, pos,
			    "query nested too deeply (max %d levels of parentheses and 'not')",
			    QUERY_MAX_DEPTH);
	return 0;
}

static int count_term(struct parser *p, size_t pos)
{
	if (++p->terms > QUERY_MAX_TERMS)
		return fail(p, -E2BIG, pos, "too many terms (max %d)", QUERY_MAX_TERMS);
	return 0;
}

/* ---- parameters ---- */

static int param_open(struct parser *p, enum query_type type, size_t *idx)
{
	struct query_sql *o = p->out;

	if (o->nparams >= QUERY_MAX_PARAMS)
		return fail(p, -E2BIG, p->pos, "too many parameters (max %d)", QUERY_MAX_PARAMS);
	*idx = o->nparams++;
	o->params[*idx].type = type;
	p->param_off[*idx] = o->arena.len;
	return 0;
}

/* Writes the placeholder of parameter idx into the SQL. */
static int placeholder(struct parser *p, size_t idx)
{
	int rc;

	if (p->dialect == QUERY_SQLITE)
		return sql(p, "?");
	rc = dynbuf_printf(&p->out->sql, "$%zu::%s", idx + 1,
			   p->out->params[idx].type == QUERY_INT ? "bigint" : "text");
	return rc ? buf_fail(p, rc) : 0;
}

static int arena_add(struct parser *p, const char *s, size_t n)
{
	int rc = dynbuf_add(&p->out->arena, s, n);

	return rc ? buf_fail(p, rc) : 0;
}

/* Ends the text parameter idx (NUL-terminated in the arena) and writes its placeholder. */
static int param_close(struct parser *p, size_t idx)
{
	struct query_param *pr = &p->out->params[idx];
	int rc = arena_add(p, "", 1);

	if (rc)
		return rc;
	pr->len = p->out->arena.len - 1 - p->param_off[idx];
	return placeholder(p, idx);
}

static int param_int(struct parser *p, int64_t v)
{
	size_t idx = 0;
	int rc = param_open(p, QUERY_INT, &idx);

	if (rc)
		return rc;
	p->out->params[idx].num = v;
	return placeholder(p, idx);
}

/* Appends one literal byte of a value, escaped for the pattern language in use. */
static int arena_pattern_byte(struct parser *p, enum pattern_kind pk, char c)
{
	char buf[3];

	if (pk == PAT_GLOB && (c == '*' || c == '?' || c == '[')) {
		buf[0] = '[';
		buf[1] = c;
		buf[2] = ']';
		return arena_add(p, buf, 3);
	}
	if (pk == PAT_LIKE && (c == '%' || c == '_' || c == '!')) {
		buf[0] = '!';
		buf[1] = c;
		return arena_add(p, buf, 2);
	}
	return arena_add(p, &c, 1);
}

/* Appends one literal byte, first as it appears inside a JSON string when json is set. */
static int arena_literal(struct parser *p, enum pattern_kind pk, bool json, char c)
{
	char esc[8];
	int n = 0, rc = 0;

	if (json && (c == '"' || c == '\\')) {
		esc[0] = '\\';
		esc[1] = c;
		n = 2;
	} else if (json && c == '\n') {
		n = snprintf(esc, sizeof(esc), "\\n");
	} else if (json && c == '\t') {
		n = snprintf(esc, sizeof(esc), "\\t");
	} else if (json && c == '\r') {
		n = snprintf(esc, sizeof(esc), "\\r");
	} else if (json && ((unsigned char)c < 0x20 || c == 0x7f)) {
		n = snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)(unsigned char)c);
	} else {
		return arena_pattern_byte(p, pk, c);
	}
	for (int i = 0; i < n && rc == 0; i++)
		rc = arena_pattern_byte(p, pk, esc[i]);
	return rc;
}

/* Adds the current value as a text parameter: verbatim (PAT_NONE) or as a pattern; contains
 * wraps it in wildcards and json matches it as written inside the JSON document. */
static int param_value(struct parser *p, enum pattern_kind pk, bool contains, bool json)
{
	const char *any = pk == PAT_GLOB ? "*" : "%";
	size_t idx = 0;
	int rc = param_open(p, QUERY_TEXT, &idx);

	if (rc == 0 && contains)
		rc = arena_add(p, any, 1);
	for (size_t i = 0; rc == 0 && i < p->vlen; i++) {
		if (p->wild[i] && pk != PAT_NONE)
			rc = arena_add(p, any, 1);
		else
			rc = arena_literal(p, pk, json, p->val[i]);
	}
	if (rc == 0 && contains)
		rc = arena_add(p, any, 1);
	return rc ? rc : param_close(p, idx);
}

/* Adds the JSON path of a doc field: $."a"."b" (SQLite) or {"a","b"} (PostgreSQL text[]). */
static int param_path(struct parser *p, const struct field_ref *f)
{
	const char *s = p->q + f->start;
	bool pg = p->dialect == QUERY_PG;
	size_t idx = 0;
	int rc = param_open(p, QUERY_TEXT, &idx);

	if (rc == 0)
		rc = arena_add(p, pg ? "{\"" : "$.\"", pg ? 2 : 3);
	for (size_t i = 0; rc == 0 && i < f->len; i++) {
		if (s[i] == '.')
			rc = pg ? arena_add(p, "\",\"", 3) : arena_add(p, "\".\"", 3);
		else
			rc = arena_add(p, s + i, 1);
	}
	if (rc == 0)
		rc = pg ? arena_add(p, "\"}", 2) : arena_add(p, "\"", 1);
	return rc ? rc : param_close(p, idx);
}

/* ---- values ---- */

/* Unescapes a WORD or STRING token into p->val; only unquoted, unescaped '*' are wildcards. */
static void decode_value(struct parser *p, const struct token *t)
{
	bool quoted = t->kind == TOK_STRING;
	size_t i = t->start + quoted, end = t->end - quoted;

	p->vlen = 0;
	while (i < end) {
		char c = p->q[i];
		bool w = false;

		if (c == '\\')
			c = p->q[++i]; /* the lexer guarantees a byte follows */
		else if (!quoted && c == '*')
			w = true;
		p->val[p->vlen] = c;
		p->wild[p->vlen++] = w;
		i++;
	}
}

static bool value_has_wild(const struct parser *p)
{
	for (size_t i = 0; i < p->vlen; i++)
		if (p->wild[i])
			return true;
	return false;
}

static bool value_all_wild(const struct parser *p)
{
	for (size_t i = 0; i < p->vlen; i++)
		if (!p->wild[i])
			return false;
	return p->vlen > 0;
}

/* A decimal integer, optionally signed, that fits int64_t. */
static bool value_int(const struct parser *p, int64_t *out)
{
	const char *s = p->val;
	size_t i = 0, n = p->vlen;
	bool neg = false;
	uint64_t v = 0, lim;

	if (n && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i++;
	}
	if (i == n)
		return false;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (lim - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* Converts the value for an integer or time column into a number; errors point at t. */
static int value_number(struct parser *p, const struct token *t, const struct field_ref *f,
			int64_t *out)
{
	char buf[24];
	uint64_t ns;
	int n = (int)f->len;

	if (value_has_wild(p))
		return fail(p, -EINVAL, t->start,
			    "wildcards are not allowed on numeric field '%.*s'", n,
			    p->q + f->start);
	if (value_int(p, out))
		return 0;
	if (f->col->type == QUERY_INT)
		return fail(p, -EINVAL, t->start, "expected an integer for field '%.*s'", n,
			    p->q + f->start);
	if (p->vlen == 10 && p->val[4] == '-' && p->val[7] == '-') {
		memcpy(buf, p->val, 10);
		memcpy(buf + 10, "T00:00:00Z", 10);
		if (json_parse_time(buf, 20, &ns) == 0)
			goto ok;
	} else if (json_parse_time(p->val, p->vlen, &ns) == 0) {
		goto ok;
	}
	return fail(
	    p, -EINVAL, t->start,
	    "expected an RFC 3339 time, a date (YYYY-MM-DD) or ns since the epoch for field '%.*s'",
	    n, p->q + f->start);
ok:
	if (ns > (uint64_t)INT64_MAX)
		return fail(p, -EINVAL, t->start, "time out of range for field '%.*s'", n,
			    p->q + f->start);
	*out = (int64_t)ns;
	return 0;
}

/* ---- leaves ---- */

static const char sqlite_each[] = "EXISTS (SELECT 1 FROM json_each(doc, ";
static const char sqlite_each_where[] =
    ") WHERE typeof(key) <> 'text' AND type NOT IN ('object', 'array') AND ";
static const char sqlite_each_text[] =
    "(CASE type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(value AS TEXT) END)";
static const char pg_each[] = "EXISTS (SELECT 1 FROM (SELECT doc #> ";
static const char pg_each_where[] =
    " AS j) AS f, jsonb_array_elements(CASE jsonb_typeof(f.j) WHEN 'array' THEN f.j"
    " ELSE jsonb_build_array(f.j) END) AS e(v)"
    " WHERE jsonb_typeof(e.v) NOT IN ('object', 'array', 'null') AND ";
static const char pg_each_text[] = "(e.v #>> '{}')";

/* Opens "EXISTS (... over every scalar at the doc path ... WHERE " for a doc field. */
static int doc_open(struct parser *p, const struct field_ref *f)
{
	bool pg = p->dialect == QUERY_PG;
	int rc = sql(p, pg ? pg_each : sqlite_each);

	p->out->uses_doc = true;

	if (rc == 0)
		rc = param_path(p, f);
	return rc ? rc : sqls(p, pg ? "[]" : "", pg ? pg_each_where : sqlite_each_where, NULL);
}

static int leaf_exists(struct parser *p, const struct field_ref *f)
{
	bool pg = p->dialect == QUERY_PG;
	int rc = bsql(p, "1");

	if (rc)
		return rc;
	if (f->col)
		return sqls(p, f->col->column, " IS NOT NULL", NULL);
	p->out->uses_doc = true;
	rc = sql(p, pg ? "coalesce(jsonb_typeof(doc #> " : "coalesce(json_type(doc, ");
	if (rc == 0)
		rc = param_path(p, f);
	return rc ? rc : sql(p, pg ? "[]), 'null') <> 'null'" : "), 'null') <> 'null'");
}

/* field:value (one value of a value list too). */
static int leaf_match(struct parser *p, const struct field_ref *f, const struct token *t)
{
	bool pg = p->dialect == QUERY_PG;
	enum pattern_kind pk = pg ? PAT_LIKE : PAT_GLOB;
	int64_t num;
	int rc = count_term(p, t->start);

	if (rc)
		return rc;
	decode_value(p, t);
	if (value_all_wild(p))
		return leaf_exists(p, f);
	if (f->col && f->col->type != QUERY_TEXT) {
		if ((rc = bsql(p, "1")) != 0 || (rc = value_number(p, t, f, &num)) != 0 ||
		    (rc = sqls(p, f->col->column, " = ", NULL)) != 0)
			return rc;
		return param_int(p, num);
	}
	if (!value_has_wild(p))
		pk = PAT_NONE;
	if ((rc = bsql_match(p, f, pk == PAT_NONE)) != 0)
		return rc;
	if (f->col)
		rc = sql(p, f->col->column);
	else if ((rc = doc_open(p, f)) == 0)
		rc = sql(p, pg ? pg_each_text : sqlite_each_text);
	if (rc == 0)
		rc = sql(p, pk == PAT_NONE ? " = " : pg ? " LIKE " : " GLOB ");
	if (rc == 0)
		rc = param_value(p, pk, false, false);
	return rc ? rc : sqls(p, pk == PAT_LIKE ? " ESCAPE '!'" : "", f->col ? "" : ")", NULL);
}

/* field < value and friends. */
static int leaf_range(struct parser *p, const struct field_ref *f, enum tok_kind op,
		      const struct token *t)
{
	bool pg = p->dialect == QUERY_PG;
	const char *ops = op_text(op);
	int64_t num;
	bool numeric;
	int rc = count_term(p, t->start);

	if (rc)
		return rc;
	decode_value(p, t);
	if (value_has_wild(p))
		return fail(p, -EINVAL, t->start, "wildcards are not allowed in a range ('%s')",
			    ops);
	if ((rc = bsql(p, "1")) != 0)
		return rc;
	if (f->col) {
		numeric = f->col->type != QUERY_TEXT;
		if (numeric && (rc = value_number(p, t, f, &num)) != 0)
			return rc;
		if ((rc = sqls(p, f->col->column, pg && !numeric ? " COLLATE \"C\" " : " ", ops,
			       " ", NULL)) != 0)
			return rc;
		return numeric ? param_int(p, num) : param_value(p, PAT_NONE, false, false);
	}
	/* In doc an unquoted integer compares with numbers, anything else with strings. */
	numeric = t->kind == TOK_WORD && value_int(p, &num);
	if ((rc = doc_open(p, f)) != 0)
		return rc;
	if (numeric)
		rc = sqls(p,
			  pg ? "jsonb_typeof(e.v) = 'number' AND e.v "
			     : "type IN ('integer', 'real') AND value ",
			  ops, pg ? " to_jsonb(" : " ", NULL);
	else
		rc = sqls(p,
			  pg ? "jsonb_typeof(e.v) = 'string' AND (e.v #>> '{}') COLLATE \"C\" "
			     : "type = 'text' AND value ",
			  ops, " ", NULL);
	if (rc == 0)
		rc = numeric ? param_int(p, num) : param_value(p, PAT_NONE, false, false);
	return rc ? rc : sql(p, numeric && pg ? "))" : ")");
}

/* A value without a field: a substring of the whole document as JSON text. */
static int leaf_bare(struct parser *p, const struct token *t)
{
	bool pg = p->dialect == QUERY_PG;
	int rc = count_term(p, t->start);

	if (rc)
		return rc;
	decode_value(p, t);
	p->out->uses_doc = true;
	if ((rc = bsql(p, "1")) != 0 || (rc = sql(p, pg ? "doc::text LIKE " : "doc GLOB ")) != 0 ||
	    (rc = param_value(p, pg ? PAT_LIKE : PAT_GLOB, true, true)) != 0)
		return rc;
	return pg ? sql(p, " ESCAPE '!'") : 0;
}

/* ---- fields ---- */

static int resolve_field(struct parser *p, const struct token *t, struct field_ref *f)
{
	const char *s = p->q + t->start;
	size_t n = t->end - t->start;

	if (n > QUERY_MAX_FIELD)
		return fail(p, -E2BIG, t->start, "field name longer than %d bytes",
			    QUERY_MAX_FIELD);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!is_field_char((char)c)) {
			if (c > 0x20 && c < 0x7f)
				return fail(p, -EINVAL, t->start + i,
					    "invalid character '%c' in field name", c);
			return fail(p, -EINVAL, t->start + i, "invalid byte 0x%02x in field name",
				    c);
		}
		if (c == '.' && (i == 0 || i + 1 == n || s[i + 1] == '.'))
			return fail(p, -EINVAL, t->start + i, "empty component in field name");
	}
	f->col = NULL;
	f->start = t->start;
	f->len = n;
	for (size_t k = 0; k < p->ncols; k++) {
		if (strlen(p->cols[k].field) == n && memcmp(p->cols[k].field, s, n) == 0) {
			f->col = &p->cols[k];
			break;
		}
	}
	return 0;
}

/* ---- grammar ---- */

static int parse_or(struct parser *p, const struct field_ref *f);

/* '(' or_expr ')' with the '(' at t; f is the field of a value list, NULL at term level. */
static int parse_group(struct parser *p, const struct field_ref *f, const struct token *t)
{
	struct token c;
	int rc;

	if ((rc = enter(p, t->start)) != 0)
		return rc;
	p->pos = t->end;
	p->last_op = "(";
	if ((rc = sql(p, "(")) != 0 || (rc = bsql(p, "(")) != 0 || (rc = parse_or(p, f)) != 0)
		return rc;
	if ((rc = lex(p, p->pos, f ? LEX_VALUE : LEX_TERM, &c)) != 0)
		return rc;
	if (c.kind == TOK_EOF)
		return fail(p, -EINVAL, t->start, "unbalanced '(': missing ')'");
	if (c.kind != TOK_RPAREN)
		return tok_fail(p, &c, "expected ')'");
	p->pos = c.end;
	p->depth--;
	return (rc = sql(p, ")")) != 0 ? rc : bsql(p, ")");
}

/* A term starting with the word t followed by ':' or a comparison n. */
static int parse_field_term(struct parser *p, const struct token *t, const struct token *n)
{
	struct field_ref f;
	struct token v;
	int rc;

	if ((rc = resolve_field(p, t, &f)) != 0)
		return rc;
	p->pos = n->end;
	p->last_op = n->kind == TOK_COLON ? ":" : op_text(n->kind);
	if ((rc = lex(p, p->pos, LEX_VALUE, &v)) != 0)
		return rc;
	if (v.kind != TOK_WORD && v.kind != TOK_STRING &&
	    (n->kind != TOK_COLON || v.kind != TOK_LPAREN)) {
		char what[40];

		snprintf(what, sizeof(what), "expected a value after '%s'", p->last_op);
		return tok_fail(p, &v, what);
	}
	if (v.kind == TOK_LPAREN)
		return parse_group(p, &f, &v);
	p->pos = v.end;
	if (n->kind == TOK_COLON)
		return leaf_match(p, &f, &v);
	return leaf_range(p, &f, n->kind, &v);
}

static int expected_term(struct parser *p, const struct field_ref *f, const struct token *t)
{
	char what[48];

	if (!p->last_op)
		return tok_fail(p, t, "expected a term");
	snprintf(what, sizeof(what), "expected a %s after '%s'", f ? "value" : "term", p->last_op);
	return tok_fail(p, t, what);
}

static int parse_primary(struct parser *p, const struct field_ref *f)
{
	struct token t, n;
	int rc = lex(p, p->pos, f ? LEX_VALUE : LEX_TERM, &t);

	if (rc)
		return rc;
	if (t.kind == TOK_LPAREN)
		return parse_group(p, f, &t);
	if (t.kind != TOK_WORD && t.kind != TOK_STRING)
		return expected_term(p, f, &t);
	if (f) {
		p->pos = t.end;
		return leaf_match(p, f, &t);
	}
	if (t.kind == TOK_WORD) {
		if ((rc = lex(p, t.end, LEX_TERM, &n)) != 0)
			return rc;
		if (n.kind == TOK_COLON || n.kind == TOK_LT || n.kind == TOK_LE ||
		    n.kind == TOK_GT || n.kind == TOK_GE)
			return parse_field_term(p, &t, &n);
	}
	p->pos = t.end;
	return leaf_bare(p, &t);
}

static int parse_not(struct parser *p, const struct field_ref *f)
{
	struct token t;
	int rc = lex(p, p->pos, f ? LEX_VALUE : LEX_TERM, &t);

	if (rc)
		return rc;
	if (t.kind != TOK_NOT)
		return parse_primary(p, f);
	if ((rc = enter(p, t.start)) != 0)
		return rc;
	p->pos = t.end;
	p->last_op = "not";
	/* A block may hold a match of 'not x' whatever its filter says about x. */
	if ((rc = bsql(p, "1")) != 0)
		return rc;
	p->block_off++;
	if ((rc = sql(p, "(")) != 0 || (rc = parse_not(p, f)) != 0)
		return rc;
	p->block_off--;
	p->depth--;
	return sql(p, ") IS NOT TRUE");
}

static int parse_and(struct parser *p, const struct field_ref *f)
{
	struct token t;
	int rc = parse_not(p, f);

	while (rc == 0) {
		if ((rc = lex(p, p->pos, f ? LEX_VALUE : LEX_TERM, &t)) != 0)
			break;
		if (starts_term(t.kind))
			return fail(p, -EINVAL, t.start,
				    "expected 'and' or 'or' between two terms");
		if (t.kind != TOK_AND)
			break;
		p->pos = t.end;
		p->last_op = "and";
		if ((rc = sql(p, " AND ")) == 0 && (rc = bsql(p, " AND ")) == 0)
			rc = parse_not(p, f);
	}
	return rc;
}

static int parse_or(struct parser *p, const struct field_ref *f)
{
	struct token t;
	int rc = parse_and(p, f);

	while (rc == 0) {
		if ((rc = lex(p, p->pos, f ? LEX_VALUE : LEX_TERM, &t)) != 0)
			break;
		if (t.kind != TOK_OR)
			break;
		p->pos = t.end;
		p->last_op = "or";
		if ((rc = sql(p, " OR ")) == 0 && (rc = bsql(p, " OR ")) == 0)
			rc = parse_and(p, f);
	}
	return rc;
}

/* ---- entry points ---- */

static int check_input(struct parser *p)
{
	const unsigned char *s = (const unsigned char *)p->q;

	if (p->len > QUERY_MAX_LEN)
		return fail(p, -E2BIG, QUERY_MAX_LEN, "query longer than %d bytes", QUERY_MAX_LEN);
	for (size_t i = 0; i < p->len;) {
		size_t k = utf8_seq_len(s + i, p->len - i);

		if (s[i] == 0)
			return fail(p, -EINVAL, i, "NUL byte in query");
		if (k == 0)
			return fail(p, -EINVAL, i, "invalid UTF-8 in query");
		i += k;
	}
	return 0;
}

static int check_columns(struct parser *p)
{
	if (!p->cols && p->ncols)
		return fail(p, -EINVAL, 0, "invalid column map");
	for (size_t k = 0; k < p->ncols; k++) {
		const struct query_column *c = &p->cols[k];
		size_t n = c->column ? strnlen(c->column, MAX_COLUMN_NAME + 1) : 0;
		bool ok = c->field && n > 0 && n <= MAX_COLUMN_NAME && c->type >= QUERY_TEXT &&
			  c->type <= QUERY_TIME;

		for (size_t i = 0; ok && i < n; i++)
			ok = is_alnum(c->column[i]) || c->column[i] == '_';
		if (!ok)
			return fail(p, -EINVAL, 0, "invalid column map entry %zu", k);
	}
	return 0;
}

static int compile(struct parser *p)
{
	struct token t;
	int rc;

	if ((rc = check_columns(p)) != 0 || (rc = check_input(p)) != 0 || (rc = sql(p, "(")) != 0 ||
	    (rc = bsql(p, "(")) != 0)
		return rc;
	if ((rc = lex(p, 0, LEX_TERM, &t)) != 0)
		return rc;
	if (t.kind == TOK_EOF) {
		/* the empty query matches everything */
		if ((rc = sql(p, "1 = 1")) == 0)
			rc = bsql(p, "1");
	} else if ((rc = parse_or(p, NULL)) == 0 && (rc = lex(p, p->pos, LEX_TERM, &t)) == 0) {
		if (t.kind == TOK_RPAREN)
			return fail(p, -EINVAL, t.start, "unbalanced ')'");
		if (t.kind != TOK_EOF)
			return tok_fail(p, &t, "expected 'and', 'or' or the end of the query");
	}
	if (rc == 0 && (rc = sql(p, ")")) == 0)
		rc = bsql(p, ")");
	return rc;
}

int query_compile(const char *q, size_t len, enum query_dialect d, const struct query_column *cols,
		  size_t ncols, struct query_sql *out, char *err, size_t errlen, size_t *errpos)
{
	struct parser *p;
	int rc;

	memset(out, 0, sizeof(*out));
	dynbuf_init(&out->sql, QUERY_MAX_SQL);
	dynbuf_init(&out->arena, QUERY_MAX_ARENA);
	dynbuf_init(&out->blocks, QUERY_MAX_SQL);
	if (err && errlen)
		err[0] = '\0';
	if (errpos)
		*errpos = 0;
	p = calloc(1, sizeof(*p));
	if (!p) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->q = q ? q : "";
	p->len = q ? len : 0;
	p->dialect = d;
	p->cols = cols;
	p->ncols = ncols;
	p->out = out;
	p->err = err;
	p->errlen = errlen;
	if (d != QUERY_SQLITE && d != QUERY_PG)
		rc = fail(p, -EINVAL, 0, "unknown SQL dialect");
	else
		rc = compile(p);
	if (rc == 0) {
		for (size_t i = 0; i < out->nparams; i++)
			if (out->params[i].type == QUERY_TEXT)
				out->params[i].text = out->arena.data + p->param_off[i];
	} else {
		if (errpos)
			*errpos = p->errpos;
		query_sql_release(out);
	}
	free(p);
	return rc;
}

void query_sql_release(struct query_sql *s)
{
	if (!s)
		return;
	dynbuf_release(&s->sql);
	dynbuf_release(&s->arena);
	dynbuf_release(&s->blocks);
	memset(s->params, 0, sizeof(s->params));
	s->nparams = 0;
	s->nblock_keys = 0;
	s->uses_doc = false;
}
