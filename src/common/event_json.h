/* ECS JSON for struct event: one nested JSON object per event (NDJSON line). The encoder never
 * allocates beyond the caller's dynbuf; the decoder uses jsmn with a fixed token array and accepts
 * nested or dotted keys, so hostile input is bounded in both time and memory. */
#ifndef MAMORI_EVENT_JSON_H
#define MAMORI_EVENT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"
#include "event.h"

/* Longest line the decoder accepts and most JSON tokens in one document. */
#define EVENT_JSON_MAX_LINE ((size_t)256 * 1024)
#define EVENT_JSON_MAX_TOKENS 2048

/* Appends ev as one JSON object (no newline). 0, or -ENOSPC when out's cap is reached (out is
 * then left as it was). */
int event_json_encode(const struct event *ev, struct dynbuf *out);

/* Parses one JSON object into ev (reset first). 0 on success; -EINVAL (malformed, wrong type for
 * a known field, unknown event.action), -E2BIG (too long or too many tokens). err gets a short
 * reason. Unknown fields are skipped and counted in *unknown when non-NULL. */
int event_json_decode(const char *json, size_t len, struct event *ev, char *err, size_t errlen,
		      unsigned *unknown);

/* Appends s[0..n) as a JSON string literal with quotes; invalid UTF-8 bytes become \u00XX. */
int json_escape(struct dynbuf *out, const char *s, size_t n);
/* Formats ns since the epoch as 2026-01-02T03:04:05.123456789Z into buf (>= 32 bytes). */
void json_format_time(uint64_t ns, char *buf, size_t size);
/* Parses an RFC 3339 time into ns since the epoch; -EINVAL when malformed. */
int json_parse_time(const char *s, size_t n, uint64_t *ns);

#endif
