/* Ingest worker threads: each owns a store connection and a struct ingest; the loop hands them
 * event batches and answers the agent when the batch is committed. */
#ifndef MAMORI_INGEST_POOL_H
#define MAMORI_INGEST_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>

struct server;
struct ingest_pool;

struct ingest_pool *ingest_pool_new(struct server *s, unsigned threads, char *err, size_t errlen);
/* Finishes queued batches, then stops the threads. */
void ingest_pool_free(struct ingest_pool *p);

/* Takes body (heap, freed by the pool). Replies to req when done. */
void ingest_pool_submit(struct ingest_pool *p, struct evhttp_request *req, const char *agent_id,
			uint64_t epoch, uint64_t seq, char *body, size_t len, bool zstd);
size_t ingest_pool_depth(struct ingest_pool *p);

#endif
