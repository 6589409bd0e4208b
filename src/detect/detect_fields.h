/* The table of field names the loaded rules and indicators refer to, each with a small integer id,
 * so an event keeps only the values that can matter and matchers index them directly. Built while
 * rules load, read-only (and shareable between threads) afterwards. */
#ifndef MAMORI_DETECT_FIELDS_H
#define MAMORI_DETECT_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct detect_fields;

/* Ids of the always-present fields: detect_fields_new interns them first, in this order, so
 * adapters and the classifier use them without a lookup. */
enum detect_field_fixed {
	DETECT_FIELD_TIMESTAMP = 1, /* @timestamp */
	DETECT_FIELD_EVENT_CATEGORY,
	DETECT_FIELD_EVENT_ACTION,
	DETECT_FIELD_EVENT_TYPE,
	DETECT_FIELD_EVENT_DATASET,
	DETECT_FIELD_EVENT_MODULE,
	DETECT_FIELD_FIXED_END /* first id handed out by detect_fields_intern */
};

/* Caller owns the result. Ids start at 1 (0 is DETECT_FIELD_OTHER); the fields every adapter
 * needs to classify an event (@timestamp, event.category, event.action, event.type,
 * event.dataset, event.module) are always present. NULL + errno. */
struct detect_fields *detect_fields_new(void);
void detect_fields_free(struct detect_fields *f);
/* Id of name, adding it when new. Names compare exactly (ECS names are lowercase). Returns
 * DETECT_FIELD_NONE (UINT32_MAX) when out of memory or past DETECT_FIELDS_MAX. */
#define DETECT_FIELDS_MAX 4096
uint32_t detect_fields_intern(struct detect_fields *f, const char *name, size_t len);
/* Id of name, or DETECT_FIELD_NONE. Safe to call concurrently once loading is over. */
uint32_t detect_fields_find(const struct detect_fields *f, const char *name, size_t len);
/* a[0, n) == b[0, n) for names (n >= 1), in whole loads: the table and the adapters' caches
 * compare every name of every event, where a library call costs more than the bytes. */
static inline bool detect_name_equal(const char *a, const char *b, size_t n)
{
	if (n < 4)
		return a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1];
	if (n < 8) {
		uint32_t x[4];
		memcpy(&x[0], a, 4);
		memcpy(&x[1], b, 4);
		memcpy(&x[2], a + n - 4, 4);
		memcpy(&x[3], b + n - 4, 4);
		return x[0] == x[1] && x[2] == x[3];
	}
	uint64_t x, y;
	for (size_t i = 0; i + 8 < n; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return false;
	}
	memcpy(&x, a + n - 8, 8);
	memcpy(&y, b + n - 8, 8);
	return x == y;
}
/* NUL-terminated name of id (borrowed from the table), "" for DETECT_FIELD_OTHER. */
const char *detect_fields_name(const struct detect_fields *f, uint32_t id);
/* Number of ids handed out, DETECT_FIELD_OTHER included (valid ids are < count). */
unsigned detect_fields_count(const struct detect_fields *f);
/* Tells tables apart for caches that outlive one (never 0; no two tables of a process share
 * one, even when one reuses the other's memory). */
uint64_t detect_fields_serial(const struct detect_fields *f);
/* Keyword searches need every value of the event: when set, adapters keep values of unknown
 * fields under DETECT_FIELD_OTHER. */
void detect_fields_set_keep_other(struct detect_fields *f, bool keep);
bool detect_fields_keep_other(const struct detect_fields *f);

#endif
