#include "notify_route.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detect.h"
#include "json_keys.h"

#include "banned.h"

#define URL_MAX 2048
#define ADDR_MAX 254
#define HEADER_NAME_MAX 64
#define HEADER_VALUE_MAX 1024
#define SECRET_MAX 256
#define GROUP_MAX 127
#define PATH_MAX_LEN 1024

static const char *const facilities[24] = {
    "kern",   "user",	"mail",	    "daemon", "auth",	"syslog",   "lpr",     "news",
    "uucp",   "cron",	"authpriv", "ftp",    "ntp",	"security", "console", "clock",
    "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7",
};

int notify_facility_code(const char *name)
{
	for (int i = 0; name && i < 24; i++)
		if (!strcasecmp(name, facilities[i]))
			return i;
	return -1;
}

/* Printable ASCII without spaces, 1-max bytes. */
static bool token_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

/* No control characters (UTF-8 above 0x7f is fine), 1-max bytes. */
static bool text_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static bool name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n > NOTIFY_NAME_MAX || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

/* An addr-spec as SMTP takes it in MAIL FROM and RCPT TO: local@domain, no display name. */
static bool address_ok(const char *s)
{
	const char *at = s ? strrchr(s, '@') : NULL;

	if (!at || at == s || !at[1] || strlen(s) > ADDR_MAX || !token_ok(s, ADDR_MAX))
		return false;
	for (const char *p = s; p < at; p++)
		if (strchr("<>()[]\\,;:\"@", *p))
			return false;
	for (const char *p = at + 1; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			return false;
	return at[1] != '.' && at[1] != '-';
}

/* scheme://host[:port][/path]: printable ASCII, a host, no user:password@ (credentials go in
 * headers or username/password, which GET masks). */
static bool url_ok(const char *s, const char *const *schemes, char *why, size_t whylen)
{
	const char *auth = NULL, *end;
	size_t i;

	for (i = 0; schemes[i]; i++) {
		size_t n = strlen(schemes[i]);

		if (s && !strncasecmp(s, schemes[i], n) && !strncmp(s + n, "://", 3)) {
			auth = s + n + 3;
			break;
		}
	}
	if (!auth) {
		snprintf(why, whylen, "an %s:// or %s:// URL", schemes[0], schemes[1]);
		return false;
	}
	if (!token_ok(s, URL_MAX) || strpbrk(s, "\"<>\\^`{|}")) {
		snprintf(why, whylen, "at most %d printable characters, no spaces", URL_MAX);
		return false;
	}
	end = auth + strcspn(auth, "/?#");
	if (end == auth || auth[0] == ':') {
		snprintf(why, whylen, "the URL names no host");
		return false;
	}
	if (memchr(auth, '@', (size_t)(end - auth))) {
		snprintf(why, whylen, "no credentials in the URL (use %s)",
			 !strcmp(schemes[0], "http") ? "headers" : "username and password");
		return false;
	}
	return true;
}

/* host:port, [v6]:port. */
static bool hostport_ok(const char *s)
{
	const char *colon, *host_end;
	char *end;
	long port;

	if (!token_ok(s, 300))
		return false;
	if (s[0] == '[') {
		host_end = strchr(s, ']');
		if (!host_end || host_end == s + 1 || host_end[1] != ':')
			return false;
		colon = host_end + 1;
		for (const char *p = s + 1; p < host_end; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return false;
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s)
			return false;
		for (const char *p = s; p < colon; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
				return false;
	}
	if (!isdigit((unsigned char)colon[1]))
		return false;
	port = strtol(colon + 1, &end, 10);
	return !*end && port >= 1 && port <= 65535;
}

static int timeout_of(json_t *in, const char *where, int dflt, char *err, size_t errlen)
{
	json_t *t = json_object_get(in, "timeout_s");

	if (!t)
		return dflt;
	if (!json_is_integer(t) || json_integer_value(t) < 1 || json_integer_value(t) > 60) {
		snprintf(err, errlen, "%s.timeout_s: seconds, 1-60", where);
		return -1;
	}
	return (int)json_integer_value(t);
}

static bool ca_file_ok(json_t *in, const char *where, char *err, size_t errlen)
{
	json_t *ca = json_object_get(in, "ca_file");
	const char *p = json_string_value(ca);

	if (ca && (!p || p[0] != '/' || !text_ok(p, PATH_MAX_LEN))) {
		snprintf(err, errlen, "%s.ca_file: an absolute path", where);
		return false;
	}
	return true;
}

static json_t *webhook(json_t *in, const char *where, char *err, size_t errlen)
{
	static const char *const keys[] = {"url", "headers", "timeout_s", "ca_file", NULL};
	static const char *const schemes[] = {"http", "https", NULL};
	const char *url = json_string_value(json_object_get(in, "url")), *k;
	json_t *hdrs = json_object_get(in, "headers"), *out, *v;
	char why[128];
	int timeout;

	if (!json_is_object(in)) {
		snprintf(err, errlen, "%s: an object with url", where);
		return NULL;
	}
	if (!json_keys_only(in, keys, where, err, errlen))
		return NULL;
	if (!url_ok(url, schemes, why, sizeof(why))) {
		snprintf(err, errlen, "%s.url: %s", where, why);
		return NULL;
	}
	if (hdrs && (!json_is_object(hdrs) || json_object_size(hdrs) > 32)) {
		snprintf(err, errlen, "%s.headers: an object of at most 32 \"Name\": \"value\"",
			 where);
		return NULL;
	}
	json_object_foreach(hdrs, k, v)
	{
		const char *val = json_string_value(v);

		if (!token_ok(k, HEADER_NAME_MAX) || strpbrk(k, "()<>@,;:\\\"/[]?={}")) {
			snprintf(err, errlen, "%s.headers.%s: not a header name", where, k);
			return NULL;
		}
		if (!strcasecmp(k, "Content-Type") || !strcasecmp(k, "Content-Length") ||
		    !strcasecmp(k, "Host") || !strcasecmp(k, "Transfer-Encoding")) {
			snprintf(err, errlen, "%s.headers.%s: set by Mamori", where, k);
			return NULL;
		}
		if (!text_ok(val, HEADER_VALUE_MAX)) {
			snprintf(err, errlen,
				 "%s.headers.%s: a string of 1-%d bytes without control characters",
				 where, k, HEADER_VALUE_MAX);
			return NULL;
		}
	}
	timeout = timeout_of(in, where, 10, err, errlen);
	if (timeout < 0 || !ca_file_ok(in, where, err, errlen))
		return NULL;
	out = json_pack("{s:s,s:o,s:i}", "url", url, "headers",
			hdrs ? json_deep_copy(hdrs) : json_object(), "timeout_s", timeout);
	if (out && json_object_get(in, "ca_file"))
		json_object_set(out, "ca_file", json_object_get(in, "ca_file"));
	return out;
}

static json_t *email(json_t *in, const char *where, char *err, size_t errlen)
{
	static const char *const keys[] = {"smtp_url",	"from",	    "to",
					   "starttls",	"username", "password",
					   "timeout_s", "ca_file",  NULL};
	static const char *const schemes[] = {"smtp", "smtps", NULL};
	const char *url = json_string_value(json_object_get(in, "smtp_url"));
	const char *from = json_string_value(json_object_get(in, "from"));
	json_t *to = json_object_get(in, "to"), *tls = json_object_get(in, "starttls");
	json_t *user = json_object_get(in, "username"), *pw = json_object_get(in, "password");
	json_t *out, *v;
	char why[128];
	int timeout;
	size_t i;

	if (!json_is_object(in)) {
		snprintf(err, errlen, "%s: an object with smtp_url, from and to", where);
		return NULL;
	}
	if (!json_keys_only(in, keys, where, err, errlen))
		return NULL;
	if (!url_ok(url, schemes, why, sizeof(why))) {
		snprintf(err, errlen, "%s.smtp_url: %s", where, why);
		return NULL;
	}
	if (!address_ok(from)) {
		snprintf(err, errlen, "%s.from: an e-mail address (user@domain)", where);
		return NULL;
	}
	if (!json_is_array(to) || !json_array_size(to) || json_array_size(to) > NOTIFY_MAX_LIST) {
		snprintf(err, errlen, "%s.to: a list of 1-%d e-mail addresses", where,
			 NOTIFY_MAX_LIST);
		return NULL;
	}
	json_array_foreach(to, i, v)
	{
		if (!address_ok(json_string_value(v))) {
			snprintf(err, errlen, "%s.to[%zu]: an e-mail address (user@domain)", where,
				 i);
			return NULL;
		}
	}
	if (tls && !json_is_boolean(tls)) {
		snprintf(err, errlen, "%s.starttls: true or false", where);
		return NULL;
	}
	if ((user && !text_ok(json_string_value(user), SECRET_MAX)) ||
	    (pw && !text_ok(json_string_value(pw), SECRET_MAX)) || (!user != !pw)) {
		snprintf(err, errlen, "%s.username, password: both or neither, 1-%d bytes each",
			 where, SECRET_MAX);
		return NULL;
	}
	timeout = timeout_of(in, where, 30, err, errlen);
	if (timeout < 0 || !ca_file_ok(in, where, err, errlen))
		return NULL;
	out = json_pack("{s:s,s:s,s:O,s:b,s:i}", "smtp_url", url, "from", from, "to", to,
			"starttls", tls ? json_is_true(tls) : 1, "timeout_s", timeout);
	if (out && user) {
		json_object_set(out, "username", user);
		json_object_set(out, "password", pw);
	}
	if (out && json_object_get(in, "ca_file"))
		json_object_set(out, "ca_file", json_object_get(in, "ca_file"));
	return out;
}

static json_t *syslog_dest(json_t *in, const char *where, char *err, size_t errlen)
{
	static const char *const keys[] = {"address", "transport", "facility", "timeout_s", NULL};
	const char *addr = json_string_value(json_object_get(in, "address"));
	json_t *tr = json_object_get(in, "transport"), *fac = json_object_get(in, "facility");
	const char *transport = tr ? json_string_value(tr) : "udp";
	int code = 16, timeout;

	if (!json_is_object(in)) {
		snprintf(err, errlen, "%s: an object with address", where);
		return NULL;
	}
	if (!json_keys_only(in, keys, where, err, errlen))
		return NULL;
	if (!hostport_ok(addr)) {
		snprintf(err, errlen, "%s.address: host:port or [IPv6]:port", where);
		return NULL;
	}
	if (!transport || (strcmp(transport, "udp") && strcmp(transport, "tcp"))) {
		snprintf(err, errlen, "%s.transport: udp or tcp", where);
		return NULL;
	}
	if (json_is_integer(fac) && json_integer_value(fac) >= 0 && json_integer_value(fac) < 24)
		code = (int)json_integer_value(fac);
	else if (fac && (code = notify_facility_code(json_string_value(fac))) < 0) {
		snprintf(err, errlen,
			 "%s.facility: a syslog facility (local0-local7, user, auth...)", where);
		return NULL;
	}
	timeout = timeout_of(in, where, 5, err, errlen);
	if (timeout < 0)
		return NULL;
	return json_pack("{s:s,s:s,s:s,s:i}", "address", addr, "transport", transport, "facility",
			 facilities[code], "timeout_s", timeout);
}

/* "attack.tNNNN", "attack.tNNNN.NNN" or "attack.<tactic>", lowercased into out. */
static bool tag_ok(const char *s, char *out, size_t size)
{
	size_t n = s ? strlen(s) : 0, i;

	if (n < 8 || n >= size || strncasecmp(s, "attack.", 7))
		return false;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[n] = 0;
	if (out[7] == 't' && isdigit((unsigned char)out[8])) {
		const char *p = out + 8;

		if (strspn(p, "0123456789") != 4)
			return false;
		p += 4;
		return !*p || (p[0] == '.' && strspn(p + 1, "0123456789") == 3 && !p[4]);
	}
	return detect_tactic_name(out + 7, strlen(out + 7)) != NULL;
}

static json_t *match(json_t *in, const char *where, char *err, size_t errlen)
{
	static const char *const keys[] = {"groups", "min_severity", "tags", NULL};
	json_t *groups = json_object_get(in, "groups"), *tags = json_object_get(in, "tags");
	json_t *sev = json_object_get(in, "min_severity"), *out, *v;
	char tag[32];
	size_t i;

	if (in && !json_is_object(in)) {
		snprintf(err, errlen, "%s: an object with groups, min_severity and tags", where);
		return NULL;
	}
	if (in && !json_keys_only(in, keys, where, err, errlen))
		return NULL;
	if (sev && (!json_is_string(sev) || detect_severity_parse(json_string_value(sev)) < 0)) {
		snprintf(err, errlen,
			 "%s.min_severity: informational, low, medium, high or critical", where);
		return NULL;
	}
	out = json_pack("{s:[],s:s,s:[]}", "groups", "min_severity",
			sev ? detect_severity_name(detect_severity_parse(json_string_value(sev)))
			    : "informational",
			"tags");
	if (!out)
		return NULL;
	if (groups && (!json_is_array(groups) || json_array_size(groups) > NOTIFY_MAX_LIST)) {
		snprintf(err, errlen, "%s.groups: a list of at most %d group names", where,
			 NOTIFY_MAX_LIST);
		goto bad;
	}
	json_array_foreach(groups, i, v)
	{
		if (!text_ok(json_string_value(v), GROUP_MAX)) {
			snprintf(err, errlen, "%s.groups[%zu]: a group name", where, i);
			goto bad;
		}
		json_array_append(json_object_get(out, "groups"), v);
	}
	if (tags && (!json_is_array(tags) || json_array_size(tags) > NOTIFY_MAX_LIST)) {
		snprintf(err, errlen, "%s.tags: a list of at most %d ATT&CK tags", where,
			 NOTIFY_MAX_LIST);
		goto bad;
	}
	json_array_foreach(tags, i, v)
	{
		if (!tag_ok(json_string_value(v), tag, sizeof(tag))) {
			snprintf(err, errlen,
				 "%s.tags[%zu]: an ATT&CK tag as rules write them: attack.t1059, "
				 "attack.t1059.004 or attack.<tactic> (attack.execution)",
				 where, i);
			goto bad;
		}
		json_array_append_new(json_object_get(out, "tags"), json_string(tag));
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

static json_t *route(json_t *in, size_t idx, char *err, size_t errlen)
{
	static const char *const keys[] = {"name",    "enabled", "match",  "language",
					   "webhook", "email",	 "syslog", NULL};
	static const char *const kinds[] = {"webhook", "email", "syslog"};
	const char *name = json_string_value(json_object_get(in, "name"));
	json_t *lang = json_object_get(in, "language"), *en = json_object_get(in, "enabled");
	json_t *out = NULL, *m, *dest = NULL;
	char where[48];
	int kind = -1;

	snprintf(where, sizeof(where), "routes[%zu]", idx);
	if (!json_is_object(in)) {
		snprintf(err, errlen, "%s: not an object", where);
		return NULL;
	}
	if (!json_keys_only(in, keys, where, err, errlen))
		return NULL;
	if (!name_ok(name)) {
		snprintf(
		    err, errlen,
		    "%s.name: 1-%d letters, digits, '.', '_' or '-', starting with a letter or "
		    "digit",
		    where, NOTIFY_NAME_MAX);
		return NULL;
	}
	if (lang && (!json_is_string(lang) || (strcmp(json_string_value(lang), "en") &&
					       strcmp(json_string_value(lang), "ja")))) {
		snprintf(err, errlen, "%s.language: en or ja", where);
		return NULL;
	}
	if (en && !json_is_boolean(en)) {
		snprintf(err, errlen, "%s.enabled: true or false", where);
		return NULL;
	}
	for (int k = 0; k < 3; k++) {
		if (!json_object_get(in, kinds[k]))
			continue;
		if (kind >= 0) {
			snprintf(err, errlen, "%s: one destination only (%s or %s)", where,
				 kinds[kind], kinds[k]);
			return NULL;
		}
		kind = k;
	}
	if (kind < 0) {
		snprintf(err, errlen, "%s: a destination: webhook, email or syslog", where);
		return NULL;
	}
	{
		char sub[64];

		snprintf(sub, sizeof(sub), "%s.match", where);
		m = match(json_object_get(in, "match"), sub, err, errlen);
		if (!m)
			return NULL;
		snprintf(sub, sizeof(sub), "%s.%s", where, kinds[kind]);
		if (kind == 0)
			dest = webhook(json_object_get(in, "webhook"), sub, err, errlen);
		else if (kind == 1)
			dest = email(json_object_get(in, "email"), sub, err, errlen);
		else
			dest = syslog_dest(json_object_get(in, "syslog"), sub, err, errlen);
	}
	if (dest)
		out =
		    json_pack("{s:s,s:b,s:s,s:o,s:o}", "name", name, "enabled",
			      en ? json_is_true(en) : 1, "language",
			      lang ? json_string_value(lang) : "en", "match", m, kinds[kind], dest);
	else
		json_decref(m);
	if (dest && !out)
		snprintf(err, errlen, "out of memory");
	return out;
}

json_t *notify_routes_normalize(json_t *doc, char *err, size_t errlen)
{
	static const char *const keys[] = {"routes", NULL};
	json_t *list = json_object_get(doc, "routes"), *out, *v, *r, *w;
	size_t i, k;

	if (!json_is_object(doc)) {
		snprintf(err, errlen, "the routes document is a JSON object {\"routes\": [...]}");
		return NULL;
	}
	if (!json_keys_only(doc, keys, "", err, errlen))
		return NULL;
	if (!json_is_array(list) || json_array_size(list) > NOTIFY_MAX_ROUTES) {
		snprintf(err, errlen, "routes: a list of at most %d routes", NOTIFY_MAX_ROUTES);
		return NULL;
	}
	out = json_pack("{s:[]}", "routes");
	json_array_foreach(list, i, v)
	{
		r = route(v, i, err, errlen);
		if (!r)
			goto bad;
		json_array_foreach(json_object_get(out, "routes"), k, w)
		{
			if (!strcmp(json_string_value(json_object_get(w, "name")),
				    json_string_value(json_object_get(r, "name")))) {
				snprintf(err, errlen, "routes[%zu].name: %s is already routes[%zu]",
					 i, json_string_value(json_object_get(r, "name")), k);
				json_decref(r);
				goto bad;
			}
		}
		json_array_append_new(json_object_get(out, "routes"), r);
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

json_t *notify_routes_find(json_t *doc, const char *name)
{
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(doc, "routes"), i, r)
	{
		const char *n = json_string_value(json_object_get(r, "name"));

		if (n && name && !strcmp(n, name))
			return r;
	}
	return NULL;
}

const char *notify_route_kind(json_t *route, json_t **dest)
{
	static const char *const kinds[] = {"webhook", "email", "syslog"};

	for (int k = 0; k < 3; k++) {
		json_t *d = json_object_get(route, kinds[k]);

		if (json_is_object(d)) {
			if (dest)
				*dest = d;
			return kinds[k];
		}
	}
	return NULL;
}

int notify_routes_unmask(json_t *doc, json_t *old, char *err, size_t errlen)
{
	json_t *r, *v;
	const char *k;
	size_t i;

	json_array_foreach(json_object_get(doc, "routes"), i, r)
	{
		const char *name = json_string_value(json_object_get(r, "name"));
		json_t *was = notify_routes_find(old, name);
		json_t *pw = json_object_get(json_object_get(r, "email"), "password");
		json_t *hdrs = json_object_get(json_object_get(r, "webhook"), "headers");

		if (pw && !strcmp(json_string_value(pw), NOTIFY_MASK)) {
			json_t *keep = json_object_get(json_object_get(was, "email"), "password");

			if (!json_is_string(keep)) {
				snprintf(
				    err, errlen,
				    "routes[%zu].email.password: %s keeps a stored password, and "
				    "route %s has none",
				    i, NOTIFY_MASK, name);
				return -EINVAL;
			}
			json_object_set(json_object_get(r, "email"), "password", keep);
		}
		json_object_foreach(hdrs, k, v)
		{
			json_t *keep = json_object_get(
			    json_object_get(json_object_get(was, "webhook"), "headers"), k);

			if (strcmp(json_string_value(v), NOTIFY_MASK))
				continue;
			if (!json_is_string(keep)) {
				snprintf(
				    err, errlen,
				    "routes[%zu].webhook.headers.%s: %s keeps a stored value, and "
				    "route %s has none",
				    i, k, NOTIFY_MASK, name);
				return -EINVAL;
			}
			json_object_set(hdrs, k, keep);
		}
	}
	return 0;
}

json_t *notify_routes_masked(json_t *doc)
{
	json_t *out = json_deep_copy(doc), *r, *v;
	const char *k;
	size_t i;

	json_array_foreach(json_object_get(out, "routes"), i, r)
	{
		json_t *e = json_object_get(r, "email");
		json_t *hdrs = json_object_get(json_object_get(r, "webhook"), "headers");

		if (json_object_get(e, "password"))
			json_object_set_new(e, "password", json_string(NOTIFY_MASK));
		json_object_foreach(hdrs, k, v)
		{
			json_object_set_new(hdrs, k, json_string(NOTIFY_MASK));
		}
	}
	return out;
}

/* Whether the comma-separated list holds item; with prefix, items below it ("T1059.004" under
 * "T1059") count too. Case-insensitive. */
static bool list_has(const char *list, const char *item, bool prefix)
{
	size_t n = strlen(item);

	while (list && *list) {
		size_t len = strcspn(list, ",");

		if ((len == n || (prefix && len > n && list[n] == '.')) &&
		    !strncasecmp(list, item, n))
			return true;
		list += len + (list[len] == ',');
	}
	return false;
}

static bool tag_matches(const char *tag, const struct notify_alert_facts *f)
{
	const char *t = tag + 7;

	if (strncmp(tag, "attack.", 7))
		return false;
	if (t[0] == 't' && isdigit((unsigned char)t[1]))
		return list_has(f->techniques, t, true);
	{
		const char *name = detect_tactic_name(t, strlen(t));

		return name && list_has(f->tactics, name, false);
	}
}

bool notify_route_matches(json_t *route, const struct notify_alert_facts *f)
{
	json_t *m = json_object_get(route, "match"), *groups, *tags, *v;
	const char *sev = json_string_value(json_object_get(m, "min_severity"));
	bool hit;
	size_t i;

	if (json_is_false(json_object_get(route, "enabled")))
		return false;
	if (sev && f->severity < detect_severity_parse(sev))
		return false;
	groups = json_object_get(m, "groups");
	hit = !json_array_size(groups);
	json_array_foreach(groups, i, v)
	{
		if (f->group && !strcmp(json_string_value(v), f->group))
			hit = true;
	}
	if (!hit)
		return false;
	tags = json_object_get(m, "tags");
	hit = !json_array_size(tags);
	json_array_foreach(tags, i, v)
	{
		if (tag_matches(json_string_value(v), f))
			hit = true;
	}
	return hit;
}
