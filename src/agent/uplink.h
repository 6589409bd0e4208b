/* The agent's link to the server: a sender thread moves sealed batches from the spool to
 * POST /v1/events (acked batches leave the spool) and sends heartbeats; a command thread holds
 * the long poll and answers commands. Both back off with jitter when the server is away. */
#ifndef MAMORI_UPLINK_H
#define MAMORI_UPLINK_H

#include <stddef.h>
#include <stdint.h>

struct agent_identity;
struct agent_health;
struct spool;

struct uplink_opts {
	const struct agent_identity *id; /* borrowed for the uplink's lifetime */
	struct spool *spool;		 /* borrowed */
	struct agent_health *health;	 /* borrowed, may be NULL */
	unsigned heartbeat_s;
};

struct uplink_stats {
	uint64_t batches_sent, events_sent, send_failures, rejected_lines, duplicates, commands;
};

struct uplink;

/* Caller owns the result. NULL with err filled. */
struct uplink *uplink_start(const struct uplink_opts *o, char *err, size_t errlen);
/* Waits up to drain_s seconds for the spool to empty, then stops both threads. */
void uplink_stop(struct uplink *u, unsigned drain_s);
void uplink_stats(struct uplink *u, struct uplink_stats *out);

/* The wait before retry number attempt (0 for the first): UPLINK_BACKOFF_MIN_MS doubling per
 * attempt up to UPLINK_BACKOFF_MAX_MS, with +-50 % jitter from r (a random word) so that a
 * fleet coming back from an outage does not return in lockstep. */
#define UPLINK_BACKOFF_MIN_MS 500
#define UPLINK_BACKOFF_MAX_MS 30000
uint64_t uplink_backoff_ms(unsigned attempt, uint32_t r);

#endif
