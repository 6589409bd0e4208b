/* mamori hosts: list, show, remove, move and ping enrolled hosts (GET/DELETE /hosts/{h},
 * POST /hosts/{h}/move, POST /hosts/{h}/commands). */
#include "cmd.h"

#include <errno.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_http.h"
#include "cli_json.h"
#include "cli_output.h"
#include "dynbuf.h"

#include "banned.h"

#define PATH_CAP 4096
#define CELL_CAP 4096
#define PING_DEFAULT_S 10
#define PING_MAX_S 300

static const char usage_hosts[] = "usage: mamori hosts list [--output jsonl|table]\n"
				  "       mamori hosts show HOST [--output jsonl|table]\n"
				  "       mamori hosts remove HOST\n"
				  "       mamori hosts move HOST GROUP\n"
				  "       mamori hosts ping HOST [--timeout SECONDS]\n"
				  "\n"
				  "HOST is an agent id or a host name.\n";

static const char usage_list[] =
    "usage: mamori hosts list [--output jsonl|table]\n"
    "\n"
    "Lists enrolled hosts. table (default): NAME AGENT-ID STATUS GROUP LAST-SEEN OS;\n"
    "jsonl: one host per line as the server returns it.\n"
    "  -o, --output FORMAT   jsonl or table\n";

static const char usage_show[] =
    "usage: mamori hosts show HOST [--output jsonl|table]\n"
    "\n"
    "Shows one host with its inventory. table (default): one\n"
    "'dotted.key  value' line per field; jsonl: the host on one line.\n"
    "  -o, --output FORMAT   jsonl or table\n";

static const char usage_remove[] =
    "usage: mamori hosts remove HOST\n"
    "\n"
    "Removes a host and revokes its agent certificate (admin). Prints the agent id.\n";

static const char usage_move[] = "usage: mamori hosts move HOST GROUP\n"
				 "\n"
				 "Moves a host to another group (admin).\n";

static const char usage_ping[] =
    "usage: mamori hosts ping HOST [--timeout SECONDS]\n"
    "\n"
    "Sends a ping command to the host's agent and waits for the answer. Prints\n"
    "'pong from HOST in N ms'; exits 1 if the agent did not answer ok.\n"
    "  -t, --timeout SECONDS   how long the server waits for the agent (1-300, default 10)\n";

/* ECS puts the OS in an object; older servers may send one string. */
static int os_cell(const json_t *host, struct dynbuf *b)
{
	const json_t *os = cli_json_get(host, "os");
	const char *full, *name, *version;

	if (!json_is_object(os))
		return cli_json_format(os, b);
	full = cli_json_get_string(os, "full");
	if (full)
		return dynbuf_adds(b, full);
	name = cli_json_get_string(os, "name");
	version = cli_json_get_string(os, "version");
	return dynbuf_printf(b, "%s%s%s", name ? name : "", name && version ? " " : "",
			     version ? version : "");
}

static int hosts_table(struct cli *cli, const json_t *hosts)
{
	static const struct cli_output_col cols[] = {
	    {"NAME", 40, "host.name", false},	 {"AGENT-ID", 0, "agent.id", false},
	    {"STATUS", 0, "status", false},	 {"GROUP", 24, "group", false},
	    {"LAST-SEEN", 0, "last_seen", true}, {"OS", 40, NULL, false},
	};
	const size_t ncols = sizeof(cols) / sizeof(cols[0]);
	struct cli_output_table t;
	struct dynbuf vals[sizeof(cols) / sizeof(cols[0])];
	const char *cells[sizeof(cols) / sizeof(cols[0])];
	const json_t *h;
	size_t i, c;
	int rc = 0;

	cli_output_table_init(&t, cols, ncols);
	for (c = 0; c < ncols; c++)
		dynbuf_init(&vals[c], CELL_CAP);
	json_array_foreach(hosts, i, h)
	{
		for (c = 0; c < ncols; c++) {
			int r;

			dynbuf_reset(&vals[c]);
			if (!cols[c].path)
				r = os_cell(h, &vals[c]);
			else if (cols[c].time)
				r = cli_json_format_time(cli_json_get(h, cols[c].path), &vals[c]);
			else
				r = cli_json_format(cli_json_get(h, cols[c].path), &vals[c]);
			/* A value past CELL_CAP would be cut by the table anyway. */
			if (r && r != -ENOSPC)
				rc = r;
			cells[c] = vals[c].data;
		}
		if (!rc)
			rc = cli_output_table_add(&t, cells);
		if (rc)
			break;
	}
	if (!rc)
		rc = cli_output_table_print(&t, cli->out);
	for (c = 0; c < ncols; c++)
		dynbuf_release(&vals[c]);
	cli_output_table_release(&t);
	return cli_finish(cli, rc);
}

static int hosts_list(struct cli *cli, int argc, char **argv)
{
	const char *output = NULL;
	const struct cli_args_opt opts[] = {{"output", 'o', &output, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "GET", .path = "/hosts"};
	enum cli_output_format fmt;
	struct cli_args_pos pos;
	json_t *reply, *hosts;
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
	hosts = cli_reply_array(cli, reply, "hosts");
	if (!hosts)
		rc = CLI_EXIT_SERVER;
	else if (fmt == CLI_OUTPUT_JSONL)
		rc = cli_finish(cli, cli_output_list(cli->out, fmt, hosts, NULL, 0));
	else
		rc = hosts_table(cli, hosts);
	json_decref(reply);
	return rc;
}

/* Sends method to /hosts/{host}{suffix} with body; the reply goes to *reply. */
static int host_call(struct cli *cli, const char *method, const char *host, const char *suffix,
		     const json_t *body, long timeout_s, json_t **reply)
{
	struct cli_call call = {.method = method, .body = body, .timeout_s = timeout_s};
	struct dynbuf path;
	int rc;

	*reply = NULL;
	dynbuf_init(&path, PATH_CAP);
	rc = cli_http_path(&path, "/hosts/", host, suffix);
	if (rc) {
		dynbuf_release(&path);
		return cli_request_too_long(cli, rc);
	}
	call.path = path.data;
	rc = cli_call(cli, &call, reply);
	dynbuf_release(&path);
	return rc;
}

static int hosts_show(struct cli *cli, int argc, char **argv)
{
	const char *output = NULL;
	const struct cli_args_opt opts[] = {{"output", 'o', &output, NULL}, {NULL, 0, NULL, NULL}};
	enum cli_output_format fmt;
	struct cli_args_pos pos;
	json_t *reply;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_show);
	rc = cli_parse_args(cli, usage_show, opts, argc, argv, &pos, 1, 1);
	if (!rc)
		rc = cli_parse_output(cli, usage_show, output, &fmt);
	if (!rc)
		rc = host_call(cli, "GET", pos.v[0], "", NULL, 0, &reply);
	if (rc)
		return rc;
	if (fmt == CLI_OUTPUT_JSONL)
		rc = cli_finish(cli, cli_output_jsonl(cli->out, reply));
	else
		rc = cli_finish(cli, cli_output_kv(cli->out, reply));
	json_decref(reply);
	return rc;
}

static int hosts_remove(struct cli *cli, int argc, char **argv)
{
	const struct cli_args_opt opts[] = {{NULL, 0, NULL, NULL}};
	struct cli_args_pos pos;
	const char *id;
	json_t *reply;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_remove);
	rc = cli_parse_args(cli, usage_remove, opts, argc, argv, &pos, 1, 1);
	if (!rc)
		rc = host_call(cli, "DELETE", pos.v[0], "", NULL, 0, &reply);
	if (rc)
		return rc;
	id = json_string_value(json_object_get(reply, "removed"));
	fprintf(cli->out, "removed %s\n", id ? id : pos.v[0]);
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int hosts_move(struct cli *cli, int argc, char **argv)
{
	const struct cli_args_opt opts[] = {{NULL, 0, NULL, NULL}};
	struct cli_args_pos pos;
	const char *name, *group;
	json_t *body, *reply;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_move);
	rc = cli_parse_args(cli, usage_move, opts, argc, argv, &pos, 2, 2);
	if (rc)
		return rc;
	body = json_pack("{s:s}", "group", pos.v[1]);
	if (!body) {
		cli_error(cli, "out of memory");
		return CLI_EXIT_SERVER;
	}
	rc = host_call(cli, "POST", pos.v[0], "/move", body, 0, &reply);
	json_decref(body);
	if (rc)
		return rc;
	name = cli_json_get_string(reply, "host.name");
	group = cli_json_get_string(reply, "group");
	fprintf(cli->out, "moved %s to %s\n", name ? name : pos.v[0], group ? group : pos.v[1]);
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int ping_result(struct cli *cli, const char *host, long wait_s, const json_t *reply)
{
	const char *status = cli_json_get_string(reply, "status");
	struct dynbuf b;
	int rc;

	dynbuf_init(&b, CELL_CAP);
	if (status && !strcmp(status, "ok")) {
		rc = cli_json_format(json_object_get(reply, "rtt_ms"), &b);
		fprintf(cli->out, "pong from %s in %s ms\n", host, !rc && b.len ? b.data : "?");
		dynbuf_release(&b);
		return CLI_EXIT_OK;
	}
	if (cli_command_pending(reply)) {
		cli_error(cli, "ping %s: no answer within %ld s (command %s)", host, wait_s,
			  status ? status : "status unknown");
	} else {
		rc = cli_json_format(json_object_get(reply, "result"), &b);
		cli_error(cli, "ping %s: %s%s%s", host, status, !rc && b.len ? ": " : "",
			  !rc && b.len ? b.data : "");
	}
	dynbuf_release(&b);
	return CLI_EXIT_SERVER;
}

static int hosts_ping(struct cli *cli, int argc, char **argv)
{
	const char *timeout = NULL;
	const struct cli_args_opt opts[] = {{"timeout", 't', &timeout, NULL},
					    {NULL, 0, NULL, NULL}};
	struct cli_args_pos pos;
	long wait_s = PING_DEFAULT_S;
	json_t *reply;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_ping);
	rc = cli_parse_args(cli, usage_ping, opts, argc, argv, &pos, 1, 1);
	if (rc)
		return rc;
	rc = cli_parse_timeout(cli, usage_ping, timeout, PING_MAX_S, &wait_s);
	if (rc)
		return rc;
	rc = cli_host_command(cli, pos.v[0], "ping", NULL, NULL, wait_s, &reply);
	if (rc)
		return rc;
	rc = ping_result(cli, pos.v[0], wait_s, reply);
	json_decref(reply);
	return rc;
}

static const struct cli_cmd subs[] = {
    {"list", hosts_list}, {"show", hosts_show}, {"remove", hosts_remove},
    {"move", hosts_move}, {"ping", hosts_ping},
};

int cmd_hosts_run(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), usage_hosts, argc, argv);
}
