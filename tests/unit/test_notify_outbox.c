/* The notification outbox and routes in a real (SQLite) store: one row per alert and matching
 * route, none for excluded alerts, none twice for the agent's and the server's copy of one
 * alert; routes stored as numbered versions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify.h"
#include "notify_route.h"
#include "store.h"

struct ctx {
	char dir[64], target[128];
	struct store *st;
};

static int setup(void **state)
{
	static struct ctx c;
	char err[256];

	snprintf(c.dir, sizeof(c.dir), "/tmp/mamori-notify-XXXXXX");
	if (!mkdtemp(c.dir))
		return -1;
	snprintf(c.target, sizeof(c.target), "sqlite:%s/m.db", c.dir);
	c.st = store_open(c.target, err, sizeof(err));
	if (!c.st)
		return -1;
	*state = &c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	char p[128];

	store_close(c->st);
	for (const char *s = "m.db\0m.db-wal\0m.db-shm\0"; *s; s += strlen(s) + 1) {
		snprintf(p, sizeof(p), "%s/%s", c->dir, s);
		unlink(p);
	}
	return rmdir(c->dir);
}

static int64_t count(struct store *st, const char *where)
{
	char sql[256];
	int64_t n = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE %s", where);
	assert_int_equal(store_query_int(st, sql, NULL, 0, &n), 0);
	return n;
}

#define HOOK "\"webhook\": {\"url\": \"http://127.0.0.1:9/\"}"

static void test_outbox(void **state)
{
	struct ctx *c = *state;
	char err[300];
	json_t *in = json_loads(
	    "{\"routes\": [{\"name\": \"all\", " HOOK "},"
	    " {\"name\": \"jp\", \"language\": \"ja\", \"match\": {\"groups\": [\"jp\"]}, " HOOK
	    "},"
	    " {\"name\": \"exec\", \"match\": {\"tags\": [\"attack.execution\"], "
	    "\"min_severity\": \"high\"}, " HOOK "}]}",
	    0, NULL);
	json_t *routes = notify_routes_normalize(in, err, sizeof(err));
	json_t *sums = json_loads(
	    "[{\"id\": \"a1\", \"rule_id\": \"r1\", \"rule_name\": \"Download piped to a shell\", "
	    "\"severity\": 3, \"host\": \"web1\", \"tactics\": \"Execution,Command and Control\", "
	    "\"techniques\": \"T1059.004,T1105\"},"
	    " {\"id\": \"a1\", \"rule_id\": \"r1\", \"severity\": 3, \"host\": \"web1\", "
	    "\"tactics\": \"Execution\", \"techniques\": \"\"},"
	    " {\"id\": \"b2\", \"rule_id\": \"r2\", \"severity\": 1, \"excluded\": true},"
	    " {\"id\": \"c3\", \"rule_id\": \"r3\", \"severity\": 1, \"host\": \"web1\", "
	    "\"tactics\": \"\", \"techniques\": \"\"},"
	    " {\"rule_id\": \"no id\", \"severity\": 4}]",
	    0, NULL);
	size_t queued = 0;

	assert_non_null(routes);
	assert_non_null(sums);
	assert_int_equal(notify_outbox_add(c->st, routes, "agent1", "jp", sums, 1000, &queued), 0);
	/* a1: all, jp, exec (once, although two copies came); c3: all, jp; b2 excluded. */
	assert_int_equal(queued, 5);
	assert_int_equal(count(c->st, "alert_id = 'a1'"), 3);
	assert_int_equal(count(c->st, "alert_id = 'c3'"), 2);
	assert_int_equal(count(c->st, "alert_id = 'b2'"), 0);
	assert_int_equal(count(c->st,
			       "status = 'pending' AND attempts = 0 AND next_try = 1000 AND "
			       "kind = 'alert' AND group_name = 'jp' AND agent_id = 'agent1'"),
			 5);
	assert_int_equal(count(c->st, "alert_id = 'a1' AND rule_name = 'Download piped to a "
				      "shell' AND severity = 3 AND host = 'web1'"),
			 3);
	/* The same batch again (the server's copy after the agent's): nothing new. */
	assert_int_equal(notify_outbox_add(c->st, routes, "agent1", "jp", sums, 2000, &queued), 0);
	assert_int_equal(queued, 0);
	/* Another group: the jp route does not apply. */
	json_decref(sums);
	sums = json_loads("[{\"id\": \"d4\", \"rule_id\": \"r4\", \"severity\": 4, \"tactics\": "
			  "\"Execution\", \"techniques\": \"\"}]",
			  0, NULL);
	assert_int_equal(notify_outbox_add(c->st, routes, "agent2", "default", sums, 3000, &queued),
			 0);
	assert_int_equal(queued, 2);
	assert_int_equal(count(c->st, "alert_id = 'd4' AND route = 'jp'"), 0);
	json_decref(sums);
	json_decref(routes);
	json_decref(in);
}

static void test_routes_versions(void **state)
{
	struct ctx *c = *state;
	json_t *doc = json_loads("{\"routes\": [{\"name\": \"all\", " HOOK "}]}", 0, NULL), *got,
	       *h;
	int64_t v = 0;
	int rc;

	got = notify_routes_load(c->st, 0, &rc);
	assert_non_null(got);
	assert_int_equal(json_integer_value(json_object_get(got, "version")), 0);
	assert_int_equal(json_array_size(json_object_get(got, "routes")), 0);
	json_decref(got);
	assert_int_equal(notify_routes_store(c->st, doc, "alice", "first", 5, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(notify_routes_store(c->st, doc, "bob", NULL, 6, &v), 0);
	assert_int_equal(v, 2);
	got = notify_routes_load(c->st, 0, &rc);
	assert_int_equal(json_integer_value(json_object_get(got, "version")), 2);
	assert_string_equal(json_string_value(json_object_get(got, "created_by")), "bob");
	assert_string_equal(
	    json_string_value(json_object_get(notify_routes_find(got, "all"), "name")), "all");
	json_decref(got);
	got = notify_routes_load(c->st, 1, &rc);
	assert_string_equal(json_string_value(json_object_get(got, "reason")), "first");
	json_decref(got);
	assert_null(notify_routes_load(c->st, 9, &rc));
	assert_int_equal(rc, -ENOENT);
	h = notify_routes_history(c->st);
	assert_int_equal(json_array_size(h), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(h, 0), "version")), 2);
	json_decref(h);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_outbox, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_routes_versions, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
