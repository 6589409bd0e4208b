#include "enroll.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "agent_csr.h"
#include "agent_identity.h"
#include "atomic_file.h"
#include "enroll_token.h"
#include "log.h"
#include "uplink_http.h"

#include "banned.h"

static void read_machine_id(char *buf, size_t size)
{
	FILE *f = fopen("/etc/machine-id", "re");

	buf[0] = 0;
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

int agent_enroll(const char *state_dir, const char *url, const char *token, const char *host_name,
		 char *err, size_t errlen)
{
	struct agent_identity id = {0};
	struct enroll_token tok;
	struct dynbuf resp;
	char pin[65], full[700], machine[64], e[CURL_ERROR_SIZE + 64];
	char *csr = NULL, *req = NULL;
	const char *cert, *aid;
	json_t *reply = NULL;
	CURL *c = NULL;
	long status;
	int rc;

	dynbuf_init(&resp, 1 << 20);
	if (strncmp(url, "https://", 8) || strlen(url) >= sizeof(id.url)) {
		snprintf(err, errlen, "URL must start with https://");
		rc = -EINVAL;
		goto out;
	}
	snprintf(id.url, sizeof(id.url), "%s", url);
	while (id.url[0] && id.url[strlen(id.url) - 1] == '/')
		id.url[strlen(id.url) - 1] = 0;
	if (enroll_token_parse(token, strlen(token), &tok)) {
		snprintf(err, errlen, "malformed token (expected MMR1.<id>.<secret>.<pin>)");
		rc = -EINVAL;
		goto out;
	}
	if (mkdir(state_dir, 0700) && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot create %s: %s", state_dir, strerror(errno));
		goto out;
	}
	rc = agent_identity_paths(state_dir, &id);
	if (rc) {
		snprintf(err, errlen, "state directory path too long");
		goto out;
	}
	/* 1. The CA, trusted only if it matches the pin the token carries. */
	c = uplink_http_new(NULL, NULL, NULL, NULL);
	snprintf(full, sizeof(full), "%s/v1/enroll/ca", id.url);
	rc = c ? uplink_http_do(c, "GET", full, NULL, NULL, 0, 30, &status, &resp, e, sizeof(e))
	       : -ENOMEM;
	curl_easy_cleanup(c);
	c = NULL;
	if (rc || status != 200) {
		snprintf(err, errlen, "cannot fetch the server CA from %s: %s", full,
			 rc ? e : "unexpected HTTP status");
		rc = rc ? rc : -EPROTO;
		goto out;
	}
	if (enroll_token_pin_of_pem(resp.data, resp.len, pin) || strcmp(pin, tok.pin)) {
		snprintf(err, errlen,
			 "server CA does not match the token's pin (got %s): refusing to enroll",
			 pin);
		rc = -EPERM;
		goto out;
	}
	rc = atomic_file_write(id.ca_path, resp.data, resp.len, 0644);
	if (rc) {
		snprintf(err, errlen, "cannot write %s: %s", id.ca_path, strerror(-rc));
		goto out;
	}
	/* 2. A key that never leaves this host, and its CSR. */
	rc = agent_csr_create(id.key_path, "mamori-agent", &csr);
	if (rc) {
		snprintf(err, errlen, "cannot create the key or CSR: %s", strerror(-rc));
		goto out;
	}
	read_machine_id(machine, sizeof(machine));
	{
		json_t *j = json_pack("{s:s,s:s,s:{s:s,s:s}}", "token", token, "csr", csr, "host",
				      "name", host_name, "id", machine);

		req = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
	}
	if (!req) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* 3. Enrollment over TLS verified against the pinned CA. */
	c = uplink_http_new(id.ca_path, NULL, NULL, NULL);
	snprintf(full, sizeof(full), "%s/v1/enroll", id.url);
	{
		const char *hdr[] = {"Content-Type: application/json", NULL};

		rc = c ? uplink_http_do(c, "POST", full, hdr, req, strlen(req), 30, &status, &resp,
					e, sizeof(e))
		       : -ENOMEM;
	}
	if (rc) {
		snprintf(err, errlen, "enrollment request failed: %s", e);
		goto out;
	}
	reply = json_loadb(resp.data ? resp.data : "", resp.len, 0, NULL);
	if (status != 200) {
		const char *msg = json_string_value(json_object_get(reply, "error"));

		snprintf(err, errlen, "server refused enrollment (HTTP %ld): %s", status,
			 msg ? msg : "no reason given");
		rc = -EACCES;
		goto out;
	}
	cert = json_string_value(json_object_get(reply, "certificate"));
	aid = json_string_value(json_object_get(json_object_get(reply, "agent"), "id"));
	if (!cert || !aid || strlen(aid) != 32) {
		snprintf(err, errlen, "malformed enrollment reply");
		rc = -EPROTO;
		goto out;
	}
	rc = atomic_file_write(id.cert_path, cert, strlen(cert), 0644);
	if (!rc)
		rc = agent_csr_check_pair(id.key_path, id.cert_path);
	if (rc) {
		snprintf(err, errlen, "certificate not usable: %s", strerror(-rc));
		goto out;
	}
	memcpy(id.agent_id, aid, 33);
	rc = agent_identity_save(&id);
	if (rc) {
		snprintf(err, errlen, "cannot write %s: %s", id.json_path, strerror(-rc));
		goto out;
	}
	log_info("enroll", "enrolled agent=%s server=%s group=%s", id.agent_id, id.url,
		 json_string_value(json_object_get(reply, "group")));
out:
	if (c)
		curl_easy_cleanup(c);
	json_decref(reply);
	free(csr);
	free(req);
	dynbuf_release(&resp);
	return rc;
}
