/* The kill response against real processes this test forks: one process, a whole tree (with a
 * grandchild that keeps forking), a stale entity id, and the refusals. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "procfs.h"
#include "respond_kill.h"

static size_t count_children(pid_t parent);

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
static void die_with_test(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* The root dies with the test (PR_SET_PDEATHSIG); its children would die with the root, which
 * a kill without --tree must not cause, so they do not use it. The forker (with forker set)
 * stops by itself once its parent is gone, so it never outlives a failed test for long. */
static pid_t spawn_tree(int width, bool forker)
{
	pid_t root = fork();

	if (root == 0) {
		pid_t me = getpid();

		die_with_test();
		for (int i = 0; i < width; i++) {
			if (fork() == 0) {
				while (forker && i == 0 && getppid() == me) {
					pid_t g = fork();

					if (g == 0) {
						nap_ms(200);
						_exit(0);
					}
					nap_ms(20);
					while (waitpid(-1, NULL, WNOHANG) > 0)
						;
				}
				if (forker && i == 0)
					_exit(0);
				pause();
				_exit(0);
			}
		}
		for (;;)
			pause();
	}
	for (int i = 0; i < 300 && count_children(root) < (size_t)width; i++)
		nap_ms(10);
	assert_true(count_children(root) >= (size_t)width);
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

/* Reaps what has exited; the live children that remain (escapes) are counted. */
static size_t live_children_after_reaping(void)
{
	for (int i = 0; i < 50; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		nap_ms(10);
	}
	return count_children(getpid());
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
		die_with_test();
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
	pid_t root = spawn_tree(4, true);
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
	/* Nothing escaped: orphans would have come back to this subreaper alive. */
	assert_int_equal(live_children_after_reaping(), 0);
	reap_all();
}

static void test_kill_without_tree_spares_children(void **state)
{
	(void)state;
	pid_t root = spawn_tree(2, false);
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
	struct procfs_stat st;

	if (procfs_read_stat("/proc", 2, &st) == 0 && !strcmp(st.comm, "kthreadd")) {
		o = opts(2);
		assert_int_equal(respond_kill(&o, &r), -EPERM);
		json_decref(r);
	}
	o = opts(getpid());
	o.self_pid = 1; /* not the agent now, but still a process of ours: a bad entity id */
	o.entity_id = "";
	assert_int_equal(respond_kill(&o, &r), -EINVAL);
	json_decref(r);
	o.entity_id = "0123456789ABCDEF0123456789ABCDEF";
	assert_int_equal(respond_kill(&o, &r), -EINVAL);
	json_decref(r);
	o = opts(0x3fffffff);
	assert_int_equal(respond_kill(&o, &r), -ESRCH);
	assert_non_null(json_object_get(r, "error"));
	json_decref(r);
}

static void *sleeper(void *arg)
{
	pid_t *tid = arg;

	*tid = (pid_t)syscall(SYS_gettid);
	for (;;)
		pause();
	return NULL;
}

/* A thread id reads like a pid in /proc but a signal to it hits the whole process. */
static void test_thread_id_refused(void **state)
{
	(void)state;
	pthread_t th;
	volatile pid_t tid = 0;
	struct respond_kill_opts o;
	json_t *r = NULL;

	assert_int_equal(pthread_create(&th, NULL, sleeper, (void *)&tid), 0);
	while (!tid)
		nap_ms(1);
	o = opts(tid);
	o.self_pid = 1;
	assert_int_equal(respond_kill(&o, &r), -EINVAL);
	assert_non_null(
	    strstr(json_string_value(json_object_get(r, "error")), "thread of process"));
	json_decref(r);
	o.self_pid = (uint32_t)getpid();
	assert_int_equal(respond_kill(&o, &r), -EPERM); /* a thread of the agent */
	json_decref(r);
	pthread_detach(th);
}

static void *forever(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* A process whose main thread has exited shows as a zombie while its other threads run. */
static void test_zombie_leader(void **state)
{
	(void)state;
	pid_t p = fork();
	struct respond_kill_opts o = opts(p);
	json_t *r = NULL;

	if (p == 0) {
		pthread_t th;

		die_with_test();
		pthread_create(&th, NULL, forever, NULL);
		pthread_exit(NULL);
	}
	for (int i = 0; i < 200; i++) {
		struct procfs_stat st;

		if (procfs_read_stat("/proc", (uint32_t)p, &st) == 0 && st.state == 'Z')
			break;
		nap_ms(5);
	}
	assert_int_equal(respond_kill(&o, &r), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "count")), 1);
	json_decref(r);
	assert_int_equal(waitpid(p, NULL, 0), p); /* it really ended */
	reap_all();
}

/* A queued kill names the process that ran when it was asked for, not a later one. */
static void test_queued_before_start(void **state)
{
	(void)state;
	pid_t p = fork();
	struct respond_kill_opts o = opts(p);
	struct timespec now;
	json_t *r = NULL;

	if (p == 0) {
		die_with_test();
		pause();
		_exit(0);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	o.queued_ms = (int64_t)now.tv_sec * 1000 - 60000;
	assert_int_equal(respond_kill(&o, &r), -ESTALE);
	json_decref(r);
	assert_true(alive(p));
	o.queued_ms = (int64_t)now.tv_sec * 1000 + 1000;
	assert_int_equal(respond_kill(&o, &r), 0);
	json_decref(r);
	reap_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kill_one),
	    cmocka_unit_test(test_kill_tree),
	    cmocka_unit_test(test_kill_without_tree_spares_children),
	    cmocka_unit_test(test_stale_entity_id),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_thread_id_refused),
	    cmocka_unit_test(test_zombie_leader),
	    cmocka_unit_test(test_queued_before_start),
	};

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
