#include "alert_intake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "detect.h"
#include "detect_alert.h"
#include "event_json.h"

#include "banned.h"

void alert_intake_init(struct alert_intake *ai)
{
	memset(ai, 0, sizeof(*ai));
}

void alert_intake_reset(struct alert_intake *ai)
{
	for (size_t i = 0; i < ai->nstrings; i++)
		free(ai->strings[i]);
	ai->nstrings = 0;
	ai->n = 0;
}

void alert_intake_release(struct alert_intake *ai)
{
	alert_intake_reset(ai);
	free(ai->strings);
	free(ai->rows);
	memset(ai, 0, sizeof(*ai));
}

const char *alert_intake_keep(struct alert_intake *ai, char *s)
{
	if (!s)
		return NULL;
	if (ai->nstrings == ai->capstrings) {
		size_t nc = ai->capstrings ? ai->capstrings * 2 : 32;
		char **ns = realloc(ai->strings, nc * sizeof(*ns));
		if (!ns) {
			free(s);
			return NULL;
		}
		ai->strings = ns;
		ai->capstrings = nc;
	}
	ai->strings[ai->nstrings++] = s;
	return s;
}

struct store_alert_row *alert_intake_grow(struct alert_intake *ai)
{
	if (ai->n == ai->cap) {
		size_t nc = ai->cap ? ai->cap * 2 : 16;
		struct store_alert_row *nr = realloc(ai->rows, nc * sizeof(*nr));
		if (!nr)
			return NULL;
		ai->rows = nr;
		ai->cap = nc;
	}
	struct store_alert_row *r = &ai->rows[ai->n];
	memset(r, 0, sizeof(*r));
	return r;
}

int alert_intake_append(struct alert_intake *ai, const struct store_alert_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct store_alert_row *r = alert_intake_grow(ai);
		if (!r)
			return -ENOMEM;
		*r = rows[i];
		ai->n++;
	}
	return 0;
}

static uint64_t ingested_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static const char *str_at(json_t *doc, const char *path)
{
	return json_string_value(detect_json_path(doc, path));
}

/* Array of strings at path joined by ",", or "" (caller frees). */
static char *joined(json_t *doc, const char *path)
{
	json_t *arr = detect_json_path(doc, path);
	size_t len = 1, i;
	json_t *v;
	json_array_foreach(arr, i, v) len += json_is_string(v) ? json_string_length(v) + 1 : 0;
	char *s = malloc(len);
	if (!s)
		return NULL;
	size_t k = 0;
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v))
			continue;
		if (k)
			s[k++] = ',';
		memcpy(s + k, json_string_value(v), json_string_length(v));
		k += json_string_length(v);
	}
	s[k] = 0;
	return s;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int alert_intake_add(struct alert_intake *ai, const char *agent_id,
		     const struct store_event_row *row, char *err, size_t errlen)
{
	json_error_t je;
	json_t *doc = json_loadb(row->doc, row->doc_len, 0, &je);
	int rc = -EINVAL;

	if (!json_is_object(doc)) {
		snprintf(err, errlen, "alert: not a JSON object");
		goto out;
	}
	const char *id = str_at(doc, "event.id"), *rule = str_at(doc, "rule.id"),
		   *sev = str_at(doc, "rule.severity"), *created = str_at(doc, "event.created");
	size_t idlen = id ? strlen(id) : 0;
	bool hex = idlen == 32;
	for (size_t i = 0; hex && i < idlen; i++)
		hex = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
	int severity = sev ? detect_severity_parse(sev) : -1;
	json_t *risk = detect_json_path(doc, "risk_score");
	uint64_t created_ns = 0; /* checked for shape; the row is listed by arrival */
	if (!hex || !rule || !*rule || severity < 0 || !json_is_integer(risk) ||
	    json_integer_value(risk) < 0 || json_integer_value(risk) > 100 || !created ||
	    json_parse_time(created, strlen(created), &created_ns) < 0) {
		snprintf(err, errlen,
			 "alert: needs event.id (32 hex), rule.id, rule.severity, risk_score 0-100 "
			 "and event.created");
		goto out;
	}
	char ts[40];
	json_format_time(ingested_ns(), ts, sizeof(ts));
	json_object_set_new(json_object_get(doc, "event"), "ingested", json_string(ts));
	/* The sending agent is known from its certificate: it cannot speak for another. */
	json_object_set_new(doc, "agent", json_pack("{s:s}", "id", agent_id));
	json_t *m = json_object_get(doc, "mamori");
	if (json_is_object(m) && !json_object_get(m, "detected_by"))
		json_object_set_new(m, "detected_by", json_string("agent"));
	struct store_alert_row *r = alert_intake_grow(ai);
	if (!r) {
		rc = -ENOMEM;
		goto out;
	}
	r->id = alert_intake_keep(ai, strdup(id));
	r->ts = row->ts;
	/* Listed by when the server got it: an alert raised offline yesterday is news today. */
	r->created = (int64_t)ingested_ns();
	r->agent_id = agent_id;
	r->host = row->host;
	r->rule_id = alert_intake_keep(ai, strdup(rule));
	r->rule_name = alert_intake_keep(ai, dup_or_null(str_at(doc, "rule.name")));
	r->severity = severity;
	r->risk_score = (int)json_integer_value(risk);
	r->tactics = alert_intake_keep(ai, joined(doc, "threat.tactic.name"));
	r->techniques = alert_intake_keep(ai, joined(doc, "threat.technique.id"));
	r->entity_id = row->entity_id;
	r->exe = row->exe;
	const char *text = alert_intake_keep(ai, json_dumps(doc, JSON_COMPACT));
	if (!r->id || !r->rule_id || !r->tactics || !r->techniques || !text) {
		rc = -ENOMEM;
		goto out;
	}
	r->doc = text;
	r->doc_len = strlen(text);
	ai->n++;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}
