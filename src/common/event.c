#include "event.h"

#include <pthread.h>
#include <string.h>

#include "utf8.h"

#include "banned.h"

#define FIELD_SIZE(member) sizeof(((struct event *)0)->member)

const struct event_field_desc event_field_table[EVF_COUNT] = {
#define X(id, name, type, member) [EVF_##id] = {name, type, offsetof(struct event, member),        \
						FIELD_SIZE(member)},
	EVENT_FIELDS(X)
#undef X
};

static const char *const action_names[EVENT_ACTION_COUNT] = {
	[EVENT_ACTION_NONE] = "",
#define X(id, name) [EVENT_ACTION_##id] = name,
	EVENT_ACTIONS(X)
#undef X
};

/* EVT_LIST lengths are found right after their arrays. */
_Static_assert(offsetof(struct event, process.args_len) ==
		       offsetof(struct event, process.args) + EVENT_ARGS_LEN,
	       "process.args_len must follow process.args");
_Static_assert(offsetof(struct event, tags_len) == offsetof(struct event, tags) + EVENT_TAGS_LEN,
	       "tags_len must follow tags");
_Static_assert(EVF_COUNT <= 8 * sizeof(((struct event *)0)->present), "grow event.present");

/* What event_reset clears, by width, precomputed from the field table. */
static struct {
	uint32_t off8[EVF_COUNT], off4[EVF_COUNT], off1[EVF_COUNT], offn[EVF_COUNT], lenn[EVF_COUNT];
	unsigned n8, n4, n1, nn;
} reset_plan;
static pthread_once_t reset_once = PTHREAD_ONCE_INIT;

static void build_reset_plan(void)
{
	for (unsigned i = 0; i < EVF_COUNT; i++) {
		const struct event_field_desc *d = &event_field_table[i];
		uint32_t off = (uint32_t)d->offset;

		if (d->type == EVT_STR)
			reset_plan.off1[reset_plan.n1++] = off;
		else if (d->type == EVT_LIST)
			reset_plan.off4[reset_plan.n4++] = off + (uint32_t)d->size;
		else if (d->type == EVT_DERIVED)
			continue;
		else if (d->size == 8)
			reset_plan.off8[reset_plan.n8++] = off;
		else if (d->size == 4)
			reset_plan.off4[reset_plan.n4++] = off;
		else if (d->size == 1)
			reset_plan.off1[reset_plan.n1++] = off;
		else {
			reset_plan.offn[reset_plan.nn] = off;
			reset_plan.lenn[reset_plan.nn++] = (uint32_t)d->size;
		}
	}
}

void event_reset(struct event *ev)
{
	/* Strings are tested by their first byte, so clearing those plus the scalars is enough;
	 * memset of the whole struct (~20 KiB) on every event would dominate the hot path. */
	char *base = (char *)ev;

	pthread_once(&reset_once, build_reset_plan);
	for (unsigned i = 0; i < reset_plan.n8; i++)
		memset(base + reset_plan.off8[i], 0, 8);
	for (unsigned i = 0; i < reset_plan.n4; i++)
		memset(base + reset_plan.off4[i], 0, 4);
	for (unsigned i = 0; i < reset_plan.n1; i++)
		base[reset_plan.off1[i]] = '\0';
	for (unsigned i = 0; i < reset_plan.nn; i++)
		memset(base + reset_plan.offn[i], 0, reset_plan.lenn[i]);
	memset(ev->present, 0, sizeof(ev->present));
}

void event_mark(struct event *ev, enum event_field f)
{
	ev->present[f / 8] |= (uint8_t)(1u << (f % 8));
}

bool event_has(const struct event *ev, enum event_field f)
{
	const struct event_field_desc *d = &event_field_table[f];

	return event_has_at(ev, f, d, (const char *)ev + d->offset);
}

const struct event_field_desc *event_field_find(const char *name, size_t len)
{
	for (unsigned i = 0; i < EVF_COUNT; i++) {
		const char *n = event_field_table[i].name;

		if (strncmp(n, name, len) == 0 && n[len] == '\0')
			return &event_field_table[i];
	}
	return NULL;
}

const char *event_action_name(enum event_action a)
{
	return (unsigned)a < EVENT_ACTION_COUNT ? action_names[a] : "";
}

enum event_action event_action_parse(const char *s, size_t len)
{
	for (unsigned i = 1; i < EVENT_ACTION_COUNT; i++) {
		if (strncmp(action_names[i], s, len) == 0 && action_names[i][len] == '\0')
			return (enum event_action)i;
	}
	return EVENT_ACTION_NONE;
}

const char *event_action_category(enum event_action a)
{
	switch (a) {
	case EVENT_ACTION_EXEC:
	case EVENT_ACTION_FORK:
	case EVENT_ACTION_END:
	case EVENT_ACTION_UID_CHANGE:
	case EVENT_ACTION_GID_CHANGE:
	case EVENT_ACTION_PTRACE:
	case EVENT_ACTION_MEMFD_CREATE:
	case EVENT_ACTION_BPF_LOAD:
		return "process";
	case EVENT_ACTION_LOAD_MODULE:
		return "driver";
	case EVENT_ACTION_CREATION:
	case EVENT_ACTION_MODIFICATION:
	case EVENT_ACTION_RENAME:
	case EVENT_ACTION_DELETION:
	case EVENT_ACTION_ATTRIBUTES_MODIFICATION:
		return "file";
	case EVENT_ACTION_CONNECTION_ATTEMPTED:
	case EVENT_ACTION_CONNECTION_ACCEPTED:
	case EVENT_ACTION_DISCONNECT_RECEIVED:
	case EVENT_ACTION_LISTEN:
	case EVENT_ACTION_DNS_QUERY:
		return "network";
	case EVENT_ACTION_AGENT_DROPS:
	default:
		return "host";
	}
}

bool event_copy_str(char *dst, size_t size, const char *src, size_t len)
{
	bool cut = false;

	if (size == 0)
		return len > 0;
	if (len >= size) {
		len = utf8_cut(src, size - 1);
		cut = true;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
	return cut;
}

bool event_list_add(char *list, size_t size, uint32_t *len, const char *s, size_t n)
{
	if ((size_t)*len + n + 1 > size)
		return false;
	memcpy(list + *len, s, n);
	list[*len + n] = '\0';
	*len += (uint32_t)n + 1;
	return true;
}

void event_build_command_line(struct event *ev)
{
	size_t out = 0, cap = sizeof(ev->process.command_line);
	uint32_t i = 0;

	while (i < ev->process.args_len) {
		const char *a = ev->process.args + i;
		size_t n = strnlen(a, ev->process.args_len - i);

		if (out && out + 1 < cap)
			ev->process.command_line[out++] = ' ';
		if (out + n >= cap)
			n = utf8_cut(a, cap - 1 - out);
		memcpy(ev->process.command_line + out, a, n);
		out += n;
		i += (uint32_t)strnlen(a, ev->process.args_len - i) + 1;
		if (out + 1 >= cap)
			break;
	}
	ev->process.command_line[out] = '\0';
}
