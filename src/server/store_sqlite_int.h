/* Internal to the SQLite backend: the event layout (store_sqlite_events.c) used by the connection
 * code (store_sqlite.c). */
#ifndef MAMORI_STORE_SQLITE_INT_H
#define MAMORI_STORE_SQLITE_INT_H

#include <stddef.h>

#include <sqlite3.h>

#include "store.h"

/* Events are stored by batch (docs/storage.md): one event_blocks row per batch holds the zstd
 * frame of its NDJSON text, the batch's time range and a Bloom filter of its high-cardinality
 * values; each event is a narrow row of the events table, its indexed columns and where its
 * document lies in its block (blk, off, len). The view event_docs adds the document:
 * doc = mamori_doc(blk, off, len). */
struct sqlite_events;

struct sqlite_events *sqlite_events_new(void);
/* Finalizes the statements; call before sqlite3_close, then free with sqlite_events_free. */
void sqlite_events_finalize(struct sqlite_events *e);
void sqlite_events_free(struct sqlite_events *e);

/* Registers mamori_doc(blk, off, len) and mamori_bloom(filter, key) on db for the life of e.
 * SQLite result code. */
int sqlite_events_register(sqlite3 *db, struct sqlite_events *e);

/* Builds the block of rows (filter, frames, frame index) before the transaction, outside the
 * write lock. The next sqlite_events_insert of the same rows uses it; any other call forgets it
 * (n == 0 just forgets). 0 or a SQLite result code with a message in err. */
int sqlite_events_prepare(struct sqlite_events *e, const struct store_event_row *rows, size_t n,
			  const struct store_event_text *src, char *err, size_t errlen);

/* Writes rows as one block inside the open transaction (prepared above, or here). 0 or a SQLite result code, with a
 * message in err for failures that are not SQLite's own. */
int sqlite_events_insert(sqlite3 *db, struct sqlite_events *e, const char *agent_id,
			 const struct store_event_row *rows, size_t n,
			 const struct store_event_text *src, char *err, size_t errlen);

/* Schema v8: the statements that create the new layout, and the step that moves every row of
 * the old table (renamed events_v7) into blocks and drops it. */
extern const char *const sqlite_events_schema_v8[];
int sqlite_events_convert_v7(sqlite3 *db, struct sqlite_events *e, char *err, size_t errlen);

#endif
