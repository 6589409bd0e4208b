#include "detection.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert_intake.h"
#include "detect.h"
#include "detect_alert.h"
#include "detect_doc_json.h"
#include "detect_fields.h"
#include "detect_files.h"
#include "dynbuf.h"
#include "file_read.h"
#include "ioc.h"
#include "log.h"
#include "prevalence.h"

#include "banned.h"

#define MAX_ALERTS_PER_BATCH 10000

struct ruleset {
	atomic_int refs;
	struct detect_engine *engine;
	struct ioc_set *iocs;
	unsigned generation;
	struct detect_stats st;
	size_t niocs;
	char version[17];
};

struct detection {
	const char *const *rule_paths;
	size_t nrule_paths;
	const char *const *ioc_paths;
	size_t nioc_paths;
	pthread_mutex_t lock;
	struct ruleset *cur;
	unsigned generation;
	uint64_t loaded_ns;
	atomic_uint_fast64_t evaluated, alerts, ioc_hits, bad_events, reloads, reload_failures;
	struct prevalence *prev;
};

struct pending {
	json_t *alert;
	int64_t ts;
};

struct detection_worker {
	struct detection *d;
	struct ruleset *rs;
	struct detect_ctx *ctx;
	struct alert_intake out; /* this batch's alerts and the strings they own */
	/* during one event */
	const char *agent_id;
	const struct store_event_row *row;
	json_t *event;
	int err;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void ruleset_unref(struct ruleset *rs)
{
	if (rs && atomic_fetch_sub(&rs->refs, 1) == 1) {
		detect_engine_free(rs->engine);
		ioc_set_unref(rs->iocs);
		free(rs);
	}
}

struct load_diag {
	unsigned fatal;
	char first[512];
};

static void on_diag(void *ctx, const struct detect_diag *d)
{
	struct load_diag *l = ctx;
	if (!d->fatal)
		return;
	if (!l->fatal++)
		snprintf(l->first, sizeof(l->first), "%s:%u: %s%s%s", d->path ? d->path : "?",
			 d->line, d->rule ? d->rule : "", d->rule ? ": " : "", d->message);
	log_warn("detect", "rule not loaded path=%s line=%u rule=\"%s\" reason=\"%s\"",
		 d->path ? d->path : "?", d->line, d->rule ? d->rule : "", d->message);
}

static void on_ioc_diag(void *ctx, const struct detect_diag *d)
{
	(void)ctx;
	log_warn("detect", "indicator problem path=%s line=%u reason=\"%s\"", d->path ? d->path : "?",
		 d->line, d->message);
}

static struct ruleset *ruleset_build(struct detection *d, char *err, size_t errlen)
{
	struct ruleset *rs = calloc(1, sizeof(*rs));
	struct load_diag diag = {0};
	uint64_t h = DETECT_FILES_HASH_INIT;
	if (!rs || !(rs->engine = detect_engine_new()) || !(rs->iocs = ioc_set_new())) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	atomic_init(&rs->refs, 1);
	detect_engine_set_diag(rs->engine, on_diag, &diag);
	for (size_t i = 0; i < d->nrule_paths; i++) {
		int rc = detect_files_load(rs->engine, d->rule_paths[i]);
		if (rc < 0) {
			snprintf(err, errlen, "rules %s: %s", d->rule_paths[i], strerror(-rc));
			goto fail;
		}
		static const char *const sfx[] = {".yml", ".yaml", NULL};
		detect_files_hash(d->rule_paths[i], sfx, &h);
	}
	for (size_t i = 0; i < d->nioc_paths; i++) {
		int rc = detect_files_load_iocs(rs->iocs, d->ioc_paths[i], on_ioc_diag, NULL);
		if (rc < 0) {
			snprintf(err, errlen, "indicators %s: %s", d->ioc_paths[i], strerror(-rc));
			goto fail;
		}
		detect_files_hash(d->ioc_paths[i], NULL, &h);
	}
	int rc = detect_engine_finish(rs->engine);
	if (rc == 0)
		rc = ioc_set_finish(rs->iocs);
	if (rc < 0) {
		snprintf(err, errlen, "cannot build the rule set: %s", strerror(-rc));
		goto fail;
	}
	detect_engine_stats(rs->engine, &rs->st);
	rs->niocs = ioc_set_count(rs->iocs);
	snprintf(rs->version, sizeof(rs->version), "%016llx", (unsigned long long)h);
	if (diag.fatal)
		log_warn("detect", "rules not loaded count=%u first=\"%s\"", diag.fatal, diag.first);
	log_info("detect", "content loaded version=%s rules=%u correlations=%u filters=%u "
			   "failed=%u indicators=%zu atoms=%u",
		 rs->version, rs->st.rules, rs->st.correlations, rs->st.filters, rs->st.failed,
		 rs->niocs, rs->st.atoms);
	return rs;
fail:
	if (rs) {
		detect_engine_free(rs->engine);
		ioc_set_unref(rs->iocs);
		free(rs);
	}
	return NULL;
}

struct detection *detection_new(const char *const *rule_paths, size_t nrule_paths,
				const char *const *ioc_paths, size_t nioc_paths, char *err,
				size_t errlen)
{
	struct detection *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->rule_paths = rule_paths;
	d->nrule_paths = nrule_paths;
	d->ioc_paths = ioc_paths;
	d->nioc_paths = nioc_paths;
	pthread_mutex_init(&d->lock, NULL);
	d->cur = ruleset_build(d, err, errlen);
	if (!d->cur) {
		pthread_mutex_destroy(&d->lock);
		free(d);
		return NULL;
	}
	d->cur->generation = ++d->generation;
	d->loaded_ns = now_ns();
	return d;
}

void detection_set_prevalence(struct detection *d, struct prevalence *p)
{
	d->prev = p;
}

void detection_worker_after_commit(struct detection_worker *w, struct store *st)
{
	if (w->d->prev && prevalence_flush(w->d->prev, st) < 0)
		log_warn("prevalence", "new keys not recorded: %s", store_error(st));
}

void detection_free(struct detection *d)
{
	if (!d)
		return;
	ruleset_unref(d->cur);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

int detection_reload(struct detection *d, char *err, size_t errlen)
{
	struct ruleset *rs = ruleset_build(d, err, errlen);
	if (!rs) {
		atomic_fetch_add(&d->reload_failures, 1);
		log_warn("detect", "reload failed, keeping the current rules: %s", err);
		return -EINVAL;
	}
	pthread_mutex_lock(&d->lock);
	struct ruleset *old = d->cur;
	rs->generation = ++d->generation;
	d->cur = rs;
	d->loaded_ns = now_ns();
	pthread_mutex_unlock(&d->lock);
	ruleset_unref(old);
	atomic_fetch_add(&d->reloads, 1);
	return 0;
}

static struct ruleset *acquire(struct detection *d)
{
	pthread_mutex_lock(&d->lock);
	struct ruleset *rs = d->cur;
	atomic_fetch_add(&rs->refs, 1);
	pthread_mutex_unlock(&d->lock);
	return rs;
}

void detection_get_stats(struct detection *d, struct detection_stats *st)
{
	memset(st, 0, sizeof(*st));
	struct ruleset *rs = acquire(d);
	st->rules = rs->st.rules;
	st->correlations = rs->st.correlations;
	st->filters = rs->st.filters;
	st->failed = rs->st.failed;
	st->iocs = (unsigned)rs->niocs;
	memcpy(st->version, rs->version, sizeof(st->version));
	ruleset_unref(rs);
	st->evaluated = atomic_load(&d->evaluated);
	st->alerts = atomic_load(&d->alerts);
	st->ioc_hits = atomic_load(&d->ioc_hits);
	st->bad_events = atomic_load(&d->bad_events);
	st->reloads = atomic_load(&d->reloads);
	st->reload_failures = atomic_load(&d->reload_failures);
	st->loaded_ns = d->loaded_ns;
}

json_t *detection_rules_json(struct detection *d)
{
	struct ruleset *rs = acquire(d);
	json_t *arr = json_array();
	for (size_t i = 0; i < detect_engine_rule_count(rs->engine); i++) {
		const struct detect_rule_meta *m = detect_engine_rule(rs->engine, i);
		json_t *tec = json_array();
		for (unsigned k = 0; k < m->ntechniques; k++)
			json_array_append_new(tec, json_string(m->techniques[k]));
		json_array_append_new(
		    arr, json_pack("{s:s,s:s,s:s,s:s,s:i,s:o,s:s,s:b}", "id", m->id, "name",
				   m->title, "severity", detect_severity_name(m->severity), "kind",
				   m->kind, "risk_score", m->risk_score, "techniques", tec, "path",
				   m->path ? m->path : "", "generates", m->generate));
	}
	json_t *o = json_pack("{s:s,s:i,s:i,s:i,s:i,s:o}", "version", rs->version, "rules",
			      (int)rs->st.rules, "correlations", (int)rs->st.correlations,
			      "failed", (int)rs->st.failed, "indicators", (int)rs->niocs, "list",
			      arr);
	ruleset_unref(rs);
	return o;
}

struct detection_worker *detection_worker_new(struct detection *d)
{
	struct detection_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->d = d;
	alert_intake_init(&w->out);
	return w;
}

void detection_worker_free(struct detection_worker *w)
{
	if (!w)
		return;
	alert_intake_release(&w->out);
	detect_ctx_free(w->ctx);
	ruleset_unref(w->rs);
	free(w);
}

static char *join(const char *const *v, unsigned n)
{
	size_t len = 1;
	for (unsigned i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	char *s = malloc(len);
	if (!s)
		return NULL;
	size_t k = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t l = strlen(v[i]);
		if (i)
			s[k++] = ',';
		memcpy(s + k, v[i], l);
		k += l;
	}
	s[k] = 0;
	return s;
}

static char *dup_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int add_alert(struct detection_worker *w, const struct detect_hit *hit, json_t *extra)
{
	if (w->out.n >= MAX_ALERTS_PER_BATCH)
		return 0;
	if (!w->event) {
		json_error_t je;
		w->event = json_loadb(w->row->doc, w->row->doc_len, 0, &je);
		if (!w->event)
			return 0;
	}
	/* The event as the agent sent it: the agent computes the same alert id. */
	json_t *a = detect_alert_new(hit, w->event, now_ns());
	if (!a)
		return -ENOMEM;
	json_object_set_new(a, "agent", json_pack("{s:s}", "id", w->agent_id));
	json_t *mm = json_object_get(a, "mamori");
	if (mm)
		json_object_set_new(mm, "detected_by", json_string("server"));
	if (extra) {
		json_t *m = json_object_get(a, "mamori");
		if (m)
			json_object_set(m, "indicator", extra);
	}
	struct store_alert_row *row = alert_intake_grow(&w->out);
	if (!row) {
		json_decref(a);
		return -ENOMEM;
	}
	const struct detect_rule_meta *r = hit->rule;
	row->id = alert_intake_keep(&w->out,
				    dup_str(json_string_value(detect_json_path(a, "event.id"))));
	row->ts = w->row->ts;
	row->created = (int64_t)now_ns();
	row->agent_id = w->agent_id;
	row->host = w->row->host;
	row->rule_id = r->id;
	row->rule_name = r->title;
	row->severity = (int)r->severity;
	row->risk_score = r->risk_score;
	row->tactics = alert_intake_keep(&w->out, join(r->tactics, r->ntactics));
	row->techniques = alert_intake_keep(&w->out, join(r->techniques, r->ntechniques));
	row->entity_id = w->row->entity_id;
	row->exe = w->row->exe;
	const char *doc = alert_intake_keep(&w->out, json_dumps(a, JSON_COMPACT));
	json_decref(a);
	if (!row->id || !doc || !row->tactics || !row->techniques)
		return -ENOMEM;
	row->doc = doc;
	row->doc_len = strlen(doc);
	w->out.n++;
	atomic_fetch_add(&w->d->alerts, 1);
	return 0;
}

static int on_hit(void *ctx, const struct detect_hit *hit)
{
	struct detection_worker *w = ctx;
	int rc = add_alert(w, hit, NULL);
	if (rc)
		w->err = rc;
	return 0;
}

static int on_ioc(void *ctx, const struct ioc_hit *ih, struct detect_doc *doc)
{
	struct detection_worker *w = ctx;
	struct detect_hit hit = {.rule = ih->rule, .doc = doc};
	json_t *ind = detect_alert_indicator(ih);
	atomic_fetch_add(&w->d->ioc_hits, 1);
	int rc = add_alert(w, &hit, ind);
	json_decref(ind);
	if (rc)
		w->err = rc;
	return 0;
}

static const char *base_name(const char *path, size_t *len)
{
	const char *s = strrchr(path, '/');
	s = s ? s + 1 : path;
	*len = strlen(s);
	return s;
}

/* First time in the fleet: this binary, this parent -> child pair. */
static void prevalence_eval(struct detection_worker *w, struct detect_doc *doc)
{
	const struct store_event_row *row = w->row;
	struct prevalence *p = w->d->prev;
	if (!row->action || strcmp(row->action, "exec"))
		return;
	const char *bin = row->hash ? row->hash : row->exe;
	if (bin && prevalence_check(p, PREVALENCE_BINARY, bin, strlen(bin), (uint64_t)row->ts)) {
		struct detect_hit h = {.rule = prevalence_rule(PREVALENCE_BINARY), .doc = doc};
		on_hit(w, &h);
	}
	const char *child = row->name;
	size_t cl = child ? strlen(child) : 0;
	if (!child && row->exe)
		child = base_name(row->exe, &cl);
	const struct detect_fields *f = doc->fields;
	const struct detect_value *pn =
	    detect_doc_first(doc, detect_fields_find(f, "process.parent.name", 19));
	const struct detect_value *pe =
	    pn ? NULL : detect_doc_first(doc, detect_fields_find(f, "process.parent.executable", 25));
	if (!child || (!pn && !pe))
		return;
	char key[512];
	const char *ps = pn ? pn->str : pe->str;
	size_t pl = pn ? pn->len : pe->len;
	if (!pn) {
		for (size_t i = pl; i > 0; i--)
			if (ps[i - 1] == '/') {
				ps += i;
				pl -= i;
				break;
			}
	}
	int n = snprintf(key, sizeof(key), "%.*s->%.*s", (int)(pl > 200 ? 200 : pl), ps,
			 (int)(cl > 200 ? 200 : cl), child);
	if (n > 0 && prevalence_check(p, PREVALENCE_PAIR, key, (size_t)n, (uint64_t)row->ts)) {
		struct detect_hit h = {.rule = prevalence_rule(PREVALENCE_PAIR), .doc = doc,
				       .group = key};
		on_hit(w, &h);
	}
}

int detection_worker_eval(struct detection_worker *w, const char *agent_id,
			  const struct store_event_row *rows, size_t n,
			  const struct store_alert_row **alerts, size_t *nalerts)
{
	alert_intake_reset(&w->out);
	*alerts = NULL;
	*nalerts = 0;
	struct ruleset *rs = acquire(w->d);
	if (rs != w->rs) {
		struct detect_ctx *ctx = detect_ctx_new(rs->engine);
		if (!ctx) {
			ruleset_unref(rs);
			return -ENOMEM;
		}
		detect_ctx_free(w->ctx);
		ruleset_unref(w->rs);
		w->ctx = ctx;
		w->rs = rs;
	} else {
		ruleset_unref(rs);
	}
	w->agent_id = agent_id;
	w->err = 0;
	struct detect_doc *doc = detect_ctx_doc(w->ctx);
	for (size_t i = 0; i < n; i++) {
		char err[128];
		if (detect_doc_from_json(doc, rows[i].doc, rows[i].doc_len, err, sizeof(err)) < 0) {
			atomic_fetch_add(&w->d->bad_events, 1);
			continue;
		}
		w->row = &rows[i];
		w->event = NULL;
		detect_ctx_match(w->ctx, on_hit, w);
		if (w->rs->niocs)
			ioc_set_match(w->rs->iocs, doc, on_ioc, w);
		if (w->d->prev)
			prevalence_eval(w, doc);
		json_decref(w->event);
		w->event = NULL;
		if (w->err)
			break;
	}
	atomic_fetch_add(&w->d->evaluated, n);
	*alerts = w->out.rows;
	*nalerts = w->out.n;
	return w->err;
}
