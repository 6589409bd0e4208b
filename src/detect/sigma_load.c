/* Turns the YAML documents of a rule file into compiled Sigma rules, filters and correlation
 * rules (libyaml's document API gives the node tree). Every problem is reported with its file,
 * line and rule, saying precisely what is unsupported or malformed. */
#include "sigma_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define MAX_FILE (4u << 20)
#define MAX_WORK 200000 /* values compiled per document: bounds alias-bomb style input */
#define MAX_LIST 65536

struct loader {
	struct detect_engine *e;
	struct arena *a;
	const char *path;
	yaml_document_t *doc;
	const char *rule; /* title, for messages */
	unsigned line;
	unsigned work;
	struct sigma_err err;
};

/* ---- YAML helpers ---- */
static yaml_node_t *node(struct loader *L, int id)
{
	return id ? yaml_document_get_node(L->doc, id) : NULL;
}

static unsigned line_of(const yaml_node_t *n)
{
	return n ? (unsigned)n->start_mark.line + 1 : 0;
}

static bool scalar_is(const yaml_node_t *n, const char *s)
{
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
	       memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

static yaml_node_t *map_get(struct loader *L, const yaml_node_t *m, const char *key)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
		if (scalar_is(node(L, p->key), key))
			return node(L, p->value);
	return NULL;
}

static bool is_null_scalar(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	size_t l = n->data.scalar.length;
	const char *s = (const char *)n->data.scalar.value;
	return l == 0 || (l == 1 && s[0] == '~') ||
	       (l == 4 && (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 ||
			   memcmp(s, "NULL", 4) == 0));
}

/* Arena copy of a scalar's text, NULL for non-scalars. */
static const char *str_of(struct loader *L, const yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE || is_null_scalar(n))
		return NULL;
	return arena_strndup(L->a, (const char *)n->data.scalar.value, n->data.scalar.length);
}

static void fail(struct loader *L, const yaml_node_t *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct loader *L, const yaml_node_t *at, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	detect_engine_diag(L->e, L->path, at ? line_of(at) : L->line, L->rule, true, "%s", msg);
}

static void warn(struct loader *L, const yaml_node_t *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void warn(struct loader *L, const yaml_node_t *at, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	detect_engine_diag(L->e, L->path, at ? line_of(at) : L->line, L->rule, false, "%s", msg);
}

/* A scalar or a list of scalars as a string array; -EINVAL for anything else. */
static int str_list(struct loader *L, const yaml_node_t *n, const char ***out, unsigned *count)
{
	*out = NULL;
	*count = 0;
	if (!n)
		return 0;
	if (n->type == YAML_SCALAR_NODE) {
		const char **v = arena_alloc(L->a, sizeof(*v));
		if (!v || !(v[0] = str_of(L, n)))
			return is_null_scalar(n) ? 0 : -ENOMEM;
		*out = v;
		*count = 1;
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return -EINVAL;
	size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (k > MAX_LIST)
		return -E2BIG;
	const char **v = arena_alloc(L->a, (k + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	unsigned c = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *x = node(L, *it);
		if (!x || x->type != YAML_SCALAR_NODE)
			return -EINVAL;
		if (is_null_scalar(x))
			continue;
		if (!(v[c++] = str_of(L, x)))
			return -ENOMEM;
	}
	*out = v;
	*count = c;
	return 0;
}

/* ---- detection ---- */
static int raw_values(struct loader *L, const yaml_node_t *n, struct sigma_raw_value **out,
		      size_t *count)
{
	size_t k = 1;
	if (n->type == YAML_SEQUENCE_NODE)
		k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	else if (n->type != YAML_SCALAR_NODE)
		return -EINVAL;
	if (k > MAX_LIST || (L->work += (unsigned)k) > MAX_WORK)
		return -E2BIG;
	struct sigma_raw_value *v = arena_alloc(L->a, (k ? k : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < k; i++) {
		const yaml_node_t *x = n;
		if (n->type == YAML_SEQUENCE_NODE)
			x = node(L, n->data.sequence.items.start[i]);
		if (!x || x->type != YAML_SCALAR_NODE)
			return -EINVAL;
		v[i].s = (const char *)x->data.scalar.value;
		v[i].len = x->data.scalar.length;
		v[i].is_null = is_null_scalar(x);
		v[i].plain = x->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	}
	*out = v;
	*count = k;
	return 0;
}

static int compile_map(struct loader *L, const struct logsource *ls, const yaml_node_t *m,
		       struct selection *sel)
{
	size_t k = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	if (k == 0) {
		fail(L, m, "empty selection map");
		return -EINVAL;
	}
	sel->items = arena_alloc(L->a, k * sizeof(*sel->items));
	if (!sel->items)
		return -ENOMEM;
	sel->n = 0;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *key = node(L, p->key), *val = node(L, p->value);
		if (!key || key->type != YAML_SCALAR_NODE || !val) {
			fail(L, m, "selection keys must be field names");
			return -EINVAL;
		}
		const char *ks = (const char *)key->data.scalar.value;
		size_t kl = key->data.scalar.length;
		struct sigma_raw_value *vals;
		size_t nvals;
		int rc = raw_values(L, val, &vals, &nvals);
		if (rc == -EINVAL) {
			fail(L, val, "field '%.*s': values must be a scalar or a list of scalars (nested maps are not Sigma)",
			     (int)(kl > 80 ? 80 : kl), ks);
			return rc;
		}
		if (rc < 0) {
			fail(L, val, "field '%.*s': too many values", (int)(kl > 80 ? 80 : kl), ks);
			return rc;
		}
		rc = sigma_value_compile(L->e, ls, ks, kl, vals, nvals, &sel->items[sel->n], &L->err);
		if (rc < 0) {
			fail(L, key, "field '%.*s': %s", (int)(kl > 80 ? 80 : kl), ks, L->err.msg);
			sigma_value_free_re(&sel->items[sel->n]);
			return rc;
		}
		sel->n++;
	}
	return 0;
}

static int compile_ident(struct loader *L, const struct logsource *ls, const char *name,
			 const yaml_node_t *v, struct ident *id)
{
	id->name = name;
	if (v->type == YAML_MAPPING_NODE) {
		id->alts = arena_alloc(L->a, sizeof(*id->alts));
		if (!id->alts)
			return -ENOMEM;
		id->n = 1;
		return compile_map(L, ls, v, &id->alts[0]);
	}
	struct sigma_raw_value *vals;
	size_t nvals;
	if (v->type == YAML_SEQUENCE_NODE) {
		size_t k = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
		unsigned maps = 0;
		for (size_t i = 0; i < k; i++) {
			yaml_node_t *x = node(L, v->data.sequence.items.start[i]);
			if (x && x->type == YAML_MAPPING_NODE)
				maps++;
		}
		if (maps && maps != k) {
			fail(L, v, "identifier '%s' mixes maps and plain values", name);
			return -EINVAL;
		}
		if (maps) {
			if (k > MAX_LIST || (L->work += (unsigned)k) > MAX_WORK) {
				fail(L, v, "identifier '%s' is too large", name);
				return -E2BIG;
			}
			id->alts = arena_alloc(L->a, k * sizeof(*id->alts));
			if (!id->alts)
				return -ENOMEM;
			for (size_t i = 0; i < k; i++) {
				int rc = compile_map(L, ls, node(L, v->data.sequence.items.start[i]),
						     &id->alts[i]);
				id->n = (unsigned)i + 1;
				if (rc < 0)
					return rc;
			}
			return 0;
		}
	}
	/* Keywords: a plain value or a list of them, searched in every value of the event. */
	int rc = raw_values(L, v, &vals, &nvals);
	if (rc < 0) {
		fail(L, v, "identifier '%s' must be a map, a list of maps or a list of keywords", name);
		return -EINVAL;
	}
	id->alts = arena_alloc(L->a, sizeof(*id->alts));
	if (!id->alts)
		return -ENOMEM;
	id->alts[0].items = arena_alloc(L->a, sizeof(struct fmatch));
	if (!id->alts[0].items)
		return -ENOMEM;
	id->n = 1;
	id->alts[0].n = 1;
	rc = sigma_keywords_compile(L->e, vals, nvals, &id->alts[0].items[0], &L->err);
	if (rc < 0)
		fail(L, v, "keywords '%s': %s", name, L->err.msg);
	return rc;
}

/* Compiles the identifiers of map m (skipping the keys in skip) and the condition cond. */
static int compile_detection(struct loader *L, const struct logsource *ls, const yaml_node_t *m,
			     const yaml_node_t *cond, const char *const *skip, struct detection *det)
{
	memset(det, 0, sizeof(*det));
	if (!m || m->type != YAML_MAPPING_NODE) {
		fail(L, m, "detection must be a map");
		return -EINVAL;
	}
	size_t k = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	det->idents = arena_alloc(L->a, (k ? k : 1) * sizeof(*det->idents));
	if (!det->idents)
		return -ENOMEM;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *key = node(L, p->key), *val = node(L, p->value);
		if (!key || key->type != YAML_SCALAR_NODE || !val) {
			fail(L, m, "detection keys must be names");
			return -EINVAL;
		}
		bool skipped = false;
		for (const char *const *s = skip; *s; s++)
			if (scalar_is(key, *s))
				skipped = true;
		if (skipped)
			continue;
		if (scalar_is(key, "timeframe")) {
			warn(L, key, "'timeframe' is ignored (Sigma v1 aggregation): use a correlation rule");
			continue;
		}
		const char *name = str_of(L, key);
		if (!name)
			return -ENOMEM;
		if (is_null_scalar(val)) {
			fail(L, val, "identifier '%s' is empty", name);
			return -EINVAL;
		}
		int rc = compile_ident(L, ls, name, val, &det->idents[det->nidents]);
		det->nidents++;
		if (rc < 0)
			return rc;
	}
	if (!cond) {
		fail(L, m, "missing condition");
		return -EINVAL;
	}
	const char *conds[64];
	size_t lens[64];
	size_t nc = 0;
	if (cond->type == YAML_SCALAR_NODE) {
		conds[0] = (const char *)cond->data.scalar.value;
		lens[0] = cond->data.scalar.length;
		nc = 1;
	} else if (cond->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = cond->data.sequence.items.start;
		     it < cond->data.sequence.items.top; it++) {
			yaml_node_t *x = node(L, *it);
			if (!x || x->type != YAML_SCALAR_NODE || nc == 64) {
				fail(L, cond, "condition list must hold up to 64 strings");
				return -EINVAL;
			}
			conds[nc] = (const char *)x->data.scalar.value;
			lens[nc++] = x->data.scalar.length;
		}
	} else {
		fail(L, cond, "condition must be a string or a list of strings");
		return -EINVAL;
	}
	int rc = sigma_cond_parse(L->a, det, conds, lens, nc, &L->err);
	if (rc < 0)
		fail(L, cond, "condition: %s", L->err.msg);
	return rc;
}

static void free_detection_re(struct detection *det)
{
	for (unsigned i = 0; i < det->nidents; i++)
		for (unsigned j = 0; j < det->idents[i].n; j++)
			for (unsigned k = 0; k < det->idents[i].alts[j].n; k++)
				sigma_value_free_re(&det->idents[i].alts[j].items[k]);
}

static int load_logsource(struct loader *L, const yaml_node_t *root, struct logsource *ls)
{
	memset(ls, 0, sizeof(*ls));
	yaml_node_t *n = map_get(L, root, "logsource");
	if (!n)
		return 0;
	if (n->type != YAML_MAPPING_NODE) {
		fail(L, n, "logsource must be a map");
		return -EINVAL;
	}
	ls->product = str_of(L, map_get(L, n, "product"));
	ls->category = str_of(L, map_get(L, n, "category"));
	ls->service = str_of(L, map_get(L, n, "service"));
	return 0;
}

/* ---- metadata ---- */
static const struct {
	const char *tag, *name;
} TACTICS[] = {
	{"reconnaissance", "Reconnaissance"},
	{"resource-development", "Resource Development"},
	{"initial-access", "Initial Access"},
	{"execution", "Execution"},
	{"persistence", "Persistence"},
	{"privilege-escalation", "Privilege Escalation"},
	{"defense-evasion", "Defense Evasion"},
	{"defense-impairment", "Defense Evasion"},
	{"stealth", "Defense Evasion"},
	{"credential-access", "Credential Access"},
	{"discovery", "Discovery"},
	{"lateral-movement", "Lateral Movement"},
	{"collection", "Collection"},
	{"command-and-control", "Command and Control"},
	{"exfiltration", "Exfiltration"},
	{"impact", "Impact"},
};

const char *detect_tactic_name(const char *tag, size_t len)
{
	return sigma_tactic_name(tag, len);
}

const char *sigma_tactic_name(const char *tag, size_t len)
{
	for (size_t i = 0; i < sizeof(TACTICS) / sizeof(TACTICS[0]); i++) {
		const char *t = TACTICS[i].tag;
		if (strlen(t) != len)
			continue;
		size_t j = 0;
		for (; j < len; j++) {
			char c = (char)tolower((unsigned char)tag[j]);
			if (c == '_')
				c = '-';
			if (c != t[j])
				break;
		}
		if (j == len)
			return TACTICS[i].name;
	}
	return NULL;
}

static int load_meta(struct loader *L, const yaml_node_t *root, struct detect_rule_meta *m,
		     const char **name)
{
	m->title = str_of(L, map_get(L, root, "title"));
	m->id = str_of(L, map_get(L, root, "id"));
	m->description = str_of(L, map_get(L, root, "description"));
	m->status = str_of(L, map_get(L, root, "status"));
	*name = str_of(L, map_get(L, root, "name"));
	m->path = arena_strndup(L->a, L->path, strlen(L->path));
	m->generate = true;
	if (!m->title) {
		fail(L, root, "missing title");
		return -EINVAL;
	}
	L->rule = m->title;
	if (!m->id) {
		/* Sigma makes id optional; alerts need one, so derive a stable one from the title. */
		char buf[64];
		uint64_t h = 1469598103934665603ull;
		for (const char *p = m->title; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ull;
		snprintf(buf, sizeof(buf), "title-%016llx", (unsigned long long)h);
		m->id = arena_strndup(L->a, buf, strlen(buf));
	}
	const char *level = str_of(L, map_get(L, root, "level"));
	int sev = level ? detect_severity_parse(level) : -1;
	if (sev < 0) {
		if (level)
			warn(L, map_get(L, root, "level"), "unknown level '%s', using low", level);
		sev = DETECT_SEV_LOW;
	}
	m->severity = (enum detect_severity)sev;
	static const int RISK[] = {10, 21, 47, 73, 99}; /* per severity, as Elastic scores them */
	m->risk_score = RISK[sev];
	m->advice = "";
	yaml_node_t *x = map_get(L, root, "mamori");
	if (x && x->type == YAML_MAPPING_NODE) {
		const char *adv = str_of(L, map_get(L, x, "advice"));
		if (adv)
			m->advice = adv;
		const char *rs = str_of(L, map_get(L, x, "risk_score"));
		if (rs) {
			char *end;
			long v = strtol(rs, &end, 10);
			if (*end || v < 0 || v > 100)
				warn(L, x, "risk_score must be 0-100");
			else
				m->risk_score = (int)v;
		}
	}
	/* ATT&CK from tags: attack.<tactic> and attack.tNNNN[.NNN]. */
	const char **tags;
	unsigned ntags;
	if (str_list(L, map_get(L, root, "tags"), &tags, &ntags) < 0) {
		fail(L, map_get(L, root, "tags"), "tags must be a list of strings");
		return -EINVAL;
	}
	const char **tac = arena_alloc(L->a, (ntags + 1) * sizeof(*tac));
	const char **tec = arena_alloc(L->a, (ntags + 1) * sizeof(*tec));
	if (!tac || !tec)
		return -ENOMEM;
	for (unsigned i = 0; i < ntags; i++) {
		const char *t = tags[i];
		if (strncasecmp(t, "attack.", 7) != 0)
			continue;
		t += 7;
		if ((t[0] == 't' || t[0] == 'T') && isdigit((unsigned char)t[1])) {
			char *u = arena_strndup(L->a, t, strlen(t));
			if (!u)
				return -ENOMEM;
			for (char *p = u; *p; p++)
				*p = (char)toupper((unsigned char)*p);
			bool dup = false;
			for (unsigned j = 0; j < m->ntechniques; j++)
				dup |= strcmp(tec[j], u) == 0;
			if (!dup)
				tec[m->ntechniques++] = u;
		} else {
			const char *tn = sigma_tactic_name(t, strlen(t));
			bool dup = false;
			for (unsigned j = 0; tn && j < m->ntactics; j++)
				dup |= strcmp(tac[j], tn) == 0;
			if (tn && !dup)
				tac[m->ntactics++] = tn;
		}
	}
	m->tactics = tac;
	m->techniques = tec;
	return 0;
}

/* ---- the three kinds of documents ---- */
static int load_rule(struct loader *L, yaml_node_t *root)
{
	struct sigma_rule *r = arena_alloc(L->a, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int rc = load_meta(L, root, &r->meta, &r->name);
	if (rc < 0)
		return rc;
	r->meta.kind = "sigma";
	if ((rc = load_logsource(L, root, &r->ls)) < 0)
		return rc;
	yaml_node_t *det = map_get(L, root, "detection");
	static const char *const skip[] = {"condition", NULL};
	rc = compile_detection(L, &r->ls, det, map_get(L, det, "condition"), skip, &r->det);
	if (rc < 0) {
		free_detection_re(&r->det);
		return rc;
	}
	rc = detect_engine_add_rule(L->e, r, line_of(root));
	if (rc < 0)
		free_detection_re(&r->det);
	return rc;
}

static int load_filter(struct loader *L, yaml_node_t *root)
{
	struct sigma_filter *f = arena_alloc(L->a, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->title = str_of(L, map_get(L, root, "title"));
	f->id = str_of(L, map_get(L, root, "id"));
	f->path = arena_strndup(L->a, L->path, strlen(L->path));
	if (!f->title) {
		fail(L, root, "missing title");
		return -EINVAL;
	}
	L->rule = f->title;
	int rc = load_logsource(L, root, &f->ls);
	if (rc < 0)
		return rc;
	yaml_node_t *fm = map_get(L, root, "filter");
	if (!fm || fm->type != YAML_MAPPING_NODE) {
		fail(L, root, "filter must be a map");
		return -EINVAL;
	}
	if (str_list(L, map_get(L, fm, "rules"), &f->rules, &f->nrules) < 0 || f->nrules == 0) {
		fail(L, fm, "filter.rules must list the ids or names of the rules it applies to");
		return -EINVAL;
	}
	static const char *const skip[] = {"condition", "rules", NULL};
	rc = compile_detection(L, &f->ls, fm, map_get(L, fm, "condition"), skip, &f->det);
	if (rc < 0) {
		free_detection_re(&f->det);
		return rc;
	}
	rc = detect_engine_add_filter(L->e, f, line_of(root));
	if (rc < 0)
		free_detection_re(&f->det);
	return rc;
}

static int parse_timespan(const char *s, uint64_t *ns)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || v == 0 || v > 1000000000ull)
		return -EINVAL;
	uint64_t mul;
	switch (*end) {
	case 's': mul = 1; break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	case 'w': mul = 7 * 86400; break;
	default: return -EINVAL;
	}
	if (end[1])
		return -EINVAL;
	*ns = (uint64_t)v * mul * 1000000000ull;
	return 0;
}

static int load_corr_condition(struct loader *L, struct sigma_corr *c, yaml_node_t *cond)
{
	if (!cond) {
		if (c->type == CORR_TEMPORAL || c->type == CORR_TEMPORAL_ORDERED) {
			/* All referenced rules must match. */
			c->op = CMP_GTE;
			c->threshold = c->nrules;
			return 0;
		}
		fail(L, NULL, "correlation: missing condition");
		return -EINVAL;
	}
	if (cond->type != YAML_MAPPING_NODE) {
		fail(L, cond, "correlation condition must be a map such as {gte: 10}");
		return -EINVAL;
	}
	bool have = false;
	for (yaml_node_pair_t *p = cond->data.mapping.pairs.start; p < cond->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
		if (scalar_is(k, "field")) {
			c->value_field_name = str_of(L, v);
			continue;
		}
		const char *num = str_of(L, v);
		char *end = NULL;
		unsigned long long t = num ? strtoull(num, &end, 10) : 0;
		if (!num || *end) {
			fail(L, v, "correlation condition value must be a number");
			return -EINVAL;
		}
		if (have) {
			fail(L, k, "correlation condition ranges (two criteria) are unsupported: chain two correlation rules");
			return -ENOTSUP;
		}
		have = true;
		c->threshold = t;
		if (scalar_is(k, "gt"))
			c->op = CMP_GT;
		else if (scalar_is(k, "gte"))
			c->op = CMP_GTE;
		else if (scalar_is(k, "lt"))
			c->op = CMP_LT;
		else if (scalar_is(k, "lte"))
			c->op = CMP_LTE;
		else if (scalar_is(k, "eq"))
			c->op = CMP_EQ;
		else if (scalar_is(k, "neq")) {
			c->op = CMP_EQ;
			c->op_neq = true;
		} else {
			fail(L, k, "unknown correlation condition operator");
			return -EINVAL;
		}
	}
	if (!have) {
		fail(L, cond, "correlation condition needs one of gt, gte, lt, lte, eq, neq");
		return -EINVAL;
	}
	if (c->type == CORR_VALUE_COUNT && !c->value_field_name) {
		fail(L, cond, "value_count needs condition.field");
		return -EINVAL;
	}
	return 0;
}

static int load_corr(struct loader *L, yaml_node_t *root)
{
	struct sigma_corr *c = arena_alloc(L->a, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int rc = load_meta(L, root, &c->meta, &c->name);
	if (rc < 0)
		return rc;
	c->meta.kind = "correlation";
	c->path = c->meta.path;
	yaml_node_t *cn = map_get(L, root, "correlation");
	if (!cn || cn->type != YAML_MAPPING_NODE) {
		fail(L, root, "correlation must be a map");
		return -EINVAL;
	}
	yaml_node_t *t = map_get(L, cn, "type");
	if (scalar_is(t, "event_count"))
		c->type = CORR_EVENT_COUNT;
	else if (scalar_is(t, "value_count"))
		c->type = CORR_VALUE_COUNT;
	else if (scalar_is(t, "temporal"))
		c->type = CORR_TEMPORAL;
	else if (scalar_is(t, "temporal_ordered"))
		c->type = CORR_TEMPORAL_ORDERED;
	else {
		const char *ts = str_of(L, t);
		fail(L, t ? t : cn, "unsupported correlation type '%s'", ts ? ts : "(none)");
		return -ENOTSUP;
	}
	if (str_list(L, map_get(L, cn, "rules"), &c->rule_refs, &c->nrules) < 0 ||
	    c->nrules == 0 || c->nrules > 64) {
		fail(L, cn, "correlation.rules must list 1 to 64 rule ids or names");
		return -EINVAL;
	}
	if (str_list(L, map_get(L, cn, "group-by"), &c->group_by, &c->ngroup) < 0 ||
	    c->ngroup > 16) {
		fail(L, cn, "correlation.group-by must list up to 16 field names");
		return -EINVAL;
	}
	const char *ts = str_of(L, map_get(L, cn, "timespan"));
	if (!ts || parse_timespan(ts, &c->timespan_ns) < 0) {
		fail(L, cn, "correlation.timespan must be a number and one of s, m, h, d (\"5m\")");
		return -EINVAL;
	}
	if ((rc = load_corr_condition(L, c, map_get(L, cn, "condition"))) < 0)
		return rc;
	yaml_node_t *gen = map_get(L, cn, "generate");
	if (!gen)
		gen = map_get(L, root, "generate");
	/* generate: true keeps the referenced rules' own alerts; the default silences them. */
	c->meta.generate = true;
	bool gen_refs = gen && (scalar_is(gen, "true") || scalar_is(gen, "True"));
	yaml_node_t *al = map_get(L, cn, "aliases");
	if (al && al->type == YAML_MAPPING_NODE) {
		size_t total = 0;
		for (yaml_node_pair_t *p = al->data.mapping.pairs.start;
		     p < al->data.mapping.pairs.top; p++) {
			yaml_node_t *v = node(L, p->value);
			if (!v || v->type != YAML_MAPPING_NODE) {
				fail(L, al, "each alias maps rule names to field names");
				return -EINVAL;
			}
			total += (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
		}
		if (total > 1024)
			return -E2BIG;
		c->aliases = arena_alloc(L->a, (total + 1) * sizeof(*c->aliases));
		if (!c->aliases)
			return -ENOMEM;
		for (yaml_node_pair_t *p = al->data.mapping.pairs.start;
		     p < al->data.mapping.pairs.top; p++) {
			yaml_node_t *v = node(L, p->value);
			const char *alias = str_of(L, node(L, p->key));
			for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
			     q < v->data.mapping.pairs.top; q++) {
				struct corr_alias *ca = &c->aliases[c->nalias++];
				ca->alias = alias;
				ca->rule = str_of(L, node(L, q->key));
				ca->field = str_of(L, node(L, q->value));
				if (!ca->alias || !ca->rule || !ca->field) {
					fail(L, al, "aliases need plain names");
					return -EINVAL;
				}
			}
		}
	}
	c->generate_refs = gen_refs;
	return detect_engine_add_corr(L->e, c, line_of(root));
}

static int load_document(struct loader *L, yaml_node_t *root)
{
	L->rule = NULL;
	L->line = line_of(root);
	L->work = 0;
	if (root->type != YAML_MAPPING_NODE) {
		fail(L, root, "a rule must be a YAML map");
		return -EINVAL;
	}
	yaml_node_t *action = map_get(L, root, "action");
	if (action) {
		fail(L, action, "rule collections ('action: global/reset/repeat', Sigma 1.0) are unsupported: split them into separate rules");
		return -ENOTSUP;
	}
	if (map_get(L, root, "correlation"))
		return load_corr(L, root);
	if (map_get(L, root, "filter"))
		return load_filter(L, root);
	if (map_get(L, root, "detection"))
		return load_rule(L, root);
	fail(L, root, "not a Sigma rule (no detection, correlation or filter section)");
	return -EINVAL;
}

int sigma_load_yaml(struct detect_engine *e, const char *path, const char *text, size_t len)
{
	struct loader L = {.e = e, .a = detect_engine_arena(e), .path = path};
	if (len > MAX_FILE) {
		detect_engine_diag(e, path, 0, NULL, true, "file larger than %u bytes", MAX_FILE);
		detect_engine_count_doc(e, false);
		return -E2BIG;
	}
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	int loaded = 0, rc = 0;
	for (unsigned ndoc = 0;; ndoc++) {
		yaml_document_t doc;
		if (!yaml_parser_load(&parser, &doc)) {
			detect_engine_diag(e, path, (unsigned)parser.problem_mark.line + 1, NULL, true,
					   "YAML: %s%s%s", parser.problem ? parser.problem : "error",
					   parser.context ? " " : "",
					   parser.context ? parser.context : "");
			detect_engine_count_doc(e, false);
			rc = loaded ? loaded : -EINVAL;
			goto out;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		L.doc = &doc;
		L.err.msg[0] = 0;
		int r = load_document(&L, root);
		if (r == -ENOMEM && !L.err.msg[0])
			fail(&L, root, "out of memory");
		detect_engine_count_doc(e, r >= 0);
		if (r >= 0)
			loaded++;
		yaml_document_delete(&doc);
		if (ndoc > 10000)
			break;
	}
	rc = loaded;
out:
	yaml_parser_delete(&parser);
	return rc;
}
