/* Backend selection and the dialect-neutral helpers of struct store. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#include "banned.h"

struct store_val store_text(const char *s)
{
	if (!s)
		return (struct store_val){.type = STORE_NULL};
	return (struct store_val){.type = STORE_TEXT, .s = s, .n = strlen(s)};
}

struct store *store_open(const char *target, char *err, size_t errlen)
{
	const struct store_ops *ops = &store_sqlite_ops;
	const char *arg = target;
	struct store *st;
	int rc;

	if (!strncmp(target, "postgresql://", 13) || !strncmp(target, "postgres://", 11) ||
	    !strncmp(target, "pg:", 3)) {
		ops = &store_pg_ops;
		if (!strncmp(target, "pg:", 3))
			arg = target + 3;
	} else if (!strncmp(target, "sqlite:", 7)) {
		arg = target + 7;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->ops = ops;
	rc = ops->open(st, arg, err, errlen);
	if (rc) {
		free(st);
		errno = -rc;
		return NULL;
	}
	rc = ops->migrate(st);
	if (rc) {
		snprintf(err, errlen, "schema migration failed: %s", st->err);
		ops->close(st);
		free(st);
		errno = -rc;
		return NULL;
	}
	return st;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	st->ops->close(st);
	free(st);
}

const char *store_error(const struct store *st)
{
	return st->err;
}

enum store_dialect store_dialect(const struct store *st)
{
	return st->ops->dialect;
}

int64_t store_exec(struct store *st, const char *sql, const struct store_val *params, size_t n,
		   store_row_fn fn, void *ctx)
{
	return st->ops->exec(st, sql, params, n, fn, ctx);
}

int store_begin(struct store *st)
{
	int64_t rc = store_exec(st, "BEGIN", NULL, 0, NULL, NULL);

	return rc < 0 ? (int)rc : 0;
}

int store_commit(struct store *st)
{
	int64_t rc = store_exec(st, "COMMIT", NULL, 0, NULL, NULL);

	return rc < 0 ? (int)rc : 0;
}

void store_rollback(struct store *st)
{
	char saved[sizeof(st->err)];

	/* Keep the error that caused the rollback. */
	memcpy(saved, st->err, sizeof(saved));
	store_exec(st, "ROLLBACK", NULL, 0, NULL, NULL);
	memcpy(st->err, saved, sizeof(saved));
}

struct first_int {
	int64_t v;
	bool found;
};

static int first_int_row(void *ctx, const struct store_val *cols, size_t ncols)
{
	struct first_int *f = ctx;

	if (ncols < 1 || f->found)
		return 0;
	f->found = true;
	if (cols[0].type == STORE_INT)
		f->v = cols[0].i;
	else if (cols[0].type == STORE_TEXT)
		f->v = strtoll(cols[0].s, NULL, 10);
	else
		f->found = false;
	return 0;
}

int store_query_int(struct store *st, const char *sql, const struct store_val *params, size_t n,
		    int64_t *out)
{
	struct first_int f = {0};
	int64_t rc = store_exec(st, sql, params, n, first_int_row, &f);

	if (rc < 0)
		return (int)rc;
	if (!f.found)
		return -ENOENT;
	*out = f.v;
	return 0;
}

struct first_text {
	char *buf;
	size_t size;
	bool found;
};

static int first_text_row(void *ctx, const struct store_val *cols, size_t ncols)
{
	struct first_text *f = ctx;
	size_t k;

	if (ncols < 1 || f->found || cols[0].type == STORE_NULL)
		return 0;
	f->found = true;
	if (cols[0].type == STORE_INT) {
		snprintf(f->buf, f->size, "%lld", (long long)cols[0].i);
		return 0;
	}
	k = cols[0].n < f->size - 1 ? cols[0].n : f->size - 1;
	memcpy(f->buf, cols[0].s, k);
	f->buf[k] = 0;
	return 0;
}

int store_query_text(struct store *st, const char *sql, const struct store_val *params, size_t n,
		     char *buf, size_t size)
{
	struct first_text f = {.buf = buf, .size = size};
	int64_t rc;

	if (size)
		buf[0] = 0;
	rc = store_exec(st, sql, params, n, first_text_row, &f);
	if (rc < 0)
		return (int)rc;
	return f.found ? 0 : -ENOENT;
}

int store_insert_alerts(struct store *st, const struct store_alert_row *alerts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct store_alert_row *a = &alerts[i];
		struct store_val p[] = {
		    store_text(a->id),	      store_int(a->ts),
		    store_int(a->created),    store_text(a->agent_id),
		    store_text(a->host),      store_text(a->rule_id),
		    store_text(a->rule_name), store_int(a->severity),
		    store_int(a->risk_score), store_text(a->tactics),
		    store_text(a->techniques), store_text(a->entity_id),
		    store_text(a->exe),	      store_textn(a->doc, a->doc_len)};
		int64_t r = store_exec(
		    st,
		    store_dialect(st) == STORE_DIALECT_PG
			? "INSERT INTO alerts (id, ts, created, agent_id, host, rule_id, rule_name, "
			  "severity, risk_score, tactics, techniques, entity_id, exe, doc) VALUES "
			  "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb) ON CONFLICT (id) DO NOTHING"
			: "INSERT INTO alerts (id, ts, created, agent_id, host, rule_id, rule_name, "
			  "severity, risk_score, tactics, techniques, entity_id, exe, doc) VALUES "
			  "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
		    p, sizeof(p) / sizeof(p[0]), NULL, NULL);
		if (r < 0)
			return (int)r;
	}
	return 0;
}

int store_ingest_batch(struct store *st, const char *agent_id, uint64_t epoch, uint64_t seq,
		       const struct store_event_row *rows, size_t n,
		       const struct store_event_text *src, const struct store_alert_row *alerts,
		       size_t nalerts, bool *duplicate)
{
	char ep[17];
	int64_t last = -1;
	int rc;

	*duplicate = false;
	snprintf(ep, sizeof(ep), "%016llx", (unsigned long long)epoch);
	if (n && st->ops->prepare_events && (rc = st->ops->prepare_events(st, rows, n, src)) != 0)
		return rc;
	rc = store_begin(st);
	if (rc)
		goto forget;
	{
		struct store_val p[] = {store_text(agent_id), store_text(ep)};

		rc = store_query_int(
		    st, "SELECT last_seq FROM batches WHERE agent_id = ? AND epoch = ?", p, 2,
		    &last);
		if (rc && rc != -ENOENT)
			goto fail;
	}
	if (last >= 0 && (uint64_t)last >= seq) {
		*duplicate = true;
		store_rollback(st);
		rc = 0;
		goto forget;
	}
	if (n) {
		rc = st->ops->insert_events(st, agent_id, rows, n, src);
		if (rc)
			goto fail;
	}
	if (nalerts) {
		rc = store_insert_alerts(st, alerts, nalerts);
		if (rc)
			goto fail;
	}
	{
		struct store_val p[] = {store_text(agent_id), store_text(ep),
					store_int((int64_t)seq)};
		int64_t r =
		    store_exec(st,
			       "INSERT INTO batches (agent_id, epoch, last_seq) VALUES (?, ?, ?) "
			       "ON CONFLICT (agent_id, epoch) DO UPDATE SET last_seq = "
			       "excluded.last_seq",
			       p, 3, NULL, NULL);
		if (r < 0) {
			rc = (int)r;
			goto fail;
		}
	}
	rc = store_commit(st);
	if (rc)
		goto fail;
	return 0;
fail:
	store_rollback(st);
forget:
	if (n && st->ops->prepare_events)
		st->ops->prepare_events(st, NULL, 0, NULL);
	return rc;
}

struct partitions {
	char (*names)[32];
	size_t n, cap;
};

static int partition_row(void *ctx, const struct store_val *c, size_t n)
{
	struct partitions *p = ctx;

	if (n < 1 || c[0].type != STORE_TEXT || c[0].n != 15 || memcmp(c[0].s, "events_", 7))
		return 0;
	for (size_t i = 7; i < 15; i++)
		if (c[0].s[i] < '0' || c[0].s[i] > '9')
			return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		char(*names)[32] = realloc(p->names, cap * sizeof(*names));

		if (!names)
			return -ENOMEM;
		p->names = names;
		p->cap = cap;
	}
	memcpy(p->names[p->n], c[0].s, 15);
	p->names[p->n++][15] = 0;
	return 0;
}

/* PostgreSQL: drops the day partitions that end at or before the cutoff (counting their rows
 * first) instead of deleting their rows one by one. Returns rows dropped or a negative errno. */
static int64_t drop_old_partitions(struct store *st, int64_t cutoff_ns)
{
	struct partitions p = {0};
	int64_t total = 0, r = store_exec(st,
					  "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c"
					  " ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass",
					  NULL, 0, partition_row, &p);

	for (size_t i = 0; r >= 0 && i < p.n; i++) {
		struct tm tm = {0};
		char sql[96];
		int64_t rows = 0;
		time_t day;

		if (sscanf(p.names[i] + 7, "%4d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
			continue;
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		day = timegm(&tm);
		if (day == (time_t)-1 || (int64_t)day + 86400 > cutoff_ns / 1000000000ll)
			continue;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", p.names[i]);
		if ((r = store_query_int(st, sql, NULL, 0, &rows)) < 0)
			break;
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", p.names[i]);
		if ((r = store_exec(st, sql, NULL, 0, NULL, NULL)) < 0)
			break;
		log_info("store", "retention dropped partition=%s rows=%lld", p.names[i],
			 (long long)rows);
		total += rows;
	}
	free(p.names);
	return r < 0 ? r : total;
}

int64_t store_retention(struct store *st, int64_t cutoff_ns)
{
	struct store_val p[] = {store_int(cutoff_ns)};
	int64_t dropped = 0, n, b;

	if (store_dialect(st) == STORE_DIALECT_PG) {
		dropped = drop_old_partitions(st, cutoff_ns);
		if (dropped < 0)
			return dropped;
	}
	n = store_exec(st, "DELETE FROM events WHERE ts < ?", p, 1, NULL, NULL);
	if (n < 0)
		return n;
	/* SQLite: every event left is at or after the cutoff, so no block ending before it is
	 * used. */
	if (store_dialect(st) == STORE_DIALECT_SQLITE &&
	    (b = store_exec(st, "DELETE FROM event_blocks WHERE ts_max < ?", p, 1, NULL, NULL)) < 0)
		return b;
	return n + dropped;
}
