/* Where the agent's events go: NDJSON lines to a file descriptor (stdout for capture), buffered
 * and flushed on a timer or when the buffer fills. Thread-safe (event thread and hash worker). */
#ifndef MAMORI_OUTPUT_H
#define MAMORI_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct output;

/* Caller owns the result; fd is borrowed. */
struct output *output_new(int fd, size_t buffer_bytes);
/* Sink mode: lines are gathered into batches of at most max_bytes / max_lines, handed to fn when
 * full or, at output_flush, once older than max_age_ns. fn returns 0 or a negative errno (the
 * batch's lines are then counted as errors). */
typedef int (*output_sink_fn)(void *ctx, const char *data, size_t len, uint32_t lines);
struct output *output_new_sink(output_sink_fn fn, void *ctx, size_t max_bytes, uint32_t max_lines,
			       uint64_t max_age_ns);
/* Flushes and frees. */
void output_free(struct output *o);

/* Encodes and queues one event line. 0, or a negative errno (the event is counted lost). */
int output_event(struct output *o, const struct event *ev);
/* Queues one pre-encoded JSON line (without the newline). */
int output_line(struct output *o, const char *json, size_t len);
/* Writes out what is buffered (in sink mode only a batch old enough). 0 or a negative errno
 * (EPIPE when the reader went away). */
int output_flush(struct output *o);
/* Writes out everything buffered, whatever its age. */
int output_flush_all(struct output *o);

uint64_t output_lines(struct output *o);
uint64_t output_errors(struct output *o);

#endif
