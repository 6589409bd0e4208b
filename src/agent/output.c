#include "output.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
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
};

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

static int flush_locked(struct output *o)
{
	size_t off = 0;

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
	output_flush(o);
	dynbuf_release(&o->buf);
	dynbuf_release(&o->line);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

static int append_locked(struct output *o, const char *s, size_t n)
{
	int rc;

	if (o->buf.len + n + 1 > o->flush_at)
		flush_locked(o);
	rc = dynbuf_add(&o->buf, s, n);
	if (rc == 0)
		rc = dynbuf_addc(&o->buf, '\n');
	if (rc) {
		o->errors++;
		return rc;
	}
	o->lines++;
	return o->failed;
}

int output_event(struct output *o, const struct event *ev)
{
	int rc;

	pthread_mutex_lock(&o->lock);
	dynbuf_reset(&o->line);
	rc = event_json_encode(ev, &o->line);
	if (rc == 0)
		rc = append_locked(o, o->line.data, o->line.len);
	else
		o->errors++;
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
