#include "uplink.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "agent_commands.h"
#include "agent_enforce.h"
#include "agent_identity.h"
#include "agent_policy.h"
#include "agent_run.h"
#include "batch_codec.h"
#include "log.h"
#include "respond_isolate.h"
#include "spool.h"
#include "uplink_http.h"
#include "wire.h"

#include "banned.h"

#define POLL_WAIT_S 25

/* Commands already run, with their result, so a redelivered command is answered again without
 * running twice. */
#define DONE_RING 64

struct done_cmd {
	char id[33];
	char *body;
};

struct uplink {
	struct uplink_opts o;
	struct done_cmd done[DONE_RING];
	unsigned done_next;
	atomic_bool stop;
	pthread_t sender, commander;
	bool sender_started, commander_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct uplink_stats st;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleeps ms unless stopped first. */
static void nap(struct uplink *u, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&u->lock);
	while (!atomic_load(&u->stop))
		if (pthread_cond_timedwait(&u->cond, &u->lock, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&u->lock);
}

uint64_t uplink_backoff_ms(unsigned attempt, uint32_t r)
{
	uint64_t base = UPLINK_BACKOFF_MIN_MS;

	for (unsigned i = 0; i < attempt && base < UPLINK_BACKOFF_MAX_MS; i++)
		base *= 2;
	if (base > UPLINK_BACKOFF_MAX_MS)
		base = UPLINK_BACKOFF_MAX_MS;
	return base / 2 + r % (base + 1);
}

static uint64_t backoff(unsigned *attempt)
{
	uint32_t r = 0;
	uint64_t ms;

	RAND_bytes((unsigned char *)&r, sizeof(r));
	ms = uplink_backoff_ms(*attempt, r);
	if (*attempt < 16)
		(*attempt)++;
	return ms;
}

/* The reply may carry the group's current policy when the agent's copy is out of date. */
static void heartbeat_reply(struct dynbuf *resp)
{
	json_t *r = resp->data ? json_loadb(resp->data, resp->len, 0, NULL) : NULL;
	json_t *pol = json_object_get(r, "policy");
	static struct log_rate rl;
	char err[200];

	if (json_is_object(pol) && agent_policy_update(pol, err, sizeof(err)))
		log_ratelimited(&rl, 6, LOG_LEVEL_WARN, "policy",
				"policy from the server refused: %s", err);
	json_decref(r);
}

static void heartbeat(struct uplink *u, CURL *c, struct dynbuf *resp)
{
	struct spool_stats ss;
	struct agent_health h = {0};
	json_t *j, *sources = json_array();
	char url[600], e[CURL_ERROR_SIZE + 64], *body;
	long status;
	static struct log_rate rl;

	spool_stats(u->o.spool, &ss);
	if (u->o.health) {
		pthread_mutex_lock(&u->o.health->lock);
		memcpy(h.sources, u->o.health->sources, sizeof(h.sources));
		h.kernel_drops = u->o.health->kernel_drops;
		h.queue_drops = u->o.health->queue_drops;
		h.shed = u->o.health->shed;
		h.emitted = u->o.health->emitted;
		h.cpu_pct = u->o.health->cpu_pct;
		h.rss_mb = u->o.health->rss_mb;
		memcpy(h.content_version, u->o.health->content_version, sizeof(h.content_version));
		h.rules = u->o.health->rules;
		h.yara_rules = u->o.health->yara_rules;
		h.alerts = u->o.health->alerts;
		pthread_mutex_unlock(&u->o.health->lock);
	}
	for (char *p = h.sources, *q; *p; p = q) {
		q = strchr(p, ',');
		json_array_append_new(sources,
				      q ? json_stringn(p, (size_t)(q - p)) : json_string(p));
		if (!q)
			break;
		q++;
	}
	j = json_pack("{s:{s:s},s:{s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:I}}", "agent",
		      "version", MAMORI_VERSION, "health", "sources", sources, "kernel_drops",
		      (json_int_t)h.kernel_drops, "queue_drops", (json_int_t)h.queue_drops, "shed",
		      (json_int_t)h.shed, "events", (json_int_t)h.emitted, "spool_bytes",
		      (json_int_t)ss.bytes, "spool_batches", (json_int_t)ss.batches,
		      "spool_dropped_batches", (json_int_t)ss.dropped_batches, "spool_dropped",
		      (json_int_t)ss.dropped_events, "spool_corrupt",
		      (json_int_t)ss.corrupt_records, "cpu_pct", (int)h.cpu_pct, "rss_bytes",
		      (json_int_t)h.rss_mb * 1048576);
	if (j && h.content_version[0])
		json_object_set_new(json_object_get(j, "health"), "detection",
				    json_pack("{s:s,s:i,s:i,s:I}", "content_version",
					      h.content_version, "rules", (int)h.rules,
					      "yara_rules", (int)h.yara_rules, "alerts",
					      (json_int_t)h.alerts));
	/* Isolation is checked (and re-applied if someone removed it) before it is reported. */
	agent_commands_tick();
	if (j) {
		json_object_set_new(json_object_get(j, "health"), "isolation",
				    json_pack("{s:b}", "active", respond_isolate_active()));
		agent_policy_report(json_object_get(j, "health"));
		json_object_set_new(json_object_get(j, "health"), "enforcement",
				    agent_enforce_report());
	}
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!body)
		return;
	snprintf(url, sizeof(url), "%s/v1/heartbeat", u->o.id->url);
	{
		const char *hdr[] = {"Content-Type: application/json", NULL};

		if (uplink_http_do(c, "POST", url, hdr, body, strlen(body), 15, &status, resp, e,
				   sizeof(e)) == 0 &&
		    status != 200)
			log_ratelimited(&rl, 6, LOG_LEVEL_WARN, "uplink",
					"heartbeat refused status=%ld", status);
		else if (status == 200)
			heartbeat_reply(resp);
	}
	free(body);
}

/* One batch to the server. 0 when acknowledged (stored or duplicate). */
static int send_batch(struct uplink *u, CURL *c, const struct spool_batch *b, struct dynbuf *z,
		      struct dynbuf *resp)
{
	char url[600], epoch[17], h_epoch[64], h_seq[64], e[CURL_ERROR_SIZE + 64];
	const char *hdr[] = {"Content-Type: application/x-ndjson", "Content-Encoding: zstd",
			     h_epoch, h_seq, NULL};
	static struct log_rate rl;
	json_t *ack;
	long status;
	int rc;

	dynbuf_reset(z);
	rc = batch_compress(b->payload, b->len, 3, z);
	if (rc)
		return rc;
	wire_format_epoch(b->epoch, epoch, sizeof(epoch));
	snprintf(h_epoch, sizeof(h_epoch), "%s: %s", WIRE_HDR_EPOCH, epoch);
	snprintf(h_seq, sizeof(h_seq), "%s: %llu", WIRE_HDR_SEQ, (unsigned long long)b->seq);
	snprintf(url, sizeof(url), "%s/v1/events", u->o.id->url);
	rc = uplink_http_do(c, "POST", url, hdr, z->data, z->len, 60, &status, resp, e, sizeof(e));
	if (rc) {
		log_ratelimited(&rl, 6, LOG_LEVEL_WARN, "uplink", "send failed seq=%llu err=%s",
				(unsigned long long)b->seq, e);
		return rc;
	}
	if (status != 200) {
		log_ratelimited(&rl, 6, LOG_LEVEL_WARN, "uplink",
				"batch refused seq=%llu status=%ld %s", (unsigned long long)b->seq,
				status, resp->data ? resp->data : "");
		return -EPROTO;
	}
	ack = json_loadb(resp->data ? resp->data : "", resp->len, 0, NULL);
	if (!ack || (uint64_t)json_integer_value(json_object_get(ack, "ack")) != b->seq) {
		json_decref(ack);
		log_ratelimited(&rl, 6, LOG_LEVEL_WARN, "uplink", "bad ack for seq=%llu",
				(unsigned long long)b->seq);
		return -EPROTO;
	}
	pthread_mutex_lock(&u->lock);
	u->st.batches_sent++;
	u->st.events_sent += (uint64_t)json_integer_value(json_object_get(ack, "stored"));
	u->st.rejected_lines += (uint64_t)json_integer_value(json_object_get(ack, "rejected"));
	if (json_is_true(json_object_get(ack, "duplicate")))
		u->st.duplicates++;
	pthread_mutex_unlock(&u->lock);
	json_decref(ack);
	return 0;
}

static void *sender_main(void *arg)
{
	struct uplink *u = arg;
	CURL *c = uplink_http_for(u->o.id, &u->stop);
	struct dynbuf z, resp;
	uint64_t next_hb = 0;
	unsigned attempt = 0;
	bool sources_sent = false;
	static struct log_rate rl;

	dynbuf_init(&z, WIRE_MAX_BODY);
	dynbuf_init(&resp, 4 << 20);
	while (c && !atomic_load(&u->stop)) {
		struct spool_batch b;
		uint64_t now = mono_ms();
		int rc;

		/* The first heartbeat may precede the sources opening: report them once known. */
		if (!sources_sent && u->o.health) {
			pthread_mutex_lock(&u->o.health->lock);
			if (u->o.health->sources[0]) {
				sources_sent = true;
				next_hb = 0;
			}
			pthread_mutex_unlock(&u->o.health->lock);
		}
		if (now >= next_hb) {
			heartbeat(u, c, &resp);
			next_hb = now + (uint64_t)u->o.heartbeat_s * 1000;
		}
		rc = spool_peek(u->o.spool, &b);
		if (rc == -ENOENT) {
			nap(u, 50);
			continue;
		}
		if (rc) {
			log_ratelimited(&rl, 6, LOG_LEVEL_WARN, "uplink",
					"spool read failed err=%s", strerror(-rc));
			nap(u, 1000);
			continue;
		}
		if (send_batch(u, c, &b, &z, &resp) == 0) {
			attempt = 0;
			rc = spool_ack(u->o.spool, b.seq);
			if (rc)
				log_warn("uplink", "spool ack failed seq=%llu err=%s",
					 (unsigned long long)b.seq, strerror(-rc));
			continue;
		}
		pthread_mutex_lock(&u->lock);
		u->st.send_failures++;
		pthread_mutex_unlock(&u->lock);
		nap(u, backoff(&attempt));
	}
	dynbuf_release(&z);
	dynbuf_release(&resp);
	if (c)
		curl_easy_cleanup(c);
	return NULL;
}

static void run_commands(struct uplink *u, CURL *c, json_t *cmds, struct dynbuf *resp)
{
	size_t i;
	json_t *cmd;

	json_array_foreach(cmds, i, cmd)
	{
		const char *id = json_string_value(json_object_get(cmd, "id"));
		const char *type = json_string_value(json_object_get(cmd, "type"));
		json_t *result = NULL, *body;
		char url[700], e[CURL_ERROR_SIZE + 64], *text;
		const char *hdr[] = {"Content-Type: application/json", NULL};
		long status;
		int rc;

		struct done_cmd *d = NULL;

		if (!id || strlen(id) != 32)
			continue;
		for (unsigned k = 0; k < DONE_RING; k++)
			if (!strcmp(u->done[k].id, id))
				d = &u->done[k];
		if (d && d->body) {
			text = strdup(d->body);
			log_info("uplink", "command id=%s redelivered: resending its result", id);
		} else {
			rc = agent_command_run(type, json_object_get(cmd, "args"), &result);
			log_info("uplink", "command id=%s type=%s result=%s", id, type ? type : "?",
				 rc ? "error" : "ok");
			body = json_pack("{s:s,s:o}", "status", rc ? "error" : "ok", "result",
					 result ? result : json_object());
			text = body ? json_dumps(body, JSON_COMPACT) : NULL;
			json_decref(body);
			if (text) {
				d = &u->done[u->done_next++ % DONE_RING];
				free(d->body);
				snprintf(d->id, sizeof(d->id), "%s", id);
				d->body = strdup(text);
			}
		}
		if (!text)
			continue;
		snprintf(url, sizeof(url), "%s/v1/commands/%s", u->o.id->url, id);
		uplink_http_do(c, "POST", url, hdr, text, strlen(text), 30, &status, resp, e,
			       sizeof(e));
		free(text);
		pthread_mutex_lock(&u->lock);
		u->st.commands++;
		pthread_mutex_unlock(&u->lock);
	}
}

static void *commander_main(void *arg)
{
	struct uplink *u = arg;
	CURL *c = uplink_http_for(u->o.id, &u->stop);
	struct dynbuf resp;
	unsigned attempt = 0;
	char url[600];

	dynbuf_init(&resp, 4 << 20);
	while (c && !atomic_load(&u->stop)) {
		char e[CURL_ERROR_SIZE + 64], etag[24];
		long status;
		json_t *reply;
		int rc;

		/* The policy the agent runs: a newer one comes back with the poll at once. */
		agent_policy_etag(etag, sizeof(etag));
		snprintf(url, sizeof(url), "%s/v1/commands?wait=%d%s%s", u->o.id->url, POLL_WAIT_S,
			 etag[0] ? "&policy=" : "", etag);
		rc = uplink_http_do(c, "GET", url, NULL, NULL, 0, POLL_WAIT_S + 15, &status, &resp,
				    e, sizeof(e));

		if (atomic_load(&u->stop))
			break;
		if (rc || status != 200) {
			nap(u, backoff(&attempt));
			continue;
		}
		attempt = 0;
		reply = json_loadb(resp.data ? resp.data : "", resp.len, 0, NULL);
		/* The policy first: a command may depend on it. */
		if (json_is_object(json_object_get(reply, "policy"))) {
			char err[200];

			if (agent_policy_update(json_object_get(reply, "policy"), err, sizeof(err)))
				log_warn("policy", "policy from the server refused: %s", err);
		}
		if (json_is_array(json_object_get(reply, "commands")))
			run_commands(u, c, json_object_get(reply, "commands"), &resp);
		json_decref(reply);
	}
	dynbuf_release(&resp);
	if (c)
		curl_easy_cleanup(c);
	return NULL;
}

struct uplink *uplink_start(const struct uplink_opts *o, char *err, size_t errlen)
{
	struct uplink *u = calloc(1, sizeof(*u));
	pthread_condattr_t ca;

	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->o = *o;
	if (!u->o.heartbeat_s)
		u->o.heartbeat_s = 10;
	atomic_init(&u->stop, false);
	pthread_mutex_init(&u->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&u->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&u->sender, NULL, sender_main, u)) {
		snprintf(err, errlen, "cannot start the sender thread");
		uplink_stop(u, 0);
		return NULL;
	}
	u->sender_started = true;
	if (pthread_create(&u->commander, NULL, commander_main, u)) {
		snprintf(err, errlen, "cannot start the command thread");
		uplink_stop(u, 0);
		return NULL;
	}
	u->commander_started = true;
	log_info("uplink", "started server=%s agent=%s", o->id->url, o->id->agent_id);
	return u;
}

void uplink_stop(struct uplink *u, unsigned drain_s)
{
	uint64_t until = mono_ms() + (uint64_t)drain_s * 1000;

	if (!u)
		return;
	while (drain_s && mono_ms() < until) {
		struct spool_stats ss;

		spool_stats(u->o.spool, &ss);
		if (!ss.batches)
			break;
		nap(u, 100);
	}
	pthread_mutex_lock(&u->lock);
	atomic_store(&u->stop, true);
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	if (u->sender_started)
		pthread_join(u->sender, NULL);
	if (u->commander_started)
		pthread_join(u->commander, NULL);
	pthread_cond_destroy(&u->cond);
	pthread_mutex_destroy(&u->lock);
	for (unsigned k = 0; k < DONE_RING; k++)
		free(u->done[k].body);
	free(u);
}

void uplink_stats(struct uplink *u, struct uplink_stats *out)
{
	pthread_mutex_lock(&u->lock);
	*out = u->st;
	pthread_mutex_unlock(&u->lock);
}
