/* The kill response against real processes this test forks: one process, a whole tree (with a
 * grandchild that keeps forking), a stale entity id, and the refusals. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "procfs.h"
#include "respond_kill.h"

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* A process that is gone or a zombie no longer runs anything. */
static bool alive(pid_t pid)
{
	struct procfs_stat st;

	return procfs_read_stat("/proc", (uint32_t)pid, &st) == 0 && st.state != 'Z';
}

static struct respond_kill_opts opts(pid_t pid)
{
	return (struct respond_kill_opts){
	    .pid = (uint32_t)pid, .proc_root = "/proc", .self_pid = (uint32_t)getpid()};
}

/* A child that forks `width` sleeping children, one of which keeps forking short-lived ones;
 * writes nothing, just lives until killed. The test is a subreaper so that orphans come back
 * here and are reaped. */
static pid_t spawn_tree(int width)
{
	pid_t root = fork();

	if (root == 0) {
		for (int i = 0; i < width; i++) {
			if (fork() == 0) {
				if (i == 0) {
					for (;;) {
						pid_t g = fork();

						if (g == 0) {
							nap_ms(200);
							_exit(0);
						}
						nap_ms(20);
						while (waitpid(-1, NULL, WNOHANG) > 0)
							;
					}
				}
				pause();
				_exit(0);
			}
		}
		for (;;)
			pause();
	}
	nap_ms(150);
	return root;
}

static size_t count_children(pid_t parent)
{
	char path[64], buf[4096];
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", parent, parent);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f))
		for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n"))
			n++;
	fclose(f);
	return n;
}

/* Kills and reaps whatever this test still has below it (orphans come back to the subreaper). */
static void reap_all(void)
{
	for (int i = 0; i < 100; i++) {
		char path[64], buf[4096];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", getpid(), getpid());
		f = fopen(path, "r");
		if (f && fgets(buf, sizeof(buf), f))
			for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n"))
				kill((pid_t)atoi(p), SIGKILL);
		if (f)
			fclose(f);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (count_children(getpid()) == 0)
			return;
		nap_ms(10);
	}
}

static void test_kill_one(void **state)
{
	(void)state;
	pid_t p = fork();
	struct respond_kill_opts o = opts(p);
	json_t *r = NULL;

	if (p == 0) {
		pause();
		_exit(0);
	}
	assert_int_equal(respond_kill(&o, &r), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "count")), 1);
	assert_int_equal(json_integer_value(json_object_get(
			     json_array_get(json_object_get(r, "killed"), 0), "pid")),
			 p);
	assert_int_equal(strlen(json_string_value(json_object_get(
			     json_array_get(json_object_get(r, "killed"), 0), "entity_id"))),
			 32);
	json_decref(r);
	assert_false(alive(p));
	reap_all();
}

static void test_kill_tree(void **state)
{
	(void)state;
	pid_t root = spawn_tree(4);
	struct respond_kill_opts o = opts(root);
	json_t *r = NULL;
	pid_t kids[64];
	size_t nk = 0;
	char path[64], buf[4096];
	FILE *f;

	assert_true(count_children(root) >= 4);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", root, root);
	f = fopen(path, "r");
	assert_non_null(f);
	if (fgets(buf, sizeof(buf), f))
		for (char *p = strtok(buf, " \n"); p && nk < 64; p = strtok(NULL, " \n"))
			kids[nk++] = (pid_t)atoi(p);
	fclose(f);
	o.tree = true;
	assert_int_equal(respond_kill(&o, &r), 0);
	assert_true(json_integer_value(json_object_get(r, "count")) >= 5);
	assert_true(json_is_true(json_object_get(r, "tree")));
	json_decref(r);
	assert_false(alive(root));
	for (size_t i = 0; i < nk; i++)
		assert_false(alive(kids[i]));
	reap_all();
}

static void test_kill_without_tree_spares_children(void **state)
{
	(void)state;
	pid_t root = spawn_tree(2);
	struct respond_kill_opts o = opts(root);
	json_t *r = NULL;
	pid_t kid;
	char path[64], buf[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", root, root);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	kid = (pid_t)atoi(buf);
	assert_int_equal(respond_kill(&o, &r), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "count")), 1);
	json_decref(r);
	nap_ms(50);
	assert_false(alive(root));
	assert_true(alive(kid)); /* reparented to this subreaper, still running */
	o = opts(kid);
	o.tree = true;
	assert_int_equal(respond_kill(&o, &r), 0);
	json_decref(r);
	reap_all();
}

static void test_stale_entity_id(void **state)
{
	(void)state;
	pid_t p = fork();
	struct respond_kill_opts o = opts(p);
	struct procfs_stat st;
	char right[33];
	json_t *r = NULL;

	if (p == 0) {
		pause();
		_exit(0);
	}
	o.entity_id = "0123456789abcdef0123456789abcdef";
	assert_int_equal(respond_kill(&o, &r), -ESTALE);
	assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "another process"));
	json_decref(r);
	assert_true(alive(p));
	assert_int_equal(procfs_read_stat("/proc", (uint32_t)p, &st), 0);
	respond_entity_id("/proc", (uint32_t)p, st.start_ticks, right);
	o.entity_id = right;
	assert_int_equal(respond_kill(&o, &r), 0);
	json_decref(r);
	assert_false(alive(p));
	reap_all();
}

static void test_refusals(void **state)
{
	(void)state;
	struct respond_kill_opts o = opts(1);
	json_t *r = NULL;

	assert_int_equal(respond_kill(&o, &r), -EPERM);
	json_decref(r);
	o = opts(getpid());
	assert_int_equal(respond_kill(&o, &r), -EPERM);
	json_decref(r);
	o = opts(2); /* kthreadd */
	assert_int_equal(respond_kill(&o, &r), -EPERM);
	json_decref(r);
	o = opts(0x3fffffff);
	assert_int_equal(respond_kill(&o, &r), -ESRCH);
	assert_non_null(json_object_get(r, "error"));
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kill_one),
	    cmocka_unit_test(test_kill_tree),
	    cmocka_unit_test(test_kill_without_tree_spares_children),
	    cmocka_unit_test(test_stale_entity_id),
	    cmocka_unit_test(test_refusals),
	};

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
