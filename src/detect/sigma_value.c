/* Compiles one Sigma "field|modifier|...: values" item into value matchers: wildcards, the
 * position modifiers, encodings (base64, base64offset, utf16, windash), regular expressions,
 * CIDR, numeric and date comparisons, exists, null, fieldref and placeholder expansion. */
#include "sigma_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "regex_atom.h"
#include "sigma_encode.h"

#define MAX_VARIANTS 4096 /* per rule value, after expand and windash */
#define MAX_VALUE 8192	  /* bytes of one value after encoding */

enum pos { POS_EXACT, POS_CONTAINS, POS_STARTS, POS_ENDS };
enum enc { ENC_BASE64 = 1, ENC_BASE64OFF, ENC_UTF16LE, ENC_UTF16BE, ENC_UTF16, ENC_WINDASH };

struct mods {
	enum pos pos;
	bool all, re, re_i, re_m, re_s, cidr, cased, exists, fieldref, neq, expand;
	bool has_cmp, has_time;
	enum vm_cmp cmp;
	enum vm_time part;
	unsigned nenc;
	enum enc enc[8];
};

static void set_err(struct sigma_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_err(struct sigma_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static bool mod_is(const char *m, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(m, name, n) == 0;
}

static int parse_mods(const char *s, size_t n, struct mods *md, struct sigma_err *err)
{
	memset(md, 0, sizeof(*md));
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '|')
			j++;
		const char *m = s + i;
		size_t ml = j - i;
		i = j + 1;
		if (ml == 0) {
			set_err(err, "empty modifier");
			return -EINVAL;
		}
		if (mod_is(m, ml, "contains"))
			md->pos = POS_CONTAINS;
		else if (mod_is(m, ml, "startswith"))
			md->pos = POS_STARTS;
		else if (mod_is(m, ml, "endswith"))
			md->pos = POS_ENDS;
		else if (mod_is(m, ml, "all"))
			md->all = true;
		else if (mod_is(m, ml, "re"))
			md->re = true;
		else if (md->re && mod_is(m, ml, "i"))
			md->re_i = true;
		else if (md->re && mod_is(m, ml, "m"))
			md->re_m = true;
		else if (md->re && mod_is(m, ml, "s"))
			md->re_s = true;
		else if (mod_is(m, ml, "cidr"))
			md->cidr = true;
		else if (mod_is(m, ml, "cased"))
			md->cased = true;
		else if (mod_is(m, ml, "exists"))
			md->exists = true;
		else if (mod_is(m, ml, "fieldref"))
			md->fieldref = true;
		else if (mod_is(m, ml, "neq"))
			md->neq = true;
		else if (mod_is(m, ml, "expand"))
			md->expand = true;
		else if (mod_is(m, ml, "lt") || mod_is(m, ml, "lte") || mod_is(m, ml, "gt") ||
			 mod_is(m, ml, "gte")) {
			md->has_cmp = true;
			md->cmp = m[0] == 'l' ? (ml == 2 ? CMP_LT : CMP_LTE)
					      : (ml == 2 ? CMP_GT : CMP_GTE);
		} else if (mod_is(m, ml, "minute") || mod_is(m, ml, "hour") ||
			   mod_is(m, ml, "day") || mod_is(m, ml, "week") ||
			   mod_is(m, ml, "month") || mod_is(m, ml, "year")) {
			md->has_time = true;
			md->part = m[0] == 'm' ? (m[1] == 'i' ? TIME_MINUTE : TIME_MONTH)
				   : m[0] == 'h' ? TIME_HOUR
				   : m[0] == 'd' ? TIME_DAY
				   : m[0] == 'w' ? TIME_WEEK
						 : TIME_YEAR;
		} else {
			enum enc e = 0;
			if (mod_is(m, ml, "base64"))
				e = ENC_BASE64;
			else if (mod_is(m, ml, "base64offset"))
				e = ENC_BASE64OFF;
			else if (mod_is(m, ml, "utf16le") || mod_is(m, ml, "wide"))
				e = ENC_UTF16LE;
			else if (mod_is(m, ml, "utf16be"))
				e = ENC_UTF16BE;
			else if (mod_is(m, ml, "utf16"))
				e = ENC_UTF16;
			else if (mod_is(m, ml, "windash"))
				e = ENC_WINDASH;
			if (!e) {
				set_err(err, "unsupported modifier '%.*s'", (int)ml, m);
				return -ENOTSUP;
			}
			if (md->nenc == sizeof(md->enc) / sizeof(md->enc[0])) {
				set_err(err, "too many encoding modifiers");
				return -EINVAL;
			}
			md->enc[md->nenc++] = e;
		}
	}
	if (md->re && (md->cidr || md->nenc || md->pos != POS_EXACT)) {
		set_err(err, "modifier 're' cannot be combined with encodings, cidr or position modifiers");
		return -EINVAL;
	}
	return 0;
}

/* ---- building the list of vmatches ---- */
struct builder {
	struct detect_engine *e;
	const struct logsource *ls;
	const struct mods *md;
	struct vmatch *v;
	unsigned n, cap;
	uint32_t group;
	struct sigma_err *err;
};

static struct vmatch *push(struct builder *b)
{
	if (b->n == b->cap) {
		unsigned ncap = b->cap ? b->cap * 2 : 8;
		if (ncap > 65536) {
			set_err(b->err, "too many values in one item");
			return NULL;
		}
		struct vmatch *nv = arena_alloc(detect_engine_arena(b->e), ncap * sizeof(*nv));
		if (!nv) {
			set_err(b->err, "out of memory");
			return NULL;
		}
		if (b->n)
			memcpy(nv, b->v, b->n * sizeof(*nv));
		b->v = nv;
		b->cap = ncap;
	}
	struct vmatch *m = &b->v[b->n++];
	memset(m, 0, sizeof(*m));
	m->group = b->group;
	m->neq = b->md->neq;
	m->cased = b->md->cased;
	return m;
}

/* A value as bytes plus a wildcard mask (0 literal, WILD_STAR, WILD_ONE). */
struct pat {
	char s[MAX_VALUE];
	uint8_t w[MAX_VALUE];
	size_t n;
};

/* Sigma string escapes: \* \? \\ are literal; a backslash before anything else is literal. */
static int parse_wild(const char *s, size_t n, struct pat *p, bool wildcards)
{
	p->n = 0;
	for (size_t i = 0; i < n; i++) {
		if (p->n >= MAX_VALUE)
			return -E2BIG;
		char c = s[i];
		uint8_t w = 0;
		if (wildcards && c == '\\' && i + 1 < n &&
		    (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
			c = s[++i];
		} else if (wildcards && c == '*') {
			w = WILD_STAR;
		} else if (wildcards && c == '?') {
			w = WILD_ONE;
		}
		p->s[p->n] = c;
		p->w[p->n] = w;
		p->n++;
	}
	return 0;
}

static bool pat_has_wild(const struct pat *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->w[i])
			return true;
	return false;
}

static int add_pattern(struct builder *b, const struct pat *p, bool cased)
{
	/* Position modifiers add stars around the value, then the shape decides the kind. */
	enum pos pos = b->md->pos;
	size_t n = p->n;
	bool lead = pos == POS_CONTAINS || pos == POS_ENDS;
	bool trail = pos == POS_CONTAINS || pos == POS_STARTS;
	size_t start = 0, end = n;
	while (start < end && p->w[start] == WILD_STAR) {
		lead = true;
		start++;
	}
	while (end > start && p->w[end - 1] == WILD_STAR) {
		trail = true;
		end--;
	}
	bool inner = false;
	for (size_t i = start; i < end; i++)
		if (p->w[i])
			inner = true;
	struct vmatch *m = push(b);
	if (!m)
		return -ENOMEM;
	m->cased = cased;
	struct arena *a = detect_engine_arena(b->e);
	if (!inner) {
		m->kind = lead && trail ? VM_CONTAINS : lead ? VM_SUFFIX : trail ? VM_PREFIX : VM_EQ;
		if (start == end && (lead || trail)) {
			/* "*" alone: any value, including empty. */
			m->kind = VM_EXISTS;
			m->exists = true;
			return 0;
		}
		char *lit = arena_strndup(a, p->s + start, end - start);
		if (!lit)
			return -ENOMEM;
		if (!cased)
			for (size_t i = 0; i < end - start; i++)
				lit[i] = (char)tolower((unsigned char)lit[i]);
		m->lit = lit;
		m->len = (uint32_t)(end - start);
		return 0;
	}
	m->kind = VM_GLOB;
	char *lit = arena_alloc(a, n + 1);
	uint8_t *w = arena_alloc(a, n + 1);
	if (!lit || !w)
		return -ENOMEM;
	size_t k = 0;
	if (lead) {
		lit[k] = '*';
		w[k++] = WILD_STAR;
	}
	for (size_t i = start; i < end; i++) {
		lit[k] = cased ? p->s[i] : (char)tolower((unsigned char)p->s[i]);
		w[k++] = p->w[i];
	}
	if (trail) {
		lit[k] = '*';
		w[k++] = WILD_STAR;
	}
	m->lit = lit;
	m->wild = w;
	m->len = (uint32_t)k;
	return 0;
}

/* Applies the encoding chain from step i onward to one plain byte string. */
static int encode_chain(struct builder *b, const char *s, size_t n, unsigned i);

struct windash_ctx {
	struct builder *b;
	unsigned next;
	int rc;
};

static int windash_cb(void *ctx, const char *s, size_t n)
{
	struct windash_ctx *w = ctx;
	w->rc = encode_chain(w->b, s, n, w->next);
	return w->rc;
}

static int encode_chain(struct builder *b, const char *s, size_t n, unsigned i)
{
	if (i == b->md->nenc) {
		static __thread struct pat p;
		if (n > MAX_VALUE) {
			set_err(b->err, "value longer than %d bytes after encoding", MAX_VALUE);
			return -E2BIG;
		}
		parse_wild(s, n, &p, false);
		bool base64 = false;
		for (unsigned k = 0; k < b->md->nenc; k++)
			if (b->md->enc[k] == ENC_BASE64 || b->md->enc[k] == ENC_BASE64OFF)
				base64 = true;
		return add_pattern(b, &p, b->md->cased || base64);
	}
	struct dynbuf out[3];
	int rc = 0;
	for (int k = 0; k < 3; k++)
		dynbuf_init(&out[k], MAX_VALUE);
	switch (b->md->enc[i]) {
	case ENC_WINDASH: {
		struct windash_ctx w = {.b = b, .next = i + 1};
		rc = sigma_windash(s, n, 256, windash_cb, &w);
		if (rc == -E2BIG)
			set_err(b->err, "windash: too many variants");
		goto out;
	}
	case ENC_BASE64:
		rc = sigma_base64(s, n, &out[0]);
		if (!rc)
			rc = encode_chain(b, out[0].data ? out[0].data : "", out[0].len, i + 1);
		break;
	case ENC_BASE64OFF:
		rc = sigma_base64offset(s, n, out);
		for (int k = 0; !rc && k < 3; k++)
			if (out[k].len)
				rc = encode_chain(b, out[k].data, out[k].len, i + 1);
		break;
	case ENC_UTF16LE:
	case ENC_UTF16BE:
	case ENC_UTF16:
		rc = sigma_utf16(s, n,
				 b->md->enc[i] == ENC_UTF16LE	? SIGMA_UTF16LE
				 : b->md->enc[i] == ENC_UTF16BE ? SIGMA_UTF16BE
								: SIGMA_UTF16_BOM,
				 &out[0]);
		if (rc == -EILSEQ)
			set_err(b->err, "utf16: value is not valid UTF-8");
		if (!rc)
			rc = encode_chain(b, out[0].data ? out[0].data : "", out[0].len, i + 1);
		break;
	}
	if (rc == -ENOSPC) {
		set_err(b->err, "value longer than %d bytes after encoding", MAX_VALUE);
		rc = -E2BIG;
	}
out:
	for (int k = 0; k < 3; k++)
		dynbuf_release(&out[k]);
	return rc;
}

static bool parse_number(const char *s, size_t n, double *out)
{
	char buf[64];
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	char *end;
	errno = 0;
	double d = strtod(buf, &end);
	if (errno || *end || !isfinite(d))
		return false;
	*out = d;
	return true;
}

static int add_string(struct builder *b, const char *s, size_t n)
{
	const struct mods *md = b->md;
	struct arena *a = detect_engine_arena(b->e);
	if (md->re) {
		uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
		if (md->re_i)
			opts |= PCRE2_CASELESS;
		if (md->re_m)
			opts |= PCRE2_MULTILINE;
		if (md->re_s)
			opts |= PCRE2_DOTALL;
		int ec;
		PCRE2_SIZE eo;
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)s, n, opts, &ec, &eo, NULL);
		if (!re) {
			PCRE2_UCHAR msg[160];
			pcre2_get_error_message(ec, msg, sizeof(msg));
			set_err(b->err, "bad regular expression at offset %zu: %s", (size_t)eo,
				(const char *)msg);
			return -EINVAL;
		}
		pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
		struct vmatch *m = push(b);
		if (!m) {
			pcre2_code_free(re);
			return -ENOMEM;
		}
		m->kind = VM_RE;
		m->re = re;
		/* A literal every match contains lets the prefilter index the expression. */
		char lit[REGEX_ATOM_MAX + 1];
		size_t ln = regex_required_literal(s, n, opts, 3, lit, sizeof(lit));
		if (ln) {
			char *copy = arena_alloc(a, ln + 1);
			if (!copy)
				return -ENOMEM;
			memcpy(copy, lit, ln);
			m->lit = copy;
			m->len = (uint32_t)ln;
			return 0;
		}
		/* Else a few literals one of which every match holds, as -(W|R) gives "-w" and
		 * "-r": still far fewer events to evaluate than all of them. */
		struct regex_set set;
		if (!regex_required_set(s, n, opts, 2, &set))
			return 0;
		char **alt = arena_alloc(a, set.n * sizeof(*alt));
		uint32_t *alt_len = arena_alloc(a, set.n * sizeof(*alt_len));
		if (!alt || !alt_len)
			return -ENOMEM;
		for (unsigned i = 0; i < set.n; i++) {
			if (!(alt[i] = arena_alloc(a, set.len[i] + 1)))
				return -ENOMEM;
			memcpy(alt[i], set.lit[i], set.len[i] + 1);
			alt_len[i] = set.len[i];
		}
		m->alt = (const char *const *)alt;
		m->alt_len = alt_len;
		m->nalt = set.n;
		return 0;
	}
	if (md->cidr) {
		struct vmatch *m = push(b);
		if (!m)
			return -ENOMEM;
		m->kind = VM_CIDR;
		if (cidr_parse(s, n, &m->net) < 0) {
			set_err(b->err, "bad CIDR '%.*s'", (int)(n > 64 ? 64 : n), s);
			return -EINVAL;
		}
		return 0;
	}
	if (md->fieldref) {
		size_t el;
		bool mapped;
		const char *ecs = sigma_field_to_ecs(b->ls, s, n, &el, &mapped);
		uint32_t id = detect_fields_intern(detect_engine_fields_mut(b->e), ecs, el);
		if (id == DETECT_FIELD_NONE) {
			set_err(b->err, "too many fields");
			return -E2BIG;
		}
		struct vmatch *m = push(b);
		if (!m)
			return -ENOMEM;
		m->kind = VM_REF;
		m->ref = id;
		m->cmp = md->pos == POS_CONTAINS ? VM_CONTAINS
			 : md->pos == POS_STARTS ? VM_PREFIX
			 : md->pos == POS_ENDS	 ? VM_SUFFIX
						 : VM_EQ;
		return 0;
	}
	if (md->has_cmp || md->has_time) {
		struct vmatch *m = push(b);
		if (!m)
			return -ENOMEM;
		if (!parse_number(s, n, &m->num)) {
			set_err(b->err, "'%.*s' is not a number", (int)(n > 64 ? 64 : n), s);
			return -EINVAL;
		}
		m->kind = md->has_time ? VM_TIME : VM_NUM;
		m->part = md->part;
		m->cmp = md->has_cmp ? md->cmp : CMP_EQ;
		return 0;
	}
	if (md->nenc) {
		static __thread struct pat p;
		if (parse_wild(s, n, &p, true) < 0) {
			set_err(b->err, "value longer than %d bytes", MAX_VALUE);
			return -E2BIG;
		}
		if (pat_has_wild(&p)) {
			set_err(b->err, "encoding modifiers on a value with wildcards are unsupported");
			return -ENOTSUP;
		}
		return encode_chain(b, p.s, p.n, 0);
	}
	static __thread struct pat p;
	if (parse_wild(s, n, &p, true) < 0) {
		set_err(b->err, "value longer than %d bytes", MAX_VALUE);
		return -E2BIG;
	}
	(void)a;
	return add_pattern(b, &p, md->cased);
}

/* %name% placeholders: each expands to the values configured for it (all combinations). */
static int expand(struct builder *b, const char *s, size_t n, char *buf, size_t blen,
		  unsigned *budget)
{
	const char *p = memchr(s, '%', n);
	const char *q = p ? memchr(p + 1, '%', n - (size_t)(p + 1 - s)) : NULL;
	if (!q) {
		if (blen + n > MAX_VALUE) {
			set_err(b->err, "expanded value too long");
			return -E2BIG;
		}
		memcpy(buf + blen, s, n);
		if (*budget == 0) {
			set_err(b->err, "expand: more than %d variants", MAX_VARIANTS);
			return -E2BIG;
		}
		(*budget)--;
		return add_string(b, buf, blen + n);
	}
	size_t pre = (size_t)(p - s);
	size_t nvals;
	const char *const *vals = detect_engine_placeholder(b->e, p + 1, (size_t)(q - p - 1), &nvals);
	if (!vals) {
		set_err(b->err, "placeholder '%.*s' has no values (define it with placeholders)",
			(int)(q - p + 1 > 64 ? 64 : q - p + 1), p);
		return -ENOTSUP;
	}
	if (blen + pre > MAX_VALUE)
		return -E2BIG;
	memcpy(buf + blen, s, pre);
	for (size_t i = 0; i < nvals; i++) {
		size_t vl = strlen(vals[i]);
		if (blen + pre + vl > MAX_VALUE)
			return -E2BIG;
		memcpy(buf + blen + pre, vals[i], vl);
		int rc = expand(b, q + 1, n - (size_t)(q + 1 - s), buf, blen + pre + vl, budget);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int compile_values(struct builder *b, const struct sigma_raw_value *vals, size_t nvals,
			  struct fmatch *fm)
{
	const struct mods *md = b->md;
	if (md->all && nvals < 2 && !md->exists) {
		/* The specification forbids it; treat it as the single value it is. */
	}
	for (size_t i = 0; i < nvals; i++) {
		const struct sigma_raw_value *v = &vals[i];
		b->group = (uint32_t)i;
		int rc;
		if (md->exists) {
			bool want;
			if (v->len == 4 && strncasecmp(v->s, "true", 4) == 0)
				want = true;
			else if (v->len == 5 && strncasecmp(v->s, "false", 5) == 0)
				want = false;
			else {
				set_err(b->err, "exists needs true or false");
				return -EINVAL;
			}
			struct vmatch *m = push(b);
			if (!m)
				return -ENOMEM;
			m->kind = VM_EXISTS;
			m->exists = want;
			continue;
		}
		if (v->is_null) {
			struct vmatch *m = push(b);
			if (!m)
				return -ENOMEM;
			m->kind = VM_NULL;
			continue;
		}
		if (md->expand) {
			static __thread char buf[MAX_VALUE + 1];
			unsigned budget = MAX_VARIANTS;
			rc = expand(b, v->s, v->len, buf, 0, &budget);
		} else {
			rc = add_string(b, v->s, v->len);
		}
		if (rc < 0)
			return rc;
	}
	fm->v = b->v;
	fm->nv = b->n;
	fm->ngroups = (unsigned)nvals;
	fm->all = md->all;
	return 0;
}

int sigma_value_compile(struct detect_engine *e, const struct logsource *ls, const char *key,
			size_t keylen, const struct sigma_raw_value *vals, size_t nvals,
			struct fmatch *fm, struct sigma_err *err)
{
	memset(fm, 0, sizeof(*fm));
	const char *bar = memchr(key, '|', keylen);
	size_t flen = bar ? (size_t)(bar - key) : keylen;
	struct mods md;
	int rc = parse_mods(bar ? bar + 1 : key + keylen, bar ? keylen - flen - 1 : 0, &md, err);
	if (rc < 0)
		return rc;
	if (nvals == 0) {
		set_err(err, "field '%.*s' has an empty value list", (int)flen, key);
		return -EINVAL;
	}
	if (flen == 0) {
		fm->field = FM_KEYWORD;
		detect_fields_set_keep_other(detect_engine_fields_mut(e), true);
	} else {
		size_t el;
		bool mapped;
		const char *ecs = sigma_field_to_ecs(ls, key, flen, &el, &mapped);
		fm->field = detect_fields_intern(detect_engine_fields_mut(e), ecs, el);
		if (fm->field == DETECT_FIELD_NONE) {
			set_err(err, "too many fields");
			return -E2BIG;
		}
	}
	struct builder b = {.e = e, .ls = ls, .md = &md, .err = err};
	return compile_values(&b, vals, nvals, fm);
}

int sigma_keywords_compile(struct detect_engine *e, const struct sigma_raw_value *vals,
			   size_t nvals, struct fmatch *fm, struct sigma_err *err)
{
	memset(fm, 0, sizeof(*fm));
	fm->field = FM_KEYWORD;
	detect_fields_set_keep_other(detect_engine_fields_mut(e), true);
	struct mods md;
	memset(&md, 0, sizeof(md));
	struct builder b = {.e = e, .md = &md, .err = err};
	for (size_t i = 0; i < nvals; i++) {
		if (vals[i].is_null) {
			set_err(err, "null keyword");
			return -EINVAL;
		}
		static __thread struct pat p;
		if (parse_wild(vals[i].s, vals[i].len, &p, true) < 0) {
			set_err(err, "keyword longer than %d bytes", MAX_VALUE);
			return -E2BIG;
		}
		/* A keyword is a full-text search: without wildcards of its own it may appear
		 * anywhere in a value. */
		md.pos = pat_has_wild(&p) ? POS_EXACT : POS_CONTAINS;
		b.group = (uint32_t)i;
		int rc = add_pattern(&b, &p, false);
		if (rc < 0)
			return rc;
	}
	fm->v = b.v;
	fm->nv = b.n;
	fm->ngroups = (unsigned)nvals;
	return 0;
}

void sigma_value_free_re(struct fmatch *fm)
{
	for (unsigned i = 0; i < fm->nv; i++)
		if (fm->v[i].re) {
			pcre2_code_free(fm->v[i].re);
			fm->v[i].re = NULL;
		}
}
