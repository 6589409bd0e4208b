/* Private types of the Sigma engine: compiled value matchers, selections, conditions, rules and
 * correlation rules, shared by the loader (sigma_load.c), the condition parser (sigma_cond.c),
 * the value compiler (sigma_value.c), the prefilter and matcher (detect_engine.c) and the
 * correlation state (sigma_corr.c). Everything a rule owns lives in the engine's arena. */
#ifndef MAMORI_SIGMA_INT_H
#define MAMORI_SIGMA_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "detect.h"
#include "detect_fields.h"

/* ---- bump allocator: rules live as long as the engine ---- */
struct arena_chunk;
struct arena {
	struct arena_chunk *head;
	size_t used_total;
};
void arena_init(struct arena *a);
void arena_release(struct arena *a);
/* Zeroed memory, 16-byte aligned; NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);

/* ---- value matchers ---- */
enum vm_kind {
	VM_EQ,
	VM_PREFIX,
	VM_SUFFIX,
	VM_CONTAINS,
	VM_GLOB, /* wildcards inside: lit + wild mask */
	VM_RE,
	VM_CIDR,
	VM_NUM,	  /* numeric comparison (lt/lte/gt/gte, or eq for neq) */
	VM_TIME,  /* a part of a date value compared numerically */
	VM_EXISTS,
	VM_NULL,  /* field absent or empty */
	VM_REF,	  /* equal to (or starts/ends with, contains) another field of the event */
};
enum vm_cmp { CMP_EQ, CMP_LT, CMP_LTE, CMP_GT, CMP_GTE };
enum vm_time { TIME_MINUTE, TIME_HOUR, TIME_DAY, TIME_WEEK, TIME_MONTH, TIME_YEAR };
#define WILD_STAR 1
#define WILD_ONE 2

struct vmatch {
	uint8_t kind;	 /* enum vm_kind */
	uint8_t cmp;	 /* VM_NUM/VM_TIME: enum vm_cmp; VM_REF: VM_EQ..VM_CONTAINS */
	uint8_t part;	 /* VM_TIME: enum vm_time */
	bool cased;	 /* compare with the value as is, not its lowercase */
	bool neq;	 /* inverted: no value of the field may match */
	bool exists;	 /* VM_EXISTS: wanted presence */
	uint32_t group;	 /* values that came from one rule value share a group (OR inside) */
	uint32_t len;
	const char *lit; /* literal (lowercased unless cased); VM_GLOB: with wild[] */
	const uint8_t *wild;
	double num;
	pcre2_code *re;
	struct cidr net;
	uint32_t ref; /* VM_REF: field id */
	/* Prefilter atom id + 1 (0: none): a literal every match needs, registered in the
	 * scanner that reads this matcher's values, so its absence rules the matcher out. */
	uint32_t atom;
	/* VM_RE without a literal of its own (lit NULL): literals one of which every match holds
	 * (regex_required_set), each a prefilter atom; nalt 0 when there are none. */
	uint32_t nalt;
	const char *const *alt;
	const uint32_t *alt_len;
};

/* One "field|modifiers: values" item; keyword items have field == FM_KEYWORD (any value). */
#define FM_KEYWORD (UINT32_MAX - 1)
struct fmatch {
	uint32_t field;
	bool all; /* every group must match (the "all" modifier) */
	unsigned ngroups;
	unsigned nv;
	struct vmatch *v; /* sorted by group */
};

/* A map of items, all of which must match. */
struct selection {
	unsigned n;
	struct fmatch *items;
};

/* A named detection identifier: any of its selections (a list of maps, or keywords). */
struct ident {
	const char *name;
	unsigned n;
	struct selection *alts;
};

enum cnode_kind { CN_IDENT, CN_AND, CN_OR, CN_NOT, CN_ONE_OF, CN_ALL_OF, CN_TRUE };
struct cnode {
	uint8_t kind;
	uint16_t a, b;	 /* children (AND/OR: both; NOT: a) */
	uint32_t first;	 /* CN_IDENT: ident; ONE_OF/ALL_OF: index into the rule's refs */
	uint32_t count;	 /* ONE_OF/ALL_OF: number of refs */
};
#define CNODE_MAX 4096

struct detection {
	unsigned nidents;
	struct ident *idents;
	unsigned nnodes;
	struct cnode *nodes;
	uint32_t *refs; /* ident indexes for 1 of / all of */
	unsigned nrefs;
	uint16_t root;
};

struct logsource {
	const char *product, *category, *service; /* NULL when not given */
};

struct sigma_filter;
struct sigma_corr;

struct sigma_rule {
	struct detect_rule_meta meta;
	const char *name; /* the "name" attribute, used by correlation rules */
	struct logsource ls;
	struct detection det;
	/* Filters that apply to this rule (its match is dropped when any matches). */
	unsigned nfilters;
	const struct sigma_filter **filters;
	/* Correlation rules fed by this rule's matches, and this rule's position in each. */
	unsigned ncorr;
	struct sigma_corr **corr;
	unsigned *corr_ri;
	unsigned index;
};

struct sigma_filter {
	const char *id, *title, *path;
	struct logsource ls;
	struct detection det;
	unsigned nrules;
	const char **rules; /* ids or names */
};

struct corr_alias {
	const char *alias, *rule, *field;
};

enum corr_type { CORR_EVENT_COUNT, CORR_VALUE_COUNT, CORR_TEMPORAL, CORR_TEMPORAL_ORDERED };

struct sigma_corr {
	struct detect_rule_meta meta;
	const char *name;
	enum corr_type type;
	unsigned nrules;
	const char **rule_refs;		  /* as written */
	/* Resolved in finish: each reference is a rule or (chaining) another correlation. */
	const struct sigma_rule **rules;
	const struct sigma_corr **corrs;
	struct logsource ls;		  /* of the first referenced rule, for field names */
	/* Correlation rules fed by this one's hits, and its position in each. */
	unsigned ncorr;
	struct sigma_corr **corr;
	unsigned *corr_ri;
	struct corr_alias *aliases;	  /* group-by alias -> field per referenced rule */
	unsigned nalias;
	const char *path;
	unsigned ngroup;
	const char **group_by;		  /* names as written (aliases or fields) */
	/* Per group-by name and per referenced rule: the field id to read (alias resolution). */
	uint32_t *group_fields;		  /* [ngroup * nrules] */
	uint64_t timespan_ns;
	bool generate_refs;		  /* referenced rules keep their own alerts */
	enum vm_cmp op;			  /* count/value condition */
	bool op_neq;
	uint64_t threshold;
	const char *value_field_name;	  /* value_count */
	uint32_t value_field;
	unsigned index;
	struct corr_state *state;	  /* sigma_corr.c */
};

/* ---- engine internals shared between files ---- */
struct detect_engine;
struct arena *detect_engine_arena(struct detect_engine *e);
struct detect_fields *detect_engine_fields_mut(struct detect_engine *e);
/* Placeholder values for expand, NULL when undefined. */
const char *const *detect_engine_placeholder(const struct detect_engine *e, const char *name,
					     size_t len, size_t *n);

/* Registration by the loader; each returns 0, or a negative errno after reporting why (duplicate
 * id or name). The engine takes the object (arena memory) either way. */
int detect_engine_add_rule(struct detect_engine *e, struct sigma_rule *r, unsigned line);
int detect_engine_add_corr(struct detect_engine *e, struct sigma_corr *c, unsigned line);
int detect_engine_add_filter(struct detect_engine *e, struct sigma_filter *f, unsigned line);
void detect_engine_diag(struct detect_engine *e, const char *path, unsigned line, const char *rule,
			bool fatal, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void detect_engine_count_doc(struct detect_engine *e, bool loaded);
/* Loads the documents of one YAML file (sigma_load.c). */
int sigma_load_yaml(struct detect_engine *e, const char *path, const char *text, size_t len);
/* Tactic display name for an ATT&CK tag suffix ("credential-access"), or NULL. */
const char *sigma_tactic_name(const char *tag, size_t len);

/* ---- value compiler (sigma_value.c) ---- */
/* Error text for the loader: what is unsupported or malformed. */
struct sigma_err {
	char msg[256];
};
/* Compiles one "field|mod|mod" key and its YAML scalar values into fm. Values are passed as
 * (text, len, is_null) triples. Field names are mapped Sigma -> ECS with ls. */
struct sigma_raw_value {
	const char *s;
	size_t len;
	bool is_null; /* YAML null (~, null, empty) */
	bool plain;   /* unquoted scalar (so "true" can be a boolean) */
};
int sigma_value_compile(struct detect_engine *e, const struct logsource *ls, const char *key,
			size_t keylen, const struct sigma_raw_value *vals, size_t nvals,
			struct fmatch *fm, struct sigma_err *err);
/* Keyword values (no field). */
int sigma_keywords_compile(struct detect_engine *e, const struct sigma_raw_value *vals,
			   size_t nvals, struct fmatch *fm, struct sigma_err *err);
void sigma_value_free_re(struct fmatch *fm);

/* ---- field names (sigma_fieldmap.c) ---- */
/* ECS name for a Sigma field under logsource ls; the name itself when there is no mapping (ECS
 * names pass through). *mapped tells whether the table knew it. */
const char *sigma_field_to_ecs(const struct logsource *ls, const char *name, size_t len,
			       size_t *outlen, bool *mapped);

/* ---- condition parser (sigma_cond.c) ---- */
int sigma_cond_parse(struct arena *a, struct detection *det, const char *const *conds,
		     const size_t *lens, size_t nconds, struct sigma_err *err);

/* ---- matching (detect_match.c) ---- */
struct match_scratch {
	pcre2_match_data *md;
	/* The prefilter's verdicts for the doc being matched: atom i was seen when
	 * atom_seen[i] == gen. NULL outside detect_ctx_match (nothing is ruled out). */
	const uint32_t *atom_seen;
	uint32_t gen;
};
bool sigma_detection_eval(const struct detection *det, struct detect_doc *doc,
			  struct match_scratch *ms);
bool sigma_logsource_applies(const struct logsource *ls, const struct detect_doc *doc);

/* ---- correlation (sigma_corr.c) ---- */
int sigma_corr_init(struct sigma_corr *c);
void sigma_corr_release(struct sigma_corr *c);
/* Feeds one match of rule (at index ri in c->rules) for doc; fills hit and returns true when the
 * correlation fires. group must have room for 1024 bytes. */
bool sigma_corr_feed(struct sigma_corr *c, unsigned ri, struct detect_doc *doc, char *group,
		     size_t gsize, struct detect_hit *hit);

#endif
