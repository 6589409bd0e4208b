/* The server's storage behind struct store_ops: one backend per file (store_sqlite.c,
 * store_pg.c). Backends offer parameterised statements, transactions and bulk event inserts; the
 * repository code above (store_*.c without a backend name) is written once for both dialects. */
#ifndef MAMORI_STORE_H
#define MAMORI_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_dialect { STORE_DIALECT_SQLITE, STORE_DIALECT_PG };

enum store_val_type { STORE_NULL, STORE_INT, STORE_TEXT };

struct store_val {
	enum store_val_type type;
	int64_t i;
	const char *s; /* borrowed; not NUL-terminated necessarily */
	size_t n;
};

static inline struct store_val store_int(int64_t i)
{
	return (struct store_val){.type = STORE_INT, .i = i};
}
struct store_val store_text(const char *s); /* NULL gives STORE_NULL */
static inline struct store_val store_textn(const char *s, size_t n)
{
	return (struct store_val){.type = s ? STORE_TEXT : STORE_NULL, .s = s, .n = n};
}

/* One row handed to a callback; values borrowed until the callback returns. Returning non-zero
 * stops the iteration and becomes exec's result. */
typedef int (*store_row_fn)(void *ctx, const struct store_val *cols, size_t ncols);

/* One decoded event ready for insertion: the JSON document and its indexed columns. Strings are
 * borrowed, NUL-terminated, NULL when absent. */
struct store_event_row {
	const char *doc;
	size_t doc_len;
	int64_t ts;	       /* ns since the epoch */
	int64_t pid, dst_port; /* -1 when absent */
	const char *host, *action, *category, *entity_id, *parent_entity_id, *name, *exe, *hash,
	    *path, *src_ip, *dst_ip, *user_name, *dns;
	const char *kind; /* event.kind: "alert" lines are alerts raised by the agent */
};

/* Where a batch's rows came from: the NDJSON text their doc pointers point into and, when the
 * agent sent it compressed, the zstd frame that decompresses to exactly that text. The SQLite
 * store keeps the frame as the batch's block instead of compressing the documents again; rows
 * whose doc lies outside text (or a NULL source) are compressed by the store. */
struct store_event_text {
	const char *text;
	size_t len;
	const void *zframe; /* NULL: not received compressed */
	size_t zlen;
};

/* One alert to store with its batch (id is its dedup key: the same alert raised by the agent and
 * again by the server is kept once). Strings borrowed, NUL-terminated. */
struct store_alert_row {
	const char *id;
	int64_t ts, created; /* ns: triggering event, raised */
	const char *agent_id, *host, *rule_id, *rule_name;
	int severity; /* enum detect_severity */
	int risk_score;
	const char *tactics, *techniques; /* comma-separated */
	const char *entity_id, *exe;
	const char *doc;
	size_t doc_len;
};

struct store;

struct store_ops {
	const char *name;
	enum store_dialect dialect;
	int (*open)(struct store *st, const char *target, char *err, size_t errlen);
	void (*close)(struct store *st);
	/* Runs one statement with '?' placeholders (or $n for PostgreSQL when the SQL has no '?').
	 * Rows go to fn (may be NULL). Returns rows changed (>= 0) or a negative errno with the
	 * reason in store_error(). */
	int64_t (*exec)(struct store *st, const char *sql, const struct store_val *params, size_t n,
			store_row_fn fn, void *ctx);
	/* Applies the backend's schema up to its newest version. */
	int (*migrate)(struct store *st);
	/* Inserts rows for agent_id inside the current transaction; src may be NULL. */
	int (*insert_events)(struct store *st, const char *agent_id,
			     const struct store_event_row *rows, size_t n,
			     const struct store_event_text *src);
	/* Optional: work on rows that can be done before the transaction, out of the write lock;
	 * the next insert_events of the same rows uses it. n == 0 forgets it. */
	int (*prepare_events)(struct store *st, const struct store_event_row *rows, size_t n,
			      const struct store_event_text *src);
	/* Optional (PostgreSQL): socket to watch and a drain that returns NOTIFY payloads. */
	int (*notify_fd)(struct store *st);
	int (*notify_drain)(struct store *st,
			    void (*fn)(void *ctx, const char *channel, const char *payload),
			    void *ctx);
};

struct store {
	const struct store_ops *ops;
	void *priv;
	char err[512];
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/* Opens "sqlite:PATH" (or a bare path) or "postgresql://..."/"postgres://..." and migrates the
 * schema. Caller owns the result (store_close). NULL with err filled on failure. */
struct store *store_open(const char *target, char *err, size_t errlen);
void store_close(struct store *st);
const char *store_error(const struct store *st);
enum store_dialect store_dialect(const struct store *st);

int64_t store_exec(struct store *st, const char *sql, const struct store_val *params, size_t n,
		   store_row_fn fn, void *ctx);
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/* Reads one integer or text from the first row of a query. -ENOENT when there is no row. */
int store_query_int(struct store *st, const char *sql, const struct store_val *params, size_t n,
		    int64_t *out);
int store_query_text(struct store *st, const char *sql, const struct store_val *params, size_t n,
		     char *buf, size_t size);

/* Ingests one batch atomically: when (agent, epoch, seq) is not newer than the last committed
 * batch of that epoch, *duplicate is set and nothing is stored; else the rows and the sequence
 * are committed together. */
int store_ingest_batch(struct store *st, const char *agent_id, uint64_t epoch, uint64_t seq,
		       const struct store_event_row *rows, size_t n,
		       const struct store_event_text *src, const struct store_alert_row *alerts,
		       size_t nalerts, bool *duplicate);
/* Inserts alerts (ignoring ids already stored) inside the current transaction. */
int store_insert_alerts(struct store *st, const struct store_alert_row *alerts, size_t n);

/* Deletes events older than cutoff_ns. Returns rows deleted or a negative errno. */
int64_t store_retention(struct store *st, int64_t cutoff_ns);

#endif
