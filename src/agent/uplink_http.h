/* HTTPS requests of the agent (libcurl): one easy handle per thread, mutual TLS 1.3 with the
 * enrolled certificate, or (enrollment) a given CA file or none. Responses capped. */
#ifndef MAMORI_UPLINK_HTTP_H
#define MAMORI_UPLINK_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "dynbuf.h"

struct agent_identity;

/* A handle verifying the server with ca_path (NULL: no verification, only for fetching the CA
 * whose pin is then checked) and presenting cert/key when given. stop (may be NULL) aborts a
 * transfer in progress when it becomes true. */
CURL *uplink_http_new(const char *ca_path, const char *cert_path, const char *key_path,
		      atomic_bool *stop);
/* The same for the enrolled identity. */
CURL *uplink_http_for(const struct agent_identity *id, atomic_bool *stop);

/* Performs a request: method "GET" or "POST", body may be NULL, headers NULL-terminated extra
 * header lines. Fills *status (0 when no response) and resp (capped by its own cap). Returns
 * 0 or a negative errno; err gets curl's message. */
int uplink_http_do(CURL *c, const char *method, const char *url, const char *const *headers,
		   const void *body, size_t len, long timeout_s, long *status, struct dynbuf *resp,
		   char *err, size_t errlen);

#endif
