#include "event_json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JSMN_STATIC
#include <jsmn.h>

#include "hex.h"
#include "utf8.h"

#include "banned.h"

#define MAX_DEPTH 8

/* ---- decoding ---- */

struct decoder {
	const char *js;
	jsmntok_t *tok;
	int ntok;
	struct event *ev;
	char *err;
	size_t errlen;
	unsigned unknown;
};

static int fail(struct decoder *d, const char *what, const char *field)
{
	if (d->err)
		snprintf(d->err, d->errlen, "%s%s%s", what, field ? ": " : "", field ? field : "");
	return -EINVAL;
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

/* Unescapes a JSON string body into dst[size] (NUL-terminated, truncated at a character
 * boundary). Returns the length written or -1 when the escapes are malformed. */
static long unescape(const char *s, size_t n, char *dst, size_t size)
{
	size_t i = 0, o = 0;

	if (size == 0)
		return -1;
	while (i < n) {
		char tmp[4];
		size_t k;

		if ((unsigned char)s[i] >= 0x80) {
			/* Raw non-ASCII must be valid UTF-8; anything else becomes U+FFFD so a
			 * decoded event always re-encodes to the same JSON. */
			k = utf8_seq_len((const unsigned char *)s + i, n - i);
			if (k) {
				memcpy(tmp, s + i, k);
				i += k;
			} else {
				k = put_utf8(tmp, 0xFFFD);
				i++;
			}
		} else if (s[i] != '\\') {
			tmp[0] = s[i++];
			k = 1;
		} else {
			if (i + 1 >= n)
				return -1;
			char c = s[i + 1];
			uint32_t cp, lo;

			i += 2;
			switch (c) {
			case '"':
			case '\\':
			case '/':
				tmp[0] = c;
				k = 1;
				break;
			case 'b':
				tmp[0] = '\b';
				k = 1;
				break;
			case 'f':
				tmp[0] = '\f';
				k = 1;
				break;
			case 'n':
				tmp[0] = '\n';
				k = 1;
				break;
			case 'r':
				tmp[0] = '\r';
				k = 1;
				break;
			case 't':
				tmp[0] = '\t';
				k = 1;
				break;
			case 'u':
				if (read_u4(s + i, n - i, &cp))
					return -1;
				i += 4;
				if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n && s[i] == '\\' &&
				    s[i + 1] == 'u' && read_u4(s + i + 2, n - i - 2, &lo) == 0 &&
				    lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					i += 6;
				} else if (cp >= 0xD800 && cp <= 0xDFFF) {
					cp = 0xFFFD;
				}
				if (cp == 0)
					cp = 0xFFFD; /* no NUL inside C strings */
				k = put_utf8(tmp, cp);
				break;
			default:
				return -1;
			}
		}
		if (o + k >= size)
			break; /* truncate at a character boundary */
		memcpy(dst + o, tmp, k);
		o += k;
	}
	dst[o] = '\0';
	return (long)o;
}

static int tok_skip(struct decoder *d, int i)
{
	/* Index just past token i and all its children. */
	int end = i + 1;

	if (d->tok[i].type == JSMN_OBJECT || d->tok[i].type == JSMN_ARRAY) {
		int children = d->tok[i].size;

		if (d->tok[i].type == JSMN_OBJECT)
			children *= 2;
		for (int c = 0; c < children && end < d->ntok; c++)
			end = tok_skip(d, end);
	}
	return end;
}

static bool tok_is_literal(const struct decoder *d, int i, const char *lit)
{
	size_t n = strlen(lit);
	const jsmntok_t *t = &d->tok[i];

	return t->type == JSMN_PRIMITIVE && (size_t)(t->end - t->start) == n &&
	       memcmp(d->js + t->start, lit, n) == 0;
}

static int parse_uint(struct decoder *d, int i, uint64_t max, uint64_t *out, const char *field)
{
	const jsmntok_t *t = &d->tok[i];
	char buf[32];
	char *end;
	size_t n = (size_t)(t->end - t->start);
	unsigned long long v;

	if ((t->type != JSMN_PRIMITIVE && t->type != JSMN_STRING) || n == 0 || n >= sizeof(buf))
		return fail(d, "expected a number", field);
	memcpy(buf, d->js + t->start, n);
	buf[n] = '\0';
	if (buf[0] == '-' || buf[0] == '+')
		return fail(d, "expected a non-negative integer", field);
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || *end || v > max)
		return fail(d, "integer out of range", field);
	*out = v;
	return 0;
}

static int decode_value(struct decoder *d, int i, const struct event_field_desc *f)
{
	char *p = (char *)d->ev + f->offset;
	const jsmntok_t *t = &d->tok[i];
	const char *s = d->js + t->start;
	size_t n = (size_t)(t->end - t->start);
	uint64_t v;
	char tmp[EVENT_NAME_LEN];
	enum event_field id = (enum event_field)(f - event_field_table);
	int rc = 0;

	switch (f->type) {
	case EVT_DERIVED:
		return 0;
	case EVT_STR:
		if (t->type != JSMN_STRING)
			return fail(d, "expected a string", f->name);
		return unescape(s, n, p, f->size) < 0 ? fail(d, "bad string escape", f->name) : 0;
	case EVT_ACTION:
		if (t->type != JSMN_STRING || unescape(s, n, tmp, sizeof(tmp)) < 0)
			return fail(d, "expected a string", f->name);
		d->ev->action = event_action_parse(tmp, strlen(tmp));
		return d->ev->action == EVENT_ACTION_NONE ? fail(d, "unknown event.action", tmp) : 0;
	case EVT_LIST: {
		uint32_t *len = (uint32_t *)(p + f->size);
		int j = i + 1;

		if (t->type != JSMN_ARRAY)
			return fail(d, "expected an array", f->name);
		*len = 0;
		for (int c = 0; c < t->size; c++, j++) {
			char item[EVENT_ARGS_LEN];
			long k;

			if (j >= d->ntok || d->tok[j].type != JSMN_STRING)
				return fail(d, "expected an array of strings", f->name);
			k = unescape(d->js + d->tok[j].start, (size_t)(d->tok[j].end - d->tok[j].start),
				     item, sizeof(item));
			if (k < 0)
				return fail(d, "bad string escape", f->name);
			if (!event_list_add(p, f->size, len, item, (size_t)k)) {
				if (id == EVF_PROCESS_ARGS)
					d->ev->process.args_truncated = true;
				break;
			}
		}
		if (id == EVF_PROCESS_ARGS && d->ev->process.args_truncated)
			event_mark(d->ev, EVF_PROCESS_EXT_ARGS_TRUNCATED);
		return 0;
	}
	case EVT_TIME:
		if (t->type == JSMN_STRING)
			rc = json_parse_time(s, n, (uint64_t *)p) ? fail(d, "bad time", f->name) : 0;
		else
			rc = parse_uint(d, i, UINT64_MAX, (uint64_t *)p, f->name);
		break;
	case EVT_BOOL:
		if (tok_is_literal(d, i, "true"))
			*(bool *)p = true;
		else if (tok_is_literal(d, i, "false"))
			*(bool *)p = false;
		else
			return fail(d, "expected true or false", f->name);
		break;
	case EVT_I32: {
		char buf[16];
		char *end;
		long lv;

		if (t->type != JSMN_PRIMITIVE || n == 0 || n >= sizeof(buf))
			return fail(d, "expected a number", f->name);
		memcpy(buf, s, n);
		buf[n] = '\0';
		errno = 0;
		lv = strtol(buf, &end, 10);
		if (errno || *end || lv < INT32_MIN || lv > INT32_MAX)
			return fail(d, "integer out of range", f->name);
		*(int32_t *)p = (int32_t)lv;
		break;
	}
	case EVT_MODE:
		if (t->type == JSMN_STRING) {
			char buf[16];
			char *end;

			if (n == 0 || n >= sizeof(buf))
				return fail(d, "bad mode", f->name);
			memcpy(buf, s, n);
			buf[n] = '\0';
			errno = 0;
			v = strtoull(buf, &end, 8);
			if (errno || *end || v > 07777)
				return fail(d, "bad mode", f->name);
		} else if ((rc = parse_uint(d, i, 07777, &v, f->name)) != 0) {
			return rc;
		}
		*(uint32_t *)p = (uint32_t)v;
		break;
	case EVT_U32:
	case EVT_STR_U32:
		if ((rc = parse_uint(d, i, UINT32_MAX, &v, f->name)) != 0)
			return rc;
		*(uint32_t *)p = (uint32_t)v;
		break;
	case EVT_U64:
		rc = parse_uint(d, i, UINT64_MAX, (uint64_t *)p, f->name);
		break;
	}
	if (rc == 0)
		event_mark(d->ev, id);
	return rc;
}

/* Walks object token i whose keys extend `path` (of length plen). Returns the index after it. */
static int walk_object(struct decoder *d, int i, char *path, size_t plen, int depth, int *rc)
{
	int pairs = d->tok[i].size, j = i + 1;

	if (depth > MAX_DEPTH) {
		*rc = fail(d, "nesting too deep", NULL);
		return d->ntok;
	}
	for (int k = 0; k < pairs && *rc == 0; k++) {
		const jsmntok_t *key = &d->tok[j];
		size_t klen = (size_t)(key->end - key->start), nlen;
		const struct event_field_desc *f;

		if (j + 1 >= d->ntok || key->type != JSMN_STRING) {
			*rc = fail(d, "malformed object", NULL);
			return d->ntok;
		}
		nlen = plen + (plen ? 1 : 0) + klen;
		if (nlen >= 256) {
			d->unknown++;
			j = tok_skip(d, j + 1);
			continue;
		}
		if (plen)
			path[plen] = '.';
		memcpy(path + plen + (plen ? 1 : 0), d->js + key->start, klen);
		path[nlen] = '\0';
		f = event_field_find(path, nlen);
		if (f) {
			*rc = decode_value(d, j + 1, f);
			j = tok_skip(d, j + 1);
		} else if (d->tok[j + 1].type == JSMN_OBJECT) {
			j = walk_object(d, j + 1, path, nlen, depth + 1, rc);
		} else {
			d->unknown++;
			j = tok_skip(d, j + 1);
		}
		path[plen] = '\0';
	}
	return j;
}

int event_json_decode(const char *json, size_t len, struct event *ev, char *err, size_t errlen,
		      unsigned *unknown)
{
	static __thread jsmntok_t tokens[EVENT_JSON_MAX_TOKENS];
	struct decoder d = {json, tokens, 0, ev, err, errlen, 0};
	char path[256] = "";
	jsmn_parser parser;
	int rc = 0;

	event_reset(ev);
	if (err && errlen)
		err[0] = '\0';
	if (len > EVENT_JSON_MAX_LINE) {
		fail(&d, "line too long", NULL);
		return -E2BIG;
	}
	jsmn_init(&parser);
	d.ntok = jsmn_parse(&parser, json, len, tokens, EVENT_JSON_MAX_TOKENS);
	if (d.ntok == JSMN_ERROR_NOMEM) {
		fail(&d, "too many JSON tokens", NULL);
		return -E2BIG;
	}
	if (d.ntok < 0)
		return fail(&d, "malformed JSON", NULL);
	if (d.ntok < 1 || tokens[0].type != JSMN_OBJECT)
		return fail(&d, "not a JSON object", NULL);
	/* jsmn is lenient about what follows the object; anything but space is an error. */
	for (size_t k = (size_t)tokens[0].end; k < len; k++) {
		if (json[k] != ' ' && json[k] != '\t' && json[k] != '\r' && json[k] != '\n')
			return fail(&d, "trailing data after object", NULL);
	}
	walk_object(&d, 0, path, 0, 0, &rc);
	if (rc == 0 && ev->action == EVENT_ACTION_NONE)
		rc = fail(&d, "missing event.action", NULL);
	if (unknown)
		*unknown = d.unknown;
	return rc;
}

/* ---- time ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned dd)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t n, size_t at, int count, int *out)
{
	int v = 0;

	if (at + (size_t)count > n)
		return -1;
	for (int i = 0; i < count; i++) {
		char c = s[at + (size_t)i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*out = v;
	return 0;
}

int json_parse_time(const char *s, size_t n, uint64_t *ns)
{
	int y, mo, dd, h, mi, se, oh = 0, om = 0;
	uint64_t frac = 0, scale = 1000000000ull;
	size_t i = 19;
	int64_t secs;

	if (digits(s, n, 0, 4, &y) || n < 19 || s[4] != '-' || digits(s, n, 5, 2, &mo) ||
	    s[7] != '-' || digits(s, n, 8, 2, &dd) || (s[10] != 'T' && s[10] != ' ') ||
	    digits(s, n, 11, 2, &h) || s[13] != ':' || digits(s, n, 14, 2, &mi) || s[16] != ':' ||
	    digits(s, n, 17, 2, &se))
		return -EINVAL;
	/* ns since the epoch fit 64 bits until 2554: refuse years where they would wrap. */
	if (mo < 1 || mo > 12 || dd < 1 || dd > 31 || h > 23 || mi > 59 || se > 60 || y < 1970 ||
	    y > 2500)
		return -EINVAL;
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return -EINVAL;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(s[i] - '0') * scale;
			}
			i++;
		}
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i] == '-' ? -1 : 1;

		if (digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
		    digits(s, n, i + 4, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		oh *= sign;
		om *= sign;
		i += 6;
	} else {
		return -EINVAL;
	}
	if (i != n)
		return -EINVAL;
	secs = days_from_civil(y, (unsigned)mo, (unsigned)dd) * 86400 + h * 3600 + mi * 60 + se -
	       (oh * 3600 + om * 60);
	if (secs < 0)
		return -EINVAL;
	*ns = (uint64_t)secs * 1000000000ull + frac;
	return 0;
}
