/* A group's policy as a document (docs/policy.md): mode detect or block, quarantine on or off,
 * automatic responses, rules that prevent at exec, exclusions with author, reason and expiry,
 * disabled rules and the isolation allow-list. Validation fills every default, so the stored
 * and distributed form is complete; matching an alert against exclusions and automatic
 * responses is here too. Pure: no store, no I/O. */
#ifndef MAMORI_POLICY_DOC_H
#define MAMORI_POLICY_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "policy_match.h"

#define POLICY_MAX_ITEMS 1000 /* exclusions, rules, responses, addresses: each list */
#define POLICY_MAX_VALUE 1024 /* bytes of one exclusion value */

enum policy_action {
	POLICY_ACT_KILL = 1 << 0,      /* the alert's process */
	POLICY_ACT_KILL_TREE = 1 << 1, /* the alert's process and its descendants */
	POLICY_ACT_QUARANTINE = 1 << 2,
	POLICY_ACT_ISOLATE = 1 << 3,
};

/* The policy of a group nobody configured: detect mode, quarantine on, nothing else. New ref. */
json_t *policy_doc_default(void);

/* Checks doc and returns its complete form (new ref): defaults filled, names and hashes
 * lowercased, relative expiries ("30d") made absolute from now_ms, exclusions without an author
 * given user. NULL with "key: problem" in err. */
json_t *policy_doc_normalize(json_t *doc, const char *user, int64_t now_ms, char *err,
			     size_t errlen);

/* The union of the actions of the automatic responses that match the alert (block mode only;
 * 0 in detect mode). Quarantine is left out when the policy has quarantine off. */
unsigned policy_doc_actions(json_t *pol, const struct policy_alert *a);

/* "kill_tree" etc. for one action bit. */
const char *policy_action_name(enum policy_action a);

bool policy_doc_is_block(json_t *pol);

#endif
