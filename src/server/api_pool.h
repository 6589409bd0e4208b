/* Worker threads for API requests that may take long (hunting searches, process trees), so the
 * loop keeps serving agents meanwhile. Each worker owns a store connection; the job writes its
 * JSON reply into an evbuffer and the loop sends it. */
#ifndef MAMORI_API_POOL_H
#define MAMORI_API_POOL_H

#include <stddef.h>

#include <event2/buffer.h>
#include <event2/http.h>

struct server;
struct store;
struct api_pool;

/* Runs on a worker: fills body (JSON) and returns the HTTP status. */
typedef int (*api_job_fn)(struct store *st, void *arg, struct evbuffer *body);

struct api_pool *api_pool_new(struct server *s, unsigned threads, char *err, size_t errlen);
void api_pool_free(struct api_pool *p);
/* Queues fn(arg) for req; free_arg(arg) runs on the loop afterwards (may be NULL). */
void api_pool_submit(struct api_pool *p, struct evhttp_request *req, api_job_fn fn, void *arg,
		     void (*free_arg)(void *));

#endif
