/* Policy documents: validation with defaults and precise errors, exclusion matching with
 * expiry, and the automatic responses chosen for an alert. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "detect.h"
#include "policy_doc.h"

#define NOW 1700000000000LL

static json_t *norm(const char *text, char *err, size_t errlen)
{
	json_t *in = json_loads(text, 0, NULL), *out;

	assert_non_null(in);
	out = policy_doc_normalize(in, "alice", NOW, err, errlen);
	json_decref(in);
	return out;
}

static void expect_error(const char *text, const char *msg)
{
	char err[300] = "";
	json_t *p = norm(text, err, sizeof(err));

	if (p || !strstr(err, msg))
		fail_msg("%s: expected an error with \"%s\", got \"%s\"", text, msg, err);
}

static void test_defaults(void **state)
{
	char err[300];
	json_t *p = norm("{}", err, sizeof(err)), *d = policy_doc_default();

	(void)state;
	assert_non_null(p);
	assert_true(json_equal(p, d));
	assert_string_equal(json_string_value(json_object_get(p, "mode")), "detect");
	assert_true(json_is_true(json_object_get(p, "quarantine")));
	assert_false(policy_doc_is_block(p));
	json_decref(p);
	json_decref(d);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("[]", "JSON object");
	expect_error("{\"moed\": \"block\"}", "moed: unknown key");
	expect_error("{\"mode\": \"prevent\"}", "mode: detect or block");
	expect_error("{\"quarantine\": \"yes\"}", "quarantine: true or false");
	expect_error("{\"auto_response\": [{\"actions\": [\"kill\"]}]}",
		     "auto_response[0]: needs min_severity or rules");
	expect_error("{\"auto_response\": [{\"min_severity\": \"huge\", \"actions\": [\"kill\"]}]}",
		     "auto_response[0].min_severity");
	expect_error("{\"auto_response\": [{\"min_severity\": \"high\", \"actions\": [\"nuke\"]}]}",
		     "auto_response[0].actions[0]");
	expect_error("{\"auto_response\": [{\"min_severity\": \"high\", \"actions\": []}]}",
		     "auto_response[0].actions: a non-empty list");
	expect_error(
	    "{\"exclusions\": [{\"type\": \"file\", \"value\": \"/x\", \"reason\": \"r\"}]}",
	    "exclusions[0].type");
	expect_error(
	    "{\"exclusions\": [{\"type\": \"path\", \"value\": \"x\", \"reason\": \"r\"}]}",
	    "absolute path");
	expect_error(
	    "{\"exclusions\": [{\"type\": \"hash\", \"value\": \"abc\", \"reason\": \"r\"}]}",
	    "exclusions[0].value: a SHA-256");
	expect_error("{\"exclusions\": [{\"type\": \"rule\", \"value\": \"r1\"}]}",
		     "exclusions[0].reason: required");
	expect_error("{\"exclusions\": [{\"type\": \"rule\", \"value\": \"r1\", \"reason\": \"r\", "
		     "\"expires\": \"someday\"}]}",
		     "exclusions[0].expires");
	expect_error("{\"exclusions\": [{\"type\": \"rule\", \"value\": \"r1\", \"reason\": \"r\", "
		     "\"colour\": 1}]}",
		     "exclusions[0].colour: unknown key");
	expect_error("{\"prevent_rules\": [\"\"]}", "prevent_rules[0]");
	expect_error("{\"isolation\": {\"allow\": [\"10.0.0.0/8; drop\"]}}", "isolation.allow[0]");
	expect_error("{\"isolation\": {\"deny\": []}}", "isolation.deny: unknown key");
}

static void test_normalized_exclusions(void **state)
{
	char err[300];
	json_t *p = norm("{\"exclusions\": ["
			 "{\"type\": \"hash\", \"value\": "
			 "\"ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789\", "
			 "\"reason\": \"r\", \"expires\": \"1d\"},"
			 "{\"type\": \"rule\", \"value\": \"r1\", \"reason\": \"r\", \"author\": "
			 "\"bob\", \"expires\": \"2030-01-01T00:00:00Z\"}],"
			 "\"prevent_rules\": [\"a\", \"a\", \"b\"]}",
			 err, sizeof(err));
	json_t *e0, *e1;

	(void)state;
	assert_non_null(p);
	e0 = json_array_get(json_object_get(p, "exclusions"), 0);
	e1 = json_array_get(json_object_get(p, "exclusions"), 1);
	assert_string_equal(json_string_value(json_object_get(e0, "value")),
			    "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
	assert_string_equal(json_string_value(json_object_get(e0, "author")), "alice");
	assert_int_equal(json_integer_value(json_object_get(e0, "expires")), NOW + 86400000LL);
	assert_string_equal(json_string_value(json_object_get(e1, "author")), "bob");
	assert_int_equal(json_integer_value(json_object_get(e1, "expires")), 1893456000000LL);
	assert_int_equal(json_array_size(json_object_get(p, "prevent_rules")), 2);
	json_decref(p);
}

static void test_excluded(void **state)
{
	char err[300];
	json_t *p = norm(
	    "{\"disabled_rules\": [\"noisy\"], \"exclusions\": ["
	    "{\"type\": \"path\", \"value\": \"/opt/backup/*\", \"reason\": \"r\"},"
	    "{\"type\": \"command_line\", \"value\": \"*--dry-run*\", \"reason\": \"r\"},"
	    "{\"type\": \"hash\", \"value\": "
	    "\"1111111111111111111111111111111111111111111111111111111111111111\", \"reason\": "
	    "\"r\"},"
	    "{\"type\": \"rule\", \"value\": \"old\", \"reason\": \"r\", \"expires\": 1000}]}",
	    err, sizeof(err));
	struct policy_alert a = {.rule_id = "r1", .severity = DETECT_SEV_HIGH};

	(void)state;
	assert_non_null(p);
	assert_int_equal(policy_match_excluded(p, &a, NOW), -1);
	a.executable = "/opt/backup/bin/agent";
	assert_int_equal(policy_match_excluded(p, &a, NOW), 0);
	a.executable = "/opt/backupx/agent";
	assert_int_equal(policy_match_excluded(p, &a, NOW), -1);
	a.file_path = "/opt/backup/data/x";
	assert_int_equal(policy_match_excluded(p, &a, NOW), 0);
	a.file_path = NULL;
	a.command_line = "rsync --dry-run /a /b";
	assert_int_equal(policy_match_excluded(p, &a, NOW), 1);
	a.command_line = NULL;
	a.file_sha256 = "1111111111111111111111111111111111111111111111111111111111111111";
	assert_int_equal(policy_match_excluded(p, &a, NOW), 2);
	a.file_sha256 = NULL;
	/* Expired: no longer excludes. */
	a.rule_id = "old";
	assert_int_equal(policy_match_excluded(p, &a, NOW), -1);
	assert_int_equal(policy_match_excluded(p, &a, 999), 3);
	a.rule_id = "noisy";
	assert_int_equal(policy_match_excluded(p, &a, NOW), -2);
	json_decref(p);
}

#define ACTIONS_DOC                                                                                \
	"{\"mode\": \"%s\", \"quarantine\": %s, \"auto_response\": ["                              \
	"{\"min_severity\": \"high\", \"actions\": [\"kill_tree\", \"quarantine\"]},"              \
	"{\"rules\": [\"revshell\"], \"actions\": [\"isolate\"]}]}"

static void test_actions(void **state)
{
	char err[300];
	char text[512];
	struct policy_alert a = {.rule_id = "r1", .severity = DETECT_SEV_MEDIUM};
	json_t *p;

	(void)state;
	snprintf(text, sizeof(text), ACTIONS_DOC, "detect", "true");
	p = norm(text, err, sizeof(err));
	assert_non_null(p);
	a.severity = DETECT_SEV_CRITICAL;
	assert_int_equal(policy_doc_actions(p, &a), 0); /* detect mode: never */
	json_decref(p);

	snprintf(text, sizeof(text), ACTIONS_DOC, "block", "true");
	p = norm(text, err, sizeof(err));
	assert_non_null(p);
	a.severity = DETECT_SEV_MEDIUM;
	assert_int_equal(policy_doc_actions(p, &a), 0);
	a.severity = DETECT_SEV_HIGH;
	assert_int_equal(policy_doc_actions(p, &a), POLICY_ACT_KILL_TREE | POLICY_ACT_QUARANTINE);
	a.rule_id = "revshell";
	a.severity = DETECT_SEV_LOW;
	assert_int_equal(policy_doc_actions(p, &a), POLICY_ACT_ISOLATE);
	a.severity = DETECT_SEV_CRITICAL;
	assert_int_equal(policy_doc_actions(p, &a),
			 POLICY_ACT_KILL_TREE | POLICY_ACT_QUARANTINE | POLICY_ACT_ISOLATE);
	json_decref(p);

	/* Quarantine off (another antivirus quarantines): never chosen. */
	snprintf(text, sizeof(text), ACTIONS_DOC, "block", "false");
	p = norm(text, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(policy_doc_actions(p, &a), POLICY_ACT_KILL_TREE | POLICY_ACT_ISOLATE);
	json_decref(p);
	assert_string_equal(policy_action_name(POLICY_ACT_KILL_TREE), "kill_tree");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_normalized_exclusions),
	    cmocka_unit_test(test_excluded),
	    cmocka_unit_test(test_actions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
