/* The prefilter's analysis of a Sigma rule (atomset.h): the literal sets its condition needs,
 * how rare each looks, and the gate of a rule whose set is common. */
#include "atomset.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "litscan.h"

#include "banned.h"

static void as_clear(struct atomset *s)
{
	s->n = 0;
	s->none = false;
}

static int as_add(struct atomset *s, uint32_t field, const char *lit, uint32_t len,
		  struct vmatch *src)
{
	/* A value may be longer than a scanner takes (sigma_value.c, MAX_VALUE): no literal then,
	 * rather than a rule set that cannot be built. */
	if (s->n >= ATOMSET_MAX || len > LITSCAN_MAX_LITERAL) {
		s->none = true;
		return 0;
	}
	if (s->n == s->cap) {
		unsigned nc = s->cap ? s->cap * 2 : 8;
		void *nv = realloc(s->v, nc * sizeof(*s->v));
		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n].field = field;
	s->v[s->n].lit = lit;
	s->v[s->n].len = len;
	s->v[s->n].src = src;
	s->n++;
	return 0;
}

static int as_union(struct atomset *dst, const struct atomset *src)
{
	if (src->none || dst->none) {
		dst->none = true;
		return 0;
	}
	for (unsigned i = 0; i < src->n; i++)
		if (as_add(dst, src->v[i].field, src->v[i].lit, src->v[i].len, src->v[i].src) < 0)
			return -ENOMEM;
	return 0;
}

static unsigned run_weight(const char *s, uint32_t n);

/* How rare a literal is likely to be, in half characters: run_weight's count (separators count
 * half, a run of common words one per word), plus two characters when the literal is
 * bound to the value's start, end or whole, where it can occur at one position of a value
 * rather than at any. Netcat's `Image|endswith: '/nc'` is rarer than its `CommandLine|contains:
 * ' -c '`, which everyday `sh -c` command lines hold. */
static unsigned atom_weight(uint32_t field, const struct vmatch *m, const char *lit, uint32_t len)
{
	unsigned w = run_weight(lit, len);
	return w + (atomset_where(field, m) != LITSCAN_ANYWHERE ? 4u : 0u);
}

/* Higher is more selective: the least rare literal counts most, then how few there are. */
static long as_score(const struct atomset *s)
{
	if (s->none || s->n == 0)
		return -1;
	unsigned minw = UINT_MAX;
	for (unsigned i = 0; i < s->n; i++) {
		unsigned w = atom_weight(s->v[i].field, s->v[i].src, s->v[i].lit, s->v[i].len);
		if (w < minw)
			minw = w;
	}
	if (minw > 24)
		minw = 24;
	return (long)minw * 1000 - (long)(s->n > 999 ? 999 : s->n);
}

static void as_move(struct atomset *dst, struct atomset *src)
{
	struct atomset t = *dst;
	*dst = *src;
	*src = t;
}

void atomset_release(struct atomset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Words that everyday events are full of: path components, the programs that builds, package
 * managers, scripts and administrators run all day, and the values of flags. A run made only of
 * them ("/usr/bin/", "/var/log", "/grep", "/systemctl", "true") is found in a large share of
 * events, however long it is. */
static bool common_word(const char *s, uint32_t n)
{
	static const char *const COMMON[] = {
	    "tmp",   "usr",	  "bin",     "sbin",	   "etc",     "var",   "dev",	"home",
	    "lib",   "opt",	  "proc",    "root",	   "run",     "sys",   "local", "share",
	    "null",  "log",	  "sh",	     "bash",	   "dash",    "env",   "sudo",	"su",
	    "cat",   "echo",	  "printf",  "grep",	   "egrep",   "sed",   "awk",	"head",
	    "tail",  "cut",	  "sort",    "uniq",	   "wc",      "tr",    "tee",	"xargs",
	    "find",  "ls",	  "cp",	     "mv",	   "rm",      "mkdir", "touch", "ln",
	    "chmod", "chown",	  "stat",    "readlink",   "date",    "sleep", "id",	"ps",
	    "kill",  "systemctl", "service", "journalctl", "ssh",     "curl",  "wget",	"git",
	    "make",  "cc",	  "gcc",     "python",	   "python3", "perl",  "node",	"tar",
	    "gzip",  "dpkg",	  "apt",     "rpm",	   "yum",     "dnf",   "which", "test",
	    "more",  "less",	  "vi",	     "vim",	   "true",    "false", "yes",	"no"};
	for (size_t i = 0; i < sizeof(COMMON) / sizeof(COMMON[0]); i++)
		if (strlen(COMMON[i]) == n && strncasecmp(COMMON[i], s, n) == 0)
			return true;
	return false;
}

/* How rare a literal run is likely to be, in half characters: separators count half, and a
 * run made only of common words, option letters and separators counts one per word, so that a
 * glob with the runs " /tmp/" and ".b64 " is indexed under ".b64 " (3% of exec events hold
 * " /tmp/"), and `Image|endswith: '/systemctl'` weighs less than the `CommandLine|contains:
 * 'firewalld'` of the same selection. */
static unsigned run_weight(const char *s, uint32_t n)
{
	static const char SEP[] = " /\\.-_,=:'\"";
	unsigned words = 0;
	for (uint32_t i = 0; i < n;) {
		while (i < n && s[i] && strchr(SEP, s[i]))
			i++;
		uint32_t w0 = i;
		while (i < n && !(s[i] && strchr(SEP, s[i])))
			i++;
		if (i == w0)
			break;
		bool option = i - w0 == 1 && w0 > 0 && s[w0 - 1] == '-'; /* " -c ", "-R" */
		if (!option && !common_word(s + w0, i - w0)) {
			words = 0;
			break;
		}
		words++;
	}
	if (words)
		return words;
	unsigned w = 0;
	for (uint32_t i = 0; i < n; i++)
		w += s[i] && strchr(SEP, s[i]) ? 1 : 2;
	return w;
}

/* The rarest-looking run of literal characters of a matcher, or none. */
static bool vm_atom(const struct vmatch *m, const char **lit, uint32_t *len)
{
	if (m->neq)
		return false;
	switch (m->kind) {
	case VM_EQ:
	case VM_PREFIX:
	case VM_SUFFIX:
	case VM_CONTAINS:
		if (!m->len)
			return false;
		*lit = m->lit;
		*len = m->len;
		return true;
	case VM_RE:
		/* sigma_value.c keeps a literal every match of the expression contains. */
		if (!m->len)
			return false;
		*lit = m->lit;
		*len = m->len;
		return true;
	case VM_GLOB: {
		uint32_t best = 0, bs = 0, run = 0;
		unsigned bw = 0;
		for (uint32_t i = 0; i <= m->len; i++) {
			if (i == m->len || m->wild[i]) {
				unsigned w = run ? run_weight(m->lit + i - run, run) : 0;
				if (w > bw || (w == bw && run > best)) {
					best = run;
					bw = w;
					bs = i - run;
				}
				run = 0;
			} else {
				run++;
			}
		}
		if (!best)
			return false;
		*lit = m->lit + bs;
		*len = best;
		return true;
	}
	}
	return false;
}

/* The atoms of one matcher into out: its literal, or for an expression without one the set of
 * literals one of which every match holds. *none set (out unchanged) when it has neither;
 * 0 or -ENOMEM. */
static int vm_atoms(const struct vmatch *m, uint32_t field, struct atomset *out, bool *none)
{
	const char *lit;
	uint32_t len;
	*none = false;
	if (m->kind == VM_RE && !m->len && m->nalt && !m->neq) {
		for (uint32_t i = 0; i < m->nalt; i++)
			if (as_add(out, field, m->alt[i], m->alt_len[i], (struct vmatch *)m) < 0)
				return -ENOMEM;
		return 0;
	}
	if (!vm_atom(m, &lit, &len)) {
		*none = true;
		return 0;
	}
	return as_add(out, field, lit, len, (struct vmatch *)m) < 0 ? -ENOMEM : 0;
}

static int fmatch_atoms(const struct fmatch *fm, struct atomset *out)
{
	as_clear(out);
	if (!fm->all) {
		for (unsigned i = 0; i < fm->nv; i++) {
			bool none;
			if (vm_atoms(&fm->v[i], fm->field, out, &none) < 0)
				return -ENOMEM;
			if (none) {
				out->none = true;
				return 0;
			}
		}
		if (!fm->nv)
			out->none = true;
		return 0;
	}
	/* all: any one group is required; pick the most selective. */
	struct atomset cur = {0};
	long best = -1;
	unsigned i = 0;
	int rc = 0;
	out->none = true;
	while (i < fm->nv) {
		uint32_t g = fm->v[i].group;
		as_clear(&cur);
		for (; i < fm->nv && fm->v[i].group == g; i++) {
			bool none;
			if ((rc = vm_atoms(&fm->v[i], fm->field, &cur, &none)) < 0)
				goto out;
			cur.none |= none;
		}
		long sc = as_score(&cur);
		if (sc > best) {
			best = sc;
			as_move(out, &cur);
		}
	}
out:
	atomset_release(&cur);
	return rc;
}

static int ident_atoms(const struct ident *id, struct atomset *out)
{
	as_clear(out);
	struct atomset sel = {0}, item = {0};
	int rc = 0;
	for (unsigned a = 0; a < id->n && !out->none; a++) {
		const struct selection *s = &id->alts[a];
		long best = -1;
		as_clear(&sel);
		sel.none = true;
		for (unsigned i = 0; i < s->n; i++) {
			if ((rc = fmatch_atoms(&s->items[i], &item)) < 0)
				goto out;
			long sc = as_score(&item);
			if (sc > best) {
				best = sc;
				as_move(&sel, &item);
			}
		}
		if ((rc = as_union(out, &sel)) < 0)
			goto out;
	}
	if (!id->n)
		out->none = true;
out:
	atomset_release(&sel);
	atomset_release(&item);
	return rc;
}

static int node_atoms(const struct detection *det, uint16_t n, struct atomset *out, unsigned depth)
{
	const struct cnode *c = &det->nodes[n];
	as_clear(out);
	if (depth > 64) {
		out->none = true;
		return 0;
	}
	struct atomset x = {0}, y = {0};
	int rc = 0;
	switch (c->kind) {
	case CN_IDENT:
		rc = ident_atoms(&det->idents[c->first], out);
		break;
	case CN_AND:
		if ((rc = node_atoms(det, c->a, &x, depth + 1)) < 0 ||
		    (rc = node_atoms(det, c->b, &y, depth + 1)) < 0)
			break;
		as_move(out, as_score(&x) >= as_score(&y) ? &x : &y);
		break;
	case CN_OR:
		if ((rc = node_atoms(det, c->a, out, depth + 1)) < 0 ||
		    (rc = node_atoms(det, c->b, &y, depth + 1)) < 0)
			break;
		rc = as_union(out, &y);
		break;
	case CN_ONE_OF:
	case CN_ALL_OF: {
		long best = -1;
		bool any = c->kind == CN_ONE_OF && c->a == 1;
		if (!any)
			out->none = true;
		for (uint32_t i = 0; i < c->count; i++) {
			if ((rc = ident_atoms(&det->idents[det->refs[c->first + i]], &x)) < 0)
				break;
			if (any) {
				if ((rc = as_union(out, &x)) < 0)
					break;
			} else if (c->kind == CN_ALL_OF && as_score(&x) > best) {
				best = as_score(&x);
				as_move(out, &x);
			}
		}
		/* "N of" with N > 1 needs any N: the union still holds. */
		if (c->kind == CN_ONE_OF && !any) {
			as_clear(out);
			for (uint32_t i = 0; i < c->count && rc == 0; i++)
				if ((rc = ident_atoms(&det->idents[det->refs[c->first + i]], &x)) ==
				    0)
					rc = as_union(out, &x);
		}
		break;
	}
	default:
		out->none = true;
	}
	atomset_release(&x);
	atomset_release(&y);
	return rc;
}

/* Where in a value the literal of matcher m must be: a whole-value, prefix or suffix match binds
 * it, so a scan checks only there (an executable's "/sh" is looked up at its end instead of at
 * every position). Keyword literals, expressions and globs can be anywhere. */
uint8_t atomset_where(uint32_t field, const struct vmatch *m)
{
	if (field == FM_KEYWORD)
		return LITSCAN_ANYWHERE;
	switch (m->kind) {
	case VM_EQ:
		return LITSCAN_WHOLE;
	case VM_PREFIX:
		return LITSCAN_START;
	case VM_SUFFIX:
		return LITSCAN_END;
	default:
		return LITSCAN_ANYWHERE;
	}
}

/* ---- the gate ---- */
/* A rule whose literals are all common ("/grep" at an executable's end, "/usr/bin/" in a command
 * line) would be evaluated on a large share of events, although its condition most often needs
 * a second, independent thing those events lack. Such a rule gets a gate: the literal set of
 * another operand its condition requires (another side of an AND, another item of a single-map
 * selection, another identifier of an "all of"; an OR, a "1 of" or a list of maps among them
 * counts as one operand, its set the union of its sides'). A candidate none of whose gate
 * literals the scan found is dropped unevaluated. Gate literals are scanned like the others, so
 * they are limited to the cheap ones: bound to a value's start, end or whole (a probe or two per
 * value), or four bytes and more (a window of the main tier); no keyword literals (they would go
 * into every field's scanner). */
#define GATE_WEAK 8 /* a rule whose rarest set weighs this or less gets a gate (atom_weight) */

struct gate_pick {
	const struct atomset *s1; /* the rule's literal set */
	struct atomset best, tmp;
	long score;
};

static bool gate_usable(const struct gate_pick *gp, const struct atomset *s)
{
	if (s->none || s->n == 0)
		return false;
	for (unsigned i = 0; i < s->n; i++) {
		if (s->v[i].field == FM_KEYWORD)
			return false;
		if (atomset_where(s->v[i].field, s->v[i].src) == LITSCAN_ANYWHERE &&
		    s->v[i].len < 4)
			return false;
		for (unsigned j = 0; j < gp->s1->n; j++)
			if (gp->s1->v[j].src == s->v[i].src) /* the rule's own set */
				return false;
	}
	return true;
}

static void gate_consider(struct gate_pick *gp)
{
	long sc = as_score(&gp->tmp);
	if (gate_usable(gp, &gp->tmp) && sc > gp->score) {
		gp->score = sc;
		as_move(&gp->best, &gp->tmp);
	}
}

static int gate_ident(struct gate_pick *gp, const struct ident *id)
{
	int rc;
	if (id->n != 1) {
		if ((rc = ident_atoms(id, &gp->tmp)) == 0)
			gate_consider(gp);
		return rc;
	}
	for (unsigned i = 0; i < id->alts[0].n; i++) {
		if ((rc = fmatch_atoms(&id->alts[0].items[i], &gp->tmp)) < 0)
			return rc;
		gate_consider(gp);
	}
	return 0;
}

/* Every operand node n requires, each considered as a gate. */
static int gate_walk(struct gate_pick *gp, const struct detection *det, uint16_t n, unsigned depth)
{
	const struct cnode *c = &det->nodes[n];
	int rc = 0;
	if (depth > 64)
		return 0;
	switch (c->kind) {
	case CN_AND:
		if ((rc = gate_walk(gp, det, c->a, depth + 1)) == 0)
			rc = gate_walk(gp, det, c->b, depth + 1);
		return rc;
	case CN_IDENT:
		return gate_ident(gp, &det->idents[c->first]);
	case CN_ALL_OF:
		for (uint32_t i = 0; i < c->count && rc == 0; i++)
			rc = gate_ident(gp, &det->idents[det->refs[c->first + i]]);
		return rc;
	default:
		if ((rc = node_atoms(det, n, &gp->tmp, depth)) == 0)
			gate_consider(gp);
		return rc;
	}
}

int atomset_gate(struct atomset *out, const struct detection *det, const struct atomset *s1)
{
	struct gate_pick gp = {.s1 = s1, .score = -1};
	int rc = 0;
	as_clear(out);
	if (s1->none || s1->n == 0 || as_score(s1) > GATE_WEAK * 1000L)
		goto done;
	if ((rc = gate_walk(&gp, det, det->root, 0)) == 0 && gp.score >= 0)
		as_move(out, &gp.best);
done:
	atomset_release(&gp.best);
	atomset_release(&gp.tmp);
	return rc;
}

int atomset_of_rule(struct atomset *out, const struct detection *det)
{
	return node_atoms(det, det->root, out, 0);
}
