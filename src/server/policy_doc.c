#include "policy_doc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "detect.h"
#include "json_keys.h"
#include "server_int.h"

#include "banned.h"

#define NAME_MAX_LEN 256
#define REASON_MAX 500

static const char *const action_names[] = {"kill", "kill_tree", "quarantine", "isolate"};
static const char *const exclusion_types[] = {"path", "hash", "command_line", "rule"};

const char *policy_action_name(enum policy_action a)
{
	for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++)
		if (a == 1u << i)
			return action_names[i];
	return "?";
}

json_t *policy_doc_default(void)
{
	return json_pack("{s:s,s:b,s:[],s:[],s:[],s:[],s:{s:[],s:[]}}", "mode", "detect",
			 "quarantine", 1, "auto_response", "prevent_rules", "exclusions",
			 "disabled_rules", "isolation", "allow", "dns");
}

static bool name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* A list of names (rule ids, addresses): strings, unique, at most POLICY_MAX_ITEMS. */
static json_t *names(json_t *in, const char *key, bool address, char *err, size_t errlen)
{
	json_t *out = json_array(), *v;
	size_t i;

	if (!in)
		return out;
	if (!json_is_array(in) || json_array_size(in) > POLICY_MAX_ITEMS) {
		snprintf(err, errlen, "%s: a list of at most %d names", key, POLICY_MAX_ITEMS);
		goto bad;
	}
	json_array_foreach(in, i, v)
	{
		const char *s = json_string_value(v);
		json_t *w;
		size_t k;
		bool dup = false;

		if (!name_ok(s) ||
		    (address &&
		     strspn(s, "0123456789abcdefABCDEF.:/-"
			       "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ") != strlen(s))) {
			snprintf(err, errlen, "%s[%zu]: not a valid %s", key, i,
				 address ? "address, network or name" : "name");
			goto bad;
		}
		json_array_foreach(out, k, w) dup = dup || !strcmp(json_string_value(w), s);
		if (!dup)
			json_array_append_new(out, json_string(s));
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

static bool is_hex64(const char *s)
{
	return s && strlen(s) == 64 && strspn(s, "0123456789abcdefABCDEF") == 64;
}

static json_t *exclusion(json_t *in, size_t idx, const char *user, int64_t now_ms, char *err,
			 size_t errlen)
{
	static const char *const keys[] = {"type", "value", "author", "reason", "expires", NULL};
	const char *type = json_string_value(json_object_get(in, "type"));
	const char *value = json_string_value(json_object_get(in, "value"));
	const char *author = json_string_value(json_object_get(in, "author"));
	const char *reason = json_string_value(json_object_get(in, "reason"));
	json_t *exp = json_object_get(in, "expires"), *out;
	char where[48], low[65];
	int64_t expires = 0;
	size_t t;

	snprintf(where, sizeof(where), "exclusions[%zu].", idx);
	if (!json_is_object(in)) {
		snprintf(err, errlen, "exclusions[%zu]: not an object", idx);
		return NULL;
	}
	if (!json_keys_only(in, keys, where, err, errlen))
		return NULL;
	for (t = 0; t < 4 && (!type || strcmp(type, exclusion_types[t])); t++)
		;
	if (t == 4) {
		snprintf(err, errlen, "%stype: path, hash, command_line or rule", where);
		return NULL;
	}
	if (!value || !*value || strlen(value) > POLICY_MAX_VALUE) {
		snprintf(err, errlen, "%svalue: a non-empty string of at most %d bytes", where,
			 POLICY_MAX_VALUE);
		return NULL;
	}
	if (t == 0 && value[0] != '/') {
		snprintf(err, errlen, "%svalue: a path exclusion is an absolute path or pattern",
			 where);
		return NULL;
	}
	if (t == 1) {
		if (!is_hex64(value)) {
			snprintf(err, errlen, "%svalue: a SHA-256 (64 hex digits)", where);
			return NULL;
		}
		for (size_t i = 0; i < 64; i++)
			low[i] = (char)tolower((unsigned char)value[i]);
		low[64] = 0;
		value = low;
	}
	if (!reason || !*reason || strlen(reason) > REASON_MAX) {
		snprintf(err, errlen, "%sreason: required, at most %d bytes", where, REASON_MAX);
		return NULL;
	}
	if (json_object_get(in, "author") && !name_ok(author)) {
		snprintf(err, errlen, "%sauthor: a name", where);
		return NULL;
	}
	if (json_is_integer(exp) && json_integer_value(exp) > 0) {
		expires = json_integer_value(exp);
	} else if (json_is_string(exp)) {
		int64_t ns;

		if (!server_parse_duration(json_string_value(exp), &ns))
			expires = now_ms + ns / 1000000;
		else if (!server_parse_time(json_string_value(exp), &ns))
			expires = ns / 1000000;
		else
			expires = -1;
	} else if (exp && !json_is_null(exp)) {
		expires = -1;
	}
	if (expires < 0) {
		snprintf(err, errlen,
			 "%sexpires: a time (RFC 3339), a duration from now (\"30d\") or null",
			 where);
		return NULL;
	}
	out = json_pack("{s:s,s:s,s:s,s:s}", "type", exclusion_types[t], "value", value, "author",
			author ? author : (user ? user : "?"), "reason", reason);
	json_object_set_new(out, "expires", expires ? json_integer(expires) : json_null());
	return out;
}

static json_t *response(json_t *in, size_t idx, char *err, size_t errlen)
{
	static const char *const keys[] = {"min_severity", "rules", "actions", NULL};
	json_t *sev = json_object_get(in, "min_severity"), *acts = json_object_get(in, "actions");
	json_t *rules, *out, *v;
	char where[48];
	size_t i;

	snprintf(where, sizeof(where), "auto_response[%zu].", idx);
	if (!json_is_object(in)) {
		snprintf(err, errlen, "auto_response[%zu]: not an object", idx);
		return NULL;
	}
	if (!json_keys_only(in, keys, where, err, errlen))
		return NULL;
	if (json_is_null(sev))
		sev = NULL; /* as the normalized form writes it */
	if (sev && (!json_is_string(sev) || detect_severity_parse(json_string_value(sev)) < 0)) {
		snprintf(err, errlen, "%smin_severity: low, medium, high or critical", where);
		return NULL;
	}
	snprintf(where, sizeof(where), "auto_response[%zu].rules", idx);
	rules = names(json_object_get(in, "rules"), where, false, err, errlen);
	if (!rules)
		return NULL;
	if (!sev && !json_array_size(rules)) {
		json_decref(rules);
		snprintf(err, errlen, "auto_response[%zu]: needs min_severity or rules", idx);
		return NULL;
	}
	if (!json_is_array(acts) || !json_array_size(acts)) {
		json_decref(rules);
		snprintf(err, errlen, "auto_response[%zu].actions: a non-empty list", idx);
		return NULL;
	}
	out = json_pack("{s:o,s:o,s:[]}", "min_severity", sev ? json_incref(sev) : json_null(),
			"rules", rules, "actions");
	json_array_foreach(acts, i, v)
	{
		size_t k;
		const char *a = json_string_value(v);

		for (k = 0; k < 4 && (!a || strcmp(a, action_names[k])); k++)
			;
		if (k == 4) {
			json_decref(out);
			snprintf(err, errlen,
				 "auto_response[%zu].actions[%zu]: kill, kill_tree, quarantine or "
				 "isolate",
				 idx, i);
			return NULL;
		}
		json_array_append_new(json_object_get(out, "actions"), json_string(a));
	}
	return out;
}

json_t *policy_doc_normalize(json_t *doc, const char *user, int64_t now_ms, char *err,
			     size_t errlen)
{
	static const char *const keys[] = {"mode",	    "quarantine", "auto_response",
					   "prevent_rules", "exclusions", "disabled_rules",
					   "isolation",	    NULL};
	static const char *const iso_keys[] = {"allow", "dns", NULL};
	json_t *out = policy_doc_default(), *v, *list, *iso, *item;
	const char *mode;
	size_t i;

	if (!json_is_object(doc)) {
		snprintf(err, errlen, "the policy is a JSON object");
		goto bad;
	}
	if (!json_keys_only(doc, keys, "", err, errlen))
		goto bad;
	v = json_object_get(doc, "mode");
	mode = json_string_value(v);
	if (v && (!mode || (strcmp(mode, "detect") && strcmp(mode, "block")))) {
		snprintf(err, errlen, "mode: detect or block");
		goto bad;
	}
	if (mode)
		json_object_set_new(out, "mode", json_string(mode));
	v = json_object_get(doc, "quarantine");
	if (v && !json_is_boolean(v)) {
		snprintf(err, errlen, "quarantine: true or false");
		goto bad;
	}
	if (v)
		json_object_set(out, "quarantine", v);
	list = json_object_get(doc, "auto_response");
	if (list && (!json_is_array(list) || json_array_size(list) > POLICY_MAX_ITEMS)) {
		snprintf(err, errlen, "auto_response: a list");
		goto bad;
	}
	json_array_foreach(list, i, v)
	{
		item = response(v, i, err, errlen);
		if (!item)
			goto bad;
		json_array_append_new(json_object_get(out, "auto_response"), item);
	}
	list = json_object_get(doc, "exclusions");
	if (list && (!json_is_array(list) || json_array_size(list) > POLICY_MAX_ITEMS)) {
		snprintf(err, errlen, "exclusions: a list of at most %d", POLICY_MAX_ITEMS);
		goto bad;
	}
	json_array_foreach(list, i, v)
	{
		item = exclusion(v, i, user, now_ms, err, errlen);
		if (!item)
			goto bad;
		json_array_append_new(json_object_get(out, "exclusions"), item);
	}
	for (i = 0; i < 2; i++) {
		const char *key = i ? "disabled_rules" : "prevent_rules";

		item = names(json_object_get(doc, key), key, false, err, errlen);
		if (!item)
			goto bad;
		json_object_set_new(out, key, item);
	}
	iso = json_object_get(doc, "isolation");
	if (iso &&
	    (!json_is_object(iso) || !json_keys_only(iso, iso_keys, "isolation.", err, errlen))) {
		if (!json_is_object(iso))
			snprintf(err, errlen, "isolation: an object with allow and dns");
		goto bad;
	}
	for (i = 0; i < 2; i++) {
		const char *key = iso_keys[i];
		char where[32];

		snprintf(where, sizeof(where), "isolation.%s", key);
		item = names(json_object_get(iso, key), where, true, err, errlen);
		if (!item)
			goto bad;
		if (json_array_size(item) > 64) {
			json_decref(item);
			snprintf(err, errlen, "%s: at most 64 entries", where);
			goto bad;
		}
		json_object_set_new(json_object_get(out, "isolation"), key, item);
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

bool policy_doc_is_block(json_t *pol)
{
	const char *mode = json_string_value(json_object_get(pol, "mode"));

	return mode && !strcmp(mode, "block");
}

unsigned policy_doc_actions(json_t *pol, const struct policy_alert *a)
{
	unsigned acts = 0;
	json_t *r, *v;
	size_t i, k;

	if (!policy_doc_is_block(pol))
		return 0;
	json_array_foreach(json_object_get(pol, "auto_response"), i, r)
	{
		const char *sev = json_string_value(json_object_get(r, "min_severity"));
		bool hit = (sev && a->severity >= detect_severity_parse(sev)) ||
			   policy_match_in_list(json_object_get(r, "rules"), a->rule_id);

		if (!hit)
			continue;
		json_array_foreach(json_object_get(r, "actions"), k, v)
		{
			for (size_t n = 0; n < 4; n++)
				if (json_is_string(v) &&
				    !strcmp(json_string_value(v), action_names[n]))
					acts |= 1u << n;
		}
	}
	if (!json_is_true(json_object_get(pol, "quarantine")))
		acts &= ~(unsigned)POLICY_ACT_QUARANTINE;
	return acts;
}
