/* mamori quarantine HOST PATH / mamori quarantine HOST --list / mamori restore HOST ID: a file
 * moved into the host's encrypted vault and back (commands "quarantine", "quarantine_list",
 * "restore"; docs/response.md). */
#include "cmd.h"

#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_json.h"
#include "cli_output.h"

#include "banned.h"

#define WAIT_DEFAULT_S 60
#define WAIT_MAX_S 300

static const char usage_quarantine[] =
    "usage: mamori quarantine HOST PATH [--reason TEXT] [--timeout SECONDS]\n"
    "       mamori quarantine HOST --list [--output jsonl|table]\n"
    "\n"
    "Moves the regular file PATH (absolute; a symlink is not followed) into HOST's vault,\n"
    "encrypted, with its path, owner, mode, times and SHA-256, so it can neither run nor be\n"
    "read until it is restored. Prints the file's details and, on its last line, the\n"
    "quarantine id that 'mamori restore' takes. --list shows the vault's entries.\n"
    "  -l, --list             list the entries of the host's vault\n"
    "  -o, --output FORMAT    with --list: jsonl or table\n"
    "  -r, --reason TEXT      why, kept with the action and in the audit log\n"
    "  -t, --timeout SECONDS  how long to wait for the agent (1-300, default 60)\n";

static const char usage_restore[] =
    "usage: mamori restore HOST ID [--force] [--reason TEXT] [--timeout SECONDS]\n"
    "\n"
    "Puts quarantined file ID back where it was on HOST, byte for byte, with its owner, mode\n"
    "and modification time, after checking it was not altered in the vault. Refuses when\n"
    "something else is at the path now, unless --force.\n"
    "  -f, --force            replace what is at the path now\n"
    "  -r, --reason TEXT      why, kept with the action and in the audit log\n"
    "  -t, --timeout SECONDS  how long to wait for the agent (1-300, default 60)\n";

static int list(struct cli *cli, const char *host, const char *output, long wait_s)
{
	static const struct cli_output_col cols[] = {
	    {"ID", 0, "id", false},	{"QUARANTINED", 0, "quarantined_at", true},
	    {"SIZE", 0, "size", false}, {"SHA256", 0, "sha256", false},
	    {"PATH", 0, "path", false},
	};
	enum cli_output_format fmt;
	json_t *reply;
	const json_t *arr;
	int rc = cli_parse_output(cli, usage_quarantine, output, &fmt);

	if (!rc)
		rc = cli_host_command(cli, host, "quarantine_list", NULL, NULL, wait_s, &reply);
	if (rc)
		return rc;
	rc = cli_command_outcome(cli, "quarantine --list", host, wait_s, reply);
	if (!rc) {
		arr = cli_json_get(reply, "result.entries");
		rc = json_is_array(arr)
			 ? cli_finish(cli, cli_output_list(cli->out, fmt, arr, cols, 5))
			 : CLI_EXIT_SERVER;
	}
	json_decref(reply);
	return rc;
}

int cmd_quarantine_run(struct cli *cli, int argc, char **argv)
{
	const char *reason = NULL, *timeout = NULL, *output = NULL, *warn;
	bool do_list = false;
	const struct cli_args_opt opts[] = {{"reason", 'r', &reason, NULL},
					    {"timeout", 't', &timeout, NULL},
					    {"list", 'l', NULL, &do_list},
					    {"output", 'o', &output, NULL},
					    {NULL, 0, NULL, NULL}};
	struct cli_args_pos pos;
	long wait_s = WAIT_DEFAULT_S;
	json_t *reply;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_quarantine);
	rc = cli_parse_args(cli, usage_quarantine, opts, argc, argv, &pos, 1, 2);
	if (rc)
		return rc;
	rc = cli_parse_timeout(cli, usage_quarantine, timeout, WAIT_MAX_S, &wait_s);
	if (rc)
		return rc;
	if (do_list != (pos.n == 1))
		return cli_usage_error(cli, usage_quarantine, "give PATH, or --list");
	if (do_list)
		return list(cli, pos.v[0], output, wait_s);
	rc = cli_host_command(cli, pos.v[0], "quarantine", json_pack("{s:s}", "path", pos.v[1]),
			      reason, wait_s, &reply);
	if (rc)
		return rc;
	rc = cli_command_outcome(cli, "quarantine", pos.v[0], wait_s, reply);
	if (!rc) {
		fprintf(cli->out, "quarantined %s on %s: %lld bytes, sha256 %s, mode %llo\n",
			cli_json_get_string(reply, "result.path")
			    ? cli_json_get_string(reply, "result.path")
			    : pos.v[1],
			pos.v[0], (long long)json_integer_value(cli_json_get(reply, "result.size")),
			cli_json_get_string(reply, "result.sha256")
			    ? cli_json_get_string(reply, "result.sha256")
			    : "?",
			(unsigned long long)json_integer_value(cli_json_get(reply, "result.mode")));
		warn = cli_json_get_string(reply, "result.warning");
		if (warn)
			fprintf(cli->out, "warning: %s\n", warn);
		fprintf(cli->out, "%s\n",
			cli_json_get_string(reply, "result.id")
			    ? cli_json_get_string(reply, "result.id")
			    : "?");
	}
	json_decref(reply);
	return rc;
}

int cmd_restore_run(struct cli *cli, int argc, char **argv)
{
	const char *reason = NULL, *timeout = NULL;
	bool force = false;
	const struct cli_args_opt opts[] = {{"force", 'f', NULL, &force},
					    {"reason", 'r', &reason, NULL},
					    {"timeout", 't', &timeout, NULL},
					    {NULL, 0, NULL, NULL}};
	struct cli_args_pos pos;
	long wait_s = WAIT_DEFAULT_S;
	json_t *reply;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_restore);
	rc = cli_parse_args(cli, usage_restore, opts, argc, argv, &pos, 2, 2);
	if (rc)
		return rc;
	rc = cli_parse_timeout(cli, usage_restore, timeout, WAIT_MAX_S, &wait_s);
	if (rc)
		return rc;
	if (strlen(pos.v[1]) != 32 || strspn(pos.v[1], "0123456789abcdef") != 32)
		return cli_usage_error(cli, usage_restore, "ID is 32 lowercase hex digits");
	rc = cli_host_command(cli, pos.v[0], "restore",
			      json_pack("{s:s,s:b}", "id", pos.v[1], "force", force), reason,
			      wait_s, &reply);
	if (rc)
		return rc;
	rc = cli_command_outcome(cli, "restore", pos.v[0], wait_s, reply);
	if (!rc)
		fprintf(cli->out, "restored %s on %s: %lld bytes, sha256 %s\n",
			cli_json_get_string(reply, "result.path")
			    ? cli_json_get_string(reply, "result.path")
			    : "?",
			pos.v[0], (long long)json_integer_value(cli_json_get(reply, "result.size")),
			cli_json_get_string(reply, "result.sha256")
			    ? cli_json_get_string(reply, "result.sha256")
			    : "?");
	json_decref(reply);
	return rc;
}
