#include "detect_fields.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "detect_doc.h" /* DETECT_FIELD_NONE, DETECT_FIELD_OTHER */

#include "banned.h"

/* Longer names cannot come from an adapter (JSON names stop at 256 bytes) or a sane rule. */
#define NAME_MAX_LEN 1024

struct field_entry {
	uint32_t off; /* into names */
	uint32_t len;
	uint32_t hash;
};

struct detect_fields {
	struct field_entry *ent; /* by id; ent[0] is DETECT_FIELD_OTHER ("") */
	unsigned count, cap;
	uint32_t *slot; /* linear probing; an id, or 0 when empty (id 0 is never in) */
	uint32_t mask;	/* slots - 1, a power of two minus one */
	char *names;	/* every name NUL-terminated, back to back */
	size_t names_len, names_cap;
	bool keep_other;
	uint64_t serial; /* unique per table made by this process */
};

static const char *const fixed_names[] = {
    [DETECT_FIELD_TIMESTAMP] = "@timestamp",
    [DETECT_FIELD_EVENT_CATEGORY] = "event.category",
    [DETECT_FIELD_EVENT_ACTION] = "event.action",
    [DETECT_FIELD_EVENT_TYPE] = "event.type",
    [DETECT_FIELD_EVENT_DATASET] = "event.dataset",
    [DETECT_FIELD_EVENT_MODULE] = "event.module",
};

static inline uint64_t read64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t read32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Eight bytes at a time, the last (partial) word read as overlapping whole loads rather than
 * byte by byte: adapters hash every name of every event, so this is on the hot path. */
static uint32_t name_hash(const char *s, size_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ n, w;
	size_t i = 0;

	for (; i + 8 < n; i += 8) {
		h = (h ^ read64(s + i)) * 0xFF51AFD7ED558CCDull;
		h ^= h >> 32;
	}
	if (n >= 8)
		w = read64(s + n - 8);
	else if (n >= 4)
		w = read32(s) | read32(s + n - 4) << 32;
	else if (n > 0)
		w = (uint64_t)(uint8_t)s[0] << 16 | (uint64_t)(uint8_t)s[n / 2] << 8 |
		    (uint8_t)s[n - 1];
	else
		w = 0;
	h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
	h ^= h >> 33;
	h *= 0xFF51AFD7ED558CCDull;
	h ^= h >> 29;
	return (uint32_t)h;
}

static uint32_t lookup(const struct detect_fields *f, const char *name, size_t len, uint32_t h)
{
	for (uint32_t i = h & f->mask;; i = (i + 1) & f->mask) {
		uint32_t id = f->slot[i];
		const struct field_entry *e;

		if (id == 0)
			return DETECT_FIELD_NONE;
		e = &f->ent[id];
		if (e->hash == h && e->len == len &&
		    detect_name_equal(f->names + e->off, name, len))
			return id;
	}
}

static void slot_put(uint32_t *slot, uint32_t mask, uint32_t h, uint32_t id)
{
	uint32_t i = h & mask;

	while (slot[i])
		i = (i + 1) & mask;
	slot[i] = id;
}

/* Keeps the load factor at or under one half so probes stay short. */
static int grow_slots(struct detect_fields *f)
{
	uint32_t nslots = (f->mask + 1) * 2;
	uint32_t *slot = calloc(nslots, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (unsigned id = 1; id < f->count; id++)
		slot_put(slot, nslots - 1, f->ent[id].hash, id);
	free(f->slot);
	f->slot = slot;
	f->mask = nslots - 1;
	return 0;
}

static int grow_names(struct detect_fields *f, size_t need)
{
	size_t cap = f->names_cap;
	char *p;

	while (cap < need)
		cap *= 2;
	if (cap > UINT32_MAX)
		return -ENOMEM;
	p = realloc(f->names, cap);
	if (!p)
		return -ENOMEM;
	f->names = p;
	f->names_cap = cap;
	return 0;
}

static int grow_entries(struct detect_fields *f)
{
	unsigned cap = f->cap * 2;
	struct field_entry *e;

	if (cap > DETECT_FIELDS_MAX)
		cap = DETECT_FIELDS_MAX;
	e = realloc(f->ent, cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	f->ent = e;
	f->cap = cap;
	return 0;
}

struct detect_fields *detect_fields_new(void)
{
	static _Atomic uint64_t serials;
	struct detect_fields *f = calloc(1, sizeof(*f));
	int err = ENOMEM;

	if (!f)
		return NULL;
	f->serial = ++serials;
	f->cap = 64;
	f->ent = calloc(f->cap, sizeof(*f->ent));
	f->mask = 127;
	f->slot = calloc(f->mask + 1, sizeof(*f->slot));
	f->names_cap = 1024;
	f->names = malloc(f->names_cap);
	if (!f->ent || !f->slot || !f->names)
		goto out;
	f->names[0] = '\0';
	f->names_len = 1;
	f->ent[0] = (struct field_entry){0, 0, 0};
	f->count = 1;
	for (unsigned id = 1; id < DETECT_FIELD_FIXED_END; id++) {
		if (detect_fields_intern(f, fixed_names[id], strlen(fixed_names[id])) != id) {
			err = errno ? errno : ENOMEM;
			goto out;
		}
	}
	return f;
out:
	detect_fields_free(f);
	errno = err;
	return NULL;
}

void detect_fields_free(struct detect_fields *f)
{
	if (!f)
		return;
	free(f->names);
	free(f->slot);
	free(f->ent);
	free(f);
}

uint32_t detect_fields_intern(struct detect_fields *f, const char *name, size_t len)
{
	uint32_t h, id;
	int rc;

	/* The empty name is DETECT_FIELD_OTHER's; no rule can ask for it by name. */
	if (len == 0 || len > NAME_MAX_LEN) {
		errno = EINVAL;
		return DETECT_FIELD_NONE;
	}
	h = name_hash(name, len);
	id = lookup(f, name, len, h);
	if (id != DETECT_FIELD_NONE)
		return id;
	if (f->count >= DETECT_FIELDS_MAX) {
		errno = ENOSPC;
		return DETECT_FIELD_NONE;
	}
	if ((f->count == f->cap && (rc = grow_entries(f)) != 0) ||
	    (f->names_len + len + 1 > f->names_cap &&
	     (rc = grow_names(f, f->names_len + len + 1)) != 0) ||
	    ((f->count + 1) * 2 > f->mask + 1 && (rc = grow_slots(f)) != 0)) {
		errno = -rc;
		return DETECT_FIELD_NONE;
	}
	id = f->count++;
	f->ent[id] = (struct field_entry){(uint32_t)f->names_len, (uint32_t)len, h};
	memcpy(f->names + f->names_len, name, len);
	f->names[f->names_len + len] = '\0';
	f->names_len += len + 1;
	slot_put(f->slot, f->mask, h, id);
	return id;
}

uint32_t detect_fields_find(const struct detect_fields *f, const char *name, size_t len)
{
	if (len == 0 || len > NAME_MAX_LEN)
		return DETECT_FIELD_NONE;
	return lookup(f, name, len, name_hash(name, len));
}

const char *detect_fields_name(const struct detect_fields *f, uint32_t id)
{
	if (id >= f->count)
		return "";
	return f->names + f->ent[id].off;
}

uint64_t detect_fields_serial(const struct detect_fields *f)
{
	return f->serial;
}

unsigned detect_fields_count(const struct detect_fields *f)
{
	return f->count;
}

void detect_fields_set_keep_other(struct detect_fields *f, bool keep)
{
	f->keep_other = keep;
}

bool detect_fields_keep_other(const struct detect_fields *f)
{
	return f->keep_other;
}
