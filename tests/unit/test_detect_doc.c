/* The detection document and its field table: interning, O(1) reset with generation wraparound,
 * value chains, lowercase copies, arena and value limits, and logsource classification. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "detect_doc.h"
#include "detect_fields.h"

static uint32_t intern(struct detect_fields *f, const char *name)
{
	return detect_fields_intern(f, name, strlen(name));
}

static int add(struct detect_doc *doc, const char *name, const char *val)
{
	return detect_doc_add(doc, name, strlen(name), val, strlen(val));
}

/* The values of field name joined with '|', "" when it has none. */
static const char *values(const struct detect_doc *doc, const char *name)
{
	static char buf[4096];
	size_t n = 0;
	uint32_t id = name ? detect_doc_field(doc, name, strlen(name)) : DETECT_FIELD_OTHER;

	buf[0] = '\0';
	for (const struct detect_value *v = detect_doc_first(doc, id); v;
	     v = detect_doc_next(doc, v)) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%.*s", n ? "|" : "", (int)v->len,
				      v->str);
		assert_true(n < sizeof(buf));
	}
	return buf;
}

static void test_fields_table(void **state)
{
	struct detect_fields *f = detect_fields_new();
	char name[64];

	(void)state;
	assert_non_null(f);
	assert_int_equal(detect_fields_count(f), DETECT_FIELD_FIXED_END);
	assert_string_equal(detect_fields_name(f, DETECT_FIELD_OTHER), "");
	assert_string_equal(detect_fields_name(f, DETECT_FIELD_TIMESTAMP), "@timestamp");
	assert_string_equal(detect_fields_name(f, DETECT_FIELD_EVENT_CATEGORY), "event.category");
	assert_string_equal(detect_fields_name(f, DETECT_FIELD_EVENT_ACTION), "event.action");
	assert_string_equal(detect_fields_name(f, DETECT_FIELD_EVENT_TYPE), "event.type");
	assert_string_equal(detect_fields_name(f, DETECT_FIELD_EVENT_DATASET), "event.dataset");
	assert_string_equal(detect_fields_name(f, DETECT_FIELD_EVENT_MODULE), "event.module");
	assert_int_equal(detect_fields_find(f, "event.action", 12), DETECT_FIELD_EVENT_ACTION);

	/* Dense ids from the first free one, stable on repeat, exact comparison. */
	assert_int_equal(intern(f, "process.name"), DETECT_FIELD_FIXED_END);
	assert_int_equal(intern(f, "process.pid"), DETECT_FIELD_FIXED_END + 1);
	assert_int_equal(intern(f, "process.name"), DETECT_FIELD_FIXED_END);
	assert_int_equal(detect_fields_find(f, "Process.name", 12), DETECT_FIELD_NONE);
	assert_int_equal(detect_fields_find(f, "process.nam", 11), DETECT_FIELD_NONE);
	assert_int_equal(detect_fields_find(f, "process.name.x", 14), DETECT_FIELD_NONE);
	/* Not NUL-terminated input. */
	assert_int_equal(detect_fields_find(f, "process.namexyz", 12), DETECT_FIELD_FIXED_END);
	/* The empty name belongs to DETECT_FIELD_OTHER and is never looked up by name. */
	assert_int_equal(detect_fields_find(f, "", 0), DETECT_FIELD_NONE);
	assert_int_equal(intern(f, ""), DETECT_FIELD_NONE);

	/* Growth: many names, all found again with their own ids; the limit holds. */
	for (unsigned i = detect_fields_count(f); i < DETECT_FIELDS_MAX; i++) {
		snprintf(name, sizeof(name), "custom.field_%u.value", i);
		assert_int_equal(intern(f, name), i);
	}
	assert_int_equal(detect_fields_count(f), DETECT_FIELDS_MAX);
	for (unsigned i = DETECT_FIELD_FIXED_END + 2; i < DETECT_FIELDS_MAX; i++) {
		snprintf(name, sizeof(name), "custom.field_%u.value", i);
		assert_int_equal(detect_fields_find(f, name, strlen(name)), i);
		assert_string_equal(detect_fields_name(f, i), name);
	}
	assert_int_equal(intern(f, "one.too.many"), DETECT_FIELD_NONE);
	assert_int_equal(intern(f, "process.pid"), DETECT_FIELD_FIXED_END + 1);
	assert_string_equal(detect_fields_name(f, DETECT_FIELDS_MAX + 5), "");

	assert_false(detect_fields_keep_other(f));
	detect_fields_set_keep_other(f, true);
	assert_true(detect_fields_keep_other(f));
	detect_fields_free(f);
	detect_fields_free(NULL);
}

static void test_doc_add_and_chain(void **state)
{
	struct detect_fields *f = detect_fields_new();
	struct detect_doc *doc;
	uint32_t args;

	(void)state;
	intern(f, "process.name");
	args = intern(f, "process.args");
	doc = detect_doc_new(f);
	assert_non_null(doc);

	assert_int_equal(add(doc, "process.args", "curl"), 0);
	assert_int_equal(add(doc, "process.name", "curl"), 0);
	assert_int_equal(add(doc, "process.args", "-s"), 0);
	assert_int_equal(add(doc, "unknown.field", "dropped"), 0);
	assert_int_equal(add(doc, "process.args", "http://x"), 0);
	assert_int_equal(doc->nvalues, 4);
	assert_string_equal(values(doc, "process.args"), "curl|-s|http://x");
	assert_string_equal(values(doc, "process.name"), "curl");
	assert_string_equal(values(doc, NULL), "");
	assert_null(detect_doc_first(doc, DETECT_FIELD_EVENT_ACTION));
	assert_null(detect_doc_first(doc, 9999));
	assert_int_equal(detect_doc_field(doc, "unknown.field", 13), DETECT_FIELD_NONE);
	assert_int_equal(detect_doc_add_id(doc, 9999, "x", 1), -EINVAL);

	/* A field interned after the doc was made is beyond its arrays: treated as unknown. */
	intern(f, "late.field");
	assert_int_equal(detect_doc_field(doc, "late.field", 10), DETECT_FIELD_NONE);
	assert_int_equal(add(doc, "late.field", "x"), 0);
	assert_int_equal(doc->nvalues, 4);

	/* keep_other: unknown names go under DETECT_FIELD_OTHER, in order. */
	detect_fields_set_keep_other(f, true);
	assert_int_equal(add(doc, "unknown.a", "one"), 0);
	assert_int_equal(add(doc, "unknown.b", "two"), 0);
	assert_string_equal(values(doc, NULL), "one|two");
	detect_fields_set_keep_other(f, false);

	/* Copies live in the arena, NUL-terminated. */
	{
		char tmp[] = "scratch";
		const struct detect_value *v;

		assert_int_equal(detect_doc_add_copy(doc, args, tmp, 7), 0);
		memset(tmp, 'x', 7);
		assert_string_equal(values(doc, "process.args"), "curl|-s|http://x|scratch");
		for (v = detect_doc_first(doc, args); detect_doc_next(doc, v);)
			v = detect_doc_next(doc, v);
		assert_true(v->str >= doc->arena && v->str < doc->arena + DETECT_DOC_ARENA);
		assert_int_equal(v->str[v->len], '\0');
	}

	/* Reset forgets everything. */
	detect_doc_reset(doc);
	assert_int_equal(doc->nvalues, 0);
	assert_int_equal(doc->arena_used, 0);
	assert_null(detect_doc_first(doc, args));
	assert_string_equal(values(doc, "process.name"), "");
	assert_int_equal(add(doc, "process.name", "bash"), 0);
	assert_string_equal(values(doc, "process.name"), "bash");
	assert_string_equal(values(doc, "process.args"), "");
	detect_doc_free(doc);
	detect_doc_free(NULL);
	detect_fields_free(f);
}

static void test_doc_generation_wraparound(void **state)
{
	struct detect_fields *f = detect_fields_new();
	struct detect_doc *doc;
	uint32_t a, b;

	(void)state;
	a = intern(f, "a");
	b = intern(f, "b");
	doc = detect_doc_new(f);
	assert_non_null(doc);

	/* A value of b from generation 1, never touched again... */
	assert_int_equal(doc->cur_gen, 1);
	assert_int_equal(add(doc, "b", "ancient"), 0);
	assert_int_equal(doc->gen[b], 1);
	/* ...then 2^32 - 2 events later: */
	doc->cur_gen = UINT32_MAX;
	doc->nvalues = 0;
	assert_null(detect_doc_first(doc, b));
	assert_int_equal(add(doc, "a", "last"), 0);
	assert_string_equal(values(doc, "a"), "last");
	detect_doc_reset(doc);
	/* The counter wrapped: generation 1 is current again, so stale gens must have been cleared
	 * or b's old head would come back. */
	assert_int_equal(doc->cur_gen, 1);
	assert_null(detect_doc_first(doc, a));
	assert_null(detect_doc_first(doc, b));
	assert_int_equal(add(doc, "a", "new"), 0);
	assert_string_equal(values(doc, "a"), "new");
	assert_string_equal(values(doc, "b"), "");
	detect_doc_reset(doc);
	assert_int_equal(doc->cur_gen, 2);
	assert_string_equal(values(doc, "a"), "");
	detect_doc_free(doc);
	detect_fields_free(f);
}

static void test_value_lower(void **state)
{
	struct detect_fields *f = detect_fields_new();
	struct detect_doc *doc;
	struct detect_value *v;
	const char *low;

	(void)state;
	intern(f, "x");
	doc = detect_doc_new(f);
	assert_non_null(doc);

	const char *already = "/usr/bin/curl -s";

	add(doc, "x", already);
	v = &doc->values[0];
	assert_ptr_equal(detect_value_lower(doc, v), already);
	assert_int_equal(doc->arena_used, 0);

	add(doc, "x", "C:\\Windows\\CMD.EXE ÄB");
	v = &doc->values[1];
	low = detect_value_lower(doc, v);
	assert_ptr_not_equal(low, v->str);
	assert_memory_equal(low, "c:\\windows\\cmd.exe Äb", v->len);
	assert_ptr_equal(detect_value_lower(doc, v), low); /* cached */
	assert_int_equal(doc->arena_used, (size_t)v->len + 1);

	/* Arena exhausted: the value itself comes back, and nothing is cached. */
	add(doc, "x", "UPPER");
	v = &doc->values[2];
	while (detect_doc_alloc(doc, 1000))
		;
	while (detect_doc_alloc(doc, 0))
		;
	assert_ptr_equal(detect_value_lower(doc, v), v->str);
	assert_null(v->lower);
	detect_doc_reset(doc);
	add(doc, "x", "UPPER");
	v = &doc->values[0];
	assert_memory_equal(detect_value_lower(doc, v), "upper", 5);
	detect_doc_free(doc);
	detect_fields_free(f);
}

static void test_limits(void **state)
{
	struct detect_fields *f = detect_fields_new();
	struct detect_doc *doc;
	static char big[DETECT_DOC_ARENA];
	uint32_t x;
	unsigned i;

	(void)state;
	x = intern(f, "x");
	doc = detect_doc_new(f);
	assert_non_null(doc);

	/* Values: the 513th is refused and counted; earlier ones stay. */
	for (i = 0; i < DETECT_DOC_MAX_VALUES; i++)
		assert_int_equal(add(doc, "x", "v"), 0);
	assert_int_equal(add(doc, "x", "w"), -ENOSPC);
	assert_int_equal(detect_doc_add_copy(doc, x, "w", 1), -ENOSPC);
	assert_int_equal(doc->overflow, 2);
	assert_int_equal(doc->nvalues, DETECT_DOC_MAX_VALUES);
	i = 0;
	for (const struct detect_value *v = detect_doc_first(doc, x); v;
	     v = detect_doc_next(doc, v))
		i++;
	assert_int_equal(i, DETECT_DOC_MAX_VALUES);

	/* Arena: a copy that does not fit is refused and counted; a smaller one still fits. */
	detect_doc_reset(doc);
	assert_int_equal(doc->overflow, 0);
	memset(big, 'a', sizeof(big));
	assert_int_equal(detect_doc_add_copy(doc, x, big, sizeof(big)), -ENOSPC);
	assert_int_equal(doc->overflow, 1);
	assert_int_equal(detect_doc_add_copy(doc, x, big, sizeof(big) - 1), 0);
	assert_int_equal(doc->arena_used, DETECT_DOC_ARENA);
	assert_null(detect_doc_alloc(doc, 0));
	assert_int_equal(detect_doc_add_copy(doc, x, "", 0), -ENOSPC);
	assert_int_equal(doc->nvalues, 1);
	detect_doc_free(doc);
	detect_fields_free(f);
}

struct class_case {
	const char *module, *category[2], *action, *type[2], *dataset, *dns;
	const char *product, *service;
	const char *expect; /* categories joined by ',' */
	bool ok;
};

/* clang-format off */
static const struct class_case cases[] = {
	/* Mamori's own actions with their ECS category. */
	{NULL, {"process"}, "exec", {"start"}, NULL, NULL, "linux", "", "process_creation", true},
	{NULL, {"process"}, "fork", {"start"}, NULL, NULL, "linux", "", "process_fork", true},
	{NULL, {"process"}, "end", {"end"}, NULL, NULL, "linux", "", "process_termination", true},
	{NULL, {"process"}, "ptrace", {"access"}, NULL, NULL, "linux", "", "process_access", true},
	{NULL, {"process"}, "uid_change", {"change"}, NULL, NULL, "linux", "", "privilege_change", true},
	{NULL, {"process"}, "gid_change", {"change"}, NULL, NULL, "linux", "", "privilege_change", true},
	{NULL, {"process"}, "memfd_create", {"creation"}, NULL, NULL, "linux", "", "memfd_create", true},
	{NULL, {"process"}, "bpf_load", {"info"}, NULL, NULL, "linux", "", "bpf_load", true},
	{NULL, {"driver"}, "load_module", {"info"}, NULL, NULL, "linux", "", "driver_load", true},
	{"mamori", {"file"}, "creation", {"creation"}, NULL, NULL, "linux", "",
	 "file_event,file_create", true},
	{NULL, {"file"}, "modification", {"change"}, NULL, NULL, "linux", "",
	 "file_event,file_change", true},
	{NULL, {"file"}, "rename", {"change"}, NULL, NULL, "linux", "", "file_event,file_rename", true},
	{NULL, {"file"}, "deletion", {"deletion"}, NULL, NULL, "linux", "", "file_delete", true},
	{NULL, {"file"}, "attributes_modification", {"change"}, NULL, NULL, "linux", "",
	 "file_change", true},
	{"endpoint", {"network"}, "connection_attempted", {"start", "connection"}, NULL, NULL,
	 "linux", "", "network_connection", true},
	{NULL, {"network"}, "connection_accepted", {"start", "connection"}, NULL, NULL, "linux", "",
	 "network_connection", true},
	{NULL, {"network"}, "dns_query", {"protocol"}, NULL, NULL, "linux", "", "dns_query,dns", true},
	{NULL, {"network"}, "disconnect_received", {"end", "connection"}, NULL, NULL, "linux", "", "",
	 false},
	{NULL, {"network"}, "listen", {"info"}, NULL, NULL, "linux", "", "", false},
	{NULL, {"host"}, "agent_drops", {"info"}, NULL, NULL, "linux", "", "", false},
	/* Without event.category (hand-written JSON), the action alone decides. */
	{NULL, {NULL}, "exec", {NULL}, NULL, NULL, "linux", "", "process_creation", true},
	{NULL, {NULL}, "rename", {NULL}, NULL, NULL, "linux", "", "file_event,file_rename", true},
	/* A category that contradicts the action wins: fall back to the generic rules. */
	{NULL, {"file"}, "exec", {"creation"}, NULL, NULL, "linux", "", "file_event,file_create", true},
	/* Other producers: category and type. */
	{"auditd", {"process"}, "executed", {"start"}, NULL, NULL, "linux", "auditd",
	 "process_creation", true},
	{"sysmon", {"process"}, "Process Create", {"start"}, NULL, NULL, "sysmon", "",
	 "process_creation", true},
	{"Zeek", {"network"}, NULL, {"protocol"}, "zeek.dns", NULL, "zeek", "", "dns_query,dns", true},
	{"packetbeat", {"network"}, NULL, {"protocol"}, NULL, "example.com", "packetbeat", "",
	 "dns_query,dns", true},
	{"suricata", {"network"}, NULL, {"connection", "start"}, NULL, NULL, "suricata", "",
	 "network_connection", true},
	{"x", {"file"}, NULL, {"deletion"}, NULL, NULL, "x", "", "file_delete", true},
	{"x", {"file"}, NULL, {"change"}, NULL, NULL, "x", "", "file_event,file_change", true},
	{"x", {"process"}, NULL, {"end"}, NULL, NULL, "x", "", "process_termination", true},
	{"x", {"authentication"}, "login", {"start"}, NULL, NULL, "x", "", "", false},
	{NULL, {NULL}, NULL, {NULL}, NULL, NULL, "linux", "", "", false},
};
/* clang-format on */

static void test_classify(void **state)
{
	struct detect_fields *f = detect_fields_new();
	struct detect_doc *doc;

	(void)state;
	intern(f, "dns.question.name");
	doc = detect_doc_new(f);
	assert_non_null(doc);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct class_case *c = &cases[i];
		char got[256] = "";
		size_t n = 0;
		bool ok;

		detect_doc_reset(doc);
		if (c->module)
			add(doc, "event.module", c->module);
		for (int k = 0; k < 2; k++) {
			if (c->category[k])
				add(doc, "event.category", c->category[k]);
			if (c->type[k])
				add(doc, "event.type", c->type[k]);
		}
		if (c->action)
			add(doc, "event.action", c->action);
		if (c->dataset)
			add(doc, "event.dataset", c->dataset);
		if (c->dns)
			add(doc, "dns.question.name", c->dns);
		ok = detect_doc_classify_ecs(doc);
		for (unsigned k = 0; k < doc->src.ncategory; k++)
			n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s", k ? "," : "",
					      doc->src.category[k]);
		if (ok != c->ok || strcmp(got, c->expect) || strcmp(doc->src.product, c->product) ||
		    strcmp(doc->src.service, c->service))
			fail_msg("case %zu (%s): got %d '%s' %s/%s, want %d '%s' %s/%s", i,
				 c->action ? c->action : "-", ok, got, doc->src.product,
				 doc->src.service, c->ok, c->expect, c->product, c->service);
	}
	/* Reset clears the logsource. */
	detect_doc_reset(doc);
	assert_string_equal(doc->src.product, "");
	assert_int_equal(doc->src.ncategory, 0);
	detect_doc_free(doc);
	detect_fields_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fields_table),
	    cmocka_unit_test(test_doc_add_and_chain),
	    cmocka_unit_test(test_doc_generation_wraparound),
	    cmocka_unit_test(test_value_lower),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_classify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
