#include "ingest_doc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS /* O(1) per comma and close instead of a scan back over the tokens */
#include <jsmn.h>

#include "event_json.h"
#include "utf8.h"

#include "banned.h"

enum slot {
	S_TS,
	S_HOST,
	S_ACTION,
	S_CATEGORY,
	S_ENTITY,
	S_PARENT_ENTITY,
	S_PID,
	S_NAME,
	S_EXE,
	S_HASH,
	S_PATH,
	S_SRC_IP,
	S_DST_IP,
	S_DST_PORT,
	S_USER,
	S_DNS,
	S_KIND,
	S_COUNT
};

#define F(p, s) {p, sizeof(p) - 1, s}
static const struct {
	const char *path;
	size_t len;
	enum slot slot;
} fields[] = {
    F("@timestamp", S_TS),
    F("host.name", S_HOST),
    F("event.action", S_ACTION),
    F("event.category", S_CATEGORY),
    F("process.entity_id", S_ENTITY),
    F("process.parent.entity_id", S_PARENT_ENTITY),
    F("process.pid", S_PID),
    F("process.name", S_NAME),
    F("process.executable", S_EXE),
    F("process.hash.sha256", S_HASH),
    F("file.path", S_PATH),
    F("source.ip", S_SRC_IP),
    F("destination.ip", S_DST_IP),
    F("destination.port", S_DST_PORT),
    F("user.name", S_USER),
    F("dns.question.name", S_DNS),
    F("event.kind", S_KIND),
};
#undef F

struct walk {
	const char *js;
	const jsmntok_t *tok;
	int ntok;
	int found[S_COUNT]; /* token index of the value, 0 when absent */
	char path[512];
	size_t plen;
	const char *why;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The value of the 4 hex digits of a \u escape at s (n bytes available), or -1. */
static int hex4(const char *s, size_t n)
{
	int v = 0;

	if (n < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		int h = hexval(s[k]);

		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/* A string token's body: valid UTF-8, no control characters, valid escapes, no \u0000 and no
 * unpaired \u surrogate (PostgreSQL's jsonb refuses both). */
static bool string_ok(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0;

	while (i < n) {
		unsigned char c;
		uint64_t x;

		/* Eight plain bytes at a time: none below 0x20, none 0x80 or above, no backslash. */
		if (n - i >= 8) {
			memcpy(&x, s + i, 8);
			if (!(((x - ones * 0x20) | x | ((x ^ (ones * '\\')) - ones)) & highs)) {
				i += 8;
				continue;
			}
		}
		c = (unsigned char)s[i];

		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (i + 1 >= n)
				return false;
			if (s[i + 1] == 'u') {
				int v = hex4(s + i + 2, n - i - 2), lo;

				if (v <= 0 || (v >= 0xDC00 && v <= 0xDFFF))
					return false;
				i += 6;
				if (v >= 0xD800 && v <= 0xDBFF) {
					if (i + 2 > n || s[i] != '\\' || s[i + 1] != 'u')
						return false;
					lo = hex4(s + i + 2, n - i - 2);
					if (lo < 0xDC00 || lo > 0xDFFF)
						return false;
					i += 6;
				}
				continue;
			}
			if (!strchr("\"\\/bfnrt", s[i + 1]))
				return false;
			i += 2;
			continue;
		}
		if (c >= 0x80) {
			size_t k = utf8_seq_len((const unsigned char *)s + i, n - i);

			if (!k)
				return false;
			i += k;
			continue;
		}
		i++;
	}
	return true;
}

/* JSON number grammar, bounded so PostgreSQL's numeric (behind jsonb) accepts it. */
static bool number_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (n > 100)
		return false;
	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return false;
	if (s[i] == '0') {
		i++;
	} else if (s[i] >= '1' && s[i] <= '9') {
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	} else {
		return false;
	}
	if (i < n && s[i] == '.') {
		size_t d = ++i;

		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t d;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		d = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d || i - d > 4)
			return false;
	}
	return i == n;
}

static bool primitive_ok(const char *s, size_t n)
{
	if ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5)) ||
	    (n == 4 && !memcmp(s, "null", 4)))
		return true;
	return number_ok(s, n);
}

/* A token's extent in the text: jsmn's string tokens exclude their quotes. */
static int tok_lo(const jsmntok_t *t)
{
	return t->start - (t->type == JSMN_STRING);
}

static int tok_hi(const jsmntok_t *t)
{
	return t->end + (t->type == JSMN_STRING);
}

/* jsmn does not check separators (it takes "[1 2]", "{,}", "{\"a\"::1}" and a ':' inside an
 * array), so the bytes between two tokens must be whitespace around exactly sep (none when 0). */
static bool gap_ok(const char *js, int from, int to, char sep)
{
	bool seen = !sep;

	if (from > to)
		return false;
	for (int i = from; i < to; i++) {
		char c = js[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c != sep || seen)
			return false;
		seen = true;
	}
	return seen;
}

static void match_path(struct walk *w, int value)
{
	size_t i;

	/* Most keys of a document are none of the fields: their length and first byte rule them
	 * out before any comparison. */
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (fields[i].len == w->plen && fields[i].path[0] == w->path[0] &&
		    !memcmp(fields[i].path, w->path, w->plen)) {
			if (!w->found[fields[i].slot])
				w->found[fields[i].slot] = value;
			return;
		}
	}
}

/* Validates the value at token i and returns the index after it, or -1. Object keys extend
 * w->path so known fields are found whether nested or dotted. */
static int walk(struct walk *w, int i, int depth)
{
	const jsmntok_t *t;

	if (i >= w->ntok || depth > 64) {
		w->why = depth > 64 ? "nested too deeply" : "truncated document";
		return -1;
	}
	t = &w->tok[i];
	switch (t->type) {
	case JSMN_STRING:
		if (!string_ok(w->js + t->start, (size_t)(t->end - t->start))) {
			w->why = "invalid string (escape, control character, NUL or UTF-8)";
			return -1;
		}
		return i + 1;
	case JSMN_PRIMITIVE:
		if (!primitive_ok(w->js + t->start, (size_t)(t->end - t->start))) {
			w->why = "invalid literal";
			return -1;
		}
		return i + 1;
	case JSMN_ARRAY: {
		int j = i + 1, pos = t->start + 1;

		for (int k = 0; k < t->size; k++) {
			if (j < w->ntok && !gap_ok(w->js, pos, tok_lo(&w->tok[j]), k ? ',' : 0))
				goto bad_sep;
			if (j < w->ntok)
				pos = tok_hi(&w->tok[j]);
			j = walk(w, j, depth + 1);
			if (j < 0)
				return -1;
		}
		if (!gap_ok(w->js, pos, t->end - 1, 0))
			goto bad_sep;
		return j;
	}
	case JSMN_OBJECT: {
		int j = i + 1, pos = t->start + 1;

		for (int k = 0; k < t->size; k++) {
			const jsmntok_t *key;
			size_t saved = w->plen, kl;

			if (j >= w->ntok || w->tok[j].type != JSMN_STRING) {
				w->why = "object key is not a string";
				return -1;
			}
			if (j + 1 >= w->ntok) {
				w->why = "truncated document";
				return -1;
			}
			key = &w->tok[j];
			if (!gap_ok(w->js, pos, tok_lo(key), k ? ',' : 0) ||
			    !gap_ok(w->js, tok_hi(key), tok_lo(&w->tok[j + 1]), ':'))
				goto bad_sep;
			pos = tok_hi(&w->tok[j + 1]);
			kl = (size_t)(key->end - key->start);
			if (!string_ok(w->js + key->start, kl)) {
				w->why = "invalid key";
				return -1;
			}
			if (w->plen + kl + 2 < sizeof(w->path)) {
				if (w->plen)
					w->path[w->plen++] = '.';
				memcpy(w->path + w->plen, w->js + key->start, kl);
				w->plen += kl;
				w->path[w->plen] = 0;
				match_path(w, j + 1);
			} else {
				/* Too long to track: nothing below this key may match a field. */
				w->plen = sizeof(w->path) - 1;
			}
			j = walk(w, j + 1, depth + 1);
			w->plen = saved;
			w->path[saved] = 0;
			if (j < 0)
				return -1;
		}
		if (!gap_ok(w->js, pos, t->end - 1, 0))
			goto bad_sep;
		return j;
	}
	default:
		w->why = "unexpected token";
		return -1;
	}
bad_sep:
	w->why = "missing or misplaced ',' or ':'";
	return -1;
}

/* Copies a string value unescaped into the arena. */
static const char *take_string(struct walk *w, int i, char **arena)
{
	const jsmntok_t *t = &w->tok[i];
	const char *s = w->js + t->start;
	size_t n = (size_t)(t->end - t->start), k = 0;
	char *out = *arena;

	if (t->type == JSMN_ARRAY) {
		/* event.category: the first element. */
		if (t->size < 1 || i + 1 >= w->ntok || w->tok[i + 1].type != JSMN_STRING)
			return NULL;
		return take_string(w, i + 1, arena);
	}
	if (t->type != JSMN_STRING)
		return NULL;
	for (size_t j = 0; j < n; j++) {
		if (s[j] != '\\') {
			out[k++] = s[j];
			continue;
		}
		j++;
		switch (s[j]) {
		case 'b':
			out[k++] = '\b';
			break;
		case 'f':
			out[k++] = '\f';
			break;
		case 'n':
			out[k++] = '\n';
			break;
		case 'r':
			out[k++] = '\r';
			break;
		case 't':
			out[k++] = '\t';
			break;
		case 'u': {
			unsigned v = 0;

			for (int h = 1; h <= 4; h++)
				v = v << 4 | (unsigned)hexval(s[j + (size_t)h]);
			j += 4;
			/* Indexed columns only need a faithful rendering of BMP text; surrogate
			 * pairs are kept as U+FFFD here (the document keeps them exactly). */
			if (v >= 0xD800 && v <= 0xDFFF)
				v = 0xFFFD;
			if (v < 0x80) {
				out[k++] = (char)v;
			} else if (v < 0x800) {
				out[k++] = (char)(0xC0 | (v >> 6));
				out[k++] = (char)(0x80 | (v & 0x3F));
			} else {
				out[k++] = (char)(0xE0 | (v >> 12));
				out[k++] = (char)(0x80 | ((v >> 6) & 0x3F));
				out[k++] = (char)(0x80 | (v & 0x3F));
			}
			break;
		}
		default:
			out[k++] = s[j];
			break;
		}
	}
	out[k++] = 0;
	*arena += k;
	return out;
}

static int64_t take_int(struct walk *w, int i)
{
	const jsmntok_t *t = &w->tok[i];
	const char *s = w->js + t->start;
	size_t n = (size_t)(t->end - t->start), j;
	int64_t v = 0;

	if (t->type != JSMN_PRIMITIVE || n == 0 || n > 18)
		return -1;
	for (j = 0; j < n; j++) {
		if (s[j] < '0' || s[j] > '9')
			return -1;
		v = v * 10 + (s[j] - '0');
	}
	return v;
}

int ingest_doc_parse(const char *line, size_t len, struct store_event_row *row, char **arena,
		     char *err, size_t errlen)
{
	static __thread jsmntok_t tokens[INGEST_DOC_MAX_TOKENS];
	struct walk w = {.js = line, .tok = tokens};
	jsmn_parser p;
	uint64_t ns;
	int end;

	memset(row, 0, sizeof(*row));
	row->pid = row->dst_port = -1;
	if (len > INGEST_DOC_MAX_LINE) {
		snprintf(err, errlen, "line longer than %zu bytes", INGEST_DOC_MAX_LINE);
		return -E2BIG;
	}
	jsmn_init(&p);
	w.ntok = jsmn_parse(&p, line, len, tokens, INGEST_DOC_MAX_TOKENS);
	if (w.ntok == JSMN_ERROR_NOMEM) {
		snprintf(err, errlen, "more than %d JSON tokens", INGEST_DOC_MAX_TOKENS);
		return -E2BIG;
	}
	if (w.ntok < 1) {
		snprintf(err, errlen, "not JSON");
		return -EINVAL;
	}
	if (tokens[0].type != JSMN_OBJECT) {
		snprintf(err, errlen, "not a JSON object");
		return -EINVAL;
	}
	end = walk(&w, 0, 0);
	if (end < 0) {
		snprintf(err, errlen, "%s", w.why ? w.why : "invalid JSON");
		return -EINVAL;
	}
	if (end != w.ntok) {
		snprintf(err, errlen, "trailing data after the object");
		return -EINVAL;
	}
	for (size_t i = 0; i < (size_t)tokens[0].start; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
			snprintf(err, errlen, "data before the object");
			return -EINVAL;
		}
	}
	for (size_t i = (size_t)tokens[0].end; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
			snprintf(err, errlen, "trailing data after the object");
			return -EINVAL;
		}
	}
	if (!w.found[S_TS] || tokens[w.found[S_TS]].type != JSMN_STRING ||
	    json_parse_time(line + tokens[w.found[S_TS]].start,
			    (size_t)(tokens[w.found[S_TS]].end - tokens[w.found[S_TS]].start),
			    &ns) != 0) {
		snprintf(err, errlen, "missing or invalid @timestamp");
		return -EINVAL;
	}
	if (ns > (uint64_t)INT64_MAX) {
		snprintf(err, errlen, "@timestamp out of range");
		return -EINVAL;
	}
	row->doc = line;
	row->doc_len = (size_t)tokens[0].end;
	row->ts = (int64_t)ns;
#define STR(slot, member)                                                                          \
	if (w.found[slot])                                                                         \
		row->member = take_string(&w, w.found[slot], arena);
	STR(S_HOST, host)
	STR(S_ACTION, action)
	STR(S_CATEGORY, category)
	STR(S_ENTITY, entity_id)
	STR(S_PARENT_ENTITY, parent_entity_id)
	STR(S_NAME, name)
	STR(S_EXE, exe)
	STR(S_HASH, hash)
	STR(S_PATH, path)
	STR(S_SRC_IP, src_ip)
	STR(S_DST_IP, dst_ip)
	STR(S_USER, user_name)
	STR(S_DNS, dns)
	STR(S_KIND, kind)
#undef STR
	if (w.found[S_PID])
		row->pid = take_int(&w, w.found[S_PID]);
	if (w.found[S_DST_PORT])
		row->dst_port = take_int(&w, w.found[S_DST_PORT]);
	return 0;
}
