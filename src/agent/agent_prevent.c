#include "agent_prevent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <yaml.h>

#include "agent_config.h"
#include "detect.h"
#include "detect_alert.h"
#include "detect_doc_event.h"
#include "detect_files.h"
#include "dynbuf.h"
#include "event_json.h"
#include "file_read.h"
#include "log.h"

#include "banned.h"

struct agent_prevent {
	struct detect_engine *engine;
	struct detect_ctx *ctx;
	struct detect_event_map *map;
	json_t *ids; /* the prevent rule ids that were found */
	/* Image names the rules are limited to; all_images when one of them is not. */
	char **names;
	size_t nnames;
	bool all_images;
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

#define MAX_NAMES 1000

static bool has_id(json_t *ids, const char *id);

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
	yaml_node_pair_t *pr;

	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(d, pr->key);

		if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
			return yaml_document_get_node(d, pr->value);
	}
	return NULL;
}

static void add_name(struct agent_prevent *p, const char *n)
{
	for (size_t i = 0; i < p->nnames; i++)
		if (!strcasecmp(p->names[i], n))
			return;
	if (p->nnames >= MAX_NAMES) {
		p->all_images = true;
		return;
	}
	char **grown = realloc(p->names, (p->nnames + 1) * sizeof(*grown));

	if (!grown || !(grown[p->nnames] = strdup(n))) {
		p->all_images = true;
		if (grown)
			p->names = grown;
		return;
	}
	p->names = grown;
	p->nnames++;
}

/* The file name an Image value pins down: "/usr/bin/nc" (equals) or "/nc" (endswith); NULL when
 * it does not (a suffix without a slash, a wildcard). */
static const char *image_name(const char *v, bool endswith)
{
	const char *slash = strrchr(v, '/');

	if (!slash || !slash[1] || strpbrk(v, "*?") || (!endswith && v[0] != '/'))
		return NULL;
	return slash + 1;
}

/* A selection limits the images when it has an Image key (no modifier, or endswith) whose
 * every value names a file; its names are added. A list of maps is an OR: each must. */
static bool selection_names(struct agent_prevent *p, yaml_document_t *d, yaml_node_t *sel)
{
	yaml_node_pair_t *pr;
	yaml_node_item_t *it;

	if (sel && sel->type == YAML_SEQUENCE_NODE) {
		bool all = sel->data.sequence.items.start < sel->data.sequence.items.top;

		for (it = sel->data.sequence.items.start; all && it < sel->data.sequence.items.top;
		     it++)
			all = selection_names(p, d, yaml_document_get_node(d, *it));
		return all;
	}
	if (!sel || sel->type != YAML_MAPPING_NODE)
		return false;
	for (pr = sel->data.mapping.pairs.start; pr < sel->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(d, pr->key), *v;
		const char *key = k && k->type == YAML_SCALAR_NODE ? (char *)k->data.scalar.value : "";
		bool endswith;

		if (!strcmp(key, "Image"))
			endswith = false;
		else if (!strcmp(key, "Image|endswith"))
			endswith = true;
		else
			continue;
		v = yaml_document_get_node(d, pr->value);
		if (v && v->type == YAML_SCALAR_NODE) {
			const char *n = image_name((char *)v->data.scalar.value, endswith);

			if (!n)
				continue;
			add_name(p, n);
			return true;
		}
		if (v && v->type == YAML_SEQUENCE_NODE) {
			bool all = v->data.sequence.items.start < v->data.sequence.items.top;

			for (it = v->data.sequence.items.start; all && it < v->data.sequence.items.top;
			     it++) {
				yaml_node_t *x = yaml_document_get_node(d, *it);

				all = x && x->type == YAML_SCALAR_NODE &&
				      image_name((char *)x->data.scalar.value, endswith);
			}
			if (!all)
				continue;
			for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
				add_name(p, image_name((char *)yaml_document_get_node(d, *it)
							   ->data.scalar.value,
						       endswith));
			return true;
		}
	}
	return false;
}

/* One rule: limited to named images when every selection is (a condition can only be true
 * through some selection; negated ones are only reached through others, and counting them is
 * merely cautious). */
static void rule_names(struct agent_prevent *p, yaml_document_t *d, yaml_node_t *root)
{
	yaml_node_t *det = map_get(d, root, "detection");
	yaml_node_pair_t *pr;
	bool any = false;

	if (!det || det->type != YAML_MAPPING_NODE) {
		p->all_images = true;
		return;
	}
	for (pr = det->data.mapping.pairs.start; pr < det->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(d, pr->key);

		if (!k || k->type != YAML_SCALAR_NODE ||
		    !strcmp((char *)k->data.scalar.value, "condition") ||
		    !strcmp((char *)k->data.scalar.value, "timeframe"))
			continue;
		any = true;
		if (!selection_names(p, d, yaml_document_get_node(d, pr->value))) {
			p->all_images = true;
			return;
		}
	}
	if (!any)
		p->all_images = true;
}

static int scan_file(void *ctx, const char *path)
{
	struct agent_prevent *p = ctx;
	struct dynbuf text;
	yaml_parser_t parser;

	dynbuf_init(&text, 4 << 20);
	if (file_read(path, 4 << 20, &text) || !text.data) {
		dynbuf_release(&text);
		return 0;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text.data, text.len);
	for (;;) {
		yaml_document_t doc;
		yaml_node_t *root, *id;

		if (!yaml_parser_load(&parser, &doc))
			break;
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		id = map_get(&doc, root, "id");
		if (id && id->type == YAML_SCALAR_NODE &&
		    has_id(p->ids, (char *)id->data.scalar.value))
			rule_names(p, &doc, root);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	dynbuf_release(&text);
	return 0;
}

void agent_prevent_names(const struct agent_prevent *p, const char *const **names, size_t *n)
{
	*names = p->all_images ? NULL : (const char *const *)p->names;
	*n = p->all_images ? 0 : p->nnames;
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
	/* Which images the rules can match at all, from their own text. */
	{
		static const char *const sfx[] = {".yml", ".yaml", NULL};

		for (i = 0; i < rules->n; i++)
			if (file_list(rules->items[i], sfx, 100000, scan_file, p) < 0)
				p->all_images = true;
		if (!p->nnames)
			p->all_images = true;
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
	for (size_t i = 0; i < p->nnames; i++)
		free(p->names[i]);
	free(p->names);
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
