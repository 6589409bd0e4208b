/* mamori remove-persistence HOST TYPE PATH [--line L | --match S]: a cron entry, systemd unit,
 * authorized_keys line, ld.so.preload entry or shell start-up line removed, with a backup in the
 * host's vault (command "persistence_remove"; docs/response.md). */
#include "cmd.h"

#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_json.h"

#include "banned.h"

#define WAIT_DEFAULT_S 60
#define WAIT_MAX_S 300

static const char usage[] =
    "usage: mamori remove-persistence HOST TYPE PATH|UNIT [--line TEXT | --match TEXT]\n"
    "                                 [--reason TEXT] [--timeout SECONDS]\n"
    "\n"
    "Removes a persistence item from HOST. TYPE is cron, systemd, authorized_keys, ld_preload\n"
    "or shell_rc, and PATH must be a place where that type lives (for systemd, a unit name\n"
    "means /etc/systemd/system/UNIT). --line removes the lines equal to TEXT, --match the\n"
    "lines containing TEXT; without either, the whole file goes, where the file is the item\n"
    "itself (a cron.d entry, a unit, a profile.d script). A unit is stopped and disabled\n"
    "first. The file as it was is kept in the host's vault: the last line printed is its id,\n"
    "and 'mamori restore HOST ID --force' undoes the removal.\n"
    "  -l, --line TEXT        remove the lines that are exactly TEXT\n"
    "  -m, --match TEXT       remove the lines that contain TEXT\n"
    "  -r, --reason TEXT      why, kept with the action and in the audit log\n"
    "  -t, --timeout SECONDS  how long to wait for the agent (1-300, default 60)\n";

int cmd_persistence_run(struct cli *cli, int argc, char **argv)
{
	const char *line = NULL, *match = NULL, *reason = NULL, *timeout = NULL;
	const struct cli_args_opt opts[] = {{"line", 'l', &line, NULL},
					    {"match", 'm', &match, NULL},
					    {"reason", 'r', &reason, NULL},
					    {"timeout", 't', &timeout, NULL},
					    {NULL, 0, NULL, NULL}};
	struct cli_args_pos pos;
	long wait_s = WAIT_DEFAULT_S;
	json_t *args, *reply;
	const json_t *v;
	size_t i;
	int rc;

	if (cli->help)
		return cli_help(cli, usage);
	rc = cli_parse_args(cli, usage, opts, argc, argv, &pos, 3, 3);
	if (rc)
		return rc;
	if (line && match)
		return cli_usage_error(cli, usage, "--line and --match exclude each other");
	rc = cli_parse_timeout(cli, usage, timeout, WAIT_MAX_S, &wait_s);
	if (rc)
		return rc;
	args = json_pack("{s:s}", "type", pos.v[1]);
	if (args)
		json_object_set_new(args, pos.v[2][0] == '/' ? "path" : "unit",
				    json_string(pos.v[2]));
	if (args && line)
		json_object_set_new(args, "line", json_string(line));
	if (args && match)
		json_object_set_new(args, "match", json_string(match));
	rc = cli_host_command(cli, pos.v[0], "persistence_remove", args, reason, wait_s, &reply);
	if (rc)
		return rc;
	rc = cli_command_outcome(cli, "remove-persistence", pos.v[0], wait_s, reply);
	if (rc) {
		json_decref(reply);
		return rc;
	}
	fprintf(cli->out, "removed from %s on %s%s\n", cli_json_get_string(reply, "result.path"),
		pos.v[0],
		json_is_true(cli_json_get(reply, "result.whole_file")) ? " (the whole file)" : "");
	json_array_foreach(cli_json_get(reply, "result.removed"), i, v)
	    fprintf(cli->out, "  - %s\n", json_string_value(v));
	if (cli_json_get_string(reply, "result.systemctl"))
		fprintf(cli->out, "unit: %s\n", cli_json_get_string(reply, "result.systemctl"));
	fprintf(cli->out, "%s\n",
		cli_json_get_string(reply, "result.backup_id")
		    ? cli_json_get_string(reply, "result.backup_id")
		    : "?");
	json_decref(reply);
	return CLI_EXIT_OK;
}
