/* mamori-detect-bench: the detection engine's cost per event, without I/O or output
 * (bench/detect.sh). Events are read into memory first; each round then runs a parse-only pass
 * (detect_doc_from_json), a parse+match pass (plus detect_ctx_match) and a pass that also times
 * every detect_ctx_match call, over the same events in the same process. The matcher's cost is the
 * difference of the first two, cross-checked by the third. Prints one JSON object. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "detect.h"
#include "detect_doc_json.h"
#include "detect_files.h"

#include "banned.h"

#define MAX_ROUNDS 99

static const char usage[] =
    "usage: mamori-detect-bench --rules PATH --events FILE [--repeat N] [--limit N]\n"
    "                           [--only parse|match] [--no-behaviour]\n"
    "  --rules PATH    rule file or directory (Sigma YAML)\n"
    "  --events FILE   ECS JSON events, one per line\n"
    "  --repeat N      rounds of the three passes (default 3); medians are reported\n"
    "  --limit N       use only the first N events\n"
    "  --only P        run only pass P, N times (for perf record); prints the same JSON\n"
    "  --no-behaviour  leave out the built-in behaviour detections (Sigma rules alone)\n";

struct events {
	char *buf;
	size_t len;
	const char **line;
	uint32_t *linelen;
	size_t n;
	size_t used; /* bytes of the lines kept */
};

struct bench {
	struct detect_engine *e;
	struct detect_ctx *ctx;
	struct events ev;
	uint64_t hits;
	unsigned failed_docs;
	/* What the parsed docs hold, summed over the warm-up pass: values and their bytes, and the
	 * share under fields no rule names (kept for keyword searches only). */
	uint64_t values, value_bytes, other_values, other_bytes, bad;
};

static void doc_profile(struct bench *b, const struct detect_doc *doc)
{
	for (unsigned k = 0; k < doc->nvalues; k++) {
		b->values++;
		b->value_bytes += doc->values[k].len;
		if (doc->values[k].field == DETECT_FIELD_OTHER) {
			b->other_values++;
			b->other_bytes += doc->values[k].len;
		}
	}
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static int read_events(const char *path, size_t limit, struct events *ev)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t cap = 0, off = 0;
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	ev->buf = malloc((size_t)st.st_size + 1);
	if (!ev->buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, ev->buf + off, (size_t)st.st_size - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			goto out;
		}
		off += (size_t)r;
	}
	ev->len = off;
	for (char *p = ev->buf, *end = ev->buf + off; p < end && ev->n < limit;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n) {
			if (ev->n == cap) {
				size_t nc = cap ? cap * 2 : 65536;
				const char **l = realloc(ev->line, nc * sizeof(*l));
				uint32_t *ll = l ? realloc(ev->linelen, nc * sizeof(*ll)) : NULL;

				if (l)
					ev->line = l;
				if (!ll) {
					rc = -ENOMEM;
					goto out;
				}
				ev->linelen = ll;
				cap = nc;
			}
			ev->line[ev->n] = p;
			ev->linelen[ev->n++] = (uint32_t)n;
			ev->used += n + 1;
		}
		p = nl ? nl + 1 : end;
	}
out:
	close(fd);
	return rc;
}

static int on_hit(void *ctx, const struct detect_hit *hit)
{
	uint64_t *hits = ctx;

	(void)hit;
	(*hits)++;
	return 0;
}

static void on_diag(void *ctx, const struct detect_diag *d)
{
	unsigned *failed = ctx;

	if (d->fatal && (*failed)++ < 5)
		fprintf(stderr, "mamori-detect-bench: %s:%u: %s%s%s\n", d->path ? d->path : "-",
			d->line, d->rule ? d->rule : "", d->rule ? ": " : "", d->message);
}

enum pass { PASS_WARMUP, PASS_PARSE, PASS_MATCH, PASS_TIMED };

/* One pass over every event; returns the thread's CPU time for it (what a core spent, whatever
 * else the host runs) and sets *wall. For PASS_TIMED, *match_ns gets the sum of the
 * detect_ctx_match calls alone (wall clock: reading the thread clock costs a system call). */
static uint64_t run_pass(struct bench *b, enum pass p, uint64_t *wall, uint64_t *match_ns,
			 uint64_t *hits)
{
	struct detect_doc *doc = detect_ctx_doc(b->ctx);
	uint64_t c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), t0 = now_ns(), in = 0;

	*hits = 0;
	for (size_t i = 0; i < b->ev.n; i++) {
		if (detect_doc_from_json(doc, b->ev.line[i], b->ev.linelen[i], NULL, 0) < 0) {
			b->bad += p == PASS_WARMUP;
			continue;
		}
		if (p == PASS_WARMUP) {
			doc_profile(b, doc);
			detect_ctx_match(b->ctx, on_hit, hits);
		} else if (p == PASS_MATCH) {
			detect_ctx_match(b->ctx, on_hit, hits);
		} else if (p == PASS_TIMED) {
			uint64_t a = now_ns();

			detect_ctx_match(b->ctx, on_hit, hits);
			in += now_ns() - a;
		}
	}
	if (match_ns)
		*match_ns = in;
	if (wall)
		*wall = now_ns() - t0;
	return clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
}

/* What an empty interval measures as, so the timed pass can subtract it (the minimum over a few
 * tries: preemption only adds). */
static double timer_cost_ns(void)
{
	double best = 1e9;

	for (int k = 0; k < 5; k++) {
		uint64_t sum = 0;

		for (int i = 0; i < 200000; i++) {
			uint64_t a = now_ns();

			sum += now_ns() - a;
		}
		if ((double)sum / 200000 < best)
			best = (double)sum / 200000;
	}
	return best;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int parse_count(const char *s, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return (errno || *end || end == s) ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *rules = NULL, *events = NULL, *only = NULL;
	unsigned long long repeat = 3, limit = SIZE_MAX;
	struct bench b = {0};
	struct detect_stats st;
	/* Per round, ns per event: thread CPU time (parse, both, diff) and wall time (w*). */
	double parse[MAX_ROUNDS], both[MAX_ROUNDS], diff[MAX_ROUNDS];
	double wparse[MAX_ROUNDS], wboth[MAX_ROUNDS], wdiff[MAX_ROUNDS], timed[MAX_ROUNDS];
	double load_ms, tcost;
	unsigned rounds;
	bool behaviour = true;
	int rc = 1, n;

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--no-behaviour")) {
			behaviour = false;
			continue;
		}
		if (!v)
			goto bad;
		if (!strcmp(argv[i], "--rules"))
			rules = v;
		else if (!strcmp(argv[i], "--events"))
			events = v;
		else if (!strcmp(argv[i], "--only"))
			only = v;
		else if (!strcmp(argv[i], "--repeat")) {
			if (parse_count(v, &repeat) || repeat < 1 || repeat > MAX_ROUNDS)
				goto bad;
		} else if (!strcmp(argv[i], "--limit")) {
			if (parse_count(v, &limit) || limit < 1)
				goto bad;
		} else {
			goto bad;
		}
		i++;
	}
	if (!rules || !events || (only && strcmp(only, "parse") && strcmp(only, "match")))
		goto bad;
	rounds = (unsigned)repeat;

	uint64_t t0 = now_ns();

	b.e = detect_engine_new();
	if (!b.e) {
		perror("mamori-detect-bench");
		return 1;
	}
	detect_engine_set_diag(b.e, on_diag, &b.failed_docs);
	if ((n = detect_engine_set_behaviour(b.e, behaviour)) < 0) {
		fprintf(stderr, "mamori-detect-bench: behaviour: %s\n", strerror(-n));
		goto out;
	}
	n = detect_files_load(b.e, rules);
	if (n < 0) {
		fprintf(stderr, "mamori-detect-bench: %s: %s\n", rules, strerror(-n));
		goto out;
	}
	if ((n = detect_engine_finish(b.e)) < 0 || !(b.ctx = detect_ctx_new(b.e))) {
		fprintf(stderr, "mamori-detect-bench: cannot build the rule set: %s\n",
			strerror(n < 0 ? -n : errno));
		goto out;
	}
	load_ms = (double)(now_ns() - t0) / 1e6;
	detect_engine_stats(b.e, &st);
	if ((n = read_events(events, (size_t)limit, &b.ev)) < 0) {
		fprintf(stderr, "mamori-detect-bench: %s: %s\n", events, strerror(-n));
		goto out;
	}
	if (!b.ev.n) {
		fprintf(stderr, "mamori-detect-bench: %s: no events\n", events);
		goto out;
	}
	tcost = timer_cost_ns();

	/* Warm-up: page in the events and the engine's tables. */
	uint64_t hits = 0, h, m, wp, wb;

	run_pass(&b, PASS_WARMUP, NULL, NULL, &hits);
	double nev = (double)b.ev.n;
	uint64_t evaluated, gated; /* in the warm-up pass, which matches every event once */
	detect_ctx_cand_stats(b.ctx, &evaluated, &gated);

	for (unsigned r = 0; r < rounds; r++) {
		if (only) {
			uint64_t t = run_pass(&b, strcmp(only, "parse") ? PASS_MATCH : PASS_PARSE,
					      &wp, NULL, &hits);

			parse[r] = both[r] = diff[r] = (double)t / nev;
			wparse[r] = wboth[r] = wdiff[r] = timed[r] = (double)wp / nev;
			continue;
		}
		/* Alternate the order so drift on a noisy host hits both passes alike. */
		uint64_t tp, tb;

		if (r % 2 == 0) {
			tp = run_pass(&b, PASS_PARSE, &wp, NULL, &h);
			tb = run_pass(&b, PASS_MATCH, &wb, NULL, &hits);
		} else {
			tb = run_pass(&b, PASS_MATCH, &wb, NULL, &hits);
			tp = run_pass(&b, PASS_PARSE, &wp, NULL, &h);
		}
		run_pass(&b, PASS_TIMED, NULL, &m, &h);
		parse[r] = (double)tp / nev;
		both[r] = (double)tb / nev;
		diff[r] = both[r] - parse[r];
		wparse[r] = (double)wp / nev;
		wboth[r] = (double)wb / nev;
		wdiff[r] = wboth[r] - wparse[r];
		timed[r] = (double)m / nev - tcost;
	}
	b.hits = hits;

	double order[MAX_ROUNDS];

	memcpy(order, diff, rounds * sizeof(*order));
	double p = median(parse, rounds), pm = median(both, rounds), d = median(diff, rounds);
	uint64_t mhits, mmiss;
	detect_ctx_memo_stats(b.ctx, &mhits, &mmiss);

	printf("{\"behaviour\":%s,\"rules\":%u,\"correlations\":%u,\"filters\":%u,\"failed\":%u,"
	       "\"atoms\":%u,\"unfiltered\":%u,\"gated_rules\":%u,\"evaluated_per_event\":%.4f,"
	       "\"gated_per_event\":%.4f,\"load_ms\":%.1f,\"events\":%zu,\"bytes\":%zu,"
	       "\"rounds\":%u,"
	       "\"only\":\"%s\",\"parse_ns\":%.1f,\"parse_match_ns\":%.1f,\"match_ns\":%.1f,"
	       "\"match_events_per_s\":%.0f,\"wall_parse_ns\":%.1f,\"wall_parse_match_ns\":%.1f,"
	       "\"wall_match_ns\":%.1f,\"match_timed_ns\":%.1f,\"timer_ns\":%.1f,\"hits\":%llu,"
	       "\"malformed\":%llu,\"values_per_event\":%.1f,\"value_bytes_per_event\":%.1f,"
	       "\"other_values_per_event\":%.1f,\"other_bytes_per_event\":%.1f,"
	       "\"memo_hit_rate\":%.3f,\"rounds_match_ns\":[",
	       behaviour ? "true" : "false", st.rules, st.correlations, st.filters, st.failed,
	       st.atoms, st.unfiltered, st.gated, (double)evaluated / nev, (double)gated / nev,
	       load_ms, b.ev.n, b.ev.used, rounds, only ? only : "", p, pm,
	       d, d > 0 ? 1e9 / d : 0.0, median(wparse, rounds), median(wboth, rounds),
	       median(wdiff, rounds), median(timed, rounds), tcost, (unsigned long long)b.hits,
	       (unsigned long long)b.bad, (double)b.values / nev, (double)b.value_bytes / nev,
	       (double)b.other_values / nev, (double)b.other_bytes / nev,
	       mhits + mmiss ? (double)mhits / (double)(mhits + mmiss) : 0.0);
	for (unsigned r = 0; r < rounds; r++)
		printf("%s%.1f", r ? "," : "", order[r]);
	printf("]}\n");
	rc = 0;
out:
	detect_ctx_free(b.ctx);
	detect_engine_free(b.e);
	free(b.ev.buf);
	free(b.ev.line);
	free(b.ev.linelen);
	return rc;
bad:
	fputs(usage, stderr);
	return 2;
}
