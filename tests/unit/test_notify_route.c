/* Notification routes: validation with defaults and precise errors, matching by group,
 * severity and ATT&CK tag, secrets masked and kept, and the retry schedule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "detect.h"
#include "notify.h"
#include "notify_route.h"

static json_t *norm(const char *text, char *err, size_t errlen)
{
	json_error_t je;
	json_t *in = json_loads(text, 0, &je), *out;

	if (!in)
		fail_msg("test JSON: %s: %s", text, je.text);
	out = notify_routes_normalize(in, err, errlen);
	json_decref(in);
	return out;
}

static void expect_error(const char *text, const char *msg)
{
	char err[400] = "";
	json_t *r = norm(text, err, sizeof(err));

	if (r || !strstr(err, msg))
		fail_msg("%s: expected an error with \"%s\", got \"%s\"", text, msg, err);
}

#define HOOK "\"webhook\": {\"url\": \"https://hooks.example/x\"}"

static void test_defaults(void **state)
{
	char err[400] = "";
	json_t *d =
		   norm("{\"routes\": [{\"name\": \"all\", " HOOK "},"
			" {\"name\": \"jp-it\", \"language\": \"ja\", \"match\": {\"groups\": "
			"[\"jp\"], \"min_severity\": \"HIGH\", \"tags\": [\"ATTACK.T1059\"]},"
			" \"email\": {\"smtp_url\": \"smtp://mail.jp.example:587\", \"from\": "
			"\"mamori@jp.example\", \"to\": [\"it@jp.example\"]}},"
			" {\"name\": \"siem\", \"syslog\": {\"address\": \"[2001:db8::1]:514\"}}]}",
			err, sizeof(err)),
	       *r;

	(void)state;
	if (!d)
		fail_msg("%s", err);
	r = json_array_get(json_object_get(d, "routes"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "language")), "en");
	assert_true(json_is_true(json_object_get(r, "enabled")));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(r, "match"), "min_severity")),
	    "informational");
	assert_int_equal(json_array_size(json_object_get(json_object_get(r, "match"), "groups")),
			 0);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(r, "webhook"), "timeout_s")), 10);
	assert_true(json_is_object(json_object_get(json_object_get(r, "webhook"), "headers")));
	assert_string_equal(notify_route_kind(r, NULL), "webhook");
	r = json_array_get(json_object_get(d, "routes"), 1);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(r, "match"), "min_severity")),
	    "high");
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(json_object_get(r, "match"), "tags"), 0)),
			    "attack.t1059");
	assert_true(json_is_true(json_object_get(json_object_get(r, "email"), "starttls")));
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(r, "email"), "timeout_s")), 30);
	r = json_array_get(json_object_get(d, "routes"), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(r, "syslog"), "transport")), "udp");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(r, "syslog"), "facility")), "local0");
	assert_ptr_equal(notify_routes_find(d, "siem"), r);
	assert_null(notify_routes_find(d, "nope"));
	json_decref(d);
	d = norm("{\"routes\": []}", err, sizeof(err));
	assert_non_null(d);
	json_decref(d);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("[]", "JSON object");
	expect_error("{\"routes\": {}}", "routes: a list");
	expect_error("{\"rotues\": []}", "rotues: unknown key");
	expect_error("{\"routes\": [{" HOOK "}]}", "routes[0].name");
	expect_error("{\"routes\": [{\"name\": \"a b\", " HOOK "}]}", "routes[0].name");
	expect_error("{\"routes\": [{\"name\": \"a\"}]}", "routes[0]: a destination");
	expect_error("{\"routes\": [{\"name\": \"a\", " HOOK ", \"syslog\": {\"address\": "
		     "\"h:514\"}}]}",
		     "routes[0]: one destination only (webhook or syslog)");
	expect_error("{\"routes\": [{\"name\": \"a\", \"colour\": 1, " HOOK "}]}",
		     "routes[0].colour: unknown key");
	expect_error("{\"routes\": [{\"name\": \"a\", " HOOK "}, {\"name\": \"a\", " HOOK "}]}",
		     "routes[1].name: a is already routes[0]");
	expect_error("{\"routes\": [{\"name\": \"a\", \"language\": \"fr\", " HOOK "}]}",
		     "routes[0].language: en or ja");
	expect_error("{\"routes\": [{\"name\": \"a\", \"webhook\": {\"url\": \"ftp://x/\"}}]}",
		     "routes[0].webhook.url: an http:// or https:// URL");
	expect_error("{\"routes\": [{\"name\": \"a\", \"webhook\": {\"url\": "
		     "\"https://u:p@x/\"}}]}",
		     "routes[0].webhook.url: no credentials in the URL");
	expect_error("{\"routes\": [{\"name\": \"a\", \"webhook\": {\"url\": \"https:///x\"}}]}",
		     "names no host");
	expect_error("{\"routes\": [{\"name\": \"a\", \"webhook\": {\"url\": \"https://x/\", "
		     "\"headers\": {\"X-A\": \"1\\r\\nX-B: 2\"}}}]}",
		     "routes[0].webhook.headers.X-A");
	expect_error("{\"routes\": [{\"name\": \"a\", \"webhook\": {\"url\": \"https://x/\", "
		     "\"headers\": {\"Host\": \"evil\"}}}]}",
		     "headers.Host: set by Mamori");
	expect_error("{\"routes\": [{\"name\": \"a\", \"webhook\": {\"url\": \"https://x/\", "
		     "\"timeout_s\": 0}}]}",
		     "routes[0].webhook.timeout_s: seconds, 1-60");
	expect_error("{\"routes\": [{\"name\": \"a\", \"email\": {\"smtp_url\": \"smtp://m\", "
		     "\"from\": \"m@x\", \"to\": [\"ok@x\", \"bad\"]}}]}",
		     "routes[0].email.to[1]: an e-mail address");
	expect_error("{\"routes\": [{\"name\": \"a\", \"email\": {\"smtp_url\": \"smtp://m\", "
		     "\"from\": \"m@x\", \"to\": []}}]}",
		     "routes[0].email.to: a list of 1-");
	expect_error("{\"routes\": [{\"name\": \"a\", \"email\": {\"smtp_url\": \"smtp://m\", "
		     "\"from\": \"<m@x>\", \"to\": [\"a@x\"]}}]}",
		     "routes[0].email.from");
	expect_error("{\"routes\": [{\"name\": \"a\", \"email\": {\"smtp_url\": \"http://m\", "
		     "\"from\": \"m@x\", \"to\": [\"a@x\"]}}]}",
		     "routes[0].email.smtp_url: an smtp:// or smtps:// URL");
	expect_error("{\"routes\": [{\"name\": \"a\", \"email\": {\"smtp_url\": \"smtp://m\", "
		     "\"from\": \"m@x\", \"to\": [\"a@x\"], \"username\": \"u\"}}]}",
		     "both or neither");
	expect_error("{\"routes\": [{\"name\": \"a\", \"email\": {\"smtp_url\": \"smtp://m\", "
		     "\"from\": \"m@x\", \"to\": [\"a@x\"], \"starttls\": \"yes\"}}]}",
		     "routes[0].email.starttls: true or false");
	expect_error("{\"routes\": [{\"name\": \"a\", \"syslog\": {\"address\": \"siem\"}}]}",
		     "routes[0].syslog.address: host:port");
	expect_error("{\"routes\": [{\"name\": \"a\", \"syslog\": {\"address\": \"siem:70000\"}}]}",
		     "routes[0].syslog.address");
	expect_error("{\"routes\": [{\"name\": \"a\", \"syslog\": {\"address\": \"s:514\", "
		     "\"transport\": \"tls\"}}]}",
		     "routes[0].syslog.transport: udp or tcp");
	expect_error("{\"routes\": [{\"name\": \"a\", \"syslog\": {\"address\": \"s:514\", "
		     "\"facility\": \"local9\"}}]}",
		     "routes[0].syslog.facility");
	expect_error(
	    "{\"routes\": [{\"name\": \"a\", \"match\": {\"min_severity\": \"huge\"}, " HOOK "}]}",
	    "routes[0].match.min_severity");
	expect_error("{\"routes\": [{\"name\": \"a\", \"match\": {\"group\": [\"x\"]}, " HOOK "}]}",
		     "routes[0].match.group: unknown key");
	expect_error(
	    "{\"routes\": [{\"name\": \"a\", \"match\": {\"tags\": [\"mitre.t1059\"]}, " HOOK "}]}",
	    "routes[0].match.tags[0]: an ATT&CK tag");
	expect_error("{\"routes\": [{\"name\": \"a\", \"match\": {\"tags\": [\"attack.execution\", "
		     "\"attack.t105\"]}, " HOOK "}]}",
		     "routes[0].match.tags[1]");
	expect_error(
	    "{\"routes\": [{\"name\": \"a\", \"match\": {\"tags\": [\"attack.t1059.4\"]}, " HOOK
	    "}]}",
	    "routes[0].match.tags[0]");
	expect_error(
	    "{\"routes\": [{\"name\": \"a\", \"match\": {\"tags\": [\"attack.magic\"]}, " HOOK
	    "}]}",
	    "routes[0].match.tags[0]");
	expect_error("{\"routes\": [{\"name\": \"a\", \"match\": {\"groups\": [\"\"]}, " HOOK "}]}",
		     "routes[0].match.groups[0]: a group name");
}

static bool matches(json_t *doc, size_t i, const char *group, int sev, const char *tac,
		    const char *tec)
{
	struct notify_alert_facts f = {group, sev, tac, tec};

	return notify_route_matches(json_array_get(json_object_get(doc, "routes"), i), &f);
}

static void test_matching(void **state)
{
	char err[400] = "";
	json_t *d =
	    norm("{\"routes\": ["
		 "{\"name\": \"all\", " HOOK "},"
		 "{\"name\": \"jp\", \"match\": {\"groups\": [\"jp\", \"jp-dc\"], "
		 "\"min_severity\": \"medium\"}, " HOOK "},"
		 "{\"name\": \"t1059\", \"match\": {\"tags\": [\"attack.t1059\"]}, " HOOK "},"
		 "{\"name\": \"sub\", \"match\": {\"tags\": [\"attack.t1059.004\"]}, " HOOK "},"
		 "{\"name\": \"tactics\", \"match\": {\"tags\": [\"attack.command-and-control\", "
		 "\"attack.stealth\"]}, " HOOK "},"
		 "{\"name\": \"off\", \"enabled\": false, " HOOK "}]}",
		 err, sizeof(err));

	(void)state;
	if (!d)
		fail_msg("%s", err);
	assert_true(matches(d, 0, NULL, DETECT_SEV_INFORMATIONAL, NULL, NULL));
	assert_true(matches(d, 1, "jp", DETECT_SEV_MEDIUM, "", ""));
	assert_true(matches(d, 1, "jp-dc", DETECT_SEV_CRITICAL, "", ""));
	assert_false(matches(d, 1, "jp", DETECT_SEV_LOW, "", ""));
	assert_false(matches(d, 1, "jpx", DETECT_SEV_HIGH, "", ""));
	assert_false(matches(d, 1, NULL, DETECT_SEV_HIGH, "", ""));
	/* A technique tag covers its sub-techniques; a sub-technique tag only itself. */
	assert_true(matches(d, 2, "x", 1, "Execution", "T1059"));
	assert_true(matches(d, 2, "x", 1, "Execution", "T1105,T1059.004"));
	assert_false(matches(d, 2, "x", 1, "Execution", "T10590,T1105"));
	assert_false(matches(d, 2, "x", 1, "Execution", NULL));
	assert_true(matches(d, 3, "x", 1, "", "t1059.004"));
	assert_false(matches(d, 3, "x", 1, "", "T1059"));
	assert_false(matches(d, 3, "x", 1, "", "T1059.003"));
	/* Tactics by their tag, with Sigma's aliases. */
	assert_true(matches(d, 4, "x", 1, "Execution,Command and Control", ""));
	assert_true(matches(d, 4, "x", 1, "Defense Evasion", ""));
	assert_false(matches(d, 4, "x", 1, "Execution", "T1071"));
	assert_false(matches(d, 5, "x", DETECT_SEV_CRITICAL, "", ""));
	json_decref(d);
}

static void test_secrets(void **state)
{
	char err[400] = "";
	json_t *d =
		   norm("{\"routes\": [{\"name\": \"hook\", \"webhook\": {\"url\": \"https://x/\", "
			"\"headers\": {\"Authorization\": \"Bearer s3cret\"}}},"
			" {\"name\": \"mail\", \"email\": {\"smtp_url\": \"smtps://m:465\", "
			"\"from\": \"m@x\", \"to\": [\"a@x\"], \"username\": \"u\", \"password\": "
			"\"hunter2\"}}]}",
			err, sizeof(err)),
	       *m, *back;
	char *text;

	(void)state;
	assert_non_null(d);
	m = notify_routes_masked(d);
	text = json_dumps(m, 0);
	assert_null(strstr(text, "s3cret"));
	assert_null(strstr(text, "hunter2"));
	assert_non_null(strstr(text, NOTIFY_MASK));
	free(text);
	/* The original keeps its secrets. */
	text = json_dumps(d, 0);
	assert_non_null(strstr(text, "hunter2"));
	free(text);
	/* Applying the masked document back keeps the stored secrets. */
	back = notify_routes_normalize(m, err, sizeof(err));
	assert_non_null(back);
	assert_int_equal(notify_routes_unmask(back, d, err, sizeof(err)), 0);
	assert_true(json_equal(back, d));
	json_decref(back);
	/* A masked value with nothing stored is an error. */
	back = notify_routes_normalize(m, err, sizeof(err));
	assert_int_equal(notify_routes_unmask(back, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "routes[0].webhook.headers.Authorization"));
	json_decref(back);
	json_decref(m);
	json_decref(d);
}

static void test_backoff(void **state)
{
	static const int64_t want[] = {30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600};

	(void)state;
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(notify_backoff_ms(30, i + 1), want[i] * 1000);
	assert_int_equal(notify_backoff_ms(0, 1), 30000);
	assert_int_equal(notify_backoff_ms(1, 1), 1000);
	assert_int_equal(notify_backoff_ms(1, 4), 8000);
	assert_int_equal(notify_backoff_ms(1, 100), 3600000);
	assert_int_equal(notify_backoff_ms(3600, 2), 3600000);
	assert_false(notify_give_up(1, 0));
	assert_false(notify_give_up(NOTIFY_MAX_ATTEMPTS - 1, NOTIFY_GIVE_UP_MS - 1));
	assert_true(notify_give_up(NOTIFY_MAX_ATTEMPTS, 0));
	assert_true(notify_give_up(3, NOTIFY_GIVE_UP_MS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults), cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_matching), cmocka_unit_test(test_secrets),
	    cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
