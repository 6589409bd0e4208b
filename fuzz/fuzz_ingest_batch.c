/* An agent batch through the server's ingest path without a store: the first byte picks zstd
 * (odd) or plain NDJSON (even), the rest is the body. Each line is parsed with exactly the arena
 * ingest_doc_parse documents (len + 32 bytes, so ASan sees any overrun). An accepted line must
 * be one strictly valid JSON object that PostgreSQL's jsonb takes (checked by an independent
 * validator below), and its columns NUL-terminated valid UTF-8 inside the arena. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch_codec.h"
#include "dynbuf.h"
#include "ingest_doc.h"

#include "banned.h"

#define MAX_PLAIN ((size_t)1 << 20)
#define ROUND_TRIP_MAX ((size_t)64 << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- an independent strict JSON validator (RFC 8259 plus jsonb's string rules) ---- */

struct cur {
	const unsigned char *s;
	size_t n, i;
};

/* Length of a well-formed UTF-8 sequence at p (RFC 3629's table of byte ranges), 0 if none. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t k;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		k = 2;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		k = 3;
		if (p[0] == 0xE0)
			lo = 0xA0;
		else if (p[0] == 0xED)
			hi = 0x9F;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		k = 4;
		if (p[0] == 0xF0)
			lo = 0x90;
		else if (p[0] == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < k || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t j = 2; j < k; j++)
		if (p[j] < 0x80 || p[j] > 0xBF)
			return 0;
	return k;
}

static bool utf8_ok(const unsigned char *p, size_t n)
{
	for (size_t i = 0, k; i < n; i += k) {
		k = utf8_seq(p + i, n - i);
		if (!k)
			return false;
	}
	return true;
}

static void skip_ws(struct cur *c)
{
	while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' ||
			       c->s[c->i] == '\r'))
		c->i++;
}

static bool eat(struct cur *c, char ch)
{
	if (c->i < c->n && c->s[c->i] == (unsigned char)ch) {
		c->i++;
		return true;
	}
	return false;
}

static bool is_digit(const struct cur *c)
{
	return c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9';
}

static long u_escape(const struct cur *c, size_t at)
{
	long v = 0;

	if (at + 6 > c->n || c->s[at] != '\\' || c->s[at + 1] != 'u')
		return -1;
	for (size_t j = at + 2; j < at + 6; j++) {
		unsigned char h = c->s[j];

		v <<= 4;
		if (h >= '0' && h <= '9')
			v |= h - '0';
		else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')
			v |= (h | 0x20) - 'a' + 10;
		else
			return -1;
	}
	return v;
}

static bool j_string(struct cur *c)
{
	if (!eat(c, '"'))
		return false;
	while (c->i < c->n) {
		unsigned char ch = c->s[c->i];
		size_t k;

		if (ch == '"') {
			c->i++;
			return true;
		}
		if (ch < 0x20)
			return false;
		if (ch == '\\') {
			long v = u_escape(c, c->i), lo;

			if (c->i + 1 >= c->n)
				return false;
			if (c->s[c->i + 1] != 'u') {
				if (!c->s[c->i + 1] || !strchr("\"\\/bfnrt", c->s[c->i + 1]))
					return false;
				c->i += 2;
				continue;
			}
			/* jsonb: no NUL, surrogates only as a high-low pair. */
			if (v <= 0 || (v >= 0xDC00 && v <= 0xDFFF))
				return false;
			c->i += 6;
			if (v >= 0xD800 && v <= 0xDBFF) {
				lo = u_escape(c, c->i);
				if (lo < 0xDC00 || lo > 0xDFFF)
					return false;
				c->i += 6;
			}
			continue;
		}
		k = utf8_seq(c->s + c->i, c->n - c->i);
		if (!k)
			return false;
		c->i += k;
	}
	return false;
}

static bool j_number(struct cur *c)
{
	eat(c, '-');
	if (eat(c, '0')) {
		/* no leading zeros */
	} else if (is_digit(c)) {
		while (is_digit(c))
			c->i++;
	} else {
		return false;
	}
	if (eat(c, '.')) {
		if (!is_digit(c))
			return false;
		while (is_digit(c))
			c->i++;
	}
	if (eat(c, 'e') || eat(c, 'E')) {
		if (!eat(c, '+'))
			eat(c, '-');
		if (!is_digit(c))
			return false;
		while (is_digit(c))
			c->i++;
	}
	return true;
}

static bool j_literal(struct cur *c, const char *lit)
{
	size_t n = strlen(lit);

	if (c->n - c->i < n || memcmp(c->s + c->i, lit, n) != 0)
		return false;
	c->i += n;
	return true;
}

static bool j_value(struct cur *c, int depth)
{
	if (depth > 200 || c->i >= c->n)
		return false;
	switch (c->s[c->i]) {
	case '{':
		c->i++;
		skip_ws(c);
		if (eat(c, '}'))
			return true;
		for (;;) {
			skip_ws(c);
			if (!j_string(c))
				return false;
			skip_ws(c);
			if (!eat(c, ':'))
				return false;
			skip_ws(c);
			if (!j_value(c, depth + 1))
				return false;
			skip_ws(c);
			if (eat(c, '}'))
				return true;
			if (!eat(c, ','))
				return false;
		}
	case '[':
		c->i++;
		skip_ws(c);
		if (eat(c, ']'))
			return true;
		for (;;) {
			skip_ws(c);
			if (!j_value(c, depth + 1))
				return false;
			skip_ws(c);
			if (eat(c, ']'))
				return true;
			if (!eat(c, ','))
				return false;
		}
	case '"':
		return j_string(c);
	case 't':
		return j_literal(c, "true");
	case 'f':
		return j_literal(c, "false");
	case 'n':
		return j_literal(c, "null");
	default:
		return j_number(c);
	}
}

/* doc[0..n) is leading whitespace and exactly one JSON object. */
static bool json_object_ok(const char *doc, size_t n)
{
	struct cur c = {(const unsigned char *)doc, n, 0};

	skip_ws(&c);
	return c.i < c.n && c.s[c.i] == '{' && j_value(&c, 0) && c.i == c.n;
}

/* ---- the target ---- */

static void check_column(const char *col, const char *arena, size_t room)
{
	size_t left, k;

	if (!col)
		return;
	if (col < arena || col >= arena + room)
		abort();
	left = (size_t)(arena + room - col);
	k = strnlen(col, left);
	if (k == left || !utf8_ok((const unsigned char *)col, k))
		abort();
}

/* The line gets its own exactly sized copy so an over-read past it is caught too. */
static void check_line(const char *text, size_t len)
{
	size_t room = len + 32;
	char *arena = malloc(room), *cursor = arena, err[160], *line = malloc(len);
	struct store_event_row row;
	int rc;

	if (!arena || !line) {
		free(arena);
		free(line);
		return;
	}
	memcpy(line, text, len);
	rc = ingest_doc_parse(line, len, &row, &cursor, err, sizeof(err));
	if (cursor < arena || cursor > arena + room)
		abort();
	if (rc == 0) {
		const char *cols[] = {
		    row.host,	row.action,    row.category, row.entity_id, row.parent_entity_id,
		    row.name,	row.exe,       row.hash,     row.path,	    row.src_ip,
		    row.dst_ip, row.user_name, row.dns};

		if (row.doc != line || row.doc_len > len || row.ts < 0 || row.pid < -1 ||
		    row.dst_port < -1)
			abort();
		if (!json_object_ok(row.doc, row.doc_len))
			abort();
		for (size_t i = row.doc_len; i < len; i++)
			if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
				abort();
		for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
			check_column(cols[i], arena, room);
	} else if ((rc != -EINVAL && rc != -E2BIG) || !memchr(err, 0, sizeof(err)) || !err[0]) {
		abort();
	}
	free(line);
	free(arena);
}

static void round_trip(const uint8_t *body, size_t len)
{
	struct dynbuf z, back;

	dynbuf_init(&z, ROUND_TRIP_MAX * 2);
	dynbuf_init(&back, ROUND_TRIP_MAX);
	if (batch_compress(body, len, 1, &z) ||
	    batch_decompress(z.data, z.len, ROUND_TRIP_MAX, &back) || back.len != len ||
	    (len && memcmp(back.data, body, len) != 0))
		abort();
	dynbuf_release(&z);
	dynbuf_release(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dynbuf plain;
	const char *text;
	size_t text_len;

	if (size < 1)
		return 0;
	dynbuf_init(&plain, MAX_PLAIN);
	if (data[0] & 1) {
		int rc = batch_decompress(data + 1, size - 1, MAX_PLAIN, &plain);

		/* A failure leaves the buffer as it was; success stays under the cap. */
		if ((rc && plain.len) || plain.len > MAX_PLAIN ||
		    (rc && rc != -EINVAL && rc != -E2BIG))
			abort();
		if (rc) {
			dynbuf_release(&plain);
			return 0;
		}
		text = plain.data ? plain.data : "";
		text_len = plain.len;
	} else {
		text = (const char *)data + 1;
		text_len = size - 1;
		if (text_len <= ROUND_TRIP_MAX)
			round_trip(data + 1, text_len);
	}
	/* Lines as ingest_batch splits them: on '\n', without a trailing '\r', blanks skipped. */
	for (size_t i = 0; i < text_len;) {
		const char *nl = memchr(text + i, '\n', text_len - i);
		size_t ll = nl ? (size_t)(nl - (text + i)) : text_len - i, next = i + ll + 1;

		if (ll && text[i + ll - 1] == '\r')
			ll--;
		if (ll)
			check_line(text + i, ll);
		i = next;
	}
	dynbuf_release(&plain);
	return 0;
}
