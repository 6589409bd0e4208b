/* The mamori command line: global options, dispatch to one command per verb group (cmd_*.c) and
 * the one place that turns an HTTP exchange into output or an error message and an exit status.
 * The CLI talks to mamori-server only through the REST API in docs/api.md. */
#ifndef MAMORI_CLI_H
#define MAMORI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "cli_output.h"

/* Exit statuses, the same for every command (docs/cli.md). */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_SERVER = 1,	  /* the server answered 4xx/5xx, or with something unusable */
	CLI_EXIT_USAGE = 2,	  /* bad arguments or configuration */
	CLI_EXIT_UNREACHABLE = 3, /* no answer: connection, TLS or timeout failure */
};

/* One run of the CLI. Strings are borrowed from argv/environ except url, which is owned. */
struct cli {
	char *url;	    /* base URL, no trailing '/' nor "/api/v1"; NULL if not configured */
	const char *token;  /* bearer token; NULL if not configured */
	const char *cacert; /* CA file that signs the server certificate; NULL: system CAs */
	FILE *in;
	FILE *out;
	FILE *err;
	bool help;     /* --help or -h appeared: the command prints its usage and succeeds */
	char name[64]; /* the command as typed so far, "events search", for messages */
};

/* A command or sub-command: argv[0] is its own name. Returns an enum cli_exit value. */
typedef int cli_cmd_fn(struct cli *cli, int argc, char **argv);

struct cli_cmd {
	const char *name;
	cli_cmd_fn *run;
};

/* One request to the API. Strings and body are borrowed for the call. */
struct cli_call {
	const char *method;	/* "GET", "POST" or "DELETE" */
	const char *path;	/* below /api/v1, escaped, with its query string: "/hosts?x=1" */
	const json_t *body;	/* JSON body, or NULL */
	long timeout_s;		/* whole-request timeout; 0 for the default */
	bool anonymous;		/* send no Authorization header (login) */
	const char *query_text; /* event query, shown with a caret under a reported position */
};

/* Runs the CLI on argv (argv[0] is the program name). Returns the process exit status. */
int cli_run(int argc, char **argv, FILE *in, FILE *out, FILE *err);

/* Sends call; on success *reply is the JSON object the server sent (caller owns it) and the
 * result is CLI_EXIT_OK. Otherwise the error is already printed and the result is the exit
 * status to return. */
int cli_call(struct cli *cli, const struct cli_call *call, json_t **reply);

/* Runs the sub-command named by argv[1] from subs (argv[0] is the group name), or prints the
 * group's usage: to out with exit 0 under --help, else to err with exit 2. */
int cli_dispatch(struct cli *cli, const struct cli_cmd *subs, size_t nsubs, const char *usage,
		 int argc, char **argv);

struct cli_args_opt;
struct cli_args_pos;

/* Parses a command's argv (argv[0] its name) against opts and checks that between min_pos and
 * max_pos positionals remain. Returns CLI_EXIT_OK, or CLI_EXIT_USAGE after printing the problem
 * and usage. */
int cli_parse_args(struct cli *cli, const char *usage, const struct cli_args_opt *opts, int argc,
		   char **argv, struct cli_args_pos *pos, size_t min_pos, size_t max_pos);

/* Parses an --output value (NULL: table) into *fmt. Returns CLI_EXIT_OK, or CLI_EXIT_USAGE
 * after printing the problem and usage. */
int cli_parse_output(struct cli *cli, const char *usage, const char *value,
		     enum cli_output_format *fmt);

/* Prints "mamori: cannot build the request: <why>" for a failed path or query build (rc is a
 * negative errno from dynbuf); returns CLI_EXIT_USAGE. */
int cli_request_too_long(struct cli *cli, int rc);

/* The array reply[key], or NULL after printing that the reply lacks it. Borrowed from reply. */
json_t *cli_reply_array(struct cli *cli, const json_t *reply, const char *key);

/* Turns the result of writing output (0 or a negative errno) into an exit status, printing
 * the problem if any. */
int cli_finish(struct cli *cli, int rc);

/* Seconds added to a command's wait for the HTTP request, so that the server's answer arrives
 * before curl gives up. */
#define CLI_COMMAND_SLACK_S 15

/* Queues a command of type with args (stolen; NULL for {}) and reason (NULL for none) for the
 * agent of host (POST /hosts/{h}/commands) and waits up to wait_s seconds for its result (0:
 * returns it queued). *reply is the COMMAND. Returns the exit status of the call. */
int cli_host_command(struct cli *cli, const char *host, const char *type, json_t *args,
		     const char *reason, long wait_s, json_t **reply);

/* True while the command in reply has no result yet (queued, delivered, or no status). */
bool cli_command_pending(const json_t *reply);

/* Parses --timeout: when value is set, a whole number of seconds from 1 to max_s into *out
 * (left as it is when value is NULL). CLI_EXIT_OK, or CLI_EXIT_USAGE after printing the
 * problem and usage. */
int cli_parse_timeout(struct cli *cli, const char *usage, const char *value, long max_s,
		      long *out);

/* Reads the JSON document in path ("-": stdin) into *doc (caller owns it). CLI_EXIT_OK, or
 * CLI_EXIT_USAGE after printing where it is malformed or why it cannot be read. */
int cli_read_json_file(struct cli *cli, const char *path, json_t **doc);

/* CLI_EXIT_OK when the command in reply ended "ok"; otherwise prints "VERB on HOST: ..." (no
 * result within wait_s, or the status and the agent's error) and returns CLI_EXIT_SERVER. */
int cli_command_outcome(struct cli *cli, const char *verb, const char *host, long wait_s,
			const json_t *reply);

/* A "list" verb's request and output: GETs base with the query parameters names[i]=values[i]
 * (NULL values left out) and prints the array under key of the reply as fmt with cols. Returns
 * the exit status. */
int cli_get_list(struct cli *cli, const char *base, const char *const *names,
		 const char *const *values, size_t n, const char *key, enum cli_output_format fmt,
		 const struct cli_output_col *cols, size_t ncols);

/* A "show ID" verb: parses argv (one positional, no option), GETs prefix + the escaped ID and
 * prints the reply as dotted 'name  value' lines. Returns the exit status. */
int cli_show(struct cli *cli, const char *usage, const char *prefix, int argc, char **argv);

/* Prints usage to out (the --help answer); returns CLI_EXIT_OK. */
int cli_help(struct cli *cli, const char *usage);

/* Prints "mamori: <message>" and the synopsis of usage to err; returns CLI_EXIT_USAGE. */
int cli_usage_error(struct cli *cli, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints "mamori: <message>" to err with control characters escaped. */
void cli_error(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
