/* mamori notify: alert notifications (/notifications): the routes document (show, apply,
 * history), the deliveries and their status, a test message through one route, a retry now.
 * docs/notifications.md. */
#include "cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_http.h"
#include "cli_json.h"
#include "cli_output.h"
#include "dynbuf.h"

#include "banned.h"

#define LIMIT_MAX 100000

static const char usage_notify[] =
    "usage: mamori notify routes show [--version N]\n"
    "       mamori notify routes apply FILE [--reason TEXT]\n"
    "       mamori notify routes history [--output jsonl|table]\n"
    "       mamori notify list [--status pending|sent|failed] [--since TIME] [--route NAME]\n"
    "                          [--limit N] [--output jsonl|table]\n"
    "       mamori notify test ROUTE [--timeout SECONDS]\n"
    "       mamori notify retry ID\n";

static const char usage_routes[] = "usage: mamori notify routes show [--version N]\n"
				   "       mamori notify routes apply FILE [--reason TEXT]\n"
				   "       mamori notify routes history [--output jsonl|table]\n";

static const char usage_show[] =
    "usage: mamori notify routes show [--version N]\n"
    "\n"
    "Prints the notification routes (the newest version, or version N) as JSON, after a line\n"
    "with the version, author and reason. Passwords and webhook header values show as ********;\n"
    "applying the document back with them keeps the stored values.\n"
    "  -v, --version N   an older version\n";

static const char usage_apply[] =
    "usage: mamori notify routes apply FILE [--reason TEXT]\n"
    "\n"
    "Stores the routes document in FILE (JSON {\"routes\": [...]}, or the list alone; - for\n"
    "stdin) as the next version (admin). The server checks it whole and says what is wrong;\n"
    "docs/notifications.md lists the keys.\n"
    "  -r, --reason TEXT   why, kept with the version and in the audit log\n";

static const char usage_history[] =
    "usage: mamori notify routes history [--output jsonl|table]\n"
    "\n"
    "Lists the versions of the routes document, newest first: VERSION CREATED BY REASON.\n"
    "  -o, --output FORMAT   jsonl or table\n";

static const char usage_list[] =
    "usage: mamori notify list [--status pending|sent|failed] [--since TIME] [--route NAME]\n"
    "                          [--limit N] [--output jsonl|table]\n"
    "\n"
    "Lists deliveries, newest first: one per alert and matching route, and test messages.\n"
    "A pending one waits for its next try (NEXT) after ATTEMPTS failed ones, the last with\n"
    "ERROR; failed ones were given up.\n"
    "  -s, --status STATUS   pending, sent or failed\n"
    "  -S, --since TIME      queued since: 30s, 15m, 2h, 7d ago or an RFC 3339 time\n"
    "  -R, --route NAME      only this route's\n"
    "  -n, --limit N         at most N, 1-100000 (server default 1000)\n"
    "  -o, --output FORMAT   jsonl or table\n";

static const char usage_test[] =
    "usage: mamori notify test ROUTE [--timeout SECONDS]\n"
    "\n"
    "Sends a test message through ROUTE now (admin) and waits for the outcome. Exit 0 when the\n"
    "destination took it, 1 when it failed or is still being retried after the timeout.\n"
    "  -t, --timeout SECONDS   how long to wait, 1-600 (default 30)\n";

static const char usage_retry[] =
    "usage: mamori notify retry ID\n"
    "\n"
    "Makes a pending or failed delivery due now, with its attempts reset (admin): after the\n"
    "destination was fixed, for instance.\n";

static int routes_show(struct cli *cli, int argc, char **argv)
{
	const char *version = NULL;
	const struct cli_args_opt opts[] = {{"version", 'v', &version, NULL},
					    {NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "GET"};
	struct cli_args_pos pos;
	struct dynbuf path;
	json_t *reply;
	char *text;
	long v;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_show);
	rc = cli_parse_args(cli, usage_show, opts, argc, argv, &pos, 0, 0);
	if (rc)
		return rc;
	if (version && cli_args_parse_long(version, 1, 1L << 40, &v))
		return cli_usage_error(cli, usage_show, "--version takes a number from 1");
	dynbuf_init(&path, 256);
	rc = dynbuf_adds(&path, "/notifications/routes");
	if (!rc && version)
		rc = cli_http_query_add(&path, "version", version);
	if (rc) {
		dynbuf_release(&path);
		return cli_request_too_long(cli, rc);
	}
	call.path = path.data;
	rc = cli_call(cli, &call, &reply);
	dynbuf_release(&path);
	if (rc)
		return rc;
	{
		const char *by = cli_json_get_string(reply, "created_by");
		const char *why = cli_json_get_string(reply, "reason");
		json_t *doc = json_pack("{s:O}", "routes", cli_json_get(reply, "routes"));

		text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
		json_decref(doc);
		fprintf(cli->out, "# notification routes version %lld%s%s%s%s\n",
			(long long)json_integer_value(cli_json_get(reply, "version")),
			by ? ", by " : " (none set)", by ? by : "", why ? ": " : "",
			why ? why : "");
		fprintf(cli->out, "%s\n", text ? text : "{\"routes\": []}");
		free(text);
	}
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int routes_apply(struct cli *cli, int argc, char **argv)
{
	const char *reason = NULL;
	const struct cli_args_opt opts[] = {{"reason", 'r', &reason, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "PUT", .path = "/notifications/routes"};
	struct cli_args_pos pos;
	json_t *doc, *body = NULL, *reply;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_apply);
	rc = cli_parse_args(cli, usage_apply, opts, argc, argv, &pos, 1, 1);
	if (rc)
		return rc;
	rc = cli_read_json_file(cli, pos.v[0], &doc);
	if (rc)
		return rc;
	/* The server checks the rest; a bare list is the routes. */
	if (json_is_array(doc))
		body = json_pack("{s:O}", "routes", doc);
	else if (json_is_object(doc))
		body = json_deep_copy(doc);
	json_decref(doc);
	if (!body) {
		cli_error(cli, "%s: not a routes document ({\"routes\": [...]})", pos.v[0]);
		return CLI_EXIT_USAGE;
	}
	if (reason)
		json_object_set_new(body, "reason", json_string(reason));
	call.body = body;
	rc = cli_call(cli, &call, &reply);
	json_decref(body);
	if (rc)
		return rc;
	fprintf(cli->out, "notification routes version %lld (%zu routes)\n",
		(long long)json_integer_value(cli_json_get(reply, "version")),
		json_array_size(cli_json_get(reply, "routes")));
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int routes_history(struct cli *cli, int argc, char **argv)
{
	static const struct cli_output_col cols[] = {{"VERSION", 0, "version", false},
						     {"CREATED", 0, "created_at", true},
						     {"BY", 0, "created_by", false},
						     {"REASON", 60, "reason", false}};
	const char *output = NULL;
	const struct cli_args_opt opts[] = {{"output", 'o', &output, NULL}, {NULL, 0, NULL, NULL}};
	enum cli_output_format fmt;
	struct cli_args_pos pos;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_history);
	rc = cli_parse_args(cli, usage_history, opts, argc, argv, &pos, 0, 0);
	if (!rc)
		rc = cli_parse_output(cli, usage_history, output, &fmt);
	if (rc)
		return rc;
	return cli_get_list(cli, "/notifications/routes/history", NULL, NULL, 0, "versions", fmt,
			    cols, sizeof(cols) / sizeof(cols[0]));
}

static int notify_routes(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd subs[] = {
	    {"show", routes_show}, {"apply", routes_apply}, {"history", routes_history}};

	return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), usage_routes, argc, argv);
}

static int notify_list(struct cli *cli, int argc, char **argv)
{
	static const struct cli_output_col cols[] = {
	    {"ID", 0, "id", false},
	    {"CREATED", 0, "created_at", true},
	    {"ROUTE", 24, "route", false},
	    {"STATUS", 0, "status", false},
	    {"ATTEMPTS", 0, "attempts", false},
	    {"NEXT", 0, "next_try", true},
	    {"HOST", 24, "host", false},
	    {"RULE", 40, "rule", false},
	    {"ERROR", 60, "last_error", false},
	};
	const char *output = NULL, *status = NULL, *since = NULL, *route = NULL, *limit = NULL;
	const struct cli_args_opt opts[] = {
	    {"status", 's', &status, NULL}, {"since", 'S', &since, NULL},
	    {"route", 'R', &route, NULL},   {"limit", 'n', &limit, NULL},
	    {"output", 'o', &output, NULL}, {NULL, 0, NULL, NULL}};
	enum cli_output_format fmt;
	struct cli_args_pos pos;
	long n;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_list);
	rc = cli_parse_args(cli, usage_list, opts, argc, argv, &pos, 0, 0);
	if (!rc)
		rc = cli_parse_output(cli, usage_list, output, &fmt);
	if (rc)
		return rc;
	if (status && strcmp(status, "pending") && strcmp(status, "sent") &&
	    strcmp(status, "failed"))
		return cli_usage_error(cli, usage_list, "--status is pending, sent or failed");
	if (since && !cli_args_is_time(since))
		return cli_usage_error(
		    cli, usage_list,
		    "--since: '%s' is neither a duration (2h) nor an RFC 3339 time", since);
	if (limit && cli_args_parse_long(limit, 1, LIMIT_MAX, &n))
		return cli_usage_error(cli, usage_list, "--limit must be a number from 1 to %d",
				       LIMIT_MAX);
	{
		static const char *const names[] = {"status", "since", "route", "limit"};
		const char *const values[] = {status, since, route, limit};

		return cli_get_list(cli, "/notifications", names, values, 4, "notifications", fmt,
				    cols, sizeof(cols) / sizeof(cols[0]));
	}
}

static int get_delivery(struct cli *cli, long long id, json_t **reply)
{
	struct cli_call call = {.method = "GET"};
	char path[64];

	snprintf(path, sizeof(path), "/notifications/%lld", id);
	call.path = path;
	return cli_call(cli, &call, reply);
}

static int notify_test(struct cli *cli, int argc, char **argv)
{
	const char *timeout = NULL;
	const struct cli_args_opt opts[] = {{"timeout", 't', &timeout, NULL},
					    {NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "POST", .path = "/notifications/test"};
	struct timespec half = {0, 500000000};
	struct cli_args_pos pos;
	json_t *body, *reply = NULL;
	long wait_s = 30;
	long long id;
	const char *st = NULL;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_test);
	rc = cli_parse_args(cli, usage_test, opts, argc, argv, &pos, 1, 1);
	if (rc)
		return rc;
	if (timeout && cli_args_parse_long(timeout, 1, 600, &wait_s))
		return cli_usage_error(cli, usage_test, "--timeout takes 1-600 seconds");
	body = json_pack("{s:s}", "route", pos.v[0]);
	call.body = body;
	rc = body ? cli_call(cli, &call, &reply) : CLI_EXIT_SERVER;
	json_decref(body);
	if (rc)
		return rc;
	id = (long long)json_integer_value(cli_json_get(reply, "id"));
	json_decref(reply);
	reply = NULL;
	for (long i = 0; i < wait_s * 2; i++) {
		json_decref(reply);
		reply = NULL;
		rc = get_delivery(cli, id, &reply);
		if (rc)
			return rc;
		st = cli_json_get_string(reply, "status");
		if (st && strcmp(st, "pending"))
			break;
		nanosleep(&half, NULL);
	}
	if (st && !strcmp(st, "sent")) {
		fprintf(cli->out, "sent a test message through %s (delivery %lld)\n", pos.v[0], id);
		rc = CLI_EXIT_OK;
	} else if (st && !strcmp(st, "failed")) {
		cli_error(cli, "the test through %s failed: %s", pos.v[0],
			  cli_json_get_string(reply, "last_error")
			      ? cli_json_get_string(reply, "last_error")
			      : "?");
		rc = CLI_EXIT_SERVER;
	} else {
		cli_error(cli,
			  "the test through %s is not delivered after %ld s (%lld attempts%s%s); "
			  "see mamori notify list --route %s",
			  pos.v[0], wait_s,
			  (long long)json_integer_value(cli_json_get(reply, "attempts")),
			  cli_json_get_string(reply, "last_error") ? ", last: " : "",
			  cli_json_get_string(reply, "last_error")
			      ? cli_json_get_string(reply, "last_error")
			      : "",
			  pos.v[0]);
		rc = CLI_EXIT_SERVER;
	}
	json_decref(reply);
	return rc;
}

static int notify_retry(struct cli *cli, int argc, char **argv)
{
	const struct cli_args_opt opts[] = {{NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "POST"};
	struct cli_args_pos pos;
	char path[64];
	json_t *reply;
	long id;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_retry);
	rc = cli_parse_args(cli, usage_retry, opts, argc, argv, &pos, 1, 1);
	if (rc)
		return rc;
	if (cli_args_parse_long(pos.v[0], 1, 1L << 62, &id))
		return cli_usage_error(cli, usage_retry, "ID is a delivery number");
	snprintf(path, sizeof(path), "/notifications/%ld/retry", id);
	call.path = path;
	rc = cli_call(cli, &call, &reply);
	if (rc)
		return rc;
	fprintf(cli->out, "delivery %ld through %s is due now\n", id,
		cli_json_get_string(reply, "route") ? cli_json_get_string(reply, "route") : "?");
	json_decref(reply);
	return CLI_EXIT_OK;
}

int cmd_notify_run(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd subs[] = {{"routes", notify_routes},
					      {"list", notify_list},
					      {"test", notify_test},
					      {"retry", notify_retry}};

	return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), usage_notify, argc, argv);
}
