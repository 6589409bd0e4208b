/* A growable byte buffer with a hard cap: appends past the cap fail with -ENOSPC and leave the
 * buffer unchanged, so input from the network, files or the kernel can never grow it unbounded. */
#ifndef MAMORI_DYNBUF_H
#define MAMORI_DYNBUF_H

#include <stddef.h>
#include <stdarg.h>

struct dynbuf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len;
	size_t alloc;
	size_t cap;
};

void dynbuf_init(struct dynbuf *b, size_t cap);
void dynbuf_release(struct dynbuf *b);
/* Empties the buffer and keeps its memory. */
void dynbuf_reset(struct dynbuf *b);
/* Makes room for extra more bytes (plus the NUL) without changing len: callers may then write
 * up to extra bytes at data + len and commit them with dynbuf_truncate/len. -ENOSPC past the cap.
 */
int dynbuf_reserve(struct dynbuf *b, size_t extra);
int dynbuf_add(struct dynbuf *b, const void *p, size_t n);
int dynbuf_addc(struct dynbuf *b, char c);
int dynbuf_adds(struct dynbuf *b, const char *s);
int dynbuf_printf(struct dynbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Shortens the buffer to len bytes (len <= b->len). */
void dynbuf_truncate(struct dynbuf *b, size_t len);

#endif
