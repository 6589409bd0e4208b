/* The inventory source: emits the host inventory document on the first tick and then every
 * inventory_interval_s seconds (0: only at start). It has no fd; all work happens in tick. */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "event_json.h"
#include "inventory.h"
#include "log.h"

#include "banned.h"

#define SRC_INV_LOG "inventory"
#define SRC_INV_MAX_SOURCES 32

struct src_inventory {
	uint64_t next_ns;
	bool started;
	bool done;
};

static int inv_open(struct source *src, unsigned want, char *why, size_t whylen)
{
	struct src_inventory *st;

	(void)want;
	st = calloc(1, sizeof(*st));
	if (!st) {
		(void)snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	src->priv = st;
	return 0;
}

static unsigned inv_cover(struct source *src)
{
	(void)src;
	return SOURCE_COVER_INVENTORY;
}

static int inv_fd(struct source *src)
{
	(void)src;
	return -1;
}

static int inv_poll(struct source *src)
{
	(void)src;
	return 0;
}

static void inv_emit(struct agent *ag)
{
	const char *names[SRC_INV_MAX_SOURCES];
	struct inventory_opts o = {.root = "", .host_name = ag->host_name, .sources = names};
	json_t *doc;
	char *s;

	o.nsources = agent_source_names(ag, names, SRC_INV_MAX_SOURCES);
	if (o.nsources > SRC_INV_MAX_SOURCES)
		o.nsources = SRC_INV_MAX_SOURCES;
	doc = inventory_collect(&o);
	if (!doc) {
		log_warn(SRC_INV_LOG, "inventory not collected err=%s", strerror(errno));
		return;
	}
	/* Readers of the NDJSON stream cap a line at EVENT_JSON_MAX_LINE. */
	s = inventory_dump(doc, EVENT_JSON_MAX_LINE);
	json_decref(doc);
	if (!s) {
		log_warn(SRC_INV_LOG, "inventory not sent, too long or out of memory max=%zu",
			 EVENT_JSON_MAX_LINE);
		return;
	}
	agent_emit_json(ag, s, strlen(s));
	free(s);
}

static void inv_tick(struct source *src, uint64_t now_ns)
{
	struct src_inventory *st = src->priv;
	uint32_t interval;

	if (!st || st->done || (st->started && now_ns < st->next_ns))
		return;
	inv_emit(src->agent);
	st->started = true;
	interval = src->agent->config ? src->agent->config->inventory_interval_s : 0;
	if (interval == 0)
		st->done = true;
	else
		st->next_ns = now_ns + (uint64_t)interval * 1000000000ull;
}

static void inv_close(struct source *src)
{
	free(src->priv);
	src->priv = NULL;
}

const struct source_ops source_inventory_ops = {
    .name = "inventory",
    .open = inv_open,
    .cover = inv_cover,
    .fd = inv_fd,
    .poll = inv_poll,
    .tick = inv_tick,
    .close = inv_close,
};
