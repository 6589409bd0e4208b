/* /api/v1 dispatch: bearer authentication, roles, audit of every change. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/keyvalq_struct.h>

#include "log.h"
#include "server_auth.h"
#include "server_int.h"

#include "banned.h"

char *api_query_param(struct api_ctx *a, const char *key)
{
	struct evkeyvalq q;
	const char *v;
	char *out = NULL;

	if (!a->query)
		return NULL;
	if (evhttp_parse_query_str(a->query, &q))
		return NULL;
	v = evhttp_find_header(&q, key);
	if (v)
		out = strdup(v);
	evhttp_clear_headers(&q);
	return out;
}

bool api_list_window(struct api_ctx *a, int64_t *since, int64_t *until, int64_t *limit)
{
	char *since_s = api_query_param(a, "since"), *until_s = api_query_param(a, "until"),
	     *limit_s = api_query_param(a, "limit");
	bool ok = false;

	*since = 0;
	*until = INT64_MAX;
	*limit = 1000;
	if ((since_s && server_parse_time(since_s, since)) ||
	    (until_s && server_parse_time(until_s, until))) {
		server_reply_error(a->req, 400, "since/until: RFC 3339 time or 30s, 15m, 2h, 7d");
		goto out;
	}
	if (limit_s) {
		char *end;

		*limit = strtoll(limit_s, &end, 10);
		if (*end || *limit < 1 || *limit > 100000) {
			server_reply_error(a->req, 400, "limit: 1-100000");
			goto out;
		}
	}
	ok = true;
out:
	free(since_s);
	free(until_s);
	free(limit_s);
	return ok;
}

bool api_require(struct api_ctx *a, enum role role)
{
	char why[80];

	if (a->role >= role)
		return true;
	snprintf(why, sizeof(why), "role %s required (you are %s)", auth_role_name(role),
		 auth_role_name(a->role));
	/* A refused request says who probes beyond their role: audited like a change. */
	api_audit(a, 403, why);
	server_reply_error(a->req, 403, "%s", why);
	return false;
}

void api_audit(struct api_ctx *a, int status, const char *detail)
{
	static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE"};
	enum evhttp_cmd_type m = evhttp_request_get_command(a->req);
	const char *ms = "OTHER";

	for (unsigned i = 0; i < 5; i++)
		if (m == (enum evhttp_cmd_type)(1 << i))
			ms = methods[i];
	server_audit(a->s, a->user[0] ? a->user : NULL, ms, a->path, status, detail);
}

static void login(struct api_ctx *a)
{
	json_t *body = server_body_json(a->req);
	const char *user, *pw;
	enum role role;
	char token[80];

	if (!body)
		return;
	user = json_string_value(json_object_get(body, "user"));
	pw = json_string_value(json_object_get(body, "password"));
	if (!user || !pw || auth_user_check(a->s->store, user, pw, &role)) {
		a->s->c.auth_failures++;
		snprintf(a->user, sizeof(a->user), "%s", user ? user : "");
		api_audit(a, 401, "login failed");
		server_reply_error(a->req, 401, "wrong user or password");
		goto out;
	}
	if (auth_token_create(a->s->store, user, 7 * 86400ll * 1000000000ll, token,
			      sizeof(token))) {
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
		goto out;
	}
	snprintf(a->user, sizeof(a->user), "%s", user);
	api_audit(a, 200, "login");
	server_reply_json(a->req, 200,
			  json_pack("{s:s,s:s}", "token", token, "role", auth_role_name(role)));
out:
	json_decref(body);
}

void http_api_handle(struct server *s, struct evhttp_request *req, const char *path)
{
	struct api_ctx a = {.s = s, .req = req, .path = path};
	const char *uri = evhttp_request_get_uri(req);
	const char *auth =
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

	a.query = strchr(uri, '?');
	if (a.query)
		a.query++;
	if (!strcmp(path, "/login") && evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
		login(&a);
		return;
	}
	if (!auth || strncmp(auth, "Bearer ", 7) ||
	    auth_token_check(s->store, auth + 7, a.user, sizeof(a.user), &a.role)) {
		s->c.auth_failures++;
		server_reply_error(req, 401, "a valid bearer token is required");
		return;
	}
	if (!strcmp(path, "/hosts") || !strncmp(path, "/hosts/", 7))
		http_hosts(&a);
	else if (!strcmp(path, "/events") || !strncmp(path, "/events/", 8))
		http_events(&a);
	else if (!strcmp(path, "/alerts") || !strncmp(path, "/alerts/", 8))
		http_alerts(&a);
	else if (!strcmp(path, "/rules") || !strncmp(path, "/rules/", 7))
		http_rules(&a);
	else if (!strcmp(path, "/actions") || !strncmp(path, "/actions/", 9))
		http_actions(&a);
	else if (!strncmp(path, "/groups/", 8) || !strcmp(path, "/blocklist") ||
		 !strncmp(path, "/blocklist/", 11))
		http_policy(&a);
	else if (!strcmp(path, "/notifications") || !strncmp(path, "/notifications/", 15))
		http_notify(&a);
	else
		http_admin(&a);
}
