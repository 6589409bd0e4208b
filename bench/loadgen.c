/* mamori-loadgen: many simulated agents speaking the real agent protocol (docs/protocol.md) to
 * one mamori-server, for bench/pipeline.sh. One libevent loop holds every agent's mutual-TLS
 * connection (a shared key, one certificate per agent), so 10,000 agents cost little.
 *   enroll   enroll N agents with one token (the CA pin is checked first, as the agent does)
 *   ingest   A agents post zstd NDJSON batches with their own epoch and increasing seq
 *   hold     N agents each hold a command long poll, answering pings
 *   dump     write the event templates as NDJSON (for the raw-store peers of the benchmark)
 * Results go to stdout as one line of key=value pairs; progress goes to stderr. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "agent_csr.h"
#include "batch_codec.h"
#include "dynbuf.h"
#include "enroll_token.h"
#include "wire.h"

#include "banned.h"

#define ENROLL_WORKERS 32
#define ENROLL_TRIES 5
#define HTTP_TIMEOUT_S 90 /* above the 55 s long poll */
#define POLL_WAIT_S 55
#define REPLY_MAX ((size_t)1 << 20)

/* ---- small helpers ---------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("mamori-loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static unsigned long parse_num(const char *opt, const char *s, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || v < min || v > max)
		die("--%s: a whole number from %lu to %lu", opt, min, max);
	return v;
}

/* splitmix64: a fixed stream per template, so templates are reproducible and distinct. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void hex_of(uint64_t *s, char *out, size_t digits)
{
	static const char hx[] = "0123456789abcdef";
	uint64_t r = 0;

	for (size_t i = 0; i < digits; i++) {
		if (i % 16 == 0)
			r = rnd(s);
		out[i] = hx[r & 15];
		r >>= 4;
	}
	out[digits] = 0;
}

static void rfc3339(uint64_t ns, char *buf, size_t size)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ns % 1000000000ull));
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	FILE *f;
	int rc = 0;

	f = fopen(path, "we");
	if (!f)
		return -errno;
	if (fwrite(data, 1, len, f) != len)
		rc = -EIO;
	if (fclose(f) && !rc)
		rc = -EIO;
	if (!rc)
		chmod(path, mode);
	return rc;
}

static void raise_nofile(rlim_t need)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r))
		return;
	if (r.rlim_cur >= need)
		return;
	if (r.rlim_max < need)
		r.rlim_max = need; /* works as root (CAP_SYS_RESOURCE) */
	r.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &r)) {
		getrlimit(RLIMIT_NOFILE, &r);
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
		fprintf(stderr, "mamori-loadgen: open files limited to %llu (need %llu)\n",
			(unsigned long long)r.rlim_max, (unsigned long long)need);
	}
}

static long rss_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long v = -1;
	size_t n = strlen(field);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const double *v, size_t n, double p)
{
	double r = p / 100.0 * (double)n;
	size_t k = (size_t)r;

	if (!n)
		return 0;
	if ((double)k < r)
		k++; /* ceil */
	if (k > n)
		k = n;
	return v[k ? k - 1 : 0];
}

struct samples {
	double *v;
	size_t n, cap;
};

static void samples_add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		double *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			die("out of memory");
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

/* ---- the loop, TLS and simulated agents ---------------------------------------------------- */

struct lg;

enum sim_state { SIM_IDLE, SIM_CONNECTING, SIM_HELD, SIM_RETRY, SIM_BUSY, SIM_DONE };

struct sim {
	struct lg *lg;
	unsigned idx; /* 0-based row of agents.tsv */
	X509 *cert;
	struct evhttp_connection *con;
	bool con_dead; /* closed or failed: replaced before the next request */
	bool handshaken;
	enum sim_state state;
	struct event *retry;
	unsigned attempt;
	char policy[24]; /* etag of the policy the server last sent, echoed as the agent does */
	/* ingest */
	uint64_t epoch, seq, sent_ns;
	unsigned tmpl, batches_left;
	/* enroll */
	unsigned job, tries;
};

struct tmpl {
	char *z; /* zstd frame */
	size_t zlen, plain_len;
	unsigned events;
};

struct lg {
	struct event_base *base;
	SSL_CTX *ctx;
	EVP_PKEY *key;
	char host[256], hosthdr[300], dir[900];
	unsigned port;
	struct sim *sims;
	unsigned nsims;
	/* ingest */
	struct tmpl *tmpls;
	unsigned ntmpl, batch, inflight_max, inflight;
	struct sim **ready;
	unsigned ready_head, ready_len;
	uint64_t start_ns, deadline_ns, last_ack_ns;
	uint64_t acked_events, batches, duplicates, rejected, errors, busy_503;
	uint64_t rate, sent_events; /* --rate: events per second offered, 0 for as fast as acked */
	struct samples lat;
	struct samples per_s;
	uint64_t tick_events;
	unsigned active; /* agents not yet done */
	bool progress;
	/* hold */
	unsigned connecting, held, ramp, next_start, count;
	uint64_t failures, reissued, commands, results_ok, held_since_ns;
	uint64_t hold_ns, ramp_timeout_ns;
	unsigned long last_report_s;
	/* enroll */
	struct enroll_token tok;
	const char *token;
	char *csr;
	char (*ids)[33];
	unsigned next_job, jobs_done, jobs_failed;
	struct dynbuf ca;
};

static bool is_ip(const char *h)
{
	unsigned char b[16];

	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

static void parse_url(struct lg *lg, const char *url)
{
	const char *p, *colon;
	size_t n;

	if (strncmp(url, "https://", 8))
		die("--url must start with https://");
	p = url + 8;
	n = strcspn(p, "/");
	if (p[0] == '[') {
		const char *rb = memchr(p, ']', n);

		if (!rb)
			die("bad --url");
		snprintf(lg->host, sizeof(lg->host), "%.*s", (int)(rb - p - 1), p + 1);
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(p, ':', n);
		snprintf(lg->host, sizeof(lg->host), "%.*s", (int)(colon ? colon - p : (long)n), p);
	}
	lg->port = colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 443;
	if (!lg->host[0] || !lg->port || lg->port > 65535)
		die("bad --url %s", url);
	snprintf(lg->hosthdr, sizeof(lg->hosthdr), "%s:%u", lg->host, lg->port);
}

static void on_tls_info(const SSL *ssl, int where, int ret)
{
	struct sim *a = SSL_get_app_data(ssl);

	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_DONE) || !a || a->handshaken)
		return;
	a->handshaken = true;
	if (a->state == SIM_CONNECTING) {
		a->lg->connecting--;
		a->lg->held++;
		a->state = SIM_HELD;
	}
}

static SSL_CTX *make_ctx(const char *ca_path)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		die("SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	/* Thousands of idle connections: no buffers kept between records. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_info_callback(ctx, on_tls_info);
	if (ca_path) {
		if (SSL_CTX_load_verify_locations(ctx, ca_path, NULL) != 1)
			die("cannot load %s", ca_path);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
}

static void on_close(struct evhttp_connection *con, void *arg)
{
	struct sim *a = arg;

	(void)con;
	a->con_dead = true;
}

/* A fresh connection with this agent's certificate (none for enrollment). */
static struct evhttp_connection *sim_connect(struct sim *a)
{
	struct lg *lg = a->lg;
	SSL *ssl = SSL_new(lg->ctx);
	struct bufferevent *bev;
	struct evhttp_connection *con;
	X509_VERIFY_PARAM *vp;

	if (!ssl)
		die("SSL_new failed");
	SSL_set_app_data(ssl, a);
	if (a->cert &&
	    (SSL_use_certificate(ssl, a->cert) != 1 || SSL_use_PrivateKey(ssl, lg->key) != 1))
		die("agent %u: certificate and key do not match", a->idx + 1);
	vp = SSL_get0_param(ssl);
	if (is_ip(lg->host)) {
		X509_VERIFY_PARAM_set1_ip_asc(vp, lg->host);
	} else {
		X509_VERIFY_PARAM_set1_host(vp, lg->host, 0);
		SSL_set_tlsext_host_name(ssl, lg->host);
	}
	bev = bufferevent_openssl_socket_new(lg->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
					     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!bev)
		die("bufferevent_openssl_socket_new failed");
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	con = evhttp_connection_base_bufferevent_new(lg->base, NULL, bev, lg->host,
						     (unsigned short)lg->port);
	if (!con)
		die("evhttp_connection_base_bufferevent_new failed");
	evhttp_connection_set_timeout(con, HTTP_TIMEOUT_S);
	evhttp_connection_set_retries(con, 0);
	evhttp_connection_set_closecb(con, on_close, a);
	a->handshaken = false;
	a->con_dead = false;
	return con;
}

/* Drops a failed connection; only called outside that connection's own callbacks. */
static void sim_reset(struct sim *a)
{
	if (a->con) {
		evhttp_connection_set_closecb(a->con, NULL, NULL);
		evhttp_connection_free(a->con);
		a->con = NULL;
	}
}

static struct evhttp_request *new_request(struct sim *a,
					  void (*cb)(struct evhttp_request *, void *))
{
	struct evhttp_request *req = evhttp_request_new(cb, a);

	if (!req)
		die("out of memory");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", a->lg->hosthdr);
	return req;
}

/* The reply body as a NUL-terminated JSON value, or NULL. */
static json_t *reply_json(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	unsigned char *p;

	if (!n || n > REPLY_MAX)
		return NULL;
	p = evbuffer_pullup(in, (ev_ssize_t)n);
	return p ? json_loadb((const char *)p, n, 0, NULL) : NULL;
}

/* Runs the agent's timer (made by its mode: enroll, ingest or hold) in ms. */
static void later(struct sim *a, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(a->retry, &tv);
}

static void make_timer(struct sim *a, event_callback_fn fn)
{
	a->retry = evtimer_new(a->lg->base, fn, a);
	if (!a->retry)
		die("out of memory");
}

static uint64_t backoff_ms(struct sim *a)
{
	uint64_t ms = 250u << (a->attempt < 6 ? a->attempt : 6);
	uint32_t r = 0;

	a->attempt++;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	return ms / 2 + r % (ms + 1);
}

/* ---- agent files ---------------------------------------------------------------------------- */

static EVP_PKEY *load_key(const char *path)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k;

	if (!f)
		die("%s: %s", path, strerror(errno));
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k)
		die("%s: not a PEM private key", path);
	return k;
}

static X509 *load_cert(const char *path)
{
	FILE *f = fopen(path, "re");
	X509 *x;

	if (!f)
		die("%s: %s", path, strerror(errno));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		die("%s: not a PEM certificate", path);
	return x;
}

/* Loads ca.crt, key.pem and the first `want` certificates of DIR (all when want is 0). */
static void load_agents(struct lg *lg, const char *dir, unsigned want)
{
	char path[1024], line[256];
	unsigned n = 0;
	FILE *f;

	snprintf(lg->dir, sizeof(lg->dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/agents.tsv", dir);
	f = fopen(path, "re");
	if (!f)
		die("%s: %s (run enroll first)", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	if (!want)
		want = n;
	if (want > n)
		die("%s lists %u agents, %u wanted", path, n, want);
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	lg->ctx = make_ctx(path);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	lg->key = load_key(path);
	lg->sims = calloc(want, sizeof(*lg->sims));
	if (!lg->sims)
		die("out of memory");
	lg->nsims = want;
	for (unsigned i = 0; i < want; i++) {
		struct sim *a = &lg->sims[i];

		a->lg = lg;
		a->idx = i;
		snprintf(path, sizeof(path), "%s/%u.crt", dir, i + 1);
		a->cert = load_cert(path);
	}
	raise_nofile((rlim_t)want + 256);
}

static void free_agents(struct lg *lg)
{
	for (unsigned i = 0; i < lg->nsims; i++) {
		struct sim *a = &lg->sims[i];

		sim_reset(a);
		if (a->retry)
			event_free(a->retry);
		X509_free(a->cert);
	}
	free(lg->sims);
	EVP_PKEY_free(lg->key);
	SSL_CTX_free(lg->ctx);
}

/* ---- enroll --------------------------------------------------------------------------------- */

static void enroll_next(struct sim *w);

static void on_enrolled(struct evhttp_request *req, void *arg)
{
	struct sim *w = arg;
	struct lg *lg = w->lg;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	json_t *j = req ? reply_json(req) : NULL;
	const char *cert = json_string_value(json_object_get(j, "certificate"));
	const char *id = json_string_value(json_object_get(json_object_get(j, "agent"), "id"));
	char path[1024];

	if (code == 200 && cert && id && strlen(id) == 32) {
		snprintf(path, sizeof(path), "%s/%u.crt", lg->dir, w->job + 1);
		if (write_file(path, cert, strlen(cert), 0644))
			die("cannot write %s", path);
		memcpy(lg->ids[w->job], id, 33);
		lg->jobs_done++;
		w->job = UINT32_MAX;
		w->tries = 0;
	} else {
		const char *e = json_string_value(json_object_get(j, "error"));

		fprintf(stderr, "mamori-loadgen: enroll sim-%05u: HTTP %d %s\n", w->job + 1, code,
			e ? e : "");
		if (code == 403 || ++w->tries >= ENROLL_TRIES) {
			lg->jobs_failed++;
			w->job = UINT32_MAX;
			w->tries = 0;
		}
		if (!req)
			w->con_dead = true;
	}
	json_decref(j);
	if ((lg->jobs_done + lg->jobs_failed) % 1000 == 0 && code == 200)
		fprintf(stderr, "mamori-loadgen: enrolled %u\n", lg->jobs_done);
	/* Continue from a timer: a failed connection cannot be freed inside its callback. */
	later(w, 0);
}

static void enroll_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	enroll_next(arg);
}

static void enroll_next(struct sim *w)
{
	struct lg *lg = w->lg;
	struct evhttp_request *req;
	char name[32], mid[48], *body;
	json_t *j;

	if (w->job == UINT32_MAX) {
		if (lg->next_job >= lg->count) {
			w->state = SIM_DONE;
			if (lg->jobs_done + lg->jobs_failed == lg->count)
				event_base_loopexit(lg->base, NULL);
			return;
		}
		w->job = lg->next_job++;
	}
	if (w->con && w->con_dead)
		sim_reset(w);
	if (!w->con)
		w->con = sim_connect(w);
	snprintf(name, sizeof(name), "sim-%05u", w->job + 1);
	snprintf(mid, sizeof(mid), "5133%028u", w->job + 1);
	j = json_pack("{s:s,s:s,s:{s:s,s:s}}", "token", lg->token, "csr", lg->csr, "host", "name",
		      name, "id", mid);
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!body)
		die("out of memory");
	req = new_request(w, on_enrolled);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
	free(body);
	if (evhttp_make_request(w->con, req, EVHTTP_REQ_POST, "/v1/enroll"))
		die("evhttp_make_request failed");
}

static void on_ca(struct evhttp_request *req, void *arg)
{
	struct lg *lg = arg;
	struct evbuffer *in;

	if (!req || evhttp_request_get_response_code(req) != 200)
		die("GET /v1/enroll/ca failed (HTTP %d)",
		    req ? evhttp_request_get_response_code(req) : 0);
	in = evhttp_request_get_input_buffer(req);
	if (dynbuf_add(&lg->ca, evbuffer_pullup(in, -1), evbuffer_get_length(in)))
		die("CA too large");
	event_base_loopexit(lg->base, NULL);
}

static int cmd_enroll(struct lg *lg, const char *url, const char *token, unsigned count,
		      const char *dir)
{
	struct sim boot = {.lg = lg, .job = UINT32_MAX};
	struct sim workers[ENROLL_WORKERS];
	struct dynbuf *ca = &lg->ca;
	char pin[65], path[1024];
	uint64_t t0;
	FILE *f;

	parse_url(lg, url);
	if (enroll_token_parse(token, strlen(token), &lg->tok))
		die("malformed token (expected MMR1.<id>.<secret>.<pin>)");
	lg->token = token;
	lg->count = count;
	if (mkdir(dir, 0700) && errno != EEXIST)
		die("cannot create %s: %s", dir, strerror(errno));
	snprintf(lg->dir, sizeof(lg->dir), "%s", dir);
	raise_nofile(4096);
	/* 1. The CA, trusted only when it matches the token's pin. */
	dynbuf_init(ca, 1 << 20);
	lg->ctx = make_ctx(NULL);
	boot.con = sim_connect(&boot);
	{
		struct evhttp_request *req = evhttp_request_new(on_ca, lg);

		evhttp_add_header(evhttp_request_get_output_headers(req), "Host", lg->hosthdr);
		evhttp_make_request(boot.con, req, EVHTTP_REQ_GET, "/v1/enroll/ca");
	}
	event_base_dispatch(lg->base);
	sim_reset(&boot);
	SSL_CTX_free(lg->ctx);
	if (enroll_token_pin_of_pem(ca->data ? ca->data : "", ca->len, pin) ||
	    strcmp(pin, lg->tok.pin))
		die("server CA does not match the token's pin: refusing to enroll");
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if (write_file(path, ca->data, ca->len, 0644))
		die("cannot write %s", path);
	dynbuf_release(ca);
	lg->ctx = make_ctx(path);
	/* 2. One key and CSR for every simulated agent. */
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	if (agent_csr_create(path, "mamori-loadgen", &lg->csr))
		die("cannot create the key and CSR");
	lg->ids = calloc(count, sizeof(*lg->ids));
	if (!lg->ids)
		die("out of memory");
	/* 3. Enrollment over TLS verified against the pinned CA, ENROLL_WORKERS at a time. */
	t0 = now_ns();
	memset(workers, 0, sizeof(workers));
	for (unsigned i = 0; i < ENROLL_WORKERS; i++) {
		workers[i].lg = lg;
		workers[i].job = UINT32_MAX;
		make_timer(&workers[i], enroll_timer);
		enroll_next(&workers[i]);
	}
	if (lg->jobs_done + lg->jobs_failed < count)
		event_base_dispatch(lg->base);
	snprintf(path, sizeof(path), "%s/agents.tsv", dir);
	f = fopen(path, "we");
	if (!f)
		die("cannot write %s", path);
	for (unsigned i = 0; i < count; i++)
		if (lg->ids[i][0])
			fprintf(f, "%u\t%s\tsim-%05u\n", i + 1, lg->ids[i], i + 1);
	fclose(f);
	{
		double s = (double)(now_ns() - t0) / 1e9;

		printf("mode=enroll count=%u enrolled=%u failed=%u seconds=%.2f per_s=%.0f\n",
		       count, lg->jobs_done, lg->jobs_failed, s, s > 0 ? lg->jobs_done / s : 0);
	}
	for (unsigned i = 0; i < ENROLL_WORKERS; i++) {
		sim_reset(&workers[i]);
		event_free(workers[i].retry);
	}
	free(lg->ids);
	free(lg->csr);
	SSL_CTX_free(lg->ctx);
	return lg->jobs_failed ? 1 : 0;
}

/* ---- event templates ------------------------------------------------------------------------ */

static const char *const users[] = {"root", "alice", "bob", "www-data", "postgres", "deploy"};
static const char *const bins[][2] = {
    {"/usr/bin/curl", "curl"},
    {"/usr/bin/bash", "bash"},
    {"/usr/bin/python3.11", "python3"},
    {"/usr/bin/git", "git"},
    {"/usr/sbin/sshd", "sshd"},
    {"/usr/bin/ls", "ls"},
    {"/usr/bin/grep", "grep"},
    {"/usr/lib/postgresql/15/bin/postgres", "postgres"},
    {"/usr/bin/tar", "tar"},
    {"/usr/bin/systemctl", "systemctl"},
    {"/usr/bin/cron", "cron"},
    {"/opt/app/bin/worker", "worker"},
};
#define NBINS (sizeof(bins) / sizeof(bins[0]))
#define NUSERS (sizeof(users) / sizeof(users[0]))

/* One event of a realistic shape (as `mamori-agent capture` writes them): exec, file or network,
 * 600-900 bytes, with per-event values drawn from the template's stream. */
static void gen_event(struct dynbuf *b, uint64_t *s, uint64_t ts_ns, uint64_t seq, const char *host,
		      const char *boot, const char (*hashes)[65])
{
	char ts[96], start[96], ent[33], pent[33];
	unsigned bi = (unsigned)(rnd(s) % NBINS), ui = (unsigned)(rnd(s) % NUSERS);
	unsigned pid = 1000 + (unsigned)(rnd(s) % 4000000), ppid = 1 + (unsigned)(rnd(s) % 400000);
	unsigned uid = ui == 0 ? 0 : 1000 + ui, kind = (unsigned)(rnd(s) % 10);
	const char *exe = bins[bi][0], *name = bins[bi][1];
	int rc;

	rfc3339(ts_ns, ts, sizeof(ts));
	rfc3339(ts_ns - rnd(s) % 5000000000ull, start, sizeof(start));
	hex_of(s, ent, 32);
	hex_of(s, pent, 32);
	if (kind < 5) {
		unsigned n = (unsigned)(rnd(s) % 100000);

		rc = dynbuf_printf(
		    b,
		    "{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"event\",\"category\":["
		    "\"process\"],"
		    "\"type\":[\"start\"],\"action\":\"exec\",\"sequence\":%" PRIu64 "},"
		    "\"host\":{\"name\":\"%s\",\"boot\":{\"id\":\"%s\"}},"
		    "\"process\":{\"pid\":%u,\"entity_id\":\"%s\",\"executable\":\"%s\","
		    "\"name\":\"%s\",\"args\":[\"%s\",\"--job\",\"%u\"],\"args_count\":3,"
		    "\"command_line\":\"%s --job %u\",\"working_directory\":\"/home/%s\","
		    "\"start\":\"%s\",\"hash\":{\"sha256\":\"%s\"},\"user\":{\"id\":\"%u\"},"
		    "\"parent\":{\"pid\":%u,\"entity_id\":\"%s\",\"executable\":\"/usr/bin/bash\","
		    "\"name\":\"bash\",\"command_line\":\"/bin/bash -l\"}},"
		    "\"user\":{\"id\":\"%u\",\"name\":\"%s\"}}\n",
		    ts, seq, host, boot, pid, ent, exe, name, exe, n, exe, n, users[ui], start,
		    hashes[bi], uid, ppid, pent, uid, users[ui]);
	} else if (kind < 8) {
		static const char *const acts[][2] = {
		    {"creation", "creation"}, {"change", "modification"}, {"deletion", "deletion"}};
		unsigned a = (unsigned)(rnd(s) % 3), f = (unsigned)(rnd(s) % 50000);

		rc = dynbuf_printf(
		    b,
		    "{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"event\",\"category\":[\"file\"],"
		    "\"type\":[\"%s\"],\"action\":\"%s\",\"sequence\":%" PRIu64 "},"
		    "\"host\":{\"name\":\"%s\",\"boot\":{\"id\":\"%s\"}},"
		    "\"process\":{\"pid\":%u,\"entity_id\":\"%s\",\"executable\":\"%s\","
		    "\"name\":\"%s\",\"command_line\":\"%s --serve\",\"start\":\"%s\","
		    "\"parent\":{\"pid\":%u,\"entity_id\":\"%s\",\"name\":\"systemd\"}},"
		    "\"file\":{\"path\":\"/var/lib/app/%s/data-%u.db\",\"name\":\"data-%u.db\","
		    "\"directory\":\"/var/lib/app/%s\",\"mode\":\"0640\",\"uid\":\"%u\","
		    "\"gid\":\"%u\",\"inode\":%u,\"size\":%u},"
		    "\"user\":{\"id\":\"%u\",\"name\":\"%s\"},\"mamori\":{\"source\":\"fanotify\"}}"
		    "\n",
		    ts, acts[a][0], acts[a][1], seq, host, boot, pid, ent, exe, name, exe, start,
		    ppid, pent, name, f, f, name, uid, uid, (unsigned)(rnd(s) % 9000000),
		    (unsigned)(rnd(s) % 1000000), uid, users[ui]);
	} else {
		uint64_t r = rnd(s);

		rc = dynbuf_printf(
		    b,
		    "{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"event\",\"category\":["
		    "\"network\"],"
		    "\"type\":[\"start\",\"connection\"],\"action\":\"connection_attempted\","
		    "\"sequence\":%" PRIu64 "},\"host\":{\"name\":\"%s\",\"boot\":{\"id\":\"%s\"}},"
		    "\"process\":{\"pid\":%u,\"entity_id\":\"%s\",\"executable\":\"%s\","
		    "\"name\":\"%s\",\"command_line\":\"%s\",\"start\":\"%s\","
		    "\"parent\":{\"pid\":%u,\"entity_id\":\"%s\",\"name\":\"bash\"}},"
		    "\"user\":{\"id\":\"%u\",\"name\":\"%s\"},"
		    "\"source\":{\"ip\":\"10.%u.%u.%u\",\"port\":%u},"
		    "\"destination\":{\"ip\":\"%u.%u.%u.%u\",\"port\":%u},"
		    "\"network\":{\"transport\":\"tcp\",\"type\":\"ipv4\",\"direction\":\"egress\"}"
		    "}\n",
		    ts, seq, host, boot, pid, ent, exe, name, exe, start, ppid, pent, uid,
		    users[ui], (unsigned)(r & 255), (unsigned)(r >> 8 & 255),
		    (unsigned)(r >> 16 & 255), 32768 + (unsigned)(r >> 24 & 16383),
		    1 + (unsigned)(r >> 40 & 223), (unsigned)(r >> 48 & 255),
		    (unsigned)(r >> 56 & 255), (unsigned)(rnd(s) & 255),
		    (unsigned[]){443, 80, 22, 5432, 53, 8443}[rnd(s) % 6]);
	}
	if (rc)
		die("template too large");
}

/* Template k: `batch` events of host sim-<k % agents + 1>, distinct ids, recent timestamps. */
static void gen_template(struct dynbuf *b, unsigned k, unsigned batch, unsigned agents,
			 uint64_t base_ns)
{
	uint64_t s = 0x6d616d6f7269ull ^ ((uint64_t)k << 32), hs = 0x68617368ull;
	char hashes[NBINS][65], host[32], boot[40];

	for (size_t i = 0; i < NBINS; i++)
		hex_of(&hs, hashes[i], 64);
	snprintf(host, sizeof(host), "sim-%05u", k % agents + 1);
	hex_of(&s, boot, 32);
	for (unsigned j = 0; j < batch; j++) {
		uint64_t n = (uint64_t)k * batch + j;

		gen_event(b, &s, base_ns + n * 1000, n + 1, host, boot, hashes);
	}
}

static void build_templates(struct lg *lg, unsigned k, unsigned batch, unsigned agents)
{
	struct dynbuf plain, z;
	uint64_t base = wall_ns() - (uint64_t)k * batch * 1000 - 60000000000ull;
	size_t zt = 0, pt = 0;

	lg->tmpls = calloc(k, sizeof(*lg->tmpls));
	if (!lg->tmpls)
		die("out of memory");
	lg->ntmpl = k;
	dynbuf_init(&plain, WIRE_MAX_BATCH);
	for (unsigned i = 0; i < k; i++) {
		dynbuf_reset(&plain);
		gen_template(&plain, i, batch, agents, base);
		dynbuf_init(&z, WIRE_MAX_BODY);
		if (batch_compress(plain.data, plain.len, 3, &z))
			die("batch too large: %zu bytes compressed over the protocol's limit",
			    plain.len);
		lg->tmpls[i] = (struct tmpl){z.data, z.len, plain.len, batch};
		zt += z.len;
		pt += plain.len;
	}
	dynbuf_release(&plain);
	fprintf(stderr,
		"mamori-loadgen: %u templates of %u events, %.0f bytes/event, %.1f%% after zstd\n",
		k, batch, (double)pt / ((double)k * batch), 100.0 * (double)zt / (double)pt);
}

static int cmd_dump(unsigned k, unsigned batch, unsigned agents, const char *out)
{
	struct dynbuf plain;
	uint64_t base = wall_ns() - (uint64_t)k * batch * 1000 - 60000000000ull;
	FILE *f = fopen(out, "we");

	if (!f)
		die("%s: %s", out, strerror(errno));
	dynbuf_init(&plain, WIRE_MAX_BATCH);
	for (unsigned i = 0; i < k; i++) {
		dynbuf_reset(&plain);
		gen_template(&plain, i, batch, agents, base);
		if (fwrite(plain.data, 1, plain.len, f) != plain.len)
			die("%s: write failed", out);
	}
	dynbuf_release(&plain);
	if (fclose(f))
		die("%s: write failed", out);
	return 0;
}

/* ---- ingest -----------------------------------------------------------------------------------
 */

static void ingest_send(struct sim *a);

static void ready_push(struct lg *lg, struct sim *a)
{
	lg->ready[(lg->ready_head + lg->ready_len++) % lg->nsims] = a;
}

static void agent_done(struct sim *a)
{
	if (a->state != SIM_DONE) {
		a->state = SIM_DONE;
		a->lg->active--;
	}
}

static bool ingest_over(struct lg *lg)
{
	return lg->deadline_ns && now_ns() >= lg->deadline_ns;
}

/* Under --rate, a batch goes out only once the schedule has room for it. */
static bool paced(struct lg *lg)
{
	uint64_t due;

	if (!lg->rate)
		return true;
	due = (uint64_t)((double)lg->rate * (double)(now_ns() - lg->start_ns) / 1e9);
	return lg->sent_events + lg->batch <= due + lg->batch / 2;
}

static void pump(struct lg *lg)
{
	while (lg->inflight < lg->inflight_max && lg->ready_len && paced(lg)) {
		struct sim *a = lg->ready[lg->ready_head];

		lg->ready_head = (lg->ready_head + 1) % lg->nsims;
		lg->ready_len--;
		if (ingest_over(lg) || !a->batches_left) {
			agent_done(a);
			continue;
		}
		ingest_send(a);
	}
	if (!lg->inflight && !lg->active)
		event_base_loopexit(lg->base, NULL);
}

static void ingest_retry(evutil_socket_t fd, short what, void *arg)
{
	struct sim *a = arg;

	(void)fd;
	(void)what;
	a->state = SIM_IDLE;
	ready_push(a->lg, a);
	pump(a->lg);
}

static void on_ack(struct evhttp_request *req, void *arg)
{
	struct sim *a = arg;
	struct lg *lg = a->lg;
	uint64_t t = now_ns();
	int code = req ? evhttp_request_get_response_code(req) : 0;
	static unsigned reported;

	lg->inflight--;
	if (code == 200) {
		json_t *j = reply_json(req);
		uint64_t ack = (uint64_t)json_integer_value(json_object_get(j, "ack"));
		uint64_t stored = (uint64_t)json_integer_value(json_object_get(j, "stored"));

		if (!j || ack != a->seq) {
			lg->errors++;
			if (reported++ < 5)
				fprintf(stderr, "mamori-loadgen: bad ack for seq=%" PRIu64 "\n",
					a->seq);
		} else {
			lg->batches++;
			lg->acked_events += stored;
			lg->tick_events += stored;
			lg->rejected +=
			    (uint64_t)json_integer_value(json_object_get(j, "rejected"));
			if (json_is_true(json_object_get(j, "duplicate")))
				lg->duplicates++;
			samples_add(&lg->lat, (double)(t - a->sent_ns) / 1e6);
			lg->last_ack_ns = t;
			a->seq++;
			a->tmpl = (a->tmpl + 1) % lg->ntmpl;
			a->batches_left--;
			a->attempt = 0;
		}
		json_decref(j);
		a->state = SIM_IDLE;
		ready_push(lg, a);
	} else {
		/* Like the agent: the same (epoch, seq) again after a backoff. */
		if (code == 503)
			lg->busy_503++;
		else
			lg->errors++;
		if (code != 503 && reported++ < 10)
			fprintf(stderr, "mamori-loadgen: sim-%05u seq=%" PRIu64 ": %s %d\n",
				a->idx + 1, a->seq, code ? "HTTP" : "connection failed", code);
		if (!req)
			a->con_dead = true;
		if (code == 401 || code == 400 || code == 413) {
			agent_done(a); /* will not get better */
		} else {
			a->state = SIM_RETRY;
			later(a, code == 503 ? 50 : backoff_ms(a));
		}
	}
	pump(lg);
}

static void ingest_send(struct sim *a)
{
	struct lg *lg = a->lg;
	struct evhttp_request *req;
	struct evkeyvalq *h;
	const struct tmpl *t = &lg->tmpls[a->tmpl];
	char ep[17], seq[24];

	if (a->con && a->con_dead)
		sim_reset(a);
	if (!a->con)
		a->con = sim_connect(a);
	req = new_request(a, on_ack);
	h = evhttp_request_get_output_headers(req);
	wire_format_epoch(a->epoch, ep, sizeof(ep));
	snprintf(seq, sizeof(seq), "%" PRIu64, a->seq);
	evhttp_add_header(h, "Content-Type", "application/x-ndjson");
	evhttp_add_header(h, "Content-Encoding", "zstd");
	evhttp_add_header(h, WIRE_HDR_EPOCH, ep);
	evhttp_add_header(h, WIRE_HDR_SEQ, seq);
	/* The frame is shared by every agent that sends this template: no copy. */
	evbuffer_add_reference(evhttp_request_get_output_buffer(req), t->z, t->zlen, NULL, NULL);
	a->state = SIM_BUSY;
	a->sent_ns = now_ns();
	lg->inflight++;
	lg->sent_events += t->events;
	if (evhttp_make_request(a->con, req, EVHTTP_REQ_POST, "/v1/events")) {
		lg->inflight--;
		lg->errors++;
		a->con_dead = true;
		a->state = SIM_RETRY;
		later(a, backoff_ms(a));
	}
}

static void ingest_pace(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

static void ingest_tick(evutil_socket_t fd, short what, void *arg)
{
	struct lg *lg = arg;
	double s = (double)(now_ns() - lg->start_ns) / 1e9;

	(void)fd;
	(void)what;
	samples_add(&lg->per_s, (double)lg->tick_events);
	if (lg->progress)
		fprintf(stderr,
			"mamori-loadgen: t=%.0fs events=%" PRIu64 " last_s=%" PRIu64
			" inflight=%u errors=%" PRIu64 "\n",
			s, lg->acked_events, lg->tick_events, lg->inflight, lg->errors);
	lg->tick_events = 0;
	pump(lg); /* notices the deadline even when nothing is acked */
}

static int cmd_ingest(struct lg *lg, const char *url, const char *dir, unsigned agents,
		      unsigned long events_per_agent, unsigned batch, unsigned inflight,
		      unsigned duration, unsigned ntmpl, uint64_t rate)
{
	struct event *tick, *pace;
	struct timeval one = {1, 0}, ten_ms = {0, 10000};
	double secs, *rates;
	size_t nr;

	parse_url(lg, url);
	load_agents(lg, dir, agents);
	build_templates(lg, ntmpl, batch, lg->nsims);
	lg->batch = batch;
	lg->inflight_max = inflight;
	lg->ready = calloc(lg->nsims, sizeof(*lg->ready));
	if (!lg->ready)
		die("out of memory");
	lg->active = lg->nsims;
	for (unsigned i = 0; i < lg->nsims; i++) {
		struct sim *a = &lg->sims[i];

		if (RAND_bytes((unsigned char *)&a->epoch, sizeof(a->epoch)) != 1)
			die("RAND_bytes failed");
		a->seq = 1;
		a->tmpl = i % lg->ntmpl;
		make_timer(a, ingest_retry);
		a->batches_left =
		    duration ? UINT32_MAX : (unsigned)((events_per_agent + batch - 1) / batch);
		ready_push(lg, a);
	}
	tick = event_new(lg->base, -1, EV_PERSIST, ingest_tick, lg);
	event_add(tick, &one);
	lg->rate = rate;
	pace = event_new(lg->base, -1, EV_PERSIST, ingest_pace, lg);
	if (rate)
		event_add(pace, &ten_ms);
	lg->start_ns = now_ns();
	if (duration)
		lg->deadline_ns = lg->start_ns + (uint64_t)duration * 1000000000ull;
	pump(lg);
	event_base_dispatch(lg->base);
	event_free(tick);
	event_free(pace);
	secs = (double)((lg->last_ack_ns ? lg->last_ack_ns : now_ns()) - lg->start_ns) / 1e9;
	qsort(lg->lat.v, lg->lat.n, sizeof(double), cmp_double);
	/* Per-second rates without the first and the last (partial) second. */
	rates = lg->per_s.n > 2 ? lg->per_s.v + 1 : lg->per_s.v;
	nr = lg->per_s.n > 2 ? lg->per_s.n - 2 : lg->per_s.n;
	qsort(rates, nr, sizeof(double), cmp_double);
	printf("mode=ingest agents=%u batch=%u inflight=%u templates=%u rate=%" PRIu64
	       " seconds=%.2f "
	       "events=%" PRIu64 " events_per_s=%.0f batches=%" PRIu64 " batches_per_s=%.1f "
	       "ack_p50_ms=%.1f ack_p99_ms=%.1f ack_max_ms=%.1f min_1s=%.0f median_1s=%.0f "
	       "duplicates=%" PRIu64 " rejected=%" PRIu64 " busy_503=%" PRIu64 " errors=%" PRIu64
	       " loadgen_rss_kb=%ld\n",
	       lg->nsims, batch, inflight, ntmpl, rate, secs, lg->acked_events,
	       secs > 0 ? (double)lg->acked_events / secs : 0, lg->batches,
	       secs > 0 ? (double)lg->batches / secs : 0, pct(lg->lat.v, lg->lat.n, 50),
	       pct(lg->lat.v, lg->lat.n, 99), lg->lat.n ? lg->lat.v[lg->lat.n - 1] : 0,
	       nr ? rates[0] : 0, pct(rates, nr, 50), lg->duplicates, lg->rejected, lg->busy_503,
	       lg->errors, rss_kb("VmHWM"));
	for (unsigned i = 0; i < lg->ntmpl; i++)
		free(lg->tmpls[i].z);
	free(lg->tmpls);
	free(lg->ready);
	free(lg->lat.v);
	free(lg->per_s.v);
	free_agents(lg);
	return lg->errors ? 1 : 0;
}

/* ---- hold -------------------------------------------------------------------------------------
 */

static void hold_poll(struct sim *a);

static void hold_fail(struct sim *a, int code)
{
	struct lg *lg = a->lg;
	static unsigned reported;

	if (a->state == SIM_CONNECTING)
		lg->connecting--;
	else if (a->state == SIM_HELD)
		lg->held--;
	lg->failures++;
	if (reported++ < 10)
		fprintf(stderr, "mamori-loadgen: sim-%05u poll: %s %d\n", a->idx + 1,
			code ? "HTTP" : "connection failed", code);
	a->con_dead = a->con_dead || !code;
	a->state = SIM_RETRY;
	later(a, backoff_ms(a));
}

static void on_result(struct evhttp_request *req, void *arg)
{
	struct sim *a = arg;

	if (req && evhttp_request_get_response_code(req) == 200)
		a->lg->results_ok++;
	if (!req) {
		hold_fail(a, 0);
		return;
	}
	a->lg->reissued++;
	hold_poll(a);
}

/* Answers the first command of a poll reply like the agent does (ping only). 0 when one was
 * posted, and the poll is re-issued once the result is acknowledged. */
static int answer(struct sim *a, json_t *cmds)
{
	json_t *c = json_array_get(cmds, 0), *body;
	const char *id = json_string_value(json_object_get(c, "id"));
	const char *type = json_string_value(json_object_get(c, "type"));
	struct evhttp_request *req;
	char path[64], *text;
	bool ping = type && !strcmp(type, "ping");

	if (!id || strlen(id) != 32)
		return -EINVAL;
	a->lg->commands++;
	body = ping ? json_pack("{s:s,s:{s:b,s:I,s:i}}", "status", "ok", "result", "pong", 1,
				"agent_time_ms", (json_int_t)(wall_ns() / 1000000), "sim",
				(int)a->idx + 1)
		    : json_pack("{s:s,s:{s:s}}", "status", "error", "result", "error",
				"not supported by mamori-loadgen");
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		die("out of memory");
	req = new_request(a, on_result);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
	free(text);
	snprintf(path, sizeof(path), "/v1/commands/%s", id);
	return evhttp_make_request(a->con, req, EVHTTP_REQ_POST, path) ? -EIO : 0;
}

static void on_poll(struct evhttp_request *req, void *arg)
{
	struct sim *a = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	json_t *j, *cmds;

	if (code != 200) {
		hold_fail(a, code);
		return;
	}
	a->attempt = 0;
	j = reply_json(req);
	{
		/* As a real agent: take the policy, then poll with its etag, or the server answers
		 * every poll at once with the bundle. */
		const char *etag =
		    json_string_value(json_object_get(json_object_get(j, "policy"), "etag"));

		if (etag && strlen(etag) < sizeof(a->policy))
			snprintf(a->policy, sizeof(a->policy), "%s", etag);
	}
	cmds = json_object_get(j, "commands");
	if (json_array_size(cmds) && answer(a, cmds) == 0) {
		json_decref(j);
		return;
	}
	json_decref(j);
	a->lg->reissued++;
	hold_poll(a);
}

static void hold_poll(struct sim *a)
{
	struct lg *lg = a->lg;
	struct evhttp_request *req;
	char path[96];

	if (a->con && a->con_dead) {
		/* Not inside this connection's callback: come back from a timer. */
		if (a->state == SIM_HELD)
			lg->held--;
		else if (a->state == SIM_CONNECTING)
			lg->connecting--;
		a->state = SIM_RETRY;
		later(a, 0);
		return;
	}
	if (!a->con) {
		a->con = sim_connect(a);
		a->state = SIM_CONNECTING;
		lg->connecting++;
	} else if (a->state != SIM_HELD && a->state != SIM_CONNECTING) {
		a->state = a->handshaken ? SIM_HELD : SIM_CONNECTING;
		if (a->handshaken)
			lg->held++;
		else
			lg->connecting++;
	}
	req = new_request(a, on_poll);
	snprintf(path, sizeof(path), "/v1/commands?wait=%d%s%s", POLL_WAIT_S,
		 a->policy[0] ? "&policy=" : "", a->policy);
	if (evhttp_make_request(a->con, req, EVHTTP_REQ_GET, path))
		hold_fail(a, 0);
}

static void hold_retry(evutil_socket_t fd, short what, void *arg)
{
	struct sim *a = arg;

	(void)fd;
	(void)what;
	if (a->con && a->con_dead)
		sim_reset(a);
	a->state = SIM_IDLE;
	hold_poll(a);
}

static void hold_tick(evutil_socket_t fd, short what, void *arg)
{
	struct lg *lg = arg;
	uint64_t t = now_ns();
	unsigned long s = (unsigned long)((t - lg->start_ns) / 1000000000ull);

	(void)fd;
	(void)what;
	while (lg->next_start < lg->nsims && lg->connecting < lg->ramp) {
		hold_poll(&lg->sims[lg->next_start++]);
	}
	if (!lg->held_since_ns &&
	    (lg->held == lg->nsims || t - lg->start_ns > lg->ramp_timeout_ns)) {
		lg->held_since_ns = t;
		fprintf(stderr,
			"mamori-loadgen: %u of %u polls established after %.1fs; holding %.0fs\n",
			lg->held, lg->nsims, (double)(t - lg->start_ns) / 1e9,
			(double)lg->hold_ns / 1e9);
		printf("event=established held=%u count=%u ramp_s=%.1f\n", lg->held, lg->nsims,
		       (double)(t - lg->start_ns) / 1e9);
		fflush(stdout);
	}
	if (s != lg->last_report_s && s % 5 == 0) {
		lg->last_report_s = s;
		fprintf(stderr,
			"mamori-loadgen: t=%lus held=%u connecting=%u failures=%" PRIu64
			" commands=%" PRIu64 "\n",
			s, lg->held, lg->connecting, lg->failures, lg->commands);
	}
	if (lg->held_since_ns && t - lg->held_since_ns >= lg->hold_ns)
		event_base_loopexit(lg->base, NULL);
}

static int cmd_hold(struct lg *lg, const char *url, const char *dir, unsigned count,
		    unsigned seconds, unsigned ramp, unsigned ramp_timeout)
{
	struct event *tick;
	struct timeval ten = {0, 10000};
	unsigned held_end;

	parse_url(lg, url);
	load_agents(lg, dir, count);
	lg->ramp = ramp;
	lg->hold_ns = (uint64_t)seconds * 1000000000ull;
	lg->ramp_timeout_ns = (uint64_t)ramp_timeout * 1000000000ull;
	for (unsigned i = 0; i < lg->nsims; i++)
		make_timer(&lg->sims[i], hold_retry);
	tick = event_new(lg->base, -1, EV_PERSIST, hold_tick, lg);
	event_add(tick, &ten);
	lg->start_ns = now_ns();
	event_base_dispatch(lg->base);
	held_end = lg->held;
	printf("mode=hold count=%u held=%u connecting=%u failures=%" PRIu64 " reissued=%" PRIu64
	       " commands=%" PRIu64 " results_ok=%" PRIu64 " hold_s=%u loadgen_rss_kb=%ld\n",
	       lg->nsims, held_end, lg->connecting, lg->failures, lg->reissued, lg->commands,
	       lg->results_ok, seconds, rss_kb("VmHWM"));
	event_free(tick);
	free_agents(lg);
	return held_end == lg->nsims ? 0 : 1;
}

/* ---- main ------------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("usage:\n"
	      "  mamori-loadgen enroll --url URL --token TOKEN --count N --out DIR\n"
	      "  mamori-loadgen ingest --agents DIR --url URL [--agents-used A (all)]\n"
	      "        [--events-per-agent E (40000)] [--batch B (4000)] [--inflight C (8)]\n"
	      "        [--duration S (0: until every agent sent E)] [--templates K (64)]\n"
	      "        [--rate EVENTS_PER_S (0: as fast as acked)] [--progress]\n"
	      "  mamori-loadgen hold --agents DIR --url URL --count N [--seconds S (60)]\n"
	      "        [--ramp R (100 handshakes at once)] [--ramp-timeout S (300)]\n"
	      "  mamori-loadgen dump --out FILE [--batch B] [--templates K] [--agents-used A]\n"
	      "\n"
	      "Simulated agents for bench/pipeline.sh: the agent protocol of docs/protocol.md,\n"
	      "one mutual-TLS connection per agent in one event loop.\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"token", required_argument, NULL, 't'},
	    {"count", required_argument, NULL, 'n'},
	    {"out", required_argument, NULL, 'o'},
	    {"agents", required_argument, NULL, 'a'},
	    {"agents-used", required_argument, NULL, 'A'},
	    {"events-per-agent", required_argument, NULL, 'E'},
	    {"batch", required_argument, NULL, 'B'},
	    {"inflight", required_argument, NULL, 'C'},
	    {"duration", required_argument, NULL, 'S'},
	    {"templates", required_argument, NULL, 'K'},
	    {"seconds", required_argument, NULL, 's'},
	    {"ramp", required_argument, NULL, 'R'},
	    {"ramp-timeout", required_argument, NULL, 'T'},
	    {"progress", no_argument, NULL, 'p'},
	    {"rate", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *url = NULL, *token = NULL, *out = NULL, *dir = NULL, *cmd;
	unsigned count = 0, agents = 0, batch = 4000, inflight = 8, duration = 0, ntmpl = 64;
	unsigned seconds = 60, ramp = 100, ramp_timeout = 300;
	unsigned long epa = 40000, rate = 0;
	struct lg lg = {0};
	int c, rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	argv++;
	argc--;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			url = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'n':
			count = (unsigned)parse_num("count", optarg, 1, 1000000);
			break;
		case 'o':
			out = optarg;
			break;
		case 'a':
			dir = optarg;
			break;
		case 'A':
			agents = (unsigned)parse_num("agents-used", optarg, 1, 1000000);
			break;
		case 'E':
			epa = parse_num("events-per-agent", optarg, 1, 1ul << 40);
			break;
		case 'B':
			batch = (unsigned)parse_num("batch", optarg, 1, 50000);
			break;
		case 'C':
			inflight = (unsigned)parse_num("inflight", optarg, 1, 100000);
			break;
		case 'S':
			duration = (unsigned)parse_num("duration", optarg, 1, 86400);
			break;
		case 'K':
			ntmpl = (unsigned)parse_num("templates", optarg, 1, 4096);
			break;
		case 's':
			seconds = (unsigned)parse_num("seconds", optarg, 0, 86400);
			break;
		case 'R':
			ramp = (unsigned)parse_num("ramp", optarg, 1, 100000);
			break;
		case 'T':
			ramp_timeout = (unsigned)parse_num("ramp-timeout", optarg, 1, 86400);
			break;
		case 'p':
			lg.progress = true;
			break;
		case 'r':
			rate = parse_num("rate", optarg, 1, 100000000);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		die("unexpected argument %s", argv[optind]);
	if (!strcmp(cmd, "dump")) {
		if (!out)
			die("dump needs --out");
		return cmd_dump(ntmpl, batch, agents ? agents : 100, out);
	}
	signal(SIGPIPE, SIG_IGN);
	lg.base = event_base_new();
	if (!lg.base)
		die("event_base_new failed");
	if (!strcmp(cmd, "enroll")) {
		if (!url || !token || !count || !out)
			die("enroll needs --url, --token, --count and --out");
		rc = cmd_enroll(&lg, url, token, count, out);
	} else if (!strcmp(cmd, "ingest")) {
		if (!url || !dir)
			die("ingest needs --url and --agents");
		rc = cmd_ingest(&lg, url, dir, agents, epa, batch, inflight, duration, ntmpl, rate);
	} else if (!strcmp(cmd, "hold")) {
		if (!url || !dir || !count)
			die("hold needs --url, --agents and --count");
		rc = cmd_hold(&lg, url, dir, count, seconds, ramp, ramp_timeout);
	} else {
		usage(stderr);
		return 2;
	}
	event_base_free(lg.base);
	return rc;
}
