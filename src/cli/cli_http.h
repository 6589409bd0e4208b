/* The CLI's HTTP client over libcurl: one JSON request per call, TLS 1.3 or newer, verified
 * against MAMORI_CACERT or the system CAs, bounded by timeouts and a 256 MiB reply cap; plus the
 * percent-encoding of path segments and query parameters. */
#ifndef MAMORI_CLI_HTTP_H
#define MAMORI_CLI_HTTP_H

#include <stdbool.h>

#include <jansson.h>

struct dynbuf;

#define CLI_HTTP_MAX_REPLY (256ul << 20)
#define CLI_HTTP_CONNECT_TIMEOUT_S 10
#define CLI_HTTP_TIMEOUT_S 60

/* Where and how to connect; strings borrowed for the call. */
struct cli_http_conf {
	const char *base_url; /* "https://host:8443", no trailing '/' */
	const char *token;    /* bearer token, or NULL for none */
	const char *cacert;   /* CA file, or NULL for the system CAs */
	long timeout_s;	      /* whole request; 0 for CLI_HTTP_TIMEOUT_S */
};

struct cli_http_reply {
	long status;	 /* HTTP status, 0 if none arrived */
	json_t *json;	 /* parsed body (owned), NULL if empty or not JSON */
	bool empty;	 /* the body was empty */
	char error[256]; /* why the call failed, or why the body is not JSON */
};

/* Once per process, before any thread starts: libcurl's global state. Returns 0 or -EIO. */
int cli_http_global_init(void);
void cli_http_global_cleanup(void);

/* Sends method base_url+path with body (NULL: none) as JSON. Returns 0 when a reply arrived,
 * whatever its status; -EHOSTUNREACH when the server could not be reached (connection, TLS,
 * timeout); -EFBIG when the reply passed the cap; -EINVAL for a malformed URL; -ENOMEM.
 * The caller releases reply in every case. */
int cli_http_request(const struct cli_http_conf *conf, const char *method, const char *path,
		     const json_t *body, struct cli_http_reply *reply);
void cli_http_reply_release(struct cli_http_reply *reply);

/* Checks a server URL: 0 if it is http:// or https:// with a host, -EINVAL otherwise.
 * *cleartext_remote is set when it is http:// to a host other than loopback. */
int cli_http_url_check(const char *url, bool *cleartext_remote);

/* Appends s percent-encoded (everything but RFC 3986 unreserved characters). */
int cli_http_escape(struct dynbuf *out, const char *s);

/* Appends prefix, then segment percent-encoded (a host name or id in a path), then suffix. */
int cli_http_path(struct dynbuf *out, const char *prefix, const char *segment, const char *suffix);

/* Appends "?key=value" or "&key=value" (after a '?' already in out), both encoded. */
int cli_http_query_add(struct dynbuf *out, const char *key, const char *value);

#endif
