/* libFuzzer target for detect_doc_from_json: any bytes either fill the doc or fail cleanly with
 * an empty doc and a reason. Every value lies inside the input or the doc's arena, every field's
 * chain holds exactly its values, and lowercase copies keep their length. Run twice: with only
 * rule fields kept, and with keep_other (every value). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detect_doc.h"
#include "detect_doc_json.h"
#include "detect_fields.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
    "process.executable",
    "process.command_line",
    "process.args",
    "process.parent.executable",
    "process.pid",
    "user.name",
    "file.path",
    "destination.ip",
    "dns.question.name",
    "a",
    "a.b",
    "a.b.c",
    "tags",
    "host.name",
};

static struct detect_fields *fields[2];
static struct detect_doc *docs[2];

static void setup(void)
{
	for (int k = 0; k < 2; k++) {
		fields[k] = detect_fields_new();
		if (!fields[k])
			abort();
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			detect_fields_intern(fields[k], names[i], strlen(names[i]));
		detect_fields_set_keep_other(fields[k], k == 1);
		docs[k] = detect_doc_new(fields[k]);
		if (!docs[k])
			abort();
	}
}

static bool inside(const char *p, size_t n, const char *base, size_t len)
{
	return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

static void check(struct detect_doc *doc, const uint8_t *data, size_t size)
{
	unsigned seen = 0;

	if (doc->nvalues > DETECT_DOC_MAX_VALUES || doc->arena_used > DETECT_DOC_ARENA)
		abort();
	for (uint32_t id = 0; id < doc->nfields; id++) {
		for (const struct detect_value *v = detect_doc_first(doc, id); v;
		     v = detect_doc_next(doc, v)) {
			if (v->field != id || ++seen > doc->nvalues)
				abort();
			if (!inside(v->str, v->len, (const char *)data, size) &&
			    !inside(v->str, v->len, doc->arena, doc->arena_used))
				abort();
		}
	}
	if (seen != doc->nvalues)
		abort();
	for (unsigned i = 0; i < doc->nvalues; i++) {
		struct detect_value *v = &doc->values[i];
		const char *low = detect_value_lower(doc, v);

		/* Uncached and unchanged only when the arena had no room for the copy. */
		if (!v->lower && v->len < DETECT_DOC_ARENA - doc->arena_used)
			abort();
		if (!v->lower)
			continue;
		for (uint32_t k = 0; k < v->len; k++) {
			char c = v->str[k];

			if (low[k] != ((c >= 'A' && c <= 'Z') ? (char)(c + 32) : c))
				abort();
		}
	}
	if (!doc->src.product || !doc->src.service ||
	    doc->src.ncategory > DETECT_DOC_MAX_CATEGORIES)
		abort();
	for (unsigned k = 0; k < doc->src.ncategory; k++)
		if (!doc->src.category[k] || !doc->src.category[k][0])
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];

	if (!docs[0])
		setup();
	for (int k = 0; k < 2; k++) {
		int rc = detect_doc_from_json(docs[k], (const char *)data, size, err, sizeof(err));

		if (rc != 0 && (rc != -EINVAL && rc != -E2BIG))
			abort();
		if (rc != 0 && (docs[k]->nvalues != 0 || err[0] == '\0'))
			abort();
		check(docs[k], data, size);
	}
	return 0;
}
