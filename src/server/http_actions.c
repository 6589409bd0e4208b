/* /api/v1/actions: every command sent to agents (kill, ping...), by hand or by policy, with who
 * asked, why, and what the agent answered. GET /actions lists, GET /actions/{id} shows one. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "server_int.h"

#include "banned.h"

static void list(struct api_ctx *a)
{
	char *host = api_query_param(a, "host"), *type = api_query_param(a, "type");
	int64_t since, until, limit;
	char id[33];
	json_t *arr;

	if (!api_list_window(a, &since, &until, &limit))
		goto out;
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
	free(host);
	free(type);
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
