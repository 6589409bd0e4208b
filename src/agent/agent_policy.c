#include "agent_policy.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "log.h"

#include "banned.h"

#define POLICY_FILE "policy.json"
#define MAX_BLOCKED 10000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *cur; /* the bundle in force, NULL before any */
static char path[1100];
static struct agent_policy_hooks hooks;

static bool hex64(const char *s)
{
	return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static int check(json_t *b, char *err, size_t errlen)
{
	json_t *blocked = json_object_get(b, "blocked"), *v;
	const char *mode = json_string_value(json_object_get(b, "mode"));
	size_t i;

	if (!json_is_object(b) || !json_is_string(json_object_get(b, "etag")) ||
	    !json_is_integer(json_object_get(b, "version"))) {
		snprintf(err, errlen, "not a policy bundle (etag, version)");
		return -EINVAL;
	}
	if (!mode || (strcmp(mode, "detect") && strcmp(mode, "block"))) {
		snprintf(err, errlen, "mode: detect or block");
		return -EINVAL;
	}
	if (!json_is_array(blocked) || json_array_size(blocked) > MAX_BLOCKED) {
		snprintf(err, errlen, "blocked: a list of at most %d hashes", MAX_BLOCKED);
		return -EINVAL;
	}
	json_array_foreach(blocked, i, v) if (!hex64(json_string_value(v)))
	{
		snprintf(err, errlen, "blocked[%zu]: not a lowercase SHA-256", i);
		return -EINVAL;
	}
	return 0;
}

/* Lock held. */
static void apply(void)
{
	json_t *blocked = json_object_get(cur, "blocked"), *v;
	size_t n = json_array_size(blocked), i;
	char(*hashes)[65] = n ? calloc(n, sizeof(*hashes)) : NULL;

	if (hooks.blocked && (hashes || !n)) {
		json_array_foreach(blocked, i, v) memcpy(hashes[i], json_string_value(v), 65);
		hooks.blocked(hooks.ctx, (const char(*)[65])hashes, n);
	}
	free(hashes);
	if (hooks.changed)
		hooks.changed(hooks.ctx, cur);
}

int agent_policy_open(const char *state_dir, const struct agent_policy_hooks *h)
{
	json_error_t je;
	json_t *b;
	char err[200];
	int rc = 0;

	pthread_mutex_lock(&lock);
	hooks = h ? *h : (struct agent_policy_hooks){0};
	snprintf(path, sizeof(path), "%s/%s", state_dir, POLICY_FILE);
	b = access(path, F_OK) == 0 ? json_load_file(path, 0, &je) : NULL;
	if (b && check(b, err, sizeof(err)) == 0) {
		json_decref(cur);
		cur = b;
		log_info("policy", "saved policy loaded version=%lld mode=%s blocked=%zu",
			 (long long)json_integer_value(json_object_get(cur, "version")),
			 json_string_value(json_object_get(cur, "mode")),
			 json_array_size(json_object_get(cur, "blocked")));
		apply();
	} else if (b || access(path, F_OK) == 0) {
		log_warn("policy", "saved policy %s unreadable, waiting for the server's", path);
		json_decref(b);
		rc = -EINVAL;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

void agent_policy_set_hooks(const struct agent_policy_hooks *h)
{
	pthread_mutex_lock(&lock);
	hooks = h ? *h : (struct agent_policy_hooks){0};
	if (cur)
		apply();
	pthread_mutex_unlock(&lock);
}

void agent_policy_close(void)
{
	pthread_mutex_lock(&lock);
	json_decref(cur);
	cur = NULL;
	hooks = (struct agent_policy_hooks){0};
	path[0] = 0;
	pthread_mutex_unlock(&lock);
}

int agent_policy_update(json_t *bundle, char *err, size_t errlen)
{
	char *text;
	int rc = check(bundle, err, errlen);

	if (rc)
		return rc;
	text = json_dumps(bundle, JSON_COMPACT);
	pthread_mutex_lock(&lock);
	if (path[0] && text && (rc = atomic_file_write(path, text, strlen(text), 0600)))
		log_warn("policy", "cannot save %s err=%s: it will not survive a restart", path,
			 strerror(-rc));
	json_decref(cur);
	cur = json_incref(bundle);
	log_info("policy", "policy updated version=%lld etag=%s mode=%s blocked=%zu",
		 (long long)json_integer_value(json_object_get(cur, "version")),
		 json_string_value(json_object_get(cur, "etag")),
		 json_string_value(json_object_get(cur, "mode")),
		 json_array_size(json_object_get(cur, "blocked")));
	apply();
	pthread_mutex_unlock(&lock);
	free(text);
	return 0;
}

void agent_policy_report(json_t *health)
{
	pthread_mutex_lock(&lock);
	if (cur)
		json_object_set_new(
		    health, "policy",
		    json_pack("{s:O,s:O,s:O,s:O,s:I}", "version", json_object_get(cur, "version"),
			      "etag", json_object_get(cur, "etag"), "group",
			      json_object_get(cur, "group") ? json_object_get(cur, "group")
							    : json_null(),
			      "mode", json_object_get(cur, "mode"), "blocked",
			      (json_int_t)json_array_size(json_object_get(cur, "blocked"))));
	pthread_mutex_unlock(&lock);
}

void agent_policy_etag(char *out, size_t n)
{
	pthread_mutex_lock(&lock);
	snprintf(out, n, "%s", cur ? json_string_value(json_object_get(cur, "etag")) : "");
	pthread_mutex_unlock(&lock);
}

bool agent_policy_is_block(void)
{
	bool b;

	pthread_mutex_lock(&lock);
	b = cur && !strcmp(json_string_value(json_object_get(cur, "mode")), "block");
	pthread_mutex_unlock(&lock);
	return b;
}
