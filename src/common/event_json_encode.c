/* The ECS JSON encoder: every event the agent sees goes through it once, so it is written for
 * speed. Each field reserves room for its worst case in one check and is then written through a
 * plain pointer; the nesting keys ("process":{"parent":{) are rendered once at start-up; strings
 * are copied eight bytes at a time while nothing in them needs escaping. Near the buffer's cap a
 * field falls back to its exact size, so the cap is honoured to the byte. */
#include "event_json.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "utf8.h"

#include "banned.h"

#define MAX_DEPTH 8
#define SCALAR_MAX 64 /* longest non-string value: a time, a number, a derived list */
#define KEY_SLACK 8   /* put_words may write this much past a key */

/* ---- room in the buffer ---- */

/* Points *o at n writable bytes (plus the NUL) at the end of b. */
static inline int room(struct dynbuf *b, size_t n, char **o)
{
	if (!b->data || b->alloc - b->len <= n) {
		int rc = dynbuf_reserve(b, n);

		if (rc)
			return rc;
	}
	*o = b->data + b->len;
	return 0;
}

static inline void commit(struct dynbuf *b, char *end)
{
	b->len = (size_t)(end - b->data);
	b->data[b->len] = '\0';
}

/* ---- strings ---- */

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* True when none of the 8 bytes in v needs escaping: no control byte, DEL, quote, backslash or
 * byte >= 0x80 (those go through the UTF-8 check one at a time). */
static inline bool plain8(uint64_t v)
{
	uint64_t q = v ^ (ONES * '"'), bs = v ^ (ONES * '\\'), del = v ^ (ONES * 0x7f);
	uint64_t t = (v - ONES * 0x20) & ~v;

	t |= (q - ONES) & ~q;
	t |= (bs - ONES) & ~bs;
	t |= (del - ONES) & ~del;
	return ((t | v) & HIGHS) == 0;
}

#ifdef __SSE2__
#include <emmintrin.h>

/* SSE2 form of plain8 for 16 bytes: bytes >= 0x80 are negative as signed, so one compare
 * catches them together with the control bytes. */
static inline bool plain16(const unsigned char *p)
{
	__m128i v = _mm_loadu_si128((const __m128i *)p);
	__m128i bad = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));

	bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
	bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
	bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
	return _mm_movemask_epi8(bad) == 0;
}
#endif

/* Copies the run of bytes at p[i..n) that need no escaping, 16 or 8 at a time; returns the new
 * output position and advances *i past what it copied. */
static inline char *copy_plain(char *o, const unsigned char *p, size_t *i, size_t n)
{
	size_t k = *i;

#ifdef __SSE2__
	while (n - k >= 16 && plain16(p + k)) {
		memcpy(o, p + k, 16);
		o += 16;
		k += 16;
	}
#endif
	while (n - k >= 8) {
		uint64_t v;

		memcpy(&v, p + k, 8);
		if (!plain8(v))
			break;
		memcpy(o, &v, 8);
		o += 8;
		k += 8;
	}
	*i = k;
	return o;
}

static inline bool plain1(unsigned c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

static char *escape_one(char *o, unsigned c)
{
	static const char hexd[] = "0123456789abcdef";

	*o++ = '\\';
	switch (c) {
	case '"':
	case '\\':
		*o++ = (char)c;
		break;
	case '\n':
		*o++ = 'n';
		break;
	case '\t':
		*o++ = 't';
		break;
	case '\r':
		*o++ = 'r';
		break;
	default: /* other control bytes, DEL and bytes that are not valid UTF-8: \u00XX */
		*o++ = 'u';
		*o++ = '0';
		*o++ = '0';
		*o++ = hexd[c >> 4];
		*o++ = hexd[c & 15];
	}
	return o;
}

/* Writes p[0..n) as a quoted JSON string at o, which has room for 6 * n + 2 bytes. With
 * to_nul, p is a C string in an array of n bytes and the string ends at its NUL: one pass, the
 * word test stops at the NUL as it does at any control byte. */
static inline char *escape_run(char *o, const unsigned char *p, size_t n, bool to_nul)
{
	size_t i = 0;

	*o++ = '"';
	for (;;) {
		unsigned c;
		size_t k;

		o = copy_plain(o, p, &i, n);
		if (i >= n || ((c = p[i]) == 0 && to_nul))
			break;
		if (plain1(c)) {
			*o++ = (char)c;
			i++;
		} else if (c >= 0x80 && (k = utf8_seq_len(p + i, n - i)) > 0) {
			memcpy(o, p + i, k);
			o += k;
			i += k;
		} else {
			o = escape_one(o, c);
			i++;
		}
	}
	*o++ = '"';
	return o;
}

static char *escape_put(char *o, const unsigned char *p, size_t n)
{
	return escape_run(o, p, n, false);
}

static char *escape_put_z(char *o, const unsigned char *p, size_t max)
{
	return escape_run(o, p, max, true);
}

/* Exactly what escape_put writes for p[0..n). */
static size_t escape_len(const unsigned char *p, size_t n)
{
	size_t i = 0, len = 2;

	while (i < n) {
		unsigned c = p[i];
		size_t k;

		if (plain1(c)) {
			len++;
			i++;
		} else if (c >= 0x80 && (k = utf8_seq_len(p + i, n - i)) > 0) {
			len += k;
			i += k;
		} else {
			len +=
			    (c == '"' || c == '\\' || c == '\n' || c == '\t' || c == '\r') ? 2 : 6;
			i++;
		}
	}
	return len;
}

int json_escape(struct dynbuf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char *o;
	int rc = n <= (SIZE_MAX - 2) / 6 ? room(out, 6 * n + 2, &o) : -ENOSPC;

	if (rc == -ENOSPC)
		rc = room(out, escape_len(p, n), &o);
	if (rc)
		return rc;
	commit(out, escape_put(o, p, n));
	return 0;
}

/* NUL-separated strings list[0..len) as a JSON array; room for list_bound(len) bytes. */
static char *list_put(char *o, const char *list, uint32_t len)
{
	uint32_t i = 0;

	*o++ = '[';
	while (i < len) {
		size_t n = strnlen(list + i, len - i);

		if (i)
			*o++ = ',';
		o = escape_put(o, (const unsigned char *)list + i, n);
		i += (uint32_t)n + 1;
	}
	*o++ = ']';
	return o;
}

static size_t list_bound(uint32_t len)
{
	return 9 * (size_t)len + 5; /* 6 per byte, and a comma and two quotes per separator */
}

static size_t list_len(const char *list, uint32_t len)
{
	size_t total = 2;
	uint32_t i = 0;

	while (i < len) {
		size_t n = strnlen(list + i, len - i);

		total += (i ? 1 : 0) + escape_len((const unsigned char *)list + i, n);
		i += (uint32_t)n + 1;
	}
	return total;
}

/* ---- scalars ---- */

static char *put_u64(char *o, uint64_t v)
{
	size_t n = 1;
	char *end;

	for (uint64_t t = v; t >= 10; t /= 10)
		n++;
	end = o + n;
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return o + n;
}

/* Short strings byte by byte: a variable-length memcpy here is inlined as `rep movs`, whose
 * start-up cost dwarfs copying a dozen bytes. */
static char *put_str(char *o, const char *s)
{
	while (*s)
		*o++ = *s++;
	return o;
}

#define PUT_LIT(o, lit) (memcpy((o), (lit), sizeof(lit) - 1), (o) + sizeof(lit) - 1)

/* The "YYYY-MM-DDTHH:MM:SS" of sec: events come in bursts within one second, so it is formatted
 * once per second per thread. */
static const char *date_of(time_t sec, size_t *len)
{
	static __thread time_t last_sec = -1;
	static __thread char date[24];
	static __thread size_t date_len;

	if (sec != last_sec) {
		struct tm tm;

		gmtime_r(&sec, &tm);
		date_len = strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
		last_sec = sec;
	}
	*len = date_len;
	return date;
}

/* Writes date "." 9 digits "Z" at o (at most 34 bytes). */
static char *time_body(char *o, uint64_t ns)
{
	size_t dl;
	const char *date = date_of((time_t)(ns / 1000000000ull), &dl);
	uint32_t frac = (uint32_t)(ns % 1000000000ull);

	if (dl == 19)
		memcpy(o, date, 19); /* the usual four-digit year: a fixed-size copy */
	else
		memcpy(o, date, dl);
	o += dl;
	*o++ = '.';
	for (int i = 8; i >= 0; i--) {
		o[i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	o += 9;
	*o++ = 'Z';
	return o;
}

void json_format_time(uint64_t ns, char *buf, size_t size)
{
	if (size < 31) {
		size_t dl;
		const char *date = date_of((time_t)(ns / 1000000000ull), &dl);

		snprintf(buf, size, "%.*s", (int)dl, date);
		return;
	}
	*time_body(buf, ns) = '\0';
}

static const char *action_type(enum event_action a)
{
	switch (a) {
	case EVENT_ACTION_EXEC:
	case EVENT_ACTION_FORK:
		return "[\"start\"]";
	case EVENT_ACTION_END:
		return "[\"end\"]";
	case EVENT_ACTION_MEMFD_CREATE:
	case EVENT_ACTION_CREATION:
		return "[\"creation\"]";
	case EVENT_ACTION_DELETION:
		return "[\"deletion\"]";
	case EVENT_ACTION_UID_CHANGE:
	case EVENT_ACTION_GID_CHANGE:
	case EVENT_ACTION_MODIFICATION:
	case EVENT_ACTION_RENAME:
	case EVENT_ACTION_ATTRIBUTES_MODIFICATION:
		return "[\"change\"]";
	case EVENT_ACTION_PTRACE:
		return "[\"access\"]";
	case EVENT_ACTION_CONNECTION_ATTEMPTED:
	case EVENT_ACTION_CONNECTION_ACCEPTED:
		return "[\"start\",\"connection\"]";
	case EVENT_ACTION_DISCONNECT_RECEIVED:
		return "[\"end\",\"connection\"]";
	case EVENT_ACTION_DNS_QUERY:
		return "[\"protocol\"]";
	case EVENT_ACTION_LOAD_MODULE:
	case EVENT_ACTION_BPF_LOAD:
	case EVENT_ACTION_LISTEN:
	case EVENT_ACTION_AGENT_DROPS:
	default:
		return "[\"info\"]";
	}
}

/* Writes a value that is not a string or list (at most SCALAR_MAX bytes). */
static char *scalar_put(char *o, const struct event *ev, enum event_field f, const char *p)
{
	uint32_t u;
	int32_t i;

	switch (event_field_table[f].type) {
	case EVT_STR_U32:
		*o++ = '"';
		o = put_u64(o, *(const uint32_t *)p);
		*o++ = '"';
		return o;
	case EVT_MODE:
		u = *(const uint32_t *)p & 07777;
		*o++ = '"';
		for (int s = 9; s >= 0; s -= 3)
			*o++ = (char)('0' + ((u >> s) & 7));
		*o++ = '"';
		return o;
	case EVT_U32:
		return put_u64(o, *(const uint32_t *)p);
	case EVT_I32:
		i = *(const int32_t *)p;
		if (i < 0)
			*o++ = '-';
		return put_u64(o, i < 0 ? (uint64_t)(-(int64_t)i) : (uint64_t)i);
	case EVT_U64:
		return put_u64(o, *(const uint64_t *)p);
	case EVT_BOOL:
		return *(const bool *)p ? PUT_LIT(o, "true") : PUT_LIT(o, "false");
	case EVT_TIME:
		*o++ = '"';
		o = time_body(o, *(const uint64_t *)p);
		*o++ = '"';
		return o;
	case EVT_ACTION:
		*o++ = '"';
		o = put_str(o, event_action_name(ev->action));
		*o++ = '"';
		return o;
	case EVT_DERIVED:
		if (f == EVF_EVENT_KIND)
			return ev->action == EVENT_ACTION_AGENT_DROPS ? PUT_LIT(o, "\"metric\"")
								      : PUT_LIT(o, "\"event\"");
		if (f == EVF_EVENT_CATEGORY) {
			o = PUT_LIT(o, "[\"");
			o = put_str(o, event_action_category(ev->action));
			return PUT_LIT(o, "\"]");
		}
		return put_str(o, action_type(ev->action));
	default:
		return o;
	}
}

/* ---- the keys, rendered once ---- */

struct field_plan {
	uint8_t depth;		     /* enclosing objects */
	uint16_t obj[MAX_DEPTH];     /* id of each enclosing object's whole path */
	const char *open[MAX_DEPTH]; /* "seg":{ */
	uint8_t open_len[MAX_DEPTH];
	const char *key; /* "leaf": */
	uint8_t key_len;
};

static struct field_plan plans[EVF_COUNT];
static char plan_text[16384];
static pthread_once_t plans_once = PTHREAD_ONCE_INIT;

static const char *plan_str(size_t *used, const char *seg, size_t len, const char *tail)
{
	size_t tl = strlen(tail), need = len + tl + 2;
	char *p = plan_text + *used;

	if (need > UINT8_MAX || *used + need + 8 > sizeof(plan_text)) {
		fprintf(stderr, "event_json: field names outgrow the key table\n");
		abort(); /* a programming error in EVENT_FIELDS, caught by every test */
	}
	p[0] = '"';
	memcpy(p + 1, seg, len);
	memcpy(p + 1 + len, tail, tl);
	/* Padded with NULs to whole words: put_words reads them eight bytes at a time. */
	*used += (need + 7) & ~(size_t)7;
	return p;
}

/* Copies s[0..n) a word at a time; may write up to 7 bytes past o + n (room has KEY_SLACK). */
static inline char *put_words(char *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i += 8)
		memcpy(o + i, s + i, 8);
	return o + n;
}

static inline char *put_key(char *o, const char *s, size_t n, bool exact)
{
	if (exact) {
		memcpy(o, s, n);
		return o + n;
	}
	return put_words(o, s, n);
}

static void build_plans(void)
{
	const char *seg[EVF_COUNT][MAX_DEPTH];
	size_t seglen[EVF_COUNT][MAX_DEPTH];
	size_t used = 0;

	for (unsigned f = 0; f < EVF_COUNT; f++) {
		struct field_plan *pl = &plans[f];
		const char *s = event_field_table[f].name;
		int n = 0;

		while (n < MAX_DEPTH) {
			const char *dot = strchr(s, '.');

			seg[f][n] = s;
			seglen[f][n] = dot ? (size_t)(dot - s) : strlen(s);
			n++;
			if (!dot)
				break;
			s = dot + 1;
		}
		pl->depth = (uint8_t)(n - 1);
		for (int d = 0; d < n - 1; d++) {
			/* The id of an object is the first field whose path has the same prefix. */
			unsigned g = 0;

			for (; g < f; g++) {
				const struct field_plan *pg = &plans[g];
				int k = 0;

				if (pg->depth <= d)
					continue;
				while (k <= d && seglen[g][k] == seglen[f][k] &&
				       memcmp(seg[g][k], seg[f][k], seglen[f][k]) == 0)
					k++;
				if (k > d)
					break;
			}
			pl->obj[d] = (uint16_t)(g * MAX_DEPTH + (unsigned)d);
			pl->open[d] = plan_str(&used, seg[f][d], seglen[f][d], "\":{");
			pl->open_len[d] = (uint8_t)(seglen[f][d] + 4);
		}
		pl->key = plan_str(&used, seg[f][n - 1], seglen[f][n - 1], "\":");
		pl->key_len = (uint8_t)(seglen[f][n - 1] + 3);
	}
}

/* ---- the event ---- */

int event_json_encode(const struct event *ev, struct dynbuf *out)
{
	uint16_t open[MAX_DEPTH];
	int depth = 0, rc;
	bool first = true;
	size_t start = out->len;
	char *o;

	pthread_once(&plans_once, build_plans);
	rc = room(out, 1, &o);
	if (rc)
		return rc;
	*o++ = '{';
	commit(out, o);
	for (unsigned f = 0; f < EVF_COUNT; f++) {
		const struct event_field_desc *d = &event_field_table[f];
		const struct field_plan *pl = &plans[f];
		const char *p = (const char *)ev + d->offset;
		size_t slen = 0, shape, need;
		int common = 0;
		bool exact;

		if (!event_has_at(ev, (enum event_field)f, d, p))
			continue;
		while (common < depth && common < pl->depth && open[common] == pl->obj[common])
			common++;
		/* Closing braces, commas, opened objects and the key: exact. */
		shape = (size_t)(depth - common) + 1 + pl->key_len;
		for (int k = common; k < pl->depth; k++)
			shape += 1u + pl->open_len[k];
		if (d->type == EVT_STR) {
			need = shape + 6 * d->size + 2; /* bounded by the array, no strnlen pass */
		} else if (d->type == EVT_LIST) {
			slen = *(const uint32_t *)(p + d->size);
			need = shape + list_bound((uint32_t)slen);
		} else {
			need = shape + SCALAR_MAX;
		}
		exact = false;
		rc = room(out, need + KEY_SLACK, &o);
		if (rc == -ENOSPC) { /* near the cap: reserve exactly what this field takes */
			char tmp[SCALAR_MAX];

			if (d->type == EVT_STR)
				need = shape +
				       escape_len((const unsigned char *)p, strnlen(p, d->size));
			else if (d->type == EVT_LIST)
				need = shape + list_len(p, (uint32_t)slen);
			else
				need = shape +
				       (size_t)(scalar_put(tmp, ev, (enum event_field)f, p) - tmp);
			rc = room(out, need, &o);
			exact = true;
		}
		if (rc)
			break;
		for (; depth > common; depth--) {
			*o++ = '}';
			first = false;
		}
		for (; depth < pl->depth; depth++) {
			if (!first)
				*o++ = ',';
			o = put_key(o, pl->open[depth], pl->open_len[depth], exact);
			open[depth] = pl->obj[depth];
			first = true;
		}
		if (!first)
			*o++ = ',';
		o = put_key(o, pl->key, pl->key_len, exact);
		if (d->type == EVT_STR)
			o = escape_put_z(o, (const unsigned char *)p, d->size);
		else if (d->type == EVT_LIST)
			o = list_put(o, p, (uint32_t)slen);
		else
			o = scalar_put(o, ev, (enum event_field)f, p);
		commit(out, o);
		first = false;
	}
	if (rc == 0)
		rc = room(out, (size_t)depth + 1, &o);
	if (rc) {
		dynbuf_truncate(out, start);
		return rc;
	}
	for (; depth > 0; depth--)
		*o++ = '}';
	*o++ = '}';
	commit(out, o);
	return 0;
}
