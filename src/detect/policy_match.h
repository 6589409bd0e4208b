/* Exclusions of a group policy (docs/policy.md) matched against an alert, the same on the server
 * (alerts marked excluded) and on the agent (prevention at exec spares what is excluded). The
 * policy is the normalized JSON document; pure, no allocation. */
#ifndef MAMORI_POLICY_MATCH_H
#define MAMORI_POLICY_MATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* What of an alert the policy looks at. Strings borrowed, NULL when absent. */
struct policy_alert {
	const char *rule_id;
	int severity; /* enum detect_severity */
	const char *executable, *command_line, *file_path;
	const char *process_sha256, *file_sha256;
};

/* The index of the first unexpired exclusion that matches the alert, -2 when its rule is in
 * disabled_rules, or -1. */
int policy_match_excluded(json_t *pol, const struct policy_alert *a, int64_t now_ms);

/* Whether the JSON array list holds the string s. */
bool policy_match_in_list(json_t *list, const char *s);

#endif
