/* The SQLite event layout: blocks of zstd NDJSON with a Bloom filter each, narrow event rows that
 * point into them, and the SQL functions that read them back (store_sqlite_int.h). */
#include "store_sqlite_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "batch_codec.h"
#include "dynbuf.h"
#include "event_bloom.h"
#include "le.h"
#include "log.h"

#include "banned.h"

#define DOC_CACHE 16		       /* inflated frame runs kept per connection */
#define MAX_FRAMES 65536	       /* frames indexed per block */
#define BLOCK_MAX_RAW (256u << 20)     /* a block's text, and what a reader will inflate */
#define CONVERT_ROWS 4000	       /* rows per block when converting the old table */
#define COMPRESS_LEVEL 1

const char *const sqlite_events_schema_v8[] = {
    "CREATE TABLE event_blocks (id INTEGER PRIMARY KEY, ts_min INTEGER NOT NULL,"
    " ts_max INTEGER NOT NULL, n INTEGER NOT NULL, raw_len INTEGER NOT NULL,"
    " bloom BLOB NOT NULL, frames BLOB NOT NULL, data BLOB NOT NULL)",
    "CREATE INDEX event_blocks_ts ON event_blocks (ts_max)",
    "DROP INDEX IF EXISTS events_ts",
    "DROP INDEX IF EXISTS events_host_ts",
    "DROP INDEX IF EXISTS events_entity",
    "DROP INDEX IF EXISTS events_parent",
    "DROP INDEX IF EXISTS events_hash",
    "DROP INDEX IF EXISTS events_dst_ip",
    "DROP INDEX IF EXISTS events_path",
    "ALTER TABLE events RENAME TO events_v7",
    "CREATE TABLE events (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, agent_id TEXT, host TEXT,"
    " action TEXT, category TEXT, entity_id TEXT, parent_entity_id TEXT, pid INTEGER,"
    " name TEXT, exe TEXT, hash TEXT, path TEXT, src_ip TEXT, dst_ip TEXT, dst_port INTEGER,"
    " user_name TEXT, dns TEXT, blk INTEGER NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL)",
    "CREATE INDEX events_ts ON events (ts)",
    "CREATE INDEX events_blk ON events (blk)",
    /* Not a generated column of events: SQLite would compute it on every INSERT. */
    "CREATE VIEW event_docs AS SELECT id, ts, agent_id, host, action, category, entity_id,"
    " parent_entity_id, pid, name, exe, hash, path, src_ip, dst_ip, dst_port, user_name, dns, blk,"
    " mamori_doc(blk, off, len) AS doc FROM events",
    NULL,
};

/* The text columns of a row, in the insert statement's order after ts and agent_id. */
static const struct {
	const char *column;
	size_t off;
} text_cols[] = {
#define COL(c, f) {c, offsetof(struct store_event_row, f)}
    COL("host", host),	   COL("action", action), COL("category", category),
    COL("entity_id", entity_id), COL("parent_entity_id", parent_entity_id), COL("name", name),
    COL("exe", exe),	   COL("hash", hash),	  COL("path", path),
    COL("src_ip", src_ip), COL("dst_ip", dst_ip), COL("user_name", user_name),
    COL("dns", dns),
#undef COL
};
#define NTEXT (sizeof(text_cols) / sizeof(text_cols[0]))

static const char insert_row_sql[] =
    "INSERT INTO events (ts, agent_id, host, action, category, entity_id, parent_entity_id, name,"
    " exe, hash, path, src_ip, dst_ip, user_name, dns, pid, dst_port, blk, off, len)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

/* Text lo..hi of block blk, inflated. */
struct doc_slot {
	int64_t blk; /* 0: empty */
	size_t lo, hi;
	uint64_t used;
	struct dynbuf plain;
};

struct sqlite_events {
	sqlite3_stmt *insert_block, *insert_row, *read_block;
	bool bloom_col[NTEXT];
	uint64_t bloom_seed[NTEXT]; /* event_bloom_seed of each filtered column */
	struct event_bloom bloom;
	struct dynbuf filter, frame, concat, findex, zbuf;
	size_t *offs;
	size_t offs_alloc;
	/* The block being written (sqlite_events_prepare): rows, frames, time range, text size. */
	const struct store_event_row *prep_rows;
	size_t prep_n, prep_flen, prep_raw;
	const void *prep_frame;
	int64_t prep_lo, prep_hi;
	struct doc_slot slots[DOC_CACHE];
	uint64_t clock;
	uint64_t doc_failures; /* blocks that could not be read back */
};

struct sqlite_events *sqlite_events_new(void)
{
	struct sqlite_events *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	for (size_t i = 0; i < NTEXT; i++) {
		e->bloom_col[i] = event_bloom_column(text_cols[i].column);
		e->bloom_seed[i] = event_bloom_seed(text_cols[i].column);
	}
	event_bloom_init(&e->bloom);
	dynbuf_init(&e->filter, (size_t)64 << 20);
	dynbuf_init(&e->frame, BLOCK_MAX_RAW);
	dynbuf_init(&e->concat, BLOCK_MAX_RAW);
	dynbuf_init(&e->findex, (size_t)(MAX_FRAMES + 1) * 8);
	dynbuf_init(&e->zbuf, BLOCK_MAX_RAW);
	for (size_t i = 0; i < DOC_CACHE; i++)
		dynbuf_init(&e->slots[i].plain, BLOCK_MAX_RAW);
	return e;
}

void sqlite_events_finalize(struct sqlite_events *e)
{
	if (!e)
		return;
	sqlite3_finalize(e->insert_block);
	sqlite3_finalize(e->insert_row);
	sqlite3_finalize(e->read_block);
	e->insert_block = e->insert_row = e->read_block = NULL;
}

void sqlite_events_free(struct sqlite_events *e)
{
	if (!e)
		return;
	sqlite_events_finalize(e);
	event_bloom_release(&e->bloom);
	dynbuf_release(&e->filter);
	dynbuf_release(&e->frame);
	dynbuf_release(&e->concat);
	dynbuf_release(&e->findex);
	dynbuf_release(&e->zbuf);
	for (size_t i = 0; i < DOC_CACHE; i++)
		dynbuf_release(&e->slots[i].plain);
	free(e->offs);
	free(e);
}

/* ---- reading ---- */

/* Which compressed bytes hold text [off, off + len) of a block: from its frame index (pairs of
 * text and frame offsets, little-endian u32, the last pair the totals), else the whole block. */
static bool frame_range(const unsigned char *fi, size_t filen, size_t raw, size_t zlen, size_t off,
			size_t len, size_t *lo, size_t *hi, size_t *zlo, size_t *zhi)
{
	size_t n = filen / 8, a = 0, b;

	*lo = 0, *hi = raw, *zlo = 0, *zhi = zlen;
	if (!fi || filen % 8 || n < 2 || le32_get(fi + (n - 1) * 8) != raw ||
	    le32_get(fi + (n - 1) * 8 + 4) != zlen)
		return true;
	/* a: the last frame starting at or before off; b: the first boundary at or after the end. */
	for (size_t l = 0, r = n - 1; l < r;) { /* search [l, r) of the n - 1 frames */
		size_t m = l + (r - l) / 2;

		if (le32_get(fi + m * 8) <= off) {
			a = m;
			l = m + 1;
		} else {
			r = m;
		}
	}
	for (b = a + 1; b < n - 1 && le32_get(fi + b * 8) < off + len; b++)
		;
	*lo = le32_get(fi + a * 8);
	*hi = le32_get(fi + b * 8);
	*zlo = le32_get(fi + a * 8 + 4);
	*zhi = le32_get(fi + b * 8 + 4);
	return *lo <= off && off + len <= *hi && *lo <= *hi && *zlo <= *zhi && *zhi <= zlen;
}

/* Inflates the frames of block blk that hold text [off, off + len) into the least recently used
 * slot; NULL if unreadable. */
static const struct doc_slot *load_frames(sqlite3 *db, struct sqlite_events *e, int64_t blk,
					  size_t off, size_t len)
{
	struct doc_slot *v = &e->slots[0];
	sqlite3_blob *bh = NULL;
	size_t lo = 0, hi = 0, zlo = 0, zhi = 0;
	int64_t raw = -1, zlen = 0;
	bool ok = false;

	for (size_t i = 1; i < DOC_CACHE; i++)
		if (e->slots[i].used < v->used)
			v = &e->slots[i];
	v->blk = 0;
	dynbuf_reset(&v->plain);
	if (!e->read_block &&
	    sqlite3_prepare_v3(db,
			       "SELECT raw_len, length(data), frames FROM event_blocks WHERE id = ?",
			       -1, SQLITE_PREPARE_PERSISTENT, &e->read_block, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(e->read_block, 1, blk);
	if (sqlite3_step(e->read_block) == SQLITE_ROW) {
		raw = sqlite3_column_int64(e->read_block, 0);
		zlen = sqlite3_column_int64(e->read_block, 1);
		ok = raw >= 0 && raw <= BLOCK_MAX_RAW && zlen > 0 && zlen <= BLOCK_MAX_RAW &&
		     frame_range(sqlite3_column_blob(e->read_block, 2),
				 (size_t)sqlite3_column_bytes(e->read_block, 2), (size_t)raw,
				 (size_t)zlen, off, len, &lo, &hi, &zlo, &zhi);
	}
	sqlite3_reset(e->read_block);
	dynbuf_reset(&e->zbuf);
	ok = ok && off + len <= (size_t)raw && dynbuf_reserve(&e->zbuf, zhi - zlo) == 0 &&
	     sqlite3_blob_open(db, "main", "event_blocks", "data", blk, 0, &bh) == SQLITE_OK &&
	     sqlite3_blob_read(bh, e->zbuf.data, (int)(zhi - zlo), (int)zlo) == SQLITE_OK &&
	     batch_decompress(e->zbuf.data, zhi - zlo, hi - lo, &v->plain) == 0 &&
	     v->plain.len == hi - lo;
	sqlite3_blob_close(bh);
	if (!ok) {
		dynbuf_reset(&v->plain);
		if (e->doc_failures++ < 10)
			log_warn("store", "event block unreadable blk=%lld", (long long)blk);
		return NULL;
	}
	v->blk = blk;
	v->lo = lo;
	v->hi = hi;
	v->used = ++e->clock;
	return v;
}

/* Text [off, off + len) of block blk, from the cache or inflated; NULL if unreadable. */
static const char *doc_text(sqlite3 *db, struct sqlite_events *e, int64_t blk, size_t off,
			    size_t len)
{
	const struct doc_slot *s = NULL;

	for (size_t i = 0; i < DOC_CACHE && !s; i++) {
		struct doc_slot *c = &e->slots[i];

		if (c->blk == blk && c->lo <= off && off + len <= c->hi) {
			c->used = ++e->clock;
			s = c;
		}
	}
	if (!s)
		s = load_frames(db, e, blk, off, len);
	return s ? s->plain.data + (off - s->lo) : NULL;
}

/* mamori_doc(blk, off, len): the document of one event; NULL when its block is gone or damaged. */
static void fn_doc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct sqlite_events *e = sqlite3_user_data(ctx);
	int64_t blk = sqlite3_value_int64(argv[0]), off = sqlite3_value_int64(argv[1]),
		len = sqlite3_value_int64(argv[2]);
	const char *t = NULL;

	(void)argc;
	if (blk > 0 && off >= 0 && off <= BLOCK_MAX_RAW && len >= 0 && len <= BLOCK_MAX_RAW)
		t = doc_text(sqlite3_context_db_handle(ctx), e, blk, (size_t)off, (size_t)len);
	if (!t)
		sqlite3_result_null(ctx);
	else
		sqlite3_result_text(ctx, t, (int)len, SQLITE_TRANSIENT);
}

/* mamori_bloom(filter, key): 0 when the filter proves key absent, else 1. */
static void fn_bloom(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const void *f = sqlite3_value_blob(argv[0]);
	int n = sqlite3_value_bytes(argv[0]);

	(void)argc;
	sqlite3_result_int(ctx, event_bloom_may_contain(f, f ? (size_t)n : 0,
							(uint64_t)sqlite3_value_int64(argv[1])));
}

int sqlite_events_register(sqlite3 *db, struct sqlite_events *e)
{
	const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
	int rc = sqlite3_create_function_v2(db, "mamori_doc", 3, flags, e, fn_doc, NULL, NULL, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_create_function_v2(db, "mamori_bloom", 2, flags, NULL, fn_bloom, NULL,
						NULL, NULL);
	return rc;
}

/* ---- writing ---- */

static inline const char *col_text(const struct store_event_row *r, size_t i)
{
	return *(const char *const *)((const char *)r + text_cols[i].off);
}

/* The block's text and each row's offset in it: the batch's own text when every document lies in
 * it, else the documents joined by newlines. */
static int layout(struct sqlite_events *e, const struct store_event_row *rows, size_t n,
		  const struct store_event_text *src, const char **text, size_t *text_len,
		  bool *own)
{
	bool inside = src && src->text;

	if (n > e->offs_alloc) {
		size_t *o = realloc(e->offs, n * sizeof(*o));

		if (!o)
			return -ENOMEM;
		e->offs = o;
		e->offs_alloc = n;
	}
	for (size_t i = 0; inside && i < n; i++) {
		uintptr_t d = (uintptr_t)rows[i].doc, t = (uintptr_t)src->text;

		inside = rows[i].doc && d >= t && d - t <= src->len &&
			 rows[i].doc_len <= src->len - (d - t);
		if (inside)
			e->offs[i] = (size_t)(d - t);
	}
	if (inside) {
		*text = src->text;
		*text_len = src->len;
		*own = false;
		return 0;
	}
	dynbuf_reset(&e->concat);
	for (size_t i = 0; i < n; i++) {
		int rc;

		e->offs[i] = e->concat.len;
		if ((rc = dynbuf_add(&e->concat, rows[i].doc ? rows[i].doc : "", rows[i].doc_len)) ||
		    (rc = dynbuf_addc(&e->concat, '\n')))
			return rc;
	}
	*text = e->concat.data ? e->concat.data : "";
	*text_len = e->concat.len;
	*own = true;
	return 0;
}

static int bloom_rows(struct sqlite_events *e, const struct store_event_row *rows, size_t n)
{
	int rc = 0;

	event_bloom_reset(&e->bloom);
	for (size_t i = 0; i < n && !rc; i++)
		for (size_t c = 0; c < NTEXT && !rc; c++) {
			const char *v = e->bloom_col[c] ? col_text(&rows[i], c) : NULL;

			if (v)
				rc = event_bloom_add(&e->bloom,
						     event_bloom_key_at(e->bloom_seed[c], v, strlen(v)));
		}
	dynbuf_reset(&e->filter);
	return rc ? rc : event_bloom_write(&e->bloom, &e->filter);
}

/* The frame index of a block (see frame_range); left empty when a frame does not record its size,
 * there are too many, or they do not add up to the text: readers then inflate the whole block. */
static void index_frames(struct sqlite_events *e, const void *z, size_t zlen, size_t raw)
{
	const char *p = z;
	size_t zo = 0, ro = 0, n = 0;
	unsigned char *d;

	dynbuf_reset(&e->findex);
	if (dynbuf_reserve(&e->findex, (size_t)(MAX_FRAMES + 1) * 8))
		return;
	d = (unsigned char *)e->findex.data;
	while (zo < zlen) {
		size_t fz = ZSTD_findFrameCompressedSize(p + zo, zlen - zo);
		unsigned long long fr = ZSTD_getFrameContentSize(p + zo, zlen - zo);

		if (ZSTD_isError(fz) || fr == ZSTD_CONTENTSIZE_UNKNOWN ||
		    fr == ZSTD_CONTENTSIZE_ERROR || fr > BLOCK_MAX_RAW || n == MAX_FRAMES)
			return;
		le32_put(d + n * 8, (uint32_t)ro);
		le32_put(d + n * 8 + 4, (uint32_t)zo);
		n++;
		ro += (size_t)fr;
		zo += fz;
		if (ro > BLOCK_MAX_RAW)
			return;
	}
	if (ro != raw)
		return;
	le32_put(d + n * 8, (uint32_t)ro);
	le32_put(d + n * 8 + 4, (uint32_t)zo);
	e->findex.len = (n + 1) * 8;
}

static int put_block(sqlite3 *db, struct sqlite_events *e, int64_t *blk)
{
	int rc;

	if (!e->insert_block &&
	    (rc = sqlite3_prepare_v3(db,
				     "INSERT INTO event_blocks (ts_min, ts_max, n, raw_len, bloom,"
				     " frames, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
				     -1, SQLITE_PREPARE_PERSISTENT, &e->insert_block, NULL)) !=
		SQLITE_OK)
		return rc;
	sqlite3_bind_int64(e->insert_block, 1, e->prep_lo);
	sqlite3_bind_int64(e->insert_block, 2, e->prep_hi);
	sqlite3_bind_int64(e->insert_block, 3, (int64_t)e->prep_n);
	sqlite3_bind_int64(e->insert_block, 4, (int64_t)e->prep_raw);
	sqlite3_bind_blob(e->insert_block, 5, e->filter.data, (int)e->filter.len, SQLITE_STATIC);
	sqlite3_bind_blob(e->insert_block, 6, e->findex.data ? e->findex.data : "",
			  (int)e->findex.len, SQLITE_STATIC);
	sqlite3_bind_blob(e->insert_block, 7, e->prep_frame, (int)e->prep_flen, SQLITE_STATIC);
	rc = sqlite3_step(e->insert_block);
	sqlite3_reset(e->insert_block);
	sqlite3_clear_bindings(e->insert_block);
	if (rc != SQLITE_DONE)
		return rc;
	*blk = sqlite3_last_insert_rowid(db);
	return SQLITE_OK;
}

static int put_rows(sqlite3 *db, struct sqlite_events *e, const char *agent_id,
		    const struct store_event_row *rows, size_t n, int64_t blk)
{
	sqlite3_stmt *q;
	int rc;

	if (!e->insert_row && (rc = sqlite3_prepare_v3(db, insert_row_sql, -1,
						       SQLITE_PREPARE_PERSISTENT, &e->insert_row,
						       NULL)) != SQLITE_OK)
		return rc;
	q = e->insert_row;
	for (size_t i = 0; i < n; i++) {
		const struct store_event_row *r = &rows[i];
		int k = 3;

		sqlite3_bind_int64(q, 1, r->ts);
		if (agent_id)
			sqlite3_bind_text(q, 2, agent_id, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 2);
		for (size_t c = 0; c < NTEXT; c++, k++) {
			const char *v = col_text(r, c);

			if (v)
				sqlite3_bind_text(q, k, v, -1, SQLITE_STATIC);
			else
				sqlite3_bind_null(q, k);
		}
		if (r->pid >= 0)
			sqlite3_bind_int64(q, k++, r->pid);
		else
			sqlite3_bind_null(q, k++);
		if (r->dst_port >= 0)
			sqlite3_bind_int64(q, k++, r->dst_port);
		else
			sqlite3_bind_null(q, k++);
		sqlite3_bind_int64(q, k++, blk);
		sqlite3_bind_int64(q, k++, (int64_t)e->offs[i]);
		sqlite3_bind_int64(q, k, (int64_t)r->doc_len);
		rc = sqlite3_step(q);
		sqlite3_reset(q);
		if (rc != SQLITE_DONE) {
			sqlite3_clear_bindings(q);
			return rc;
		}
	}
	sqlite3_clear_bindings(q);
	return SQLITE_OK;
}

int sqlite_events_prepare(struct sqlite_events *e, const struct store_event_row *rows, size_t n,
			  const struct store_event_text *src, char *err, size_t errlen)
{
	const char *text;
	size_t text_len;
	bool own;
	int rc;

	e->prep_rows = NULL;
	if (!n)
		return SQLITE_OK;
	rc = layout(e, rows, n, src, &text, &text_len, &own);
	if (!rc && text_len > BLOCK_MAX_RAW)
		rc = -E2BIG;
	if (!rc)
		rc = bloom_rows(e, rows, n);
	if (!rc && !own && src->zframe) {
		e->prep_frame = src->zframe;
		e->prep_flen = src->zlen;
	} else if (!rc) {
		dynbuf_reset(&e->frame);
		rc = batch_compress(text, text_len, COMPRESS_LEVEL, &e->frame);
		e->prep_frame = e->frame.data;
		e->prep_flen = e->frame.len;
	}
	if (rc) {
		snprintf(err, errlen, "event block: %s", strerror(-rc));
		return rc == -ENOMEM ? SQLITE_NOMEM : SQLITE_TOOBIG;
	}
	if (e->prep_flen > INT32_MAX) {
		snprintf(err, errlen, "event block: frame too large");
		return SQLITE_TOOBIG;
	}
	index_frames(e, e->prep_frame, e->prep_flen, text_len);
	e->prep_lo = e->prep_hi = rows[0].ts;
	for (size_t i = 1; i < n; i++) {
		e->prep_lo = rows[i].ts < e->prep_lo ? rows[i].ts : e->prep_lo;
		e->prep_hi = rows[i].ts > e->prep_hi ? rows[i].ts : e->prep_hi;
	}
	e->prep_raw = text_len;
	e->prep_rows = rows;
	e->prep_n = n;
	return SQLITE_OK;
}

int sqlite_events_insert(sqlite3 *db, struct sqlite_events *e, const char *agent_id,
			 const struct store_event_row *rows, size_t n,
			 const struct store_event_text *src, char *err, size_t errlen)
{
	int64_t blk = 0;
	int rc;

	if (!n)
		return SQLITE_OK;
	if ((e->prep_rows != rows || e->prep_n != n) &&
	    (rc = sqlite_events_prepare(e, rows, n, src, err, errlen)) != SQLITE_OK)
		return rc;
	e->prep_rows = NULL;
	rc = put_block(db, e, &blk);
	return rc != SQLITE_OK ? rc : put_rows(db, e, agent_id, rows, n, blk);
}

/* ---- migration from schema v7 (one row per event with its document inline) ---- */

/* A row of events_v7 copied out of SQLite's buffers: one allocation for all its text. */
struct old_row {
	struct store_event_row r;
	char *agent;
	char *mem;
};

static char *copy_col(sqlite3_stmt *q, int i, char **p)
{
	const unsigned char *s = sqlite3_column_text(q, i);
	size_t n = (size_t)sqlite3_column_bytes(q, i);
	char *out = *p;

	if (sqlite3_column_type(q, i) == SQLITE_NULL || !s)
		return NULL;
	memcpy(out, s, n);
	out[n] = 0;
	*p += n + 1;
	return out;
}

/* Columns of events_v7 in the SELECT below: 0 ts, 1 agent_id, 2..14 text_cols, 15 pid,
 * 16 dst_port, 17 doc. */
static int read_old(sqlite3_stmt *q, struct old_row *o)
{
	size_t need = 0;
	char *p;

	for (int i = 1; i <= 17; i++)
		need += (size_t)sqlite3_column_bytes(q, i) + 1;
	o->mem = p = malloc(need);
	if (!p)
		return -ENOMEM;
	memset(&o->r, 0, sizeof(o->r));
	o->r.ts = sqlite3_column_int64(q, 0);
	o->agent = copy_col(q, 1, &p);
	for (size_t c = 0; c < NTEXT; c++)
		*(const char **)((char *)&o->r + text_cols[c].off) = copy_col(q, 2 + (int)c, &p);
	o->r.pid = sqlite3_column_type(q, 15) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 15);
	o->r.dst_port =
	    sqlite3_column_type(q, 16) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 16);
	o->r.doc_len = (size_t)sqlite3_column_bytes(q, 17);
	o->r.doc = copy_col(q, 17, &p);
	if (!o->r.doc) {
		o->r.doc = "{}";
		o->r.doc_len = 2;
	}
	return 0;
}

static bool same_agent(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int flush_old(sqlite3 *db, struct sqlite_events *e, struct old_row *rows, size_t n,
		     struct store_event_row *flat, char *err, size_t errlen)
{
	int rc;

	for (size_t i = 0; i < n; i++)
		flat[i] = rows[i].r;
	rc = sqlite_events_insert(db, e, rows[0].agent, flat, n, NULL, err, errlen);
	for (size_t i = 0; i < n; i++)
		free(rows[i].mem);
	return rc;
}

int sqlite_events_convert_v7(sqlite3 *db, struct sqlite_events *e, char *err, size_t errlen)
{
	struct old_row *rows = calloc(CONVERT_ROWS, sizeof(*rows));
	struct store_event_row *flat = calloc(CONVERT_ROWS, sizeof(*flat));
	sqlite3_stmt *q = NULL;
	size_t n = 0;
	uint64_t total = 0;
	int rc;

	err[0] = 0;
	if (!rows || !flat) {
		rc = SQLITE_NOMEM;
		goto out;
	}
	rc = sqlite3_prepare_v2(db,
				"SELECT ts, agent_id, host, action, category, entity_id,"
				" parent_entity_id, name, exe, hash, path, src_ip, dst_ip, user_name,"
				" dns, pid, dst_port, doc FROM events_v7 ORDER BY id",
				-1, &q, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct old_row o;

		rc = SQLITE_OK;
		if (read_old(q, &o)) {
			rc = SQLITE_NOMEM;
			break;
		}
		if (n && (n == CONVERT_ROWS || !same_agent(rows[0].agent, o.agent))) {
			rc = flush_old(db, e, rows, n, flat, err, errlen);
			n = 0;
		}
		rows[n++] = o;
		total++;
	}
	if (rc == SQLITE_DONE)
		rc = n ? flush_old(db, e, rows, n, flat, err, errlen) : SQLITE_OK;
	else
		for (size_t i = 0; i < n; i++)
			free(rows[i].mem);
	sqlite3_finalize(q);
	q = NULL;
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "DROP TABLE events_v7", NULL, NULL, NULL);
	if (rc == SQLITE_OK && total)
		log_info("store", "sqlite events moved into blocks rows=%llu",
			 (unsigned long long)total);
out:
	if (rc != SQLITE_OK && !err[0])
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	free(rows);
	free(flat);
	return rc;
}
