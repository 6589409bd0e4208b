/* mamori isolate HOST / mamori release HOST: cut a host off the network but for the Mamori
 * servers (and what the analyst allows), and give it back (commands "isolate" and "release",
 * docs/response.md). */
#include "cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_json.h"

#include "banned.h"

#define WAIT_DEFAULT_S 60
#define WAIT_MAX_S 300
#define LIST_MAX 64

static const char usage_isolate[] =
    "usage: mamori isolate HOST [--allow LIST] [--dns LIST] [--server-address LIST]\n"
    "                      [--reason TEXT] [--timeout SECONDS | --no-wait]\n"
    "\n"
    "Isolates HOST: all its traffic is dropped (forwarded traffic included) except TCP to the\n"
    "Mamori server, DNS to the given resolvers, DHCP, IPv6 neighbour discovery and the\n"
    "allow-list. The agent then checks over a new connection that the server is still\n"
    "reachable and reverts by itself when it is not. The host stays isolated across agent\n"
    "restarts and reboots until 'mamori release'. LISTs are comma-separated.\n"
    "  -a, --allow LIST           addresses, networks (CIDR) or names (resolved by the agent\n"
    "                             when it applies) that stay reachable\n"
    "  -d, --dns LIST             resolvers (addresses) the host may still query\n"
    "  -s, --server-address LIST  the server's addresses as the host reaches them (default:\n"
    "                             the addresses of the host name in the agent's server URL)\n"
    "  -r, --reason TEXT          why, kept with the action and in the audit log\n"
    "  -t, --timeout SECONDS      how long to wait for the agent (1-300, default 60)\n"
    "      --no-wait              print the action id and return at once\n";

static const char usage_release[] =
    "usage: mamori release HOST [--reason TEXT] [--timeout SECONDS | --no-wait]\n"
    "\n"
    "Lifts the isolation of HOST. Releasing a host that is not isolated is not an error.\n"
    "  -r, --reason TEXT      why, kept with the action and in the audit log\n"
    "  -t, --timeout SECONDS  how long to wait for the agent (1-300, default 60)\n"
    "      --no-wait          print the action id and return at once\n";

/* "a,b,c" as a JSON array of non-empty strings; NULL when an item is empty or too many. */
static json_t *split_list(const char *s)
{
	json_t *a = json_array();
	const char *p = s, *q;

	while (a) {
		q = strchr(p, ',');
		if ((q ? (size_t)(q - p) : strlen(p)) == 0 || json_array_size(a) >= LIST_MAX) {
			json_decref(a);
			return NULL;
		}
		json_array_append_new(a, q ? json_stringn(p, (size_t)(q - p)) : json_string(p));
		if (!q)
			break;
		p = q + 1;
	}
	return a;
}

static void print_list(FILE *out, const char *label, const json_t *list)
{
	size_t i;
	const json_t *v;

	if (!json_array_size(list))
		return;
	fprintf(out, "  %s:", label);
	json_array_foreach(list, i, v) fprintf(out, "%s%s", i ? ", " : " ", json_string_value(v));
	fputc('\n', out);
}

static int result(struct cli *cli, const char *verb, const char *host, long wait_s,
		  const json_t *reply)
{
	int rc = cli_command_outcome(cli, verb, host, wait_s, reply);

	if (rc)
		return rc;
	if (!strcmp(verb, "release")) {
		fprintf(cli->out, "released %s%s\n", host,
			json_is_false(cli_json_get(reply, "result.was_isolated"))
			    ? " (it was not isolated)"
			    : "");
		return CLI_EXIT_OK;
	}
	fprintf(cli->out, "isolated %s (applied in %lld ms, self-test %lld ms)\n", host,
		(long long)json_integer_value(cli_json_get(reply, "result.apply_ms")),
		(long long)json_integer_value(cli_json_get(reply, "result.selftest_ms")));
	print_list(cli->out, "servers", cli_json_get(reply, "result.servers"));
	print_list(cli->out, "dns", cli_json_get(reply, "result.dns"));
	print_list(cli->out, "allowed", cli_json_get(reply, "result.allow"));
	return CLI_EXIT_OK;
}

static int run(struct cli *cli, int argc, char **argv, const char *verb, const char *usage)
{
	const char *allow = NULL, *dns = NULL, *servers = NULL, *reason = NULL, *timeout = NULL;
	bool no_wait = false, isolate = !strcmp(verb, "isolate");
	const struct cli_args_opt iso_opts[] = {{"allow", 'a', &allow, NULL},
						{"dns", 'd', &dns, NULL},
						{"server-address", 's', &servers, NULL},
						{"reason", 'r', &reason, NULL},
						{"timeout", 't', &timeout, NULL},
						{"no-wait", 0, NULL, &no_wait},
						{NULL, 0, NULL, NULL}};
	const struct cli_args_opt *opts = isolate ? iso_opts : iso_opts + 3;
	const char *const names[] = {"allow", "dns", "servers"};
	const char *values[] = {allow, dns, servers};
	struct cli_args_pos pos;
	long wait_s = WAIT_DEFAULT_S;
	json_t *args, *reply;
	int rc;

	if (cli->help)
		return cli_help(cli, usage);
	rc = cli_parse_args(cli, usage, opts, argc, argv, &pos, 1, 1);
	if (rc)
		return rc;
	rc = cli_parse_timeout(cli, usage, timeout, WAIT_MAX_S, &wait_s);
	if (rc)
		return rc;
	if (timeout && no_wait)
		return cli_usage_error(cli, usage, "--timeout and --no-wait exclude each other");
	if (no_wait)
		wait_s = 0;
	args = json_object();
	values[0] = allow;
	values[1] = dns;
	values[2] = servers;
	for (size_t i = 0; i < 3 && args; i++) {
		json_t *l;

		if (!values[i])
			continue;
		l = split_list(values[i]);
		if (!l) {
			json_decref(args);
			return cli_usage_error(cli, usage,
					       "--%s takes a comma-separated list of at most %d "
					       "non-empty items",
					       i == 2 ? "server-address" : names[i], LIST_MAX);
		}
		json_object_set_new(args, names[i], l);
	}
	rc = cli_host_command(cli, pos.v[0], verb, args, reason, wait_s, &reply);
	if (rc)
		return rc;
	if (no_wait) {
		fprintf(cli->out, "%s\n",
			cli_json_get_string(reply, "id") ? cli_json_get_string(reply, "id") : "?");
		rc = CLI_EXIT_OK;
	} else {
		rc = result(cli, verb, pos.v[0], wait_s, reply);
	}
	json_decref(reply);
	return rc;
}

int cmd_isolate_run(struct cli *cli, int argc, char **argv)
{
	return run(cli, argc, argv, "isolate", usage_isolate);
}

int cmd_release_run(struct cli *cli, int argc, char **argv)
{
	return run(cli, argc, argv, "release", usage_release);
}
