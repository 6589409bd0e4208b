/* The server's detection content: Sigma rules and indicator lists loaded from the configured
 * paths, replaced without a restart (SIGHUP or POST /api/v1/rules/reload), and evaluated by every
 * ingest worker on each event before its batch commits, so alerts commit with their events. */
#ifndef MAMORI_DETECTION_H
#define MAMORI_DETECTION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct detection;
struct detection_worker;

struct detection_stats {
	uint64_t evaluated, alerts, ioc_hits, bad_events, reloads, reload_failures;
	unsigned rules, correlations, filters, failed, iocs;
	char version[17]; /* content hash of every rule and indicator file */
	uint64_t loaded_ns;
};

/* Loads rules and indicators (paths borrowed for the object's lifetime). Caller owns the result.
 * NULL with err filled when nothing usable could be loaded from a given path. */
struct detection *detection_new(const char *const *rule_paths, size_t nrule_paths,
				const char *const *ioc_paths, size_t nioc_paths, char *err,
				size_t errlen);
void detection_free(struct detection *d);
struct prevalence;
/* Adds fleet prevalence alerts (borrowed; NULL switches them off). */
void detection_set_prevalence(struct detection *d, struct prevalence *p);
/* Builds a new rule set from the same paths and swaps it in; on failure the old one stays.
 * 0 or a negative errno with err filled. Thread-safe. */
int detection_reload(struct detection *d, char *err, size_t errlen);
void detection_get_stats(struct detection *d, struct detection_stats *st);
/* {"version":..., "rules":[{id,name,severity,kind,techniques,path}...]} (caller owns). */
json_t *detection_rules_json(struct detection *d);

/* After the worker's batch committed: records newly seen prevalence keys with st. */
void detection_worker_after_commit(struct detection_worker *w, struct store *st);

/* One per ingest thread. Caller owns the result. NULL + errno. */
struct detection_worker *detection_worker_new(struct detection *d);
void detection_worker_free(struct detection_worker *w);
/* Evaluates rows from agent_id; *alerts points at alert rows valid until the next call. 0 or
 * -ENOMEM. Malformed events are counted, never fatal. */
int detection_worker_eval(struct detection_worker *w, const char *agent_id,
			  const struct store_event_row *rows, size_t n,
			  const struct store_alert_row **alerts, size_t *nalerts);

#endif
