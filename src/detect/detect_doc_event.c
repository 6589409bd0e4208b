#include "detect_doc_event.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detect_doc.h"
#include "detect_fields.h"
#include "event.h"
#include "event_json.h"

#include "banned.h"

struct detect_event_map {
	const struct detect_fields *fields;
	uint32_t id[EVF_COUNT];	  /* DETECT_FIELD_NONE when no rule names the field */
	uint8_t known[EVF_COUNT]; /* the fields with an id, in output order */
	unsigned nknown;
};

_Static_assert(EVF_COUNT <= 256, "grow detect_event_map.known");

/* event.type by action, as event_json.c's action_type() writes it: a struct event round-tripped
 * through JSON must classify and match the same (test_detect_adapters checks every action). */
static const char *const *action_types(enum event_action a)
{
	static const char *const start[] = {"start", NULL};
	static const char *const end[] = {"end", NULL};
	static const char *const creation[] = {"creation", NULL};
	static const char *const deletion[] = {"deletion", NULL};
	static const char *const change[] = {"change", NULL};
	static const char *const access[] = {"access", NULL};
	static const char *const conn_start[] = {"start", "connection", NULL};
	static const char *const conn_end[] = {"end", "connection", NULL};
	static const char *const protocol[] = {"protocol", NULL};
	static const char *const info[] = {"info", NULL};

	switch (a) {
	case EVENT_ACTION_EXEC:
	case EVENT_ACTION_FORK:
		return start;
	case EVENT_ACTION_END:
		return end;
	case EVENT_ACTION_MEMFD_CREATE:
	case EVENT_ACTION_CREATION:
		return creation;
	case EVENT_ACTION_DELETION:
		return deletion;
	case EVENT_ACTION_UID_CHANGE:
	case EVENT_ACTION_GID_CHANGE:
	case EVENT_ACTION_MODIFICATION:
	case EVENT_ACTION_RENAME:
	case EVENT_ACTION_ATTRIBUTES_MODIFICATION:
		return change;
	case EVENT_ACTION_PTRACE:
		return access;
	case EVENT_ACTION_CONNECTION_ATTEMPTED:
	case EVENT_ACTION_CONNECTION_ACCEPTED:
		return conn_start;
	case EVENT_ACTION_DISCONNECT_RECEIVED:
		return conn_end;
	case EVENT_ACTION_DNS_QUERY:
		return protocol;
	default:
		return info;
	}
}

struct detect_event_map *detect_event_map_new(const struct detect_fields *fields)
{
	struct detect_event_map *m;

	if (!fields) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->fields = fields;
	for (unsigned f = 0; f < EVF_COUNT; f++) {
		const char *name = event_field_table[f].name;

		m->id[f] = detect_fields_find(fields, name, strlen(name));
		if (m->id[f] != DETECT_FIELD_NONE)
			m->known[m->nknown++] = (uint8_t)f;
	}
	return m;
}

void detect_event_map_free(struct detect_event_map *m)
{
	free(m);
}

static int add_static(struct detect_doc *doc, uint32_t id, const char *s)
{
	return detect_doc_add_id(doc, id, s, strlen(s));
}

static int add_u64(struct detect_doc *doc, uint32_t id, uint64_t v, bool neg)
{
	char buf[24], *p = buf + sizeof(buf);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		*--p = '-';
	return detect_doc_add_copy(doc, id, p, (size_t)(buf + sizeof(buf) - p));
}

static void add_list(struct detect_doc *doc, uint32_t id, const char *list, uint32_t len)
{
	uint32_t i = 0;

	while (i < len) {
		size_t n = strnlen(list + i, len - i);

		(void)detect_doc_add_id(doc, id, list + i, n);
		i += (uint32_t)n + 1;
	}
}


static void add_field(struct detect_doc *doc, const struct event *ev, enum event_field f,
		      uint32_t id)
{
	const struct event_field_desc *d = &event_field_table[f];
	const char *p = (const char *)ev + d->offset;
	char tbuf[40];
	int32_t i32;

	if (!event_has_at(ev, f, d, p))
		return;
	switch (d->type) {
	case EVT_STR:
		(void)detect_doc_add_id(doc, id, p, strnlen(p, d->size));
		break;
	case EVT_STR_U32:
	case EVT_U32:
		(void)add_u64(doc, id, *(const uint32_t *)p, false);
		break;
	case EVT_U64:
		(void)add_u64(doc, id, *(const uint64_t *)p, false);
		break;
	case EVT_I32:
		i32 = *(const int32_t *)p;
		(void)add_u64(doc, id,
			      i32 < 0 ? (uint64_t)0 - (uint64_t)(int64_t)i32 : (uint64_t)i32,
			      i32 < 0);
		break;
	case EVT_MODE: {
		uint32_t m = *(const uint32_t *)p & 07777;
		char o[4] = {(char)('0' + (m >> 9 & 7)), (char)('0' + (m >> 6 & 7)),
			     (char)('0' + (m >> 3 & 7)), (char)('0' + (m & 7))};

		(void)detect_doc_add_copy(doc, id, o, sizeof(o));
		break;
	}
	case EVT_BOOL:
		(void)add_static(doc, id, *(const bool *)p ? "true" : "false");
		break;
	case EVT_TIME:
		json_format_time(*(const uint64_t *)p, tbuf, sizeof(tbuf));
		(void)detect_doc_add_copy(doc, id, tbuf, strlen(tbuf));
		break;
	case EVT_LIST:
		add_list(doc, id, p, *(const uint32_t *)(p + d->size));
		break;
	case EVT_ACTION:
		(void)add_static(doc, id, event_action_name(ev->action));
		break;
	case EVT_DERIVED:
		if (f == EVF_EVENT_KIND) {
			(void)add_static(
			    doc, id, ev->action == EVENT_ACTION_AGENT_DROPS ? "metric" : "event");
		} else if (f == EVF_EVENT_CATEGORY) {
			(void)add_static(doc, id, event_action_category(ev->action));
		} else {
			for (const char *const *t = action_types(ev->action); *t; t++)
				(void)add_static(doc, id, *t);
		}
		break;
	}
}

int detect_doc_from_event(struct detect_doc *doc, const struct detect_event_map *map,
			  const struct event *ev)
{
	detect_doc_reset(doc);
	if (map->fields != doc->fields)
		return -EINVAL;
	if (detect_fields_keep_other(doc->fields)) {
		for (unsigned f = 0; f < EVF_COUNT; f++) {
			uint32_t id =
			    map->id[f] == DETECT_FIELD_NONE ? DETECT_FIELD_OTHER : map->id[f];

			add_field(doc, ev, (enum event_field)f, id);
		}
	} else {
		for (unsigned k = 0; k < map->nknown; k++)
			add_field(doc, ev, (enum event_field)map->known[k], map->id[map->known[k]]);
	}
	if (event_has(ev, EVF_TIMESTAMP))
		doc->time_ns = ev->timestamp_ns;
	detect_doc_classify_ecs(doc);
	return 0;
}
