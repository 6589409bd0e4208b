/* Command-line parsing for the mamori verbs: long and short options anywhere among the
 * positionals, "--" to end options, and the checks on times, durations and numbers that let a
 * bad argument fail locally with exit 2 instead of reaching the server. */
#ifndef MAMORI_CLI_ARGS_H
#define MAMORI_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* One option. Exactly one of value (takes an argument) and flag (takes none) is set. */
struct cli_args_opt {
	const char *name;   /* long name without "--" */
	char short_name;    /* 0 for none */
	const char **value; /* receives a pointer into argv; the last occurrence wins */
	bool *flag;	    /* set to true when present */
};

/* The positionals found by cli_args_parse; pointers borrowed from argv. */
#define CLI_ARGS_MAX_POS 256
struct cli_args_pos {
	const char *v[CLI_ARGS_MAX_POS];
	size_t n;
};

/* Parses argv[1..argc) (argv[0] is the command's name) against opts, ended by an entry with a
 * NULL name. Accepts "--name value", "--name=value", "-x value", "-xvalue" and "--". Returns 0,
 * or -EINVAL after printing "mamori: <cmd>: <problem>" to err. */
int cli_args_parse(const struct cli_args_opt *opts, int argc, char **argv, struct cli_args_pos *pos,
		   const char *cmd, FILE *err);

/* True for a time the API accepts: relative ("30s", "15m", "2h", "7d") or RFC 3339
 * ("2026-11-22T10:00:00Z", "2026-11-22T10:00:00.5+02:00"). */
bool cli_args_is_time(const char *s);

/* True for a relative duration only: digits then one of s, m, h, d. */
bool cli_args_is_duration(const char *s);

/* Parses a whole decimal number in [min, max]. Returns 0 or -EINVAL. */
int cli_args_parse_long(const char *s, long min, long max, long *out);

#endif
