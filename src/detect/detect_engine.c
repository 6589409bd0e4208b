/* The engine: owns loaded rules, resolves filters and correlation references, builds the literal
 * prefilter (one literal scanner per field over the literals each rule cannot match
 * without), and matches a doc by scanning its values once, then evaluating only the rules whose
 * literals were seen (plus the few rules without a usable literal). */
#include "detect.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "atomset.h"
#include "litscan.h"
#include "scan_memo.h"
#include "behaviour.h"
#include "ioc.h"
#include "sigma_int.h"


struct placeholder {
	char *name;
	char **values;
	size_t n;
};

struct atom {
	uint32_t group; /* logsource group of the rules behind it */
	uint32_t field;
	uint32_t len;
	const char *lit; /* lowercase */
	uint8_t where;	 /* enum litscan_where: where the literal must be in a value */
	uint32_t *rules; /* rule indexes */
	unsigned nrules, cap;
	bool filed; /* in its field's (or the keyword) scanners */
};

/* Characters of hex ids, hashes, numbers, timestamps and addresses, case-folded. Keyword
 * literals none of which is made only of these cannot match inside a value that is: such values
 * (a third of an event's bytes) are scanned only for the literals of their own field. */
static const bool IDISH[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['t'] = 1, ['T'] = 1,
    ['z'] = 1, ['Z'] = 1, ['-'] = 1, [':'] = 1, ['.'] = 1, ['+'] = 1,
};

/* Text values mostly show a letter past f within their first bytes, so the loop stops early. */
static bool idish(const char *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (!IDISH[(unsigned char)s[i]])
			return false;
	return true;
}

/* Rules with one logsource (product, category, service): a literal found counts only when its
 * group applies to the event, so an exec event never pays for syslog keyword rules or auditd
 * rules. */
struct lsgroup {
	struct logsource ls;
	bool keywords;	  /* has keyword (field-less) literals */
	bool idish_kw;	  /* one of them is made only of id characters (see idish) */
	uint32_t *always; /* rules of the group without literals */
	unsigned nalways, capalways;
};

struct detect_engine {
	struct arena arena;
	struct detect_fields *fields;
	detect_diag_fn diag;
	void *diag_ctx;
	struct placeholder *ph;
	size_t nph;
	struct sigma_rule **rules;
	unsigned nrules, caprules;
	struct sigma_corr **corrs;
	unsigned ncorrs, capcorrs;
	struct sigma_filter **filters;
	unsigned nfilters, capfilters;
	const struct detect_rule_meta **metas; /* rules then correlations, for listings */
	unsigned nmetas;
	struct detect_stats st;
	bool finished;
	bool behaviour_off;
	struct behaviour *behaviour;
	/* prefilter */
	struct atom *atoms;
	unsigned natoms, capatoms;
	uint32_t *atom_hash; /* open addressing, atom index + 1 */
	unsigned hash_cap;
	struct lsgroup *groups;
	unsigned ngroups;
	unsigned nalways; /* rules without literals, all groups */
	/* Per field with literals, two scanners: its literals (all groups), and its literals plus
	 * every keyword literal. Each value of an event goes through one of them, once, and a
	 * literal found is on the value's field or a keyword. Values of other fields go through the
	 * keyword scanner when keywords apply. */
	uint32_t *rule_group; /* per rule: its logsource group */
	/* Per rule: its gate, gate_ids[gate_off[r], gate_off[r + 1]) (build_gate). */
	uint32_t *gate_off, *gate_ids;
	unsigned ngate_ids, capgate_ids;
	struct field_scan *fscan; /* per field id */
	unsigned nfscan;
	struct litscan *kw_scan;
	uint32_t *kw_atoms;
	unsigned nkw_atoms, capkw_atoms;
	/* The keyword literals made only of id characters (see idish): the only ones a value made
	 * of those can hold, so such values (ids, hashes, times) skip the others. */
	struct litscan *kw_id_scan;
	uint32_t *kw_id_atoms;
	unsigned nkw_id_atoms, capkw_id_atoms;
	uint32_t kw_id_min; /* bytes of the shortest of them */
};

struct field_scan {
	uint32_t *atoms; /* atom ids on this field */
	unsigned natoms, cap;
	struct litscan *own;
	struct litscan *with_kw; /* == own without keyword literals */
};

#define LS_KEY_MAX 256
#define LS_MEMO 8

struct detect_ctx {
	struct detect_engine *e;
	struct detect_doc *doc;
	struct match_scratch ms;
	uint32_t gen;
	uint32_t *atom_seen;
	bool *gapp; /* per group: applies to the current event */
	uint32_t *rule_seen;
	uint32_t *cand;
	unsigned ncand;
	uint64_t evaluated, gated; /* candidates, since the ctx was made */
	uint32_t rec[SCAN_MEMO_IDS]; /* the first ids the current scan reported (on_literal) */
	uint32_t nrec;		     /* how many it reported */
	struct scan_memo memo;
	/* The last few logsources seen, with what each gave: which groups apply (gapp points
	 * into gapp_all at the current one's), whether keywords do. Events share a handful. */
	struct ls_memo {
		char key[LS_KEY_MAX];
		size_t len; /* 0: empty */
		bool keywords, idish_kw;
		bool always; /* an applying group has rules without literals */
	} lsm[LS_MEMO];
	bool *gapp_all; /* LS_MEMO rows of ngroups */
	unsigned lsm_next;
	char group[1024];
};

/* ---- small things ---- */
static const char *const SEVERITY[] = {"informational", "low", "medium", "high", "critical"};

const char *detect_severity_name(enum detect_severity s)
{
	return (unsigned)s < 5 ? SEVERITY[s] : "unknown";
}

int detect_severity_parse(const char *s)
{
	for (int i = 0; i < 5; i++)
		if (strcasecmp(s, SEVERITY[i]) == 0)
			return i;
	return -1;
}

struct arena *detect_engine_arena(struct detect_engine *e)
{
	return &e->arena;
}

struct detect_fields *detect_engine_fields_mut(struct detect_engine *e)
{
	return e->fields;
}

const struct detect_fields *detect_engine_fields(const struct detect_engine *e)
{
	return e->fields;
}

void detect_engine_diag(struct detect_engine *e, const char *path, unsigned line, const char *rule,
			bool fatal, const char *fmt, ...)
{
	if (!e->diag)
		return;
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct detect_diag d = {.path = path, .line = line, .rule = rule, .message = msg,
				.fatal = fatal};
	e->diag(e->diag_ctx, &d);
}

void detect_engine_count_doc(struct detect_engine *e, bool loaded)
{
	e->st.documents++;
	if (!loaded)
		e->st.failed++;
}

/* Grows *arr (of elem-size items) to hold one more. */
static int grow(void **arr, unsigned *cap, unsigned n, size_t elem)
{
	if (n < *cap)
		return 0;
	unsigned nc = *cap ? *cap * 2 : 16;
	void *p = realloc(*arr, (size_t)nc * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = nc;
	return 0;
}

/* ---- lifecycle ---- */
struct detect_engine *detect_engine_new(void)
{
	struct detect_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	arena_init(&e->arena);
	e->fields = detect_fields_new();
	if (!e->fields) {
		free(e);
		errno = ENOMEM;
		return NULL;
	}
	/* Indicator lists look at these fields: events must keep their values. */
	for (const char *const *f = IOC_FIELDS; *f; f++)
		detect_fields_intern(e->fields, *f, strlen(*f));
	for (const char *const *f = BEHAVIOUR_FIELDS; *f; f++)
		detect_fields_intern(e->fields, *f, strlen(*f));
	return e;
}

static void free_detection(struct detection *det)
{
	for (unsigned i = 0; i < det->nidents; i++)
		for (unsigned j = 0; j < det->idents[i].n; j++)
			for (unsigned k = 0; k < det->idents[i].alts[j].n; k++)
				sigma_value_free_re(&det->idents[i].alts[j].items[k]);
}

void detect_engine_free(struct detect_engine *e)
{
	if (!e)
		return;
	for (unsigned i = 0; i < e->nrules; i++) {
		free_detection(&e->rules[i]->det);
		free(e->rules[i]->filters);
		free(e->rules[i]->corr);
		free(e->rules[i]->corr_ri);
	}
	for (unsigned i = 0; i < e->nfilters; i++)
		free_detection(&e->filters[i]->det);
	for (unsigned i = 0; i < e->ncorrs; i++) {
		sigma_corr_release(e->corrs[i]);
		free(e->corrs[i]->corr);
		free(e->corrs[i]->corr_ri);
		free(e->corrs[i]->rules);
		free(e->corrs[i]->corrs);
		free(e->corrs[i]->group_fields);
	}
	for (size_t i = 0; i < e->nph; i++) {
		for (size_t j = 0; j < e->ph[i].n; j++)
			free(e->ph[i].values[j]);
		free(e->ph[i].values);
		free(e->ph[i].name);
	}
	free(e->ph);
	for (unsigned i = 0; i < e->natoms; i++)
		free(e->atoms[i].rules);
	free(e->atoms);
	free(e->atom_hash);
	for (unsigned g = 0; g < e->ngroups; g++)
		free(e->groups[g].always);
	free(e->groups);
	for (unsigned f = 0; f < e->nfscan; f++) {
		struct field_scan *fs = &e->fscan[f];
		if (fs->with_kw != fs->own)
			litscan_free(fs->with_kw);
		litscan_free(fs->own);
		free(fs->atoms);
	}
	free(e->fscan);
	free(e->rule_group);
	free(e->gate_off);
	free(e->gate_ids);
	litscan_free(e->kw_scan);
	free(e->kw_atoms);
	litscan_free(e->kw_id_scan);
	free(e->kw_id_atoms);
	free(e->rules);
	free(e->corrs);
	free(e->filters);
	free(e->metas);
	behaviour_free(e->behaviour);
	detect_fields_free(e->fields);
	arena_release(&e->arena);
	free(e);
}

void detect_engine_set_diag(struct detect_engine *e, detect_diag_fn fn, void *ctx)
{
	e->diag = fn;
	e->diag_ctx = ctx;
}

int detect_engine_set_placeholder(struct detect_engine *e, const char *name,
				  const char *const *values, size_t n)
{
	struct placeholder *p = realloc(e->ph, (e->nph + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	e->ph = p;
	p = &e->ph[e->nph];
	p->name = strdup(name);
	p->values = calloc(n ? n : 1, sizeof(char *));
	p->n = 0;
	if (!p->name || !p->values)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		if (!(p->values[i] = strdup(values[i])))
			goto oom;
		p->n++;
	}
	e->nph++;
	return 0;
oom:
	for (size_t i = 0; i < p->n; i++)
		free(p->values[i]);
	free(p->values);
	free(p->name);
	return -ENOMEM;
}

const char *const *detect_engine_placeholder(const struct detect_engine *e, const char *name,
					     size_t len, size_t *n)
{
	for (size_t i = 0; i < e->nph; i++)
		if (strlen(e->ph[i].name) == len && memcmp(e->ph[i].name, name, len) == 0) {
			*n = e->ph[i].n;
			return (const char *const *)e->ph[i].values;
		}
	return NULL;
}

int detect_engine_add_yaml(struct detect_engine *e, const char *path, const char *text,
			   size_t len)
{
	if (e->finished)
		return -EBUSY;
	return sigma_load_yaml(e, path, text, len);
}

/* ---- registration ---- */
static const struct detect_rule_meta *find_meta_id(const struct detect_engine *e, const char *id)
{
	for (unsigned i = 0; i < e->nmetas; i++)
		if (strcmp(e->metas[i]->id, id) == 0)
			return e->metas[i];
	return NULL;
}

static int add_meta(struct detect_engine *e, const struct detect_rule_meta *m, const char *path,
		    unsigned line)
{
	const struct detect_rule_meta *dup = find_meta_id(e, m->id);
	if (dup) {
		detect_engine_diag(e, path, line, m->title, true,
				   "duplicate id %s (already used by '%s' in %s)", m->id, dup->title,
				   dup->path);
		return -EEXIST;
	}
	unsigned cap = e->nmetas; /* metas grows with rules + corrs; size exactly */
	const struct detect_rule_meta **p = realloc(e->metas, (cap + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	e->metas = p;
	e->metas[e->nmetas++] = m;
	return 0;
}

int detect_engine_add_rule(struct detect_engine *e, struct sigma_rule *r, unsigned line)
{
	if (grow((void **)&e->rules, &e->caprules, e->nrules, sizeof(*e->rules)) < 0)
		return -ENOMEM;
	int rc = add_meta(e, &r->meta, r->meta.path, line);
	if (rc < 0)
		return rc;
	r->index = e->nrules;
	e->rules[e->nrules++] = r;
	e->st.rules++;
	return 0;
}

int detect_engine_add_corr(struct detect_engine *e, struct sigma_corr *c, unsigned line)
{
	if (grow((void **)&e->corrs, &e->capcorrs, e->ncorrs, sizeof(*e->corrs)) < 0)
		return -ENOMEM;
	int rc = add_meta(e, &c->meta, c->path, line);
	if (rc < 0)
		return rc;
	c->index = e->ncorrs;
	e->corrs[e->ncorrs++] = c;
	e->st.correlations++;
	return 0;
}

int detect_engine_add_filter(struct detect_engine *e, struct sigma_filter *f, unsigned line)
{
	(void)line;
	if (grow((void **)&e->filters, &e->capfilters, e->nfilters, sizeof(*e->filters)) < 0)
		return -ENOMEM;
	e->filters[e->nfilters++] = f;
	e->st.filters++;
	return 0;
}

size_t detect_engine_rule_count(const struct detect_engine *e)
{
	return e->nmetas;
}

const struct detect_rule_meta *detect_engine_rule(const struct detect_engine *e, size_t i)
{
	return i < e->nmetas ? e->metas[i] : NULL;
}

void detect_engine_stats(const struct detect_engine *e, struct detect_stats *st)
{
	*st = e->st;
}

/* ---- finishing: filters and correlations ---- */
static struct sigma_rule *find_rule(struct detect_engine *e, const char *ref)
{
	for (unsigned i = 0; i < e->nrules; i++)
		if (strcmp(e->rules[i]->meta.id, ref) == 0 ||
		    (e->rules[i]->name && strcmp(e->rules[i]->name, ref) == 0))
			return e->rules[i];
	return NULL;
}

static struct sigma_corr *find_corr(struct detect_engine *e, const char *ref)
{
	for (unsigned i = 0; i < e->ncorrs; i++)
		if (strcmp(e->corrs[i]->meta.id, ref) == 0 ||
		    (e->corrs[i]->name && strcmp(e->corrs[i]->name, ref) == 0))
			return e->corrs[i];
	return NULL;
}

static int link_corr(struct sigma_corr ***list, unsigned **ri, unsigned *n, struct sigma_corr *c,
		     unsigned pos)
{
	struct sigma_corr **l = realloc(*list, (*n + 1) * sizeof(**list));
	if (!l)
		return -ENOMEM;
	*list = l;
	unsigned *r = realloc(*ri, (*n + 1) * sizeof(**ri));
	if (!r)
		return -ENOMEM;
	*ri = r;
	l[*n] = c;
	r[*n] = pos;
	(*n)++;
	return 0;
}

/* Field id a correlation reads for group-by name g from referenced rule i (aliases first). */
static uint32_t corr_field(struct detect_engine *e, struct sigma_corr *c, const char *g,
			   unsigned i)
{
	const char *field = g;
	const char *refname = c->rule_refs[i];
	for (unsigned k = 0; k < c->nalias; k++)
		if (strcmp(c->aliases[k].alias, g) == 0 &&
		    (strcmp(c->aliases[k].rule, refname) == 0 ||
		     (c->rules[i] && c->rules[i]->name &&
		      strcmp(c->aliases[k].rule, c->rules[i]->name) == 0)))
			field = c->aliases[k].field;
	const struct logsource *ls = c->rules[i] ? &c->rules[i]->ls : &c->ls;
	size_t el;
	bool mapped;
	const char *ecs = sigma_field_to_ecs(ls, field, strlen(field), &el, &mapped);
	return detect_fields_intern(e->fields, ecs, el);
}

static int resolve_corr(struct detect_engine *e, struct sigma_corr *c)
{
	c->rules = calloc(c->nrules, sizeof(*c->rules));
	c->corrs = calloc(c->nrules, sizeof(*c->corrs));
	c->group_fields = calloc((size_t)(c->ngroup ? c->ngroup : 1) * c->nrules, sizeof(uint32_t));
	if (!c->rules || !c->corrs || !c->group_fields)
		return -ENOMEM;
	for (unsigned i = 0; i < c->nrules; i++) {
		struct sigma_rule *r = find_rule(e, c->rule_refs[i]);
		struct sigma_corr *cc = r ? NULL : find_corr(e, c->rule_refs[i]);
		if (!r && (!cc || cc == c)) {
			detect_engine_diag(e, c->path, 0, c->meta.title, true,
					   "correlation refers to unknown rule '%s'", c->rule_refs[i]);
			return -ENOENT;
		}
		c->rules[i] = r;
		c->corrs[i] = cc;
		if (i == 0 && r)
			c->ls = r->ls;
	}
	for (unsigned g = 0; g < c->ngroup; g++)
		for (unsigned i = 0; i < c->nrules; i++) {
			uint32_t id = corr_field(e, c, c->group_by[g], i);
			if (id == DETECT_FIELD_NONE)
				return -E2BIG;
			c->group_fields[g * c->nrules + i] = id;
		}
	if (c->type == CORR_VALUE_COUNT) {
		size_t el;
		bool mapped;
		const char *ecs = sigma_field_to_ecs(&c->ls, c->value_field_name,
						     strlen(c->value_field_name), &el, &mapped);
		c->value_field = detect_fields_intern(e->fields, ecs, el);
	}
	int rc = sigma_corr_init(c);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < c->nrules; i++) {
		if (c->rules[i]) {
			struct sigma_rule *r = (struct sigma_rule *)c->rules[i];
			rc = link_corr(&r->corr, &r->corr_ri, &r->ncorr, c, i);
			if (!c->generate_refs)
				r->meta.generate = false;
		} else {
			struct sigma_corr *cc = (struct sigma_corr *)c->corrs[i];
			rc = link_corr(&cc->corr, &cc->corr_ri, &cc->ncorr, c, i);
			if (!c->generate_refs)
				cc->meta.generate = false;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int resolve_filters(struct detect_engine *e)
{
	for (unsigned i = 0; i < e->nfilters; i++) {
		struct sigma_filter *f = e->filters[i];
		for (unsigned j = 0; j < f->nrules; j++) {
			struct sigma_rule *r = find_rule(e, f->rules[j]);
			if (!r) {
				detect_engine_diag(e, f->path, 0, f->title, false,
						   "filter refers to unknown rule '%s'", f->rules[j]);
				continue;
			}
			const struct sigma_filter **l =
				realloc(r->filters, (r->nfilters + 1) * sizeof(*l));
			if (!l)
				return -ENOMEM;
			r->filters = l;
			l[r->nfilters++] = f;
		}
	}
	return 0;
}

/* ---- finishing: prefilter ---- */
static uint32_t atom_hash(uint32_t group, uint32_t field, uint8_t where, const char *lit,
			  uint32_t len)
{
	uint32_t h = ((2166136261u ^ field) * 16777619u ^ group) * 16777619u ^ where;
	for (uint32_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)(lit[i] | ((lit[i] >= 'A' && lit[i] <= 'Z') ? 0x20 : 0))) *
		    16777619u;
	return h;
}

static bool lit_eq_nocase(const char *a, const char *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x |= 0x20;
		if (y >= 'A' && y <= 'Z')
			y |= 0x20;
		if (x != y)
			return false;
	}
	return true;
}

static int atom_intern(struct detect_engine *e, uint32_t group, uint32_t field, uint8_t where,
		       const char *lit, uint32_t len, uint32_t *id)
{
	if ((e->natoms + 1) * 2 > e->hash_cap) {
		unsigned nc = e->hash_cap ? e->hash_cap * 2 : 1024;
		uint32_t *nh = calloc(nc, sizeof(*nh));
		if (!nh)
			return -ENOMEM;
		for (unsigned i = 0; i < e->natoms; i++) {
			uint32_t h = atom_hash(e->atoms[i].group, e->atoms[i].field, e->atoms[i].where,
					       e->atoms[i].lit, e->atoms[i].len);
			unsigned k = h & (nc - 1);
			while (nh[k])
				k = (k + 1) & (nc - 1);
			nh[k] = i + 1;
		}
		free(e->atom_hash);
		e->atom_hash = nh;
		e->hash_cap = nc;
	}
	uint32_t h = atom_hash(group, field, where, lit, len);
	unsigned k = h & (e->hash_cap - 1);
	while (e->atom_hash[k]) {
		struct atom *a = &e->atoms[e->atom_hash[k] - 1];
		if (a->group == group && a->field == field && a->where == where && a->len == len &&
		    lit_eq_nocase(a->lit, lit, len)) {
			*id = e->atom_hash[k] - 1;
			return 0;
		}
		k = (k + 1) & (e->hash_cap - 1);
	}
	if (grow((void **)&e->atoms, &e->capatoms, e->natoms, sizeof(*e->atoms)) < 0)
		return -ENOMEM;
	struct atom *a = &e->atoms[e->natoms];
	memset(a, 0, sizeof(*a));
	a->group = group;
	a->field = field;
	a->where = where;
	a->lit = lit;
	a->len = len;
	e->atom_hash[k] = e->natoms + 1;
	*id = e->natoms++;
	return 0;
}

static bool str_eq_ci(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcasecmp(a, b) == 0);
}

/* The group of rules with logsource ls, created when new; its index, or -1 (out of memory). */
static int group_of(struct detect_engine *e, const struct logsource *ls)
{
	for (unsigned g = 0; g < e->ngroups; g++) {
		const struct logsource *x = &e->groups[g].ls;
		if (str_eq_ci(x->product, ls->product) && str_eq_ci(x->category, ls->category) &&
		    str_eq_ci(x->service, ls->service))
			return (int)g;
	}
	struct lsgroup *ng = realloc(e->groups, (e->ngroups + 1) * sizeof(*ng));
	if (!ng)
		return -1;
	e->groups = ng;
	memset(&ng[e->ngroups], 0, sizeof(ng[0]));
	ng[e->ngroups].ls = *ls;
	return (int)e->ngroups++;
}

/* Files a new atom under its field, or as a keyword. */
static int scan_add(struct detect_engine *e, struct lsgroup *g, const struct atom *a, uint32_t id)
{
	if (a->field == FM_KEYWORD) {
		g->keywords = true;
		if (grow((void **)&e->kw_atoms, &e->capkw_atoms, e->nkw_atoms, sizeof(uint32_t)) < 0)
			return -ENOMEM;
		e->kw_atoms[e->nkw_atoms++] = id;
		if (!idish(a->lit, a->len))
			return 0;
		g->idish_kw = true;
		if (!e->nkw_id_atoms || a->len < e->kw_id_min)
			e->kw_id_min = a->len;
		if (grow((void **)&e->kw_id_atoms, &e->capkw_id_atoms, e->nkw_id_atoms,
			 sizeof(uint32_t)) < 0)
			return -ENOMEM;
		e->kw_id_atoms[e->nkw_id_atoms++] = id;
		return 0;
	}
	if (a->field >= e->nfscan)
		return -EINVAL; /* fields are interned while rules load, before this */
	struct field_scan *fs = &e->fscan[a->field];
	if (grow((void **)&fs->atoms, &fs->cap, fs->natoms, sizeof(uint32_t)) < 0)
		return -ENOMEM;
	fs->atoms[fs->natoms++] = id;
	return 0;
}

/* A builder of the atoms of two lists; NULL + errno. */
static struct litscan_builder *builder_of(const struct detect_engine *e, const uint32_t *x,
					  unsigned nx, const uint32_t *y, unsigned ny)
{
	struct litscan_builder *b = litscan_builder_new();
	int rc = b ? 0 : -ENOMEM;
	for (unsigned i = 0; i < nx + ny && rc == 0; i++) {
		uint32_t id = i < nx ? x[i] : y[i - nx];
		rc = litscan_builder_add_at(b, e->atoms[id].lit, e->atoms[id].len, id,
					    (enum litscan_where)e->atoms[id].where);
	}
	if (rc == 0)
		return b;
	litscan_builder_free(b);
	errno = -rc;
	return NULL;
}

/* A scanner over the atoms of two lists. NULL + errno. */
static struct litscan *scanner_of(const struct detect_engine *e, const uint32_t *x, unsigned nx,
				  const uint32_t *y, unsigned ny)
{
	struct litscan_builder *b = builder_of(e, x, nx, y, ny);
	struct litscan *ls = b ? litscan_build(b) : NULL;
	int err = errno;
	litscan_builder_free(b);
	errno = err;
	return ls;
}

/* A field with at most this many literals of its own found anywhere in a value has its keyword
 * scanner's bitmaps shared with the others like it (build_scanners). */
#define KW_SHARE_MAX 64

static unsigned anywhere_atoms(const struct detect_engine *e, const struct field_scan *fs)
{
	unsigned n = 0;
	for (unsigned i = 0; i < fs->natoms; i++)
		n += e->atoms[fs->atoms[i]].where == LITSCAN_ANYWHERE;
	return n;
}

/* Per field, its literals' scanner and, when there are keyword literals, one with those too;
 * the keyword scanners. Every keyword literal is in each field's second scanner, and an event's
 * values go through a dozen of them: for the fields with few literals of their own found
 * anywhere (bound ones have bitmaps of their own), those scanners and the keyword one are built
 * as a set (litscan_build_set) whose anywhere bitmaps are shared, one table in the cache where
 * there were a dozen of 8 KB. A field with many (the command line) keeps its own: its keys
 * would be found in the other fields' values. */
static int build_scanners(struct detect_engine *e)
{
	size_t cap = (size_t)e->nfscan + 1, n = 0;
	struct litscan_builder **b = calloc(cap, sizeof(*b));
	struct litscan ***dst = calloc(cap, sizeof(*dst));
	struct litscan **out = calloc(cap, sizeof(*out));
	int rc = b && dst && out ? 0 : -ENOMEM;
	if (rc == 0 && e->nkw_id_atoms &&
	    !(e->kw_id_scan = scanner_of(e, e->kw_id_atoms, e->nkw_id_atoms, NULL, 0)))
		rc = -errno;
	if (rc == 0 && e->nkw_atoms) {
		dst[n] = &e->kw_scan;
		if (!(b[n++] = builder_of(e, e->kw_atoms, e->nkw_atoms, NULL, 0)))
			rc = -errno;
	}
	for (unsigned f = 0; f < e->nfscan && rc == 0; f++) {
		struct field_scan *fs = &e->fscan[f];
		if (!fs->natoms)
			continue;
		if (!(fs->own = scanner_of(e, fs->atoms, fs->natoms, NULL, 0))) {
			rc = -errno;
			break;
		}
		fs->with_kw = fs->own;
		if (!e->nkw_atoms)
			continue;
		if (anywhere_atoms(e, fs) > KW_SHARE_MAX) {
			if (!(fs->with_kw = scanner_of(e, fs->atoms, fs->natoms, e->kw_atoms,
						       e->nkw_atoms)))
				rc = -errno;
			continue;
		}
		dst[n] = &fs->with_kw;
		if (!(b[n++] = builder_of(e, fs->atoms, fs->natoms, e->kw_atoms, e->nkw_atoms)))
			rc = -errno;
	}
	if (rc == 0 && (rc = litscan_build_set(b, n, out)) == 0)
		for (size_t i = 0; i < n; i++)
			*dst[i] = out[i];
	for (size_t i = 0; b && i < n; i++)
		litscan_builder_free(b[i]);
	free(b);
	free(dst);
	free(out);
	return rc;
}

/* ---- finishing: the gate (atomset.c says which rules get one) ---- */
/* Literal i of set s, of a rule of group gi: interned, filed in its field's (or the keyword)
 * scanners, and its matcher marked so that evaluation rules it out when the scan did not see
 * it (detect_match.c vm_field); not a matcher whose literals are a set of several, where the
 * absence of one of them says nothing. Its atom id in *id. 0 or -ENOMEM. */
static int register_literal(struct detect_engine *e, uint32_t gi, const struct atomset *s,
			    unsigned i, uint32_t *id)
{
	int rc = atom_intern(e, gi, s->v[i].field, atomset_where(s->v[i].field, s->v[i].src),
			     s->v[i].lit, s->v[i].len, id);
	if (rc < 0)
		return rc;
	struct atom *a = &e->atoms[*id];
	if (s->v[i].src->nalt <= 1)
		s->v[i].src->atom = *id + 1;
	if (!a->filed && (rc = scan_add(e, &e->groups[gi], a, *id)) < 0)
		return rc;
	a->filed = true;
	return 0;
}

/* Rule r's gate, after its literal set s1 was registered: gate_off[r + 1] set, its literals
 * interned and filed. 0 or -ENOMEM. */
static int build_gate(struct detect_engine *e, unsigned r, const struct atomset *s1)
{
	struct atomset gate = {0};
	int rc;
	e->gate_off[r + 1] = e->ngate_ids;
	if ((rc = atomset_gate(&gate, &e->rules[r]->det, s1)) < 0 || gate.n == 0)
		goto out;
	for (unsigned i = 0; i < gate.n; i++) {
		uint32_t id;
		if ((rc = register_literal(e, e->rule_group[r], &gate, i, &id)) < 0)
			goto out;
		if ((rc = grow((void **)&e->gate_ids, &e->capgate_ids, e->ngate_ids,
			       sizeof(uint32_t))) < 0)
			goto out;
		e->gate_ids[e->ngate_ids++] = id;
	}
	e->gate_off[r + 1] = e->ngate_ids;
	e->st.gated++;
out:
	atomset_release(&gate);
	return rc;
}

static int build_prefilter(struct detect_engine *e)
{
	struct atomset s = {0};
	int rc = 0;
	e->nfscan = detect_fields_count(e->fields);
	e->fscan = calloc(e->nfscan ? e->nfscan : 1, sizeof(*e->fscan));
	e->rule_group = calloc(e->nrules ? e->nrules : 1, sizeof(uint32_t));
	e->gate_off = calloc(e->nrules + 1, sizeof(uint32_t));
	if (!e->fscan || !e->rule_group || !e->gate_off) {
		rc = -ENOMEM;
		goto out;
	}
	for (unsigned r = 0; r < e->nrules; r++) {
		const struct detection *det = &e->rules[r]->det;
		int gi = group_of(e, &e->rules[r]->ls);
		if (gi < 0) {
			rc = -ENOMEM;
			goto out;
		}
		e->rule_group[r] = (uint32_t)gi;
		struct lsgroup *g = &e->groups[gi];
		if ((rc = atomset_of_rule(&s, det)) < 0)
			goto out;
		if (s.none || s.n == 0) {
			if ((rc = grow((void **)&g->always, &g->capalways, g->nalways,
				       sizeof(uint32_t))) < 0)
				goto out;
			g->always[g->nalways++] = r;
			e->nalways++;
			e->gate_off[r + 1] = e->ngate_ids;
			continue;
		}
		for (unsigned i = 0; i < s.n; i++) {
			uint32_t id;
			if ((rc = register_literal(e, (uint32_t)gi, &s, i, &id)) < 0)
				goto out;
			struct atom *a = &e->atoms[id];
			if (a->nrules && a->rules[a->nrules - 1] == r)
				continue;
			if ((rc = grow((void **)&a->rules, &a->cap, a->nrules, sizeof(uint32_t))) < 0)
				goto out;
			a->rules[a->nrules++] = r;
		}
		if ((rc = build_gate(e, r, &s)) < 0)
			goto out;
	}
	if ((rc = build_scanners(e)) < 0)
		goto out;
	e->st.atoms = e->natoms;
	e->st.unfiltered = e->nalways;
out:
	atomset_release(&s);
	return rc;
}

int detect_engine_finish(struct detect_engine *e)
{
	if (e->finished)
		return -EBUSY;
	int rc;
	for (unsigned i = 0; i < e->ncorrs; i++) {
		rc = resolve_corr(e, e->corrs[i]);
		if (rc == -ENOENT) {
			/* Unusable: drop it from matching but keep the others. */
			struct sigma_corr *bad = e->corrs[i];
			e->st.correlations--;
			e->st.failed++;
			free(bad->rules);
			free(bad->corrs);
			free(bad->group_fields);
			bad->rules = NULL;
			bad->corrs = NULL;
			bad->group_fields = NULL;
			for (unsigned j = i; j + 1 < e->ncorrs; j++)
				e->corrs[j] = e->corrs[j + 1];
			e->ncorrs--;
			i--;
			continue;
		}
		if (rc < 0)
			return rc;
	}
	if ((rc = resolve_filters(e)) < 0)
		return rc;
	if ((rc = build_prefilter(e)) < 0)
		return rc;
	if (!e->behaviour_off) {
		if (!(e->behaviour = behaviour_new(NULL)))
			return -ENOMEM;
		for (size_t i = 0; i < behaviour_rule_count(); i++) {
			const struct detect_rule_meta **p =
			    realloc(e->metas, (e->nmetas + 1) * sizeof(*p));
			if (!p)
				return -ENOMEM;
			e->metas = p;
			e->metas[e->nmetas++] = behaviour_rule(i);
		}
	}
	e->finished = true;
	return 0;
}

int detect_engine_set_behaviour(struct detect_engine *e, bool on)
{
	if (e->finished)
		return -EBUSY;
	e->behaviour_off = !on;
	return 0;
}

/* ---- matching ---- */
struct detect_ctx *detect_ctx_new(struct detect_engine *e)
{
	if (!e->finished) {
		errno = EINVAL;
		return NULL;
	}
	struct detect_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->e = e;
	c->doc = detect_doc_new(e->fields);
	c->ms.md = pcre2_match_data_create(1, NULL);
	c->atom_seen = calloc(e->natoms ? e->natoms : 1, sizeof(uint32_t));
	c->gapp_all = calloc((size_t)LS_MEMO * (e->ngroups ? e->ngroups : 1), sizeof(bool));
	c->gapp = c->gapp_all;
	c->rule_seen = calloc(e->nrules ? e->nrules : 1, sizeof(uint32_t));
	c->cand = calloc(e->nrules ? e->nrules : 1, sizeof(uint32_t));
	if (!c->doc || !c->ms.md || !c->atom_seen || !c->gapp_all || !c->rule_seen || !c->cand) {
		detect_ctx_free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

void detect_ctx_free(struct detect_ctx *c)
{
	if (!c)
		return;
	detect_doc_free(c->doc);
	pcre2_match_data_free(c->ms.md);
	free(c->atom_seen);
	free(c->gapp_all);
	free(c->rule_seen);
	free(c->cand);
	free(c);
}

void detect_ctx_memo_stats(const struct detect_ctx *c, uint64_t *hits, uint64_t *misses)
{
	*hits = c->memo.hits;
	*misses = c->memo.misses;
}

void detect_ctx_cand_stats(const struct detect_ctx *c, uint64_t *evaluated, uint64_t *gated)
{
	*evaluated = c->evaluated;
	*gated = c->gated;
}

struct detect_doc *detect_ctx_doc(struct detect_ctx *c)
{
	return c->doc;
}

/* The rules of an atom become candidates (each once per event). */
static void on_atom(struct detect_ctx *c, uint32_t id)
{
	if (c->atom_seen[id] == c->gen)
		return;
	c->atom_seen[id] = c->gen;
	const struct atom *a = &c->e->atoms[id];
	for (unsigned i = 0; i < a->nrules; i++) {
		uint32_t r = a->rules[i];
		if (c->rule_seen[r] != c->gen) {
			c->rule_seen[r] = c->gen;
			c->cand[c->ncand++] = r;
		}
	}
}

/* A literal found in the value being scanned counts when its group applies to the event. It is
 * on the value's field or a keyword: a field's scanners hold only those (scan_values). */
static void count_literal(struct detect_ctx *c, uint32_t id)
{
	if (c->gapp[c->e->atoms[id].group])
		on_atom(c, id);
}

/* The scanners' callback: count_literal, keeping the first ids of the scan for the memo while a
 * short value is scanned (scan_one). */
static int on_literal(void *ctx, uint32_t id, size_t start)
{
	(void)start;
	struct detect_ctx *c = ctx;
	if (c->nrec < SCAN_MEMO_IDS)
		c->rec[c->nrec] = id;
	c->nrec++;
	count_literal(c, id);
	return 0;
}

/* One value through one scanner; a short value scanned before has what that scan reported
 * reported again instead. */
static void scan_one(struct detect_ctx *c, const struct litscan *ls, const struct detect_value *v)
{
	if (v->len > SCAN_MEMO_MAX_LEN) {
		litscan_scan(ls, v->str, v->len, on_literal, c);
		return;
	}
	struct scan_memo_key k = scan_memo_key(v->str, v->len);
	const struct scan_memo_entry *m = scan_memo_known(&c->memo, &k, ls);
	if (m) {
		for (uint32_t i = 0; i < m->nids; i++)
			count_literal(c, m->ids[i]);
		return;
	}
	c->nrec = 0;
	litscan_scan(ls, v->str, v->len, on_literal, c);
	if (c->nrec <= SCAN_MEMO_IDS)
		scan_memo_put(&c->memo, &k, ls, c->rec, c->nrec);
}

/* Every value that a literal could count in goes through one scanner, once: the literals of
 * its field, plus the keyword literals when a keyword group applies. A value made only of id
 * characters can hold only the keyword literals that are too, so such a value (an id, a
 * number, a time) goes through its field's literals and, when some apply, a scanner of those
 * keyword literals. */
static void scan_values(struct detect_ctx *c, bool keywords, bool idish_kw)
{
	const struct detect_engine *e = c->e;
	const struct detect_doc *doc = c->doc;
	for (unsigned k = 0; k < doc->nvalues; k++) {
		const struct detect_value *v = &doc->values[k];
		if (!v->len)
			continue;
		const struct field_scan *fs = v->field < e->nfscan ? &e->fscan[v->field] : NULL;
		bool own = fs && fs->own;
		if (!keywords) {
			if (own)
				scan_one(c, fs->own, v);
		} else if (!idish(v->str, v->len)) {
			scan_one(c, own ? fs->with_kw : e->kw_scan, v);
		} else {
			if (own)
				scan_one(c, fs->own, v);
			if (idish_kw && v->len >= e->kw_id_min)
				litscan_scan(e->kw_id_scan, v->str, v->len, on_literal, c);
		}
	}
}

/* Candidates are few: insertion sort keeps hits in rule order without a qsort call. */
static void sort_u32(uint32_t *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		uint32_t x = v[i];
		unsigned j = i;
		while (j > 0 && v[j - 1] > x) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

static int emit_corr(struct detect_ctx *c, struct sigma_corr *const *list, const unsigned *ri,
		     unsigned n, detect_hit_fn fn, void *fctx, int *hits, unsigned depth)
{
	if (depth > 8)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		struct detect_hit hit;
		if (!sigma_corr_feed(list[i], ri[i], c->doc, c->group, sizeof(c->group), &hit))
			continue;
		if (list[i]->meta.generate) {
			(*hits)++;
			int rc = fn ? fn(fctx, &hit) : 0;
			if (rc)
				return rc;
		}
		int rc = emit_corr(c, (struct sigma_corr *const *)list[i]->corr, list[i]->corr_ri,
				   list[i]->ncorr, fn, fctx, hits, depth + 1);
		if (rc)
			return rc;
	}
	return 0;
}

int detect_ctx_match_doc(struct detect_ctx *c, struct detect_doc *doc, detect_hit_fn fn,
			 void *fn_ctx)
{
	struct detect_doc *own = c->doc;
	c->doc = doc;
	int rc = detect_ctx_match(c, fn, fn_ctx);
	c->doc = own;
	return rc;
}

/* The logsource as one string in out: product, service and categories, each as 'N' (absent)
 * or 'S' and its text, NUL-terminated; its length, or 0 when it does not fit. */
static size_t logsource_key(const struct detect_logsource *s, char *out, size_t cap)
{
	const char *part[2 + DETECT_DOC_MAX_CATEGORIES];
	unsigned n = 0;
	size_t len = 0;

	part[n++] = s->product;
	part[n++] = s->service;
	for (unsigned i = 0; i < s->ncategory && i < DETECT_DOC_MAX_CATEGORIES; i++)
		part[n++] = s->category[i];
	for (unsigned i = 0; i < n; i++) {
		size_t k = part[i] ? strlen(part[i]) + 1 : 0;
		if (k + 1 > cap - len)
			return 0;
		out[len++] = part[i] ? 'S' : 'N';
		memcpy(out + len, part[i] ? part[i] : "", k);
		len += k;
	}
	return len;
}

/* Which groups apply to the event (c->gapp), and whether keyword literals do; the rules of
 * the applying groups without literals become candidates. */
static void apply_groups(struct detect_ctx *c, bool *keywords, bool *idish_kw)
{
	const struct detect_engine *e = c->e;
	const unsigned ng = e->ngroups ? e->ngroups : 1;
	char key[LS_KEY_MAX];
	size_t kl = logsource_key(&c->doc->src, key, sizeof(key));
	unsigned slot = LS_MEMO;

	for (unsigned i = 0; kl && i < LS_MEMO; i++)
		if (c->lsm[i].len == kl && memcmp(c->lsm[i].key, key, kl) == 0) {
			slot = i;
			break;
		}
	if (slot == LS_MEMO) {
		struct ls_memo *m = &c->lsm[slot = c->lsm_next];
		bool *gapp = c->gapp_all + (size_t)slot * ng;
		c->lsm_next = (c->lsm_next + 1) % LS_MEMO;
		m->keywords = m->idish_kw = m->always = false;
		for (unsigned gi = 0; gi < e->ngroups; gi++) {
			const struct lsgroup *g = &e->groups[gi];
			gapp[gi] = sigma_logsource_applies(&g->ls, c->doc);
			m->keywords |= gapp[gi] && g->keywords;
			m->idish_kw |= gapp[gi] && g->idish_kw;
			m->always |= gapp[gi] && g->nalways;
		}
		m->len = kl; /* 0 (did not fit): computed again next time */
		memcpy(m->key, key, kl);
	}
	c->gapp = c->gapp_all + (size_t)slot * ng;
	*keywords = c->lsm[slot].keywords;
	*idish_kw = c->lsm[slot].idish_kw;
	for (unsigned gi = 0; c->lsm[slot].always && gi < e->ngroups; gi++) {
		const struct lsgroup *g = &e->groups[gi];
		if (!c->gapp[gi])
			continue;
		for (unsigned i = 0; i < g->nalways; i++)
			if (c->rule_seen[g->always[i]] != c->gen) {
				c->rule_seen[g->always[i]] = c->gen;
				c->cand[c->ncand++] = g->always[i];
			}
	}
}

/* Whether candidate r's gate (build_gate) lets it through: it has none, or the scan found one
 * of its literals. */
static bool gate_open(const struct detect_ctx *c, uint32_t r)
{
	const struct detect_engine *e = c->e;
	uint32_t lo = e->gate_off[r], hi = e->gate_off[r + 1];
	if (lo == hi)
		return true;
	for (uint32_t i = lo; i < hi; i++)
		if (c->atom_seen[e->gate_ids[i]] == c->gen)
			return true;
	return false;
}

/* The candidates of c->doc whose detection matches and no filter excludes, compacted into
 * c->cand in rule order; their count. Reads the engine; writes the ctx and the doc's lower-case
 * cache (detect.h, detect_ctx_select). */
static unsigned select_rules(struct detect_ctx *c)
{
	struct detect_engine *e = c->e;
	struct detect_doc *doc = c->doc;
	if (++c->gen == 0) {
		memset(c->atom_seen, 0, (e->natoms ? e->natoms : 1) * sizeof(uint32_t));
		memset(c->rule_seen, 0, (e->nrules ? e->nrules : 1) * sizeof(uint32_t));
		c->gen = 1;
	}
	c->ncand = 0;
	bool keywords, idish_kw;
	c->ms.atom_seen = c->atom_seen;
	c->ms.gen = c->gen;
	apply_groups(c, &keywords, &idish_kw);
	scan_values(c, keywords, idish_kw);
	sort_u32(c->cand, c->ncand);
	unsigned n = 0;
	for (unsigned i = 0; i < c->ncand; i++) {
		const struct sigma_rule *r = e->rules[c->cand[i]];
		if (!c->gapp[e->rule_group[c->cand[i]]]) /* the rule's logsource is its group's */
			continue;
		if (!gate_open(c, c->cand[i])) {
			c->gated++;
			continue;
		}
		c->evaluated++;
		if (!sigma_detection_eval(&r->det, doc, &c->ms))
			continue;
		bool filtered = false;
		for (unsigned f = 0; f < r->nfilters && !filtered; f++)
			filtered = sigma_logsource_applies(&r->filters[f]->ls, doc) &&
				   sigma_detection_eval(&r->filters[f]->det, doc, &c->ms);
		if (!filtered)
			c->cand[n++] = c->cand[i];
	}
	return n;
}

/* What follows from the selected rules sel[0, n) of c->doc, in order: their hits, the
 * correlations they feed, then the behaviour detections. The stateful half of matching. */
static int emit_selected(struct detect_ctx *c, const uint32_t *sel, unsigned n, detect_hit_fn fn,
			 void *fn_ctx)
{
	struct detect_engine *e = c->e;
	struct detect_doc *doc = c->doc;
	int hits = 0;
	for (unsigned i = 0; i < n; i++) {
		if (sel[i] >= e->nrules)
			continue;
		const struct sigma_rule *r = e->rules[sel[i]];
		if (r->meta.generate) {
			struct detect_hit hit = {.rule = &r->meta, .doc = doc};
			hits++;
			int rc = fn ? fn(fn_ctx, &hit) : 0;
			if (rc)
				return rc;
		}
		if (r->ncorr) {
			int rc = emit_corr(c, r->corr, r->corr_ri, r->ncorr, fn, fn_ctx, &hits, 0);
			if (rc)
				return rc;
		}
	}
	if (e->behaviour) {
		int rc = behaviour_match(e->behaviour, doc, fn, fn_ctx, &hits);
		if (rc)
			return rc;
	}
	return hits;
}

int detect_ctx_match(struct detect_ctx *c, detect_hit_fn fn, void *fn_ctx)
{
	unsigned n = select_rules(c);
	return emit_selected(c, c->cand, n, fn, fn_ctx);
}

int detect_ctx_select(struct detect_ctx *c, struct detect_doc *doc, uint32_t *out, unsigned cap)
{
	struct detect_doc *own = c->doc;
	c->doc = doc;
	unsigned n = select_rules(c);
	c->doc = own;
	memcpy(out, c->cand, (n < cap ? n : cap) * sizeof(*out));
	return n <= cap ? (int)n : -E2BIG;
}

int detect_ctx_emit(struct detect_ctx *c, struct detect_doc *doc, const uint32_t *sel, unsigned n,
		    detect_hit_fn fn, void *fn_ctx)
{
	struct detect_doc *own = c->doc;
	c->doc = doc;
	int rc = emit_selected(c, sel, n, fn, fn_ctx);
	c->doc = own;
	return rc;
}
