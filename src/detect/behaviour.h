/* Behaviour detections single-event rules cannot express: beaconing (periodic connections to one
 * endpoint), discovery bursts (many distinct reconnaissance commands from one shell in a short
 * window), ransomware (a process renaming many files to one new extension, or rewriting many
 * with high-entropy content), reverse shells (a shell whose standard streams are a network
 * socket, as the sensor tags it) and fileless execution (memfd or deleted executables). Each is a
 * built-in rule with ATT&CK tags, severity and advice; state is per host and bounded. */
#ifndef MAMORI_BEHAVIOUR_H
#define MAMORI_BEHAVIOUR_H

#include <stdint.h>

#include "detect.h"

struct behaviour;

struct behaviour_opts {
	unsigned beacon_min_events;	 /* connections before periodicity is judged (8) */
	double beacon_max_jitter;	 /* stddev / mean of the intervals (0.1) */
	unsigned beacon_min_interval_s;	 /* 5 */
	unsigned beacon_max_interval_s;	 /* 3600 */
	unsigned discovery_window_s;	 /* 60 */
	unsigned discovery_distinct;	 /* distinct recon commands from one parent (10) */
	unsigned ransom_window_s;	 /* 10 */
	unsigned ransom_renames;	 /* renames to one new extension (20; 2..24) */
	unsigned ransom_entropy_writes;	 /* rewrites with entropy >= 7.5 bits/byte (20; 2..24) */
	unsigned max_keys;		 /* tracked keys per detector (65536) */
};

void behaviour_opts_default(struct behaviour_opts *o);
/* Caller owns the result. NULL + errno. */
struct behaviour *behaviour_new(const struct behaviour_opts *o);
void behaviour_free(struct behaviour *b);
/* The fields the detectors read; engines intern them so docs keep their values. */
extern const char *const BEHAVIOUR_FIELDS[];
/* Feeds one event (classified doc) to every detector; calls fn per detection and adds the
 * detections to *hits. Thread-safe. Returns 0, or fn's nonzero value when it stopped. */
int behaviour_match(struct behaviour *b, struct detect_doc *doc, detect_hit_fn fn, void *ctx,
		    int *hits);
/* The built-in rules, for listings. */
size_t behaviour_rule_count(void);
const struct detect_rule_meta *behaviour_rule(size_t i);

#endif
