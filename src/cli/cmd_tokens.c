/* mamori tokens create: an enrollment token for agents joining a group (POST /tokens). The token
 * goes alone to stdout so scripts can capture it; its id and expiry go to stderr. */
#include "cmd.h"

#include "cli.h"
#include "cli_args.h"
#include "cli_json.h"

#include "banned.h"

#define DEFAULT_EXPIRES "7d"

static const char usage_tokens[] = "usage: mamori tokens create --group GROUP [--expires WHEN]\n";

static const char usage_create[] =
    "usage: mamori tokens create --group GROUP [--expires WHEN]\n"
    "\n"
    "Creates an enrollment token for agents joining GROUP (admin). Prints the token\n"
    "alone on stdout; its id and expiry go to stderr.\n"
    "  -g, --group GROUP     group the enrolled hosts join (required)\n"
    "  -e, --expires WHEN    lifetime (30m, 12h, 7d) or an RFC 3339 time (default " DEFAULT_EXPIRES
    ")\n";

static int tokens_create(struct cli *cli, int argc, char **argv)
{
	const char *group = NULL, *expires = DEFAULT_EXPIRES;
	const struct cli_args_opt opts[] = {
	    {"group", 'g', &group, NULL}, {"expires", 'e', &expires, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "POST", .path = "/tokens"};
	struct cli_args_pos pos;
	json_t *body, *reply;
	const char *token, *id, *until;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_create);
	rc = cli_parse_args(cli, usage_create, opts, argc, argv, &pos, 0, 0);
	if (rc)
		return rc;
	if (!group || !group[0])
		return cli_usage_error(cli, usage_create, "tokens create: --group is required");
	if (!cli_args_is_time(expires))
		return cli_usage_error(cli, usage_create,
				       "--expires: '%s' is neither a duration (7d) nor an RFC 3339 "
				       "time",
				       expires);
	body = json_pack("{s:s, s:s}", "group", group, "expires", expires);
	if (!body) {
		cli_error(cli, "out of memory");
		return CLI_EXIT_SERVER;
	}
	call.body = body;
	rc = cli_call(cli, &call, &reply);
	json_decref(body);
	if (rc)
		return rc;
	token = cli_json_get_string(reply, "token");
	if (!token) {
		cli_error(cli, "unusable reply from the server: no token");
		json_decref(reply);
		return CLI_EXIT_SERVER;
	}
	fprintf(cli->out, "%s\n", token);
	id = cli_json_get_string(reply, "id");
	until = cli_json_get_string(reply, "expires");
	cli_error(cli, "enrollment token %s for group %s, expires %s", id ? id : "?", group,
		  until ? until : expires);
	json_decref(reply);
	return CLI_EXIT_OK;
}

static const struct cli_cmd subs[] = {{"create", tokens_create}};

int cmd_tokens_run(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), usage_tokens, argc, argv);
}
