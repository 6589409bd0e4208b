/* /api/v1/alerts (list, one alert) and /api/v1/rules (what is loaded, reload). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "detection.h"
#include "dynbuf.h"
#include "server_int.h"

#include "banned.h"

static int alert_row(void *ctx, const struct store_val *c, size_t n)
{
	if (n < 1 || c[0].type != STORE_TEXT)
		return 0;
	json_t *doc = json_loadb(c[0].s, c[0].n, 0, NULL);
	if (doc) {
		if (n >= 2 && c[1].type == STORE_TEXT)
			json_object_set_new(doc, "status", json_stringn(c[1].s, c[1].n));
		json_array_append_new(ctx, doc);
	}
	return 0;
}

static void list(struct api_ctx *a)
{
	char *sev_s = api_query_param(a, "severity"), *host = api_query_param(a, "host"),
	     *rule = api_query_param(a, "rule");
	int64_t since, until, limit;
	int sev = 0;
	json_t *arr = json_array();
	struct dynbuf sql;
	struct store_val p[6];
	size_t np = 0;

	dynbuf_init(&sql, 4096);
	if (!api_list_window(a, &since, &until, &limit))
		goto out;
	if (sev_s && (sev = detect_severity_parse(sev_s)) < 0) {
		server_reply_error(a->req, 400,
				   "severity: informational, low, medium, high or critical");
		goto out;
	}
	/* since/until select when the server stored the alert, so alerts on old events that
	 * arrive late (an agent back from an outage) still show up as new. */
	dynbuf_adds(&sql, "SELECT doc, status FROM alerts WHERE created >= ? AND created < ?");
	p[np++] = store_int(since);
	p[np++] = store_int(until);
	if (sev > 0) {
		dynbuf_adds(&sql, " AND severity >= ?");
		p[np++] = store_int(sev);
	}
	if (host) {
		dynbuf_adds(&sql, " AND host = ?");
		p[np++] = store_text(host);
	}
	if (rule) {
		dynbuf_adds(&sql, " AND (rule_id = ? OR rule_name = ?)");
		p[np++] = store_text(rule);
		p[np++] = store_text(rule);
	}
	dynbuf_adds(&sql, " ORDER BY created DESC, id LIMIT ");
	dynbuf_printf(&sql, "%lld", (long long)limit);
	if (store_exec(a->s->store, sql.data, p, np, alert_row, arr) < 0) {
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
		goto out;
	}
	server_reply_json(
	    a->req, 200,
	    json_pack("{s:O,s:I}", "alerts", arr, "count", (json_int_t)json_array_size(arr)));
out:
	json_decref(arr);
	dynbuf_release(&sql);
	free(sev_s);
	free(host);
	free(rule);
}

static void one(struct api_ctx *a, const char *id)
{
	json_t *arr = json_array();
	struct store_val p[] = {store_text(id)};

	if (store_exec(a->s->store, "SELECT doc, status FROM alerts WHERE id = ?", p, 1, alert_row,
		       arr) < 0)
		server_reply_error(a->req, 503, "store: %s", store_error(a->s->store));
	else if (!json_array_size(arr))
		server_reply_error(a->req, 404, "no alert %s", id);
	else
		server_reply_json(a->req, 200, json_incref(json_array_get(arr, 0)));
	json_decref(arr);
}

void http_alerts(struct api_ctx *a)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(a->req);

	if (!api_require(a, ROLE_VIEWER))
		return;
	if (!strcmp(a->path, "/alerts") && m == EVHTTP_REQ_GET)
		list(a);
	else if (!strncmp(a->path, "/alerts/", 8) && a->path[8] && !strchr(a->path + 8, '/') &&
		 m == EVHTTP_REQ_GET)
		one(a, a->path + 8);
	else
		server_reply_error(a->req, 404, "no such endpoint: /api/v1%s", a->path);
}

void http_rules(struct api_ctx *a)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(a->req);
	char err[512];

	if (!a->s->detection) {
		server_reply_error(a->req, 404,
				   "detection is off: the server was started without --rules");
		return;
	}
	if (!strcmp(a->path, "/rules") && m == EVHTTP_REQ_GET) {
		if (api_require(a, ROLE_VIEWER))
			server_reply_json(a->req, 200, detection_rules_json(a->s->detection));
	} else if (!strcmp(a->path, "/rules/reload") && m == EVHTTP_REQ_POST) {
		if (!api_require(a, ROLE_ADMIN))
			return;
		if (detection_reload(a->s->detection, err, sizeof(err)) < 0) {
			api_audit(a, 422, err);
			server_reply_error(a->req, 422, "reload failed, the current rules stay: %s",
					   err);
			return;
		}
		struct detection_stats st;
		detection_get_stats(a->s->detection, &st);
		api_audit(a, 200, st.version);
		server_reply_json(a->req, 200,
				  json_pack("{s:s,s:i,s:i,s:i,s:i}", "version", st.version, "rules",
					    (int)st.rules, "correlations", (int)st.correlations,
					    "failed", (int)st.failed, "indicators", (int)st.iocs));
	} else {
		server_reply_error(a->req, 404, "no such endpoint: /api/v1%s", a->path);
	}
}
