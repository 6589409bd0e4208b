/* mamori rules check: loads rule directories offline, as the server would, and says precisely
 * what it could not load and why. */
#include "cmd.h"

#include <errno.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "detect.h"
#include "detect_files.h"

#include "banned.h"

static const char usage_rules[] = "usage: mamori rules check [--quiet] PATH...\n"
				  "\n"
				  "Commands:\n"
				  "  check   load Sigma rules (files or directories of *.yml) and report\n"
				  "          every problem; ends with 'loaded N of M rules'\n";

static const char usage_check[] =
    "usage: mamori rules check [--quiet] [--warnings] PATH...\n"
    "\n"
    "Loads every *.yml / *.yaml under each PATH as mamori-server would (Sigma rules, Sigma\n"
    "filters and correlation rules) and prints one line per rule it could not load:\n"
    "  FILE:LINE: TITLE: what is unsupported or malformed\n"
    "then 'loaded N of M rules'. Exit status 0 when every rule loaded, 1 otherwise.\n"
    "  -q, --quiet      only the final line\n"
    "  -w, --warnings   also print problems that did not stop a rule from loading\n";

struct check_ctx {
	struct cli *cli;
	bool quiet, warnings;
};

static void on_diag(void *ctx, const struct detect_diag *d)
{
	struct check_ctx *c = ctx;
	if (c->quiet || (!d->fatal && !c->warnings))
		return;
	fprintf(c->cli->out, "%s:%u: %s%s%s%s\n", d->path ? d->path : "?", d->line,
		d->fatal ? "" : "warning: ", d->rule ? d->rule : "", d->rule ? ": " : "",
		d->message);
}

static int cmd_check(struct cli *cli, int argc, char **argv)
{
	struct check_ctx c = {.cli = cli};
	const struct cli_args_opt opts[] = {{"quiet", 'q', NULL, &c.quiet},
					    {"warnings", 'w', NULL, &c.warnings},
					    {NULL, 0, NULL, NULL}};
	struct cli_args_pos pos;
	if (cli->help)
		return cli_help(cli, usage_check);
	int rc = cli_parse_args(cli, usage_check, opts, argc, argv, &pos, 1, CLI_ARGS_MAX_POS);
	if (rc)
		return rc;
	struct detect_engine *e = detect_engine_new();
	if (!e) {
		cli_error(cli, "out of memory");
		return CLI_EXIT_SERVER;
	}
	detect_engine_set_diag(e, on_diag, &c);
	rc = CLI_EXIT_OK;
	for (size_t i = 0; i < pos.n; i++) {
		int n = detect_files_load(e, pos.v[i]);
		if (n < 0) {
			cli_error(cli, "%s: %s", pos.v[i], strerror(-n));
			rc = CLI_EXIT_USAGE;
		}
	}
	int frc = detect_engine_finish(e);
	if (frc < 0) {
		cli_error(cli, "cannot build the rule set: %s", strerror(-frc));
		rc = CLI_EXIT_SERVER;
	}
	struct detect_stats st;
	detect_engine_stats(e, &st);
	unsigned loaded = st.documents - st.failed;
	if (!c.quiet)
		fprintf(cli->out,
			"%u detection rules, %u correlation rules, %u filters; %u prefilter "
			"literals, %u rules evaluated on every event\n",
			st.rules, st.correlations, st.filters, st.atoms, st.unfiltered);
	fprintf(cli->out, "loaded %u of %u rules\n", loaded, st.documents);
	if (rc == CLI_EXIT_OK && st.failed)
		rc = CLI_EXIT_SERVER;
	detect_engine_free(e);
	return rc;
}

int cmd_rules_run(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd subs[] = {{"check", cmd_check}};
	return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), usage_rules, argc, argv);
}
