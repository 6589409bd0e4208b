/* The detection engine: Sigma rules (with filters and correlation rules) compiled once into
 * matchers with a literal prefilter, evaluated against events put into a struct detect_doc. Pure:
 * callers read rule files and events themselves and hand over the text, so the same engine runs
 * in the server, the agent and `mamori scan`. */
#ifndef MAMORI_DETECT_H
#define MAMORI_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect_doc.h"

struct detect_engine;
struct detect_ctx;

enum detect_severity {
	DETECT_SEV_INFORMATIONAL,
	DETECT_SEV_LOW,
	DETECT_SEV_MEDIUM,
	DETECT_SEV_HIGH,
	DETECT_SEV_CRITICAL,
};

/* What an alert says about the rule that raised it. Strings are owned by the engine. */
struct detect_rule_meta {
	const char *id;	   /* the rule's id (a UUID for Sigma rules) */
	const char *title;
	const char *description;
	const char *path; /* file the rule came from */
	const char *status;
	const char *kind; /* "sigma", "correlation" */
	enum detect_severity severity;
	int risk_score; /* 0-100 */
	const char *advice; /* what the analyst should do; "" when the rule gives none */
	const char *const *tactics; /* ATT&CK tactic names, "Credential Access" */
	unsigned ntactics;
	const char *const *techniques; /* "T1003.008" */
	unsigned ntechniques;
	bool generate; /* false: only feeds correlation rules, raises no alert itself */
};

struct detect_hit {
	const struct detect_rule_meta *rule;
	struct detect_doc *doc; /* the triggering event (the last one, for a correlation) */
	/* Correlation rules only (NULL / 0 otherwise): the group-by values "k=v,k=v", the number of
	 * events or distinct values counted, and the window the hit covers. */
	const char *group;
	uint64_t count;
	uint64_t first_ns, last_ns;
};
/* Return nonzero to stop matching this event; detect_ctx_match then returns that value. */
typedef int (*detect_hit_fn)(void *ctx, const struct detect_hit *hit);

struct detect_diag {
	const char *path;
	unsigned line;	    /* 1-based; 0 when unknown */
	const char *rule;   /* rule id or title, NULL for file-level problems */
	const char *message;
	bool fatal;	    /* the rule (or file) was not loaded */
};
typedef void (*detect_diag_fn)(void *ctx, const struct detect_diag *d);

struct detect_stats {
	unsigned documents;	/* YAML documents seen */
	unsigned rules;		/* detection rules loaded */
	unsigned correlations;	/* correlation rules loaded */
	unsigned filters;	/* filters loaded */
	unsigned failed;	/* documents not loaded */
	unsigned atoms;		/* distinct prefilter literals */
	unsigned unfiltered;	/* rules the prefilter cannot skip */
	unsigned gated;		/* rules with a gate: a second literal set they need */
};

/* Caller owns the result (detect_engine_free). NULL + errno. */
struct detect_engine *detect_engine_new(void);
void detect_engine_free(struct detect_engine *e);
/* Problems found while loading are reported to fn (borrowed strings, valid during the call). */
void detect_engine_set_diag(struct detect_engine *e, detect_diag_fn fn, void *ctx);
/* Values for `expand` placeholders: %name% expands to these (copied). 0 or -ENOMEM. */
int detect_engine_set_placeholder(struct detect_engine *e, const char *name,
				  const char *const *values, size_t n);
/* Loads every YAML document of one file (rules, correlation rules, filters; text need not be
 * NUL-terminated). Returns the number of documents loaded, or a negative errno when the file as a
 * whole is unreadable YAML; per-rule problems go to the diag callback. */
int detect_engine_add_yaml(struct detect_engine *e, const char *path, const char *text,
			   size_t len);
/* Built-in behaviour detections (beaconing, discovery bursts, ransomware, reverse shells,
 * fileless execution: src/detect/behaviour.h) run with the rules unless switched off here
 * before finish. 0 or -EBUSY after finish. */
int detect_engine_set_behaviour(struct detect_engine *e, bool on);

/* Resolves filters and correlation references and builds the prefilter. Call once, after the last
 * add; the engine is read-only afterwards (apart from correlation state, which locks). */
int detect_engine_finish(struct detect_engine *e);
void detect_engine_stats(const struct detect_engine *e, struct detect_stats *st);
const struct detect_fields *detect_engine_fields(const struct detect_engine *e);
/* Metadata of every loaded rule, in load order (for listings). */
size_t detect_engine_rule_count(const struct detect_engine *e);
const struct detect_rule_meta *detect_engine_rule(const struct detect_engine *e, size_t i);

/* One per thread: a doc to fill and the scratch space matching needs. Caller owns the result. */
struct detect_ctx *detect_ctx_new(struct detect_engine *e);
void detect_ctx_free(struct detect_ctx *c);
struct detect_doc *detect_ctx_doc(struct detect_ctx *c);
/* Matches the ctx's doc against every rule that applies to its logsource; calls fn per hit.
 * Returns the number of hits, or what fn returned when it stopped early. Never allocates. */
int detect_ctx_match(struct detect_ctx *c, detect_hit_fn fn, void *fn_ctx);
/* The same for a doc the caller made with detect_doc_new(detect_engine_fields(e)), so that one
 * thread can fill docs while another matches them. */
int detect_ctx_match_doc(struct detect_ctx *c, struct detect_doc *doc, detect_hit_fn fn,
			 void *fn_ctx);
/* detect_ctx_match_doc in two halves, for a caller that matches on several threads but must
 * keep the order of events where it matters (correlations, behaviour, output):
 * - detect_ctx_select, on any thread with a ctx of its own: the rules whose detection matches
 *   doc, no filter excluding them, as indexes into out[0, cap) in rule order. Returns their
 *   number, or -E2BIG when there are more than cap (out then holds the first cap). It writes c
 *   and the doc (lower-case copies of values, cached in the doc's arena), nothing shared: one
 *   thread at a time per doc, and the engine is only read.
 * - detect_ctx_emit, on one thread for all events, in their order: what those rules give (hits,
 *   the correlations they feed, then the behaviour detections), exactly as detect_ctx_match
 *   would. Returns as detect_ctx_match does. */
int detect_ctx_select(struct detect_ctx *c, struct detect_doc *doc, uint32_t *out, unsigned cap);
int detect_ctx_emit(struct detect_ctx *c, struct detect_doc *doc, const uint32_t *sel, unsigned n,
		    detect_hit_fn fn, void *fn_ctx);
/* For benchmarks: short values this ctx skipped because the same scanner had found nothing in
 * them before (hits), and those it looked up and scanned (misses). */
void detect_ctx_memo_stats(const struct detect_ctx *c, uint64_t *hits, uint64_t *misses);
/* For benchmarks and tests: candidate rules this ctx evaluated, and those it dropped unevaluated
 * because the scan found none of their gate's literals. */
void detect_ctx_cand_stats(const struct detect_ctx *c, uint64_t *evaluated, uint64_t *gated);

const char *detect_severity_name(enum detect_severity s);
/* "low" ... "critical" (case-insensitive, "informational" too); -1 when unknown. */
int detect_severity_parse(const char *s);

/* The ATT&CK tactic name ("Defense Evasion") of the tactic part of a Sigma tag
 * ("defense-evasion", "defense_evasion"; case-insensitive), or NULL when it is none. */
const char *detect_tactic_name(const char *tag, size_t len);

#endif
