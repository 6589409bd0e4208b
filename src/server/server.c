/* The loop: TLS listener, routing between agent endpoints and the API, periodic work. */
#include "server.h"
#include "server_int.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "api_pool.h"
#include "commands.h"
#include "event_json.h"
#include "fleet.h"
#include "ingest_pool.h"
#include "detection.h"
#include "prevalence.h"
#include "log.h"
#include "notify.h"
#include "policy.h"
#include "pki.h"
#include "server_auth.h"
#include "utf8.h"
#include "wire.h"

#include "banned.h"

uint64_t server_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t server_now_ms(void)
{
	return (int64_t)(server_now_ns() / 1000000ull);
}

int server_random_hex(char *buf, size_t nbytes)
{
	unsigned char raw[64];
	static const char hx[] = "0123456789abcdef";

	if (nbytes > sizeof(raw) || RAND_bytes(raw, (int)nbytes) != 1)
		return -EIO;
	for (size_t i = 0; i < nbytes; i++) {
		buf[2 * i] = hx[raw[i] >> 4];
		buf[2 * i + 1] = hx[raw[i] & 15];
	}
	buf[2 * nbytes] = 0;
	return 0;
}

int server_parse_duration(const char *s, int64_t *ns)
{
	char *end;
	long long v;
	int64_t unit;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno || v < 0 || v > 100000000)
		return -EINVAL;
	if (!strcmp(end, "s") || !*end)
		unit = 1000000000ll;
	else if (!strcmp(end, "m"))
		unit = 60ll * 1000000000ll;
	else if (!strcmp(end, "h"))
		unit = 3600ll * 1000000000ll;
	else if (!strcmp(end, "d"))
		unit = 86400ll * 1000000000ll;
	else if (!strcmp(end, "w"))
		unit = 7 * 86400ll * 1000000000ll;
	else
		return -EINVAL;
	if (v > INT64_MAX / unit)
		return -EINVAL;
	*ns = v * unit;
	return 0;
}

int server_parse_time(const char *s, int64_t *ns)
{
	int64_t d;
	uint64_t t;

	if (!s || !*s)
		return -EINVAL;
	if (!strcmp(s, "now")) {
		*ns = (int64_t)server_now_ns();
		return 0;
	}
	if (server_parse_duration(s, &d) == 0) {
		*ns = (int64_t)server_now_ns() - d;
		return 0;
	}
	if (json_parse_time(s, strlen(s), &t) == 0 && t <= INT64_MAX) {
		*ns = (int64_t)t;
		return 0;
	}
	return -EINVAL;
}

void server_reply_json(struct evhttp_request *req, int code, json_t *json)
{
	struct evbuffer *b = evbuffer_new();
	char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;

	json_decref(json);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	if (b && text) {
		evbuffer_add(b, text, strlen(text));
		evbuffer_add(b, "\n", 1);
	}
	free(text);
	evhttp_send_reply(req, code, NULL, b);
	if (b)
		evbuffer_free(b);
}

void server_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	server_reply_json(req, code, json_pack("{s:s}", "error", msg));
}

char *server_body(struct evhttp_request *req, size_t max, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	char *p;

	if (n > max) {
		server_reply_error(req, 413, "body larger than %zu bytes", max);
		return NULL;
	}
	p = malloc(n + 1);
	if (!p) {
		server_reply_error(req, 500, "out of memory");
		return NULL;
	}
	evbuffer_remove(in, p, n);
	p[n] = 0;
	*len = n;
	return p;
}

json_t *server_body_json(struct evhttp_request *req)
{
	size_t n;
	char *p = server_body(req, WIRE_MAX_JSON_BODY, &n);
	json_error_t e;
	json_t *j;

	if (!p)
		return NULL;
	j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &e);
	free(p);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		server_reply_error(req, 400, "body is not a JSON object: %s", j ? "" : e.text);
		return NULL;
	}
	return j;
}

const char *server_agent_of(struct server *s, struct evhttp_request *req)
{
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	struct bufferevent *bev = con ? evhttp_connection_get_bufferevent(con) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *peer = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
	char serial[40], cn[80];
	const char *id = NULL;
	static struct log_rate rate;

	if (!peer || SSL_get_verify_result(ssl) != X509_V_OK) {
		s->c.auth_failures++;
		server_reply_error(req, 401, "client certificate required");
		goto out;
	}
	if (pki_cert_serial_hex(peer, serial) || pki_cert_cn(peer, cn, sizeof(cn))) {
		s->c.auth_failures++;
		server_reply_error(req, 401, "unreadable client certificate");
		goto out;
	}
	id = fleet_authenticate(s->fleet, cn, serial);
	if (!id) {
		s->c.auth_failures++;
		log_ratelimited(&rate, 10, LOG_LEVEL_WARN, "auth", "agent refused cn=%s serial=%s",
				cn, serial);
		server_reply_error(req, 401, "unknown, removed or revoked agent");
	}
out:
	X509_free(peer);
	return id;
}

/* Paths and details come from the request: an audit row keeps their first AUDIT_TEXT_MAX bytes
 * (cut on a UTF-8 boundary), so nobody grows the log by KiB per request. */
#define AUDIT_TEXT_MAX 512
static struct store_val audit_text(const char *s)
{
	return store_textn(s, s ? utf8_prefix_len(s, AUDIT_TEXT_MAX) : 0);
}

void server_audit(struct server *s, const char *user, const char *method, const char *path,
		  int status, const char *detail)
{
	struct store_val p[] = {store_int((int64_t)server_now_ns()),
				store_text(user),
				store_text(method),
				audit_text(path),
				store_int(status),
				audit_text(detail)};

	if (store_exec(s->store,
		       "INSERT INTO audit (ts, user_name, method, path, status, detail) VALUES "
		       "(?, ?, ?, ?, ?, ?)",
		       p, 6, NULL, NULL) < 0)
		log_warn("audit", "audit record not written err=%s", store_error(s->store));
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evhttp_uri *u = evhttp_uri_parse_with_flags(uri, 0);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	char *dec = NULL;

	s->c.requests++;
	if (!path) {
		server_reply_error(req, 400, "malformed request URI");
		goto out;
	}
	dec = evhttp_uridecode(path, 0, NULL);
	if (!dec) {
		server_reply_error(req, 400, "malformed path");
		goto out;
	}
	if (!strncmp(dec, "/v1/", 4))
		http_agent_handle(s, req, dec + 3);
	else if (!strncmp(dec, "/api/v1/", 8) || !strcmp(dec, "/api/v1"))
		http_api_handle(s, req, dec + 7);
	else if (!strcmp(dec, "/healthz"))
		server_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
	else
		server_reply_error(req, 404, "no such endpoint: %s", dec);
out:
	free(dec);
	if (u)
		evhttp_uri_free(u);
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct server *s = arg;
	SSL *ssl = SSL_new(s->ssl);
	struct bufferevent *bev;

	if (!ssl)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (bev)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
	(void)ctx;
	/* A client without a certificate is let through at the TLS layer (the API uses bearer
	 * tokens); one with a certificate that does not chain to our CA is refused here. */
	return ok;
}

static SSL_CTX *make_ssl(struct server *s, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	X509_STORE *store;

	if (!ctx)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	if (SSL_CTX_use_certificate_chain_file(ctx, pki_server_cert_path(s->pki)) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, pki_server_key_path(s->pki), SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	store = SSL_CTX_get_cert_store(ctx);
	if (X509_STORE_add_cert(store, pki_ca_cert(s->pki)) != 1)
		goto fail;
	{
		STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();

		if (names) {
			sk_X509_NAME_push(
			    names, X509_NAME_dup(X509_get_subject_name(pki_ca_cert(s->pki))));
			SSL_CTX_set_client_CA_list(ctx, names);
		}
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	SSL_CTX_set_verify_depth(ctx, 2);
	/* Small per-connection footprint: thousands of agents hold a long poll each. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
fail:
	snprintf(err, errlen, "TLS setup failed: %s", ERR_reason_error_string(ERR_get_error()));
	SSL_CTX_free(ctx);
	return NULL;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;

	(void)what;
	log_info("server", "stopping signal=%d", (int)sig);
	event_base_loopexit(s->base, NULL);
}

static void on_note(void *ctx, const char *channel, const char *payload)
{
	struct server *s = ctx;

	if (!strcmp(channel, "mamori_commands"))
		fleet_wake(s->fleet, payload);
	else if (!strcmp(channel, "mamori_results"))
		commands_notify_result(s, payload);
}

static void watch_notify(struct server *s);

static void drain_notify(struct server *s)
{
	if (!s->store->ops->notify_drain)
		return;
	if (s->store->ops->notify_drain(s->store, on_note, s) == -ECONNRESET) {
		/* The connection was re-established: listen again on its new socket. Commands queued
		 * meanwhile are found by the agents' next polls. */
		log_warn("server", "notification connection lost; listening again");
		watch_notify(s);
	}
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drain_notify(arg);
}

/* Several nodes share PostgreSQL: commands and results queued on one node reach the node that
 * holds the agent's long poll (or the API caller) through LISTEN/NOTIFY. */
static void watch_notify(struct server *s)
{
	int fd;

	if (!s->store->ops->notify_fd)
		return;
	if (s->notify_ev) {
		event_free(s->notify_ev);
		s->notify_ev = NULL;
	}
	if (store_exec(s->store, "LISTEN mamori_commands", NULL, 0, NULL, NULL) < 0 ||
	    store_exec(s->store, "LISTEN mamori_results", NULL, 0, NULL, NULL) < 0) {
		log_warn("server", "LISTEN failed err=%s", store_error(s->store));
		return;
	}
	fd = s->store->ops->notify_fd(s->store);
	if (fd < 0)
		return;
	s->notify_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_notify, s);
	if (s->notify_ev)
		event_add(s->notify_ev, NULL);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	static uint64_t last_retention;
	uint64_t now = server_now_ns();

	(void)fd;
	(void)what;
	/* Notifications read while other statements ran wait in libpq's queue. */
	drain_notify(s);
	fleet_tick(s->fleet);
	if (s->opts.retention_days && now - last_retention > 3600ull * 1000000000ull) {
		int64_t cutoff =
		    (int64_t)now - (int64_t)s->opts.retention_days * 86400ll * 1000000000ll;
		int64_t n = store_retention(s->store, cutoff);

		last_retention = now;
		log_info("store", "retention deleted=%lld days=%u", (long long)n,
			 s->opts.retention_days);
	}
}

static int write_initial_admin(struct server *s, char *err, size_t errlen)
{
	char path[1024], pw[33], token[80];
	json_t *j;
	int rc;
	int64_t n = 0;

	if (store_query_int(s->store, "SELECT count(*) FROM users", NULL, 0, &n) == 0 && n > 0)
		return 0;
	if (server_random_hex(pw, 12))
		return -EIO;
	rc = auth_user_create(s->store, "admin", ROLE_ADMIN, pw);
	if (rc == -EEXIST)
		return 0; /* another node created it */
	if (rc == 0)
		rc = auth_token_create(s->store, "admin", 0, token, sizeof(token));
	if (rc) {
		snprintf(err, errlen, "cannot create the admin user: %s", store_error(s->store));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/initial-admin.json", s->opts.data_dir);
	j = json_pack("{s:s,s:s,s:s}", "user", "admin", "password", pw, "token", token);
	rc = json_dump_file(j, path, JSON_INDENT(2));
	json_decref(j);
	if (rc) {
		snprintf(err, errlen, "cannot write %s", path);
		return -EIO;
	}
	chmod(path, 0600);
	log_info("server", "created user admin credentials=%s", path);
	return 0;
}

/* SIGHUP reloads rules and indicators; a broken rule set keeps the current one. */
static void on_hup(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	char err[512];

	(void)fd;
	(void)what;
	if (s->detection && detection_reload(s->detection, err, sizeof(err)) == 0)
		log_info("server", "rules reloaded on SIGHUP");
}

struct server *server_new(const struct server_opts *o, char *err, size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));
	char host[256];
	unsigned short port;
	char *colon, *end;
	unsigned long port_ul;
	struct timeval one = {1, 0};

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->opts = *o;
	if (!s->opts.ingest_threads)
		s->opts.ingest_threads = 2; /* one parses a batch while the other commits */
	if (!s->opts.heartbeat_timeout_s)
		s->opts.heartbeat_timeout_s = 30;
	if (!s->opts.command_ttl_s)
		s->opts.command_ttl_s = 3600;
	s->started_ns = server_now_ns();
	if (mkdir(o->data_dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", o->data_dir, strerror(errno));
		goto fail;
	}
	if (o->store)
		snprintf(s->store_target, sizeof(s->store_target), "%s", o->store);
	else
		snprintf(s->store_target, sizeof(s->store_target), "sqlite:%s/mamori.db",
			 o->data_dir);
	s->pki = pki_open(o->data_dir, o->names, o->n_names, err, errlen);
	if (!s->pki)
		goto fail;
	s->store = store_open(s->store_target, err, errlen);
	if (!s->store)
		goto fail;
	if (write_initial_admin(s, err, errlen))
		goto fail;
	s->ssl = make_ssl(s, err, errlen);
	if (!s->ssl)
		goto fail;
	evthread_use_pthreads();
	s->base = event_base_new();
	s->http = s->base ? evhttp_new(s->base) : NULL;
	if (!s->http) {
		snprintf(err, errlen, "libevent setup failed");
		goto fail;
	}
	s->fleet = fleet_new(s, err, errlen);
	if (!s->fleet)
		goto fail;
	if (o->n_rule_paths || o->n_ioc_paths) {
		s->detection = detection_new(o->rule_paths, o->n_rule_paths, o->ioc_paths,
					     o->n_ioc_paths, err, errlen);
		if (!s->detection)
			goto fail;
		s->prevalence = prevalence_new(
		    s->store, (uint64_t)(o->learning_set ? o->learning_hours : 24) * 3600);
		if (!s->prevalence) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		detection_set_prevalence(s->detection, s->prevalence);
	}
	s->ingest = ingest_pool_new(s, s->opts.ingest_threads, err, errlen);
	if (!s->ingest)
		goto fail;
	s->api = api_pool_new(s, 1, err, errlen);
	if (!s->api)
		goto fail;
	s->notify = notify_new(s, o->notify_retry_base_s, err, errlen);
	if (!s->notify)
		goto fail;
	if (!o->plain_http)
		evhttp_set_bevcb(s->http, make_bev, s);
	evhttp_set_gencb(s->http, on_request, s);
	evhttp_set_max_body_size(s->http, (ev_ssize_t)WIRE_MAX_BODY);
	evhttp_set_max_headers_size(s->http, 16384);
	evhttp_set_timeout(s->http, WIRE_MAX_LONGPOLL_S + 20);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
						EVHTTP_REQ_PUT);
	snprintf(host, sizeof(host), "%s", o->listen);
	colon = strrchr(host, ':');
	/* Port 0 binds an ephemeral port. */
	if (!colon || colon[1] < '0' || colon[1] > '9' ||
	    (port_ul = strtoul(colon + 1, &end, 10)) > 65535 || *end) {
		snprintf(err, errlen, "listen address must be HOST:PORT: %s", o->listen);
		goto fail;
	}
	port = (unsigned short)port_ul;
	*colon = 0;
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = 0;
	}
	if (!evhttp_bind_socket_with_handle(s->http, host, port)) {
		snprintf(err, errlen, "cannot listen on %s: %s", o->listen, strerror(errno));
		goto fail;
	}
	s->sig_int = evsignal_new(s->base, SIGINT, on_signal, s);
	s->sig_term = evsignal_new(s->base, SIGTERM, on_signal, s);
	s->sig_hup = evsignal_new(s->base, SIGHUP, on_hup, s);
	s->tick = event_new(s->base, -1, EV_PERSIST, on_tick, s);
	event_add(s->sig_hup, NULL);
	event_add(s->sig_int, NULL);
	event_add(s->sig_term, NULL);
	event_add(s->tick, &one);
	watch_notify(s);
	signal(SIGPIPE, SIG_IGN);
	log_info("server", "listening on https://%s store=%s pin=%s", o->listen,
		 s->store->ops->name, pki_pin(s->pki));
	return s;
fail:
	server_free(s);
	return NULL;
}

struct event_base *server_base(struct server *s)
{
	return s->base;
}

struct evhttp *server_http(struct server *s)
{
	return s->http;
}

int server_run(struct server *s)
{
	int rc = event_base_dispatch(s->base);

	fleet_flush(s->fleet);
	return rc < 0 ? -EIO : 0;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	ingest_pool_free(s->ingest);
	api_pool_free(s->api);
	/* Deliveries not made yet stay pending in the store for the next start. */
	notify_free(s->notify);
	commands_free_waiters(s);
	if (s->http)
		evhttp_free(s->http);
	fleet_free(s->fleet);
	if (s->sig_int)
		event_free(s->sig_int);
	if (s->sig_term)
		event_free(s->sig_term);
	if (s->sig_hup)
		event_free(s->sig_hup);
	detection_free(s->detection);
	prevalence_free(s->prevalence);
	policy_cache_free(s);
	if (s->tick)
		event_free(s->tick);
	if (s->notify_ev)
		event_free(s->notify_ev);
	if (s->base)
		event_base_free(s->base);
	SSL_CTX_free(s->ssl);
	store_close(s->store);
	pki_free(s->pki);
	free(s);
}
