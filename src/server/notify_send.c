#include "notify_send.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "dynbuf.h"

#include "banned.h"

#define REPLY_KEEP 200 /* bytes of a webhook's error reply kept for last_error */
#define SLICE_MS 200   /* how often a blocked socket looks at *stop */

int notify_send_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void notify_send_global_cleanup(void)
{
	curl_global_cleanup();
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const atomic_bool *stop = arg;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return atomic_load(stop) ? 1 : 0;
}

/* The first REPLY_KEEP bytes of the reply, printable only; the rest is read and dropped. */
static size_t on_reply(char *p, size_t size, size_t n, void *arg)
{
	struct dynbuf *b = arg;

	for (size_t i = 0; i < size * n && b->len < REPLY_KEEP; i++)
		dynbuf_addc(b, p[i] >= ' ' && p[i] <= '~' ? p[i] : ' ');
	return size * n;
}

/* Options every transfer gets: timeouts, no signals, the stop flag, a private CA. */
static void common_opts(CURL *c, json_t *dest, const atomic_bool *stop, char *errbuf)
{
	long timeout = (long)json_integer_value(json_object_get(dest, "timeout_s"));
	const char *ca = json_string_value(json_object_get(dest, "ca_file"));

	if (timeout < 1 || timeout > 60)
		timeout = 10;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout < 10 ? timeout : 10L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)stop);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
}

static void allow_protocols(CURL *c, const char *list, long bits)
{
#if LIBCURL_VERSION_NUM >= 0x075500
	(void)bits;
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, list);
#else
	(void)list;
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, bits);
#endif
}

static bool push(struct curl_slist **list, const char *s)
{
	struct curl_slist *n = curl_slist_append(*list, s);

	if (n)
		*list = n;
	return n != NULL;
}

static int curl_failed(CURLcode code, const char *errbuf, const atomic_bool *stop, char *err,
		       size_t errlen)
{
	if (code == CURLE_ABORTED_BY_CALLBACK && atomic_load(stop))
		return -ECANCELED;
	snprintf(err, errlen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(code));
	switch (code) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	default:
		return -EIO;
	}
}

int notify_send_webhook(json_t *dest, const char *body, size_t len, int64_t delivery_id,
			const atomic_bool *stop, char *err, size_t errlen)
{
	const char *url = json_string_value(json_object_get(dest, "url")), *k;
	char errbuf[CURL_ERROR_SIZE] = "", line[1200];
	struct curl_slist *h = NULL;
	struct dynbuf reply;
	bool ok;
	long status = 0;
	CURLcode code;
	json_t *v;
	CURL *c;
	int rc = -EIO;

	c = curl_easy_init();
	if (!c || !url) {
		snprintf(err, errlen, "cannot start an HTTP transfer");
		curl_easy_cleanup(c);
		return -ENOMEM;
	}
	dynbuf_init(&reply, REPLY_KEEP + 1);
	snprintf(line, sizeof(line), "X-Mamori-Delivery: %lld", (long long)delivery_id);
	ok = push(&h, "Content-Type: application/json; charset=utf-8") &&
	     push(&h, "User-Agent: mamori-server/" MAMORI_VERSION) && push(&h, "Expect:") &&
	     push(&h, line);
	json_object_foreach(json_object_get(dest, "headers"), k, v)
	{
		snprintf(line, sizeof(line), "%s: %s", k, json_string_value(v));
		ok = ok && push(&h, line);
	}
	if (!ok) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	common_opts(c, dest, stop, errbuf);
	allow_protocols(c, "http,https", CURLPROTO_HTTP | CURLPROTO_HTTPS);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_reply);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
	code = curl_easy_perform(c);
	if (code != CURLE_OK) {
		rc = curl_failed(code, errbuf, stop, err, errlen);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		snprintf(err, errlen, "HTTP %ld%s%s", status, reply.len ? ": " : "",
			 reply.len ? reply.data : "");
		rc = -EIO;
		goto out;
	}
	rc = 0;
out:
	dynbuf_release(&reply);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

struct upload {
	const char *p;
	size_t left;
};

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t k = size * n < u->left ? size * n : u->left;

	memcpy(buf, u->p, k);
	u->p += k;
	u->left -= k;
	return k;
}

int notify_send_email(json_t *dest, const char *msg, size_t len, const atomic_bool *stop, char *err,
		      size_t errlen)
{
	const char *url = json_string_value(json_object_get(dest, "smtp_url"));
	const char *from = json_string_value(json_object_get(dest, "from"));
	const char *user = json_string_value(json_object_get(dest, "username"));
	const char *pw = json_string_value(json_object_get(dest, "password"));
	bool starttls = json_is_true(json_object_get(dest, "starttls"));
	char errbuf[CURL_ERROR_SIZE] = "", addr[300];
	struct upload up = {msg, len};
	struct curl_slist *rcpt = NULL;
	bool ok = true;
	CURLcode code;
	json_t *v;
	size_t i;
	CURL *c;
	int rc = -EIO;

	c = curl_easy_init();
	if (!c || !url || !from) {
		snprintf(err, errlen, "cannot start an SMTP transfer");
		curl_easy_cleanup(c);
		return -ENOMEM;
	}
	json_array_foreach(json_object_get(dest, "to"), i, v)
	{
		snprintf(addr, sizeof(addr), "<%s>", json_string_value(v));
		ok = ok && push(&rcpt, addr);
	}
	if (!ok || !rcpt) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	snprintf(addr, sizeof(addr), "<%s>", from);
	common_opts(c, dest, stop, errbuf);
	allow_protocols(c, "smtp,smtps", CURLPROTO_SMTP | CURLPROTO_SMTPS);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &up);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	/* smtps:// is TLS from the start; on smtp:// starttls makes TLS required. */
	curl_easy_setopt(c, CURLOPT_USE_SSL,
			 starttls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
	if (user && pw) {
		curl_easy_setopt(c, CURLOPT_USERNAME, user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, pw);
	}
	code = curl_easy_perform(c);
	rc = code == CURLE_OK ? 0 : curl_failed(code, errbuf, stop, err, errlen);
out:
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	return rc;
}

/* "host:port" or "[v6]:port" into its parts. */
static int split_address(const char *a, char *host, size_t hsize, char *port, size_t psize)
{
	const char *colon;

	if (a[0] == '[') {
		const char *end = strchr(a, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		snprintf(host, hsize, "%.*s", (int)(end - a - 1), a + 1);
		colon = end + 1;
	} else {
		colon = strrchr(a, ':');
		if (!colon)
			return -EINVAL;
		snprintf(host, hsize, "%.*s", (int)(colon - a), a);
	}
	snprintf(port, psize, "%s", colon + 1);
	return 0;
}

/* Waits for events on fd in slices, giving up at *stop or after timeout_ms. */
static int wait_fd(int fd, short events, int timeout_ms, const atomic_bool *stop)
{
	struct pollfd p = {.fd = fd, .events = events};

	for (int waited = 0; waited < timeout_ms; waited += SLICE_MS) {
		int r;

		if (atomic_load(stop))
			return -ECANCELED;
		r = poll(&p, 1, SLICE_MS);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
	return -ETIMEDOUT;
}

static int tcp_send(int fd, const char *p, size_t len, int timeout_ms, const atomic_bool *stop)
{
	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		int rc = wait_fd(fd, POLLOUT, timeout_ms, stop);

		if (rc)
			return rc;
	}
	return 0;
}

int notify_send_syslog(json_t *dest, const char *line, size_t len, const atomic_bool *stop,
		       char *err, size_t errlen)
{
	const char *addr = json_string_value(json_object_get(dest, "address"));
	const char *tr = json_string_value(json_object_get(dest, "transport"));
	int timeout_ms = 1000 * (int)json_integer_value(json_object_get(dest, "timeout_s"));
	bool tcp = tr && !strcmp(tr, "tcp");
	struct addrinfo hints = {.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM}, *res = NULL, *ai;
	char host[300], port[16];
	int rc = -EINVAL, g;

	if (timeout_ms <= 0)
		timeout_ms = 5000;
	if (!addr || split_address(addr, host, sizeof(host), port, sizeof(port))) {
		snprintf(err, errlen, "bad syslog address");
		return -EINVAL;
	}
	g = getaddrinfo(host, port, &hints, &res);
	if (g) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(g));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
				ai->ai_protocol);
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (fd < 0) {
			rc = -errno;
			continue;
		}
		rc = 0;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS)
			rc = -errno;
		if (!rc && tcp) {
			rc = wait_fd(fd, POLLOUT, timeout_ms, stop);
			if (!rc && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
				rc = -soerr;
		}
		if (!rc && tcp)
			rc = tcp_send(fd, line, len, timeout_ms, stop);
		if (!rc && !tcp && send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len)
			rc = errno ? -errno : -EIO;
		close(fd);
		if (!rc || rc == -ECANCELED)
			break;
	}
	freeaddrinfo(res);
	if (rc && rc != -ECANCELED)
		snprintf(err, errlen, "syslog %s %s: %s", tcp ? "tcp" : "udp", addr, strerror(-rc));
	return rc;
}
