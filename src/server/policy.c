#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "policy_doc.h"
#include "server_int.h"

#include "banned.h"

#define CACHE_SLOTS 64
#define CACHE_MS 2000
#define GROUP_MAX 128

struct policy_slot {
	char group[GROUP_MAX];
	int64_t until_ms;
	int64_t version;
	json_t *doc;	/* the group's policy */
	json_t *bundle; /* with blocked hashes and etag; built on first use */
};

struct policy_cache {
	struct policy_slot slots[CACHE_SLOTS];
	unsigned next;
};

static int row_doc(void *ctx, const struct store_val *c, size_t n)
{
	json_t **out = ctx;

	if (n < 5 || *out || c[0].type != STORE_INT || c[1].type != STORE_TEXT)
		return 0;
	*out = json_pack("{s:I,s:o,s:o,s:I,s:o}", "version", (json_int_t)c[0].i, "policy",
			 json_loadb(c[1].s, c[1].n, 0, NULL), "created_by",
			 c[2].type == STORE_TEXT ? json_stringn(c[2].s, c[2].n) : json_null(),
			 "created_at", (json_int_t)(c[3].type == STORE_INT ? c[3].i : 0), "reason",
			 c[4].type == STORE_TEXT ? json_stringn(c[4].s, c[4].n) : json_null());
	return 0;
}

json_t *policy_get(struct server *s, const char *group, int64_t version, int *rc)
{
	struct store_val p[] = {store_text(group), store_int(version)};
	json_t *out = NULL;
	int64_t r;

	*rc = 0;
	r = store_exec(s->store,
		       version
			   ? "SELECT version, doc, created_by, created_at, reason FROM policies "
			     "WHERE group_name = ? AND version = ?"
			   : "SELECT version, doc, created_by, created_at, reason FROM policies "
			     "WHERE group_name = ? ORDER BY version DESC LIMIT 1",
		       p, version ? 2 : 1, row_doc, &out);
	if (r < 0) {
		*rc = (int)r;
		return NULL;
	}
	if (!out && version) {
		*rc = -ENOENT;
		return NULL;
	}
	if (!out)
		out = json_pack("{s:I,s:o,s:n,s:I,s:n}", "version", (json_int_t)0, "policy",
				policy_doc_default(), "created_by", "created_at", (json_int_t)0,
				"reason");
	/* A document that no longer loads (edited by hand in the store) is not half-applied. */
	if (!json_is_object(json_object_get(out, "policy")))
		json_object_set_new(out, "policy", policy_doc_default());
	json_object_set_new(out, "group", json_string(group));
	return out;
}

int policy_put(struct server *s, const char *group, json_t *doc, const char *user,
	       const char *reason, int64_t *version)
{
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	struct store_val q[] = {store_text(group)};
	int64_t cur = 0, r;
	int rc;

	if (!text)
		return -ENOMEM;
	rc = store_begin(s->store);
	if (rc)
		goto out;
	rc = store_query_int(s->store,
			     "SELECT coalesce(max(version), 0) FROM policies WHERE group_name = ?",
			     q, 1, &cur);
	if (rc && rc != -ENOENT) {
		store_rollback(s->store);
		goto out;
	}
	{
		struct store_val p[] = {store_text(group),	    store_int(cur + 1),
					store_text(text),	    store_text(user),
					store_int(server_now_ms()), store_text(reason)};

		r = store_exec(s->store,
			       "INSERT INTO policies (group_name, version, doc, created_by, "
			       "created_at, reason) VALUES (?,?,?,?,?,?)",
			       p, 6, NULL, NULL);
	}
	if (r < 0 || store_commit(s->store)) {
		store_rollback(s->store);
		rc = r < 0 ? (int)r : -EIO;
		goto out;
	}
	*version = cur + 1;
	policy_invalidate(s);
	log_info("policy", "group=%s version=%lld by=%s", group, (long long)*version,
		 user ? user : "?");
	rc = 0;
out:
	free(text);
	return rc;
}

static int row_history(void *ctx, const struct store_val *c, size_t n)
{
	json_t *arr = ctx;

	if (n < 4 || c[0].type != STORE_INT)
		return 0;
	json_array_append_new(
	    arr,
	    json_pack("{s:I,s:o,s:I,s:o}", "version", (json_int_t)c[0].i, "created_by",
		      c[1].type == STORE_TEXT ? json_stringn(c[1].s, c[1].n) : json_null(),
		      "created_at", (json_int_t)(c[2].type == STORE_INT ? c[2].i : 0), "reason",
		      c[3].type == STORE_TEXT ? json_stringn(c[3].s, c[3].n) : json_null()));
	return 0;
}

json_t *policy_history(struct server *s, const char *group)
{
	struct store_val p[] = {store_text(group)};
	json_t *arr = json_array();

	if (!arr || store_exec(s->store,
			       "SELECT version, created_by, created_at, reason FROM policies WHERE "
			       "group_name = ? ORDER BY version DESC",
			       p, 1, row_history, arr) < 0) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

static void slot_clear(struct policy_slot *sl)
{
	json_decref(sl->doc);
	json_decref(sl->bundle);
	memset(sl, 0, sizeof(*sl));
}

void policy_invalidate(struct server *s)
{
	if (!s->policies)
		return;
	for (unsigned i = 0; i < CACHE_SLOTS; i++)
		slot_clear(&s->policies->slots[i]);
}

void policy_cache_free(struct server *s)
{
	policy_invalidate(s);
	free(s->policies);
	s->policies = NULL;
}

static struct policy_slot *slot_for(struct server *s, const char *group)
{
	struct policy_cache *c = s->policies;
	int64_t now = server_now_ms();
	struct policy_slot *sl;
	json_t *got;
	int rc;

	if (!c) {
		c = s->policies = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
	}
	for (unsigned i = 0; i < CACHE_SLOTS; i++) {
		sl = &c->slots[i];
		if (sl->doc && !strcmp(sl->group, group)) {
			if (sl->until_ms > now)
				return sl;
			slot_clear(sl);
			goto fill;
		}
	}
	sl = &c->slots[c->next++ % CACHE_SLOTS];
	slot_clear(sl);
fill:
	got = policy_get(s, group, 0, &rc);
	if (!got)
		return NULL;
	snprintf(sl->group, sizeof(sl->group), "%s", group);
	sl->doc = json_incref(json_object_get(got, "policy"));
	sl->version = json_integer_value(json_object_get(got, "version"));
	sl->until_ms = now + CACHE_MS;
	json_decref(got);
	return sl;
}

static json_t *fallback;

json_t *policy_of_agent(struct server *s, const char *agent_id, int64_t *version)
{
	struct store_val p[] = {store_text(agent_id)};
	char group[GROUP_MAX];
	struct policy_slot *sl = NULL;

	if (store_query_text(s->store, "SELECT group_name FROM agents WHERE id = ?", p, 1, group,
			     sizeof(group)) == 0)
		sl = slot_for(s, group);
	if (sl) {
		if (version)
			*version = sl->version;
		return sl->doc;
	}
	if (!fallback)
		fallback = policy_doc_default();
	if (version)
		*version = 0;
	return fallback;
}

static int row_hash(void *ctx, const struct store_val *c, size_t n)
{
	if (n >= 1 && c[0].type == STORE_TEXT)
		json_array_append_new(ctx, json_stringn(c[0].s, c[0].n));
	return 0;
}

static void etag_of(json_t *b, char out[17])
{
	char *text = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = 0;
	if (text && EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL) && mdlen >= 8)
		for (int i = 0; i < 8; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
	free(text);
}

static json_t *bundle_build(struct server *s, struct policy_slot *sl)
{
	struct store_val p[] = {store_text(sl->group), store_int(POLICY_MAX_BLOCKED)};
	json_t *b = json_deep_copy(sl->doc), *blocked = json_array(), *ex, *e;
	int64_t now = server_now_ms();
	char etag[17];
	size_t i;

	if (!b || !blocked)
		goto fail;
	if (store_exec(s->store,
		       "SELECT DISTINCT sha256 FROM blocklist WHERE group_name IN ('', ?) ORDER BY "
		       "sha256 LIMIT ?",
		       p, 2, row_hash, blocked) < 0)
		goto fail;
	/* Expired exclusions are not sent; the etag changes when one expires. */
	ex = json_object_get(b, "exclusions");
	for (i = json_array_size(ex); i-- > 0;) {
		e = json_object_get(json_array_get(ex, i), "expires");
		if (json_is_integer(e) && json_integer_value(e) <= now)
			json_array_remove(ex, i);
	}
	json_object_set_new(b, "blocked", blocked);
	json_object_set_new(b, "group", json_string(sl->group));
	json_object_set_new(b, "version", json_integer(sl->version));
	etag_of(b, etag);
	json_object_set_new(b, "etag", json_string(etag));
	return b;
fail:
	json_decref(b);
	json_decref(blocked);
	return NULL;
}

json_t *policy_bundle_if_changed(struct server *s, const char *agent_id, const char *have)
{
	struct store_val p[] = {store_text(agent_id)};
	char group[GROUP_MAX];
	struct policy_slot *sl;
	const char *etag;

	if (store_query_text(s->store, "SELECT group_name FROM agents WHERE id = ?", p, 1, group,
			     sizeof(group)))
		return NULL;
	sl = slot_for(s, group);
	if (!sl)
		return NULL;
	if (!sl->bundle)
		sl->bundle = bundle_build(s, sl);
	if (!sl->bundle)
		return NULL;
	etag = json_string_value(json_object_get(sl->bundle, "etag"));
	if (have && etag && !strcmp(have, etag))
		return NULL;
	return json_incref(sl->bundle);
}

static bool group_ok(const char *g)
{
	return g && strlen(g) < GROUP_MAX;
}

int policy_block(struct server *s, const char *sha256, const char *group, const char *user,
		 const char *reason)
{
	char low[65];
	int64_t n = 0, r;

	if (!sha256 || strlen(sha256) != 64 || strspn(sha256, "0123456789abcdefABCDEF") != 64 ||
	    !group_ok(group ? group : ""))
		return -EINVAL;
	for (int i = 0; i < 64; i++)
		low[i] = (char)tolower((unsigned char)sha256[i]);
	low[64] = 0;
	if (store_query_int(s->store, "SELECT count(*) FROM blocklist", NULL, 0, &n) == 0 &&
	    n >= POLICY_MAX_BLOCKED)
		return -E2BIG;
	{
		struct store_val p[] = {store_text(low), store_text(group ? group : ""),
					store_text(user), store_int(server_now_ms()),
					store_text(reason)};

		r = store_exec(s->store,
			       "INSERT INTO blocklist (sha256, group_name, created_by, created_at, "
			       "reason) VALUES (?,?,?,?,?) ON CONFLICT (sha256, group_name) DO "
			       "NOTHING",
			       p, 5, NULL, NULL);
	}
	if (r < 0)
		return (int)r;
	if (r == 0)
		return -EEXIST;
	policy_invalidate(s);
	return 0;
}

int policy_unblock(struct server *s, const char *sha256, const char *group)
{
	char low[65];
	int64_t r;

	if (!sha256 || strlen(sha256) != 64 || strspn(sha256, "0123456789abcdefABCDEF") != 64)
		return -EINVAL;
	for (int i = 0; i < 64; i++)
		low[i] = (char)tolower((unsigned char)sha256[i]);
	low[64] = 0;
	{
		struct store_val p[] = {store_text(low), store_text(group ? group : "")};

		r = store_exec(s->store,
			       "DELETE FROM blocklist WHERE sha256 = ? AND group_name = ?", p, 2,
			       NULL, NULL);
	}
	if (r < 0)
		return (int)r;
	if (r == 0)
		return -ENOENT;
	policy_invalidate(s);
	return 0;
}

static int row_block(void *ctx, const struct store_val *c, size_t n)
{
	if (n < 5 || c[0].type != STORE_TEXT)
		return 0;
	json_array_append_new(
	    ctx,
	    json_pack(
		"{s:s%,s:o,s:o,s:I,s:o}", "sha256", c[0].s, c[0].n, "group",
		c[1].type == STORE_TEXT && c[1].n ? json_stringn(c[1].s, c[1].n) : json_null(),
		"created_by", c[2].type == STORE_TEXT ? json_stringn(c[2].s, c[2].n) : json_null(),
		"created_at", (json_int_t)(c[3].type == STORE_INT ? c[3].i : 0), "reason",
		c[4].type == STORE_TEXT ? json_stringn(c[4].s, c[4].n) : json_null()));
	return 0;
}

json_t *policy_blocklist(struct server *s)
{
	json_t *arr = json_array();

	if (!arr || store_exec(s->store,
			       "SELECT sha256, group_name, created_by, created_at, reason FROM "
			       "blocklist ORDER BY created_at DESC, sha256",
			       NULL, 0, row_block, arr) < 0) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}
