#include "agent_prevent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_config.h"
#include "detect.h"
#include "detect_alert.h"
#include "detect_doc_event.h"
#include "detect_files.h"
#include "dynbuf.h"
#include "event_json.h"
#include "log.h"

#include "banned.h"

struct agent_prevent {
	struct detect_engine *engine;
	struct detect_ctx *ctx;
	struct detect_event_map *map;
	json_t *ids; /* the prevent rule ids that were found */
	struct dynbuf json;
	/* during one check */
	const struct event *ev;
	json_t *alert;
};

static void on_diag(void *ctx, const struct detect_diag *d)
{
	(void)ctx;
	if (d->fatal)
		log_warn("prevent", "rule not loaded path=%s rule=\"%s\" reason=\"%s\"",
			 d->path ? d->path : "?", d->rule ? d->rule : "", d->message);
}

static bool has_id(json_t *ids, const char *id)
{
	json_t *v;
	size_t i;

	json_array_foreach(ids, i, v) if (id && json_is_string(v) &&
					  !strcmp(json_string_value(v), id)) return true;
	return false;
}

struct agent_prevent *agent_prevent_new(const struct agent_config_list *rules, json_t *ids,
					json_t **missing, char *err, size_t errlen)
{
	struct agent_prevent *p = calloc(1, sizeof(*p));
	json_t *v;
	size_t i, n;

	if (missing)
		*missing = NULL;
	if (!p || !(p->engine = detect_engine_new()) || !(p->ids = json_array())) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	dynbuf_init(&p->json, EVENT_JSON_MAX_LINE);
	detect_engine_set_diag(p->engine, on_diag, NULL);
	detect_engine_set_behaviour(p->engine, false);
	for (i = 0; i < rules->n; i++)
		if (detect_files_load(p->engine, rules->items[i]) < 0)
			log_warn("prevent", "rules %s not readable", rules->items[i]);
	if (detect_engine_finish(p->engine) < 0 || !(p->ctx = detect_ctx_new(p->engine)) ||
	    !(p->map = detect_event_map_new(detect_engine_fields(p->engine)))) {
		snprintf(err, errlen, "cannot build the rule set");
		goto fail;
	}
	n = detect_engine_rule_count(p->engine);
	for (i = 0; i < n; i++) {
		const struct detect_rule_meta *m = detect_engine_rule(p->engine, i);

		if (m && has_id(ids, m->id) && !has_id(p->ids, m->id))
			json_array_append_new(p->ids, json_string(m->id));
	}
	if (missing) {
		*missing = json_array();
		json_array_foreach(ids, i, v) if (!has_id(p->ids, json_string_value(v)))
		    json_array_append(*missing, v);
	}
	if (!json_array_size(p->ids)) {
		snprintf(err, errlen, "none of the prevent rules is among the agent's rules");
		goto fail;
	}
	return p;
fail:
	agent_prevent_free(p);
	return NULL;
}

void agent_prevent_free(struct agent_prevent *p)
{
	if (!p)
		return;
	detect_event_map_free(p->map);
	detect_ctx_free(p->ctx);
	detect_engine_free(p->engine);
	json_decref(p->ids);
	dynbuf_release(&p->json);
	free(p);
}

static int on_hit(void *ctx, const struct detect_hit *hit)
{
	struct agent_prevent *p = ctx;
	struct timespec ts;
	json_t *evjson, *m;

	if (!has_id(p->ids, hit->rule->id))
		return 0;
	dynbuf_reset(&p->json);
	if (event_json_encode(p->ev, &p->json) < 0)
		return 0;
	evjson = json_loadb(p->json.data, p->json.len, 0, NULL);
	clock_gettime(CLOCK_REALTIME, &ts);
	p->alert = detect_alert_new(hit, evjson,
				    (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	json_decref(evjson);
	m = json_object_get(p->alert, "mamori");
	if (m) {
		json_object_set_new(m, "detected_by", json_string("agent"));
		json_object_set_new(
		    m, "prevention",
		    json_pack("{s:s,s:s}", "action", "killed", "how", "prevent rule"));
	}
	return p->alert ? 1 : 0; /* the first prevent rule that matches is enough */
}

int agent_prevent_check(struct agent_prevent *p, const struct event *ev, json_t **alert)
{
	struct detect_doc *doc = detect_ctx_doc(p->ctx);

	*alert = NULL;
	p->ev = ev;
	p->alert = NULL;
	if (detect_doc_from_event(doc, p->map, ev) == 0)
		detect_ctx_match(p->ctx, on_hit, p);
	*alert = p->alert;
	p->alert = NULL;
	return *alert ? 1 : 0;
}
