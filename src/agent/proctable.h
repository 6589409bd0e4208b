/* The agent's table of live processes, keyed by pid, so events that carry only a pid (file,
 * network) and children (parent fields) can be attributed. Seeded from /proc at start, kept by
 * exec/fork/end events; an exited process stays a few seconds for late events. Not thread-safe:
 * used from the agent's event thread only. */
#ifndef MAMORI_PROCTABLE_H
#define MAMORI_PROCTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct agent;
struct proctable;

/* Caller owns the result; NULL with errno on failure. max_entries bounds memory. */
struct proctable *proctable_new(struct agent *ag, size_t max_entries);
void proctable_free(struct proctable *t);

/* Reads every process in /proc. Returns how many were added. */
size_t proctable_scan(struct proctable *t);

/* Records what an exec or fork event says about its process (and forgets on end, after a grace
 * period). */
void proctable_update(struct proctable *t, const struct event *ev);

/* Fills the event's missing process.{entity_id, executable, name, command_line, start} from the
 * table (reading /proc once for an unknown pid). */
void proctable_fill_process(struct proctable *t, struct event *ev);
/* Fills process.parent.{entity_id, executable, name, command_line} for process.parent.pid. */
void proctable_fill_parent(struct proctable *t, struct event *ev);

/* Drops entries whose process ended more than the grace period ago. */
void proctable_expire(struct proctable *t, uint64_t now_mono_ns);

size_t proctable_count(const struct proctable *t);

#endif
