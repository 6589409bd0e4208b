/* The embedded store: SQLite in WAL mode, one connection per struct store (one per thread). */
#include "store.h"
#include "store_sqlite_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"

#include "banned.h"

#define STMT_CACHE 64

struct stmt_slot {
	const char *sql; /* the caller's string: statements are literals or cached by content */
	char *sql_copy;
	sqlite3_stmt *stmt;
	uint64_t used;
};

struct sqlite_store {
	sqlite3 *db;
	struct stmt_slot cache[STMT_CACHE];
	uint64_t clock;
	struct sqlite_events *events;
};

static int fail(struct store *st, int rc)
{
	struct sqlite_store *s = st->priv;

	snprintf(st->err, sizeof(st->err), "%s", s && s->db ? sqlite3_errmsg(s->db) : "sqlite");
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return -EBUSY;
	if (rc == SQLITE_FULL)
		return -ENOSPC;
	if (rc == SQLITE_NOMEM)
		return -ENOMEM;
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return -EIO;
}

static sqlite3_stmt *prepare(struct store *st, const char *sql, int *rcp)
{
	struct sqlite_store *s = st->priv;
	struct stmt_slot *victim = &s->cache[0];
	sqlite3_stmt *stmt;
	size_t i;
	int rc;

	for (i = 0; i < STMT_CACHE; i++) {
		struct stmt_slot *c = &s->cache[i];

		if (c->stmt && !strcmp(c->sql_copy, sql)) {
			c->used = ++s->clock;
			sqlite3_reset(c->stmt);
			sqlite3_clear_bindings(c->stmt);
			return c->stmt;
		}
		if (!c->stmt || c->used < victim->used)
			victim = c;
	}
	rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
	if (rc != SQLITE_OK) {
		*rcp = rc;
		return NULL;
	}
	if (victim->stmt) {
		sqlite3_finalize(victim->stmt);
		free(victim->sql_copy);
	}
	victim->sql_copy = strdup(sql);
	if (!victim->sql_copy) {
		sqlite3_finalize(stmt);
		victim->stmt = NULL;
		*rcp = SQLITE_NOMEM;
		return NULL;
	}
	victim->stmt = stmt;
	victim->used = ++s->clock;
	return stmt;
}

static int bind_all(sqlite3_stmt *stmt, const struct store_val *p, size_t n)
{
	size_t i;
	int rc = SQLITE_OK;

	for (i = 0; i < n && rc == SQLITE_OK; i++) {
		int k = (int)i + 1;

		switch (p[i].type) {
		case STORE_NULL:
			rc = sqlite3_bind_null(stmt, k);
			break;
		case STORE_INT:
			rc = sqlite3_bind_int64(stmt, k, p[i].i);
			break;
		case STORE_TEXT:
			rc = sqlite3_bind_text(stmt, k, p[i].s, (int)p[i].n, SQLITE_STATIC);
			break;
		}
	}
	return rc;
}

static int64_t sqlite_exec(struct store *st, const char *sql, const struct store_val *params,
			   size_t n, store_row_fn fn, void *ctx)
{
	struct sqlite_store *s = st->priv;
	struct store_val cols[64];
	sqlite3_stmt *stmt;
	int rc = SQLITE_OK;
	int64_t result = 0;

	/* A deferred BEGIN reads a snapshot and upgrades to a write at its first INSERT; in WAL
	 * mode that upgrade fails at once (SQLITE_BUSY_SNAPSHOT, no busy wait) when another
	 * connection, such as a second ingest thread, committed meanwhile. Every transaction here
	 * writes: take the write lock up front, where the busy handler waits for it. */
	if (!strcmp(sql, "BEGIN"))
		sql = "BEGIN IMMEDIATE";
	stmt = prepare(st, sql, &rc);
	if (!stmt)
		return fail(st, rc);
	rc = bind_all(stmt, params, n);
	if (rc != SQLITE_OK) {
		result = fail(st, rc);
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int nc = sqlite3_column_count(stmt), i;

		if (!fn)
			continue;
		if (nc > 64)
			nc = 64;
		for (i = 0; i < nc; i++) {
			switch (sqlite3_column_type(stmt, i)) {
			case SQLITE_NULL:
				cols[i] = (struct store_val){.type = STORE_NULL};
				break;
			case SQLITE_INTEGER:
				cols[i] = store_int(sqlite3_column_int64(stmt, i));
				break;
			default:
				cols[i].type = STORE_TEXT;
				cols[i].s = (const char *)sqlite3_column_text(stmt, i);
				cols[i].n = (size_t)sqlite3_column_bytes(stmt, i);
				if (!cols[i].s) {
					cols[i].s = "";
					cols[i].n = 0;
				}
			}
		}
		result = fn(ctx, cols, (size_t)nc);
		if (result) {
			sqlite3_reset(stmt);
			return result;
		}
	}
	if (rc != SQLITE_DONE) {
		result = fail(st, rc);
		goto out;
	}
	result = sqlite3_changes64(s->db);
out:
	sqlite3_reset(stmt);
	return result;
}

static const char *const schema_v1[] = {
    "CREATE TABLE events (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, agent_id TEXT, host TEXT,"
    " action TEXT, category TEXT, entity_id TEXT, parent_entity_id TEXT, pid INTEGER,"
    " name TEXT, exe TEXT, hash TEXT, path TEXT, src_ip TEXT, dst_ip TEXT, dst_port INTEGER,"
    " user_name TEXT, dns TEXT, doc TEXT NOT NULL)",
    "CREATE INDEX events_ts ON events (ts)",
    "CREATE INDEX events_host_ts ON events (host, ts)",
    "CREATE INDEX events_entity ON events (entity_id)",
    "CREATE INDEX events_parent ON events (parent_entity_id) WHERE parent_entity_id IS NOT NULL",
    "CREATE INDEX events_hash ON events (hash) WHERE hash IS NOT NULL",
    "CREATE INDEX events_dst_ip ON events (dst_ip) WHERE dst_ip IS NOT NULL",
    "CREATE INDEX events_path ON events (path) WHERE path IS NOT NULL",
    "CREATE TABLE batches (agent_id TEXT NOT NULL, epoch TEXT NOT NULL, last_seq INTEGER NOT NULL,"
    " PRIMARY KEY (agent_id, epoch))",
    "CREATE TABLE groups (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL)",
    "INSERT INTO groups (name, created_at) VALUES ('default', 0)",
    "CREATE TABLE agents (id TEXT PRIMARY KEY, host_name TEXT NOT NULL, host_id TEXT,"
    " group_name TEXT NOT NULL, removed INTEGER NOT NULL DEFAULT 0, cert_serial TEXT,"
    " enrolled_at INTEGER NOT NULL, last_seen INTEGER NOT NULL DEFAULT 0, version TEXT,"
    " os TEXT, platform TEXT, os_version TEXT, kernel TEXT, ips TEXT, inventory TEXT,"
    " health TEXT)",
    "CREATE INDEX agents_name ON agents (host_name)",
    "CREATE TABLE revoked (serial TEXT PRIMARY KEY, agent_id TEXT, revoked_at INTEGER NOT NULL)",
    "CREATE TABLE enroll_tokens (id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL,"
    " group_name TEXT NOT NULL, expires_at INTEGER NOT NULL, created_by TEXT,"
    " created_at INTEGER NOT NULL, uses INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL, pw_hash TEXT NOT NULL,"
    " created_at INTEGER NOT NULL)",
    "CREATE TABLE api_tokens (hash TEXT PRIMARY KEY, user_name TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)",
    "CREATE TABLE audit (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, user_name TEXT,"
    " method TEXT, path TEXT, status INTEGER, detail TEXT)",
    "CREATE INDEX audit_ts ON audit (ts)",
    "CREATE TABLE commands (id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, type TEXT NOT NULL,"
    " args TEXT, status TEXT NOT NULL, created_at INTEGER NOT NULL, delivered_at INTEGER,"
    " done_at INTEGER, expires_at INTEGER NOT NULL, result TEXT, created_by TEXT)",
    "CREATE INDEX commands_agent ON commands (agent_id, status)",
    NULL,
};

static const char *const schema_v2[] = {
    "CREATE TABLE alerts (id TEXT PRIMARY KEY, ts INTEGER NOT NULL, created INTEGER NOT NULL,"
    " agent_id TEXT, host TEXT, rule_id TEXT NOT NULL, rule_name TEXT, severity INTEGER NOT NULL,"
    " risk_score INTEGER NOT NULL, tactics TEXT, techniques TEXT, entity_id TEXT, exe TEXT,"
    " status TEXT NOT NULL DEFAULT 'open', doc TEXT NOT NULL)",
    "CREATE INDEX alerts_ts ON alerts (ts)",
    "CREATE INDEX alerts_created ON alerts (created)",
    "CREATE INDEX alerts_host_ts ON alerts (host, ts)",
    "CREATE INDEX alerts_rule ON alerts (rule_id, ts)",
    NULL,
};

static const char *const schema_v3[] = {
    "CREATE TABLE prevalence (kind INTEGER NOT NULL, key TEXT NOT NULL,"
    " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, PRIMARY KEY (kind, key))",
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
    "ALTER TABLE agents ADD COLUMN isolated_at INTEGER",
    NULL,
};

/* Group policies (every version) and the block list of file hashes ('' group: all groups). */
static const char *const schema_v6[] = {
    "CREATE TABLE policies (group_name TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL,"
    " created_by TEXT, created_at INTEGER NOT NULL, reason TEXT, PRIMARY KEY (group_name, version))",
    "CREATE TABLE blocklist (sha256 TEXT NOT NULL, group_name TEXT NOT NULL, created_by TEXT,"
    " created_at INTEGER NOT NULL, reason TEXT, PRIMARY KEY (sha256, group_name))",
    NULL,
};

/* Alert notifications: every version of the routes document, and the outbox of deliveries
 * (one per alert and route; test messages have kind 'test'). */
static const char *const schema_v7[] = {
    "CREATE TABLE notify_routes (version INTEGER PRIMARY KEY, doc TEXT NOT NULL, created_by TEXT,"
    " created_at INTEGER NOT NULL, reason TEXT)",
    "CREATE TABLE notifications (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, alert_id TEXT NOT NULL,"
    " route TEXT NOT NULL, agent_id TEXT, group_name TEXT, host TEXT, rule_name TEXT,"
    " severity INTEGER, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL, queued_at INTEGER NOT NULL, next_try INTEGER NOT NULL,"
    " sent_at INTEGER, last_error TEXT, UNIQUE (alert_id, route))",
    "CREATE INDEX notifications_due ON notifications (status, next_try)",
    "CREATE INDEX notifications_created ON notifications (created_at)",
    NULL,
};

/* v8: events stored by batch in blocks (store_sqlite_events.c); v8_step moves the old rows. */
static const char *const *const migrations[] = {schema_v1, schema_v2, schema_v3, schema_v4,
						schema_v5, schema_v6, schema_v7,
						sqlite_events_schema_v8};

static int v8_step(struct sqlite_store *s, char *err, size_t errlen)
{
	return sqlite_events_convert_v7(s->db, s->events, err, errlen);
}

static int (*const migration_steps[])(struct sqlite_store *, char *, size_t) = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, v8_step};

static int sqlite_migrate(struct store *st)
{
	size_t v, nmig = sizeof(migrations) / sizeof(migrations[0]);
	int64_t cur = 0;
	int rc;

	if (store_exec(st, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
		       NULL, 0, NULL, NULL) < 0)
		return -EIO;
	rc = store_query_int(st, "SELECT max(version) FROM schema_version", NULL, 0, &cur);
	if (rc && rc != -ENOENT)
		return rc;
	for (v = (size_t)cur; v < nmig; v++) {
		const char *const *q;
		struct store_val p[1];

		rc = store_begin(st);
		if (rc)
			return rc;
		for (q = migrations[v]; *q; q++) {
			/* DDL runs once: no statement cache. */
			char *msg = NULL;
			struct sqlite_store *s = st->priv;

			if (sqlite3_exec(s->db, *q, NULL, NULL, &msg) != SQLITE_OK) {
				snprintf(st->err, sizeof(st->err), "v%zu: %s", v + 1,
					 msg ? msg : "?");
				sqlite3_free(msg);
				store_rollback(st);
				return -EIO;
			}
		}
		if (migration_steps[v]) {
			char msg[256];

			if (migration_steps[v](st->priv, msg, sizeof(msg)) != SQLITE_OK) {
				snprintf(st->err, sizeof(st->err), "v%zu: %s", v + 1, msg);
				store_rollback(st);
				return -EIO;
			}
		}
		p[0] = store_int((int64_t)v + 1);
		if (store_exec(st, "INSERT INTO schema_version (version) VALUES (?)", p, 1, NULL,
			       NULL) < 0 ||
		    store_commit(st)) {
			store_rollback(st);
			return -EIO;
		}
		log_info("store", "sqlite schema migrated to=%zu", v + 1);
	}
	return 0;
}

/* Waits for another connection's write lock in 1 ms steps, for about 10 s. sqlite3_busy_timeout()
 * sleeps in steps of up to 100 ms, which leaves an ingest thread idle long after the lock is
 * free. */
static int busy_wait(void *ctx, int count)
{
	struct timespec ts = {0, 1000000};

	(void)ctx;
	if (count >= 10000)
		return 0;
	nanosleep(&ts, NULL);
	return 1;
}

/* Before SQLite initialises: no global memory statistics, which take a mutex on every malloc. */
static void sqlite_configure(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int sqlite_open(struct store *st, const char *path, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	struct sqlite_store *s = calloc(1, sizeof(*s));
	static const char *const pragmas[] = {
	    /* 16 KiB pages for a new database (an existing one keeps its size): a batch appends
	     * rows, index entries and a block blob, and bigger pages mean fewer page splits, WAL
	     * frames and overflow pages; ingest measured 1.2x faster than with 4 KiB. */
	    "PRAGMA page_size=16384", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
	    "PRAGMA foreign_keys=OFF", "PRAGMA temp_store=MEMORY", "PRAGMA cache_size=-65536",
	    NULL};
	int rc;

	pthread_once(&once, sqlite_configure);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->priv = s;
	rc = sqlite3_open_v2(
	    path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "sqlite open %s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		sqlite3_close(s->db);
		free(s);
		st->priv = NULL;
		return -EIO;
	}
	sqlite3_busy_handler(s->db, busy_wait, NULL);
	s->events = sqlite_events_new();
	if (!s->events || sqlite_events_register(s->db, s->events) != SQLITE_OK) {
		snprintf(err, errlen, "sqlite: cannot register the event functions");
		sqlite3_close(s->db);
		sqlite_events_free(s->events);
		free(s);
		st->priv = NULL;
		return -ENOMEM;
	}
	for (const char *const *p = pragmas; *p; p++) {
		if (sqlite3_exec(s->db, *p, NULL, NULL, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "sqlite %s: %s", *p, sqlite3_errmsg(s->db));
			sqlite3_close(s->db);
			sqlite_events_free(s->events);
			free(s);
			st->priv = NULL;
			return -EIO;
		}
	}
	/* Checkpoint every 64 MiB of WAL (4,096 pages of 16 KiB, 16,384 of 4 KiB) rather than every
	 * 1,000 pages: a batch writes more than that, so SQLite checkpointed after every commit. */
	{
		sqlite3_stmt *q;
		int page = 4096;

		if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &q, NULL) == SQLITE_OK) {
			if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) > 0)
				page = sqlite3_column_int(q, 0);
			sqlite3_finalize(q);
		}
		(void)sqlite3_wal_autocheckpoint(s->db, (64 << 20) / page);
	}
	return 0;
}

static void sqlite_close(struct store *st)
{
	struct sqlite_store *s = st->priv;
	size_t i;

	if (!s)
		return;
	for (i = 0; i < STMT_CACHE; i++) {
		sqlite3_finalize(s->cache[i].stmt);
		free(s->cache[i].sql_copy);
	}
	sqlite_events_finalize(s->events);
	sqlite3_close(s->db);
	sqlite_events_free(s->events);
	free(s);
	st->priv = NULL;
}

/* A result of store_sqlite_events.c: 0, or the errno of its SQLite code with its message. */
static int events_result(struct store *st, int rc, const char *err)
{
	if (rc == SQLITE_OK)
		return 0;
	rc = fail(st, rc);
	if (err[0])
		snprintf(st->err, sizeof(st->err), "%s", err);
	return rc;
}

static int sqlite_insert_events(struct store *st, const char *agent_id,
				const struct store_event_row *rows, size_t n,
				const struct store_event_text *src)
{
	struct sqlite_store *s = st->priv;
	char err[200] = "";
	int rc = sqlite_events_insert(s->db, s->events, agent_id, rows, n, src, err, sizeof(err));

	return events_result(st, rc, err);
}

static int sqlite_prepare_events(struct store *st, const struct store_event_row *rows, size_t n,
				 const struct store_event_text *src)
{
	struct sqlite_store *s = st->priv;
	char err[200] = "";
	int rc = sqlite_events_prepare(s->events, rows, n, src, err, sizeof(err));

	return events_result(st, rc, err);
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .dialect = STORE_DIALECT_SQLITE,
    .open = sqlite_open,
    .close = sqlite_close,
    .exec = sqlite_exec,
    .migrate = sqlite_migrate,
    .insert_events = sqlite_insert_events,
    .prepare_events = sqlite_prepare_events,
};
