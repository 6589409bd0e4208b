/* The prefilter's gate (detect_engine.c, build_gate): a rule whose literals are all common gets
 * the literals of another operand its condition requires, and a candidate none of whose gate
 * literals the scan found is dropped unevaluated. Checks which rules get one (never from a NOT,
 * a keyword, a short literal or an OR at the top; an OR or a list of maps inside counts as one
 * operand), that gated candidates are counted, and that every event the rules match still
 * matches: case folding, several gate literals, gates on another field. Also a literal too long
 * for a scanner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "detect.h"
#include "detect_doc_json.h"

/* Every rule here has process_creation literals only; the comment says which set the prefilter
 * picks and what gates it. */
static const char RULES[] =
    /* '/cat' (common, at an end) picked; gate: '/usr/bin/' or '/var/log' in the command line */
    "title: cat of system paths\n"
    "id: gate-and\n"
    "logsource: {product: linux, category: process_creation}\n"
    "detection:\n"
    "  selection_img:\n"
    "    Image|endswith: ['/cat', '/grep']\n"
    "  selection_paths:\n"
    "    CommandLine|contains: ['/usr/bin/', '/var/log']\n"
    "  condition: selection_img and selection_paths\n"
    "level: medium\n"
    "---\n"
    /* one map: '/rm' picked; gate: the other item, '/var/log' */
    "title: rm in var log\n"
    "id: gate-map\n"
    "logsource: {product: linux, category: process_creation}\n"
    "detection:\n"
    "  selection:\n"
    "    Image|endswith: '/rm'\n"
    "    CommandLine|contains: '/var/log'\n"
    "  condition: selection\n"
    "level: medium\n"
    "---\n"
    /* all of: '/grep' picked; gate: the parent's '/bash' */
    "title: grep from bash\n"
    "id: gate-allof\n"
    "logsource: {product: linux, category: process_creation}\n"
    "detection:\n"
    "  selection_a:\n"
    "    Image|endswith: '/grep'\n"
    "  selection_b:\n"
    "    ParentImage|endswith: '/bash'\n"
    "  condition: all of selection_*\n"
    "level: medium\n"
    "---\n"
    /* the other operand is a NOT: no gate */
    "title: cat not of usr bin\n"
    "id: nogate-not\n"
    "logsource: {product: linux, category: process_creation}\n"
    "detection:\n"
    "  selection:\n"
    "    Image|endswith: '/cat'\n"
    "  filter:\n"
    "    CommandLine|contains: '/usr/bin/'\n"
    "  condition: selection and not filter\n"
    "level: low\n"
    "---\n"
    /* an OR at the top: no operand is required */
    "title: sed and var log, or tail\n"
    "id: nogate-or\n"
    "logsource: {product: linux, category: process_creation}\n"
    "detection:\n"
    "  a:\n"
    "    Image|endswith: '/sed'\n"
    "  b:\n"
    "    CommandLine|contains: '/var/log'\n"
    "  c:\n"
    "    Image|endswith: '/tail'\n"
    "  condition: (a and b) or c\n"
    "level: low\n"
    "---\n"
    /* '/netcat' is rare enough: no gate */
    "title: netcat with a shell\n"
    "id: nogate-rare\n"
    "logsource: {product: linux, category: process_creation}\n"
    "detection:\n"
    "  selection:\n"
    "    Image|endswith: '/netcat'\n"
    "    CommandLine|contains: '/usr/bin/'\n"
    "  condition: selection\n"
    "level: high\n"
    "---\n"
    /* the other operand is short and anywhere (a probe per byte): no gate */
    "title: ls recursive\n"
    "id: nogate-short\n"
    "logsource: {product: linux, category: process_creation}\n"
    "detection:\n"
    "  selection:\n"
    "    Image|endswith: '/ls'\n"
    "    CommandLine|contains: ' -R'\n"
    "  condition: selection\n"
    "level: low\n";

struct hits {
	char ids[256];
};

static int on_hit(void *ctx, const struct detect_hit *hit)
{
	struct hits *h = ctx;
	size_t n = strlen(h->ids);
	snprintf(h->ids + n, sizeof(h->ids) - n, "%s%s", n ? "," : "", hit->rule->id);
	return 0;
}

static struct detect_engine *engine(void)
{
	struct detect_engine *e = detect_engine_new();
	assert_non_null(e);
	assert_int_equal(detect_engine_set_behaviour(e, false), 0);
	assert_int_equal(detect_engine_add_yaml(e, "gate.yml", RULES, strlen(RULES)), 7);
	assert_int_equal(detect_engine_finish(e), 0);
	return e;
}

/* The ids of the rules one exec event matches, in rule order; the ctx's counts after it. */
static void match(struct detect_ctx *c, const char *image, const char *cmdline, const char *parent,
		  struct hits *h)
{
	char json[1024], err[128];
	int n = snprintf(json, sizeof(json),
			 "{\"event\":{\"category\":[\"process\"],\"type\":[\"start\"],"
			 "\"action\":\"exec\"},\"process\":{\"executable\":\"%s\","
			 "\"command_line\":\"%s\",\"parent\":{\"executable\":\"%s\"}}}",
			 image, cmdline, parent);
	assert_true(n > 0 && (size_t)n < sizeof(json));
	assert_int_equal(detect_doc_from_json(detect_ctx_doc(c), json, (size_t)n, err, sizeof(err)),
			 0);
	h->ids[0] = 0;
	assert_true(detect_ctx_match(c, on_hit, h) >= 0);
}

static void test_which_rules_get_a_gate(void **state)
{
	(void)state;
	struct detect_engine *e = engine();
	struct detect_stats st;
	detect_engine_stats(e, &st);
	assert_int_equal(st.rules, 7);
	assert_int_equal(st.gated, 3); /* gate-and, gate-map, gate-allof */
	assert_int_equal(st.unfiltered, 0);
	detect_engine_free(e);
}

struct cse {
	const char *image, *cmdline, *parent;
	const char *want; /* rule ids, in rule order */
	uint64_t gated;	  /* candidates the gate dropped */
};

/* Each case's hits and gated candidates as it says; the total gated. */
static uint64_t run_cases(struct detect_ctx *c, const struct cse *cases, size_t n)
{
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		struct hits h;
		uint64_t ev0, g0, ev1, g1;
		detect_ctx_cand_stats(c, &ev0, &g0);
		match(c, cases[i].image, cases[i].cmdline, cases[i].parent, &h);
		detect_ctx_cand_stats(c, &ev1, &g1);
		if (strcmp(h.ids, cases[i].want) != 0 || g1 - g0 != cases[i].gated)
			fail_msg("case %zu (%s | %s): hits '%s', want '%s'; gated %llu, want %llu",
				 i, cases[i].image, cases[i].cmdline, h.ids, cases[i].want,
				 (unsigned long long)(g1 - g0), (unsigned long long)cases[i].gated);
		total += g1 - g0;
	}
	return total;
}

static void test_matches_and_gated_counts(void **state)
{
	(void)state;
	static const struct cse cases[] = {
	    /* every gated rule matches when both its parts are there */
	    {"/usr/bin/cat", "cat /usr/bin/x", "/sbin/init", "gate-and", 0},
	    {"/usr/bin/grep", "grep a /var/log/syslog", "/usr/bin/bash", "gate-and,gate-allof", 0},
	    {"/usr/bin/rm", "rm -f /var/log/old.1", "/sbin/init", "gate-map", 0},
	    /* case folded on both sides */
	    {"/USR/BIN/CAT", "CAT /VAR/LOG/MESSAGES", "/sbin/init", "gate-and,nogate-not", 0},
	    /* the second literal of the gate */
	    {"/bin/cat", "cat /var/log/dmesg", "/sbin/init", "gate-and,nogate-not", 0},
	    /* only the picked literal: dropped unevaluated */
	    {"/usr/bin/cat", "cat notes.txt", "/sbin/init", "nogate-not", 1},
	    {"/usr/bin/grep", "grep x notes.txt", "/sbin/init", "", 2},
	    {"/usr/bin/rm", "rm -f notes.txt", "/sbin/init", "", 1},
	    /* a gate literal on the wrong field does not open it */
	    {"/usr/bin/grep", "grep /bash /var/log", "/usr/bin/python3", "gate-and", 1},
	    /* no gate: evaluated as before */
	    {"/usr/bin/tail", "tail -f x", "/sbin/init", "nogate-or", 0},
	    {"/usr/bin/sed", "sed -n p /var/log/x", "/sbin/init", "nogate-or", 0},
	    {"/usr/bin/ls", "ls -R /", "/sbin/init", "nogate-short", 0},
	    {"/usr/bin/netcat", "netcat /usr/bin/", "/sbin/init", "nogate-rare", 0},
	    /* no picked literal: no candidate at all */
	    {"/usr/bin/vim", "vim /var/log/x /usr/bin/y", "/usr/bin/bash", "", 0},
	};
	struct detect_engine *e = engine();
	struct detect_ctx *c = detect_ctx_new(e);
	assert_non_null(c);
	assert_int_equal(run_cases(c, cases, sizeof(cases) / sizeof(cases[0])), 5);
	detect_ctx_free(c);
	detect_engine_free(e);
}

/* Gates whose operand is an OR or a list of maps (the union of their sides), and a literal too
 * long for a scanner (the rule is then evaluated on every event, and the set still builds). */
static void test_unions_and_long_literal(void **state)
{
	(void)state;
	static char rules[8192];
	char big[4200 + 1];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	int n = snprintf(rules, sizeof(rules),
			 "title: cat, and usr bin or from bash\n"
			 "id: gate-or\n"
			 "logsource: {product: linux, category: process_creation}\n"
			 "detection:\n"
			 "  sel:\n"
			 "    Image|endswith: '/cat'\n"
			 "  a:\n"
			 "    CommandLine|contains: '/usr/bin/'\n"
			 "  b:\n"
			 "    ParentImage|endswith: '/bash'\n"
			 "  condition: sel and (a or b)\n"
			 "---\n"
			 "title: grep, and var log or from bash\n"
			 "id: gate-list\n"
			 "logsource: {product: linux, category: process_creation}\n"
			 "detection:\n"
			 "  sel:\n"
			 "    Image|endswith: '/grep'\n"
			 "  other:\n"
			 "    - CommandLine|contains: '/var/log'\n"
			 "    - ParentImage|endswith: '/bash'\n"
			 "  condition: sel and other\n"
			 "---\n"
			 "title: long literal\n"
			 "id: long\n"
			 "logsource: {product: linux, category: process_creation}\n"
			 "detection:\n"
			 "  sel:\n"
			 "    CommandLine|contains: '%s'\n"
			 "  condition: sel\n",
			 big);
	assert_true(n > 0 && (size_t)n < sizeof(rules));
	struct detect_engine *e = detect_engine_new();
	assert_non_null(e);
	assert_int_equal(detect_engine_set_behaviour(e, false), 0);
	assert_int_equal(detect_engine_add_yaml(e, "unions.yml", rules, (size_t)n), 3);
	assert_int_equal(detect_engine_finish(e), 0);
	struct detect_stats st;
	detect_engine_stats(e, &st);
	assert_int_equal(st.gated, 2);
	assert_int_equal(st.unfiltered, 1); /* the long literal's rule */
	struct detect_ctx *c = detect_ctx_new(e);
	assert_non_null(c);
	static const struct cse cases[] = {
	    {"/usr/bin/cat", "cat /usr/bin/x", "/sbin/init", "gate-or", 0},
	    {"/usr/bin/cat", "cat x", "/usr/bin/bash", "gate-or", 0},
	    {"/usr/bin/cat", "cat x", "/sbin/init", "", 1},
	    {"/usr/bin/grep", "grep x /var/log/syslog", "/sbin/init", "gate-list", 0},
	    {"/usr/bin/grep", "grep x y", "/bin/bash", "gate-list", 0},
	    {"/usr/bin/grep", "grep x y", "/usr/sbin/sshd", "", 1},
	};
	assert_int_equal(run_cases(c, cases, sizeof(cases) / sizeof(cases[0])), 2);
	/* the long literal, found */
	static char cmd[sizeof(big) + 8];
	snprintf(cmd, sizeof(cmd), "echo %s", big);
	char json[sizeof(cmd) + 256], err[128];
	n = snprintf(json, sizeof(json),
		     "{\"event\":{\"category\":[\"process\"],\"type\":[\"start\"]},"
		     "\"process\":{\"executable\":\"/bin/echo\",\"command_line\":\"%s\"}}",
		     cmd);
	assert_true(n > 0 && (size_t)n < sizeof(json));
	assert_int_equal(detect_doc_from_json(detect_ctx_doc(c), json, (size_t)n, err, sizeof(err)),
			 0);
	struct hits h = {{0}};
	assert_true(detect_ctx_match(c, on_hit, &h) >= 0);
	assert_string_equal(h.ids, "long");
	detect_ctx_free(c);
	detect_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_which_rules_get_a_gate),
	    cmocka_unit_test(test_matches_and_gated_counts),
	    cmocka_unit_test(test_unions_and_long_literal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
