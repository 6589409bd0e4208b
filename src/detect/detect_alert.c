#include "detect_alert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_json.h"
#include "ioc.h"

json_t *detect_json_path(json_t *obj, const char *path)
{
	if (!json_is_object(obj))
		return NULL;
	json_t *v = json_object_get(obj, path); /* flat "a.b.c" keys */
	if (v)
		return v;
	const char *dot = strchr(path, '.');
	while (dot) {
		char head[256];
		size_t n = (size_t)(dot - path);
		if (n >= sizeof(head))
			return NULL;
		memcpy(head, path, n);
		head[n] = 0;
		json_t *sub = json_object_get(obj, head);
		if (json_is_object(sub)) {
			v = detect_json_path(sub, dot + 1);
			if (v)
				return v;
		}
		dot = strchr(dot + 1, '.');
	}
	return NULL;
}

static int set_path(json_t *root, const char *path, json_t *val)
{
	if (!val)
		return -1;
	json_t *obj = root;
	const char *p = path, *dot;
	while ((dot = strchr(p, '.'))) {
		char head[128];
		size_t n = (size_t)(dot - p);
		if (n >= sizeof(head)) {
			json_decref(val);
			return -1;
		}
		memcpy(head, p, n);
		head[n] = 0;
		json_t *sub = json_object_get(obj, head);
		if (!json_is_object(sub)) {
			sub = json_object();
			if (!sub || json_object_set_new(obj, head, sub) < 0) {
				json_decref(val);
				return -1;
			}
		}
		obj = sub;
		p = dot + 1;
	}
	return json_object_set_new(obj, p, val);
}

int detect_alert_set(json_t *alert, const char *path, json_t *val)
{
	return set_path(alert, path, val) < 0 ? -1 : 0;
}

static void copy_field(json_t *alert, json_t *event, const char *path)
{
	json_t *v = detect_json_path(event, path);
	if (v && !json_is_null(v))
		set_path(alert, path, json_deep_copy(v));
}

/* 128-bit FNV-1a as hex: stable across processes and machines, no crypto needed. */
static void alert_id(const char *rule, const char *event_text, char out[33])
{
	uint64_t a = 1469598103934665603ull, b = 0x6c62272e07bb0142ull;
	const char *parts[2] = {rule, event_text ? event_text : ""};
	for (int k = 0; k < 2; k++)
		for (const unsigned char *p = (const unsigned char *)parts[k]; *p; p++) {
			a = (a ^ *p) * 1099511628211ull;
			b = (b ^ *p) * 0x100000001b3ull + (a >> 29);
		}
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

json_t *detect_alert_new(const struct detect_hit *hit, json_t *event, uint64_t created_ns)
{
	const struct detect_rule_meta *r = hit->rule;
	json_t *a = json_object();
	if (!a)
		return NULL;
	char ts[40];
	json_t *evts = detect_json_path(event, "@timestamp");
	if (json_is_string(evts)) {
		set_path(a, "@timestamp", json_string(json_string_value(evts)));
	} else {
		json_format_time(hit->doc && hit->doc->time_ns ? hit->doc->time_ns : created_ns, ts,
				 sizeof(ts));
		set_path(a, "@timestamp", json_string(ts));
	}
	char *text = event ? json_dumps(event, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char key[1100];
	snprintf(key, sizeof(key), "%s|%s", r->id, hit->group ? hit->group : "");
	char id[33];
	alert_id(key, text, id);
	free(text);
	set_path(a, "event.id", json_string(id));
	set_path(a, "event.kind", json_string("alert"));
	json_format_time(created_ns, ts, sizeof(ts));
	set_path(a, "event.created", json_string(ts));
	set_path(a, "rule.id", json_string(r->id));
	set_path(a, "rule.name", json_string(r->title));
	set_path(a, "rule.severity", json_string(detect_severity_name(r->severity)));
	if (r->description)
		set_path(a, "rule.description", json_string(r->description));
	set_path(a, "rule.ruleset", json_string(r->kind));
	set_path(a, "risk_score", json_integer(r->risk_score));
	json_t *tac = json_array(), *tec = json_array();
	for (unsigned i = 0; tac && i < r->ntactics; i++)
		json_array_append_new(tac, json_string(r->tactics[i]));
	for (unsigned i = 0; tec && i < r->ntechniques; i++)
		json_array_append_new(tec, json_string(r->techniques[i]));
	set_path(a, "threat.framework", json_string("MITRE ATT&CK"));
	set_path(a, "threat.tactic.name", tac);
	set_path(a, "threat.technique.id", tec);
	/* The hashes too: a policy's hash exclusions are matched against the alert's fields
	 * (src/server/auto_response.c). */
	static const char *const copy[] = {
	    "host.name",	   "agent.id",		       "process.entity_id",
	    "process.pid",	   "process.executable",       "process.command_line",
	    "process.hash.sha256", "process.parent.executable", "user.name",
	    "file.path",	   "file.hash.sha256",	       "destination.ip",
	    "destination.port",	   "dns.question.name"};
	for (size_t i = 0; event && i < sizeof(copy) / sizeof(copy[0]); i++)
		copy_field(a, event, copy[i]);
	set_path(a, "mamori.advice", json_string(r->advice ? r->advice : ""));
	if (hit->group) {
		set_path(a, "mamori.correlation.group", json_string(hit->group));
		set_path(a, "mamori.correlation.count", json_integer((json_int_t)hit->count));
	}
	json_t *events = json_array();
	if (events && event)
		json_array_append_new(events, json_deep_copy(event));
	set_path(a, "mamori.events", events);
	return a;
}

json_t *detect_alert_indicator(const struct ioc_hit *ih)
{
	static const char *const TYPES[] = {"sha256", "sha1", "md5",  "ip",
					    "cidr",   "domain", "path"};
	unsigned t = (unsigned)ih->ioc->type;
	return json_pack("{s:s,s:s,s:s,s:s%}", "type",
			 t < sizeof(TYPES) / sizeof(TYPES[0]) ? TYPES[t] : "unknown", "list",
			 ih->ioc->list, "field", ih->field, "value", ih->value, ih->value_len);
}
