/* Parser for Sigma detection conditions: and, or, not, parentheses, "1 of x*", "all of them"
 * (and "N of"), over the rule's named identifiers, into a node array evaluated by the matcher.
 * Precedence as the specification gives it: not binds tighter than and, and tighter than or. */
#include "sigma_int.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 64

struct parser {
	const char *s;
	size_t n, pos;
	struct detection *det;
	struct arena *a;
	struct sigma_err *err;
	unsigned cap_nodes, cap_refs;
	unsigned depth;
};

enum tok { T_END, T_LPAREN, T_RPAREN, T_WORD, T_PIPE, T_BAD };

static void perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr(struct parser *p, const char *fmt, ...)
{
	if (p->err->msg[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
}

static enum tok peek(struct parser *p, const char **w, size_t *wl)
{
	while (p->pos < p->n && isspace((unsigned char)p->s[p->pos]))
		p->pos++;
	if (p->pos >= p->n)
		return T_END;
	char c = p->s[p->pos];
	if (c == '(')
		return T_LPAREN;
	if (c == ')')
		return T_RPAREN;
	if (c == '|')
		return T_PIPE;
	size_t st = p->pos, e = st;
	while (e < p->n && (isalnum((unsigned char)p->s[e]) || p->s[e] == '_' || p->s[e] == '*' ||
			    p->s[e] == '-' || p->s[e] == '.' || p->s[e] == '?'))
		e++;
	if (e == st)
		return T_BAD;
	*w = p->s + st;
	*wl = e - st;
	return T_WORD;
}

static bool word_is(const char *w, size_t wl, const char *kw)
{
	return strlen(kw) == wl && strncasecmp(w, kw, wl) == 0;
}

static int new_node(struct parser *p, enum cnode_kind k)
{
	struct detection *d = p->det;
	if (d->nnodes >= CNODE_MAX) {
		perr(p, "condition too large");
		return -1;
	}
	if (d->nnodes == p->cap_nodes) {
		unsigned nc = p->cap_nodes ? p->cap_nodes * 2 : 16;
		struct cnode *nn = arena_alloc(p->a, nc * sizeof(*nn));
		if (!nn) {
			perr(p, "out of memory");
			return -1;
		}
		if (d->nnodes)
			memcpy(nn, d->nodes, d->nnodes * sizeof(*nn));
		d->nodes = nn;
		p->cap_nodes = nc;
	}
	struct cnode *c = &d->nodes[d->nnodes];
	memset(c, 0, sizeof(*c));
	c->kind = (uint8_t)k;
	return (int)d->nnodes++;
}

static int add_ref(struct parser *p, uint32_t ident)
{
	struct detection *d = p->det;
	if (d->nrefs == p->cap_refs) {
		unsigned nc = p->cap_refs ? p->cap_refs * 2 : 16;
		if (nc > 65536) {
			perr(p, "condition too large");
			return -1;
		}
		uint32_t *nr = arena_alloc(p->a, nc * sizeof(*nr));
		if (!nr) {
			perr(p, "out of memory");
			return -1;
		}
		if (d->nrefs)
			memcpy(nr, d->refs, d->nrefs * sizeof(*nr));
		d->refs = nr;
		p->cap_refs = nc;
	}
	d->refs[d->nrefs++] = ident;
	return 0;
}

static int find_ident(const struct detection *d, const char *w, size_t wl)
{
	for (unsigned i = 0; i < d->nidents; i++)
		if (strlen(d->idents[i].name) == wl && memcmp(d->idents[i].name, w, wl) == 0)
			return (int)i;
	return -1;
}

static int parse_or(struct parser *p);

static int parse_of(struct parser *p, unsigned need, bool all)
{
	const char *w;
	size_t wl;
	if (peek(p, &w, &wl) != T_WORD) {
		perr(p, "expected a name pattern or 'them' after 'of'");
		return -1;
	}
	p->pos += wl;
	char pat[256];
	if (wl >= sizeof(pat)) {
		perr(p, "pattern too long");
		return -1;
	}
	memcpy(pat, w, wl);
	pat[wl] = 0;
	bool them = strcasecmp(pat, "them") == 0;
	unsigned first = p->det->nrefs;
	for (unsigned i = 0; i < p->det->nidents; i++) {
		const char *name = p->det->idents[i].name;
		bool hit = them ? name[0] != '_' : fnmatch(pat, name, 0) == 0;
		if (hit && add_ref(p, i) < 0)
			return -1;
	}
	unsigned count = p->det->nrefs - first;
	if (count == 0) {
		perr(p, "'%s' matches no detection identifier", pat);
		return -1;
	}
	int n = new_node(p, all ? CN_ALL_OF : CN_ONE_OF);
	if (n < 0)
		return -1;
	struct cnode *c = &p->det->nodes[n];
	c->first = first;
	c->count = count;
	c->a = (uint16_t)(all ? count : need);
	return n;
}

static int parse_primary(struct parser *p)
{
	const char *w;
	size_t wl;
	enum tok t = peek(p, &w, &wl);
	if (++p->depth > MAX_DEPTH) {
		perr(p, "condition nested too deeply");
		return -1;
	}
	int rc = -1;
	if (t == T_LPAREN) {
		p->pos++;
		rc = parse_or(p);
		if (rc >= 0 && peek(p, &w, &wl) != T_RPAREN) {
			perr(p, "missing ')' at offset %zu", p->pos);
			rc = -1;
		} else if (rc >= 0) {
			p->pos++;
		}
	} else if (t == T_WORD && word_is(w, wl, "not")) {
		p->pos += wl;
		int a = parse_primary(p);
		if (a >= 0) {
			rc = new_node(p, CN_NOT);
			if (rc >= 0)
				p->det->nodes[rc].a = (uint16_t)a;
		}
	} else if (t == T_WORD && (word_is(w, wl, "all") || word_is(w, wl, "any") ||
				   (wl < 6 && isdigit((unsigned char)w[0])))) {
		bool all = word_is(w, wl, "all");
		unsigned need = 1;
		if (!all && !word_is(w, wl, "any")) {
			need = 0;
			for (size_t i = 0; i < wl; i++) {
				if (!isdigit((unsigned char)w[i])) {
					perr(p, "expected a number before 'of'");
					goto out;
				}
				need = need * 10 + (unsigned)(w[i] - '0');
			}
			if (need == 0) {
				perr(p, "'0 of' is meaningless");
				goto out;
			}
		}
		p->pos += wl;
		const char *w2;
		size_t wl2;
		if (peek(p, &w2, &wl2) != T_WORD || !word_is(w2, wl2, "of")) {
			perr(p, "expected 'of' after '%.*s'", (int)wl, w);
			goto out;
		}
		p->pos += wl2;
		rc = parse_of(p, need, all);
	} else if (t == T_WORD) {
		if (word_is(w, wl, "and") || word_is(w, wl, "or") || word_is(w, wl, "of")) {
			perr(p, "unexpected '%.*s' at offset %zu", (int)wl, w, p->pos);
			goto out;
		}
		int id = find_ident(p->det, w, wl);
		if (id < 0) {
			perr(p, "unknown detection identifier '%.*s'", (int)(wl > 64 ? 64 : wl), w);
			goto out;
		}
		p->pos += wl;
		rc = new_node(p, CN_IDENT);
		if (rc >= 0)
			p->det->nodes[rc].first = (uint32_t)id;
	} else if (t == T_PIPE) {
		perr(p, "aggregation expressions ('| count() ...') are unsupported: use a correlation rule");
	} else if (t == T_END) {
		perr(p, "condition ends too early");
	} else {
		perr(p, "unexpected character '%c' at offset %zu", p->s[p->pos], p->pos);
	}
out:
	p->depth--;
	return rc;
}

static int parse_and(struct parser *p)
{
	int left = parse_primary(p);
	while (left >= 0) {
		const char *w;
		size_t wl;
		if (peek(p, &w, &wl) != T_WORD || !word_is(w, wl, "and"))
			break;
		p->pos += wl;
		int right = parse_primary(p);
		if (right < 0)
			return -1;
		int n = new_node(p, CN_AND);
		if (n < 0)
			return -1;
		p->det->nodes[n].a = (uint16_t)left;
		p->det->nodes[n].b = (uint16_t)right;
		left = n;
	}
	return left;
}

static int parse_or(struct parser *p)
{
	int left = parse_and(p);
	while (left >= 0) {
		const char *w;
		size_t wl;
		if (peek(p, &w, &wl) != T_WORD || !word_is(w, wl, "or"))
			break;
		p->pos += wl;
		int right = parse_and(p);
		if (right < 0)
			return -1;
		int n = new_node(p, CN_OR);
		if (n < 0)
			return -1;
		p->det->nodes[n].a = (uint16_t)left;
		p->det->nodes[n].b = (uint16_t)right;
		left = n;
	}
	return left;
}

int sigma_cond_parse(struct arena *a, struct detection *det, const char *const *conds,
		     const size_t *lens, size_t nconds, struct sigma_err *err)
{
	struct parser p = {.det = det, .a = a, .err = err};
	det->nnodes = 0;
	det->nrefs = 0;
	err->msg[0] = 0;
	int root = -1;
	for (size_t i = 0; i < nconds; i++) {
		p.s = conds[i];
		p.n = lens[i];
		p.pos = 0;
		p.depth = 0;
		int r = parse_or(&p);
		if (r < 0)
			return -EINVAL;
		const char *w;
		size_t wl;
		enum tok t = peek(&p, &w, &wl);
		if (t == T_PIPE) {
			perr(&p, "aggregation expressions ('| count() ...') are unsupported: use a correlation rule");
			return -ENOTSUP;
		}
		if (t != T_END) {
			perr(&p, "unexpected text at offset %zu of the condition", p.pos);
			return -EINVAL;
		}
		if (root < 0) {
			root = r;
		} else {
			int n = new_node(&p, CN_OR);
			if (n < 0)
				return -EINVAL;
			det->nodes[n].a = (uint16_t)root;
			det->nodes[n].b = (uint16_t)r;
			root = n;
		}
	}
	if (root < 0) {
		perr(&p, "no condition");
		return -EINVAL;
	}
	det->root = (uint16_t)root;
	return 0;
}
