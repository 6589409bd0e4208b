/* YARA on the agent: executed files and newly written executables (ELF or scripts) are scanned
 * by a worker thread, never on the event path. Each file is read once up to a size cap, hashed
 * (SHA-256) and its verdict cached by hash, so a binary that runs a thousand times is scanned
 * once; scanning is paced to a byte rate so it stays inside the agent's CPU budget. A match is
 * an alert on the event that led to the scan. Full queue or oversize files are counted. */
#ifndef MAMORI_AGENT_YARA_H
#define MAMORI_AGENT_YARA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent_config_list;
struct agent_yara;
struct event;

struct agent_yara_opts {
	uint64_t max_file_bytes; /* larger files are skipped (counted) */
	uint32_t mb_per_s;	 /* scan pace */
	unsigned queue;		 /* pending scans before new ones are dropped (counted) */
};

struct agent_yara_stats {
	uint64_t scanned, cached, matches, skipped_size, skipped_type, dropped, errors, bytes;
	unsigned rules, failed_files;
};

typedef void (*agent_yara_emit_fn)(void *ctx, const char *line, size_t len);

/* Compiles every rule file under the paths (*.yar, *.yara). Caller owns the result; emit
 * receives alert lines from the worker thread. NULL with err filled. */
struct agent_yara *agent_yara_new(const struct agent_config_list *paths,
				  const struct agent_yara_opts *o, agent_yara_emit_fn emit,
				  void *emit_ctx, char *err, size_t errlen);
/* Drains the queue, stops the worker and frees. */
void agent_yara_free(struct agent_yara *y);
/* Queues a scan of the file ev points at (the executable of an exec, the file of a file event
 * that may be an executable). Copies ev. Never blocks. */
void agent_yara_submit(struct agent_yara *y, const struct event *ev);
void agent_yara_get_stats(struct agent_yara *y, struct agent_yara_stats *st);
/* Waits until the queue is empty and the worker idle, up to timeout_ms (tests, shutdown). */
bool agent_yara_idle(struct agent_yara *y, unsigned timeout_ms);

#endif
