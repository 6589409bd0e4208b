#include "agent_detect.h"

#include <errno.h>
#include <pthread.h>
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
#include "file_read.h"
#include "ioc.h"
#include "log.h"

#include "banned.h"

struct agent_detect {
	pthread_mutex_t lock;
	struct detect_engine *engine;
	struct ioc_set *iocs;
	struct detect_ctx *ctx;
	struct detect_event_map *map;
	struct dynbuf json;
	struct agent_detect_stats st;
	/* during one event */
	const struct event *ev;
	json_t *evjson;
	agent_detect_emit_fn emit;
	void *emit_ctx;
	int n;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_diag(void *ctx, const struct detect_diag *d)
{
	(void)ctx;
	if (d->fatal)
		log_warn("detect", "rule not loaded path=%s line=%u rule=\"%s\" reason=\"%s\"",
			 d->path ? d->path : "?", d->line, d->rule ? d->rule : "", d->message);
}

static void on_ioc_diag(void *ctx, const struct detect_diag *d)
{
	(void)ctx;
	log_warn("detect", "indicator problem path=%s line=%u reason=\"%s\"", d->path ? d->path : "?",
		 d->line, d->message);
}

struct agent_detect *agent_detect_new(const struct agent_config_list *rules,
				      const struct agent_config_list *iocs, char *err,
				      size_t errlen)
{
	struct agent_detect *d = calloc(1, sizeof(*d));
	uint64_t h = DETECT_FILES_HASH_INIT;
	static const char *const sfx[] = {".yml", ".yaml", NULL};

	if (!d || !(d->engine = detect_engine_new()) || !(d->iocs = ioc_set_new())) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&d->lock, NULL);
	dynbuf_init(&d->json, EVENT_JSON_MAX_LINE);
	detect_engine_set_diag(d->engine, on_diag, NULL);
	for (size_t i = 0; i < rules->n; i++) {
		int rc = detect_files_load(d->engine, rules->items[i]);
		if (rc < 0) {
			snprintf(err, errlen, "detect.rules %s: %s", rules->items[i], strerror(-rc));
			goto fail;
		}
		detect_files_hash(rules->items[i], sfx, &h);
	}
	for (size_t i = 0; i < iocs->n; i++) {
		int rc = detect_files_load_iocs(d->iocs, iocs->items[i], on_ioc_diag, NULL);
		if (rc < 0) {
			snprintf(err, errlen, "detect.iocs %s: %s", iocs->items[i], strerror(-rc));
			goto fail;
		}
		detect_files_hash(iocs->items[i], NULL, &h);
	}
	if (detect_engine_finish(d->engine) < 0 || ioc_set_finish(d->iocs) < 0 ||
	    !(d->ctx = detect_ctx_new(d->engine)) ||
	    !(d->map = detect_event_map_new(detect_engine_fields(d->engine)))) {
		snprintf(err, errlen, "cannot build the rule set");
		goto fail;
	}
	struct detect_stats st;
	detect_engine_stats(d->engine, &st);
	d->st.rules = st.rules + st.correlations;
	d->st.failed = st.failed;
	d->st.iocs = (unsigned)ioc_set_count(d->iocs);
	snprintf(d->st.version, sizeof(d->st.version), "%016llx", (unsigned long long)h);
	log_info("detect", "local detection rules=%u failed=%u indicators=%u version=%s",
		 d->st.rules, d->st.failed, d->st.iocs, d->st.version);
	return d;
fail:
	agent_detect_free(d);
	return NULL;
}

void agent_detect_free(struct agent_detect *d)
{
	if (!d)
		return;
	detect_event_map_free(d->map);
	detect_ctx_free(d->ctx);
	ioc_set_unref(d->iocs);
	detect_engine_free(d->engine);
	dynbuf_release(&d->json);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static void raise_alert(struct agent_detect *d, const struct detect_hit *hit, json_t *indicator)
{
	if (!d->evjson) {
		dynbuf_reset(&d->json);
		if (event_json_encode(d->ev, &d->json) < 0)
			return;
		d->evjson = json_loadb(d->json.data, d->json.len, 0, NULL);
		if (!d->evjson)
			return;
	}
	json_t *a = detect_alert_new(hit, d->evjson, now_ns());
	if (!a)
		return;
	if (indicator) {
		json_t *mi = json_object_get(a, "mamori");
		if (mi)
			json_object_set(mi, "indicator", indicator);
	}
	json_t *m = json_object_get(a, "mamori");
	if (m)
		json_object_set_new(m, "detected_by", json_string("agent"));
	char *line = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (!line)
		return;
	d->emit(d->emit_ctx, line, strlen(line));
	free(line);
	d->n++;
}

static int on_hit(void *ctx, const struct detect_hit *hit)
{
	raise_alert(ctx, hit, NULL);
	return 0;
}

static int on_ioc(void *ctx, const struct ioc_hit *ih, struct detect_doc *doc)
{
	struct detect_hit hit = {.rule = ih->rule, .doc = doc};
	json_t *ind = detect_alert_indicator(ih);
	raise_alert(ctx, &hit, ind);
	json_decref(ind);
	return 0;
}

int agent_detect_event(struct agent_detect *d, const struct event *ev, agent_detect_emit_fn emit,
		       void *ctx)
{
	pthread_mutex_lock(&d->lock);
	struct detect_doc *doc = detect_ctx_doc(d->ctx);
	d->ev = ev;
	d->evjson = NULL;
	d->emit = emit;
	d->emit_ctx = ctx;
	d->n = 0;
	if (detect_doc_from_event(doc, d->map, ev) == 0) {
		detect_ctx_match(d->ctx, on_hit, d);
		if (d->st.iocs)
			ioc_set_match(d->iocs, doc, on_ioc, d);
	}
	json_decref(d->evjson);
	d->evjson = NULL;
	d->st.evaluated++;
	d->st.alerts += (uint64_t)d->n;
	int n = d->n;
	pthread_mutex_unlock(&d->lock);
	return n;
}

int agent_detect_reload(struct agent_detect *d, const struct agent_config_list *rules,
			const struct agent_config_list *iocs, char *err, size_t errlen)
{
	struct agent_detect *n = agent_detect_new(rules, iocs, err, errlen);
	if (!n)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	/* Swap the content; counters of the running instance carry on. */
	struct detect_engine *e = d->engine;
	struct ioc_set *i = d->iocs;
	struct detect_ctx *c = d->ctx;
	struct detect_event_map *m = d->map;
	d->engine = n->engine;
	d->iocs = n->iocs;
	d->ctx = n->ctx;
	d->map = n->map;
	d->st.rules = n->st.rules;
	d->st.failed = n->st.failed;
	d->st.iocs = n->st.iocs;
	memcpy(d->st.version, n->st.version, sizeof(d->st.version));
	n->engine = e;
	n->iocs = i;
	n->ctx = c;
	n->map = m;
	pthread_mutex_unlock(&d->lock);
	agent_detect_free(n);
	return 0;
}

void agent_detect_get_stats(struct agent_detect *d, struct agent_detect_stats *st)
{
	pthread_mutex_lock(&d->lock);
	*st = d->st;
	pthread_mutex_unlock(&d->lock);
}
