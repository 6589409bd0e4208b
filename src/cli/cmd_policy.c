/* mamori policy: a group's policy (GET/PUT /groups/{g}/policy): show it, change one setting,
 * apply a whole document, add an exclusion, list the versions. docs/policy.md. */
#include "cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_http.h"
#include "cli_json.h"
#include "cli_output.h"
#include "dynbuf.h"

#include "banned.h"

#define POLICY_FILE_MAX (4 << 20)

static const char usage_policy[] =
    "usage: mamori policy show GROUP [--version N]\n"
    "       mamori policy set GROUP mode detect|block [--reason TEXT]\n"
    "       mamori policy set GROUP quarantine on|off [--reason TEXT]\n"
    "       mamori policy apply GROUP FILE [--reason TEXT]\n"
    "       mamori policy exclude GROUP --type path|hash|command_line|rule --value V\n"
    "                             --reason TEXT [--expires TIME]\n"
    "       mamori policy history GROUP [--output jsonl|table]\n";

static const char usage_show[] =
    "usage: mamori policy show GROUP [--version N]\n"
    "\n"
    "Prints the group's policy (the newest version, or version N) as JSON, after a line with\n"
    "its version, author, time and reason. Version 0 is the default policy of a group nobody\n"
    "configured: detect mode, quarantine on, nothing else.\n"
    "  -v, --version N   an older version\n";

static const char usage_set[] =
    "usage: mamori policy set GROUP mode detect|block [--reason TEXT]\n"
    "       mamori policy set GROUP quarantine on|off [--reason TEXT]\n"
    "\n"
    "Changes one setting of the group's policy and stores the result as its next version\n"
    "(admin). In block mode the automatic responses run and prevent rules stop processes at\n"
    "exec; quarantine off leaves files to another antivirus.\n"
    "  -r, --reason TEXT   why, kept with the version and in the audit log\n";

static const char usage_apply[] =
    "usage: mamori policy apply GROUP FILE [--reason TEXT]\n"
    "\n"
    "Stores the policy document in FILE (JSON; - for stdin) as the group's next version\n"
    "(admin). The server checks it whole and says what is wrong; docs/policy.md lists the keys.\n"
    "  -r, --reason TEXT   why, kept with the version and in the audit log\n";

static const char usage_exclude[] =
    "usage: mamori policy exclude GROUP --type path|hash|command_line|rule --value V\n"
    "                             --reason TEXT [--expires TIME]\n"
    "\n"
    "Adds an exclusion to the group's policy, with you as its author: alerts it matches are\n"
    "marked excluded and trigger no automatic response. path and command_line take shell\n"
    "patterns (* matches across /), hash a SHA-256, rule a rule id.\n"
    "  -y, --type TYPE      path, hash, command_line or rule\n"
    "  -V, --value V        what to exclude\n"
    "  -r, --reason TEXT    why (required)\n"
    "  -e, --expires TIME   when it ends: a duration from now (30d) or RFC 3339; default never\n";

static const char usage_history[] =
    "usage: mamori policy history GROUP [--output jsonl|table]\n"
    "\n"
    "Lists the versions of the group's policy, newest first: VERSION CREATED BY REASON.\n"
    "  -o, --output FORMAT   jsonl or table\n";

/* "/groups/{escaped g}/policy" + suffix into b. */
static int policy_path(struct cli *cli, struct dynbuf *b, const char *group, const char *suffix)
{
	int rc;

	dynbuf_init(b, 4096);
	rc = dynbuf_adds(b, "/groups/");
	if (!rc)
		rc = cli_http_escape(b, group);
	if (!rc)
		rc = dynbuf_adds(b, "/policy");
	if (!rc && suffix)
		rc = dynbuf_adds(b, suffix);
	if (rc) {
		dynbuf_release(b);
		return cli_request_too_long(cli, rc);
	}
	return CLI_EXIT_OK;
}

/* GET the current policy of group into *reply. */
static int get_policy(struct cli *cli, const char *group, const char *version, json_t **reply)
{
	struct dynbuf b;
	struct cli_call call = {.method = "GET"};
	int rc = policy_path(cli, &b, group, NULL);

	if (rc)
		return rc;
	if (version && (dynbuf_adds(&b, "?version=") || cli_http_escape(&b, version))) {
		dynbuf_release(&b);
		return cli_request_too_long(cli, -ENOSPC);
	}
	call.path = b.data;
	rc = cli_call(cli, &call, reply);
	dynbuf_release(&b);
	return rc;
}

/* PUT doc (borrowed) as the next version and print "group G: policy version N". */
static int put_policy(struct cli *cli, const char *group, json_t *doc, const char *reason)
{
	struct dynbuf b;
	struct cli_call call = {.method = "PUT"};
	json_t *body, *reply;
	int rc = policy_path(cli, &b, group, NULL);

	if (rc)
		return rc;
	body = json_pack("{s:O}", "policy", doc);
	if (body && reason)
		json_object_set_new(body, "reason", json_string(reason));
	call.path = b.data;
	call.body = body;
	rc = body ? cli_call(cli, &call, &reply) : CLI_EXIT_SERVER;
	json_decref(body);
	dynbuf_release(&b);
	if (rc)
		return rc;
	fprintf(cli->out, "group %s: policy version %lld (mode %s, quarantine %s)\n", group,
		(long long)json_integer_value(cli_json_get(reply, "version")),
		cli_json_get_string(reply, "policy.mode")
		    ? cli_json_get_string(reply, "policy.mode")
		    : "?",
		json_is_true(cli_json_get(reply, "policy.quarantine")) ? "on" : "off");
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int policy_show(struct cli *cli, int argc, char **argv)
{
	const char *version = NULL;
	const struct cli_args_opt opts[] = {{"version", 'v', &version, NULL},
					    {NULL, 0, NULL, NULL}};
	struct cli_args_pos pos;
	json_t *reply;
	long v;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_show);
	rc = cli_parse_args(cli, usage_show, opts, argc, argv, &pos, 1, 1);
	if (rc)
		return rc;
	if (version && cli_args_parse_long(version, 1, 1L << 40, &v))
		return cli_usage_error(cli, usage_show, "--version takes a number from 1");
	rc = get_policy(cli, pos.v[0], version, &reply);
	if (rc)
		return rc;
	{
		char *text = json_dumps(cli_json_get(reply, "policy"), JSON_INDENT(2));
		const char *by = cli_json_get_string(reply, "created_by");
		const char *why = cli_json_get_string(reply, "reason");

		fprintf(cli->out, "# group %s, policy version %lld%s%s%s%s\n", pos.v[0],
			(long long)json_integer_value(cli_json_get(reply, "version")),
			by ? ", by " : " (default)", by ? by : "", why ? ": " : "", why ? why : "");
		fprintf(cli->out, "%s\n", text ? text : "{}");
		free(text);
	}
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int policy_set(struct cli *cli, int argc, char **argv)
{
	const char *reason = NULL, *key, *val;
	const struct cli_args_opt opts[] = {{"reason", 'r', &reason, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_args_pos pos;
	json_t *reply, *doc;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_set);
	rc = cli_parse_args(cli, usage_set, opts, argc, argv, &pos, 3, 3);
	if (rc)
		return rc;
	key = pos.v[1];
	val = pos.v[2];
	if (!strcmp(key, "mode") && strcmp(val, "detect") && strcmp(val, "block"))
		return cli_usage_error(cli, usage_set, "mode is detect or block");
	if (!strcmp(key, "quarantine") && strcmp(val, "on") && strcmp(val, "off"))
		return cli_usage_error(cli, usage_set, "quarantine is on or off");
	if (strcmp(key, "mode") && strcmp(key, "quarantine"))
		return cli_usage_error(cli, usage_set,
				       "set changes mode or quarantine; use apply for the rest");
	rc = get_policy(cli, pos.v[0], NULL, &reply);
	if (rc)
		return rc;
	doc = json_incref(cli_json_get(reply, "policy"));
	json_decref(reply);
	if (!json_is_object(doc)) {
		json_decref(doc);
		cli_error(cli, "the server sent no policy");
		return CLI_EXIT_SERVER;
	}
	if (!strcmp(key, "mode"))
		json_object_set_new(doc, "mode", json_string(val));
	else
		json_object_set_new(doc, "quarantine", json_boolean(!strcmp(val, "on")));
	rc = put_policy(cli, pos.v[0], doc, reason);
	json_decref(doc);
	return rc;
}

static int policy_apply(struct cli *cli, int argc, char **argv)
{
	const char *reason = NULL;
	const struct cli_args_opt opts[] = {{"reason", 'r', &reason, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_args_pos pos;
	json_t *doc;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_apply);
	rc = cli_parse_args(cli, usage_apply, opts, argc, argv, &pos, 2, 2);
	if (rc)
		return rc;
	rc = cli_read_json_file(cli, pos.v[1], &doc);
	if (rc)
		return rc;
	rc = put_policy(cli, pos.v[0], doc, reason);
	json_decref(doc);
	return rc;
}

static int policy_exclude(struct cli *cli, int argc, char **argv)
{
	const char *type = NULL, *value = NULL, *reason = NULL, *expires = NULL;
	const struct cli_args_opt opts[] = {{"type", 'y', &type, NULL},
					    {"value", 'V', &value, NULL},
					    {"reason", 'r', &reason, NULL},
					    {"expires", 'e', &expires, NULL},
					    {NULL, 0, NULL, NULL}};
	struct cli_args_pos pos;
	json_t *reply, *doc, *ex;
	char why[600];
	int rc;

	if (cli->help)
		return cli_help(cli, usage_exclude);
	rc = cli_parse_args(cli, usage_exclude, opts, argc, argv, &pos, 1, 1);
	if (rc)
		return rc;
	if (!type || !value || !reason)
		return cli_usage_error(cli, usage_exclude,
				       "--type, --value and --reason are required");
	if (expires && !cli_args_is_time(expires))
		return cli_usage_error(cli, usage_exclude,
				       "--expires takes a duration (30d) or an RFC 3339 time");
	rc = get_policy(cli, pos.v[0], NULL, &reply);
	if (rc)
		return rc;
	doc = json_incref(cli_json_get(reply, "policy"));
	json_decref(reply);
	ex = json_object_get(doc, "exclusions");
	if (!json_is_array(ex)) {
		json_decref(doc);
		cli_error(cli, "the server sent no policy");
		return CLI_EXIT_SERVER;
	}
	json_array_append_new(
	    ex, json_pack("{s:s,s:s,s:s}", "type", type, "value", value, "reason", reason));
	if (expires)
		json_object_set_new(json_array_get(ex, json_array_size(ex) - 1), "expires",
				    json_string(expires));
	snprintf(why, sizeof(why), "exclude %s %s: %s", type, value, reason);
	rc = put_policy(cli, pos.v[0], doc, why);
	json_decref(doc);
	return rc;
}

static int policy_history(struct cli *cli, int argc, char **argv)
{
	static const struct cli_output_col cols[] = {{"VERSION", 0, "version", false},
						     {"CREATED", 0, "created_at", true},
						     {"BY", 0, "created_by", false},
						     {"REASON", 60, "reason", false}};
	const char *output = NULL;
	const struct cli_args_opt opts[] = {{"output", 'o', &output, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "GET"};
	enum cli_output_format fmt;
	struct cli_args_pos pos;
	struct dynbuf b;
	json_t *reply, *arr;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_history);
	rc = cli_parse_args(cli, usage_history, opts, argc, argv, &pos, 1, 1);
	if (!rc)
		rc = cli_parse_output(cli, usage_history, output, &fmt);
	if (!rc)
		rc = policy_path(cli, &b, pos.v[0], "/history");
	if (rc)
		return rc;
	call.path = b.data;
	rc = cli_call(cli, &call, &reply);
	dynbuf_release(&b);
	if (rc)
		return rc;
	arr = cli_reply_array(cli, reply, "versions");
	rc = arr ? cli_finish(cli, cli_output_list(cli->out, fmt, arr, cols, 4)) : CLI_EXIT_SERVER;
	json_decref(reply);
	return rc;
}

int cmd_policy_run(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd subs[] = {
	    {"show", policy_show},	 {"set", policy_set},	      {"apply", policy_apply},
	    {"exclude", policy_exclude}, {"history", policy_history},
	};
	return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), usage_policy, argc, argv);
}
