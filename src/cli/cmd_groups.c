/* mamori groups: create and list host groups (POST and GET /groups). */
#include "cmd.h"

#include "cli.h"
#include "cli_args.h"
#include "cli_json.h"
#include "cli_output.h"

#include "banned.h"

static const char usage_groups[] = "usage: mamori groups create GROUP\n"
				   "       mamori groups list [--output jsonl|table]\n";

static const char usage_create[] = "usage: mamori groups create GROUP\n"
				   "\n"
				   "Creates a host group (admin); fails if it exists.\n";

static const char usage_list[] =
    "usage: mamori groups list [--output jsonl|table]\n"
    "\n"
    "Lists host groups. table (default): NAME HOSTS; jsonl: one group\n"
    "per line as the server returns it.\n"
    "  -o, --output FORMAT   jsonl or table\n";

static int groups_create(struct cli *cli, int argc, char **argv)
{
	const struct cli_args_opt opts[] = {{NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "POST", .path = "/groups"};
	struct cli_args_pos pos;
	json_t *body, *reply;
	const char *name;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_create);
	rc = cli_parse_args(cli, usage_create, opts, argc, argv, &pos, 1, 1);
	if (rc)
		return rc;
	body = json_pack("{s:s}", "name", pos.v[0]);
	if (!body) {
		cli_error(cli, "out of memory");
		return CLI_EXIT_SERVER;
	}
	call.body = body;
	rc = cli_call(cli, &call, &reply);
	json_decref(body);
	if (rc)
		return rc;
	name = cli_json_get_string(reply, "name");
	fprintf(cli->out, "created group %s\n", name ? name : pos.v[0]);
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int groups_list(struct cli *cli, int argc, char **argv)
{
	static const struct cli_output_col cols[] = {{"NAME", 0, "name", false},
						     {"HOSTS", 0, "hosts", false}};
	const char *output = NULL;
	const struct cli_args_opt opts[] = {{"output", 'o', &output, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "GET", .path = "/groups"};
	enum cli_output_format fmt;
	struct cli_args_pos pos;
	json_t *reply, *groups;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_list);
	rc = cli_parse_args(cli, usage_list, opts, argc, argv, &pos, 0, 0);
	if (!rc)
		rc = cli_parse_output(cli, usage_list, output, &fmt);
	if (!rc)
		rc = cli_call(cli, &call, &reply);
	if (rc)
		return rc;
	groups = cli_reply_array(cli, reply, "groups");
	rc = groups ? cli_finish(cli, cli_output_list(cli->out, fmt, groups, cols, 2))
		    : CLI_EXIT_SERVER;
	json_decref(reply);
	return rc;
}

static const struct cli_cmd subs[] = {{"create", groups_create}, {"list", groups_list}};

int cmd_groups_run(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), usage_groups, argc, argv);
}
