/* Store behaviour, the same suite against both backends: SQLite (a temp file) always, and
 * PostgreSQL when MAMORI_TEST_PG holds a URI (each test gets a fresh database on that server,
 * dropped afterwards). MAMORI_TEST_ROWS sets the bulk test's row count (default 5000). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
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
#include <libpq-fe.h>

#include <sqlite3.h>

#include "batch_codec.h"
#include "dynbuf.h"
#include "event_bloom.h"
#include "store.h"

#define DAY_NS 86400000000000LL
#define TS_2024_03_01 (1709251200LL * 1000000000LL)

struct ctx {
	bool pg;
	char base[1024]; /* PostgreSQL: the URI from MAMORI_TEST_PG */
	char dir[64];	 /* SQLite: the temp directory */
	char db[64];	 /* PostgreSQL: this test's database */
	char target[1200];
	unsigned seq;
};

/* ---- fixtures ---- */

static void admin_exec(const char *uri, const char *sql)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("admin connect: %s", PQerrorMessage(c));
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

/* The base URI with its database replaced by db (query parameters kept). */
static void uri_with_db(const char *base, const char *db, char *out, size_t size)
{
	const char *auth = strstr(base, "://"), *path, *query;

	assert_non_null(auth);
	auth += 3;
	path = auth + strcspn(auth, "/?");
	query = path + strcspn(path, "?");
	snprintf(out, size, "%.*s/%s%s", (int)(path - base), base, db, query);
}

static int group_setup_sqlite(void **state)
{
	static struct ctx c;

	snprintf(c.dir, sizeof(c.dir), "/tmp/mamori-store-XXXXXX");
	if (!mkdtemp(c.dir))
		return -1;
	*state = &c;
	return 0;
}

static int group_teardown_sqlite(void **state)
{
	struct ctx *c = *state;

	return rmdir(c->dir);
}

static int group_setup_pg(void **state)
{
	static struct ctx c = {.pg = true};

	snprintf(c.base, sizeof(c.base), "%s", getenv("MAMORI_TEST_PG"));
	*state = &c;
	return 0;
}

static int fresh_setup(void **state)
{
	struct ctx *c = *state;

	c->seq++;
	if (c->pg) {
		char sql[128];
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(c->db, sizeof(c->db), "mamori_test_%d_%u_%lx", (int)getpid(), c->seq,
			 (unsigned long)ts.tv_nsec);
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", c->db);
		admin_exec(c->base, sql);
		uri_with_db(c->base, c->db, c->target, sizeof(c->target));
	} else {
		snprintf(c->target, sizeof(c->target), "sqlite:%s/t%u.db", c->dir, c->seq);
	}
	return 0;
}

static int fresh_teardown(void **state)
{
	struct ctx *c = *state;

	if (c->pg) {
		char sql[128];

		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", c->db);
		admin_exec(c->base, sql);
	} else {
		static const char *const suffix[] = {"", "-wal", "-shm"};
		char path[1300];

		for (size_t i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s%s", c->target + 7, suffix[i]);
			unlink(path);
		}
	}
	return 0;
}

/* ---- helpers ---- */

static struct store *open_store(const struct ctx *c)
{
	char err[512] = "";
	struct store *st = store_open(c->target, err, sizeof(err));

	if (!st)
		fail_msg("store_open %s: %s", c->target, err);
	return st;
}

static int64_t query_int(struct store *st, const char *sql, const struct store_val *p, size_t n)
{
	int64_t v = -12345;
	int rc = store_query_int(st, sql, p, n, &v);

	if (rc)
		fail_msg("%s: %d %s", sql, rc, store_error(st));
	return v;
}

static void exec_ok(struct store *st, const char *sql, const struct store_val *p, size_t n)
{
	int64_t rc = store_exec(st, sql, p, n, NULL, NULL);

	if (rc < 0)
		fail_msg("%s: %" PRId64 " %s", sql, rc, store_error(st));
}

static int64_t count_events(struct store *st, const char *agent)
{
	struct store_val p[] = {store_text(agent)};

	return query_int(st, "SELECT count(*) FROM events WHERE agent_id = ?", p, 1);
}

/* n plausible events from ts0, step ns apart; docs[] holds their JSON. */
struct batch {
	struct store_event_row *rows;
	char (*docs)[512];
	char (*ents)[40];
	size_t n;
};

static void batch_make(struct batch *b, size_t n, int64_t ts0, int64_t step)
{
	b->n = n;
	b->rows = calloc(n, sizeof(*b->rows));
	b->docs = calloc(n, sizeof(*b->docs));
	b->ents = calloc(n, sizeof(*b->ents));
	assert_true(b->rows && b->docs && b->ents);
	for (size_t i = 0; i < n; i++) {
		struct store_event_row *r = &b->rows[i];
		int len;

		snprintf(b->ents[i], sizeof(b->ents[i]), "ent-%08zx-%08x", i, (unsigned)rand());
		r->ts = ts0 + (int64_t)i * step;
		r->pid = 1000 + (int64_t)i;
		r->dst_port = i % 3 ? -1 : 443;
		r->host = "web-01";
		r->action = i % 3 ? "exec" : "connect";
		r->category = i % 3 ? "process" : "network";
		r->entity_id = b->ents[i];
		r->parent_entity_id = i ? b->ents[i - 1] : NULL;
		r->name = "curl";
		r->exe = "/usr/bin/curl";
		r->hash = i % 2 ? "3f786850e387550fdab836ed7e6dc881de23001b" : NULL;
		r->path = "/tmp/x";
		r->dst_ip = i % 3 ? NULL : "93.184.216.34";
		r->user_name = "www-data";
		len = snprintf(b->docs[i], sizeof(b->docs[i]),
			       "{\"@timestamp\":%" PRId64 ",\"event\":{\"action\":\"%s\","
			       "\"category\":[\"%s\"]},\"host\":{\"name\":\"web-01\"},"
			       "\"process\":{\"pid\":%" PRId64 ",\"name\":\"curl\","
			       "\"executable\":\"/usr/bin/curl\",\"args\":[\"curl\",\"-s\","
			       "\"https://example.com/a?b=c\"],\"entity_id\":\"%s\"},"
			       "\"user\":{\"name\":\"www-data\"}}",
			       r->ts, r->action, r->category, r->pid, b->ents[i]);
		r->doc = b->docs[i];
		r->doc_len = (size_t)len;
	}
}

static void batch_free(struct batch *b)
{
	free(b->rows);
	free(b->docs);
	free(b->ents);
}

static void ingest(struct store *st, const char *agent, uint64_t epoch, uint64_t seq,
		   const struct batch *b, bool want_dup)
{
	bool dup = !want_dup;
	int rc = store_ingest_batch(st, agent, epoch, seq, b->rows, b->n, NULL, NULL, 0, &dup);

	if (rc)
		fail_msg("ingest %s/%" PRIu64 ": %d %s", agent, seq, rc, store_error(st));
	assert_int_equal(dup, want_dup);
}

struct captured {
	size_t nrows, ncols;
	struct store_val v[8];
	char text[8][256];
};

static int capture_row(void *ctx, const struct store_val *cols, size_t ncols)
{
	struct captured *cap = ctx;

	cap->nrows++;
	cap->ncols = ncols;
	for (size_t i = 0; i < ncols && i < 8; i++) {
		cap->v[i] = cols[i];
		if (cols[i].type == STORE_TEXT) {
			assert_true(cols[i].n < sizeof(cap->text[i]));
			memcpy(cap->text[i], cols[i].s, cols[i].n);
			cap->text[i][cols[i].n] = 0;
			cap->v[i].s = cap->text[i];
		}
	}
	return 0;
}

/* ---- tests ---- */

static void test_open_migrates_idempotent(void **state)
{
	struct ctx *c = *state;

	for (int round = 0; round < 3; round++) {
		struct store *st = open_store(c);
		struct store_val p[] = {store_text("default")};

		assert_int_equal(store_dialect(st),
				 c->pg ? STORE_DIALECT_PG : STORE_DIALECT_SQLITE);
		/* SQLite's v8 is its block layout of events; PostgreSQL's the source address index. */
		int64_t want = 8;

		assert_int_equal(query_int(st, "SELECT max(version) FROM schema_version", NULL, 0),
				 want);
		assert_int_equal(query_int(st, "SELECT count(*) FROM schema_version", NULL, 0),
				 want);
		assert_int_equal(query_int(st, "SELECT count(*) FROM alerts", NULL, 0), 0);
		assert_int_equal(
		    query_int(st, "SELECT count(*) FROM commands WHERE reason IS NULL", NULL, 0),
		    0);
		assert_int_equal(query_int(st, "SELECT count(*) FROM groups WHERE name = ?", p, 1),
				 1);
		assert_int_equal(query_int(st, "SELECT count(*) FROM events", NULL, 0), 0);
		store_close(st);
	}
}

/* Alerts commit with their batch; the same alert id (raised by the agent, then by the server, or
 * in a redelivered batch) is stored once; a duplicate batch stores none of its alerts. */
static void test_alerts_with_batch(void **state)
{
	struct store *st = open_store(*state);
	struct batch b;
	bool dup;
	static const char doc[] = "{\"rule\":{\"id\":\"r1\"}}";
	struct store_alert_row al[] = {
	    {.id = "a1",
	     .ts = TS_2024_03_01,
	     .created = TS_2024_03_01 + 1,
	     .agent_id = "agent-x",
	     .host = "h1",
	     .rule_id = "r1",
	     .rule_name = "Rule one",
	     .severity = 3,
	     .risk_score = 73,
	     .tactics = "Execution",
	     .techniques = "T1059.004,T1105",
	     .entity_id = "e1",
	     .exe = "/usr/bin/curl",
	     .doc = doc,
	     .doc_len = sizeof(doc) - 1},
	    {.id = "a1",
	     .ts = TS_2024_03_01,
	     .created = TS_2024_03_01 + 2,
	     .agent_id = "agent-x",
	     .rule_id = "r1",
	     .severity = 3,
	     .risk_score = 73,
	     .tactics = "",
	     .techniques = "",
	     .doc = doc,
	     .doc_len = sizeof(doc) - 1},
	};

	batch_make(&b, 3, TS_2024_03_01, 0);
	assert_int_equal(store_ingest_batch(st, "agent-x", 1, 1, b.rows, b.n, NULL, al, 2, &dup), 0);
	assert_false(dup);
	assert_int_equal(query_int(st, "SELECT count(*) FROM alerts", NULL, 0), 1);
	assert_int_equal(query_int(st, "SELECT severity FROM alerts WHERE id = 'a1'", NULL, 0), 3);
	al[0].id = "a2";
	assert_int_equal(store_ingest_batch(st, "agent-x", 1, 1, b.rows, b.n, NULL, al, 1, &dup), 0);
	assert_true(dup);
	assert_int_equal(query_int(st, "SELECT count(*) FROM alerts", NULL, 0), 1);
	assert_int_equal(store_ingest_batch(st, "agent-x", 1, 2, b.rows, 0, NULL, al, 1, &dup), 0);
	assert_int_equal(query_int(st, "SELECT count(*) FROM alerts", NULL, 0), 2);
	batch_free(&b);
	store_close(st);
}

static void test_params_round_trip(void **state)
{
	static const char who[] = "O'Brien \"q\" ? ; -- ünïcödé 日本語 🙂 \\ end";
	static const char path[] = "/api/v1/x?y='z'&w=\"?\"";
	struct store *st = open_store(*state);
	struct captured cap = {0};
	char method[] = "POSTXXXX"; /* the value is the first 4 bytes: not NUL-terminated there */
	struct store_val ins[] = {store_int(INT64_MAX), store_text(who), store_textn(method, 4),
				  store_text(path),	store_int(-42),	 store_text(NULL)};
	struct store_val q[] = {store_text(who)};
	int64_t rc;

	rc = store_exec(st,
			"INSERT INTO audit (ts, user_name, method, path, status, detail)"
			" VALUES (?, ?, ?, ?, ?, ?)",
			ins, 6, NULL, NULL);
	assert_int_equal(rc, 1);
	rc = store_exec(st,
			"SELECT ts, user_name, method, path, status, detail FROM audit"
			" WHERE user_name = ?",
			q, 1, capture_row, &cap);
	assert_true(rc >= 0);
	assert_int_equal(cap.nrows, 1);
	assert_int_equal(cap.ncols, 6);
	assert_int_equal(cap.v[0].type, STORE_INT);
	assert_true(cap.v[0].i == INT64_MAX);
	assert_int_equal(cap.v[1].type, STORE_TEXT);
	assert_int_equal(cap.v[1].n, strlen(who));
	assert_string_equal(cap.v[1].s, who);
	assert_int_equal(cap.v[2].n, 4);
	assert_string_equal(cap.v[2].s, "POST");
	assert_string_equal(cap.v[3].s, path);
	assert_int_equal(cap.v[4].type, STORE_INT);
	assert_int_equal(cap.v[4].i, -42);
	assert_int_equal(cap.v[5].type, STORE_NULL);

	/* '?' inside literals is not a placeholder; empty text is not NULL. */
	{
		struct store_val p[] = {store_text(path)};
		struct store_val e[] = {store_int(1), store_text("")};

		assert_int_equal(query_int(st,
					   "SELECT count(*) FROM audit WHERE path = ? AND method <>"
					   " 'a?b' AND detail IS NULL -- really?",
					   p, 1),
				 1);
		exec_ok(st, "INSERT INTO audit (ts, detail) VALUES (?, ?)", e, 2);
		assert_int_equal(
		    query_int(st, "SELECT count(*) FROM audit WHERE detail = ''", NULL, 0), 1);
	}
	store_close(st);
}

static void test_query_helpers(void **state)
{
	struct store *st = open_store(*state);
	struct store_val none[] = {store_text("nope")}, dflt[] = {store_text("default")};
	struct store_val zero[] = {store_int(0)};
	char buf[32];
	int64_t v = 7;

	assert_int_equal(
	    store_query_int(st, "SELECT created_at FROM groups WHERE name = ?", none, 1, &v),
	    -ENOENT);
	assert_int_equal(v, 7);
	assert_int_equal(
	    store_query_int(st, "SELECT created_at FROM groups WHERE name = ?", dflt, 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(store_query_text(st, "SELECT name FROM groups WHERE created_at = ?", zero,
					  1, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "default");
	assert_int_equal(store_query_text(st, "SELECT name FROM groups WHERE name = ?", none, 1,
					  buf, sizeof(buf)),
			 -ENOENT);
	/* A bad statement is an error with a reason, not "no row". */
	v = store_query_int(st, "SELECT nope FROM nowhere", NULL, 0, &v);
	assert_true(v < 0 && v != -ENOENT);
	assert_true(strlen(store_error(st)) > 0);
	/* and the store is still usable */
	assert_int_equal(query_int(st, "SELECT count(*) FROM groups", NULL, 0), 1);
	store_close(st);
}

static void test_ingest_dedup(void **state)
{
	struct store *st = open_store(*state);
	struct batch b1, b2;
	struct store_val p[] = {store_text("agent-a")};

	batch_make(&b1, 3, TS_2024_03_01 + 1000, 1000);
	batch_make(&b2, 2, TS_2024_03_01 + 5000, 1000);
	ingest(st, "agent-a", 0xabcdef, 1, &b1, false);
	assert_int_equal(count_events(st, "agent-a"), 3);
	ingest(st, "agent-a", 0xabcdef, 1, &b1, true); /* replay */
	ingest(st, "agent-a", 0xabcdef, 0, &b2, true); /* older */
	assert_int_equal(count_events(st, "agent-a"), 3);
	ingest(st, "agent-a", 0xabcdef, 2, &b2, false);
	assert_int_equal(count_events(st, "agent-a"), 5);
	assert_int_equal(query_int(st, "SELECT last_seq FROM batches WHERE agent_id = ?", p, 1), 2);
	/* A new spool starts again at 1; the old epoch keeps its own high mark. */
	ingest(st, "agent-a", UINT64_MAX, 1, &b1, false);
	assert_int_equal(count_events(st, "agent-a"), 8);
	ingest(st, "agent-a", 0xabcdef, 2, &b2, true);
	/* Another agent with the same epoch and seq is independent. */
	ingest(st, "agent-b", 0xabcdef, 1, &b1, false);
	assert_int_equal(count_events(st, "agent-b"), 3);
	/* An empty batch still advances the sequence. */
	{
		struct batch e = {0};

		ingest(st, "agent-b", 0xabcdef, 9, &e, false);
		ingest(st, "agent-b", 0xabcdef, 9, &e, true);
	}
	batch_free(&b1);
	batch_free(&b2);
	store_close(st);
}

static void test_two_days(void **state)
{
	struct ctx *c = *state;
	struct store *st = open_store(c);
	struct batch b;

	/* 2024-02-29 23:59:59.5 and 2024-03-01 00:00:00.0 (leap day), then 00:00:00.5. */
	batch_make(&b, 3, TS_2024_03_01 - 500000000LL, 500000000LL);
	ingest(st, "agent-d", 1, 1, &b, false);
	assert_int_equal(count_events(st, "agent-d"), 3);
	if (c->pg) {
		assert_int_equal(query_int(st, "SELECT count(*) FROM events_20240229", NULL, 0), 1);
		assert_int_equal(query_int(st, "SELECT count(*) FROM events_20240301", NULL, 0), 2);
		assert_int_equal(query_int(st,
					   "SELECT count(*) FROM pg_inherits WHERE inhparent ="
					   " 'events'::regclass",
					   NULL, 0),
				 2);
		/* Indexes defined on the parent exist on each partition: time, host, entity, parent,
		 * hash, both addresses and path. */
		assert_true(query_int(st,
				      "SELECT count(*) FROM pg_indexes WHERE tablename ="
				      " 'events_20240229'",
				      NULL, 0) >= 9);
		assert_int_equal(query_int(st,
					   "SELECT count(*) FROM pg_indexes WHERE tablename ="
					   " 'events_20240229' AND indexdef LIKE '%(src_ip)%'",
					   NULL, 0),
				 1);
	}
	{
		struct store_val p[] = {store_int(TS_2024_03_01)};

		assert_int_equal(query_int(st, "SELECT count(*) FROM events WHERE ts >= ?", p, 1),
				 2);
	}
	batch_free(&b);
	store_close(st);
}

static void test_unique_violation(void **state)
{
	struct store *st = open_store(*state);
	struct store_val u[] = {store_text("alice"), store_text("admin"), store_text("$argon2id$x"),
				store_int(1)};
	const char *sql = "INSERT INTO users (name, role, pw_hash, created_at) VALUES (?, ?, ?, ?)";

	exec_ok(st, sql, u, 4);
	assert_int_equal(store_exec(st, sql, u, 4, NULL, NULL), -EEXIST);
	assert_true(strlen(store_error(st)) > 0);
	/* Same inside a transaction, which the caller then rolls back. */
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_exec(st, sql, u, 4, NULL, NULL), -EEXIST);
	store_rollback(st);
	assert_int_equal(query_int(st, "SELECT count(*) FROM users", NULL, 0), 1);
	store_close(st);
}

static void test_rollback(void **state)
{
	struct store *st = open_store(*state);
	struct store_val u[] = {store_text("bob"), store_text("viewer"), store_text("h"),
				store_int(2)};
	struct batch b;

	assert_int_equal(store_begin(st), 0);
	exec_ok(st, "INSERT INTO users (name, role, pw_hash, created_at) VALUES (?, ?, ?, ?)", u,
		4);
	assert_int_equal(query_int(st, "SELECT count(*) FROM users", NULL, 0), 1);
	store_rollback(st);
	assert_int_equal(query_int(st, "SELECT count(*) FROM users", NULL, 0), 0);

	/* Events of a new day inserted then rolled back: the day's partition goes with them,
	 * and a later insert for that day must create it again. */
	batch_make(&b, 4, TS_2024_03_01 + 40 * DAY_NS, 1000);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(st->ops->insert_events(st, "agent-r", b.rows, b.n, NULL), 0);
	assert_int_equal(count_events(st, "agent-r"), 4);
	store_rollback(st);
	assert_int_equal(count_events(st, "agent-r"), 0);
	ingest(st, "agent-r", 1, 1, &b, false);
	assert_int_equal(count_events(st, "agent-r"), 4);
	batch_free(&b);
	store_close(st);
}

static void test_retention(void **state)
{
	struct store *st = open_store(*state);
	struct batch old, cur;

	batch_make(&old, 10, TS_2024_03_01 - 30 * DAY_NS, DAY_NS / 4); /* spans 3 days */
	batch_make(&cur, 5, TS_2024_03_01, 1000);
	ingest(st, "agent-t", 1, 1, &old, false);
	ingest(st, "agent-t", 1, 2, &cur, false);
	assert_int_equal(store_retention(st, TS_2024_03_01 - 10 * DAY_NS), 10);
	assert_int_equal(count_events(st, "agent-t"), 5);
	assert_int_equal(store_retention(st, TS_2024_03_01 - 10 * DAY_NS), 0);
	batch_free(&old);
	batch_free(&cur);
	store_close(st);
}

static void test_types(void **state)
{
	struct store *st = open_store(*state);
	struct store_val p[] = {store_int(INT64_MAX - 1)};
	struct captured cap = {0};

	/* Booleans, sums and casts come back as integers on both backends. */
	assert_true(store_exec(st,
			       "SELECT count(*) > 0, sum(created_at), CAST(? AS BIGINT) + 1,"
			       " name, NULL FROM groups GROUP BY name",
			       p, 1, capture_row, &cap) >= 0);
	assert_int_equal(cap.nrows, 1);
	assert_int_equal(cap.v[0].type, STORE_INT);
	assert_int_equal(cap.v[0].i, 1);
	assert_int_equal(cap.v[1].type, STORE_INT);
	assert_int_equal(cap.v[1].i, 0);
	assert_int_equal(cap.v[2].type, STORE_INT);
	assert_true(cap.v[2].i == INT64_MAX);
	assert_int_equal(cap.v[3].type, STORE_TEXT);
	assert_int_equal(cap.v[4].type, STORE_NULL);
	store_close(st);
}

static int stop_after_one(void *ctx, const struct store_val *cols, size_t ncols)
{
	(void)cols;
	(void)ncols;
	++*(int *)ctx;
	return 42;
}

static void test_statement_cache(void **state)
{
	struct store *st = open_store(*state);
	char sql[128];
	int calls = 0;

	/* More distinct statements than the cache holds, then the first ones again. */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 100; i++) {
			struct store_val p[] = {store_int(i)};

			snprintf(sql, sizeof(sql), "SELECT CAST(? AS BIGINT) + %d", i);
			assert_int_equal(query_int(st, sql, p, 1), 2 * i);
		}
	}
	/* Prepared inside a rolled-back transaction, still usable afterwards. */
	{
		struct store_val p[] = {store_text("default")};
		const char *q = "SELECT created_at + 5 FROM groups WHERE name = ?";

		assert_int_equal(store_begin(st), 0);
		assert_int_equal(query_int(st, q, p, 1), 5);
		store_rollback(st);
		assert_int_equal(query_int(st, q, p, 1), 5);
	}
	/* A callback's non-zero result stops the rows and becomes the result. */
	assert_int_equal(store_exec(st, "SELECT name FROM groups UNION ALL SELECT 'x'", NULL, 0,
				    stop_after_one, &calls),
			 42);
	assert_int_equal(calls, 1);
	store_close(st);
}

static void test_copy_escapes(void **state)
{
	struct ctx *c = *state;
	static const char path[] = "C:\\dir\\tab\there\nnew line\rcr \\N \\\\ end";
	static const char doc[] = "{\"m\":\"tab\\there \\\\ back \\\"q\\\" nul\\u0000 lone\\ud800"
				  " pair\\ud83d\\ude00 \xc3\xa9\",\"p\":\"C:\\\\N\"}";
	struct store_event_row r = {.doc = doc,
				    .doc_len = sizeof(doc) - 1,
				    .ts = TS_2024_03_01 + 7,
				    .pid = -1,
				    .dst_port = 65535,
				    .host = "h\tost",
				    .path = path,
				    .name = "bad\xff\xfe utf8 \xe2\x82",
				    .exe = ""};
	struct batch b = {.rows = &r, .n = 1};
	struct store *st = open_store(c);
	char buf[256];

	ingest(st, "agent-e", 1, 1, &b, false);
	assert_int_equal(store_query_text(st, "SELECT path FROM events", NULL, 0, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, path);
	assert_int_equal(store_query_text(st, "SELECT host FROM events", NULL, 0, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "h\tost");
	assert_int_equal(store_query_text(st, "SELECT exe FROM events", NULL, 0, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "");
	assert_int_equal(query_int(st, "SELECT count(*) FROM events WHERE pid IS NULL", NULL, 0),
			 1);
	assert_int_equal(query_int(st, "SELECT dst_port FROM events", NULL, 0), 65535);
	assert_int_equal(store_query_text(st, "SELECT name FROM events", NULL, 0, buf, sizeof(buf)),
			 0);
	if (c->pg) {
		/* PostgreSQL takes only valid UTF-8: bad bytes became U+FFFD instead of failing
		 * the batch, and so did the escapes jsonb refuses. */
		assert_string_equal(buf,
				    "bad\xef\xbf\xbd\xef\xbf\xbd utf8 \xef\xbf\xbd\xef\xbf\xbd");
		assert_int_equal(
		    store_query_text(st, "SELECT doc->>'m' FROM events", NULL, 0, buf, sizeof(buf)),
		    0);
		assert_string_equal(buf, "tab\there \\ back \"q\" nul\xef\xbf\xbd lone\xef\xbf\xbd"
					 " pair\xf0\x9f\x98\x80 \xc3\xa9");
		assert_int_equal(
		    store_query_text(st, "SELECT doc->>'p' FROM events", NULL, 0, buf, sizeof(buf)),
		    0);
		assert_string_equal(buf, "C:\\N");
	} else {
		assert_string_equal(buf, r.name);
		assert_int_equal(
		    store_query_text(st, "SELECT doc FROM event_docs", NULL, 0, buf, sizeof(buf)),
		    0);
		assert_string_equal(buf, doc);
	}
	store_close(st);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_bulk(void **state)
{
	struct ctx *c = *state;
	const char *env = getenv("MAMORI_TEST_ROWS");
	size_t n = env ? strtoul(env, NULL, 10) : 5000;
	struct store *st = open_store(c);
	struct batch b;
	double t0, dt;

	if (n == 0)
		n = 5000;
	batch_make(&b, n, TS_2024_03_01 + 3 * DAY_NS, 1000000);
	ingest(st, "agent-w", 1, 1, &b, false); /* creates the partition: not timed */
	t0 = now_s();
	ingest(st, "agent-b", 1, 1, &b, false);
	dt = now_s() - t0;
	printf("store/%s: %zu rows in one batch: %.1f ms, %.0f rows/s\n", c->pg ? "pg" : "sqlite",
	       n, dt * 1e3, (double)n / dt);
	assert_int_equal(count_events(st, "agent-b"), (int64_t)n);
	batch_free(&b);
	store_close(st);
}

struct notes {
	int n;
	char channel[64], payload[128];
};

static void on_note(void *ctx, const char *channel, const char *payload)
{
	struct notes *nt = ctx;

	nt->n++;
	snprintf(nt->channel, sizeof(nt->channel), "%s", channel);
	snprintf(nt->payload, sizeof(nt->payload), "%s", payload);
}

static void wait_note(struct store *st, struct notes *nt)
{
	double deadline = now_s() + 5;

	while (!nt->n && now_s() < deadline) {
		struct pollfd pfd = {.fd = st->ops->notify_fd(st), .events = POLLIN};

		assert_true(pfd.fd >= 0);
		poll(&pfd, 1, 200);
		assert_int_equal(st->ops->notify_drain(st, on_note, nt), 0);
	}
}

static void test_notify(void **state)
{
	struct ctx *c = *state;
	struct store *listener, *sender;
	struct notes nt = {0};
	struct store_val p[] = {store_text("mamori_commands"), store_text("agent-42")};

	if (!c->pg)
		skip();
	listener = open_store(c);
	sender = open_store(c);
	assert_non_null(listener->ops->notify_fd);
	exec_ok(listener, "LISTEN mamori_commands", NULL, 0);
	exec_ok(sender, "NOTIFY mamori_commands, 'agent-7'", NULL, 0);
	wait_note(listener, &nt);
	assert_int_equal(nt.n, 1);
	assert_string_equal(nt.channel, "mamori_commands");
	assert_string_equal(nt.payload, "agent-7");
	/* Sent inside a transaction: delivered on commit only. */
	memset(&nt, 0, sizeof(nt));
	assert_int_equal(store_begin(sender), 0);
	exec_ok(sender, "SELECT pg_notify(?, ?)", p, 2);
	assert_int_equal(listener->ops->notify_drain(listener, on_note, &nt), 0);
	assert_int_equal(nt.n, 0);
	assert_int_equal(store_commit(sender), 0);
	wait_note(listener, &nt);
	assert_string_equal(nt.payload, "agent-42");
	store_close(sender);
	store_close(listener);
}

static void kill_backend(struct store *victim, struct store *killer)
{
	struct store_val p[1];

	p[0] = store_int(query_int(victim, "SELECT pg_backend_pid()", NULL, 0));
	assert_int_equal(
	    query_int(killer, "SELECT pg_terminate_backend(CAST(? AS INTEGER), 5000)", p, 1), 1);
}

static void test_reconnect(void **state)
{
	struct ctx *c = *state;
	struct store *st, *admin;
	struct notes nt = {0};
	struct store_val p[] = {store_text("mamori_commands"), store_text("after")};
	struct store_val u[] = {store_text("carol"), store_text("admin"), store_text("h"),
				store_int(3)};
	struct batch b;

	if (!c->pg)
		skip();
	st = open_store(c);
	admin = open_store(c);
	exec_ok(st, "LISTEN mamori_commands", NULL, 0);
	kill_backend(st, admin);
	/* The call that finds the connection dead fails; the next one reconnects once. */
	assert_int_equal(store_exec(st, "SELECT 1", NULL, 0, NULL, NULL), -ECONNRESET);
	assert_int_equal(query_int(st, "SELECT 1", NULL, 0), 1);
	/* LISTEN was replayed on the new session. */
	exec_ok(admin, "SELECT pg_notify(?, ?)", p, 2);
	wait_note(st, &nt);
	assert_string_equal(nt.payload, "after");

	/* Lost inside a transaction: nothing runs in autocommit until the caller rolls back. */
	batch_make(&b, 2, TS_2024_03_01, 1);
	assert_int_equal(store_begin(st), 0);
	kill_backend(st, admin);
	assert_int_equal(st->ops->insert_events(st, "agent-x", b.rows, b.n, NULL), -ECONNRESET);
	assert_int_equal(store_exec(st,
				    "INSERT INTO users (name, role, pw_hash, created_at)"
				    " VALUES (?, ?, ?, ?)",
				    u, 4, NULL, NULL),
			 -ECONNRESET);
	store_rollback(st);
	assert_int_equal(query_int(st, "SELECT count(*) FROM users", NULL, 0), 0);
	ingest(st, "agent-x", 1, 1, &b, false);
	assert_int_equal(count_events(st, "agent-x"), 2);
	batch_free(&b);
	store_close(admin);
	store_close(st);
}

static void test_pg_dialect(void **state)
{
	struct ctx *c = *state;
	struct store *st;
	struct store_val p[] = {store_int(5), store_int(6)};

	if (!c->pg)
		skip();
	st = open_store(c);
	/* $n passes through as is; with no parameters '?' is left alone (jsonb operator). */
	assert_int_equal(query_int(st, "SELECT $2::bigint - $1::bigint", p, 2), 1);
	assert_int_equal(query_int(st, "SELECT count(*) FROM events WHERE doc ? 'x'", NULL, 0), 0);
	assert_int_equal(store_exec(st, "SELECT ?", p, 2, NULL, NULL), -EINVAL);
	/* COMMIT of a failed transaction must not look like success. */
	assert_int_equal(store_begin(st), 0);
	assert_true(store_exec(st, "SELECT nope", NULL, 0, NULL, NULL) < 0);
	assert_true(store_commit(st) < 0);
	store_rollback(st);
	assert_int_equal(query_int(st, "SELECT 1", NULL, 0), 1);
	assert_int_equal(store_exec(st, "", NULL, 0, NULL, NULL), 0);
	{
		char app[64];

		assert_int_equal(store_query_text(st, "SELECT current_setting('application_name')",
						  NULL, 0, app, sizeof(app)),
				 0);
		assert_string_equal(app, "mamori-server");
	}
	store_close(st);
}

struct node {
	const struct ctx *c;
	pthread_barrier_t *go;
	int id, rc;
	char err[512];
};

static void *node_main(void *arg)
{
	struct node *nd = arg;
	struct store *st;
	struct batch b;
	char agent[32];
	bool dup;

	pthread_barrier_wait(nd->go);
	st = store_open(nd->c->target, nd->err, sizeof(nd->err));
	if (!st) {
		nd->rc = -1;
		return NULL;
	}
	snprintf(agent, sizeof(agent), "node-%d", nd->id);
	batch_make(&b, 100, TS_2024_03_01 + 60 * DAY_NS, 1000);
	nd->rc = store_ingest_batch(st, agent, 1, 1, b.rows, b.n, NULL, NULL, 0, &dup);
	if (nd->rc)
		snprintf(nd->err, sizeof(nd->err), "%s", store_error(st));
	batch_free(&b);
	store_close(st);
	return NULL;
}

/* Server nodes starting together on an empty database: one migrates, all create the same
 * day's partition at once and all their rows land. */
static void test_nodes_race(void **state)
{
	struct ctx *c = *state;
	enum { NODES = 4 };
	struct node nodes[NODES];
	pthread_t th[NODES];
	pthread_barrier_t go;
	struct store *st;

	if (!c->pg)
		skip();
	pthread_barrier_init(&go, NULL, NODES);
	for (int i = 0; i < NODES; i++) {
		nodes[i] = (struct node){.c = c, .go = &go, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, node_main, &nodes[i]), 0);
	}
	for (int i = 0; i < NODES; i++) {
		pthread_join(th[i], NULL);
		if (nodes[i].rc)
			fail_msg("node %d: %d %s", i, nodes[i].rc, nodes[i].err);
	}
	pthread_barrier_destroy(&go);
	st = open_store(c);
	assert_int_equal(query_int(st, "SELECT count(*) FROM events", NULL, 0), NODES * 100);
	assert_int_equal(query_int(st, "SELECT count(*) FROM schema_version", NULL, 0), 8);
	store_close(st);
}

/* SQLite: a batch received compressed is stored as one block, its frames as sent; each event's
 * document reads back through the frame index, the block filter finds exact values, a damaged
 * block reads as NULL documents, and retention removes blocks with their events. */
static void test_sqlite_blocks(void **state)
{
	struct ctx *c = *state;
	struct store *st;
	struct batch b;
	struct dynbuf text, z;
	struct store_event_text src;
	char buf[600];
	bool dup;

	if (c->pg)
		skip();
	st = open_store(c);
	batch_make(&b, 400, TS_2024_03_01, 1000);
	/* The NDJSON text the rows point into: about 130 KiB, so several 64 KiB frames. */
	dynbuf_init(&text, 1 << 20);
	dynbuf_init(&z, 1 << 20);
	size_t *at = calloc(b.n, sizeof(*at));

	assert_non_null(at);
	for (size_t i = 0; i < b.n; i++) {
		at[i] = text.len;
		assert_int_equal(dynbuf_add(&text, b.docs[i], b.rows[i].doc_len), 0);
		assert_int_equal(dynbuf_addc(&text, '\n'), 0);
	}
	for (size_t i = 0; i < b.n; i++) /* once text stops moving */
		b.rows[i].doc = text.data + at[i];
	free(at);
	assert_int_equal(batch_compress(text.data, text.len, 3, &z), 0);
	src = (struct store_event_text){text.data, text.len, z.data, z.len};
	assert_int_equal(store_ingest_batch(st, "agent-b", 1, 1, b.rows, b.n, &src, NULL, 0, &dup),
			 0);
	assert_int_equal(query_int(st, "SELECT count(*) FROM event_blocks", NULL, 0), 1);
	assert_int_equal(query_int(st, "SELECT length(data) FROM event_blocks", NULL, 0),
			 (int64_t)z.len);
	assert_true(query_int(st, "SELECT length(frames) / 8 - 1 FROM event_blocks", NULL, 0) >= 2);
	for (size_t i = 0; i < b.n; i += 37) {
		struct store_val p[] = {store_text(b.ents[i])};

		assert_int_equal(store_query_text(st, "SELECT doc FROM event_docs WHERE entity_id = ?",
						  p, 1, buf, sizeof(buf)),
				 0);
		assert_int_equal(strlen(buf), b.rows[i].doc_len);
		assert_memory_equal(buf, b.docs[i], b.rows[i].doc_len);
	}
	{
		struct store_val p[] = {store_int((int64_t)event_bloom_key("entity_id", b.ents[5],
									     strlen(b.ents[5]))),
					store_int((int64_t)event_bloom_key("entity_id", "absent", 6))};

		assert_int_equal(query_int(st, "SELECT count(*) FROM event_blocks WHERE"
					       " mamori_bloom(bloom, ?)", p, 1),
				 1);
		assert_int_equal(query_int(st, "SELECT count(*) FROM event_blocks WHERE"
					       " mamori_bloom(bloom, ?)", p + 1, 1),
				 0);
	}
	/* Rows whose documents are elsewhere: the store joins and compresses them itself. */
	{
		struct batch b2;

		batch_make(&b2, 3, TS_2024_03_01 + DAY_NS, 1000);
		ingest(st, "agent-b", 1, 2, &b2, false);
		assert_int_equal(query_int(st, "SELECT count(*) FROM event_blocks", NULL, 0), 2);
		for (size_t i = 0; i < b2.n; i++) {
			struct store_val p[] = {store_text(b2.ents[i])};

			assert_int_equal(store_query_text(st, "SELECT doc FROM event_docs WHERE"
							      " entity_id = ?",
							  p, 1, buf, sizeof(buf)),
					 0);
			assert_string_equal(buf, b2.docs[i]);
		}
		batch_free(&b2);
	}
	/* A damaged block: its documents read as NULL, nothing crashes, other blocks still read. */
	store_close(st);
	st = open_store(c);
	assert_int_equal(store_exec(st, "UPDATE event_blocks SET data = x'28b52ffd00' WHERE id = 1",
				    NULL, 0, NULL, NULL),
			 1);
	assert_int_equal(query_int(st, "SELECT count(*) FROM event_docs WHERE doc IS NULL", NULL, 0),
			 (int64_t)b.n);
	assert_int_equal(query_int(st, "SELECT count(*) FROM event_docs WHERE doc IS NOT NULL",
				   NULL, 0),
			 3);
	/* Retention: the first day's events go, and their block with them. */
	assert_int_equal(store_retention(st, TS_2024_03_01 + DAY_NS), (int64_t)b.n);
	assert_int_equal(query_int(st, "SELECT count(*) FROM event_blocks", NULL, 0), 1);
	assert_int_equal(query_int(st, "SELECT count(*) FROM events", NULL, 0), 3);
	store_close(st);
	dynbuf_release(&text);
	dynbuf_release(&z);
	batch_free(&b);
}

/* A database at schema v7 (one row per event, its document inline) opens at v8 with every event
 * moved into blocks, in order, documents intact, per agent. */
static void test_sqlite_migrate_v7(void **state)
{
	struct ctx *c = *state;
	static const char *const v7[] = {
	    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
	    "INSERT INTO schema_version VALUES (1), (2), (3), (4), (5), (6), (7)",
	    "CREATE TABLE events (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, agent_id TEXT,"
	    " host TEXT, action TEXT, category TEXT, entity_id TEXT, parent_entity_id TEXT,"
	    " pid INTEGER, name TEXT, exe TEXT, hash TEXT, path TEXT, src_ip TEXT, dst_ip TEXT,"
	    " dst_port INTEGER, user_name TEXT, dns TEXT, doc TEXT NOT NULL)",
	    "CREATE INDEX events_ts ON events (ts)",
	    "CREATE INDEX events_entity ON events (entity_id)",
	    "INSERT INTO events (ts, agent_id, host, entity_id, pid, dst_port, doc) VALUES"
	    " (10, 'a1', 'h1', 'e1', 5, NULL, '{\"n\":1}'), (20, 'a1', 'h1', 'e2', NULL, 443,"
	    " '{\"n\":2}'), (30, 'a2', 'h2', 'e3', 7, NULL, '{\"n\":3}'), (40, 'a1', 'h1', 'e4',"
	    " 8, NULL, '{\"n\":4,\"s\":\"\u00e9\"}')",
	    NULL};
	sqlite3 *db;
	struct store *st;
	char buf[64];

	if (c->pg)
		skip();
	assert_int_equal(sqlite3_open(c->target + 7, &db), SQLITE_OK);
	for (size_t i = 0; v7[i]; i++)
		if (sqlite3_exec(db, v7[i], NULL, NULL, NULL) != SQLITE_OK)
			fail_msg("%s: %s", v7[i], sqlite3_errmsg(db));
	sqlite3_close(db);
	st = open_store(c);
	assert_int_equal(query_int(st, "SELECT max(version) FROM schema_version", NULL, 0), 8);
	assert_int_equal(query_int(st, "SELECT count(*) FROM sqlite_master WHERE name ="
				       " 'events_v7'", NULL, 0),
			 0);
	assert_int_equal(query_int(st, "SELECT count(*) FROM events", NULL, 0), 4);
	/* a1, a2, a1: three blocks, the order of the events kept */
	assert_int_equal(query_int(st, "SELECT count(*) FROM event_blocks", NULL, 0), 3);
	assert_int_equal(store_query_text(st, "SELECT group_concat(entity_id) FROM (SELECT"
					      " entity_id FROM events ORDER BY id)",
					  NULL, 0, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "e1,e2,e3,e4");
	assert_int_equal(store_query_text(st, "SELECT group_concat(doc, '|') FROM (SELECT doc FROM"
					      " event_docs ORDER BY id)",
					  NULL, 0, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "{\"n\":1}|{\"n\":2}|{\"n\":3}|{\"n\":4,\"s\":\"\u00e9\"}");
	assert_int_equal(query_int(st, "SELECT count(*) FROM events WHERE pid IS NULL", NULL, 0), 1);
	assert_int_equal(query_int(st, "SELECT dst_port FROM events WHERE entity_id = 'e2'", NULL,
				   0),
			 443);
	assert_int_equal(query_int(st, "SELECT count(*) FROM events WHERE agent_id = 'a1'", NULL, 0),
			 3);
	store_close(st);
}

/* PostgreSQL at v7 with day partitions holding events: opening migrates to v8, which builds the
 * source-address index on every existing partition, and keeps the rows. */
static void test_pg_migrate_v8(void **state)
{
	struct ctx *c = *state;
	struct store *st;
	struct batch b;

	if (!c->pg)
		skip();
	st = open_store(c);
	batch_make(&b, 3, TS_2024_03_01 - 500000000LL, 500000000LL);
	ingest(st, "agent-m", 1, 1, &b, false);
	batch_free(&b);
	/* Back to v7: the index did not exist then. */
	exec_ok(st, "DROP INDEX events_src_ip", NULL, 0);
	exec_ok(st, "DELETE FROM schema_version WHERE version = 8", NULL, 0);
	assert_int_equal(query_int(st,
				   "SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%(src_ip)%'",
				   NULL, 0),
			 0);
	store_close(st);

	st = open_store(c);
	assert_int_equal(query_int(st, "SELECT max(version) FROM schema_version", NULL, 0), 8);
	assert_int_equal(count_events(st, "agent-m"), 3);
	/* The parent's index and one per existing partition (both days). */
	assert_int_equal(query_int(st,
				   "SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%(src_ip)%'"
				   " AND tablename IN ('events', 'events_20240229', 'events_20240301')",
				   NULL, 0),
			 3);
	store_close(st);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fresh_setup, fresh_teardown)

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    T(test_open_migrates_idempotent),
	    T(test_alerts_with_batch),
	    T(test_params_round_trip),
	    T(test_query_helpers),
	    T(test_ingest_dedup),
	    T(test_two_days),
	    T(test_unique_violation),
	    T(test_rollback),
	    T(test_retention),
	    T(test_types),
	    T(test_statement_cache),
	    T(test_copy_escapes),
	    T(test_bulk),
	    T(test_notify),
	    T(test_reconnect),
	    T(test_pg_dialect),
	    T(test_nodes_race),
	    T(test_sqlite_blocks),
	    T(test_sqlite_migrate_v7),
	    T(test_pg_migrate_v8),
	};
	const char *pg = getenv("MAMORI_TEST_PG");
	int failed;

	srand((unsigned)getpid());
	failed = cmocka_run_group_tests_name("store/sqlite", tests, group_setup_sqlite,
					     group_teardown_sqlite);
	if (!pg || !*pg) {
		printf("SKIP pg: set MAMORI_TEST_PG\n");
		return failed;
	}
	return failed + cmocka_run_group_tests_name("store/pg", tests, group_setup_pg, NULL);
}
