/* Private to the server's files: the shared state and the helpers the HTTP handlers use. */
#ifndef MAMORI_SERVER_INT_H
#define MAMORI_SERVER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "server.h"
#include "store.h"

struct api_pool;
struct detection;
struct fleet;
struct ingest_pool;
struct notify;
struct pki;
struct policy_cache;

struct server_counters {
	uint64_t alerts_stored;
	uint64_t alerts_excluded; /* matched a policy exclusion or a disabled rule */
	uint64_t batches, events_stored, lines_rejected, duplicates, frames_rejected, requests,
	    auth_failures, api_errors, commands_queued, commands_done;
};

struct server {
	struct server_opts opts;
	struct event_base *base;
	struct evhttp *http;
	SSL_CTX *ssl;
	struct pki *pki;
	struct store *store; /* the loop thread's connection */
	char store_target[1024];
	struct ingest_pool *ingest;
	struct api_pool *api; /* searches and trees, off the loop */
	struct fleet *fleet;
	struct detection *detection; /* NULL when no rules are configured */
	struct prevalence *prevalence;
	struct policy_cache *policies; /* policy.c, loop thread only */
	struct notify *notify;	       /* alert notifications: outbox and delivery thread */
	struct event *sig_int, *sig_term, *sig_hup, *tick, *notify_ev;
	struct server_counters c;
	uint64_t started_ns;
};

enum role { ROLE_NONE, ROLE_VIEWER, ROLE_ANALYST, ROLE_ADMIN };

struct api_ctx {
	struct server *s;
	struct evhttp_request *req;
	const char *path;  /* decoded path below /api/v1 */
	const char *query; /* raw query string or NULL */
	char user[64];
	enum role role;
};

uint64_t server_now_ns(void);
int64_t server_now_ms(void);

/* Replies: body is borrowed; json is stolen. */
void server_reply_json(struct evhttp_request *req, int code, json_t *json);
void server_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reads the request body up to max bytes into a NUL-terminated heap copy (caller frees).
 * NULL when it is larger (413 already sent) or on memory failure (500 sent). */
char *server_body(struct evhttp_request *req, size_t max, size_t *len);
/* Parses the body as a JSON object; NULL after replying 400/413. Caller decrefs. */
json_t *server_body_json(struct evhttp_request *req);
/* The verified agent behind a mutual-TLS request, or NULL after replying 401. */
const char *server_agent_of(struct server *s, struct evhttp_request *req);
/* Writes one audit record. */
void server_audit(struct server *s, const char *user, const char *method, const char *path,
		  int status, const char *detail);
/* Random lowercase hex of nbytes random bytes into buf (>= 2*nbytes + 1). */
int server_random_hex(char *buf, size_t nbytes);
/* Parses "30s", "15m", "2h", "7d" or an RFC 3339 time into ns since the epoch. */
int server_parse_time(const char *s, int64_t *ns);
int server_parse_duration(const char *s, int64_t *ns);

/* Agent endpoints (http_agent.c). */
void http_agent_handle(struct server *s, struct evhttp_request *req, const char *path);
/* REST API (http_api.c dispatches to the http_*.c resources). */
void http_api_handle(struct server *s, struct evhttp_request *req, const char *path);
void http_hosts(struct api_ctx *a);
void http_events(struct api_ctx *a);
void http_admin(struct api_ctx *a);
void http_alerts(struct api_ctx *a);
void http_rules(struct api_ctx *a);
void http_actions(struct api_ctx *a);
void http_policy(struct api_ctx *a);
void http_notify(struct api_ctx *a);
/* A host name or agent id to the agent id (the newest enrollment of a name). -ENOENT. */
int http_host_resolve(struct server *s, const char *h, char id[33]);

/* Query-string value (decoded, caller frees) or NULL. */
char *api_query_param(struct api_ctx *a, const char *key);
/* The since and until (ns since the epoch; 0 and INT64_MAX when absent) and limit (1-100000,
 * default 1000) query parameters of a listing. false after replying 400 to a malformed one. */
bool api_list_window(struct api_ctx *a, int64_t *since, int64_t *until, int64_t *limit);
bool api_require(struct api_ctx *a, enum role role);
void api_audit(struct api_ctx *a, int status, const char *detail);

#endif
