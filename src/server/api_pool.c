#include "api_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "server_int.h"

#include "banned.h"

#define API_POOL_MAX_QUEUE 64

struct api_job {
	struct api_job *next;
	struct api_job *all_prev, *all_next; /* every job not yet answered (loop thread) */
	struct api_pool *pool;
	struct evhttp_request *req; /* NULL once the client went away */
	struct evhttp_connection *con;
	struct event *done;
	api_job_fn fn;
	void *arg;
	void (*free_arg)(void *);
	struct evbuffer *body;
	int status;
};

struct api_worker {
	struct api_pool *pool;
	pthread_t thread;
	struct store *store;
	bool started;
};

struct api_pool {
	struct server *s;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct api_job *head, *tail;
	struct api_job *all;
	size_t depth;
	bool stop;
	unsigned n;
	struct api_worker *workers;
};

static void job_closed(struct evhttp_connection *con, void *arg)
{
	struct api_job *j = arg;

	(void)con;
	j->req = NULL;
	j->con = NULL;
}

static void job_unlink(struct api_job *j)
{
	if (j->all_prev)
		j->all_prev->all_next = j->all_next;
	else
		j->pool->all = j->all_next;
	if (j->all_next)
		j->all_next->all_prev = j->all_prev;
}

static void job_free(struct api_job *j)
{
	if (j->con)
		evhttp_connection_set_closecb(j->con, NULL, NULL);
	if (j->free_arg)
		j->free_arg(j->arg);
	evbuffer_free(j->body);
	event_free(j->done);
	free(j);
}

static void job_done(evutil_socket_t fd, short what, void *arg)
{
	struct api_job *j = arg;

	(void)fd;
	(void)what;
	job_unlink(j);
	if (j->con)
		evhttp_connection_set_closecb(j->con, NULL, NULL);
	if (j->req) {
		evhttp_add_header(evhttp_request_get_output_headers(j->req), "Content-Type",
				  "application/json");
		evhttp_send_reply(j->req, j->status, NULL, j->body);
	}
	j->con = NULL;
	job_free(j);
}

static void *worker_main(void *arg)
{
	struct api_worker *w = arg;
	struct api_pool *p = w->pool;

	for (;;) {
		struct api_job *j;

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
		j->status = j->fn(w->store, j->arg, j->body);
		event_active(j->done, 0, 0);
	}
	return NULL;
}

struct api_pool *api_pool_new(struct server *s, unsigned threads, char *err, size_t errlen)
{
	struct api_pool *p = calloc(1, sizeof(*p));

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
		struct api_worker *w = &p->workers[i];

		w->pool = p;
		w->store = store_open(s->store_target, err, errlen);
		if (!w->store || pthread_create(&w->thread, NULL, worker_main, w)) {
			if (w->store)
				snprintf(err, errlen, "cannot start an API thread");
			api_pool_free(p);
			return NULL;
		}
		w->started = true;
	}
	return p;
}

void api_pool_free(struct api_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n; i++) {
		if (p->workers[i].started)
			pthread_join(p->workers[i].thread, NULL);
		store_close(p->workers[i].store);
	}
	/* The loop has stopped: jobs queued or finished but never answered are dropped. */
	while (p->all) {
		struct api_job *j = p->all;

		job_unlink(j);
		job_free(j);
	}
	free(p->workers);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}

void api_pool_submit(struct api_pool *p, struct evhttp_request *req, api_job_fn fn, void *arg,
		     void (*free_arg)(void *))
{
	struct api_job *j = NULL;

	if (p->depth >= API_POOL_MAX_QUEUE) {
		server_reply_error(req, 503, "too many searches in progress, retry later");
		goto fail;
	}
	j = calloc(1, sizeof(*j));
	if (!j || !(j->body = evbuffer_new()) ||
	    !(j->done = event_new(p->s->base, -1, 0, job_done, j))) {
		server_reply_error(req, 500, "out of memory");
		goto fail;
	}
	j->pool = p;
	j->req = req;
	j->con = evhttp_request_get_connection(req);
	j->fn = fn;
	j->arg = arg;
	j->free_arg = free_arg;
	evhttp_connection_set_closecb(j->con, job_closed, j);
	j->all_next = p->all;
	if (p->all)
		p->all->all_prev = j;
	p->all = j;
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->depth++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return;
fail:
	if (j && j->body)
		evbuffer_free(j->body);
	free(j);
	if (free_arg)
		free_arg(arg);
}
