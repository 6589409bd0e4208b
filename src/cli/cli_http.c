#include "cli_http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "dynbuf.h"

#include "banned.h"

#define URL_CAP (1u << 20)
#define HEADER_CAP 8192

int cli_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void cli_http_global_cleanup(void)
{
	curl_global_cleanup();
}

struct sink {
	struct dynbuf buf;
	int rc; /* why the last write was refused */
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	s->rc = dynbuf_add(&s->buf, p, n);
	return s->rc ? 0 : n;
}

static int map_curl_error(CURLcode cc, const struct sink *s)
{
	switch (cc) {
	case CURLE_WRITE_ERROR:
		if (s->rc == -ENOSPC)
			return -EFBIG;
		return s->rc ? s->rc : -EIO;
	case CURLE_FILESIZE_EXCEEDED:
		return -EFBIG;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_SSL_CACERT_BADFILE:
		return -EINVAL;
	default:
		return -EHOSTUNREACH;
	}
}

/* Whether the integer literal s[0..n) (optional '-', digits) lies outside int64_t. */
static bool int_overflows(const char *s, size_t n)
{
	bool neg = s[0] == '-';
	const char *limit = neg ? "9223372036854775808" : "9223372036854775807";
	size_t digits = n - neg;

	if (digits != 19)
		return digits > 19;
	return memcmp(s + neg, limit, 19) > 0;
}

/* Rewrites integers past int64_t (u64 counters and inode numbers stored by agents) as strings,
 * so one such value does not make a whole reply unreadable for jansson. */
static int quote_big_ints(const char *s, size_t len, struct dynbuf *out)
{
	bool in_str = false;
	size_t i = 0;
	int rc = 0;

	while (i < len && !rc) {
		size_t start = i, n;
		bool integer = true;

		if (in_str || (s[i] != '-' && (s[i] < '0' || s[i] > '9'))) {
			if (in_str && s[i] == '\\' && i + 1 < len) {
				rc = dynbuf_add(out, s + i, 2);
				i += 2;
				continue;
			}
			if (s[i] == '"')
				in_str = !in_str;
			rc = dynbuf_addc(out, s[i++]);
			continue;
		}
		i += s[i] == '-';
		while (i < len &&
		       ((s[i] >= '0' && s[i] <= '9') || (s[i] && strchr(".eE+-", s[i])))) {
			if (s[i] < '0' || s[i] > '9')
				integer = false;
			i++;
		}
		n = i - start;
		if (integer && int_overflows(s + start, n)) {
			rc = dynbuf_addc(out, '"');
			if (!rc)
				rc = dynbuf_add(out, s + start, n);
			if (!rc)
				rc = dynbuf_addc(out, '"');
		} else {
			rc = dynbuf_add(out, s + start, n);
		}
	}
	return rc;
}

static void parse_body(struct cli_http_reply *reply, const struct dynbuf *b)
{
	json_error_t jerr;
	struct dynbuf fixed;

	if (!b->len) {
		reply->empty = true;
		return;
	}
	reply->json = json_loadb(b->data, b->len, 0, &jerr);
	if (!reply->json && json_error_code(&jerr) == json_error_numeric_overflow) {
		dynbuf_init(&fixed, 2 * CLI_HTTP_MAX_REPLY);
		if (!quote_big_ints(b->data, b->len, &fixed))
			reply->json = json_loadb(fixed.data, fixed.len, 0, &jerr);
		dynbuf_release(&fixed);
	}
	if (!reply->json)
		(void)snprintf(reply->error, sizeof(reply->error), "invalid JSON at byte %d: %s",
			       jerr.position, jerr.text);
}

/* Options every request shares: no redirects (the token must not follow one to another host),
 * http(s) only, TLS 1.3 or newer, and a CA file that replaces the system store when given. */
static int set_common(CURL *h, const struct cli_http_conf *conf, struct curl_slist *hdrs,
		      struct sink *sink, char *errbuf)
{
	long timeout = conf->timeout_s > 0 ? conf->timeout_s : CLI_HTTP_TIMEOUT_S;
	CURLcode cc = CURLE_OK;

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (cc == CURLE_OK)                                                                \
			cc = curl_easy_setopt(h, opt, val);                                        \
	} while (0)
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT, (long)CLI_HTTP_CONNECT_TIMEOUT_S);
	SET(CURLOPT_TIMEOUT, timeout);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (conf->cacert) {
		SET(CURLOPT_CAINFO, conf->cacert);
		SET(CURLOPT_CAPATH, (char *)NULL);
	}
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_USERAGENT, "mamori/" MAMORI_VERSION);
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CLI_HTTP_MAX_REPLY);
	SET(CURLOPT_WRITEFUNCTION, on_data);
	SET(CURLOPT_WRITEDATA, sink);
#undef SET
	return cc == CURLE_OK ? 0 : -EINVAL;
}

static int set_method(CURL *h, const char *method, const char *payload)
{
	CURLcode cc;

	if (!strcmp(method, "GET"))
		return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK ? 0 : -EINVAL;
	cc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload ? payload : "");
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				      (curl_off_t)(payload ? strlen(payload) : 0));
	if (cc == CURLE_OK && strcmp(method, "POST") != 0)
		cc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	return cc == CURLE_OK ? 0 : -EINVAL;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *h, int *rc)
{
	struct curl_slist *n;

	if (*rc)
		return list;
	n = curl_slist_append(list, h);
	if (!n) {
		*rc = -ENOMEM;
		return list;
	}
	return n;
}

int cli_http_request(const struct cli_http_conf *conf, const char *method, const char *path,
		     const json_t *body, struct cli_http_reply *reply)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct dynbuf url, auth;
	struct sink sink = {.rc = 0};
	char *payload = NULL;
	CURL *h = NULL;
	CURLcode cc;
	int rc = 0;

	memset(reply, 0, sizeof(*reply));
	dynbuf_init(&url, URL_CAP);
	dynbuf_init(&auth, HEADER_CAP);
	dynbuf_init(&sink.buf, CLI_HTTP_MAX_REPLY);
	if (dynbuf_printf(&url, "%s/api/v1%s", conf->base_url, path)) {
		(void)snprintf(reply->error, sizeof(reply->error), "request URL too long");
		rc = -EINVAL;
		goto out;
	}
	hdrs = add_header(hdrs, "Accept: application/json", &rc);
	if (conf->token) {
		if (!rc)
			rc = dynbuf_printf(&auth, "Authorization: Bearer %s", conf->token);
		hdrs = add_header(hdrs, auth.data, &rc);
	}
	if (body) {
		payload = json_dumps(body, JSON_COMPACT);
		if (!payload)
			rc = rc ? rc : -ENOMEM;
		hdrs = add_header(hdrs, "Content-Type: application/json", &rc);
	}
	h = rc ? NULL : curl_easy_init();
	if (!rc && !h)
		rc = -ENOMEM;
	if (!rc)
		rc = set_common(h, conf, hdrs, &sink, errbuf);
	if (!rc && curl_easy_setopt(h, CURLOPT_URL, url.data) != CURLE_OK)
		rc = -EINVAL;
	if (!rc)
		rc = set_method(h, method, payload);
	if (rc) {
		(void)snprintf(reply->error, sizeof(reply->error), "cannot set up the request: %s",
			       strerror(-rc));
		goto out;
	}
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply->status);
	if (cc != CURLE_OK) {
		rc = map_curl_error(cc, &sink);
		if (rc == -EFBIG)
			(void)snprintf(reply->error, sizeof(reply->error),
				       "reply larger than %lu MiB", CLI_HTTP_MAX_REPLY >> 20);
		else
			(void)snprintf(reply->error, sizeof(reply->error), "%s",
				       errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	parse_body(reply, &sink.buf);
out:
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(payload);
	if (auth.data)
		explicit_bzero(auth.data, auth.len);
	dynbuf_release(&auth);
	dynbuf_release(&sink.buf);
	dynbuf_release(&url);
	return rc;
}

void cli_http_reply_release(struct cli_http_reply *reply)
{
	json_decref(reply->json);
	reply->json = NULL;
}

static bool is_loopback(const char *host)
{
	return !strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "[::1]") ||
	       !strcmp(host, "::1");
}

int cli_http_url_check(const char *url, bool *cleartext_remote)
{
	char *scheme = NULL, *host = NULL, *query = NULL, *fragment = NULL;
	CURLU *u = curl_url();
	int rc = -EINVAL;

	*cleartext_remote = false;
	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	/* A query or fragment in the base would end up in the middle of every request URL. */
	if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_OK)
		goto out;
	if (!strcmp(scheme, "https")) {
		rc = 0;
	} else if (!strcmp(scheme, "http")) {
		*cleartext_remote = !is_loopback(host);
		rc = 0;
	}
out:
	curl_free(fragment);
	curl_free(query);
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int cli_http_escape(struct dynbuf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
		if (is_unreserved(*p)) {
			rc = dynbuf_addc(out, (char)*p);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};

			rc = dynbuf_add(out, e, sizeof(e));
		}
	}
	return rc;
}

int cli_http_path(struct dynbuf *out, const char *prefix, const char *segment, const char *suffix)
{
	int rc = dynbuf_adds(out, prefix);

	if (!rc)
		rc = cli_http_escape(out, segment);
	if (!rc)
		rc = dynbuf_adds(out, suffix);
	return rc;
}

int cli_http_query_add(struct dynbuf *out, const char *key, const char *value)
{
	bool first = !out->data || !memchr(out->data, '?', out->len);
	int rc;

	rc = dynbuf_addc(out, first ? '?' : '&');
	if (!rc)
		rc = cli_http_escape(out, key);
	if (!rc)
		rc = dynbuf_addc(out, '=');
	if (!rc)
		rc = cli_http_escape(out, value);
	return rc;
}
