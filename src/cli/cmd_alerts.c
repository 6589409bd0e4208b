/* mamori alerts: alerts the server raised, newest first (GET /alerts, /alerts/{id}). */
#include "cmd.h"

#include "cli.h"
#include "cli_args.h"
#include "cli_output.h"

#include "banned.h"

#define LIMIT_MAX 100000

static const char usage_alerts[] =
    "usage: mamori alerts list [--since TIME] [--until TIME] [--severity LEVEL] [--host H]\n"
    "                          [--rule R] [--limit N] [--output jsonl|table]\n"
    "       mamori alerts show ID\n";

static const char usage_list[] =
    "usage: mamori alerts list [--since TIME] [--until TIME] [--severity LEVEL] [--host H]\n"
    "                          [--rule R] [--limit N] [--output jsonl|table]\n"
    "\n"
    "Lists alerts, most recently raised first, one per line. table (default):\n"
    "TIME SEVERITY RISK RULE HOST PROCESS; jsonl: the whole alert document.\n"
    "  -s, --since TIME      raised after: 30s, 15m, 2h, 7d ago or an RFC 3339 time\n"
    "  -u, --until TIME      raised before\n"
    "  -S, --severity LEVEL  at least low, medium, high or critical\n"
    "  -H, --host NAME       only this host\n"
    "  -r, --rule RULE       only this rule (id or name)\n"
    "  -n, --limit N         at most N alerts, 1-100000 (server default 1000)\n"
    "  -o, --output FORMAT   jsonl or table\n";

static const char usage_show[] = "usage: mamori alerts show ID\n"
				 "\n"
				 "Prints one alert as dotted 'name  value' lines.\n";

static int alerts_list(struct cli *cli, int argc, char **argv)
{
	static const struct cli_output_col cols[] = {
	    {"TIME", 0, "@timestamp", true},
	    {"SEVERITY", 0, "rule.severity", false},
	    {"RISK", 0, "risk_score", false},
	    {"RULE", 60, "rule.name", false},
	    {"HOST", 24, "host.name", false},
	    {"TECHNIQUE", 24, "threat.technique.id", false},
	    {"PROCESS", 80, "process.command_line", false},
	};
	const char *output = NULL, *since = NULL, *until = NULL, *sev = NULL, *host = NULL,
		   *rule = NULL, *limit = NULL;
	const struct cli_args_opt opts[] = {
	    {"since", 's', &since, NULL},   {"until", 'u', &until, NULL},
	    {"severity", 'S', &sev, NULL},  {"host", 'H', &host, NULL},
	    {"rule", 'r', &rule, NULL},	    {"limit", 'n', &limit, NULL},
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
	if (since && !cli_args_is_time(since))
		return cli_usage_error(
		    cli, usage_list,
		    "--since: '%s' is neither a duration (2h) nor an RFC 3339 time", since);
	if (until && !cli_args_is_time(until))
		return cli_usage_error(
		    cli, usage_list,
		    "--until: '%s' is neither a duration (2h) nor an RFC 3339 time", until);
	if (limit && cli_args_parse_long(limit, 1, LIMIT_MAX, &n))
		return cli_usage_error(cli, usage_list, "--limit must be a number from 1 to %d",
				       LIMIT_MAX);
	{
		static const char *const names[] = {"since", "until", "severity",
						    "host",  "rule",  "limit"};
		const char *const values[] = {since, until, sev, host, rule, limit};

		return cli_get_list(cli, "/alerts", names, values, 6, "alerts", fmt, cols,
				    sizeof(cols) / sizeof(cols[0]));
	}
}

static int alerts_show(struct cli *cli, int argc, char **argv)
{
	return cli_show(cli, usage_show, "/alerts/", argc, argv);
}

static const struct cli_cmd subs[] = {{"list", alerts_list}, {"show", alerts_show}};

int cmd_alerts_run(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), usage_alerts, argc, argv);
}
