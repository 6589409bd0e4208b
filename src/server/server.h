/* mamori-server's core: one libevent loop serving agents (/v1, mutual TLS) and the REST API
 * (/api/v1, bearer tokens) on one HTTPS port, with ingest on worker threads. */
#ifndef MAMORI_SERVER_H
#define MAMORI_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct server_opts {
	const char *data_dir;	  /* PKI, initial credentials, SQLite database */
	const char *listen;	  /* "127.0.0.1:8443" */
	const char *store;	  /* NULL: sqlite:<data_dir>/mamori.db; or a PostgreSQL URI */
	const char *const *names; /* extra certificate names */
	size_t n_names;
	unsigned ingest_threads;      /* default 1 */
	unsigned heartbeat_timeout_s; /* default 30 */
	unsigned retention_days;      /* 0: keep forever */
	unsigned command_ttl_s;	      /* queued commands expire after this, default 3600 */
	const char *node_name;
	const char *const *rule_paths; /* Sigma rule files or directories; none: no detection */
	size_t n_rule_paths;
	const char *const *ioc_paths;  /* indicator files or directories */
	size_t n_ioc_paths;
	unsigned learning_hours; /* fleet prevalence baseline before its alerts start (default 24) */
	bool learning_set;	 /* learning_hours was given (0 is valid) */
	unsigned notify_retry_base_s; /* first retry of a failed notification (default 30) */
	bool plain_http; /* no TLS: only for the in-process fuzz harness */
};

struct server;
struct event_base;
struct evhttp;

/* Caller owns the result. NULL with err filled. */
struct server *server_new(const struct server_opts *o, char *err, size_t errlen);
/* Runs the loop until SIGINT/SIGTERM. 0 or a negative errno. */
int server_run(struct server *s);
void server_free(struct server *s);
/* The loop and the HTTP server, borrowed for the server's lifetime (the fuzz harness drives
 * them directly). */
struct event_base *server_base(struct server *s);
struct evhttp *server_http(struct server *s);

#endif
