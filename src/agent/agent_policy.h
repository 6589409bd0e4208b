/* The policy the agent runs (docs/policy.md): the last bundle the server sent in a heartbeat
 * reply (its group's policy and the hashes blocked for it), kept in the state directory so it
 * holds across restarts and while the host is offline. Changes go to the enforcement hooks.
 * One per process; thread-safe. */
#ifndef MAMORI_AGENT_POLICY_H
#define MAMORI_AGENT_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct agent_policy_hooks {
	/* The blocked hashes (64 lowercase hex each) changed. Called with the policy lock held:
	 * do not call back into agent_policy. */
	void (*blocked)(void *ctx, const char (*sha256)[65], size_t n);
	/* The policy changed (mode, prevent rules, exclusions). */
	void (*changed)(void *ctx, json_t *bundle);
	void *ctx;
};

/* Loads state_dir/policy.json if there is one and applies it to hooks (borrowed until
 * agent_policy_close; may be NULL). 0, or a negative errno when the saved policy is unreadable
 * (ignored). */
int agent_policy_open(const char *state_dir, const struct agent_policy_hooks *hooks);
void agent_policy_close(void);

/* Replaces the hooks (borrowed until replaced; NULL: none) and applies the policy in force to
 * the new ones at once. */
void agent_policy_set_hooks(const struct agent_policy_hooks *hooks);

/* A bundle from the server: checked, saved, applied. 0 or -EINVAL with a reason in err. */
int agent_policy_update(json_t *bundle, char *err, size_t errlen);

/* Adds {"version", "etag", "mode", "blocked"} to a heartbeat's health object. */
void agent_policy_report(json_t *health);

/* The etag of the policy in force into out ("" before any). */
void agent_policy_etag(char *out, size_t n);

/* Whether the group is in block mode. */
bool agent_policy_is_block(void);

#endif
