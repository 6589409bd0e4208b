/* What a group's policy does with new alerts (docs/policy.md): an alert that matches an
 * exclusion or a disabled rule is marked excluded; in block mode the automatic responses that
 * match it are queued as actions (kill, kill tree, quarantine, isolate) by "policy", with the
 * rule, the alert and the policy version as the reason. Loop thread. */
#ifndef MAMORI_AUTO_RESPONSE_H
#define MAMORI_AUTO_RESPONSE_H

#include <jansson.h>

struct server;

/* alerts: the summaries of one committed batch from agent_id (ingest_result). Borrowed; an
 * excluded alert gets "excluded": true. */
void auto_response_alerts(struct server *s, const char *agent_id, json_t *alerts);

#endif
