#include "output.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dynbuf.h"
#include "event_json.h"

#include "banned.h"

struct output {
	pthread_mutex_t lock;
	int fd;
	struct dynbuf buf;  /* pending lines */
	struct dynbuf line; /* one encoded event */
	size_t flush_at;
	uint64_t lines, errors;
	int failed; /* sticky write error */
	/* Sink mode (batches to the spool) instead of an fd. */
	output_sink_fn sink;
	void *sink_ctx;
	uint32_t max_lines, pending;
	uint64_t max_age_ns, first_ns;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct output *output_new(int fd, size_t buffer_bytes)
{
	struct output *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	pthread_mutex_init(&o->lock, NULL);
	o->fd = fd;
	o->flush_at = buffer_bytes;
	dynbuf_init(&o->buf, buffer_bytes + EVENT_JSON_MAX_LINE);
	dynbuf_init(&o->line, EVENT_JSON_MAX_LINE);
	return o;
}

struct output *output_new_sink(output_sink_fn fn, void *ctx, size_t max_bytes, uint32_t max_lines,
			       uint64_t max_age_ns)
{
	struct output *o = output_new(-1, max_bytes);

	if (!o)
		return NULL;
	o->sink = fn;
	o->sink_ctx = ctx;
	o->max_lines = max_lines ? max_lines : UINT32_MAX;
	o->max_age_ns = max_age_ns;
	return o;
}

static int flush_locked(struct output *o)
{
	size_t off = 0;

	if (o->sink) {
		int rc;

		if (!o->buf.len)
			return 0;
		rc = o->sink(o->sink_ctx, o->buf.data, o->buf.len, o->pending);
		if (rc)
			o->errors += o->pending;
		dynbuf_reset(&o->buf);
		o->pending = 0;
		return rc;
	}
	if (o->failed)
		return o->failed;
	while (off < o->buf.len) {
		ssize_t n = write(o->fd, o->buf.data + off, o->buf.len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			o->failed = -errno;
			break;
		}
		off += (size_t)n;
	}
	dynbuf_reset(&o->buf);
	return o->failed;
}

int output_flush(struct output *o)
{
	int rc = 0;

	pthread_mutex_lock(&o->lock);
	/* A batch is sealed when it is old enough; a file descriptor gets everything at once. */
	if (!o->sink || (o->buf.len && mono_ns() - o->first_ns >= o->max_age_ns))
		rc = flush_locked(o);
	pthread_mutex_unlock(&o->lock);
	return rc;
}

int output_flush_all(struct output *o)
{
	int rc;

	pthread_mutex_lock(&o->lock);
	rc = flush_locked(o);
	pthread_mutex_unlock(&o->lock);
	return rc;
}

void output_free(struct output *o)
{
	if (!o)
		return;
	output_flush_all(o);
	dynbuf_release(&o->buf);
	dynbuf_release(&o->line);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

/* Ends the line that starts at buf[start] (already written there) and counts it; on failure
 * the line is taken back and counted as an error. */
static int commit_line_locked(struct output *o, size_t start)
{
	int rc = dynbuf_addc(&o->buf, '\n');

	if (rc) {
		dynbuf_truncate(&o->buf, start);
		o->errors++;
		return rc;
	}
	if (o->sink && start == 0)
		o->first_ns = mono_ns();
	o->lines++;
	o->pending++;
	return o->failed;
}

static int append_locked(struct output *o, const char *s, size_t n)
{
	int rc;

	if (o->buf.len + n + 1 > o->flush_at || (o->sink && o->pending >= o->max_lines))
		flush_locked(o);
	rc = dynbuf_add(&o->buf, s, n);
	if (rc) {
		o->errors++;
		return rc;
	}
	return commit_line_locked(o, o->buf.len - n);
}

int output_event(struct output *o, const struct event *ev)
{
	size_t start;
	int rc;

	pthread_mutex_lock(&o->lock);
	if (o->sink && o->pending >= o->max_lines)
		flush_locked(o);
	/* Encoded straight into the pending lines (no copy); the buffer's cap leaves room for one
	 * longest line past flush_at. */
	start = o->buf.len;
	rc = event_json_encode(ev, &o->buf);
	if (rc) {
		o->errors++;
	} else if (start > 0 && o->buf.len + 1 > o->flush_at) {
		/* This line tips the batch over: it goes first in the next one. */
		dynbuf_reset(&o->line);
		rc = dynbuf_add(&o->line, o->buf.data + start, o->buf.len - start);
		dynbuf_truncate(&o->buf, start);
		if (rc == 0)
			rc = append_locked(o, o->line.data, o->line.len);
		else
			o->errors++;
	} else {
		rc = commit_line_locked(o, start);
	}
	pthread_mutex_unlock(&o->lock);
	return rc;
}

int output_line(struct output *o, const char *json, size_t len)
{
	int rc;

	pthread_mutex_lock(&o->lock);
	rc = append_locked(o, json, len);
	pthread_mutex_unlock(&o->lock);
	return rc;
}

uint64_t output_lines(struct output *o)
{
	uint64_t n;

	pthread_mutex_lock(&o->lock);
	n = o->lines;
	pthread_mutex_unlock(&o->lock);
	return n;
}

uint64_t output_errors(struct output *o)
{
	uint64_t n;

	pthread_mutex_lock(&o->lock);
	n = o->errors;
	pthread_mutex_unlock(&o->lock);
	return n;
}
