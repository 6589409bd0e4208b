/* mamori block hash / unblock hash / block list: file hashes whose execution agents deny
 * (/blocklist). docs/response.md. */
#include "cmd.h"

#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_http.h"
#include "cli_json.h"
#include "cli_output.h"
#include "dynbuf.h"

#include "banned.h"

static const char usage_block[] = "usage: mamori block hash SHA256 [--group G] [--reason TEXT]\n"
				  "       mamori block list [--output jsonl|table]\n";

static const char usage_block_hash[] =
    "usage: mamori block hash SHA256 [--group G] [--reason TEXT]\n"
    "\n"
    "Blocks execution of files with this SHA-256 on every host (or the hosts of group G),\n"
    "in detect mode and block mode alike. Agents pick the change up with their next heartbeat\n"
    "and deny the exec before the file runs, also when it is copied under another name, run\n"
    "from memory (memfd) or through the dynamic loader (ld.so FILE).\n"
    "  -g, --group G        only this group's hosts\n"
    "  -r, --reason TEXT    why, kept with the entry and in the audit log\n";

static const char usage_block_list[] =
    "usage: mamori block list [--output jsonl|table]\n"
    "\n"
    "Lists blocked hashes: SHA256 GROUP (- for all) CREATED BY REASON.\n"
    "  -o, --output FORMAT   jsonl or table\n";

static const char usage_unblock[] =
    "usage: mamori unblock hash SHA256 [--group G]\n"
    "\n"
    "Lifts a block (the one for group G, or the one for all hosts).\n"
    "  -g, --group G   the block of this group\n";

static bool is_sha256(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdefABCDEF") == 64;
}

static int block_hash(struct cli *cli, int argc, char **argv)
{
	const char *group = NULL, *reason = NULL;
	const struct cli_args_opt opts[] = {
	    {"group", 'g', &group, NULL}, {"reason", 'r', &reason, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "POST", .path = "/blocklist"};
	struct cli_args_pos pos;
	json_t *body, *reply;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_block_hash);
	rc = cli_parse_args(cli, usage_block_hash, opts, argc, argv, &pos, 1, 1);
	if (rc)
		return rc;
	if (!is_sha256(pos.v[0]))
		return cli_usage_error(cli, usage_block_hash, "SHA256 is 64 hex digits");
	body = json_pack("{s:s}", "sha256", pos.v[0]);
	if (body && group)
		json_object_set_new(body, "group", json_string(group));
	if (body && reason)
		json_object_set_new(body, "reason", json_string(reason));
	call.body = body;
	rc = body ? cli_call(cli, &call, &reply) : CLI_EXIT_SERVER;
	json_decref(body);
	if (rc)
		return rc;
	fprintf(cli->out, "blocked %s %s\n", pos.v[0], group ? group : "everywhere");
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int block_list(struct cli *cli, int argc, char **argv)
{
	static const struct cli_output_col cols[] = {{"SHA256", 0, "sha256", false},
						     {"GROUP", 0, "group", false},
						     {"CREATED", 0, "created_at", true},
						     {"BY", 0, "created_by", false},
						     {"REASON", 60, "reason", false}};
	const char *output = NULL;
	const struct cli_args_opt opts[] = {{"output", 'o', &output, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "GET", .path = "/blocklist"};
	enum cli_output_format fmt;
	struct cli_args_pos pos;
	json_t *reply, *arr;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_block_list);
	rc = cli_parse_args(cli, usage_block_list, opts, argc, argv, &pos, 0, 0);
	if (!rc)
		rc = cli_parse_output(cli, usage_block_list, output, &fmt);
	if (!rc)
		rc = cli_call(cli, &call, &reply);
	if (rc)
		return rc;
	arr = cli_reply_array(cli, reply, "blocklist");
	rc = arr ? cli_finish(cli, cli_output_list(cli->out, fmt, arr, cols, 5)) : CLI_EXIT_SERVER;
	json_decref(reply);
	return rc;
}

int cmd_block_run(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd subs[] = {{"hash", block_hash}, {"list", block_list}};

	return cli_dispatch(cli, subs, 2, usage_block, argc, argv);
}

static int unblock_hash(struct cli *cli, int argc, char **argv)
{
	const char *group = NULL;
	const struct cli_args_opt opts[] = {{"group", 'g', &group, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "DELETE"};
	struct cli_args_pos pos;
	struct dynbuf b;
	json_t *reply;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_unblock);
	rc = cli_parse_args(cli, usage_unblock, opts, argc, argv, &pos, 1, 1);
	if (rc)
		return rc;
	if (!is_sha256(pos.v[0]))
		return cli_usage_error(cli, usage_unblock, "SHA256 is 64 hex digits");
	dynbuf_init(&b, 2048);
	rc = dynbuf_adds(&b, "/blocklist/");
	if (!rc)
		rc = dynbuf_adds(&b, pos.v[0]);
	if (!rc && group)
		rc = dynbuf_adds(&b, "?group=");
	if (!rc && group)
		rc = cli_http_escape(&b, group);
	if (rc) {
		dynbuf_release(&b);
		return cli_request_too_long(cli, rc);
	}
	call.path = b.data;
	rc = cli_call(cli, &call, &reply);
	dynbuf_release(&b);
	if (rc)
		return rc;
	fprintf(cli->out, "unblocked %s %s\n", pos.v[0], group ? group : "everywhere");
	json_decref(reply);
	return CLI_EXIT_OK;
}

int cmd_unblock_run(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd subs[] = {{"hash", unblock_hash}};

	return cli_dispatch(cli, subs, 1, usage_unblock, argc, argv);
}
