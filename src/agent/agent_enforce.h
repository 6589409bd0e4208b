/* Enforcement on the agent: the policy's blocked hashes go to exec blocking (block_exec.h), and
 * every exec it denies or kills becomes an alert (rule mamori-blocked-hash) that the server
 * stores like any other. */
#ifndef MAMORI_AGENT_ENFORCE_H
#define MAMORI_AGENT_ENFORCE_H

#include <stddef.h>

#include <jansson.h>

struct agent;
struct agent_enforce;

/* Starts enforcement for ag (borrowed until agent_enforce_free) and hooks it to the policy in
 * force (agent_policy.h). NULL with a reason in err when exec blocking cannot run here (not
 * root, no fanotify permission events): the agent then runs without it. */
struct agent_enforce *agent_enforce_new(struct agent *ag, char *err, size_t errlen);
/* Unhooks from the policy and stops blocking; no process is left stopped. NULL is a no-op. */
void agent_enforce_free(struct agent_enforce *e);

/* {"blocking": bool, "blocked_hashes", "denied", "killed", "perm_events"} for heartbeats. */
json_t *agent_enforce_report(void);

#endif
