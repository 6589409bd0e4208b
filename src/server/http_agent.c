/* Agent endpoints under /v1 (docs/protocol.md): enrollment, event batches, heartbeats and the
 * command long poll. Everything but enrollment requires the agent's client certificate. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "commands.h"
#include "enroll_token.h"
#include "fleet.h"
#include "ingest_pool.h"
#include "log.h"
#include "policy.h"
#include "pki.h"
#include "server_int.h"
#include "wire.h"

#include "banned.h"

static void enroll_ca(struct server *s, struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();
	const char *pem = pki_ca_pem(s->pki);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/x-pem-file");
	evbuffer_add(b, pem, strlen(pem));
	evhttp_send_reply(req, 200, NULL, b);
	evbuffer_free(b);
}

struct token_row {
	char hash[65], group[128];
	int64_t expires;
	bool found;
};

static int token_cb(void *ctx, const struct store_val *c, size_t n)
{
	struct token_row *t = ctx;

	if (n < 3 || c[0].type != STORE_TEXT || c[1].type != STORE_TEXT || c[2].type != STORE_INT)
		return 0;
	snprintf(t->hash, sizeof(t->hash), "%.*s", (int)c[0].n, c[0].s);
	snprintf(t->group, sizeof(t->group), "%.*s", (int)c[1].n, c[1].s);
	t->expires = c[2].i;
	t->found = true;
	return 0;
}

static void enroll(struct server *s, struct evhttp_request *req)
{
	json_t *body = server_body_json(req);
	const char *tok_s, *csr, *host_name, *host_id;
	struct enroll_token tok;
	struct token_row t = {0};
	char want[65], agent_id[33], serial[33], *cert = NULL;
	int64_t now = server_now_ms();

	if (!body)
		return;
	tok_s = json_string_value(json_object_get(body, "token"));
	csr = json_string_value(json_object_get(body, "csr"));
	host_name = json_string_value(json_object_get(json_object_get(body, "host"), "name"));
	host_id = json_string_value(json_object_get(json_object_get(body, "host"), "id"));
	if (!tok_s || !csr || !host_name || !*host_name || strlen(host_name) > 253) {
		server_reply_error(req, 400, "token, csr and host.name are required");
		goto out;
	}
	if (enroll_token_parse(tok_s, strlen(tok_s), &tok)) {
		server_reply_error(req, 403, "malformed enrollment token");
		goto out;
	}
	{
		struct store_val p[] = {store_text(tok.id)};

		store_exec(
		    s->store,
		    "SELECT secret_hash, group_name, expires_at FROM enroll_tokens WHERE id = ?", p,
		    1, token_cb, &t);
	}
	enroll_token_secret_hash(tok.secret, want);
	if (!t.found || CRYPTO_memcmp(want, t.hash, 64)) {
		s->c.auth_failures++;
		server_reply_error(req, 403, "unknown enrollment token");
		goto out;
	}
	if (t.expires < now) {
		server_reply_error(req, 403, "enrollment token expired");
		goto out;
	}
	if (strcmp(tok.pin, pki_pin(s->pki))) {
		server_reply_error(req, 403, "token was issued for another server CA");
		goto out;
	}
	if (server_random_hex(agent_id, 16) ||
	    pki_sign_csr(s->pki, csr, strlen(csr), agent_id, 365, &cert, serial)) {
		server_reply_error(req, 400, "invalid certificate signing request");
		goto out;
	}
	{
		struct store_val p[] = {store_text(agent_id), store_text(host_name),
					store_text(host_id),  store_text(t.group),
					store_text(serial),   store_int(now),
					store_int(now)};

		if (store_exec(
			s->store,
			"INSERT INTO agents (id, host_name, host_id, group_name, cert_serial, "
			"enrolled_at, last_seen) VALUES (?,?,?,?,?,?,?)",
			p, 7, NULL, NULL) < 0) {
			server_reply_error(req, 503, "store: %s", store_error(s->store));
			goto out;
		}
	}
	{
		struct store_val p[] = {store_text(tok.id)};

		store_exec(s->store, "UPDATE enroll_tokens SET uses = uses + 1 WHERE id = ?", p, 1,
			   NULL, NULL);
	}
	fleet_reload(s->fleet, agent_id);
	server_audit(s, "token:" /* the enrolling party is the token */, "POST", "/v1/enroll", 200,
		     agent_id);
	log_info("enroll", "agent enrolled id=%s host=%s group=%s", agent_id, host_name, t.group);
	server_reply_json(req, 200,
			  json_pack("{s:{s:s},s:s,s:s,s:s}", "agent", "id", agent_id, "certificate",
				    cert, "ca", pki_ca_pem(s->pki), "group", t.group));
out:
	free(cert);
	json_decref(body);
}

static void events(struct server *s, struct evhttp_request *req, const char *agent)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *enc = evhttp_find_header(h, "Content-Encoding");
	uint64_t epoch, seq;
	size_t len;
	char *body;
	bool zstd;

	if (wire_parse_epoch(evhttp_find_header(h, WIRE_HDR_EPOCH), &epoch) ||
	    wire_parse_seq(evhttp_find_header(h, WIRE_HDR_SEQ), &seq)) {
		s->c.frames_rejected++;
		server_reply_error(req, 400, "missing or malformed %s / %s headers", WIRE_HDR_EPOCH,
				   WIRE_HDR_SEQ);
		return;
	}
	if (enc && strcmp(enc, "zstd") && strcmp(enc, "identity")) {
		s->c.frames_rejected++;
		server_reply_error(req, 400, "unsupported Content-Encoding %s", enc);
		return;
	}
	zstd = enc && !strcmp(enc, "zstd");
	body = server_body(req, WIRE_MAX_BODY, &len);
	if (!body) {
		s->c.frames_rejected++;
		return;
	}
	ingest_pool_submit(s->ingest, req, agent, epoch, seq, body, len, zstd);
}

static void heartbeat(struct server *s, struct evhttp_request *req, const char *agent)
{
	json_t *body = server_body_json(req);

	if (!body)
		return;
	json_t *reply, *bundle;
	const char *have = json_string_value(
	    json_object_get(json_object_get(json_object_get(body, "health"), "policy"), "etag"));

	fleet_heartbeat(s->fleet, agent, body);
	/* The agent's policy is out of date: the reply brings the current one. */
	bundle = policy_bundle_if_changed(s, agent, have);
	json_decref(body);
	reply = json_pack("{s:i}", "interval", 10);
	if (reply && bundle)
		json_object_set_new(reply, "policy", bundle);
	else
		json_decref(bundle);
	server_reply_json(req, 200, reply);
}

static unsigned wait_param(struct evhttp_request *req)
{
	struct evkeyvalq q;
	const char *uri = evhttp_request_get_uri(req), *qs = strchr(uri, '?'), *w;
	unsigned v = 25;

	if (!qs)
		return v;
	if (evhttp_parse_query_str(qs + 1, &q) == 0) {
		w = evhttp_find_header(&q, "wait");
		if (w)
			v = (unsigned)strtoul(w, NULL, 10);
		evhttp_clear_headers(&q);
	}
	return v > WIRE_MAX_LONGPOLL_S ? WIRE_MAX_LONGPOLL_S : v;
}

/* A query parameter's value into out ("" when absent). */
static void query_param(struct evhttp_request *req, const char *key, char *out, size_t n)
{
	const char *uri = evhttp_request_get_uri(req), *qs = strchr(uri, '?'), *v;
	struct evkeyvalq q;

	out[0] = 0;
	if (qs && evhttp_parse_query_str(qs + 1, &q) == 0) {
		v = evhttp_find_header(&q, key);
		if (v)
			snprintf(out, n, "%s", v);
		evhttp_clear_headers(&q);
	}
}

static void command_result(struct server *s, struct evhttp_request *req, const char *agent,
			   const char *id)
{
	json_t *body = server_body_json(req);
	int rc;

	if (!body)
		return;
	rc = commands_result(s, agent, id, body);
	json_decref(body);
	if (rc == -EINVAL)
		server_reply_error(req, 400, "status must be ok or error");
	else if (rc == -ENOENT)
		server_reply_error(req, 404, "no pending command %s for this agent", id);
	else if (rc)
		server_reply_error(req, 503, "store: %s", store_error(s->store));
	else
		server_reply_json(req, 200, json_pack("{s:s}", "id", id));
}

void http_agent_handle(struct server *s, struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const char *agent;

	if (!strcmp(path, "/enroll/ca") && m == EVHTTP_REQ_GET) {
		enroll_ca(s, req);
		return;
	}
	if (!strcmp(path, "/enroll") && m == EVHTTP_REQ_POST) {
		enroll(s, req);
		return;
	}
	if (strcmp(path, "/events") && strcmp(path, "/heartbeat") && strcmp(path, "/commands") &&
	    strncmp(path, "/commands/", 10)) {
		server_reply_error(req, 404, "no such agent endpoint");
		return;
	}
	agent = server_agent_of(s, req);
	if (!agent)
		return;
	if (!strcmp(path, "/events") && m == EVHTTP_REQ_POST)
		events(s, req, agent);
	else if (!strcmp(path, "/heartbeat") && m == EVHTTP_REQ_POST)
		heartbeat(s, req, agent);
	else if (!strcmp(path, "/commands") && m == EVHTTP_REQ_GET) {
		char etag[24] = "";

		query_param(req, "policy", etag, sizeof(etag));
		fleet_poll(s->fleet, agent, req, wait_param(req), etag[0] ? etag : NULL);
	} else if (!strncmp(path, "/commands/", 10) && m == EVHTTP_REQ_POST &&
		   strlen(path + 10) == 32)
		command_result(s, req, agent, path + 10);
	else
		server_reply_error(req, 405, "method not allowed");
}
