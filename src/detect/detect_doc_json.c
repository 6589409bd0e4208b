#include "detect_doc_json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "detect_doc.h"
#include "detect_fields.h"
#include "event_json.h"
#include "hex.h"
#include "le.h"

#include "banned.h"

/* Deeper nesting cannot carry a name that fits DETECT_DOC_JSON_MAX_NAME in any real event. */
#define MAX_DEPTH 64
/* An escaped key whose raw text is longer cannot unescape to a name that fits (\uXXXX is the
 * largest escape: 6 bytes for at least one). */
#define MAX_RAW_KEY (6 * DETECT_DOC_JSON_MAX_NAME)

/* Container levels kept below the root; deeper ones are read (and checked) but give no values.
 * Each level is a token, so nesting is bounded by DETECT_DOC_JSON_MAX_TOKENS. */
#define MAX_LEVELS (DETECT_DOC_JSON_MAX_TOKENS + 1)

struct name_cache;

struct flat {
	struct detect_doc *doc;
	const char *p;	 /* next byte */
	const char *end; /* of the text (detect_doc_from_json: or its first NUL) */
	unsigned ntok;
	bool keep_other;
	struct name_cache *names;
	char path[DETECT_DOC_JSON_MAX_NAME + 1];
	char key[MAX_RAW_KEY]; /* an escaped key, unescaped */
};

/* The open containers: kind and the length of their name in path (SKIP: no values under it). */
#define SKIP UINT16_MAX
struct levels {
	bool object[MAX_LEVELS];
	uint16_t plen[MAX_LEVELS];
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

/* The field ids of the names met lately, per thread: events of one producer repeat their names,
 * and comparing a name with the one cached in its slot costs a few loads where the field table
 * would hash it and probe. Valid for one field table in one state (its count of names). */
#define NAME_CACHE_LOG2 7
#define NAME_CACHE_MAX 56 /* longer names go to the table */
struct name_cache {
	uint64_t serial; /* of the table the ids come from (detect_fields_serial) */
	unsigned count;
	struct {
		uint32_t len; /* 0: empty */
		uint32_t id;
		char name[NAME_CACHE_MAX];
	} e[1u << NAME_CACHE_LOG2];
};

/* This thread's cache, emptied when the doc's field table is not the one it was filled from. */
static struct name_cache *name_cache_for(const struct detect_fields *f)
{
	static __thread struct name_cache nc;

	if (nc.serial != detect_fields_serial(f) || nc.count != detect_fields_count(f)) {
		memset(nc.e, 0, sizeof(nc.e));
		nc.serial = detect_fields_serial(f);
		nc.count = detect_fields_count(f);
	}
	return &nc;
}

static uint32_t field_of(struct flat *w, size_t plen)
{
	struct name_cache *nc = w->names;
	uint32_t id;

	if (plen < 8 || plen > NAME_CACHE_MAX)
		return detect_doc_field(w->doc, w->path, plen);
	uint64_t h = (le64_get((const uint8_t *)w->path + plen - 8) ^ plen) * 0x9E3779B97F4A7C15ull;
	unsigned slot = (unsigned)(h >> (64 - NAME_CACHE_LOG2));
	if (nc->e[slot].len == plen && detect_name_equal(nc->e[slot].name, w->path, plen)) {
		id = nc->e[slot].id;
	} else {
		id = detect_fields_find(w->doc->fields, w->path, plen);
		nc->e[slot].len = (uint32_t)plen;
		nc->e[slot].id = id;
		memcpy(nc->e[slot].name, w->path, plen);
	}
	return id < w->doc->nfields ? id : DETECT_FIELD_NONE; /* as detect_doc_field */
}

/* One scalar (s[0, n): a string body, or a primitive when !string) named path[0, plen). */
static void leaf(struct flat *w, const char *s, size_t n, bool string, bool escaped, size_t plen)
{
	uint32_t id = field_of(w, plen);
	size_t room, cap, out;
	char *p;

	if (id == DETECT_FIELD_NONE) {
		if (!w->keep_other)
			return;
		id = DETECT_FIELD_OTHER;
	}
	if (!string) {
		if (n == 0 || s[0] == 'n') /* null: no value */
			return;
		(void)detect_doc_add_id(w->doc, id, s, n);
		return;
	}
	if (!escaped) {
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

/* Extends path[0, plen) with key s[0, n); the new length, or 0 when the name is too long (or
 * empty at the top). */
static size_t push_key(struct flat *w, const char *s, size_t n, bool escaped, size_t plen)
{
	size_t sep = plen ? 1 : 0;

	if (escaped) {
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

enum { OK = 0, MALFORMED = -1, TRUNCATED = -2, TOO_MANY = -3, NOT_OBJECT = -4, TRAILING = -5 };

/* Compact JSON has no white space between tokens: one comparison says so. */
static inline void space(struct flat *w)
{
	while (w->p < w->end && (unsigned char)*w->p <= ' ' &&
	       (*w->p == ' ' || *w->p == '\n' || *w->p == '\r' || *w->p == '\t'))
		w->p++;
}

static int token(struct flat *w)
{
	return ++w->ntok > DETECT_DOC_JSON_MAX_TOKENS ? TOO_MANY : OK;
}

static bool is_hex(char c)
{
	return hex_value(c) >= 0;
}

/* The first '"', '\\' or NUL in [q, end), or end. Sixteen (or eight) bytes at a time: strings
 * are short, and a library call per string costs more than the bytes. */
static const char *quote_or_backslash(const char *q, const char *end)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;

#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
	const __m128i zero = _mm_setzero_si128();
	for (; end - q >= 16; q += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
		unsigned hit = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
		    _mm_cmpeq_epi8(v, zero)));
		if (hit)
			return q + __builtin_ctz(hit);
	}
#endif
	for (; end - q >= 8; q += 8) {
		uint64_t v, a, b, hit;

		v = le64_get((const uint8_t *)q); /* byte k in bits 8k: ctz finds the first */
		a = v ^ (ones * '"');
		b = v ^ (ones * '\\');
		hit = (((a - ones) & ~a) | ((b - ones) & ~b) | ((v - ones) & ~v)) & highs;
		if (hit)
			return q + __builtin_ctzll(hit) / 8;
	}
	while (q < end && *q != '"' && *q != '\\' && *q)
		q++;
	return q;
}

/* The rest of string(): the body starts at start, and q (not before it) is where to look on. */
static __attribute__((noinline)) int string_from(struct flat *w, const char *start, const char *q,
						 const char **s, size_t *n, bool *escaped)
{
	*escaped = false;
	for (;;) {
		q = quote_or_backslash(q, w->end);
		if (q >= w->end || !*q)
			return TRUNCATED; /* the text ends, or stops at a NUL, inside the string */
		if (*q == '"') {
			*s = start;
			*n = (size_t)(q - start);
			w->p = q + 1;
			return OK;
		}
		*escaped = true;
		if (w->end - q < 2)
			return TRUNCATED;
		switch (q[1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			q += 2;
			break;
		case 'u':
			for (int k = 2; k < 6; k++) {
				if (q + k >= w->end)
					return TRUNCATED;
				if (!is_hex(q[k]))
					return MALFORMED;
			}
			q += 6;
			break;
		default:
			return MALFORMED;
		}
	}
}

/* The string at w->p (its opening quote): body s[0, n), whether it holds escapes (each checked
 * as JSON allows them). Most strings (keys, names, ids) end within a few blocks of sixteen bytes
 * with no escape: that case is decided here from the two masks, without a call or a reload of
 * the byte found. */
static inline __attribute__((always_inline)) int string(struct flat *w, const char **s, size_t *n,
							bool *escaped)
{
	const char *start = w->p + 1, *q = start;

#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
	const __m128i zero = _mm_setzero_si128();
	for (; w->end - q >= 16; q += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
		unsigned qm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote));
		unsigned bm = (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_cmpeq_epi8(v, backslash), _mm_cmpeq_epi8(v, zero)));
		if (!(qm | bm))
			continue;
		/* bm & -bm: the first backslash or NUL (0 when none: the mask below is all ones).
		 */
		unsigned before = qm & ((bm & -bm) - 1u);
		if (!before)
			break; /* a backslash or NUL comes first: string_from sees to it */
		q += __builtin_ctz(before);
		*s = start;
		*n = (size_t)(q - start);
		*escaped = false;
		w->p = q + 1;
		return OK;
	}
#endif
	return string_from(w, start, q, s, n, escaped);
}

/* A number (JSON's grammar), true, false or null at w->p. */
static int primitive(struct flat *w)
{
	const char *q = w->p;
	static const struct {
		const char *s;
		size_t len;
	} WORDS[] = {{"true", 4}, {"false", 5}, {"null", 4}};

	for (size_t k = 0; k < sizeof(WORDS) / sizeof(WORDS[0]); k++)
		if (*q == WORDS[k].s[0]) {
			size_t len = WORDS[k].len;
			if ((size_t)(w->end - q) < len)
				return memcmp(q, WORDS[k].s, (size_t)(w->end - q)) ? MALFORMED
										   : TRUNCATED;
			if (memcmp(q, WORDS[k].s, len))
				return MALFORMED;
			w->p = q + len;
			return OK;
		}
	if (q < w->end && *q == '-')
		q++;
	if (q >= w->end)
		return TRUNCATED;
	if (*q == '0')
		q++;
	else if (*q >= '1' && *q <= '9')
		while (q < w->end && *q >= '0' && *q <= '9')
			q++;
	else
		return MALFORMED;
	if (q < w->end && *q == '.') {
		if (++q >= w->end)
			return TRUNCATED;
		if (*q < '0' || *q > '9')
			return MALFORMED;
		while (q < w->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < w->end && (*q == 'e' || *q == 'E')) {
		if (++q < w->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= w->end)
			return TRUNCATED;
		if (*q < '0' || *q > '9')
			return MALFORMED;
		while (q < w->end && *q >= '0' && *q <= '9')
			q++;
	}
	w->p = q;
	return OK;
}

/* Reads the object at w->p in one pass, with no recursion: every scalar becomes a value under
 * its dotted name as it is met. Containers nested deeper than MAX_DEPTH and names longer than
 * DETECT_DOC_JSON_MAX_NAME are read through without values. */
static int read_object(struct flat *w, struct levels *lv)
{
	unsigned depth = 0; /* open containers */
	size_t plen = 0;    /* name of the value about to be read; 0: none */
	const char *s;
	size_t n;
	bool esc;
	int rc;

	goto value;
key:
	space(w);
	if (w->p >= w->end)
		return TRUNCATED;
	if (*w->p != '"')
		return MALFORMED;
	if ((rc = token(w)) || (rc = string(w, &s, &n, &esc)))
		return rc;
	plen = lv->plen[depth - 1] == SKIP ? 0 : push_key(w, s, n, esc, lv->plen[depth - 1]);
	space(w);
	if (w->p >= w->end)
		return TRUNCATED;
	if (*w->p++ != ':')
		return MALFORMED;
value:
	space(w);
	if (w->p >= w->end)
		return TRUNCATED;
	if ((rc = token(w)))
		return rc;
	if (*w->p == '{' || *w->p == '[') {
		bool object = *w->p++ == '{';
		if (depth == MAX_LEVELS)
			return TOO_MANY; /* unreachable: each level is a token */
		lv->object[depth] = object;
		/* The root is level 0 with the empty name; a level without a usable name or
		 * deeper than MAX_DEPTH gives no values. */
		lv->plen[depth] = depth == 0			    ? 0
				  : depth >= MAX_DEPTH || plen == 0 ? SKIP
								    : (uint16_t)plen;
		depth++;
		space(w);
		if (w->p >= w->end)
			return TRUNCATED;
		if (*w->p == (object ? '}' : ']')) {
			w->p++;
			depth--;
			goto next;
		}
		if (object)
			goto key;
		plen = lv->plen[depth - 1] == SKIP ? 0 : lv->plen[depth - 1];
		goto value;
	}
	if (depth == 0)
		return MALFORMED; /* not an object: the caller says so */
	if (*w->p == '"') {
		if ((rc = string(w, &s, &n, &esc)))
			return rc;
		if (plen)
			leaf(w, s, n, true, esc, plen);
	} else {
		s = w->p;
		if ((rc = primitive(w)))
			return rc;
		if (plen)
			leaf(w, s, (size_t)(w->p - s), false, false, plen);
	}
next:
	if (depth == 0)
		return OK;
	space(w);
	if (w->p >= w->end)
		return TRUNCATED;
	if (*w->p == ',') {
		w->p++;
		if (lv->object[depth - 1])
			goto key;
		plen = lv->plen[depth - 1] == SKIP ? 0 : lv->plen[depth - 1];
		goto value;
	}
	if (*w->p != (lv->object[depth - 1] ? '}' : ']'))
		return MALFORMED;
	w->p++;
	depth--;
	goto next;
}

/* Parses the object in json[0, end - json) into doc, with nothing but space after it up to
 * limit; OK or the error. */
static int parse(struct detect_doc *doc, const char *json, const char *end, const char *limit)
{
	/* 12 KiB: per thread rather than on the stack of whoever calls. */
	static __thread struct levels lv;
	struct flat w;

	w.doc = doc;
	w.p = json;
	w.end = end;
	w.ntok = 0;
	w.keep_other = detect_fields_keep_other(doc->fields);
	w.names = name_cache_for(doc->fields);
	space(&w);
	if (w.p >= w.end || *w.p != '{')
		return NOT_OBJECT;
	int rc = read_object(&w, &lv);
	if (rc != OK)
		return rc;
	/* Anything but space after the object is an error. */
	for (const char *k = w.p; k < limit; k++)
		if (*k != ' ' && *k != '\t' && *k != '\r' && *k != '\n')
			return TRAILING;
	return OK;
}

int detect_doc_from_json(struct detect_doc *doc, const char *json, size_t len, char *err,
			 size_t errlen)
{
	const struct detect_value *ts;
	int rc;

	detect_doc_reset(doc);
	if (err && errlen)
		err[0] = '\0';
	if (len > DETECT_DOC_JSON_MAX_LEN)
		return fail(err, errlen, -E2BIG, "document too long");
	/* A NUL anywhere makes the line an error, as it always has: the text was cut at its first
	 * NUL, and nothing but space may follow the object. A parse that succeeds read no NUL
	 * (strings stop at one, and no other token holds one), so the NUL is looked for only when
	 * the parse fails; the text before it is then parsed again for the error it always gave
	 * ("truncated JSON", mostly). */
	rc = parse(doc, json, json + len, json + len);
	if (rc != OK) {
		const char *nul = memchr(json, '\0', len);
		if (nul) {
			detect_doc_reset(doc);
			rc = parse(doc, json, nul, json + len);
		}
	}
	if (rc != OK) {
		detect_doc_reset(doc);
		switch (rc) {
		case TOO_MANY:
			return fail(err, errlen, -E2BIG, "too many JSON tokens");
		case NOT_OBJECT:
			return fail(err, errlen, -EINVAL, "not a JSON object");
		case TRAILING:
			return fail(err, errlen, -EINVAL, "trailing data after the object");
		default:
			return fail(err, errlen, -EINVAL,
				    rc == TRUNCATED ? "truncated JSON" : "malformed JSON");
		}
	}
	ts = detect_doc_first(doc, DETECT_FIELD_TIMESTAMP);
	if (ts && json_parse_time(ts->str, ts->len, &doc->time_ns) != 0)
		doc->time_ns = 0;
	detect_doc_classify_ecs(doc);
	return 0;
}
