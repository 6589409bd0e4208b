#include "detect_doc_json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS /* O(1) per comma and close instead of a scan back over the tokens */
/* Parent links spare jsmn a backward scan over the tokens at every ',' and '}': a third faster
 * on ECS events. */
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "detect_doc.h"
#include "detect_fields.h"
#include "event_json.h"
#include "hex.h"

#include "banned.h"

/* Deeper nesting cannot carry a name that fits DETECT_DOC_JSON_MAX_NAME in any real event. */
#define MAX_DEPTH 64
/* An escaped key whose raw text is longer cannot unescape to a name that fits (\uXXXX is the
 * largest escape: 6 bytes for at least one). */
#define MAX_RAW_KEY (6 * DETECT_DOC_JSON_MAX_NAME)

struct flat {
	struct detect_doc *doc;
	const char *js;
	const jsmntok_t *tok;
	int ntok;
	bool keep_other;
	char path[DETECT_DOC_JSON_MAX_NAME + 1];
	char key[MAX_RAW_KEY]; /* an escaped key, unescaped */
};

static int fail(char *err, size_t errlen, int rc, const char *why)
{
	if (err && errlen)
		(void)snprintf(err, errlen, "%s", why);
	return rc;
}

static int read_u4(const char *s, size_t n, uint32_t *out)
{
	uint32_t v = 0;

	if (n < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hex_value(s[i]);

		if (h < 0)
			return -1;
		v = (v << 4) | (uint32_t)h;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Unescapes a JSON string body s[0, n) into dst[0, cap); SIZE_MAX when it does not fit. No escape
 * unescapes to more bytes than it is written with, so cap = n always suffices. Lone surrogates
 * become U+FFFD; \u0000 stays a NUL byte (values are counted, and Sigma's utf16 modifiers look
 * for them); a malformed escape (jsmn already refuses them) is kept as written. */
static size_t unescape(const char *s, size_t n, char *dst, size_t cap)
{
	size_t i = 0, o = 0;

	while (i < n) {
		const char *bs = memchr(s + i, '\\', n - i);
		size_t run = bs ? (size_t)(bs - (s + i)) : n - i, k = 1;
		char tmp[4];
		uint32_t cp, lo;

		if (run > cap - o)
			return SIZE_MAX;
		memcpy(dst + o, s + i, run);
		o += run;
		i += run;
		if (i >= n)
			break;
		/* s[i] is a backslash. */
		tmp[0] = i + 1 < n ? s[i + 1] : '\\';
		switch (tmp[0]) {
		case 'b':
			tmp[0] = '\b';
			break;
		case 'f':
			tmp[0] = '\f';
			break;
		case 'n':
			tmp[0] = '\n';
			break;
		case 'r':
			tmp[0] = '\r';
			break;
		case 't':
			tmp[0] = '\t';
			break;
		case 'u':
			if (read_u4(s + i + 2, n - i - 2, &cp)) {
				tmp[0] = '\\';
				i -= 1; /* keep the backslash, go on with the 'u' as text */
				break;
			}
			i += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF && i + 8 <= n && s[i + 2] == '\\' &&
			    s[i + 3] == 'u' && read_u4(s + i + 4, n - i - 4, &lo) == 0 &&
			    lo >= 0xDC00 && lo <= 0xDFFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				i += 6;
			} else if (cp >= 0xD800 && cp <= 0xDFFF) {
				cp = 0xFFFD;
			}
			k = put_utf8(tmp, cp);
			break;
		default: /* '"', '\\', '/' */
			break;
		}
		if (k > cap - o)
			return SIZE_MAX;
		memcpy(dst + o, tmp, k);
		o += k;
		i += 2;
	}
	return o;
}

/* Index just past token i and everything inside it: tokens come in text order, so the subtree
 * is every following token that starts before i ends. */
static int skip(const struct flat *w, int i)
{
	int end = w->tok[i].end, j = i + 1;

	while (j < w->ntok && w->tok[j].start < end)
		j++;
	return j;
}

static void leaf(struct flat *w, int i, size_t plen)
{
	const jsmntok_t *t = &w->tok[i];
	const char *s = w->js + t->start;
	size_t n = (size_t)(t->end - t->start);
	uint32_t id = detect_doc_field(w->doc, w->path, plen);
	size_t room, cap, out;
	char *p;

	if (id == DETECT_FIELD_NONE) {
		if (!w->keep_other)
			return;
		id = DETECT_FIELD_OTHER;
	}
	if (t->type == JSMN_PRIMITIVE) {
		if (n == 0 || s[0] == 'n') /* null: no value */
			return;
		(void)detect_doc_add_id(w->doc, id, s, n);
		return;
	}
	if (!memchr(s, '\\', n)) {
		(void)detect_doc_add_id(w->doc, id, s, n);
		return;
	}
	if (w->doc->nvalues >= DETECT_DOC_MAX_VALUES) {
		w->doc->overflow++;
		return;
	}
	/* Reserve what the raw text needs, or all that is left: the unescaped text is shorter. */
	room = (size_t)DETECT_DOC_ARENA - w->doc->arena_used;
	cap = n < room ? n : (room ? room - 1 : 0);
	p = detect_doc_alloc(w->doc, cap);
	out = p ? unescape(s, n, p, cap) : SIZE_MAX;
	if (out == SIZE_MAX) {
		if (p)
			detect_doc_alloc_shrink(w->doc, p, 0);
		w->doc->overflow++;
		return;
	}
	detect_doc_alloc_shrink(w->doc, p, out);
	(void)detect_doc_add_id(w->doc, id, p, out);
}

/* Extends path[0, plen) with key token j; the new length, or 0 when the name is too long. */
static size_t push_key(struct flat *w, int j, size_t plen)
{
	const jsmntok_t *k = &w->tok[j];
	const char *s = w->js + k->start;
	size_t n = (size_t)(k->end - k->start), sep = plen ? 1 : 0;

	if (memchr(s, '\\', n)) {
		if (n > sizeof(w->key))
			return 0;
		n = unescape(s, n, w->key, sizeof(w->key));
		s = w->key;
	}
	if (plen + sep + n > DETECT_DOC_JSON_MAX_NAME || plen + sep + n == 0)
		return 0;
	if (sep)
		w->path[plen] = '.';
	memcpy(w->path + plen + sep, s, n);
	return plen + sep + n;
}

/* Walks the value at token i named path[0, plen); returns the index after it, or -1 when the
 * token structure is broken. */
static int walk(struct flat *w, int i, size_t plen, int depth)
{
	const jsmntok_t *t;
	int j = i + 1;

	if (i >= w->ntok)
		return -1;
	t = &w->tok[i];
	if (t->type == JSMN_STRING || t->type == JSMN_PRIMITIVE) {
		if (plen)
			leaf(w, i, plen);
		return i + 1;
	}
	if (depth >= MAX_DEPTH)
		return skip(w, i);
	if (t->type == JSMN_ARRAY) {
		for (int c = 0; c < t->size && j >= 0; c++)
			j = walk(w, j, plen, depth + 1);
		return j;
	}
	if (t->type != JSMN_OBJECT)
		return -1;
	for (int c = 0; c < t->size; c++) {
		size_t klen;

		if (j + 1 >= w->ntok || w->tok[j].type != JSMN_STRING || w->tok[j].size != 1)
			return -1;
		klen = push_key(w, j, plen);
		if (klen == 0) {
			j = skip(w, j + 1);
			continue;
		}
		j = walk(w, j + 1, klen, depth + 1);
		if (j < 0)
			return -1;
	}
	return j;
}

int detect_doc_from_json(struct detect_doc *doc, const char *json, size_t len, char *err,
			 size_t errlen)
{
	/* 80 KiB (20-byte tokens): per thread rather than on the stack of whoever calls. */
	static __thread jsmntok_t tokens[DETECT_DOC_JSON_MAX_TOKENS];
	struct flat w;
	const struct detect_value *ts;
	jsmn_parser parser;

	detect_doc_reset(doc);
	if (err && errlen)
		err[0] = '\0';
	if (len > DETECT_DOC_JSON_MAX_LEN)
		return fail(err, errlen, -E2BIG, "document too long");
	jsmn_init(&parser);
	w.ntok = jsmn_parse(&parser, json, len, tokens, DETECT_DOC_JSON_MAX_TOKENS);
	if (w.ntok == JSMN_ERROR_NOMEM)
		return fail(err, errlen, -E2BIG, "too many JSON tokens");
	if (w.ntok == JSMN_ERROR_PART)
		return fail(err, errlen, -EINVAL, "truncated JSON");
	if (w.ntok < 0)
		return fail(err, errlen, -EINVAL, "malformed JSON");
	if (w.ntok == 0 || tokens[0].type != JSMN_OBJECT)
		return fail(err, errlen, -EINVAL, "not a JSON object");
	/* jsmn stops at the first complete value; anything but space after it is an error. */
	for (size_t k = (size_t)tokens[0].end; k < len; k++) {
		if (json[k] != ' ' && json[k] != '\t' && json[k] != '\r' && json[k] != '\n')
			return fail(err, errlen, -EINVAL, "trailing data after the object");
	}
	w.doc = doc;
	w.js = json;
	w.tok = tokens;
	w.keep_other = detect_fields_keep_other(doc->fields);
	if (walk(&w, 0, 0, 0) < 0) {
		detect_doc_reset(doc);
		return fail(err, errlen, -EINVAL, "malformed object");
	}
	ts = detect_doc_first(doc, DETECT_FIELD_TIMESTAMP);
	if (ts && json_parse_time(ts->str, ts->len, &doc->time_ns) != 0)
		doc->time_ns = 0;
	detect_doc_classify_ecs(doc);
	return 0;
}
