/* The agent's durable spool of sealed event batches: the event thread appends, the uplink thread
 * peeks the oldest batch not yet acknowledged and acks it once the server has stored it. Batches
 * survive restarts and crashes; the disk use is capped by dropping the oldest segments. */
#ifndef MAMORI_SPOOL_H
#define MAMORI_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPOOL_DEFAULT_MAX_BYTES (512ull << 20)
#define SPOOL_DEFAULT_SEGMENT_BYTES (8ull << 20)

struct spool;

struct spool_opts {
	const char *dir;	/* the spool directory; created 0700 if missing (not its parents) */
	uint64_t max_bytes;	/* cap on segment bytes; 0 means SPOOL_DEFAULT_MAX_BYTES */
	uint64_t segment_bytes; /* a segment is rotated before it grows past this; 0: default */
	bool sync;		/* fdatasync each append and ack before returning */
};

struct spool_stats {
	uint64_t bytes;		  /* segment bytes on disk */
	uint64_t batches, events; /* waiting for an ack */
	/* Lost before an ack: the cap was reached, or the record had become unreadable. */
	uint64_t dropped_batches, dropped_events;
	/* Torn or corrupt records found, at open or when peeked. */
	uint64_t corrupt_records;
	uint64_t appended_batches, acked_batches; /* since open */
};

struct spool_batch {
	uint64_t epoch, seq;
	const char *payload; /* borrowed: valid until the next spool_peek or spool_close */
	size_t len;
	uint32_t events;
};

/* Opens or creates the spool in o->dir (o is borrowed for the call): recovers the segments,
 * creates the random epoch on first use. Caller owns the result (spool_close). NULL with errno
 * set and a message in err (may be NULL) on failure; EBUSY when another process holds it. */
struct spool *spool_open(const struct spool_opts *o, char *err, size_t errlen);
/* Flushes the sequence state and frees s. NULL is a no-op. */
void spool_close(struct spool *s);

/* The spool's epoch: random, chosen when the spool was created, kept across restarts. */
uint64_t spool_epoch(const struct spool *s);

/* Appends one batch (payload borrowed for the call) under the next sequence number, returned in
 * *seq (may be NULL). Drops the oldest segments when the cap would be exceeded. 0, -E2BIG when
 * the record alone is over the cap, -EMSGSIZE over SPOOL_RECORD_MAX_PAYLOAD, or an I/O errno. */
int spool_append(struct spool *s, const void *payload, size_t len, uint32_t events, uint64_t *seq);

/* The oldest batch not yet acked into *out (payload borrowed, see struct spool_batch). 0,
 * -ENOENT when there is none, or an I/O errno. Unreadable records are skipped and counted. */
int spool_peek(struct spool *s, struct spool_batch *out);

/* Removes every batch with a sequence <= seq, durably, and deletes the segments left empty.
 * 0 (also when seq is already acked), -ERANGE when seq was never handed out, or an I/O errno. */
int spool_ack(struct spool *s, uint64_t seq);

/* A snapshot of the counters. */
void spool_stats(struct spool *s, struct spool_stats *out);

#endif
