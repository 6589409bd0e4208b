/* mamori scan: runs the detection engine over log files offline, with no server (as Hayabusa or
 * Chainsaw do for Windows event logs): ECS JSON lines (what mamori-agent and `mamori events
 * search -o jsonl` write) and raw auditd logs, matches to stdout, a summary to stderr. */
#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_output.h"
#include "detect.h"
#include "detect_alert.h"
#include "detect_files.h"
#include "dynbuf.h"
#include "event_json.h"
#include "file_read.h"
#include "ioc.h"
#include "scan_pipe.h"

#include "banned.h"

static const char usage_scan[] =
    "usage: mamori scan --rules PATH [--iocs PATH] [--output jsonl|table] [--min-level LEVEL]\n"
    "                   [--no-behaviour] [--threads N] FILE...\n"
    "\n"
    "Matches Sigma rules against log files without a server. Each line of each FILE ('-' for\n"
    "standard input) is an ECS JSON event or a raw auditd record (type=... msg=audit(...)).\n"
    "Matches go to standard output, one per line; a summary with counts and speed goes to\n"
    "standard error (with a progress line while scanning on a terminal).\n"
    "  -r, --rules PATH        rule file or directory (required unless --iocs)\n"
    "  -i, --iocs PATH         indicator list file or directory (docs/indicators.md)\n"
    "  -B, --no-behaviour      leave out the built-in behaviour detections\n"
    "  -o, --output FORMAT     jsonl (alert documents) or table (default)\n"
    "  -l, --min-level LEVEL   report only matches at or above informational, low, medium,\n"
    "                          high or critical (default: all)\n"
    "  -j, --threads N         1 parses and matches on one thread; N from 2 to 8 parses and\n"
    "                          matches rules on N worker threads while the first thread keeps\n"
    "                          what depends on event order (correlations, behaviour, output)\n"
    "                          (default: the CPUs this process may use, at most 8); the\n"
    "                          output is the same\n"
    "  -q, --quiet             no summary\n";

struct rule_count {
	const struct detect_rule_meta *rule;
	uint64_t n;
};

struct scan {
	struct cli *cli;
	struct detect_engine *e;
	struct detect_ctx *ctx;
	enum cli_output_format fmt;
	int min_level;
	bool quiet, progress;
	const char *file;
	uint64_t line_no;
	const char *line;
	size_t line_len;
	bool line_is_json;
	uint64_t lines, events, malformed, matches, bytes;
	struct ioc_set *iocs;
	const struct ioc_hit *ioc; /* during an indicator hit */
	struct rule_count *counts;
	size_t ncounts;
	double start, last_progress;
	int out_err;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void count_rule(struct scan *s, const struct detect_rule_meta *r)
{
	for (size_t i = 0; i < s->ncounts; i++)
		if (s->counts[i].rule == r) {
			s->counts[i].n++;
			return;
		}
	struct rule_count *c = realloc(s->counts, (s->ncounts + 1) * sizeof(*c));
	if (!c)
		return;
	s->counts = c;
	c[s->ncounts].rule = r;
	c[s->ncounts++].n = 1;
}

static json_t *line_event(struct scan *s)
{
	if (s->line_is_json) {
		json_error_t jerr;
		json_t *ev = json_loadb(s->line, s->line_len, JSON_REJECT_DUPLICATES, &jerr);
		if (json_is_object(ev))
			return ev;
		json_decref(ev);
	}
	json_t *ev = json_object();
	if (ev)
		json_object_set_new(ev, "message", json_stringn(s->line, s->line_len));
	return ev;
}

static void print_table(struct scan *s, const struct detect_hit *hit, json_t *alert)
{
	const char *ts = json_string_value(detect_json_path(alert, "@timestamp"));
	const char *what = json_string_value(detect_json_path(alert, "process.command_line"));
	if (!what)
		what = json_string_value(detect_json_path(alert, "file.path"));
	if (!what)
		what = json_string_value(detect_json_path(alert, "process.executable"));
	struct dynbuf b;
	dynbuf_init(&b, 4096);
	char loc[64];
	snprintf(loc, sizeof(loc), ":%llu", (unsigned long long)s->line_no);
	dynbuf_printf(&b, "%-30s %-8s %s  %s%s", ts ? ts : "-",
		      detect_severity_name(hit->rule->severity), hit->rule->title, s->file, loc);
	if (hit->group)
		dynbuf_printf(&b, "  [%s count=%llu]", hit->group, (unsigned long long)hit->count);
	if (what)
		dynbuf_printf(&b, "  %.200s", what);
	struct dynbuf clean;
	dynbuf_init(&clean, 16384);
	if (b.data && cli_output_sanitize(&clean, b.data, 0, NULL) == 0 && clean.data)
		fprintf(s->cli->out, "%s\n", clean.data);
	dynbuf_release(&clean);
	dynbuf_release(&b);
}

static int on_hit(void *ctx, const struct detect_hit *hit)
{
	struct scan *s = ctx;
	if ((int)hit->rule->severity < s->min_level)
		return 0;
	s->matches++;
	count_rule(s, hit->rule);
	json_t *ev = line_event(s);
	json_t *alert = ev ? detect_alert_new(hit, ev, wall_ns()) : NULL;
	json_decref(ev);
	if (!alert) {
		s->out_err = -ENOMEM;
		return 1;
	}
	json_t *sc = json_object();
	json_object_set_new(sc, "file", json_string(strcmp(s->file, "-") ? s->file : "(stdin)"));
	json_object_set_new(sc, "line", json_integer((json_int_t)s->line_no));
	json_t *m = json_object_get(alert, "mamori");
	if (m) {
		json_object_set_new(m, "scan", sc);
		if (s->ioc)
			json_object_set_new(m, "indicator",
					    json_pack("{s:s,s:s,s:s%}", "list", s->ioc->ioc->list,
						      "field", s->ioc->field, "value", s->ioc->value,
						      s->ioc->value_len));
	} else {
		json_decref(sc);
	}
	if (s->fmt == CLI_OUTPUT_JSONL) {
		if (json_dumpf(alert, s->cli->out, JSON_COMPACT) < 0 || fputc('\n', s->cli->out) == EOF)
			s->out_err = -EIO;
	} else {
		print_table(s, hit, alert);
	}
	json_decref(alert);
	return s->out_err ? 1 : 0;
}

static int on_ioc(void *ctx, const struct ioc_hit *ih, struct detect_doc *doc)
{
	struct scan *s = ctx;
	struct detect_hit hit = {.rule = ih->rule, .doc = doc};
	s->ioc = ih;
	int rc = on_hit(s, &hit);
	s->ioc = NULL;
	return rc;
}

static void on_ioc_diag(void *ctx, const struct detect_diag *d)
{
	struct scan *s = ctx;
	cli_error(s->cli, "%s:%u: %s", d->path ? d->path : "?", d->line, d->message);
}

static void progress(struct scan *s, bool final)
{
	if (!s->progress)
		return;
	double t = now_s();
	if (!final && t - s->last_progress < 0.25)
		return;
	s->last_progress = t;
	double el = t - s->start > 1e-9 ? t - s->start : 1e-9;
	if (final)
		fputs("\r\033[K", s->cli->err);
	else
		fprintf(s->cli->err, "\r\033[K%s: %llu events, %.1f MB/s, %llu matches", s->file,
			(unsigned long long)s->events, (double)s->bytes / el / 1e6,
			(unsigned long long)s->matches);
	fflush(s->cli->err);
}

/* The CPUs this process may run on (its affinity mask, which container runtimes and taskset
 * narrow), else the CPUs online. */
static long usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	return sysconf(_SC_NPROCESSORS_ONLN);
}

/* The order-free half of matching, on the thread that parsed the line: which rules match it. */
static void select_line(void *state, struct scan_pipe_line *l)
{
	if (l->kind == SCAN_PIPE_LINE_EVENT)
		l->nsel = detect_ctx_select(state, l->doc, l->sel, SCAN_PIPE_SEL);
}

/* Everything after parsing, on the main thread and in file order: correlation and behaviour
 * state and the output depend on the order of events. */
static int scan_line(void *ctx, const struct scan_pipe_line *l)
{
	struct scan *s = ctx;
	s->lines++;
	s->line_no = l->line_no;
	switch (l->kind) {
	case SCAN_PIPE_LINE_BLANK:
		break;
	case SCAN_PIPE_LINE_TOO_LONG:
		if (s->malformed++ < 10)
			cli_error(s->cli, "%s:%llu: skipped: line longer than %u bytes", s->file,
				  (unsigned long long)s->line_no, SCAN_PIPE_MAX_LINE);
		break;
	case SCAN_PIPE_LINE_BAD:
		if (s->malformed++ < 10)
			cli_error(s->cli, "%s:%llu: skipped: %s", s->file,
				  (unsigned long long)s->line_no, l->err);
		break;
	case SCAN_PIPE_LINE_EVENT:
		s->events++;
		s->line = l->line;
		s->line_len = l->len;
		s->line_is_json = l->is_json;
		if (l->nsel >= 0)
			detect_ctx_emit(s->ctx, l->doc, l->sel, (unsigned)l->nsel, on_hit, s);
		else /* more rules matched than the line has room for */
			detect_ctx_match_doc(s->ctx, l->doc, on_hit, s);
		if (s->iocs)
			ioc_set_match(s->iocs, l->doc, on_ioc, s);
		if ((s->lines & 0xffff) == 0)
			progress(s, false);
		break;
	}
	s->bytes += l->bytes;
	return s->out_err ? 1 : 0;
}

static int cmp_count(const void *a, const void *b)
{
	const struct rule_count *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->rule->title, y->rule->title);
}

static void summary(struct scan *s, size_t nfiles, const struct detect_stats *st)
{
	double el = now_s() - s->start;
	if (el < 1e-9)
		el = 1e-9;
	fprintf(s->cli->err,
		"scanned %llu events (%llu lines, %.1f MB) from %zu file%s in %.2f s: %.0f events/s, "
		"%.1f MB/s; %llu malformed lines\n",
		(unsigned long long)s->events, (unsigned long long)s->lines, (double)s->bytes / 1e6,
		nfiles, nfiles == 1 ? "" : "s", el, (double)s->events / el,
		(double)s->bytes / el / 1e6, (unsigned long long)s->malformed);
	fprintf(s->cli->err, "%u rules loaded (%u not loaded); %llu matches by %zu rules\n",
		st->rules + st->correlations, st->failed, (unsigned long long)s->matches,
		s->ncounts);
	if (s->ncounts)
		qsort(s->counts, s->ncounts, sizeof(*s->counts), cmp_count);
	for (size_t i = 0; i < s->ncounts; i++)
		fprintf(s->cli->err, "  %8llu  %-8s  %s\n", (unsigned long long)s->counts[i].n,
			detect_severity_name(s->counts[i].rule->severity), s->counts[i].rule->title);
}

static void on_load_diag(void *ctx, const struct detect_diag *d)
{
	unsigned *failed = ctx;
	if (d->fatal)
		(*failed)++;
}

int cmd_scan_run(struct cli *cli, int argc, char **argv)
{
	const char *rules = NULL, *output = NULL, *level = NULL, *iocs = NULL, *threads = NULL;
	bool no_behaviour = false;
	long nthreads = usable_cpus();
	struct scan_pipe *sp = NULL;
	struct detect_ctx *wctx[SCAN_PIPE_MAX_THREADS] = {NULL};
	struct scan s = {.cli = cli, .min_level = 0};
	const struct cli_args_opt opts[] = {{"rules", 'r', &rules, NULL},
					    {"output", 'o', &output, NULL},
					    {"min-level", 'l', &level, NULL},
					    {"quiet", 'q', NULL, &s.quiet},
					    {"iocs", 'i', &iocs, NULL},
					    {"no-behaviour", 'B', NULL, &no_behaviour},
					    {"threads", 'j', &threads, NULL},
					    {NULL, 0, NULL, NULL}};
	struct cli_args_pos pos;
	if (cli->help)
		return cli_help(cli, usage_scan);
	int rc = cli_parse_args(cli, usage_scan, opts, argc, argv, &pos, 1, CLI_ARGS_MAX_POS);
	if (!rc)
		rc = cli_parse_output(cli, usage_scan, output, &s.fmt);
	if (rc)
		return rc;
	if (!rules && !iocs)
		return cli_usage_error(cli, usage_scan, "scan: --rules or --iocs is required");
	if (level && (s.min_level = detect_severity_parse(level)) < 0)
		return cli_usage_error(cli, usage_scan, "scan: unknown level '%s'", level);
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > (long)SCAN_PIPE_MAX_THREADS)
		nthreads = SCAN_PIPE_MAX_THREADS;
	if (threads && cli_args_parse_long(threads, 1, SCAN_PIPE_MAX_THREADS, &nthreads) < 0)
		return cli_usage_error(cli, usage_scan,
				       "scan: --threads must be a number from 1 to %u, not '%s'",
				       SCAN_PIPE_MAX_THREADS, threads);
	s.e = detect_engine_new();
	if (!s.e) {
		cli_error(cli, "out of memory");
		return CLI_EXIT_SERVER;
	}
	unsigned failed = 0;
	detect_engine_set_diag(s.e, on_load_diag, &failed);
	if (no_behaviour)
		detect_engine_set_behaviour(s.e, false);
	int n = rules ? detect_files_load(s.e, rules) : 0;
	if (n < 0) {
		cli_error(cli, "%s: %s", rules, strerror(-n));
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	if (iocs) {
		if (!(s.iocs = ioc_set_new())) {
			rc = CLI_EXIT_SERVER;
			goto out;
		}
		n = detect_files_load_iocs(s.iocs, iocs, on_ioc_diag, &s);
		if (n < 0 || ioc_set_finish(s.iocs) < 0) {
			cli_error(cli, "%s: %s", iocs, strerror(n < 0 ? -n : ENOMEM));
			rc = CLI_EXIT_USAGE;
			goto out;
		}
	}
	if ((rc = detect_engine_finish(s.e)) < 0 || !(s.ctx = detect_ctx_new(s.e))) {
		cli_error(cli, "cannot build the rule set: %s", strerror(rc < 0 ? -rc : errno));
		rc = CLI_EXIT_SERVER;
		goto out;
	}
	for (long i = 0; i < nthreads; i++)
		if (!(wctx[i] = detect_ctx_new(s.e))) {
			cli_error(cli, "out of memory");
			rc = CLI_EXIT_SERVER;
			goto out;
		}
	if (!(sp = scan_pipe_new(detect_engine_fields(s.e), (unsigned)nthreads, select_line,
				 (void *const *)wctx))) {
		cli_error(cli, "out of memory");
		rc = CLI_EXIT_SERVER;
		goto out;
	}
	rc = CLI_EXIT_OK;
	struct detect_stats st;
	detect_engine_stats(s.e, &st);
	if (failed && !s.quiet)
		cli_error(cli, "%u rule problems: some rules were not loaded (see mamori rules check %s)",
			  failed, rules);
	s.progress = !s.quiet && isatty(fileno(cli->err));
	/* One line per alert, as each is found: alerts are few next to the events, and a live
	 * stream (tail -f | mamori scan -) should not wait for a buffer to fill. */
	if (cli->out == stdout)
		setvbuf(stdout, NULL, _IOLBF, 0);
	s.start = now_s();
	for (size_t i = 0; i < pos.n && !s.out_err; i++) {
		s.file = pos.v[i];
		s.line_no = 0;
		int fd = strcmp(s.file, "-") == 0 ? dup(0) : open(s.file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			cli_error(cli, "%s: %s", s.file, strerror(errno));
			rc = CLI_EXIT_SERVER;
			continue;
		}
		int r = scan_pipe_run(sp, fd, scan_line, &s);
		close(fd);
		if (r < 0) {
			cli_error(cli, "%s: %s", s.file, strerror(-r));
			rc = CLI_EXIT_SERVER;
		}
	}
	progress(&s, true);
	if (fflush(cli->out) == EOF || s.out_err) {
		cli_error(cli, "cannot write the output: %s",
			  strerror(s.out_err ? -s.out_err : errno));
		rc = CLI_EXIT_SERVER;
	}
	if (!s.quiet)
		summary(&s, pos.n, &st);
out:
	scan_pipe_free(sp);
	for (unsigned i = 0; i < SCAN_PIPE_MAX_THREADS; i++)
		detect_ctx_free(wctx[i]);
	free(s.counts);
	ioc_set_unref(s.iocs);
	detect_ctx_free(s.ctx);
	detect_engine_free(s.e);
	return rc;
}
