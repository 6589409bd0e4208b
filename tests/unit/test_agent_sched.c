/* agent_sched_want_idle: idle while drains stay under the backlog mark and events wait less
 * than the wait mark; a drain at or above the one, or an event that waited the other, makes the
 * thread normal for AGENT_SCHED_NORMAL_S seconds from that drain (each later sign pushes the end
 * back); disabled means never idle. And the watchdog: an idle-class thread whose loop does not
 * turn within the wait mark is moved to normal class by it, and learns so on its next turn. */
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent_sched.h"

#define S(x) ((uint64_t)(x)*1000000000ull)

static void test_decisions(void **state)
{
	struct agent_sched s = {
	    .enabled = true, .idle = true, .backlog_bytes = 1024 * 1024, .lag_ns = S(1)};

	(void)state;
	assert_true(agent_sched_want_idle(&s, 0, 0, S(1)));
	assert_true(agent_sched_want_idle(&s, 1024 * 1024 - 1, 0, S(2)));
	/* At the mark: normal until 10 s after this drain. */
	assert_false(agent_sched_want_idle(&s, 1024 * 1024, 0, S(3)));
	assert_false(agent_sched_want_idle(&s, 0, 0, S(3) + S(AGENT_SCHED_NORMAL_S) - 1));
	assert_true(agent_sched_want_idle(&s, 0, 0, S(3) + S(AGENT_SCHED_NORMAL_S)));
	/* A second backlog while normal moves the end. */
	assert_false(agent_sched_want_idle(&s, 5 * 1024 * 1024, 0, S(20)));
	assert_false(agent_sched_want_idle(&s, 2 * 1024 * 1024, 0, S(25)));
	assert_false(agent_sched_want_idle(&s, 0, 0, S(34)));
	assert_true(agent_sched_want_idle(&s, 0, 0, S(35)));
}

/* Few events that waited: a starved thread, whatever the drain's size. */
static void test_wait(void **state)
{
	struct agent_sched s = {.enabled = true,
				.idle = true,
				.backlog_bytes = 1024 * 1024,
				.lag_ns = agent_sched_lag_mark(50)};

	(void)state;
	assert_int_equal(s.lag_ns, (50 + AGENT_SCHED_LAG_MS) * 1000000ull);
	assert_true(agent_sched_want_idle(&s, 100, s.lag_ns - 1, S(1)));
	assert_false(agent_sched_want_idle(&s, 100, s.lag_ns, S(2)));
	assert_false(agent_sched_want_idle(&s, 0, 0, S(2) + S(AGENT_SCHED_NORMAL_S) - 1));
	assert_true(agent_sched_want_idle(&s, 0, 0, S(2) + S(AGENT_SCHED_NORMAL_S)));
	/* A late event while normal moves the end too. */
	assert_false(agent_sched_want_idle(&s, 100, S(3), S(20)));
	assert_false(agent_sched_want_idle(&s, 100, S(3), S(25)));
	assert_true(agent_sched_want_idle(&s, 100, 0, S(35)));
}

static void test_mark(void **state)
{
	(void)state;
	/* Half the ring, above the early-wake fill: 4 MiB ring, 1 MiB wake (the defaults). */
	assert_int_equal(agent_sched_backlog_mark(4 << 20, 1 << 20), 2 << 20);
	/* A wake fill at or above half the ring: halfway between it and the end. */
	assert_int_equal(agent_sched_backlog_mark(4 << 20, 3 << 20), (3 << 20) + (1 << 19));
	/* A wake fill the ring never reaches: half the ring. */
	assert_int_equal(agent_sched_backlog_mark(256 << 10, 1 << 20), 128 << 10);
	assert_int_equal(agent_sched_backlog_mark(0, 0), 1);
}

static void test_disabled(void **state)
{
	struct agent_sched s = {.enabled = false, .backlog_bytes = 1};

	(void)state;
	assert_false(agent_sched_want_idle(&s, 0, 0, S(1)));
	assert_false(agent_sched_want_idle(&s, 0, 0, S(100)));
}

static uint64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_watchdog(void **state)
{
	struct agent_sched s;
	(void)state;
	agent_sched_start(&s, true, NULL, 1024 * 1024, 200 * 1000000ull);
	if (!s.enabled) {
		fprintf(stderr, "skip: cannot leave SCHED_IDLE here (not root?)\n");
		skip();
	}
	assert_int_equal(sched_getscheduler(0), SCHED_IDLE);
	agent_sched_update(&s, 0, 0, mono()); /* a turn: still idle */
	assert_true(s.idle);
	/* no turn for well past the mark: the watchdog moves the thread (a busy host may delay the
	 * watchdog itself, so wait for it up to two seconds) */
	struct timespec nap = {.tv_nsec = 20 * 1000000L};
	for (int i = 0; i < 100 && sched_getscheduler(0) != SCHED_OTHER; i++)
		nanosleep(&nap, NULL);
	assert_int_equal(sched_getscheduler(0), SCHED_OTHER);
	agent_sched_update(&s, 0, 0, mono());
	assert_false(s.idle);
	assert_int_equal(s.switches, 1);
	nanosleep(&nap, NULL); /* normal: the watchdog leaves it alone */
	assert_int_equal(sched_getscheduler(0), SCHED_OTHER);
	agent_sched_update(&s, 0, 0, mono());
	assert_false(s.idle);
	agent_sched_stop(&s);
	agent_sched_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decisions), cmocka_unit_test(test_wait),
	    cmocka_unit_test(test_mark),      cmocka_unit_test(test_disabled),
	    cmocka_unit_test(test_watchdog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
