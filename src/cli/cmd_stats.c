/* mamori stats: the server's counters (ingest, rejected, duplicates, connections; GET /stats). */
#include "cmd.h"

#include "cli.h"
#include "cli_args.h"
#include "cli_output.h"

#include "banned.h"

static const char usage_stats[] =
    "usage: mamori stats [--output jsonl|table]\n"
    "\n"
    "Prints the server's counters. table (default): one 'name  value'\n"
    "line per counter, nested names dotted; jsonl: one line.\n"
    "  -o, --output FORMAT   jsonl or table\n";

int cmd_stats_run(struct cli *cli, int argc, char **argv)
{
	const char *output = NULL;
	const struct cli_args_opt opts[] = {{"output", 'o', &output, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "GET", .path = "/stats"};
	enum cli_output_format fmt;
	struct cli_args_pos pos;
	json_t *reply;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_stats);
	rc = cli_parse_args(cli, usage_stats, opts, argc, argv, &pos, 0, 0);
	if (!rc)
		rc = cli_parse_output(cli, usage_stats, output, &fmt);
	if (!rc)
		rc = cli_call(cli, &call, &reply);
	if (rc)
		return rc;
	if (fmt == CLI_OUTPUT_JSONL)
		rc = cli_finish(cli, cli_output_jsonl(cli->out, reply));
	else
		rc = cli_finish(cli, cli_output_kv(cli->out, reply));
	json_decref(reply);
	return rc;
}
