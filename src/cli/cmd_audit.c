/* mamori audit list: the server's record of every change, who made it and with what result
 * (GET /audit). */
#include "cmd.h"

#include "cli.h"
#include "cli_args.h"
#include "cli_output.h"

#include "banned.h"

#define LIMIT_MAX 10000

static const char usage_audit[] =
    "usage: mamori audit list [--since TIME] [--limit N] [--output jsonl|table]\n";

static const char usage_list[] =
    "usage: mamori audit list [--since TIME] [--limit N] [--output jsonl|table]\n"
    "\n"
    "Lists audit records, newest first (admin). table (default):\n"
    "TIME USER METHOD PATH STATUS DETAIL; jsonl: one record per line.\n"
    "  -s, --since TIME      30s, 15m, 2h, 7d ago or an RFC 3339 time (server default)\n"
    "  -n, --limit N         at most N records, 1-10000 (server default)\n"
    "  -o, --output FORMAT   jsonl or table\n";

static int audit_list(struct cli *cli, int argc, char **argv)
{
	static const struct cli_output_col cols[] = {
	    {"TIME", 0, "@timestamp", true}, {"USER", 24, "user", false},
	    {"METHOD", 0, "method", false},  {"PATH", 48, "path", false},
	    {"STATUS", 0, "status", false},  {"DETAIL", 60, "detail", false},
	};
	const char *output = NULL, *since = NULL, *limit = NULL;
	const struct cli_args_opt opts[] = {{"since", 's', &since, NULL},
					    {"limit", 'n', &limit, NULL},
					    {"output", 'o', &output, NULL},
					    {NULL, 0, NULL, NULL}};
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
	if (since && !cli_args_is_time(since))
		return cli_usage_error(
		    cli, usage_list,
		    "--since: '%s' is neither a duration (2h) nor an RFC 3339 time", since);
	if (limit && cli_args_parse_long(limit, 1, LIMIT_MAX, &n))
		return cli_usage_error(cli, usage_list, "--limit must be a number from 1 to %d",
				       LIMIT_MAX);
	{
		static const char *const names[] = {"since", "limit"};
		const char *const values[] = {since, limit};

		return cli_get_list(cli, "/audit", names, values, 2, "audit", fmt, cols,
				    sizeof(cols) / sizeof(cols[0]));
	}
}

static const struct cli_cmd subs[] = {{"list", audit_list}};

int cmd_audit_run(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), usage_audit, argc, argv);
}
