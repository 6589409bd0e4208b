/* /api/v1/actions: every command sent to agents (kill, ping...), by hand or by policy, with who
 * asked, why, and what the agent answered. GET /actions lists, GET /actions/{id} shows one. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "server_int.h"

#include "banned.h"

static void list(struct api_ctx *a)
{
	char *since_s = api_query_param(a, "since"), *until_s = api_query_param(a, "until"),
	     *host = api_query_param(a, "host"), *type = api_query_param(a, "type"),
	     *limit_s = api_query_param(a, "limit");
	int64_t since = 0, until = INT64_MAX, limit = 1000;
	char id[33];
	json_t *arr;

	if ((since_s && server_parse_time(since_s, &since)) ||
	    (until_s && server_parse_time(until_s, &until))) {
		server_reply_error(a->req, 400, "since/until: RFC 3339 time or 30s, 15m, 2h, 7d");
		goto out;
	}
	if (limit_s) {
		char *end;

		limit = strtoll(limit_s, &end, 10);
		if (*end || limit < 1 || limit > 100000) {
			server_reply_error(a->req, 400, "limit: 1-100000");
			goto out;
		}
	}
	if (host && http_host_resolve(a->s, host, id)) {
		server_reply_error(a->req, 404, "no such host: %s", host);
		goto out;
	}
	/* Commands keep ms; the parsed times are ns. */
	arr = commands_list(a->s, since / 1000000, until == INT64_MAX ? INT64_MAX : until / 1000000,
			    host, type, limit);
	if (!arr) {
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
		goto out;
	}
	server_reply_json(
	    a->req, 200,
	    json_pack("{s:o,s:I}", "actions", arr, "count", (json_int_t)json_array_size(arr)));
out:
	free(since_s);
	free(until_s);
	free(host);
	free(type);
	free(limit_s);
}

void http_actions(struct api_ctx *a)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(a->req);
	const char *id = a->path + 9;

	if (!api_require(a, ROLE_VIEWER))
		return;
	if (m != EVHTTP_REQ_GET) {
		server_reply_error(a->req, 405, "method not allowed");
		return;
	}
	if (!strcmp(a->path, "/actions")) {
		list(a);
		return;
	}
	json_t *one = *id && strlen(id) == 32 ? commands_get(a->s, id) : NULL;

	if (one)
		server_reply_json(a->req, 200, one);
	else
		server_reply_error(a->req, 404, "no action %s", id);
}
