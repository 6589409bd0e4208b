/* The documents response and policy take from users and the server: a group policy
 * (policy_doc_normalize), notification routes (notify_routes_normalize) and an isolation spec
 * (isolate_spec_from_json, isolate_rules_build). Any bytes are refused cleanly or accepted; an
 * accepted document normalizes to itself again, and an accepted isolation spec survives its
 * JSON form and always yields a ruleset. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dynbuf.h"
#include "isolate_rules.h"
#include "notify_route.h"
#include "policy_doc.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000000LL

static void check_policy(json_t *doc)
{
	char err[300] = "";
	json_t *a = policy_doc_normalize(doc, "fuzz", NOW, err, sizeof(err)), *b;
	struct policy_alert al = {.rule_id = "r", .severity = 3, .executable = "/tmp/x",
				  .command_line = "x --y", .file_path = "/tmp/x"};

	if (!a) {
		if (!err[0])
			abort(); /* refused without saying why */
		return;
	}
	b = policy_doc_normalize(a, "other", NOW, err, sizeof(err));
	if (!b || !json_equal(a, b))
		abort();
	(void)policy_match_excluded(a, &al, NOW);
	(void)policy_doc_actions(a, &al);
	json_decref(a);
	json_decref(b);
}

static void check_routes(json_t *doc)
{
	char err[300] = "";
	json_t *a = notify_routes_normalize(doc, err, sizeof(err)), *b, *m;

	if (!a) {
		if (!err[0])
			abort();
		return;
	}
	b = notify_routes_normalize(a, err, sizeof(err));
	if (!b || !json_equal(a, b))
		abort();
	m = notify_routes_masked(a);
	json_decref(m);
	json_decref(a);
	json_decref(b);
}

static void check_isolation(json_t *doc)
{
	struct isolate_spec sp, back;
	char err[300] = "";
	struct dynbuf rules;
	json_t *j;

	if (isolate_spec_from_json(doc, &sp, err, sizeof(err))) {
		if (!err[0])
			abort();
		return;
	}
	j = isolate_spec_to_json(&sp);
	if (!j || isolate_spec_from_json(j, &back, err, sizeof(err)) ||
	    back.nservers != sp.nservers || back.nallow != sp.nallow || back.ndns != sp.ndns)
		abort();
	json_decref(j);
	dynbuf_init(&rules, 1 << 20);
	if (isolate_rules_build(&sp, &rules) || !rules.data ||
	    !strstr(rules.data, "policy drop;"))
		abort();
	dynbuf_release(&rules);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

	if (!doc)
		return 0;
	check_policy(doc);
	check_routes(doc);
	check_isolation(doc);
	json_decref(doc);
	return 0;
}
