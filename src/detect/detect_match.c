/* Evaluates compiled Sigma detections against a doc: value matchers over every value of a field
 * (lowercase forms made once per value), items, selections and the condition tree. No allocation:
 * the regex match data comes from the caller's scratch. */
#include "sigma_int.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bytes.h"
#include "event_json.h"

static bool glob_match(const char *p, const uint8_t *w, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
	while (si < sn) {
		if (pi < pn && w[pi] == WILD_STAR) {
			star_p = pi++;
			star_s = si;
		} else if (pi < pn && (w[pi] == WILD_ONE || p[pi] == s[si])) {
			pi++;
			si++;
		} else if (star_p != (size_t)-1) {
			pi = star_p + 1;
			si = ++star_s;
		} else {
			return false;
		}
	}
	while (pi < pn && w[pi] == WILD_STAR)
		pi++;
	return pi == pn;
}

static bool to_number(const char *s, size_t n, double *out)
{
	char buf[64];
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	char *end;
	double d = strtod(buf, &end);
	if (*end || !isfinite(d))
		return false;
	*out = d;
	return true;
}

static bool compare(double a, enum vm_cmp cmp, double b)
{
	switch (cmp) {
	case CMP_EQ: return a == b;
	case CMP_LT: return a < b;
	case CMP_LTE: return a <= b;
	case CMP_GT: return a > b;
	case CMP_GTE: return a >= b;
	}
	return false;
}

static bool time_part(const char *s, size_t n, enum vm_time part, double *out)
{
	*out = 0;
	uint64_t ns;
	if (json_parse_time(s, n, &ns) < 0)
		return false;
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return false;
	switch (part) {
	case TIME_MINUTE: *out = tm.tm_min; break;
	case TIME_HOUR: *out = tm.tm_hour; break;
	case TIME_DAY: *out = tm.tm_mday; break;
	case TIME_WEEK: {
		char wk[8];
		strftime(wk, sizeof(wk), "%V", &tm);
		*out = strtol(wk, NULL, 10);
		break;
	}
	case TIME_MONTH: *out = tm.tm_mon + 1; break;
	case TIME_YEAR: *out = tm.tm_year + 1900; break;
	}
	return true;
}

static bool lit_match(uint8_t kind, const char *lit, size_t len, const char *s, size_t n)
{
	switch (kind) {
	case VM_EQ: return n == len && bytes_eq(s, lit, n);
	case VM_PREFIX: return n >= len && bytes_eq(s, lit, len);
	case VM_SUFFIX: return n >= len && bytes_eq(s + n - len, lit, len);
	case VM_CONTAINS: return bytes_find(s, n, lit, len);
	}
	return false;
}

/* One matcher against one value. */
static bool vm_value(const struct vmatch *m, struct detect_doc *doc, struct detect_value *v,
		     struct match_scratch *ms)
{
	switch (m->kind) {
	case VM_EQ:
	case VM_PREFIX:
	case VM_SUFFIX:
	case VM_CONTAINS: {
		if (v->len < m->len)
			return false;
		const char *s = m->cased ? v->str : detect_value_lower(doc, v);
		return lit_match(m->kind, m->lit, m->len, s, v->len);
	}
	case VM_GLOB: {
		const char *s = m->cased ? v->str : detect_value_lower(doc, v);
		return glob_match(m->lit, m->wild, m->len, s, v->len);
	}
	case VM_RE:
		return pcre2_match(m->re, (PCRE2_SPTR)v->str, v->len, 0, 0, ms->md, NULL) >= 0;
	case VM_CIDR: {
		struct ip_addr a;
		return ip_addr_parse(v->str, v->len, &a) == 0 && cidr_contains(&m->net, &a);
	}
	case VM_NUM: {
		double d = 0;
		return to_number(v->str, v->len, &d) && compare(d, m->cmp, m->num);
	}
	case VM_TIME: {
		double d = 0;
		return time_part(v->str, v->len, m->part, &d) && compare(d, m->cmp, m->num);
	}
	case VM_REF: {
		for (const struct detect_value *r = detect_doc_first(doc, m->ref); r;
		     r = detect_doc_next(doc, r)) {
			struct detect_value *rv = (struct detect_value *)r;
			const char *a = m->cased ? v->str : detect_value_lower(doc, v);
			const char *b = m->cased ? rv->str : detect_value_lower(doc, rv);
			if (lit_match(m->cmp, b, rv->len, a, v->len))
				return true;
		}
		return false;
	}
	}
	return false;
}

/* Whether matcher m holds for field (any of its values; neq: none of them). vm_field,
 * fmatch_eval and ident_eval are inlined into their callers: evaluating a candidate makes one
 * call per condition node rather than several per matcher. */
static inline __attribute__((always_inline)) bool
vm_field(const struct vmatch *m, uint32_t field, struct detect_doc *doc, struct match_scratch *ms)
{
	if (m->kind == VM_EXISTS) {
		bool present = field == FM_KEYWORD ? doc->nvalues > 0
						   : detect_doc_first(doc, field) != NULL;
		return present == m->exists;
	}
	if (m->kind == VM_NULL) {
		bool any = false;
		for (const struct detect_value *v = detect_doc_first(doc, field); v;
		     v = detect_doc_next(doc, v))
			if (v->len)
				any = true;
		return !any;
	}
	bool hit = false, seen = false;
	/* The prefilter scanned every value this matcher looks at without finding a literal that
	 * any match contains: no value can match. */
	if (m->atom && ms->atom_seen && ms->atom_seen[m->atom - 1] != ms->gen)
		return false;
	if (field == FM_KEYWORD) {
		for (unsigned i = 0; i < doc->nvalues && !hit; i++) {
			seen = true;
			hit = vm_value(m, doc, &doc->values[i], ms);
		}
	} else {
		for (const struct detect_value *v = detect_doc_first(doc, field); v && !hit;
		     v = detect_doc_next(doc, v)) {
			seen = true;
			hit = vm_value(m, doc, (struct detect_value *)v, ms);
		}
	}
	if (m->neq)
		return seen && !hit;
	return hit;
}

static inline __attribute__((always_inline)) bool
fmatch_eval(const struct fmatch *fm, struct detect_doc *doc, struct match_scratch *ms)
{
	if (!fm->all) {
		for (unsigned i = 0; i < fm->nv; i++)
			if (vm_field(&fm->v[i], fm->field, doc, ms))
				return true;
		return false;
	}
	/* all: every group (one rule value and its encoded variants) must match. */
	unsigned i = 0;
	while (i < fm->nv) {
		uint32_t g = fm->v[i].group;
		bool ok = false;
		for (; i < fm->nv && fm->v[i].group == g; i++)
			if (!ok && vm_field(&fm->v[i], fm->field, doc, ms))
				ok = true;
		if (!ok)
			return false;
	}
	return true;
}

static inline __attribute__((always_inline)) bool
ident_eval(const struct ident *id, struct detect_doc *doc, struct match_scratch *ms)
{
	for (unsigned a = 0; a < id->n; a++) {
		const struct selection *s = &id->alts[a];
		bool ok = true;
		for (unsigned i = 0; i < s->n && ok; i++)
			ok = fmatch_eval(&s->items[i], doc, ms);
		if (ok)
			return true;
	}
	return false;
}

static bool node_eval(const struct detection *det, uint16_t n, struct detect_doc *doc,
		      struct match_scratch *ms)
{
	const struct cnode *c = &det->nodes[n];
	switch (c->kind) {
	case CN_TRUE: return true;
	case CN_IDENT: return ident_eval(&det->idents[c->first], doc, ms);
	case CN_AND: return node_eval(det, c->a, doc, ms) && node_eval(det, c->b, doc, ms);
	case CN_OR: return node_eval(det, c->a, doc, ms) || node_eval(det, c->b, doc, ms);
	case CN_NOT: return !node_eval(det, c->a, doc, ms);
	case CN_ONE_OF:
	case CN_ALL_OF: {
		unsigned hits = 0;
		for (uint32_t i = 0; i < c->count; i++) {
			if (ident_eval(&det->idents[det->refs[c->first + i]], doc, ms)) {
				if (++hits >= c->a)
					return true;
			} else if (c->kind == CN_ALL_OF) {
				return false;
			}
		}
		return hits >= c->a;
	}
	}
	return false;
}

bool sigma_detection_eval(const struct detection *det, struct detect_doc *doc,
			  struct match_scratch *ms)
{
	return det->nnodes && node_eval(det, det->root, doc, ms);
}

bool sigma_logsource_applies(const struct logsource *ls, const struct detect_doc *doc)
{
	const struct detect_logsource *s = &doc->src;
	if (ls->product && (!s->product || strcasecmp(ls->product, s->product) != 0))
		return false;
	if (ls->service && (!s->service || strcasecmp(ls->service, s->service) != 0))
		return false;
	if (ls->category) {
		for (unsigned i = 0; i < s->ncategory; i++)
			if (s->category[i] && strcasecmp(ls->category, s->category[i]) == 0)
				return true;
		return false;
	}
	return true;
}
