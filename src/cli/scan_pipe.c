/* mamori scan's parser stage: splitting a file into lines and filling one detect_doc per line,
 * either inline or on worker threads. Each worker takes the next batch of lines from the file,
 * parses them and runs the prep step on them (the order-free half of matching) while the other
 * workers do the same with the batches after it; the calling thread consumes the batches through
 * a small ring in file order. */
#include "scan_pipe.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "detect_doc.h"
#include "detect_doc_auditd.h"
#include "detect_doc_json.h"
#include "dynbuf.h"

#include "banned.h"

/* One handoff per batch keeps the locking and the wake-ups far below the cost of parsing its
 * lines (64 lines a batch made 30,000 context switches over a million events, 256 made 8,600),
 * and two batches per worker absorb the jitter between the stages. Every line in the ring has a
 * doc of its own (about 270 KiB of address space, of which a line touches a few pages), so the
 * lines in the ring are capped at RING_LINES whatever the number of workers: 1,024 docs, about
 * 280 MB of address space and a few MB resident. */
#define BATCH_LINES_MAX 256
#define BATCH_LINES_MIN 64
#define BATCHES_PER_WORKER 2
#define RING_LINES 1024u
#define RING_MAX (BATCHES_PER_WORKER * SCAN_PIPE_MAX_THREADS)
/* Read from a pipe, a batch keeps a copy of its lines; past this many bytes it is handed over
 * early. */
#define BATCH_TEXT (1u << 20)
#define READ_BLOCK (1u << 20)

struct slot {
	struct scan_pipe_line l;
	size_t off; /* of the line in the batch's text, while the batch is being filled */
};

struct batch {
	struct slot *slot;
	unsigned n;
	struct dynbuf text; /* the lines' bytes, when the source reuses its buffer */
	bool last;	    /* the file ends with this batch */
	int err;	    /* with last: 0, or why reading failed */
	bool ready;	    /* parsed, and not yet consumed */
};

/* The lines of one file: a mapping (valid until the pipeline has drained) or blocks read into
 * buf, which the next read overwrites. */
struct source {
	const char *map;
	size_t map_len;
	int fd;
	struct dynbuf buf;
	size_t pos;	/* the next byte to look at, in map or in buf */
	size_t skipped; /* bytes of an overlong line already dropped from buf */
	bool eof;
	bool nowait; /* return NOT_BUFFERED rather than block in read() */
	uint64_t line_no;
};

struct worker {
	struct scan_pipe *p;
	void *state; /* the prep step's, for this worker */
	pthread_t tid;
};

struct scan_pipe {
	struct batch b[RING_MAX];
	unsigned nbatch;   /* 1 when parsing inline */
	unsigned cap;	   /* lines per batch */
	unsigned nworkers; /* 0: inline */
	struct worker w[SCAN_PIPE_MAX_THREADS];
	scan_pipe_prep_fn prep;
	void *inline_state;
	bool synced;
	/* Locks: src_mu serialises taking lines from the source (which may block in read() on a
	 * pipe) and is taken before mu, which guards the ring; nothing waits on a read while
	 * holding mu, so a parsed batch is handed over while another worker waits for input. */
	struct source src; /* under src_mu while workers run */
	pthread_mutex_t src_mu, mu;
	pthread_cond_t filled, freed;
	uint64_t taken, consumed; /* batches taken from the file, and consumed, this run */
	bool ended;		  /* the batch with the file's end was taken */
	bool stop;		  /* the consumer gave up: workers end at their next batch */
};

#define NOT_BUFFERED 2

/* The next line, without its newline: 1 with *line valid until the next call (or the unmap; NULL
 * when *len is over SCAN_PIPE_MAX_LINE), 0 at the end, NOT_BUFFERED when r->nowait is set and the
 * next line would need a read, or a negative errno. */
static int source_next(struct source *r, const char **line, size_t *len, size_t *bytes)
{
	if (r->map) {
		if (r->pos >= r->map_len)
			return 0;
		const char *p = r->map + r->pos;
		size_t left = r->map_len - r->pos;
		const char *nl = memchr(p, '\n', left);
		*len = nl ? (size_t)(nl - p) : left;
		*bytes = *len + (nl ? 1 : 0);
		*line = *len > SCAN_PIPE_MAX_LINE ? NULL : p;
		r->pos += *bytes;
		return 1;
	}
	for (;;) {
		char *p = r->buf.data ? r->buf.data + r->pos : NULL;
		size_t left = r->buf.len - r->pos;
		const char *nl = p && left ? memchr(p, '\n', left) : NULL;
		if (nl || (r->eof && (left || r->skipped))) {
			size_t n = nl ? (size_t)(nl - p) : left;
			*len = r->skipped + n;
			*bytes = *len + (nl ? 1 : 0);
			*line = *len > SCAN_PIPE_MAX_LINE ? NULL : p;
			r->pos += n + (nl ? 1 : 0);
			r->skipped = 0;
			return 1;
		}
		if (r->eof)
			return 0;
		if (r->nowait)
			return NOT_BUFFERED;
		/* Carry the partial line over to the next block, or drop it once it is too long to
		 * report as anything but that (it still counts in *len and *bytes). */
		if (r->skipped + left > SCAN_PIPE_MAX_LINE) {
			r->skipped += left;
			left = 0;
		} else if (p && left && r->pos) {
			memmove(r->buf.data, p, left);
		}
		r->buf.len = left;
		r->pos = 0;
		int rc = dynbuf_reserve(&r->buf, READ_BLOCK);
		if (rc < 0)
			return rc;
		ssize_t got = read(r->fd, r->buf.data + r->buf.len, READ_BLOCK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			r->eof = true;
		r->buf.len += (size_t)got;
		r->buf.data[r->buf.len] = '\0';
	}
}

static void parse_line(struct scan_pipe_line *l)
{
	if (l->len > SCAN_PIPE_MAX_LINE) {
		l->kind = SCAN_PIPE_LINE_TOO_LONG;
		l->line = NULL;
		return;
	}
	const char *p = l->line;
	size_t n = l->len;
	while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	size_t i = 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	l->line = p + i;
	l->len = n - i;
	l->err[0] = '\0';
	if (!l->len) {
		l->kind = SCAN_PIPE_LINE_BLANK;
		return;
	}
	int rc;
	p = l->line;
	n = l->len;
	l->nsel = -1;
	l->is_json = p[0] == '{';
	if (l->is_json) {
		rc = detect_doc_from_json(l->doc, p, n, l->err, sizeof(l->err));
	} else if (memmem(p, n, "audit(", 6)) {
		rc = detect_doc_from_auditd(l->doc, p, n, l->err, sizeof(l->err));
	} else {
		(void)snprintf(l->err, sizeof(l->err),
			       "neither an ECS JSON object nor an auditd record");
		rc = -EINVAL;
	}
	l->kind = rc < 0 ? SCAN_PIPE_LINE_BAD : SCAN_PIPE_LINE_EVENT;
}

/* Takes the next lines from the source: copied into the batch when the source's buffer would not
 * outlive the batch, so that every doc's borrowed strings stay valid until the consumer is done
 * with it. */
static void batch_take(struct scan_pipe *p, struct batch *b)
{
	struct source *r = &p->src;
	bool copy = !r->map && p->cap > 1;

	b->n = 0;
	b->last = false;
	b->err = 0;
	dynbuf_reset(&b->text);
	while (b->n < p->cap && b->text.len < BATCH_TEXT) {
		struct slot *s = &b->slot[b->n];
		const char *line = NULL;
		size_t len = 0, bytes = 0;
		/* From a pipe, a batch with lines in it goes now rather than wait for more input:
		 * alerts from a live stream (tail -f | mamori scan -) are not held back. */
		r->nowait = copy && b->n > 0;
		int rc = source_next(r, &line, &len, &bytes);
		if (rc == NOT_BUFFERED)
			break;
		if (rc > 0 && copy && line) {
			s->off = b->text.len;
			if ((rc = dynbuf_add(&b->text, line, len)) == 0)
				rc = 1;
		}
		if (rc <= 0) {
			b->last = true;
			b->err = rc;
			break;
		}
		s->l.line = line;
		s->l.len = len;
		s->l.bytes = bytes;
		s->l.line_no = ++r->line_no;
		b->n++;
	}
	for (unsigned i = 0; copy && i < b->n; i++) {
		struct slot *s = &b->slot[i];
		if (s->l.line)
			s->l.line = b->text.data ? b->text.data + s->off : "";
	}
}

/* Parses the batch's lines, then runs the prep step on each with the given state. */
static void batch_parse(struct scan_pipe *p, struct batch *b, void *state)
{
	for (unsigned i = 0; i < b->n; i++) {
		parse_line(&b->slot[i].l);
		if (p->prep)
			p->prep(state, &b->slot[i].l);
	}
}

/* True when fn asked to stop. */
static bool batch_drain(struct batch *b, scan_pipe_fn fn, void *ctx)
{
	for (unsigned i = 0; i < b->n; i++)
		if (fn(ctx, &b->slot[i].l))
			return true;
	return false;
}

static int run_inline(struct scan_pipe *p, scan_pipe_fn fn, void *ctx)
{
	struct batch *b = &p->b[0];
	do {
		batch_take(p, b);
		batch_parse(p, b, p->inline_state);
		if (batch_drain(b, fn, ctx))
			return 0;
	} while (!b->last);
	return b->err;
}

/* A worker: reserves the next ring slot, takes the next lines from the source into it, then
 * parses them outside both locks and marks the batch ready. Slots are reserved and filled under
 * src_mu, one worker at a time, so the ring holds batches in file order. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct scan_pipe *p = w->p;

	for (;;) {
		pthread_mutex_lock(&p->src_mu);
		pthread_mutex_lock(&p->mu);
		while (!p->stop && !p->ended && p->taken - p->consumed >= p->nbatch)
			pthread_cond_wait(&p->freed, &p->mu);
		bool done = p->stop || p->ended;
		struct batch *b = done ? NULL : &p->b[p->taken++ % p->nbatch];
		pthread_mutex_unlock(&p->mu);
		if (done) {
			pthread_mutex_unlock(&p->src_mu);
			break;
		}
		batch_take(p, b);
		if (b->last) {
			pthread_mutex_lock(&p->mu);
			p->ended = true;
			pthread_cond_broadcast(&p->freed); /* the other workers can end */
			pthread_mutex_unlock(&p->mu);
		}
		pthread_mutex_unlock(&p->src_mu);
		batch_parse(p, b, w->state);
		pthread_mutex_lock(&p->mu);
		b->ready = true;
		pthread_cond_broadcast(&p->filled);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

static int run_threaded(struct scan_pipe *p, scan_pipe_fn fn, void *ctx)
{
	sigset_t all, old;
	unsigned started = 0;
	int rc = 0;

	p->taken = p->consumed = 0;
	p->ended = p->stop = false;
	for (unsigned i = 0; i < p->nbatch; i++)
		p->b[i].ready = false;
	/* Signals stay with the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (started < p->nworkers &&
	       pthread_create(&p->w[started].tid, NULL, worker_main, &p->w[started]) == 0)
		started++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!started)
		return run_inline(p, fn, ctx);
	for (;;) {
		struct batch *b = &p->b[p->consumed % p->nbatch];
		pthread_mutex_lock(&p->mu);
		while (!b->ready)
			pthread_cond_wait(&p->filled, &p->mu);
		pthread_mutex_unlock(&p->mu);
		bool stopped = batch_drain(b, fn, ctx);
		bool last = b->last;
		if (last && !stopped)
			rc = b->err;
		pthread_mutex_lock(&p->mu);
		b->ready = false;
		p->consumed++;
		p->stop = stopped;
		pthread_cond_broadcast(&p->freed);
		pthread_mutex_unlock(&p->mu);
		if (last || stopped)
			break;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(p->w[i].tid, NULL);
	return rc;
}

int scan_pipe_run(struct scan_pipe *p, int fd, scan_pipe_fn fn, void *ctx)
{
	struct source *r = &p->src;
	struct stat st;

	r->map = NULL;
	r->fd = fd;
	r->pos = 0;
	r->skipped = 0;
	r->eof = false;
	r->nowait = false;
	r->line_no = 0;
	dynbuf_reset(&r->buf);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
			r->map = m;
			r->map_len = (size_t)st.st_size;
		}
	}
	/* Pipes and the like are read in blocks instead, carrying a partial last line over. */
	int rc = p->nworkers ? run_threaded(p, fn, ctx) : run_inline(p, fn, ctx);
	if (r->map)
		munmap((void *)r->map, r->map_len);
	r->map = NULL;
	return rc;
}

struct scan_pipe *scan_pipe_new(const struct detect_fields *fields, unsigned threads,
				scan_pipe_prep_fn prep, void *const *states)
{
	struct scan_pipe *p = calloc(1, sizeof(*p));
	int err = ENOMEM;

	if (!p)
		return NULL;
	if (threads < 1 || threads > SCAN_PIPE_MAX_THREADS) {
		free(p);
		errno = EINVAL;
		return NULL;
	}
	dynbuf_init(&p->src.buf, SCAN_PIPE_MAX_LINE + READ_BLOCK);
	p->prep = prep;
	p->nworkers = threads > 1 ? threads : 0;
	for (unsigned i = 0; i < p->nworkers; i++) {
		p->w[i].p = p;
		p->w[i].state = states ? states[i] : NULL;
	}
	p->inline_state = states ? states[0] : NULL;
	p->nbatch = p->nworkers ? BATCHES_PER_WORKER * p->nworkers : 1;
	p->cap = p->nworkers ? RING_LINES / p->nbatch : 1;
	if (p->nworkers && p->cap > BATCH_LINES_MAX)
		p->cap = BATCH_LINES_MAX;
	if (p->nworkers && p->cap < BATCH_LINES_MIN)
		p->cap = BATCH_LINES_MIN;
	for (unsigned i = 0; i < p->nbatch; i++) {
		struct batch *b = &p->b[i];
		dynbuf_init(&b->text, BATCH_TEXT + SCAN_PIPE_MAX_LINE);
		if (!(b->slot = calloc(p->cap, sizeof(*b->slot))))
			goto out;
		for (unsigned j = 0; j < p->cap; j++)
			if (!(b->slot[j].l.doc = detect_doc_new(fields))) {
				err = errno;
				goto out;
			}
	}
	if (p->nworkers) {
		if ((err = pthread_mutex_init(&p->src_mu, NULL)))
			goto out;
		if ((err = pthread_mutex_init(&p->mu, NULL))) {
			pthread_mutex_destroy(&p->src_mu);
			goto out;
		}
		if ((err = pthread_cond_init(&p->filled, NULL))) {
			pthread_mutex_destroy(&p->mu);
			pthread_mutex_destroy(&p->src_mu);
			goto out;
		}
		if ((err = pthread_cond_init(&p->freed, NULL))) {
			pthread_cond_destroy(&p->filled);
			pthread_mutex_destroy(&p->mu);
			pthread_mutex_destroy(&p->src_mu);
			goto out;
		}
		p->synced = true;
	}
	return p;
out:
	scan_pipe_free(p);
	errno = err;
	return NULL;
}

void scan_pipe_free(struct scan_pipe *p)
{
	if (!p)
		return;
	if (p->synced) {
		pthread_cond_destroy(&p->freed);
		pthread_cond_destroy(&p->filled);
		pthread_mutex_destroy(&p->mu);
		pthread_mutex_destroy(&p->src_mu);
	}
	for (unsigned i = 0; i < p->nbatch; i++) {
		struct batch *b = &p->b[i];
		for (unsigned j = 0; b->slot && j < p->cap; j++)
			detect_doc_free(b->slot[j].l.doc);
		free(b->slot);
		dynbuf_release(&b->text);
	}
	dynbuf_release(&p->src.buf);
	free(p);
}
