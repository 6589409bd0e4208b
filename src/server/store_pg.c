/* The PostgreSQL store (libpq): one connection per struct store (one per thread), prepared
 * statements cached by SQL text, events bulk-loaded with COPY into one partition per UTC day. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>

#include "dynbuf.h"
#include "log.h"
#include "utf8.h"

#include "banned.h"

#define STMT_CACHE 64
#define DAY_CACHE 64
#define PENDING_DAYS 32
#define MAX_LISTENS 8
#define MAX_COLS 64
#define MAX_PARAMS 65535 /* the protocol's limit */
#define PARAM_CAP ((size_t)256 << 20)
#define COPY_CAP ((size_t)64 << 20)
#define COPY_FLUSH ((size_t)1 << 20)
#define NS_PER_DAY 86400000000000LL
#define COPY_COLUMNS                                                                               \
	"ts, agent_id, host, action, category, entity_id, parent_entity_id, pid, name, exe, hash," \
	" path, src_ip, dst_ip, dst_port, user_name, dns, doc"
#define MIGRATE_LOCK "7885062741484187905" /* pg_advisory_xact_lock key: "mamori" + 1 */

/* Type OIDs from pg_type.h, which the client headers do not ship. */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_NUMERIC 1700

struct pg_stmt {
	char *sql; /* the caller's SQL: the cache key */
	size_t nparams;
	char name[24];
	uint64_t used;
};

struct pg_store {
	PGconn *conn;
	/* The connection died inside a transaction: everything but BEGIN/ROLLBACK fails until the
	 * caller acknowledges it, so no statement of that transaction runs in autocommit. */
	bool txn_lost;
	struct pg_stmt cache[STMT_CACHE];
	uint64_t clock, next_name;
	struct dynbuf arena; /* NUL-terminated parameter texts */
	const char **values;
	size_t values_cap;
	struct dynbuf copy;
	/* Partitions known to exist; those created in the open transaction wait in pending until
	 * COMMIT, since a ROLLBACK takes them away again. */
	int64_t days[DAY_CACHE];
	size_t ndays, day_next;
	int64_t pending[PENDING_DAYS];
	size_t npending;
	char *listens[MAX_LISTENS]; /* LISTEN arguments, replayed after a reconnect */
};

static void trim_copy(char *dst, size_t size, const char *prefix, const char *msg)
{
	size_t n;

	snprintf(dst, size, "%s%s", prefix, msg ? msg : "unknown error");
	n = strlen(dst);
	while (n && (dst[n - 1] == '\n' || dst[n - 1] == '\r' || dst[n - 1] == ' '))
		dst[--n] = 0;
}

static void notice_log(void *arg, const char *msg)
{
	char buf[256];

	(void)arg;
	trim_copy(buf, sizeof(buf), "", msg);
	log_debug("store", "pg notice: %s", buf);
}

/* Matches a statement that is exactly one keyword (e.g. "COMMIT", "rollback;"). */
static bool is_word(const char *sql, const char *word)
{
	size_t n = strlen(word);

	while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r')
		sql++;
	if (strncasecmp(sql, word, n))
		return false;
	for (sql += n; *sql; sql++)
		if (*sql != ' ' && *sql != '\t' && *sql != '\n' && *sql != '\r' && *sql != ';')
			return false;
	return true;
}

/* Returns the argument of "LISTEN x" / "UNLISTEN x" (NULL when sql is not that command). */
static const char *command_arg(const char *sql, const char *cmd, size_t *len)
{
	size_t n = strlen(cmd);
	const char *a;

	while (*sql == ' ' || *sql == '\t' || *sql == '\n')
		sql++;
	if (strncasecmp(sql, cmd, n) || (sql[n] != ' ' && sql[n] != '\t'))
		return NULL;
	for (a = sql + n; *a == ' ' || *a == '\t';)
		a++;
	*len = strcspn(a, "; \t\r\n");
	return *len ? a : NULL;
}

static void track_listen(struct pg_store *s, const char *sql)
{
	const char *a;
	size_t n, i;

	if ((a = command_arg(sql, "LISTEN", &n)) && n < 256) {
		for (i = 0; i < MAX_LISTENS; i++)
			if (s->listens[i] && strlen(s->listens[i]) == n &&
			    !memcmp(s->listens[i], a, n))
				return;
		for (i = 0; i < MAX_LISTENS; i++) {
			if (!s->listens[i]) {
				s->listens[i] = strndup(a, n);
				return;
			}
		}
		log_warn("store", "pg: more than %d LISTEN channels, not replayed on reconnect",
			 MAX_LISTENS);
	} else if ((a = command_arg(sql, "UNLISTEN", &n))) {
		for (i = 0; i < MAX_LISTENS; i++) {
			if (s->listens[i] &&
			    ((n == 1 && *a == '*') ||
			     (strlen(s->listens[i]) == n && !memcmp(s->listens[i], a, n)))) {
				free(s->listens[i]);
				s->listens[i] = NULL;
			}
		}
	}
}

static void forget_statements(struct pg_store *s)
{
	size_t i;

	for (i = 0; i < STMT_CACHE; i++) {
		free(s->cache[i].sql);
		s->cache[i].sql = NULL;
	}
}

static int errno_for_state(const char *state)
{
	static const struct {
		const char *state;
		int err;
	} map[] = {
	    {"23505", -EEXIST},	    {"23P01", -EEXIST},	    {"40001", -EBUSY},
	    {"40P01", -EBUSY},	    {"55P03", -EBUSY},	    {"53300", -EBUSY},
	    {"53100", -ENOSPC},	    {"53200", -ENOMEM},	    {"57014", -ETIMEDOUT},
	    {"57P01", -ECONNRESET}, {"57P02", -ECONNRESET}, {"57P03", -ECONNRESET},
	};
	size_t i;

	if (!state)
		return -EIO;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(state, map[i].state))
			return map[i].err;
	if (!strncmp(state, "08", 2))
		return -ECONNRESET;
	if (!strncmp(state, "22", 2) || !strncmp(state, "23", 2))
		return -EINVAL; /* bad value, NOT NULL or CHECK: the caller's data */
	return -EIO;
}

/* Fills st->err from a failed result (or the connection) and maps it to a negative errno. */
static int pg_fail(struct store *st, const PGresult *res)
{
	struct pg_store *s = st->priv;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	int rc = errno_for_state(state);

	if (PQstatus(s->conn) == CONNECTION_BAD) {
		rc = -ECONNRESET;
		if (!msg)
			msg = PQerrorMessage(s->conn);
	} else if (!msg) {
		msg = res ? PQresultErrorMessage(res) : PQerrorMessage(s->conn);
	}
	/* Only a unique key's detail: others may echo whole rows, secrets included. */
	if (rc == -EEXIST && detail) {
		char m[256];

		trim_copy(m, sizeof(m), "", msg);
		snprintf(st->err, sizeof(st->err), "%s: %s", m, detail);
	} else {
		trim_copy(st->err, sizeof(st->err), "", msg);
	}
	return rc;
}

/* One reconnect attempt when the connection was lost; replays LISTEN on success. */
static int ensure_conn(struct store *st)
{
	struct pg_store *s = st->priv;
	size_t i;

	if (PQstatus(s->conn) == CONNECTION_OK)
		return 0;
	forget_statements(s);
	s->npending = 0;
	PQreset(s->conn);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		trim_copy(st->err, sizeof(st->err),
			  "postgresql reconnect: ", PQerrorMessage(s->conn));
		return -ECONNRESET;
	}
	log_info("store", "postgresql reconnected host=%s db=%s", PQhost(s->conn), PQdb(s->conn));
	for (i = 0; i < MAX_LISTENS; i++) {
		char sql[300];
		PGresult *res;

		if (!s->listens[i])
			continue;
		snprintf(sql, sizeof(sql), "LISTEN %s", s->listens[i]);
		res = PQexec(s->conn, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			int rc = pg_fail(st, res);

			PQclear(res);
			return rc;
		}
		PQclear(res);
	}
	return 0;
}

/* Counts '?' placeholders outside quotes and comments; with out, writes the SQL with $1..$n. */
static size_t placeholders(const char *sql, char *out)
{
	enum { CODE, QUOTE, LINE_COMMENT, BLOCK_COMMENT } state = CODE;
	char quote = 0;
	size_t count = 0, o = 0;
	const char *p;

	for (p = sql; *p; p++) {
		char c = *p;

		switch (state) {
		case CODE:
			if (c == '\'' || c == '"') {
				state = QUOTE;
				quote = c;
			} else if (c == '-' && p[1] == '-') {
				state = LINE_COMMENT;
			} else if (c == '/' && p[1] == '*') {
				state = BLOCK_COMMENT;
			} else if (c == '?') {
				count++;
				if (out)
					o += (size_t)snprintf(out + o, 8, "$%zu", count);
				continue;
			}
			break;
		case QUOTE: /* a doubled quote closes and reopens: same result */
			if (c == quote)
				state = CODE;
			break;
		case LINE_COMMENT:
			if (c == '\n')
				state = CODE;
			break;
		case BLOCK_COMMENT:
			if (c == '*' && p[1] == '/') {
				if (out)
					out[o++] = *p++;
				c = *p;
				state = CODE;
			}
			break;
		}
		if (out)
			out[o++] = c;
	}
	if (out)
		out[o] = 0;
	return count;
}

static struct pg_stmt *prepare(struct store *st, const char *sql, size_t n, int *rcp)
{
	struct pg_store *s = st->priv;
	struct pg_stmt *victim = &s->cache[0];
	char *rewritten = NULL, *key, name[sizeof(victim->name)];
	const char *text = sql;
	PGresult *res;
	size_t i;

	for (i = 0; i < STMT_CACHE; i++) {
		struct pg_stmt *c = &s->cache[i];

		if (c->sql && c->nparams == n && !strcmp(c->sql, sql)) {
			c->used = ++s->clock;
			return c;
		}
		if (!c->sql || (victim->sql && c->used < victim->used))
			victim = c;
	}
	if (!strstr(sql, "$1")) {
		size_t count = placeholders(sql, NULL), len = strlen(sql);

		if (count != n) {
			snprintf(st->err, sizeof(st->err), "%zu placeholders but %zu parameters",
				 count, n);
			*rcp = -EINVAL;
			return NULL;
		}
		rewritten = malloc(len + 6 * count + 1);
		if (!rewritten) {
			*rcp = -ENOMEM;
			return NULL;
		}
		placeholders(sql, rewritten);
		text = rewritten;
	}
	key = strdup(sql);
	if (!key) {
		free(rewritten);
		*rcp = -ENOMEM;
		return NULL;
	}
	snprintf(name, sizeof(name), "mamori_%llu", (unsigned long long)++s->next_name);
	res = PQprepare(s->conn, name, text, (int)n, NULL);
	free(rewritten);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		*rcp = pg_fail(st, res);
		PQclear(res);
		free(key);
		return NULL;
	}
	PQclear(res);
	if (victim->sql) {
		/* After a successful PREPARE the session is healthy: this cannot fail. */
		char dealloc[48];

		snprintf(dealloc, sizeof(dealloc), "DEALLOCATE %s", victim->name);
		PQclear(PQexec(s->conn, dealloc));
		free(victim->sql);
	}
	memcpy(victim->name, name, sizeof(name));
	victim->sql = key;
	victim->nparams = n;
	victim->used = ++s->clock;
	return victim;
}

/* Lays the parameters out as NUL-terminated texts: libpq ignores lengths for text format. */
static int bind_params(struct pg_store *s, const struct store_val *p, size_t n)
{
	size_t i, need = 0, off = 0;
	int rc;

	if (n > s->values_cap) {
		const char **v = realloc(s->values, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->values = v;
		s->values_cap = n;
	}
	for (i = 0; i < n; i++) {
		if (p[i].type == STORE_TEXT && p[i].n > PARAM_CAP)
			return -E2BIG;
		need += p[i].type == STORE_TEXT ? p[i].n + 1 : 24;
	}
	dynbuf_reset(&s->arena);
	rc = dynbuf_reserve(&s->arena, need);
	if (rc)
		return rc == -ENOSPC ? -E2BIG : rc;
	for (i = 0; i < n; i++) {
		char *d = s->arena.data + off;

		switch (p[i].type) {
		case STORE_NULL:
			s->values[i] = NULL;
			continue;
		case STORE_INT:
			off += (size_t)snprintf(d, 24, "%lld", (long long)p[i].i) + 1;
			break;
		case STORE_TEXT:
			if (p[i].n)
				memcpy(d, p[i].s, p[i].n);
			d[p[i].n] = 0;
			off += p[i].n + 1;
			break;
		}
		s->values[i] = d;
	}
	s->arena.len = off;
	return 0;
}

static bool parse_int(const char *v, int64_t *out)
{
	char *end;
	long long x;

	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno || end == v || *end)
		return false;
	*out = x;
	return true;
}

/* Integers (and integral numerics such as sum(bigint), and booleans) come back as STORE_INT
 * like SQLite's INTEGER; everything else as text. */
static void column(const PGresult *res, int row, int col, struct store_val *v)
{
	const char *text = PQgetvalue(res, row, col);
	int64_t x;

	if (PQgetisnull(res, row, col)) {
		*v = (struct store_val){.type = STORE_NULL};
		return;
	}
	switch (PQftype(res, col)) {
	case OID_INT8:
	case OID_INT4:
	case OID_INT2:
	case OID_NUMERIC:
		if (parse_int(text, &x)) {
			*v = store_int(x);
			return;
		}
		break;
	case OID_BOOL:
		*v = store_int(text[0] == 't');
		return;
	}
	*v = store_textn(text, (size_t)PQgetlength(res, row, col));
}

/* Ends a COPY that a plain statement started, which exec does not support. */
static void end_copy(PGconn *conn, ExecStatusType status)
{
	PGresult *r;
	char *buf;

	if (status == PGRES_COPY_IN)
		PQputCopyEnd(conn, "COPY FROM STDIN is not supported by exec");
	if (status == PGRES_COPY_OUT)
		while (PQgetCopyData(conn, &buf, 0) > 0)
			PQfreemem(buf);
	while ((r = PQgetResult(conn)))
		PQclear(r);
}

static int64_t result_rows(struct store *st, PGresult *res, store_row_fn fn, void *ctx)
{
	struct pg_store *s = st->priv;
	ExecStatusType status = PQresultStatus(res);
	struct store_val cols[MAX_COLS];
	int r, c, nr, nc;

	switch (status) {
	case PGRES_TUPLES_OK:
		nr = PQntuples(res);
		nc = PQnfields(res) < MAX_COLS ? PQnfields(res) : MAX_COLS;
		for (r = 0; fn && r < nr; r++) {
			int64_t stop;

			for (c = 0; c < nc; c++)
				column(res, r, c, &cols[c]);
			stop = fn(ctx, cols, (size_t)nc);
			if (stop)
				return stop;
		}
		/* fall through */
	case PGRES_COMMAND_OK:
		return strtoll(PQcmdTuples(res), NULL, 10);
	case PGRES_EMPTY_QUERY:
		return 0;
	case PGRES_COPY_IN:
	case PGRES_COPY_OUT:
	case PGRES_COPY_BOTH:
		end_copy(s->conn, status);
		snprintf(st->err, sizeof(st->err), "COPY is not supported through exec");
		return -EINVAL;
	default:
		return pg_fail(st, res);
	}
}

/* Settles partitions created in a transaction once it has ended. */
static void txn_ended(struct pg_store *s, const char *cmd_status)
{
	size_t i;

	if (!strcmp(cmd_status, "COMMIT")) {
		for (i = 0; i < s->npending; i++) {
			s->days[s->day_next] = s->pending[i];
			s->day_next = (s->day_next + 1) % DAY_CACHE;
			if (s->ndays < DAY_CACHE)
				s->ndays++;
		}
	}
	s->npending = 0;
}

static int64_t pg_exec(struct store *st, const char *sql, const struct store_val *params, size_t n,
		       store_row_fn fn, void *ctx)
{
	struct pg_store *s = st->priv;
	PGTransactionStatusType before;
	PGresult *res;
	int64_t rc;
	int err = 0;

	rc = ensure_conn(st);
	if (rc)
		return rc;
	if (s->txn_lost) {
		if (is_word(sql, "ROLLBACK") || is_word(sql, "ABORT")) {
			s->txn_lost = false;
			return 0;
		}
		if (!is_word(sql, "BEGIN")) {
			snprintf(st->err, sizeof(st->err),
				 "transaction lost with the connection: roll back first");
			return -ECONNRESET;
		}
		s->txn_lost = false;
	}
	if (n > MAX_PARAMS) {
		snprintf(st->err, sizeof(st->err), "too many parameters (%zu)", n);
		return -E2BIG;
	}
	before = PQtransactionStatus(s->conn);
	if (n == 0) {
		res = PQexec(s->conn, sql);
	} else {
		struct pg_stmt *stmt = prepare(st, sql, n, &err);

		if (!stmt) {
			if (err == -ECONNRESET && before != PQTRANS_IDLE)
				s->txn_lost = true;
			return err;
		}
		err = bind_params(s, params, n);
		if (err) {
			snprintf(st->err, sizeof(st->err), "binding parameters: %s",
				 strerror(-err));
			return err;
		}
		res = PQexecPrepared(s->conn, stmt->name, (int)n, s->values, NULL, NULL, 0);
		if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			/* "cached plan must not change result type": prepare again next time. */
			if (state && !strcmp(state, "0A000")) {
				free(stmt->sql);
				stmt->sql = NULL;
			}
		}
	}
	rc = result_rows(st, res, fn, ctx);
	if (PQstatus(s->conn) == CONNECTION_BAD) {
		if (before != PQTRANS_IDLE)
			s->txn_lost = true;
		if (rc >= 0) {
			trim_copy(st->err, sizeof(st->err), "", PQerrorMessage(s->conn));
			rc = -ECONNRESET;
		}
	} else if (PQtransactionStatus(s->conn) == PQTRANS_IDLE) {
		const char *status = res ? PQcmdStatus(res) : "";

		txn_ended(s, status);
		/* COMMIT of a failed transaction rolls back and reports success: report it. */
		if (rc >= 0 && (is_word(sql, "COMMIT") || is_word(sql, "END")) &&
		    !strcmp(status, "ROLLBACK")) {
			snprintf(st->err, sizeof(st->err),
				 "transaction had failed: COMMIT rolled it back");
			rc = -EIO;
		}
	}
	if (rc >= 0 && n == 0 && PQstatus(s->conn) == CONNECTION_OK)
		track_listen(s, sql);
	PQclear(res);
	return rc;
}

static int simple(struct store *st, const char *sql)
{
	int64_t rc = pg_exec(st, sql, NULL, 0, NULL, NULL);

	return rc < 0 ? (int)rc : 0;
}

/* Schema v1: the tables and columns of the SQLite backend; INTEGER becomes BIGINT so values
 * come back as STORE_INT the same way. */
static const char *const schema_v1[] = {
    "CREATE TABLE events (id BIGSERIAL NOT NULL, ts BIGINT NOT NULL, agent_id TEXT, host TEXT,"
    " action TEXT, category TEXT, entity_id TEXT, parent_entity_id TEXT, pid BIGINT,"
    " name TEXT, exe TEXT, hash TEXT, path TEXT, src_ip TEXT, dst_ip TEXT, dst_port BIGINT,"
    " user_name TEXT, dns TEXT, doc JSONB NOT NULL, PRIMARY KEY (id, ts))"
    " PARTITION BY RANGE (ts)",
    "CREATE INDEX events_ts ON events (ts)",
    "CREATE INDEX events_host_ts ON events (host, ts)",
    "CREATE INDEX events_entity ON events (entity_id)",
    "CREATE INDEX events_parent ON events (parent_entity_id) WHERE parent_entity_id IS NOT NULL",
    "CREATE INDEX events_hash ON events (hash) WHERE hash IS NOT NULL",
    "CREATE INDEX events_dst_ip ON events (dst_ip) WHERE dst_ip IS NOT NULL",
    "CREATE INDEX events_path ON events (path) WHERE path IS NOT NULL",
    "CREATE TABLE batches (agent_id TEXT NOT NULL, epoch TEXT NOT NULL, last_seq BIGINT NOT NULL,"
    " PRIMARY KEY (agent_id, epoch))",
    "CREATE TABLE groups (name TEXT PRIMARY KEY, created_at BIGINT NOT NULL)",
    "INSERT INTO groups (name, created_at) VALUES ('default', 0)",
    "CREATE TABLE agents (id TEXT PRIMARY KEY, host_name TEXT NOT NULL, host_id TEXT,"
    " group_name TEXT NOT NULL, removed BIGINT NOT NULL DEFAULT 0, cert_serial TEXT,"
    " enrolled_at BIGINT NOT NULL, last_seen BIGINT NOT NULL DEFAULT 0, version TEXT,"
    " os TEXT, platform TEXT, os_version TEXT, kernel TEXT, ips TEXT, inventory TEXT, health TEXT)",
    "CREATE INDEX agents_name ON agents (host_name)",
    "CREATE TABLE revoked (serial TEXT PRIMARY KEY, agent_id TEXT, revoked_at BIGINT NOT NULL)",
    "CREATE TABLE enroll_tokens (id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL,"
    " group_name TEXT NOT NULL, expires_at BIGINT NOT NULL, created_by TEXT,"
    " created_at BIGINT NOT NULL, uses BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL, pw_hash TEXT NOT NULL,"
    " created_at BIGINT NOT NULL)",
    "CREATE TABLE api_tokens (hash TEXT PRIMARY KEY, user_name TEXT NOT NULL,"
    " created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)",
    "CREATE TABLE audit (id BIGSERIAL PRIMARY KEY, ts BIGINT NOT NULL, user_name TEXT,"
    " method TEXT, path TEXT, status BIGINT, detail TEXT)",
    "CREATE INDEX audit_ts ON audit (ts)",
    "CREATE TABLE commands (id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, type TEXT NOT NULL,"
    " args TEXT, status TEXT NOT NULL, created_at BIGINT NOT NULL, delivered_at BIGINT,"
    " done_at BIGINT, expires_at BIGINT NOT NULL, result TEXT, created_by TEXT)",
    "CREATE INDEX commands_agent ON commands (agent_id, status)",
    NULL,
};

static const char *const schema_v2[] = {
    "CREATE TABLE alerts (id TEXT PRIMARY KEY, ts BIGINT NOT NULL, created BIGINT NOT NULL,"
    " agent_id TEXT, host TEXT, rule_id TEXT NOT NULL, rule_name TEXT, severity BIGINT NOT NULL,"
    " risk_score BIGINT NOT NULL, tactics TEXT, techniques TEXT, entity_id TEXT, exe TEXT,"
    " status TEXT NOT NULL DEFAULT 'open', doc JSONB NOT NULL)",
    "CREATE INDEX alerts_ts ON alerts (ts)",
    "CREATE INDEX alerts_created ON alerts (created)",
    "CREATE INDEX alerts_host_ts ON alerts (host, ts)",
    "CREATE INDEX alerts_rule ON alerts (rule_id, ts)",
    NULL,
};

static const char *const schema_v3[] = {
    "CREATE TABLE prevalence (kind BIGINT NOT NULL, key TEXT NOT NULL,"
    " first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, PRIMARY KEY (kind, key))",
    NULL,
};

static const char *const schema_v4[] = {
    "ALTER TABLE commands ADD COLUMN reason TEXT",
    "CREATE INDEX commands_created ON commands (created_at)",
    NULL,
};

/* Isolation: what the server holds (isolate's arguments and command), and when the agent
 * confirmed it. */
static const char *const schema_v5[] = {
    "ALTER TABLE agents ADD COLUMN isolation TEXT",
    "ALTER TABLE agents ADD COLUMN isolation_cmd TEXT",
    "ALTER TABLE agents ADD COLUMN isolated_at BIGINT",
    NULL,
};

/* Group policies (every version) and the block list of file hashes ('' group: all groups). */
static const char *const schema_v6[] = {
    "CREATE TABLE policies (group_name TEXT NOT NULL, version BIGINT NOT NULL, doc TEXT NOT NULL,"
    " created_by TEXT, created_at BIGINT NOT NULL, reason TEXT, PRIMARY KEY (group_name, version))",
    "CREATE TABLE blocklist (sha256 TEXT NOT NULL, group_name TEXT NOT NULL, created_by TEXT,"
    " created_at BIGINT NOT NULL, reason TEXT, PRIMARY KEY (sha256, group_name))",
    NULL,
};

/* Alert notifications: every version of the routes document, and the outbox of deliveries
 * (one per alert and route; test messages have kind 'test'). */
static const char *const schema_v7[] = {
    "CREATE TABLE notify_routes (version BIGINT PRIMARY KEY, doc TEXT NOT NULL, created_by TEXT,"
    " created_at BIGINT NOT NULL, reason TEXT)",
    "CREATE TABLE notifications (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, alert_id TEXT NOT NULL,"
    " route TEXT NOT NULL, agent_id TEXT, group_name TEXT, host TEXT, rule_name TEXT,"
    " severity BIGINT, status TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,"
    " created_at BIGINT NOT NULL, queued_at BIGINT NOT NULL, next_try BIGINT NOT NULL,"
    " sent_at BIGINT, last_error TEXT, UNIQUE (alert_id, route))",
    "CREATE INDEX notifications_due ON notifications (status, next_try)",
    "CREATE INDEX notifications_created ON notifications (created_at)",
    NULL,
};

/* The source address had no index: a search by either end of a connection should not scan. */
static const char *const schema_v8[] = {
    "CREATE INDEX events_src_ip ON events (src_ip) WHERE src_ip IS NOT NULL",
    NULL,
};

static const char *const *const migrations[] = {schema_v1, schema_v2, schema_v3, schema_v4,
						schema_v5, schema_v6, schema_v7, schema_v8};

static int pg_migrate(struct store *st)
{
	size_t v, nmig = sizeof(migrations) / sizeof(migrations[0]);
	int64_t cur = 0;
	int rc;

	rc = simple(st, "BEGIN");
	if (rc)
		return rc;
	/* Several nodes may start together: the first migrates, the others wait and see it done. */
	rc = simple(st, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")");
	if (!rc)
		rc = simple(st,
			    "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)");
	if (!rc)
		rc = store_query_int(st, "SELECT coalesce(max(version), 0) FROM schema_version",
				     NULL, 0, &cur);
	for (v = (size_t)cur; !rc && v < nmig; v++) {
		const char *const *q;
		struct store_val p[1] = {store_int((int64_t)v + 1)};

		for (q = migrations[v]; *q && !rc; q++)
			rc = simple(st, *q);
		if (rc) {
			char msg[sizeof(st->err)];

			memcpy(msg, st->err, sizeof(msg));
			snprintf(st->err, sizeof(st->err), "v%zu: %.480s", v + 1, msg);
			break;
		}
		rc = store_exec(st, "INSERT INTO schema_version (version) VALUES (?)", p, 1, NULL,
				NULL) < 0
			 ? -EIO
			 : 0;
		if (!rc)
			log_info("store", "postgresql schema migrated to=%zu", v + 1);
	}
	if (!rc)
		rc = store_commit(st);
	if (rc)
		store_rollback(st);
	return rc;
}

static int pg_open(struct store *st, const char *target, char *err, size_t errlen)
{
	/* Later keywords win: the URI (dbname, expanded) may override the defaults before it. */
	static const char *const keys[] = {
	    "application_name",	   "client_encoding",  "connect_timeout", "keepalives_idle",
	    "keepalives_interval", "keepalives_count", "dbname",	  NULL};
	const char *vals[] = {"mamori-server", "UTF8", "10", "30", "10", "3", target, NULL};
	struct pg_store *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->conn = PQconnectdbParams(keys, vals, 1);
	if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
		trim_copy(err, errlen, "postgresql connect: ",
			  s->conn ? PQerrorMessage(s->conn) : "out of memory");
		rc = s->conn ? -ECONNREFUSED : -ENOMEM;
		PQfinish(s->conn);
		free(s);
		return rc;
	}
	PQsetNoticeProcessor(s->conn, notice_log, NULL);
	dynbuf_init(&s->arena, PARAM_CAP);
	dynbuf_init(&s->copy, COPY_CAP);
	st->priv = s;
	st->err[0] = 0;
	log_info("store", "opened postgresql host=%s port=%s db=%s server=%d", PQhost(s->conn),
		 PQport(s->conn), PQdb(s->conn), PQserverVersion(s->conn));
	return 0;
}

static void pg_close(struct store *st)
{
	struct pg_store *s = st->priv;
	size_t i;

	if (!s)
		return;
	forget_statements(s);
	for (i = 0; i < MAX_LISTENS; i++)
		free(s->listens[i]);
	PQfinish(s->conn);
	dynbuf_release(&s->arena);
	dynbuf_release(&s->copy);
	free(s->values);
	free(s);
	st->priv = NULL;
}

static int64_t day_of(int64_t ts)
{
	return ts / NS_PER_DAY - (ts % NS_PER_DAY < 0);
}

static bool day_known(const struct pg_store *s, int64_t day)
{
	size_t i;

	for (i = 0; i < s->ndays; i++)
		if (s->days[i] == day)
			return true;
	for (i = 0; i < s->npending; i++)
		if (s->pending[i] == day)
			return true;
	return false;
}

/* Creates the partition of one UTC day. Another node may be creating it at the same moment:
 * a savepoint keeps the loser's transaction usable. */
static int create_partition(struct store *st, int64_t day)
{
	struct pg_store *s = st->priv;
	bool in_txn = PQtransactionStatus(s->conn) != PQTRANS_IDLE;
	char sql[256], from[24], to[24];
	time_t t = (time_t)(day * 86400);
	int64_t lo, hi;
	struct tm tm;
	PGresult *res;
	const char *state;
	int rc = 0;

	gmtime_r(&t, &tm);
	if (__builtin_mul_overflow(day, NS_PER_DAY, &lo))
		snprintf(from, sizeof(from), "MINVALUE");
	else
		snprintf(from, sizeof(from), "%lld", (long long)lo);
	if (__builtin_mul_overflow(day + 1, NS_PER_DAY, &hi))
		snprintf(to, sizeof(to), "MAXVALUE");
	else
		snprintf(to, sizeof(to), "%lld", (long long)hi);
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE IF NOT EXISTS events_%04d%02d%02d PARTITION OF events"
		 " FOR VALUES FROM (%s) TO (%s)",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, from, to);
	if (in_txn && (rc = simple(st, "SAVEPOINT mamori_partition")))
		return rc;
	res = PQexec(s->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		rc = pg_fail(st, res);
		/* Lost the race: duplicate table, or duplicate row type in pg_type. */
		if (state && (!strcmp(state, "42P07") || !strcmp(state, "23505")))
			rc = 0;
		PQclear(res);
		if (in_txn && PQstatus(s->conn) == CONNECTION_OK) {
			int r2 = simple(st, "ROLLBACK TO SAVEPOINT mamori_partition");

			if (!rc)
				rc = r2;
		}
		if (rc)
			return rc;
	} else {
		PQclear(res);
	}
	if (in_txn && (rc = simple(st, "RELEASE SAVEPOINT mamori_partition")))
		return rc;
	if (!in_txn) {
		s->days[s->day_next] = day;
		s->day_next = (s->day_next + 1) % DAY_CACHE;
		if (s->ndays < DAY_CACHE)
			s->ndays++;
	} else if (s->npending < PENDING_DAYS) {
		s->pending[s->npending++] = day;
	}
	return 0;
}

static int hex4(const unsigned char *p, size_t n)
{
	int v = 0, i;

	if (n < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		int c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (c | 0x20) - 'a' + 10;
		else
			return -1;
	}
	return v;
}

/* Appends one COPY text field. PostgreSQL rejects invalid UTF-8 and NUL, and jsonb rejects
 * \u0000 and unpaired surrogates: those become U+FFFD rather than failing the whole batch. */
static int copy_field(struct dynbuf *b, const char *str, size_t n, bool json)
{
	const unsigned char *p = (const unsigned char *)str;
	char *o;
	size_t i = 0, k;
	int rc;

	if (!str)
		return dynbuf_add(b, "\\N", 2);
	if (n > COPY_CAP / 3)
		return -ENOSPC;
	rc = dynbuf_reserve(b, 3 * n + 1);
	if (rc)
		return rc;
	o = b->data + b->len;
	while (i < n) {
		unsigned char c = p[i];

		if (c >= 0x20 && c < 0x80 && c != '\\') {
			*o++ = (char)c;
			i++;
		} else if (c == '\\' && json && i + 1 < n) {
			/* A JSON escape: "\\" in COPY text, then the escaped character. */
			int cp = p[i + 1] == 'u' ? hex4(p + i + 2, n - i - 2) : -1;
			bool bad = cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF);

			if (cp >= 0xD800 && cp <= 0xDBFF) {
				int lo = i + 7 < n && p[i + 6] == '\\' && p[i + 7] == 'u'
					     ? hex4(p + i + 8, n - i - 8)
					     : -1;

				if (lo >= 0xDC00 && lo <= 0xDFFF) {
					memcpy(o, "\\\\u", 3);
					memcpy(o + 3, p + i + 2, 4);
					memcpy(o + 7, "\\\\u", 3);
					memcpy(o + 10, p + i + 8, 4);
					o += 14;
					i += 12;
					continue;
				}
				bad = true;
			}
			if (bad) {
				memcpy(o, "\\\\ufffd", 7);
				o += 7;
				i += 6;
				continue;
			}
			*o++ = '\\';
			*o++ = '\\';
			i++;
			if (p[i] == '\\') {
				*o++ = '\\';
				*o++ = '\\';
				i++;
			} else if (p[i] >= 0x20 && p[i] < 0x80) {
				*o++ = (char)p[i++];
			} /* else not JSON: the byte goes through the rules below next time */
		} else if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
			*o++ = '\\';
			*o++ = c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
			i++;
		} else if (c < 0x80 && c != 0) {
			*o++ = (char)c;
			i++;
		} else if (c >= 0x80 && (k = utf8_seq_len(p + i, n - i))) {
			memcpy(o, p + i, k);
			o += k;
			i += k;
		} else {
			memcpy(o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	b->len = (size_t)(o - b->data);
	b->data[b->len] = 0;
	return 0;
}

static int copy_int(struct dynbuf *b, int64_t v, bool present)
{
	char num[24];
	int k;

	if (!present)
		return dynbuf_add(b, "\\N", 2);
	k = snprintf(num, sizeof(num), "%lld", (long long)v);
	return dynbuf_add(b, num, (size_t)k);
}

/* One line of COPY text: the columns of COPY_COLUMNS, tab-separated. */
static int copy_row(struct dynbuf *b, const char *agent_id, const struct store_event_row *r)
{
	enum { COL_PID = 6, COL_DST_PORT = 13, NTEXT = 16 };
	const char *text[NTEXT] = {
	    agent_id,  r->host, r->action,    r->category, r->entity_id, r->parent_entity_id,
	    NULL,      r->name, r->exe,	      r->hash,	   r->path,	 r->src_ip,
	    r->dst_ip, NULL,	r->user_name, r->dns};
	int rc = copy_int(b, r->ts, true);
	size_t i;

	for (i = 0; !rc && i < NTEXT; i++) {
		rc = dynbuf_addc(b, '\t');
		if (rc)
			break;
		if (i == COL_PID)
			rc = copy_int(b, r->pid, r->pid >= 0);
		else if (i == COL_DST_PORT)
			rc = copy_int(b, r->dst_port, r->dst_port >= 0);
		else
			rc = copy_field(b, text[i], text[i] ? strlen(text[i]) : 0, false);
	}
	if (!rc)
		rc = dynbuf_addc(b, '\t');
	if (!rc)
		rc = copy_field(b, r->doc ? r->doc : "{}", r->doc ? r->doc_len : 2, true);
	if (!rc)
		rc = dynbuf_addc(b, '\n');
	return rc;
}

static int copy_flush(struct store *st)
{
	struct pg_store *s = st->priv;

	if (!s->copy.len)
		return 0;
	if (PQputCopyData(s->conn, s->copy.data, (int)s->copy.len) != 1)
		return pg_fail(st, NULL);
	dynbuf_reset(&s->copy);
	return 0;
}

static int pg_insert_events(struct store *st, const char *agent_id,
			    const struct store_event_row *rows, size_t n,
			    const struct store_event_text *src)
{
	struct pg_store *s = st->priv;
	PGTransactionStatusType before;
	int64_t last_day = 0;
	PGresult *res;
	size_t i;
	int rc = 0, rc2;

	(void)src; /* each row keeps its own document (jsonb) */
	if (s->txn_lost) {
		snprintf(st->err, sizeof(st->err),
			 "transaction lost with the connection: roll back first");
		return -ECONNRESET;
	}
	rc = ensure_conn(st);
	if (rc || !n)
		return rc;
	before = PQtransactionStatus(s->conn);
	for (i = 0; i < n; i++) {
		int64_t day = day_of(rows[i].ts);

		if (i && day == last_day)
			continue;
		last_day = day;
		if (day_known(s, day))
			continue;
		rc = create_partition(st, day);
		if (rc)
			goto out;
	}
	res = PQexec(s->conn, "COPY events (" COPY_COLUMNS ") FROM STDIN");
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		rc = pg_fail(st, res);
		PQclear(res);
		goto out;
	}
	PQclear(res);
	dynbuf_reset(&s->copy);
	for (i = 0; i < n && !rc; i++) {
		rc = copy_row(&s->copy, agent_id, &rows[i]);
		if (rc)
			snprintf(st->err, sizeof(st->err), "event %zu: %s", i,
				 rc == -ENOSPC ? "too large for COPY" : strerror(-rc));
		else if (s->copy.len >= COPY_FLUSH)
			rc = copy_flush(st);
	}
	if (!rc)
		rc = copy_flush(st);
	if (PQputCopyEnd(s->conn, rc ? "mamori: batch aborted" : NULL) != 1 && !rc)
		rc = pg_fail(st, NULL);
	while ((res = PQgetResult(s->conn))) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			/* No partition for a row: someone dropped one we thought existed. */
			if (state && !strcmp(state, "23514"))
				s->ndays = 0;
			rc2 = pg_fail(st, res);
			if (!rc)
				rc = rc2;
		}
		PQclear(res);
	}
	dynbuf_reset(&s->copy);
out:
	if (PQstatus(s->conn) == CONNECTION_BAD) {
		if (before != PQTRANS_IDLE)
			s->txn_lost = true;
		rc = -ECONNRESET;
	}
	return rc;
}

static int pg_notify_fd(struct store *st)
{
	struct pg_store *s = st->priv;
	int rc = ensure_conn(st);

	if (rc)
		return rc;
	return PQsocket(s->conn) >= 0 ? PQsocket(s->conn) : -ECONNRESET;
}

static int pg_notify_drain(struct store *st,
			   void (*fn)(void *ctx, const char *channel, const char *payload),
			   void *ctx)
{
	struct pg_store *s = st->priv;
	PGTransactionStatusType before = PQtransactionStatus(s->conn);
	PGnotify *note;

	if (!PQconsumeInput(s->conn)) {
		trim_copy(st->err, sizeof(st->err), "postgresql: ", PQerrorMessage(s->conn));
		if (before != PQTRANS_IDLE && PQstatus(s->conn) == CONNECTION_BAD)
			s->txn_lost = true;
		return -ECONNRESET;
	}
	while ((note = PQnotifies(s->conn))) {
		fn(ctx, note->relname, note->extra);
		PQfreemem(note);
	}
	return 0;
}

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .dialect = STORE_DIALECT_PG,
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .migrate = pg_migrate,
    .insert_events = pg_insert_events,
    .notify_fd = pg_notify_fd,
    .notify_drain = pg_notify_drain,
};
