/* What a notification says and how it travels: the title and text of an alert (or of a test)
 * in English or Japanese, and the three wire forms: the webhook's JSON, an RFC 5322 e-mail
 * (RFC 2047 subject, base64 UTF-8 body) and an RFC 5424 syslog line (octet-counted for TCP,
 * RFC 6587). Pure: the caller gives the time, host name and ids. docs/notifications.md. */
#ifndef MAMORI_NOTIFY_RENDER_H
#define MAMORI_NOTIFY_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dynbuf.h"

#define NOTIFY_TEXT_MAX (64u << 10)  /* title, text */
#define NOTIFY_WIRE_MAX (512u << 10) /* a rendered e-mail or webhook body */
#define NOTIFY_SYSLOG_UDP_MAX 2048   /* RFC 5426: what every receiver should take */
#define NOTIFY_SYSLOG_TCP_MAX 8192

enum notify_kind { NOTIFY_KIND_ALERT, NOTIFY_KIND_TEST };

/* One delivery to render. Strings and alert borrowed for the call. */
struct notify_msg {
	enum notify_kind kind;
	const char *route;     /* the route's name */
	const char *language;  /* "en" or "ja" (anything else: "en") */
	const char *dest_kind; /* "webhook", "email" or "syslog" */
	const char *group;     /* the host's group when the alert was queued; may be NULL */
	json_t *alert;	       /* the alert document with "status"; NULL for a test */
	int64_t delivery_id;
	unsigned attempt; /* 1 for the first */
	int64_t now_ms;
	const char *hostname; /* this server's, for syslog HOSTNAME and the Message-ID */
};

/* title (one line) and text (lines ending in "\n"), appended. Values from the alert have
 * control and bidi characters escaped and URLs defanged (hxxp://). 0 or -ENOSPC/-ENOMEM. */
int notify_render_text(const struct notify_msg *m, struct dynbuf *title, struct dynbuf *text);

/* The webhook body {"type": "mamori.alert"|"mamori.test", "route", "language", "title",
 * "text", "alert", "delivery": {"id", "attempt"}}. Caller frees; NULL when out of memory. */
char *notify_render_webhook(const struct notify_msg *m, const char *title, const char *text);

/* An RFC 5322 message with CRLF line ends for the route's email object. 0 or -errno. */
int notify_render_email(const struct notify_msg *m, json_t *email, const char *title,
			const char *text, const char *message_id, struct dynbuf *out);

/* An RFC 5424 line for the route's syslog object, at most NOTIFY_SYSLOG_UDP_MAX bytes (UDP) or
 * NOTIFY_SYSLOG_TCP_MAX, framed as "LEN SP MSG" for TCP. 0 or -errno. */
int notify_render_syslog(const struct notify_msg *m, json_t *syslog, const char *title,
			 struct dynbuf *out);

/* Helpers, exposed for the unit tests. */
/* s as RFC 2047 encoded words ("=?UTF-8?B?...?=") folded with CRLF SP, lines at most 76
 * columns when the first starts after used columns; plain when s is short printable ASCII. */
int notify_rfc2047(struct dynbuf *out, const char *s, size_t used);
/* s as an RFC 5424 PARAM-VALUE: '"', '\' and ']' escaped, control characters as spaces, cut
 * at max bytes on a UTF-8 boundary. */
int notify_sd_escape(struct dynbuf *out, const char *s, size_t max);
/* PRI = facility * 8 + the syslog severity of an alert severity (critical 2 ... info 6). */
int notify_syslog_pri(int facility, int alert_severity);
/* "Sat, 21 Nov 2026 10:00:00 +0000" */
void notify_rfc5322_date(int64_t ms, char *buf, size_t size);

#endif
