/* The live process view over a made-up /proc: the fields of each row, the order, and the cut that
 * keeps an answer under the server's 1 MiB limit on a host with thousands of long command lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "respond_live.h"

static void put(const char *dir, const char *name, const char *data, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

/* root/PID/{stat,status,cmdline,exe} for pids 2..npids+1, each with a command line of arg_len
 * bytes; root/sys/kernel/random/boot_id. */
static void make_proc(const char *root, int npids, size_t arg_len)
{
	char dir[512], buf[4096];
	char *arg = malloc(arg_len + 1);

	assert_non_null(arg);
	memset(arg, 'a', arg_len);
	arg[arg_len] = '\0';
	snprintf(dir, sizeof(dir), "%s/sys/kernel/random", root);
	for (char *p = dir + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(dir, 0755);
		*p = '/';
	}
	mkdir(dir, 0755);
	put(dir, "boot_id", "11111111-2222-3333-4444-555555555555\n", 37);
	for (int pid = 2; pid < npids + 2; pid++) {
		int n;

		snprintf(dir, sizeof(dir), "%s/%d", root, pid);
		assert_int_equal(mkdir(dir, 0755), 0);
		n = snprintf(buf, sizeof(buf),
			     "%d (worker%d) S 1 %d %d 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0 "
			     "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
			     pid, pid, pid, pid, 1000 + pid);
		put(dir, "stat", buf, (size_t)n);
		n = snprintf(buf, sizeof(buf),
			     "Name:\tworker\nUid:\t1000\t1000\t1000\t1000\n"
			     "Gid:\t1000\t1000\t1000\t1000\n");
		put(dir, "status", buf, (size_t)n);
		n = snprintf(buf, sizeof(buf), "/usr/bin/worker%c--name%c%s", 0, 0, arg);
		put(dir, "cmdline", buf, (size_t)n + 1);
		snprintf(buf, sizeof(buf), "%s/exe", dir);
		assert_int_equal(symlink("/usr/bin/worker", buf), 0);
	}
	free(arg);
}

static void rm_rf(const char *root)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

static void test_rows(void **state)
{
	(void)state;
	char root[] = "/tmp/mamori-live.XXXXXX";
	json_t *r = NULL, *ps, *p;
	size_t i;

	assert_non_null(mkdtemp(root));
	make_proc(root, 10, 20);
	assert_int_equal(respond_processes(root, &r), 0);
	ps = json_object_get(r, "processes");
	assert_int_equal(json_array_size(ps), 10);
	assert_int_equal(json_integer_value(json_object_get(r, "count")), 10);
	assert_false(json_is_true(json_object_get(r, "truncated")));
	json_array_foreach(ps, i, p)
	{
		assert_int_equal(json_integer_value(json_object_get(p, "pid")), (json_int_t)i + 2);
		assert_int_equal(json_integer_value(json_object_get(p, "ppid")), 1);
		assert_string_equal(json_string_value(json_object_get(p, "executable")),
				    "/usr/bin/worker");
		assert_string_equal(json_string_value(json_object_get(p, "command_line")),
				    "/usr/bin/worker --name aaaaaaaaaaaaaaaaaaaa");
		assert_string_equal(json_string_value(json_object_get(p, "state")), "S");
		assert_int_equal(strlen(json_string_value(json_object_get(p, "entity_id"))), 32);
		assert_int_equal(
		    json_integer_value(json_object_get(json_object_get(p, "user"), "id")), 1000);
	}
	json_decref(r);
	rm_rf(root);
}

static void test_cut_under_the_body_limit(void **state)
{
	(void)state;
	char root[] = "/tmp/mamori-live.XXXXXX";
	json_t *r = NULL;
	char *text;

	assert_non_null(mkdtemp(root));
	make_proc(root, 4000, 400); /* about 2 MB of rows */
	assert_int_equal(respond_processes(root, &r), 0);
	assert_true(json_is_true(json_object_get(r, "truncated")));
	text = json_dumps(r, JSON_COMPACT);
	assert_non_null(text);
	assert_true(strlen(text) < 1024 * 1024);
	assert_true(json_array_size(json_object_get(r, "processes")) > 1000);
	/* The first pids are kept, in order. */
	assert_int_equal(json_integer_value(json_object_get(
			     json_array_get(json_object_get(r, "processes"), 0), "pid")),
			 2);
	free(text);
	json_decref(r);
	rm_rf(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows),
	    cmocka_unit_test(test_cut_under_the_body_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
