/* /api/v1/groups/{g}/policy (show, set a new version, history) and /api/v1/blocklist (file
 * hashes whose execution agents deny). docs/api.md, docs/policy.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "policy.h"
#include "policy_doc.h"
#include "server_int.h"

#include "banned.h"

#define REASON_MAX 500

static bool group_exists(struct api_ctx *a, const char *g)
{
	struct store_val p[] = {store_text(g)};
	int64_t n = 0;

	return store_query_int(a->s->store, "SELECT count(*) FROM groups WHERE name = ?", p, 1,
			       &n) == 0 &&
	       n > 0;
}

static bool reason_ok(struct api_ctx *a, json_t *why)
{
	if (why && (!json_is_string(why) || strlen(json_string_value(why)) > REASON_MAX)) {
		server_reply_error(a->req, 400, "reason: a string of at most %d bytes", REASON_MAX);
		return false;
	}
	return true;
}

static void policy_show(struct api_ctx *a, const char *g)
{
	char *v = api_query_param(a, "version");
	int64_t version = 0;
	json_t *out;
	int rc;

	if (v) {
		char *end;

		version = strtoll(v, &end, 10);
		if (*end || version < 1) {
			free(v);
			server_reply_error(a->req, 400, "version: a number from 1");
			return;
		}
		free(v);
	}
	out = policy_get(a->s, g, version, &rc);
	if (!out && rc == -ENOENT)
		server_reply_error(a->req, 404, "group %s has no policy version %lld", g,
				   (long long)version);
	else if (!out)
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
	else
		server_reply_json(a->req, 200, out);
}

static void policy_set(struct api_ctx *a, const char *g)
{
	json_t *body = server_body_json(a->req), *doc, *why;
	char err[300], detail[700];
	int64_t version;
	int rc;

	if (!body)
		return;
	why = json_object_get(body, "reason");
	if (!reason_ok(a, why))
		goto out;
	doc = policy_doc_normalize(json_object_get(body, "policy"), a->user, server_now_ms(), err,
				   sizeof(err));
	if (!doc) {
		server_reply_error(a->req, 400, "policy: %s", err);
		goto out;
	}
	rc = policy_put(a->s, g, doc, a->user, json_string_value(why), &version);
	json_decref(doc);
	if (rc) {
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
		goto out;
	}
	fleet_policy_changed(a->s->fleet);
	snprintf(detail, sizeof(detail), "%s v%lld%s%s", g, (long long)version, why ? ": " : "",
		 why ? json_string_value(why) : "");
	api_audit(a, 200, detail);
	server_reply_json(a->req, 200, policy_get(a->s, g, version, &rc));
out:
	json_decref(body);
}

static void policy_routes(struct api_ctx *a, enum evhttp_cmd_type m)
{
	char g[160], *rest;
	json_t *h;

	snprintf(g, sizeof(g), "%s", a->path + 8);
	rest = strchr(g, '/');
	if (!rest || strncmp(rest, "/policy", 7) || (rest[7] && strcmp(rest + 7, "/history"))) {
		server_reply_error(a->req, 404, "no such resource");
		return;
	}
	*rest = 0;
	if (!group_exists(a, g)) {
		server_reply_error(a->req, 404, "no such group: %s", g);
		return;
	}
	if (!strcmp(rest + 1, "policy/history") && m == EVHTTP_REQ_GET) {
		h = policy_history(a->s, g);
		if (h)
			server_reply_json(a->req, 200,
					  json_pack("{s:s,s:o}", "group", g, "versions", h));
		else
			server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
	} else if (!strcmp(rest + 1, "policy") && m == EVHTTP_REQ_GET) {
		policy_show(a, g);
	} else if (!strcmp(rest + 1, "policy") && m == EVHTTP_REQ_PUT) {
		if (api_require(a, ROLE_ADMIN))
			policy_set(a, g);
	} else {
		server_reply_error(a->req, 405, "method not allowed");
	}
}

static void block_add(struct api_ctx *a)
{
	json_t *body = server_body_json(a->req), *why;
	const char *sha, *group;
	char detail[700];
	int rc;

	if (!body)
		return;
	sha = json_string_value(json_object_get(body, "sha256"));
	group = json_string_value(json_object_get(body, "group"));
	why = json_object_get(body, "reason");
	if (!reason_ok(a, why))
		goto out;
	if (json_object_get(body, "group") && !json_is_null(json_object_get(body, "group")) &&
	    (!group || !group_exists(a, group))) {
		server_reply_error(a->req, 404, "no such group: %s", group ? group : "?");
		goto out;
	}
	rc = policy_block(a->s, sha, group, a->user, json_string_value(why));
	if (rc == -EINVAL) {
		server_reply_error(a->req, 400, "sha256: 64 hex digits");
	} else if (rc == -EEXIST) {
		server_reply_error(a->req, 409, "already blocked%s%s", group ? " in " : "",
				   group ? group : "");
	} else if (rc == -E2BIG) {
		server_reply_error(a->req, 409, "the block list is full (%d hashes)",
				   POLICY_MAX_BLOCKED);
	} else if (rc) {
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
	} else {
		fleet_policy_changed(a->s->fleet);
		snprintf(detail, sizeof(detail), "block %.64s%s%s%s%s", sha, group ? " in " : "",
			 group ? group : "", why ? ": " : "", why ? json_string_value(why) : "");
		api_audit(a, 200, detail);
		server_reply_json(a->req, 200,
				  json_pack("{s:s,s:o}", "blocked", sha, "group",
					    group ? json_string(group) : json_null()));
	}
out:
	json_decref(body);
}

static void block_remove(struct api_ctx *a, const char *sha)
{
	char *group = api_query_param(a, "group"), detail[300];
	int rc = policy_unblock(a->s, sha, group);

	if (rc == -EINVAL)
		server_reply_error(a->req, 400, "sha256: 64 hex digits");
	else if (rc == -ENOENT)
		server_reply_error(a->req, 404, "%s is not blocked%s%s", sha, group ? " in " : "",
				   group ? group : " for every group");
	else if (rc)
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
	else {
		fleet_policy_changed(a->s->fleet);
		snprintf(detail, sizeof(detail), "unblock %.64s%s%s", sha, group ? " in " : "",
			 group ? group : "");
		api_audit(a, 200, detail);
		server_reply_json(a->req, 200, json_pack("{s:s}", "unblocked", sha));
	}
	free(group);
}

void http_policy(struct api_ctx *a)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(a->req);
	json_t *l;

	if (!strncmp(a->path, "/groups/", 8)) {
		policy_routes(a, m);
		return;
	}
	if (!strcmp(a->path, "/blocklist") && m == EVHTTP_REQ_GET) {
		l = policy_blocklist(a->s);
		if (l)
			server_reply_json(a->req, 200, json_pack("{s:o}", "blocklist", l));
		else
			server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
	} else if (!strcmp(a->path, "/blocklist") && m == EVHTTP_REQ_POST) {
		if (api_require(a, ROLE_ANALYST))
			block_add(a);
	} else if (!strncmp(a->path, "/blocklist/", 11) && m == EVHTTP_REQ_DELETE) {
		if (api_require(a, ROLE_ANALYST))
			block_remove(a, a->path + 11);
	} else {
		server_reply_error(a->req, 405, "method not allowed");
	}
}
