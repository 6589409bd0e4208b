/* Turns one agent batch (zstd NDJSON) into stored events: decompress with a cap, validate each
 * line, commit rows and the batch sequence together. One struct ingest per thread. */
#ifndef MAMORI_INGEST_H
#define MAMORI_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include <jansson.h>

#include "alert_intake.h"
#include "dynbuf.h"
#include "store.h"

struct ingest_result {
	uint64_t stored, rejected, alerts;
	bool duplicate;
	char first_error[160]; /* reason for the first rejected line */
	/* With ingest.summaries: what policies and notification routes look at in each stored
	 * alert, [{"id", "rule_id", "rule_name", "severity", "entity_id", "host", "tactics",
	 * "techniques" (comma-separated), "pid", "executable", "command_line", "file_path",
	 * "process_sha256", "file_sha256"}]. New ref or NULL; the caller decrefs. */
	json_t *alert_summaries;
};

/* Hooks called for special documents inside the committed batch (inventory), may be NULL. */
typedef void (*ingest_doc_fn)(void *ctx, const char *agent_id, const struct store_event_row *row);

struct detection_worker;

struct ingest {
	struct store *store;
	struct dynbuf plain;
	char *arena;
	size_t arena_size;
	struct store_event_row *rows;
	size_t rows_alloc;
	ingest_doc_fn on_doc;
	struct detection_worker *det; /* NULL: no detection */
	struct alert_intake alerts;   /* this batch's alerts, from the agent and from det */
	void *on_doc_ctx;
	bool summaries; /* fill ingest_result.alert_summaries */
};

/* store is borrowed for the ingest's lifetime. */
void ingest_init(struct ingest *in, struct store *store);
void ingest_release(struct ingest *in);

/* 0 with *res filled (duplicates included); -EINVAL (undecodable frame), -E2BIG (too large),
 * or the store's negative errno (nothing stored, the agent retries). */
int ingest_batch(struct ingest *in, const char *agent_id, uint64_t epoch, uint64_t seq,
		 const void *body, size_t len, bool zstd, struct ingest_result *res);

#endif
