/* One event as the detection engine sees it: (field, value) pairs with values kept as text, filled
 * by an adapter (ECS JSON line, struct event, raw auditd line) and reused from event to event with
 * no allocation. Only fields some rule or indicator refers to are kept (plus, when keyword rules
 * are loaded, every other string value under DETECT_FIELD_OTHER). */
#ifndef MAMORI_DETECT_DOC_H
#define MAMORI_DETECT_DOC_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct detect_fields;

#define DETECT_DOC_MAX_VALUES 512
#define DETECT_DOC_ARENA (256 * 1024)
#define DETECT_DOC_MAX_CATEGORIES 4
#define DETECT_FIELD_NONE UINT32_MAX
#define DETECT_DOC_NO_VALUE UINT32_MAX /* the end of a field's chain of values */
/* Values of fields no rule names; keyword (field-less) searches look at them too. */
#define DETECT_FIELD_OTHER 0u

struct detect_value {
	const char *str; /* not NUL-terminated; borrowed from the adapter's input or the doc arena */
	uint32_t len;
	uint32_t field;
	uint32_t next;  /* index of the next value of the same field, or DETECT_DOC_NO_VALUE */
	const char *lower; /* lowercase copy, made on first need (NULL until then) */
};

/* The logsource the adapter recognised ("process_creation", "linux", "auditd"...). Strings are
 * borrowed for the life of the doc's current event; empty when unknown. */
struct detect_logsource {
	const char *product;
	const char *service;
	const char *category[DETECT_DOC_MAX_CATEGORIES];
	unsigned ncategory;
};

struct detect_doc {
	const struct detect_fields *fields; /* borrowed from the engine */
	struct detect_logsource src;
	uint64_t time_ns;  /* event time, for correlation windows; 0 when unknown */
	unsigned nvalues;
	unsigned overflow; /* values dropped because the doc was full (counted, event still matched) */
	struct detect_value values[DETECT_DOC_MAX_VALUES];
	uint32_t *head;    /* per field id: first value index, valid when gen[id] == cur_gen */
	uint32_t *tail;
	uint32_t *gen;
	uint32_t cur_gen;
	unsigned nfields;
	size_t arena_used;
	char arena[DETECT_DOC_ARENA];
};

/* Caller owns the result (detect_doc_free). The field table must outlive the doc. NULL + errno. */
struct detect_doc *detect_doc_new(const struct detect_fields *fields);
void detect_doc_free(struct detect_doc *doc);
/* Forgets the previous event's values in O(1). */
void detect_doc_reset(struct detect_doc *doc);

/* Looks name up in the field table; DETECT_FIELD_NONE when no rule uses it. */
uint32_t detect_doc_field(const struct detect_doc *doc, const char *name, size_t len);
/* Adds one value (str borrowed: it must stay valid until the next reset). Values of a field the
 * table does not know are kept under DETECT_FIELD_OTHER only when keep_other is set in the table.
 * Returns 0, or -ENOSPC when the doc is full (counted in overflow). */
int detect_doc_add(struct detect_doc *doc, const char *name, size_t nlen, const char *str,
		   size_t len);
/* Adds a value of a field id the doc's table knows (detect_doc_field). str is borrowed: it must
 * stay valid until the next reset. Returns 0; -EINVAL for another id; -ENOSPC when the doc is
 * full (counted in overflow). Inline: adapters call it for every value of every event. */
static inline int detect_doc_add_id(struct detect_doc *doc, uint32_t field, const char *str,
				    size_t len)
{
	if (field >= doc->nfields || len > UINT32_MAX)
		return -EINVAL;
	if (doc->nvalues >= DETECT_DOC_MAX_VALUES) {
		doc->overflow++;
		return -ENOSPC;
	}
	uint32_t i = doc->nvalues++;
	struct detect_value *v = &doc->values[i];
	v->str = str;
	v->len = (uint32_t)len;
	v->field = field;
	v->next = DETECT_DOC_NO_VALUE; /* the last of its field so far */
	v->lower = NULL;
	if (doc->gen[field] != doc->cur_gen) {
		doc->gen[field] = doc->cur_gen;
		doc->head[field] = i;
	} else {
		doc->values[doc->tail[field]].next = i;
	}
	doc->tail[field] = i;
	return 0;
}
/* Copies str into the doc's arena first (for values the adapter decoded into a scratch buffer). */
int detect_doc_add_copy(struct detect_doc *doc, uint32_t field, const char *str, size_t len);
/* Copies a NUL-free scratch string into the arena; NULL when the arena is full. */
char *detect_doc_alloc(struct detect_doc *doc, size_t len);
/* Shrinks p, the doc's latest allocation, to len bytes (len <= its size) and gives the rest back:
 * for adapters that reserve a bound and learn the exact size after writing. */
void detect_doc_alloc_shrink(struct detect_doc *doc, char *p, size_t len);

/* First value of field, or NULL; iterate with detect_doc_next. */
const struct detect_value *detect_doc_first(const struct detect_doc *doc, uint32_t field);
const struct detect_value *detect_doc_next(const struct detect_doc *doc,
					   const struct detect_value *v);
/* The value's lowercase (ASCII) form, computed once per value; falls back to the value itself
 * when the arena is full. */
const char *detect_value_lower(struct detect_doc *doc, struct detect_value *v);

/* Sets src from ECS event.category / event.action / event.type / event.dataset values already
 * added (category process_creation, file_event, network_connection, dns_query...). Returns false
 * when the event fits no known category. */
bool detect_doc_classify_ecs(struct detect_doc *doc);

#endif
