/* Group policies as the server keeps them: every version of a group's policy document in the
 * store (policy_doc.h), the block list of file hashes, and what an agent receives in the reply
 * to its heartbeat when its copy is out of date: the bundle of its group's policy and the hashes
 * blocked for it, identified by an etag. Loop thread only. */
#ifndef MAMORI_POLICY_H
#define MAMORI_POLICY_H

#include <stdint.h>

#include <jansson.h>

struct server;

#define POLICY_MAX_BLOCKED 10000

/* The group's policy at version (0: the newest). New ref:
 * {"group", "version", "policy", "created_by", "created_at", "reason"}; version 0 with the
 * default policy when none was ever set. NULL with -ENOENT in *rc when the version does not
 * exist, another negative errno on a store failure. */
json_t *policy_get(struct server *s, const char *group, int64_t version, int *rc);
/* Stores doc (already normalized) as the group's next version. 0 and *version, or -errno. */
int policy_put(struct server *s, const char *group, json_t *doc, const char *user,
	       const char *reason, int64_t *version);
/* Every version, newest first, without the documents. New ref, NULL on a store failure. */
json_t *policy_history(struct server *s, const char *group);

/* The policy document an agent's group has now (cached for a second or two). Borrowed until
 * the next policy call; never NULL (the default when anything fails). */
json_t *policy_of_agent(struct server *s, const char *agent_id, int64_t *version);
/* The bundle for the agent's group when its etag differs from have (may be NULL), else NULL.
 * New ref. */
json_t *policy_bundle_if_changed(struct server *s, const char *agent_id, const char *have);
/* Forgets the cache (after a change). */
void policy_invalidate(struct server *s);
void policy_cache_free(struct server *s);

/* Blocks sha256 (64 hex) for group ("" or NULL: every group). 0, -EEXIST, -E2BIG (list
 * full) or -errno. */
int policy_block(struct server *s, const char *sha256, const char *group, const char *user,
		 const char *reason);
/* 0, -ENOENT when it was not blocked for that group, or -errno. */
int policy_unblock(struct server *s, const char *sha256, const char *group);
/* Every entry: [{"sha256", "group", "created_by", "created_at", "reason"}]. New ref or NULL. */
json_t *policy_blocklist(struct server *s);

#endif
