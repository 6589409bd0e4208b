/* Response actions: mamori kill HOST PID [--tree] (POST /hosts/{h}/commands, type "kill", waiting
 * for the agent's result), and mamori actions list|show (GET /actions, /actions/{id}): every
 * command sent to agents, with who, why and the result. docs/response.md. */
#include "cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_json.h"
#include "cli_output.h"
#include "dynbuf.h"

#include "banned.h"

#define LIMIT_MAX 100000
#define WAIT_DEFAULT_S 30
#define WAIT_MAX_S 300

static const char usage_kill[] =
    "usage: mamori kill HOST PID [--tree] [--entity-id ID] [--reason TEXT]\n"
    "                   [--timeout SECONDS | --no-wait]\n"
    "\n"
    "Kills process PID on HOST (an agent id or host name) and waits for the agent's\n"
    "result. Prints one 'killed PID NAME ENTITY-ID' line per process; exits 1 when the\n"
    "agent could not kill (no such process, a reused pid, pid 1, the agent itself...).\n"
    "  -T, --tree             also every descendant, each stopped as soon as found\n"
    "  -e, --entity-id ID     refuse unless PID is still this process (process.entity_id)\n"
    "  -r, --reason TEXT      why, kept with the action and in the audit log\n"
    "  -t, --timeout SECONDS  how long to wait for the agent (1-300, default 30)\n"
    "      --no-wait          queue the action and print its id (an offline host runs it\n"
    "                         when it comes back, unless it expires first)\n";

static const char usage_processes[] =
    "usage: mamori processes HOST [--timeout SECONDS] [--output jsonl|table]\n"
    "\n"
    "Lists the processes running on HOST now, as its agent reads them from /proc.\n"
    "table (default): PID PPID USER STATE NAME ENTITY-ID COMMAND; jsonl: one process per\n"
    "line with its executable, working directory and start time too.\n"
    "  -t, --timeout SECONDS  how long to wait for the agent (1-300, default 30)\n"
    "  -o, --output FORMAT    jsonl or table\n";

static const char usage_connections[] =
    "usage: mamori connections HOST [--timeout SECONDS] [--output jsonl|table]\n"
    "\n"
    "Lists HOST's TCP sockets (every state) and bound UDP sockets now, with the process\n"
    "that holds each. table (default): PROTO STATE LOCAL PORT REMOTE PORT PID PROCESS;\n"
    "jsonl: one socket per line.\n"
    "  -t, --timeout SECONDS  how long to wait for the agent (1-300, default 30)\n"
    "  -o, --output FORMAT    jsonl or table\n";

static const char usage_actions[] =
    "usage: mamori actions list [--since TIME] [--until TIME] [--host H] [--type T]\n"
    "                           [--limit N] [--output jsonl|table]\n"
    "       mamori actions show ID\n";

static const char usage_list[] =
    "usage: mamori actions list [--since TIME] [--until TIME] [--host H] [--type T]\n"
    "                           [--limit N] [--output jsonl|table]\n"
    "\n"
    "Lists actions sent to agents (kill, ping...), newest first. table (default):\n"
    "CREATED TYPE HOST STATUS BY REASON ARGS RESULT; jsonl: one action per line.\n"
    "  -s, --since TIME      created after: 30s, 15m, 2h, 7d ago or an RFC 3339 time\n"
    "  -u, --until TIME      created before\n"
    "  -H, --host NAME       only this host (name or agent id)\n"
    "  -y, --type TYPE       only this type (kill, ping...)\n"
    "  -n, --limit N         at most N actions, 1-100000 (server default 1000)\n"
    "  -o, --output FORMAT   jsonl or table\n";

static const char usage_show[] = "usage: mamori actions show ID\n"
				 "\n"
				 "Prints one action as dotted 'name  value' lines.\n";

/* One "killed|alive PID NAME ENTITY-ID" line; the name is the target's own choice (prctl), so
 * it is escaped like every other text from a host. */
static void print_target(FILE *f, const char *what, const json_t *p)
{
	struct dynbuf name;
	const char *eid = cli_json_get_string(p, "entity_id");

	dynbuf_init(&name, 256);
	if (cli_output_sanitize(
		&name, cli_json_get_string(p, "name") ? cli_json_get_string(p, "name") : "?", 32,
		NULL))
		dynbuf_reset(&name);
	fprintf(
	    f, "%s %lld %s %s\n", what, (long long)json_integer_value(json_object_get(p, "pid")),
	    name.len ? name.data : "?", eid && strspn(eid, "0123456789abcdef") == 32 ? eid : "");
	dynbuf_release(&name);
}

/* Kill's answer: one line per process killed (and per process left alive), or the error. */
static int kill_result(struct cli *cli, const char *host, long wait_s, const json_t *reply)
{
	const char *status = cli_json_get_string(reply, "status");
	const char *err = cli_json_get_string(reply, "result.error");
	const json_t *p;
	size_t i;

	if (cli_command_pending(reply)) {
		cli_error(cli, "kill on %s: no result within %ld s (action %s, %s)", host, wait_s,
			  cli_json_get_string(reply, "id") ? cli_json_get_string(reply, "id") : "?",
			  status ? status : "status unknown");
		return CLI_EXIT_SERVER;
	}
	json_array_foreach(cli_json_get(reply, "result.killed"), i, p)
	    print_target(cli->out, "killed", p);
	json_array_foreach(cli_json_get(reply, "result.alive"), i, p)
	    print_target(cli->out, "alive", p);
	if (!strcmp(status, "ok"))
		return CLI_EXIT_OK;
	/* cli_error escapes what it prints. */
	cli_error(cli, "kill on %s: %s%s%s", host, status, err ? ": " : "", err ? err : "");
	return CLI_EXIT_SERVER;
}

int cmd_kill_run(struct cli *cli, int argc, char **argv)
{
	const char *eid = NULL, *reason = NULL, *timeout = NULL;
	bool tree = false, no_wait = false;
	const struct cli_args_opt opts[] = {
	    {"tree", 'T', NULL, &tree},	    {"entity-id", 'e', &eid, NULL},
	    {"reason", 'r', &reason, NULL}, {"timeout", 't', &timeout, NULL},
	    {"no-wait", 0, NULL, &no_wait}, {NULL, 0, NULL, NULL}};
	struct cli_args_pos pos;
	long pid, wait_s = WAIT_DEFAULT_S;
	json_t *args, *reply;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_kill);
	rc = cli_parse_args(cli, usage_kill, opts, argc, argv, &pos, 2, 2);
	if (rc)
		return rc;
	if (cli_args_parse_long(pos.v[1], 1, 4194304, &pid))
		return cli_usage_error(cli, usage_kill, "PID must be a number from 1 to 4194304");
	rc = cli_parse_timeout(cli, usage_kill, timeout, WAIT_MAX_S, &wait_s);
	if (rc)
		return rc;
	if (timeout && no_wait)
		return cli_usage_error(cli, usage_kill,
				       "--timeout and --no-wait exclude each other");
	if (eid && (strlen(eid) != 32 || strspn(eid, "0123456789abcdef") != 32))
		return cli_usage_error(cli, usage_kill,
				       "--entity-id takes 32 lowercase hex digits");
	if (no_wait)
		wait_s = 0;
	args = json_pack("{s:I,s:b}", "pid", (json_int_t)pid, "tree", tree);
	if (args && eid)
		json_object_set_new(args, "entity_id", json_string(eid));
	rc = cli_host_command(cli, pos.v[0], "kill", args, reason, wait_s, &reply);
	if (rc)
		return rc;
	if (no_wait) {
		fprintf(cli->out, "%s\n",
			cli_json_get_string(reply, "id") ? cli_json_get_string(reply, "id") : "?");
		rc = CLI_EXIT_OK;
	} else {
		rc = kill_result(cli, pos.v[0], wait_s, reply);
	}
	json_decref(reply);
	return rc;
}

/* A read-only view of a host: command type, whose result holds the rows at list_path. */
static int live_view(struct cli *cli, int argc, char **argv, const char *type,
		     const char *list_path, const char *usage, const struct cli_output_col *cols,
		     size_t ncols)
{
	const char *output = NULL, *timeout = NULL;
	const struct cli_args_opt opts[] = {{"timeout", 't', &timeout, NULL},
					    {"output", 'o', &output, NULL},
					    {NULL, 0, NULL, NULL}};
	enum cli_output_format fmt;
	struct cli_args_pos pos;
	long wait_s = WAIT_DEFAULT_S;
	json_t *reply;
	const json_t *list;
	const char *status;
	int rc;

	if (cli->help)
		return cli_help(cli, usage);
	rc = cli_parse_args(cli, usage, opts, argc, argv, &pos, 1, 1);
	if (!rc)
		rc = cli_parse_output(cli, usage, output, &fmt);
	if (rc)
		return rc;
	rc = cli_parse_timeout(cli, usage, timeout, WAIT_MAX_S, &wait_s);
	if (rc)
		return rc;
	rc = cli_host_command(cli, pos.v[0], type, NULL, NULL, wait_s, &reply);
	if (rc)
		return rc;
	status = cli_json_get_string(reply, "status");
	list = cli_json_get(reply, list_path);
	if (!status || strcmp(status, "ok") || !json_is_array(list)) {
		const char *err = cli_json_get_string(reply, "result.error");

		cli_error(cli, "%s on %s: %s%s%s", type, pos.v[0],
			  cli_command_pending(reply) ? "no answer in time" : status,
			  err ? ": " : "", err ? err : "");
		json_decref(reply);
		return CLI_EXIT_SERVER;
	}
	rc = cli_finish(cli, cli_output_list(cli->out, fmt, list, cols, ncols));
	if (json_is_true(cli_json_get(reply, "result.truncated")))
		cli_error(cli, "%s on %s: the list was cut at the agent's limit", type, pos.v[0]);
	json_decref(reply);
	return rc;
}

int cmd_processes_run(struct cli *cli, int argc, char **argv)
{
	static const struct cli_output_col cols[] = {
	    {"PID", 0, "pid", false},
	    {"PPID", 0, "ppid", false},
	    {"USER", 0, "user.id", false},
	    {"STATE", 0, "state", false},
	    {"NAME", 16, "name", false},
	    {"ENTITY-ID", 0, "entity_id", false},
	    {"COMMAND", 120, "command_line", false},
	};

	return live_view(cli, argc, argv, "processes", "result.processes", usage_processes, cols,
			 sizeof(cols) / sizeof(cols[0]));
}

int cmd_connections_run(struct cli *cli, int argc, char **argv)
{
	static const struct cli_output_col cols[] = {
	    {"PROTO", 0, "transport", false},	{"STATE", 0, "state", false},
	    {"LOCAL", 40, "local.ip", false},	{"PORT", 0, "local.port", false},
	    {"REMOTE", 40, "remote.ip", false}, {"PORT", 0, "remote.port", false},
	    {"PID", 0, "pid", false},		{"PROCESS", 16, "process", false},
	};

	return live_view(cli, argc, argv, "connections", "result.connections", usage_connections,
			 cols, sizeof(cols) / sizeof(cols[0]));
}

static int actions_list(struct cli *cli, int argc, char **argv)
{
	static const struct cli_output_col cols[] = {
	    {"CREATED", 0, "created_at", true}, {"TYPE", 0, "type", false},
	    {"HOST", 24, "host_name", false},	{"STATUS", 0, "status", false},
	    {"BY", 16, "created_by", false},	{"REASON", 40, "reason", false},
	    {"ARGS", 40, "args", false},	{"RESULT", 60, "result", false},
	};
	const char *output = NULL, *q[5] = {NULL};
	static const char *const qnames[5] = {"since", "until", "host", "type", "limit"};
	const struct cli_args_opt opts[] = {
	    {"since", 's', &q[0], NULL}, {"until", 'u', &q[1], NULL},
	    {"host", 'H', &q[2], NULL},	 {"type", 'y', &q[3], NULL},
	    {"limit", 'n', &q[4], NULL}, {"output", 'o', &output, NULL},
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
	for (int i = 0; i < 2; i++)
		if (q[i] && !cli_args_is_time(q[i]))
			return cli_usage_error(
			    cli, usage_list,
			    "--%s: '%s' is neither a duration (2h) nor an RFC 3339 time", qnames[i],
			    q[i]);
	if (q[4] && cli_args_parse_long(q[4], 1, LIMIT_MAX, &n))
		return cli_usage_error(cli, usage_list, "--limit must be a number from 1 to %d",
				       LIMIT_MAX);
	return cli_get_list(cli, "/actions", qnames, q, 5, "actions", fmt, cols,
			    sizeof(cols) / sizeof(cols[0]));
}

static int actions_show(struct cli *cli, int argc, char **argv)
{
	return cli_show(cli, usage_show, "/actions/", argc, argv);
}

static const struct cli_cmd subs[] = {{"list", actions_list}, {"show", actions_show}};

int cmd_actions_run(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), usage_actions, argc, argv);
}
