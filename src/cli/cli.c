#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_args.h"
#include "cli_http.h"
#include "cli_output.h"
#include "cmd.h"
#include "dynbuf.h"

#include "banned.h"

#define MSG_CAP (64u << 10)

static const char usage_main[] =
    "usage: mamori [--url URL] [--token TOKEN] [--cacert FILE] <command> [<args>]\n"
    "       mamori --version | --help | help <command>\n"
    "\n"
    "Commands:\n"
    "  login     get a new API token for a user\n"
    "  tokens    enrollment tokens for agents (create)\n"
    "  hosts     enrolled hosts (list, show, remove, move, ping)\n"
    "  groups    host groups (create, list)\n"
    "  users     API and console users (create, list)\n"
    "  events    event search and process trees (search, tree)\n"
    "  audit     the audit log of changes (list)\n"
    "  stats     server counters\n"
    "  alerts    alerts raised by the server (list, show)\n"
    "  kill      kill a process (or a process tree) on a host\n"
    "  processes    the processes running on a host now\n"
    "  connections  a host's sockets now, with their processes\n"
    "  collect   fetch a file from a host (checked by SHA-256)\n"
    "  isolate   cut a host off the network but for the Mamori server\n"
    "  release   lift a host's isolation\n"
    "  quarantine  move a file on a host into its encrypted vault (or --list it)\n"
    "  restore   put a quarantined file back\n"
    "  remove-persistence  remove a cron entry, unit, key or start-up line (backed up)\n"
    "  block     deny execution of a file hash on hosts (hash, list)\n"
    "  unblock   lift a block (hash)\n"
    "  policy    a group's policy: mode, automatic responses, exclusions\n"
    "  notify    alert notifications: routes, deliveries, test (routes, list, test)\n"
    "  actions   response actions sent to hosts, with their results (list, show)\n"
    "  rules     check Sigma rule files offline (check)\n"
    "  scan      match rules against log files offline, no server needed\n"
    "\n"
    "Options (anywhere before \"--\"; they override the environment):\n"
    "  --url URL       server, e.g. https://127.0.0.1:8443          [MAMORI_URL]\n"
    "  --token TOKEN   API token                                    [MAMORI_TOKEN]\n"
    "  --cacert FILE   CA that signs the server's certificate       [MAMORI_CACERT]\n"
    "                  (default: the system CAs)\n"
    "  -h, --help      usage of mamori or of the command it follows\n"
    "\n"
    "Exit status: 0 success, 1 the server refused or failed, 2 usage or configuration error,\n"
    "3 the server could not be reached. See docs/cli.md.\n";

static const struct cli_cmd commands[] = {
    {"login", cmd_login_run},
    {"tokens", cmd_tokens_run},
    {"hosts", cmd_hosts_run},
    {"groups", cmd_groups_run},
    {"users", cmd_users_run},
    {"events", cmd_events_run},
    {"audit", cmd_audit_run},
    {"stats", cmd_stats_run},
    {"rules", cmd_rules_run},
    {"alerts", cmd_alerts_run},
    {"kill", cmd_kill_run},
    {"actions", cmd_actions_run},
    {"processes", cmd_processes_run},
    {"connections", cmd_connections_run},
    {"collect", cmd_collect_run},
    {"scan", cmd_scan_run},
    {"isolate", cmd_isolate_run},
    {"release", cmd_release_run},
    {"block", cmd_block_run},
    {"unblock", cmd_unblock_run},
    {"policy", cmd_policy_run},
    {"quarantine", cmd_quarantine_run},
    {"restore", cmd_restore_run},
    {"notify", cmd_notify_run},
    {"remove-persistence", cmd_persistence_run},
};

static __attribute__((format(printf, 2, 0))) void vreport(FILE *f, const char *fmt, va_list ap)
{
	struct dynbuf b;
	char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0) {
		fputs("mamori: out of memory\n", f);
		return;
	}
	dynbuf_init(&b, MSG_CAP);
	if (cli_output_sanitize(&b, msg, 0, NULL) == 0 && b.data)
		fprintf(f, "mamori: %s\n", b.data);
	else
		fprintf(f, "mamori: %s\n", "(unprintable message)");
	dynbuf_release(&b);
	free(msg);
}

void cli_error(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cli->err, fmt, ap);
	va_end(ap);
}

int cli_help(struct cli *cli, const char *usage)
{
	fputs(usage, cli->out);
	return CLI_EXIT_OK;
}

/* The synopsis is the usage text up to its first empty line; --help shows the rest. */
static void print_synopsis(struct cli *cli, const char *usage)
{
	const char *end = strstr(usage, "\n\n");
	size_t n = end ? (size_t)(end - usage) + 1 : strlen(usage);

	fwrite(usage, 1, n, cli->err);
	if (end)
		fprintf(cli->err, "Run 'mamori %s%s--help' for more.\n", cli->name,
			cli->name[0] ? " " : "");
}

int cli_usage_error(struct cli *cli, const char *usage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cli->err, fmt, ap);
	va_end(ap);
	print_synopsis(cli, usage);
	return CLI_EXIT_USAGE;
}

static void name_push(struct cli *cli, const char *word)
{
	size_t n = strlen(cli->name);

	(void)snprintf(cli->name + n, sizeof(cli->name) - n, "%s%s", n ? " " : "", word);
}

int cli_dispatch(struct cli *cli, const struct cli_cmd *subs, size_t nsubs, const char *usage,
		 int argc, char **argv)
{
	if (argc < 2) {
		if (cli->help)
			return cli_help(cli, usage);
		return cli_usage_error(cli, usage, "%s: missing command", cli->name);
	}
	for (size_t i = 0; i < nsubs; i++) {
		if (!strcmp(argv[1], subs[i].name)) {
			name_push(cli, subs[i].name);
			return subs[i].run(cli, argc - 1, argv + 1);
		}
	}
	if (cli->help && argv[1][0] == '-')
		return cli_help(cli, usage);
	return cli_usage_error(cli, usage, "%s: unknown command '%s'", cli->name, argv[1]);
}

int cli_parse_args(struct cli *cli, const char *usage, const struct cli_args_opt *opts, int argc,
		   char **argv, struct cli_args_pos *pos, size_t min_pos, size_t max_pos)
{
	if (cli_args_parse(opts, argc, argv, pos, cli->name, cli->err)) {
		print_synopsis(cli, usage);
		return CLI_EXIT_USAGE;
	}
	if (pos->n < min_pos)
		return cli_usage_error(cli, usage, "%s: missing argument", cli->name);
	if (pos->n > max_pos)
		return cli_usage_error(cli, usage, "%s: unexpected argument '%s'", cli->name,
				       pos->v[max_pos]);
	return CLI_EXIT_OK;
}

int cli_parse_output(struct cli *cli, const char *usage, const char *value,
		     enum cli_output_format *fmt)
{
	*fmt = CLI_OUTPUT_TABLE;
	if (value && cli_output_format_parse(value, fmt))
		return cli_usage_error(cli, usage, "--output must be jsonl or table, not '%s'",
				       value);
	return CLI_EXIT_OK;
}

int cli_request_too_long(struct cli *cli, int rc)
{
	cli_error(cli, "cannot build the request: %s",
		  rc == -ENOSPC ? "arguments too long" : strerror(-rc));
	return CLI_EXIT_USAGE;
}

json_t *cli_reply_array(struct cli *cli, const json_t *reply, const char *key)
{
	json_t *a = json_object_get(reply, key);

	if (!json_is_array(a))
		cli_error(cli, "unusable reply from the server: no '%s' list", key);
	return json_is_array(a) ? a : NULL;
}

int cli_host_command(struct cli *cli, const char *host, const char *type, json_t *args,
		     const char *reason, long wait_s, json_t **reply)
{
	json_t *body = json_pack("{s:s,s:o,s:I}", "type", type, "args", args ? args : json_object(),
				 "wait", (json_int_t)wait_s);
	struct cli_call call = {
	    .method = "POST", .body = body, .timeout_s = wait_s + CLI_COMMAND_SLACK_S};
	struct dynbuf path;
	int rc;

	*reply = NULL;
	if (body && reason)
		json_object_set_new(body, "reason", json_string(reason));
	if (!body) {
		cli_error(cli, "out of memory");
		return CLI_EXIT_SERVER;
	}
	dynbuf_init(&path, 4096);
	rc = cli_http_path(&path, "/hosts/", host, "/commands");
	if (rc) {
		json_decref(body);
		dynbuf_release(&path);
		return cli_request_too_long(cli, rc);
	}
	call.path = path.data;
	rc = cli_call(cli, &call, reply);
	json_decref(body);
	dynbuf_release(&path);
	return rc;
}

bool cli_command_pending(const json_t *reply)
{
	const char *st = json_string_value(json_object_get(reply, "status"));

	return !st || !strcmp(st, "queued") || !strcmp(st, "delivered");
}

int cli_parse_timeout(struct cli *cli, const char *usage, const char *value, long max_s, long *out)
{
	if (value && cli_args_parse_long(value, 1, max_s, out))
		return cli_usage_error(
		    cli, usage, "--timeout must be a whole number of seconds from 1 to %ld", max_s);
	return CLI_EXIT_OK;
}

int cli_read_json_file(struct cli *cli, const char *path, json_t **doc)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : cli->in;
	json_error_t je;

	*doc = NULL;
	if (!f) {
		cli_error(cli, "%s: %s", path, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	*doc = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
	if (f != cli->in)
		fclose(f);
	if (!*doc) {
		cli_error(cli, "%s:%d:%d: %s", path, je.line, je.column, je.text);
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

int cli_command_outcome(struct cli *cli, const char *verb, const char *host, long wait_s,
			const json_t *reply)
{
	const char *status = json_string_value(json_object_get(reply, "status"));
	const char *id = json_string_value(json_object_get(reply, "id"));
	const char *err =
	    json_string_value(json_object_get(json_object_get(reply, "result"), "error"));

	if (cli_command_pending(reply)) {
		cli_error(cli, "%s on %s: no result within %ld s (action %s, %s)", verb, host,
			  wait_s, id ? id : "?", status ? status : "?");
		return CLI_EXIT_SERVER;
	}
	if (strcmp(status, "ok")) {
		cli_error(cli, "%s on %s: %s%s%s", verb, host, status, err ? ": " : "",
			  err ? err : "");
		return CLI_EXIT_SERVER;
	}
	return CLI_EXIT_OK;
}

int cli_get_list(struct cli *cli, const char *base, const char *const *names,
		 const char *const *values, size_t n, const char *key, enum cli_output_format fmt,
		 const struct cli_output_col *cols, size_t ncols)
{
	struct cli_call call = {.method = "GET"};
	struct dynbuf path;
	json_t *reply, *list;
	int rc;

	dynbuf_init(&path, 4096);
	rc = dynbuf_adds(&path, base);
	for (size_t i = 0; i < n && !rc; i++)
		if (values[i])
			rc = cli_http_query_add(&path, names[i], values[i]);
	if (rc) {
		dynbuf_release(&path);
		return cli_request_too_long(cli, rc);
	}
	call.path = path.data;
	rc = cli_call(cli, &call, &reply);
	dynbuf_release(&path);
	if (rc)
		return rc;
	list = cli_reply_array(cli, reply, key);
	rc = list ? cli_finish(cli, cli_output_list(cli->out, fmt, list, cols, ncols))
		  : CLI_EXIT_SERVER;
	json_decref(reply);
	return rc;
}

int cli_show(struct cli *cli, const char *usage, const char *prefix, int argc, char **argv)
{
	const struct cli_args_opt opts[] = {{NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "GET"};
	struct cli_args_pos pos;
	struct dynbuf path;
	json_t *reply;
	int rc;

	if (cli->help)
		return cli_help(cli, usage);
	rc = cli_parse_args(cli, usage, opts, argc, argv, &pos, 1, 1);
	if (rc)
		return rc;
	dynbuf_init(&path, 4096);
	rc = cli_http_path(&path, prefix, pos.v[0], "");
	if (rc) {
		dynbuf_release(&path);
		return cli_request_too_long(cli, rc);
	}
	call.path = path.data;
	rc = cli_call(cli, &call, &reply);
	dynbuf_release(&path);
	if (rc)
		return rc;
	rc = cli_finish(cli, cli_output_kv(cli->out, reply));
	json_decref(reply);
	return rc;
}

int cli_finish(struct cli *cli, int rc)
{
	if (!rc)
		return CLI_EXIT_OK;
	cli_error(cli, "cannot write the output: %s", strerror(-rc));
	return CLI_EXIT_SERVER;
}

/* Takes the base URL without trailing slashes or "/api/v1", which people paste from the docs. */
static char *normalize_url(const char *s)
{
	size_t n = strlen(s);
	char *url;

	while (n && s[n - 1] == '/')
		n--;
	if (n >= 7 && !memcmp(s + n - 7, "/api/v1", 7))
		n -= 7;
	while (n && s[n - 1] == '/')
		n--;
	url = strndup(s, n);
	return url;
}

static bool token_is_clean(const char *t)
{
	for (; *t; t++)
		if ((unsigned char)*t <= ' ' || (unsigned char)*t == 0x7f)
			return false;
	return true;
}

static int check_config(struct cli *cli, bool need_token)
{
	static bool warned;
	bool cleartext = false;

	if (!cli->url) {
		cli_error(cli, "no server URL: set MAMORI_URL or pass --url "
			       "(e.g. https://127.0.0.1:8443)");
		return CLI_EXIT_USAGE;
	}
	if (cli_http_url_check(cli->url, &cleartext)) {
		cli_error(cli, "invalid server URL '%s': expected https://host:port", cli->url);
		return CLI_EXIT_USAGE;
	}
	if (cleartext && !warned) {
		cli_error(cli,
			  "warning: %s is plain HTTP to a remote host; the token travels in clear "
			  "text",
			  cli->url);
		warned = true;
	}
	if (need_token && !cli->token) {
		cli_error(cli, "no API token: set MAMORI_TOKEN, pass --token, or get one with "
			       "'mamori login'");
		return CLI_EXIT_USAGE;
	}
	if (need_token && !token_is_clean(cli->token)) {
		cli_error(cli, "the API token contains spaces or control characters");
		return CLI_EXIT_USAGE;
	}
	if (cli->cacert && access(cli->cacert, R_OK)) {
		cli_error(cli, "cannot read CA file '%s': %s", cli->cacert, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

/* Shows where in the query the server stopped: the query, then a caret under byte pos (counted
 * in displayed columns, so escapes and multi-byte characters before it keep it aligned). */
static void print_caret(struct cli *cli, const char *query, json_int_t pos)
{
	size_t len = strlen(query), at, col = 0;
	struct dynbuf shown, prefix;
	char *head;

	if (pos < 0)
		return;
	at = (size_t)pos > len ? len : (size_t)pos;
	while (at > 0 && at < len && ((unsigned char)query[at] & 0xc0) == 0x80)
		at--;
	dynbuf_init(&shown, MSG_CAP);
	dynbuf_init(&prefix, MSG_CAP);
	head = strndup(query, at);
	if (head && !cli_output_sanitize(&shown, query, 0, NULL) &&
	    !cli_output_sanitize(&prefix, head, 0, &col))
		fprintf(cli->err, "  %s\n  %*s^\n", shown.data ? shown.data : "", (int)col, "");
	free(head);
	dynbuf_release(&prefix);
	dynbuf_release(&shown);
}

static int report_transport(struct cli *cli, int rc, const struct cli_http_reply *r)
{
	switch (rc) {
	case -EHOSTUNREACH:
		cli_error(cli, "cannot reach %s: %s", cli->url, r->error);
		return CLI_EXIT_UNREACHABLE;
	case -EINVAL:
		cli_error(cli, "%s", r->error[0] ? r->error : "invalid request");
		return CLI_EXIT_USAGE;
	default:
		cli_error(cli, "%s", r->error[0] ? r->error : strerror(-rc));
		return CLI_EXIT_SERVER;
	}
}

int cli_call(struct cli *cli, const struct cli_call *call, json_t **reply)
{
	struct cli_http_conf conf = {.base_url = cli->url,
				     .token = call->anonymous ? NULL : cli->token,
				     .cacert = cli->cacert,
				     .timeout_s = call->timeout_s};
	struct cli_http_reply r;
	const char *msg;
	json_t *pos;
	int rc;

	*reply = NULL;
	rc = check_config(cli, !call->anonymous);
	if (rc)
		return rc;
	rc = cli_http_request(&conf, call->method, call->path, call->body, &r);
	if (rc) {
		rc = report_transport(cli, rc, &r);
		goto out;
	}
	if (r.status < 200 || r.status > 299) {
		msg = json_string_value(json_object_get(r.json, "error"));
		if (msg)
			cli_error(cli, "%s", msg);
		else
			cli_error(cli, "server answered HTTP %ld to %s %s", r.status, call->method,
				  call->path);
		pos = json_object_get(r.json, "position");
		if (call->query_text && json_is_integer(pos))
			print_caret(cli, call->query_text, json_integer_value(pos));
		rc = CLI_EXIT_SERVER;
		goto out;
	}
	if (r.empty) {
		*reply = json_object();
		rc = *reply ? CLI_EXIT_OK : CLI_EXIT_SERVER;
		goto out;
	}
	if (!json_is_object(r.json)) {
		cli_error(cli, "unusable reply from the server: %s",
			  r.json ? "not a JSON object" : r.error);
		rc = CLI_EXIT_SERVER;
		goto out;
	}
	*reply = r.json;
	r.json = NULL;
out:
	cli_http_reply_release(&r);
	return rc;
}

static bool is_global(const char *a, const char *name, const char **value, int *consumed,
		      char **argv, int i, int argc)
{
	size_t n = strlen(name);

	if (strncmp(a, name, n) != 0)
		return false;
	if (a[n] == '=') {
		*value = a + n + 1;
		*consumed = 1;
		return true;
	}
	if (a[n])
		return false;
	*value = i + 1 < argc ? argv[i + 1] : NULL;
	*consumed = 2;
	return true;
}

/* Removes the global options from anywhere before "--" so every command sees only its own.
 * Returns the number of arguments left in rest, or -1 after a usage error. */
static int strip_globals(struct cli *cli, int argc, char **argv, char **rest, const char **url)
{
	static const char *const names[] = {"--url", "--token", "--cacert"};
	const char **dest[] = {url, &cli->token, &cli->cacert};
	bool dashdash = false;
	int n = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		int used = 0;
		size_t k;

		if (dashdash) {
			rest[n++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			dashdash = true;
			rest[n++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			cli->help = true;
			continue;
		}
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (is_global(a, names[k], &v, &used, argv, i, argc))
				break;
		if (k == sizeof(names) / sizeof(names[0])) {
			rest[n++] = argv[i];
			continue;
		}
		if (!v || !v[0]) {
			cli_usage_error(cli, usage_main, "option '%s' needs a value", names[k]);
			return -1;
		}
		*dest[k] = v;
		i += used - 1;
	}
	rest[n] = NULL;
	return n;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] ? v : NULL;
}

static int run(struct cli *cli, int argc, char **argv)
{
	if (argc == 0) {
		if (cli->help)
			return cli_help(cli, usage_main);
		print_synopsis(cli, usage_main);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[0], "--version") || !strcmp(argv[0], "version")) {
		fprintf(cli->out, "mamori %s\n", MAMORI_VERSION);
		return CLI_EXIT_OK;
	}
	if (!strcmp(argv[0], "help")) {
		cli->help = true;
		return run(cli, argc - 1, argv + 1);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[0], commands[i].name)) {
			name_push(cli, commands[i].name);
			return commands[i].run(cli, argc, argv);
		}
	}
	if (argv[0][0] == '-')
		return cli_usage_error(cli, usage_main, "unknown option '%s'", argv[0]);
	return cli_usage_error(cli, usage_main, "unknown command '%s'", argv[0]);
}

int cli_run(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
	struct cli cli = {.in = in, .out = out, .err = err};
	const char *url = NULL;
	char **rest;
	int n, rc;

	rest = calloc((size_t)argc + 1, sizeof(*rest));
	if (!rest) {
		fputs("mamori: out of memory\n", err);
		return CLI_EXIT_SERVER;
	}
	n = strip_globals(&cli, argc, argv, rest, &url);
	if (n < 0) {
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	url = url ? url : env("MAMORI_URL");
	cli.token = cli.token ? cli.token : env("MAMORI_TOKEN");
	cli.cacert = cli.cacert ? cli.cacert : env("MAMORI_CACERT");
	if (url && !(cli.url = normalize_url(url))) {
		fputs("mamori: out of memory\n", err);
		rc = CLI_EXIT_SERVER;
		goto out;
	}
	rc = run(&cli, n, rest);
	if (fflush(out) || ferror(out)) {
		fprintf(err, "mamori: cannot write the output: %s\n", strerror(errno));
		rc = rc ? rc : CLI_EXIT_SERVER;
	}
out:
	free(cli.url);
	free(rest);
	return rc;
}
