#include "ingest_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "detection.h"
#include "ingest.h"
#include "auto_response.h"
#include "log.h"
#include "notify.h"
#include "server_int.h"

#include "banned.h"

#define POOL_MAX_QUEUE 256

struct job {
	struct job *next;
	struct job *fprev, *fnext; /* on the pool's finished list until answered */
	struct ingest_pool *pool;
	struct evhttp_request *req; /* NULL once the connection closed */
	struct evhttp_connection *con;
	struct event *done;
	char agent_id[33];
	uint64_t epoch, seq;
	char *body;
	size_t len;
	bool zstd;
	int rc;
	struct ingest_result res;
};

struct worker {
	struct ingest_pool *pool;
	pthread_t thread;
	struct store *store;
	struct ingest ingest;
	bool started;
};

struct ingest_pool {
	struct server *s;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	struct job *finished; /* done by a worker, not yet answered by the loop */
	size_t depth;
	bool stop;
	unsigned n;
	struct worker *workers;
};

static void on_inventory(void *ctx, const char *agent_id, const struct store_event_row *row)
{
	struct worker *w = ctx;
	json_t *doc, *host, *os, *ips;
	char *ips_s;
	struct store_val p[8];

	if (!row->action || strcmp(row->action, "inventory"))
		return;
	doc = json_loadb(row->doc, row->doc_len, 0, NULL);
	if (!doc)
		return;
	host = json_object_get(doc, "host");
	os = json_object_get(host, "os");
	ips = json_object_get(host, "ip");
	ips_s = json_is_array(ips) ? json_dumps(ips, JSON_COMPACT) : NULL;
	p[0] = store_text(json_string_value(json_object_get(os, "full")));
	p[1] = store_text(json_string_value(json_object_get(os, "kernel")));
	p[2] = store_text(ips_s);
	p[3] = store_textn(row->doc, row->doc_len);
	p[4] = store_text(row->host);
	p[5] = store_text(json_string_value(json_object_get(os, "platform")));
	p[6] = store_text(json_string_value(json_object_get(os, "version")));
	p[7] = store_text(agent_id);
	if (store_exec(w->store,
		       "UPDATE agents SET os = ?, kernel = ?, ips = ?, inventory = ?, host_name = "
		       "coalesce(?, host_name), platform = ?, os_version = ? WHERE id = ?",
		       p, 8, NULL, NULL) < 0)
		log_warn("ingest", "inventory not saved agent=%s err=%s", agent_id,
			 store_error(w->store));
	free(ips_s);
	json_decref(doc);
}

static void job_closed(struct evhttp_connection *con, void *arg)
{
	struct job *j = arg;

	(void)con;
	j->req = NULL;
	j->con = NULL;
}

static void job_done(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	struct ingest_pool *p = j->pool;
	struct server *s = p->s;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&p->lock);
	if (j->fprev)
		j->fprev->fnext = j->fnext;
	else
		p->finished = j->fnext;
	if (j->fnext)
		j->fnext->fprev = j->fprev;
	pthread_mutex_unlock(&p->lock);
	if (j->con)
		evhttp_connection_set_closecb(j->con, NULL, NULL);
	if (j->rc == 0) {
		s->c.batches++;
		s->c.events_stored += j->res.stored;
		s->c.alerts_stored += j->res.alerts;
		s->c.lines_rejected += j->res.rejected;
		if (j->res.duplicate)
			s->c.duplicates++;
		/* Exclusions and automatic responses run here, on the loop thread, where
		 * commands are queued and agents woken. */
		if (j->res.alert_summaries) {
			auto_response_alerts(s, j->agent_id, j->res.alert_summaries);
			notify_alerts(s, j->agent_id, j->res.alert_summaries);
		}
	} else {
		s->c.frames_rejected++;
	}
	if (j->req) {
		if (j->rc == 0) {
			json_t *o = json_pack("{s:I,s:I,s:I}", "ack", (json_int_t)j->seq, "stored",
					      (json_int_t)j->res.stored, "rejected",
					      (json_int_t)j->res.rejected);

			if (j->res.duplicate)
				json_object_set_new(o, "duplicate", json_true());
			if (j->res.rejected)
				json_object_set_new(o, "first_error",
						    json_string(j->res.first_error));
			server_reply_json(j->req, 200, o);
		} else if (j->rc == -EINVAL) {
			server_reply_error(j->req, 400, "batch is not a valid zstd frame");
		} else if (j->rc == -E2BIG) {
			server_reply_error(j->req, 400, "batch too large after decompression");
		} else {
			server_reply_error(j->req, 503, "store unavailable: %s", strerror(-j->rc));
		}
	}
	json_decref(j->res.alert_summaries);
	event_free(j->done);
	free(j->body);
	free(j);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ingest_pool *p = w->pool;

	for (;;) {
		struct job *j;

		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		j = p->head;
		if (!j) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->depth--;
		pthread_mutex_unlock(&p->lock);

		j->rc = ingest_batch(&w->ingest, j->agent_id, j->epoch, j->seq, j->body, j->len,
				     j->zstd, &j->res);
		if (j->rc && j->rc != -EINVAL && j->rc != -E2BIG)
			log_warn("ingest", "batch not stored agent=%s seq=%llu err=%s", j->agent_id,
				 (unsigned long long)j->seq, store_error(w->store));
		else if (j->res.rejected)
			log_warn("ingest",
				 "lines rejected agent=%s seq=%llu count=%llu first=\"%s\"",
				 j->agent_id, (unsigned long long)j->seq,
				 (unsigned long long)j->res.rejected, j->res.first_error);
		pthread_mutex_lock(&p->lock);
		j->fprev = NULL;
		j->fnext = p->finished;
		if (p->finished)
			p->finished->fprev = j;
		p->finished = j;
		pthread_mutex_unlock(&p->lock);
		event_active(j->done, 0, 0);
	}
	return NULL;
}

struct ingest_pool *ingest_pool_new(struct server *s, unsigned threads, char *err, size_t errlen)
{
	struct ingest_pool *p = calloc(1, sizeof(*p));

	if (!p || !(p->workers = calloc(threads, sizeof(*p->workers)))) {
		free(p);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->s = s;
	p->n = threads;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	for (unsigned i = 0; i < threads; i++) {
		struct worker *w = &p->workers[i];

		w->pool = p;
		w->store = store_open(s->store_target, err, errlen);
		if (!w->store) {
			ingest_pool_free(p);
			return NULL;
		}
		ingest_init(&w->ingest, w->store);
		if (s->detection && !(w->ingest.det = detection_worker_new(s->detection))) {
			snprintf(err, errlen, "out of memory");
			ingest_pool_free(p);
			return NULL;
		}
		w->ingest.on_doc = on_inventory;
		w->ingest.summaries = true;
		w->ingest.on_doc_ctx = w;
		if (pthread_create(&w->thread, NULL, worker_main, w)) {
			snprintf(err, errlen, "cannot start ingest thread");
			ingest_pool_free(p);
			return NULL;
		}
		w->started = true;
	}
	return p;
}

void ingest_pool_free(struct ingest_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n; i++) {
		struct worker *w = &p->workers[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		detection_worker_free(w->ingest.det);
		w->ingest.det = NULL;
		ingest_release(&w->ingest);
		store_close(w->store);
	}
	/* Jobs the workers finished after the loop stopped: answer them (what was committed is
	 * acknowledged if the connection is still open) and free them. */
	while (p->finished)
		job_done(-1, 0, p->finished);
	free(p->workers);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}

void ingest_pool_submit(struct ingest_pool *p, struct evhttp_request *req, const char *agent_id,
			uint64_t epoch, uint64_t seq, char *body, size_t len, bool zstd)
{
	struct job *j;

	if (p->depth >= POOL_MAX_QUEUE) {
		free(body);
		server_reply_error(req, 503, "ingest queue full, retry later");
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		free(body);
		server_reply_error(req, 500, "out of memory");
		return;
	}
	j->pool = p;
	j->req = req;
	j->con = evhttp_request_get_connection(req);
	snprintf(j->agent_id, sizeof(j->agent_id), "%s", agent_id);
	j->epoch = epoch;
	j->seq = seq;
	j->body = body;
	j->len = len;
	j->zstd = zstd;
	j->done = event_new(p->s->base, -1, 0, job_done, j);
	if (!j->done) {
		free(body);
		free(j);
		server_reply_error(req, 500, "out of memory");
		return;
	}
	evhttp_connection_set_closecb(j->con, job_closed, j);
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->depth++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

size_t ingest_pool_depth(struct ingest_pool *p)
{
	return p->depth;
}
