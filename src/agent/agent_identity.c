#include "agent_identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "atomic_file.h"

#include "banned.h"

static int path(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int agent_identity_paths(const char *state_dir, struct agent_identity *id)
{
	if (path(id->key_path, sizeof(id->key_path), state_dir, "agent.key") ||
	    path(id->cert_path, sizeof(id->cert_path), state_dir, "agent.crt") ||
	    path(id->ca_path, sizeof(id->ca_path), state_dir, "ca.crt") ||
	    path(id->json_path, sizeof(id->json_path), state_dir, "agent.json") ||
	    path(id->spool_dir, sizeof(id->spool_dir), state_dir, "spool"))
		return -ENAMETOOLONG;
	return 0;
}

int agent_identity_load(const char *state_dir, struct agent_identity *id, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j;
	const char *aid, *url;
	int rc = 0;

	memset(id, 0, sizeof(*id));
	if (agent_identity_paths(state_dir, id)) {
		snprintf(err, errlen, "state directory path too long");
		return -ENAMETOOLONG;
	}
	if (access(id->json_path, F_OK) != 0) {
		snprintf(err, errlen,
			 "not enrolled: %s missing (run mamori-agent enroll URL TOKEN)",
			 id->json_path);
		return -ENOENT;
	}
	j = json_load_file(id->json_path, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		snprintf(err, errlen, "%s:%d: %s", id->json_path, je.line, je.text);
		return -EINVAL;
	}
	aid = json_string_value(json_object_get(j, "agent.id"));
	url = json_string_value(json_object_get(j, "server.url"));
	if (!aid || strlen(aid) != 32 || !url || strncmp(url, "https://", 8) ||
	    strlen(url) >= sizeof(id->url)) {
		snprintf(err, errlen, "%s: agent.id (32 hex) and server.url (https://) required",
			 id->json_path);
		rc = -EINVAL;
	} else {
		memcpy(id->agent_id, aid, 33);
		snprintf(id->url, sizeof(id->url), "%s", url);
	}
	json_decref(j);
	return rc;
}

int agent_identity_save(const struct agent_identity *id)
{
	json_t *j = json_pack("{s:s,s:s}", "agent.id", id->agent_id, "server.url", id->url);
	char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	int rc;

	json_decref(j);
	if (!text)
		return -ENOMEM;
	rc = atomic_file_write(id->json_path, text, strlen(text), 0600);
	free(text);
	return rc;
}
