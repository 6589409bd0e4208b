#include "detect_doc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "detect_fields.h"

#include "banned.h"


struct detect_doc *detect_doc_new(const struct detect_fields *fields)
{
	struct detect_doc *doc = NULL;
	unsigned n;

	if (!fields) {
		errno = EINVAL;
		goto out;
	}
	doc = calloc(1, sizeof(*doc));
	if (!doc)
		goto out;
	n = detect_fields_count(fields);
	/* One block for the three per-field arrays; gen starts at 0, below any cur_gen. */
	doc->head = calloc((size_t)n * 3, sizeof(uint32_t));
	if (!doc->head) {
		free(doc);
		doc = NULL;
		errno = ENOMEM;
		goto out;
	}
	doc->tail = doc->head + n;
	doc->gen = doc->tail + n;
	doc->fields = fields;
	doc->nfields = n;
	doc->cur_gen = 0;
	detect_doc_reset(doc);
out:
	return doc;
}

void detect_doc_free(struct detect_doc *doc)
{
	if (!doc)
		return;
	free(doc->head);
	free(doc);
}

void detect_doc_reset(struct detect_doc *doc)
{
	doc->nvalues = 0;
	doc->overflow = 0;
	doc->arena_used = 0;
	doc->time_ns = 0;
	doc->src.product = "";
	doc->src.service = "";
	doc->src.ncategory = 0;
	for (unsigned i = 0; i < DETECT_DOC_MAX_CATEGORIES; i++)
		doc->src.category[i] = NULL;
	/* A field's chain is live only while gen[id] == cur_gen, so bumping the generation forgets
	 * every field at once; after 2^32 events the stale generations could look current again,
	 * so the array is cleared then (and 0 is never a current generation). */
	if (++doc->cur_gen == 0) {
		memset(doc->gen, 0, (size_t)doc->nfields * sizeof(*doc->gen));
		doc->cur_gen = 1;
	}
}

uint32_t detect_doc_field(const struct detect_doc *doc, const char *name, size_t len)
{
	uint32_t id = detect_fields_find(doc->fields, name, len);

	return id < doc->nfields ? id : DETECT_FIELD_NONE;
}

int detect_doc_add(struct detect_doc *doc, const char *name, size_t nlen, const char *str,
		   size_t len)
{
	uint32_t id = detect_doc_field(doc, name, nlen);

	if (id == DETECT_FIELD_NONE) {
		if (!detect_fields_keep_other(doc->fields))
			return 0;
		id = DETECT_FIELD_OTHER;
	}
	return detect_doc_add_id(doc, id, str, len);
}

char *detect_doc_alloc(struct detect_doc *doc, size_t len)
{
	char *p;

	/* +1 keeps every arena string NUL-terminated, which costs little and helps debugging. */
	if (len >= (size_t)DETECT_DOC_ARENA - doc->arena_used)
		return NULL;
	p = doc->arena + doc->arena_used;
	p[len] = '\0';
	doc->arena_used += len + 1;
	return p;
}

void detect_doc_alloc_shrink(struct detect_doc *doc, char *p, size_t len)
{
	size_t at = (size_t)(p - doc->arena);

	if (at + len + 1 <= doc->arena_used) {
		p[len] = '\0';
		doc->arena_used = at + len + 1;
	}
}

int detect_doc_add_copy(struct detect_doc *doc, uint32_t field, const char *str, size_t len)
{
	char *p;

	if (field >= doc->nfields)
		return -EINVAL;
	if (doc->nvalues >= DETECT_DOC_MAX_VALUES) {
		doc->overflow++;
		return -ENOSPC;
	}
	p = detect_doc_alloc(doc, len);
	if (!p) {
		doc->overflow++;
		return -ENOSPC;
	}
	memcpy(p, str, len);
	return detect_doc_add_id(doc, field, p, len);
}

const struct detect_value *detect_doc_first(const struct detect_doc *doc, uint32_t field)
{
	if (field >= doc->nfields || doc->gen[field] != doc->cur_gen)
		return NULL;
	return &doc->values[doc->head[field]];
}

const struct detect_value *detect_doc_next(const struct detect_doc *doc,
					   const struct detect_value *v)
{
	return v->next == DETECT_DOC_NO_VALUE ? NULL : &doc->values[v->next];
}

const char *detect_value_lower(struct detect_doc *doc, struct detect_value *v)
{
	uint32_t i;
	char *p;

	if (v->lower)
		return v->lower;
	i = (uint32_t)bytes_first_upper(v->str, v->len);
	if (i == v->len) {
		v->lower = v->str;
		return v->lower;
	}
	p = detect_doc_alloc(doc, v->len);
	if (!p)
		return v->str; /* not cached: a later call may find room after all */
	memcpy(p, v->str, i);
	bytes_lower(p + i, v->str + i, v->len - i);
	v->lower = p;
	return p;
}

/* ---- logsource classification ---- */

/* Sigma logsource taxonomy names. */
static const char LS_LINUX[] = "linux";
static const char LS_AUDITD[] = "auditd";
static const char LS_PROCESS_CREATION[] = "process_creation";
static const char LS_PROCESS_TERMINATION[] = "process_termination";
static const char LS_PROCESS_FORK[] = "process_fork";
static const char LS_PROCESS_ACCESS[] = "process_access";
static const char LS_PRIVILEGE_CHANGE[] = "privilege_change";
static const char LS_MEMFD_CREATE[] = "memfd_create";
static const char LS_BPF_LOAD[] = "bpf_load";
static const char LS_DRIVER_LOAD[] = "driver_load";
static const char LS_FILE_EVENT[] = "file_event";
static const char LS_FILE_CREATE[] = "file_create";
static const char LS_FILE_CHANGE[] = "file_change";
static const char LS_FILE_RENAME[] = "file_rename";
static const char LS_FILE_DELETE[] = "file_delete";
static const char LS_NETWORK_CONNECTION[] = "network_connection";
static const char LS_DNS_QUERY[] = "dns_query";
static const char LS_DNS[] = "dns";

/* ECS event.category values, as bits. */
enum {
	ECS_PROCESS = 1u << 0,
	ECS_FILE = 1u << 1,
	ECS_NETWORK = 1u << 2,
	ECS_DRIVER = 1u << 3,
};

/* event.type values, as bits. */
enum {
	TYPE_START = 1u << 0,
	TYPE_END = 1u << 1,
	TYPE_CREATION = 1u << 2,
	TYPE_DELETION = 1u << 3,
	TYPE_CHANGE = 1u << 4,
	TYPE_CONNECTION = 1u << 5,
	TYPE_ACCESS = 1u << 6,
};

struct name_bit {
	const char *name;
	unsigned bit;
};

static const struct name_bit ecs_categories[] = {
    {"process", ECS_PROCESS},
    {"file", ECS_FILE},
    {"network", ECS_NETWORK},
    {"driver", ECS_DRIVER},
};

static const struct name_bit ecs_types[] = {
    {"start", TYPE_START},	 {"end", TYPE_END},	  {"creation", TYPE_CREATION},
    {"deletion", TYPE_DELETION}, {"change", TYPE_CHANGE}, {"connection", TYPE_CONNECTION},
    {"access", TYPE_ACCESS},
};

/* The actions Mamori's agent emits (EVENT_ACTIONS in src/common/event.h), each with the
 * event.category it comes with; disconnect_received, listen and agent_drops fit no category. */
static const struct {
	const char *action;
	unsigned category;
	const char *src[3];
} action_classes[] = {
    {"exec", ECS_PROCESS, {LS_PROCESS_CREATION}},
    {"fork", ECS_PROCESS, {LS_PROCESS_FORK}},
    {"end", ECS_PROCESS, {LS_PROCESS_TERMINATION}},
    {"uid_change", ECS_PROCESS, {LS_PRIVILEGE_CHANGE}},
    {"gid_change", ECS_PROCESS, {LS_PRIVILEGE_CHANGE}},
    {"ptrace", ECS_PROCESS, {LS_PROCESS_ACCESS}},
    {"memfd_create", ECS_PROCESS, {LS_MEMFD_CREATE}},
    {"bpf_load", ECS_PROCESS, {LS_BPF_LOAD}},
    {"load_module", ECS_DRIVER, {LS_DRIVER_LOAD}},
    {"creation", ECS_FILE, {LS_FILE_EVENT, LS_FILE_CREATE}},
    {"modification", ECS_FILE, {LS_FILE_EVENT, LS_FILE_CHANGE}},
    {"rename", ECS_FILE, {LS_FILE_EVENT, LS_FILE_RENAME}},
    {"deletion", ECS_FILE, {LS_FILE_DELETE}},
    {"attributes_modification", ECS_FILE, {LS_FILE_CHANGE}},
    {"connection_attempted", ECS_NETWORK, {LS_NETWORK_CONNECTION}},
    {"connection_accepted", ECS_NETWORK, {LS_NETWORK_CONNECTION}},
    {"dns_query", ECS_NETWORK, {LS_DNS_QUERY, LS_DNS}},
};

static bool value_is(const struct detect_value *v, const char *s)
{
	size_t n = strlen(s);

	return v && v->len == n && memcmp(v->str, s, n) == 0;
}

static bool value_ends_with(const struct detect_value *v, const char *s)
{
	size_t n = strlen(s);

	return v && v->len >= n && memcmp(v->str + v->len - n, s, n) == 0;
}

static unsigned value_bits(const struct detect_doc *doc, uint32_t field, const struct name_bit *tab,
			   size_t ntab)
{
	unsigned bits = 0;

	for (const struct detect_value *v = detect_doc_first(doc, field); v;
	     v = detect_doc_next(doc, v)) {
		for (size_t i = 0; i < ntab; i++) {
			if (value_is(v, tab[i].name))
				bits |= tab[i].bit;
		}
	}
	return bits;
}

static void add_category(struct detect_logsource *src, const char *cat)
{
	if (cat && src->ncategory < DETECT_DOC_MAX_CATEGORIES)
		src->category[src->ncategory++] = cat;
}

/* Product (and service) from event.module: Mamori's own events and Elastic endpoint-style ones
 * are "linux"; auditbeat's are linux/auditd; anything else keeps its module name as product so
 * `product: zeek`-style rules still find their events. */
static void classify_product(struct detect_doc *doc)
{
	const struct detect_value *m = detect_doc_first(doc, DETECT_FIELD_EVENT_MODULE);
	const size_t max = 64;
	size_t n;
	char *p;

	if (!m || value_is(m, "mamori") || value_is(m, "endpoint") || value_is(m, "system")) {
		doc->src.product = LS_LINUX;
		return;
	}
	if (value_is(m, "auditd")) {
		doc->src.product = LS_LINUX;
		doc->src.service = LS_AUDITD;
		return;
	}
	n = m->len < max ? m->len : max;
	p = detect_doc_alloc(doc, n);
	if (!p)
		return;
	for (size_t i = 0; i < n; i++) {
		char c = m->str[i];

		p[i] = (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
	}
	doc->src.product = p;
}

static bool detect_doc_classify_ecs_only(struct detect_doc *doc);

/* For producers other than Mamori: the category and event.type alone. */
static void classify_generic(struct detect_doc *doc, unsigned cats, unsigned types)
{
	struct detect_logsource *src = &doc->src;

	if (cats & ECS_PROCESS) {
		if (types & TYPE_START)
			add_category(src, LS_PROCESS_CREATION);
		else if (types & TYPE_END)
			add_category(src, LS_PROCESS_TERMINATION);
	}
	if (cats & ECS_FILE) {
		if (types & TYPE_CREATION) {
			add_category(src, LS_FILE_EVENT);
			add_category(src, LS_FILE_CREATE);
		} else if (types & TYPE_DELETION) {
			add_category(src, LS_FILE_DELETE);
		} else if (types & TYPE_CHANGE) {
			add_category(src, LS_FILE_EVENT);
			add_category(src, LS_FILE_CHANGE);
		}
	}
	if (cats & ECS_NETWORK) {
		const struct detect_value *ds = detect_doc_first(doc, DETECT_FIELD_EVENT_DATASET);
		uint32_t q = detect_doc_field(doc, "dns.question.name", 17);

		if (detect_doc_first(doc, q) || value_is(ds, "dns") ||
		    value_ends_with(ds, ".dns")) {
			add_category(src, LS_DNS_QUERY);
			add_category(src, LS_DNS);
		} else if ((types & TYPE_CONNECTION) && !(types & TYPE_END)) {
			add_category(src, LS_NETWORK_CONNECTION);
		}
	}
	if (cats & ECS_DRIVER)
		add_category(src, LS_DRIVER_LOAD);
}

/* Sigma's Initiated (network.initiated in the field map): "true" for a connection this host
 * opened, "false" for one it accepted, from the action or network.direction. */
static void add_initiated(struct detect_doc *doc)
{
	uint32_t f = detect_doc_field(doc, "network.initiated", 17);
	if (f == DETECT_FIELD_NONE || detect_doc_first(doc, f))
		return;
	const struct detect_value *a = detect_doc_first(doc, DETECT_FIELD_EVENT_ACTION);
	const struct detect_value *d =
	    detect_doc_first(doc, detect_doc_field(doc, "network.direction", 17));
	if (value_is(a, "connection_attempted") || value_is(d, "egress") || value_is(d, "outbound"))
		detect_doc_add_id(doc, f, "true", 4);
	else if (value_is(a, "connection_accepted") || value_is(d, "ingress") ||
		 value_is(d, "inbound"))
		detect_doc_add_id(doc, f, "false", 5);
}

static bool has_category(const struct detect_doc *doc, const char *cat)
{
	for (unsigned i = 0; i < doc->src.ncategory; i++)
		if (doc->src.category[i] == cat)
			return true;
	return false;
}

bool detect_doc_classify_ecs(struct detect_doc *doc)
{
	bool ok = detect_doc_classify_ecs_only(doc);
	if (has_category(doc, LS_NETWORK_CONNECTION))
		add_initiated(doc);
	return ok;
}

static bool detect_doc_classify_ecs_only(struct detect_doc *doc)
{
	const struct detect_value *action = detect_doc_first(doc, DETECT_FIELD_EVENT_ACTION);
	unsigned cats, types;

	doc->src.product = "";
	doc->src.service = "";
	doc->src.ncategory = 0;
	classify_product(doc);
	cats = value_bits(doc, DETECT_FIELD_EVENT_CATEGORY, ecs_categories,
			  sizeof(ecs_categories) / sizeof(ecs_categories[0]));
	types = value_bits(doc, DETECT_FIELD_EVENT_TYPE, ecs_types,
			   sizeof(ecs_types) / sizeof(ecs_types[0]));
	/* Mamori's action names are unambiguous; they classify even a document that left
	 * event.category out, as long as it does not contradict them. */
	for (size_t i = 0; action && i < sizeof(action_classes) / sizeof(action_classes[0]); i++) {
		if (!value_is(action, action_classes[i].action))
			continue;
		if (cats && !(cats & action_classes[i].category))
			break;
		for (size_t k = 0; k < 3; k++)
			add_category(&doc->src, action_classes[i].src[k]);
		return true;
	}
	classify_generic(doc, cats, types);
	return doc->src.ncategory > 0;
}
