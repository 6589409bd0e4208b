#include "uplink_http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent_identity.h"

#include "banned.h"

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct dynbuf *b = ctx;

	if (dynbuf_add(b, p, size * n))
		return 0; /* over the cap: abort */
	return size * n;
}

static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	atomic_bool *stop = ctx;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return stop && atomic_load(stop) ? 1 : 0;
}

CURL *uplink_http_new(const char *ca_path, const char *cert_path, const char *key_path,
		      atomic_bool *stop)
{
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "mamori-agent/" MAMORI_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	if (ca_path) {
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_path);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	} else {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (cert_path && key_path) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert_path);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key_path);
	}
	if (stop) {
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, stop);
	}
	return c;
}

CURL *uplink_http_for(const struct agent_identity *id, atomic_bool *stop)
{
	return uplink_http_new(id->ca_path, id->cert_path, id->key_path, stop);
}

int uplink_http_do(CURL *c, const char *method, const char *url, const char *const *headers,
		   const void *body, size_t len, long timeout_s, long *status, struct dynbuf *resp,
		   char *err, size_t errlen)
{
	struct curl_slist *h = NULL;
	CURLcode rc;

	*status = 0;
	dynbuf_reset(resp);
	for (size_t i = 0; headers && headers[i]; i++)
		h = curl_slist_append(h, headers[i]);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	rc = curl_easy_perform(c);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(rc));
		return rc == CURLE_ABORTED_BY_CALLBACK ? -ECANCELED : -EIO;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	return 0;
}
