/* The transports of notifications: an HTTP POST to a webhook and SMTP through libcurl, syslog
 * over UDP or TCP through a socket. Each call blocks up to the route's timeout, so they run on
 * the notification worker only; *stop aborts one in progress (shutdown). */
#ifndef MAMORI_NOTIFY_SEND_H
#define MAMORI_NOTIFY_SEND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Once per process, before the worker starts (libcurl's global state). 0 or -EIO. */
int notify_send_global_init(void);
void notify_send_global_cleanup(void);

/* Each returns 0 when the destination took the message, -ECANCELED when *stop was set meanwhile,
 * or another negative errno with the reason ("HTTP 503: ...", "connection refused") in err:
 * -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH (and other socket errors) when the destination was
 * not reached at all, -EIO when it refused the message.
 * dest is the route's webhook, email or syslog object. */
int notify_send_webhook(json_t *dest, const char *body, size_t len, int64_t delivery_id,
			const atomic_bool *stop, char *err, size_t errlen);
int notify_send_email(json_t *dest, const char *msg, size_t len, const atomic_bool *stop, char *err,
		      size_t errlen);
int notify_send_syslog(json_t *dest, const char *line, size_t len, const atomic_bool *stop,
		       char *err, size_t errlen);

#endif
