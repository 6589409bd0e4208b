/* Prevention rules on the agent (the policy's prevent_rules, in block mode): the agent's own
 * rule files loaded into an engine of their own, matched against a process stopped at exec
 * before it runs its first instruction. Only hits of the named rules count; behaviour
 * detections are off, so checking a process here does not count it twice in their windows. */
#ifndef MAMORI_AGENT_PREVENT_H
#define MAMORI_AGENT_PREVENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct agent_config_list;
struct agent_prevent;
struct event;

/* Loads the rule paths and keeps ids (a JSON array of rule ids, borrowed). Caller owns the
 * result. NULL with err filled when no rule file loads or none of ids is among the rules;
 * *missing (new ref, may be NULL) lists the ids not found. */
struct agent_prevent *agent_prevent_new(const struct agent_config_list *rules, json_t *ids,
					json_t **missing, char *err, size_t errlen);
void agent_prevent_free(struct agent_prevent *p);

/* The file names every exec the prevent rules can match must have, so the exec gate can stop
 * only those (block_exec_set_gate): *names NULL when some rule is not limited to named images
 * (the gate must then stop every exec). Borrowed until agent_prevent_free. */
void agent_prevent_names(const struct agent_prevent *p, const char *const **names, size_t *n);

/* Matches an exec event. 1 with the alert document of the first prevent rule that matches
 * (*alert, new ref, with mamori.prevention filled), 0 when none does. One caller at a time. */
int agent_prevent_check(struct agent_prevent *p, const struct event *ev, json_t **alert);

#endif
