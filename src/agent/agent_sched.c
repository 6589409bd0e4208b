#include "agent_sched.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "log.h"

#include "banned.h"

/* sched_setscheduler keeps the thread's nice value, so back under SCHED_OTHER it runs at the
 * budget.nice it was given at start. */
static int set_class(bool idle)
{
	struct sched_param p = {.sched_priority = 0};

	return sched_setscheduler(0, idle ? SCHED_IDLE : SCHED_OTHER, &p) == 0 ? 0 : -errno;
}

/* Leaving SCHED_IDLE needs the right to raise one's priority (CAP_SYS_NICE or RLIMIT_NICE):
 * try one step up and back. A thread already at -20 has that right. */
static bool can_return(void)
{
	errno = 0;
	int cur = getpriority(PRIO_PROCESS, 0);

	if (errno || cur <= -20)
		return errno == 0;
	if (setpriority(PRIO_PROCESS, 0, cur - 1) != 0)
		return false;
	return setpriority(PRIO_PROCESS, 0, cur) == 0;
}

uint64_t agent_sched_backlog_mark(uint64_t ring_bytes, uint64_t wakeup_bytes)
{
	uint64_t mark = ring_bytes / 2;

	if (wakeup_bytes >= mark && wakeup_bytes < ring_bytes)
		mark = wakeup_bytes + (ring_bytes - wakeup_bytes) / 2;
	return mark ? mark : 1;
}

uint64_t agent_sched_lag_mark(unsigned wakeup_ms)
{
	return ((uint64_t)wakeup_ms + AGENT_SCHED_LAG_MS) * 1000000ull;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The watchdog: every quarter of the mark, whether the idle-class loop has turned within the
 * mark; if not, it moves the thread to normal class itself (a thread of the process may raise
 * another's class with the same right the thread has, can_return) and says so in s->forced. It
 * runs at the class and nice value the event thread had before it went idle. */
static void *watch(void *arg)
{
	struct agent_sched *s = arg;
	uint64_t step = s->lag_ns / 4;
	struct timespec nap = {.tv_sec = (time_t)(step / 1000000000ull),
			       .tv_nsec = (long)(step % 1000000000ull)};

	while (!atomic_load(&s->stop)) {
		nanosleep(&nap, NULL);
		uint64_t now = mono_ns(), beat = atomic_load(&s->beat);
		if (!atomic_load(&s->idle_now) || atomic_load(&s->forced) || now < beat ||
		    now - beat < s->lag_ns)
			continue;
		struct sched_param p = {.sched_priority = 0};
		if (sched_setscheduler(s->tid, SCHED_OTHER, &p) == 0)
			atomic_store(&s->forced, now - beat);
	}
	return NULL;
}

void agent_sched_stop(struct agent_sched *s)
{
	if (!s->watching)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->watch, NULL);
	s->watching = false;
}

void agent_sched_start(struct agent_sched *s, bool enabled, const char *why, uint64_t backlog_bytes,
		       uint64_t lag_ns)
{
	memset(s, 0, sizeof(*s));
	s->backlog_bytes = backlog_bytes ? backlog_bytes : 1;
	s->lag_ns = lag_ns ? lag_ns : 1;
	if (!enabled) {
		log_info("agent", "cpu class normal (%s)", why);
		return;
	}
	if (!can_return()) {
		log_info("agent", "cpu class normal (could not return from idle class: no "
				  "CAP_SYS_NICE or RLIMIT_NICE)");
		return;
	}
	s->tid = (pid_t)syscall(SYS_gettid);
	atomic_store(&s->beat, mono_ns());
	/* started before the class changes, so that it runs in the normal one */
	int rc = pthread_create(&s->watch, NULL, watch, s);
	if (rc) {
		log_warn("agent", "cannot start the cpu class watchdog: %s; staying normal",
			 strerror(rc));
		return;
	}
	s->watching = true;
	rc = set_class(true);
	if (rc) {
		agent_sched_stop(s);
		log_warn("agent", "cannot run idle-class: %s; staying normal", strerror(-rc));
		return;
	}
	s->enabled = true;
	s->idle = true;
	atomic_store(&s->idle_now, true);
	log_info("agent",
		 "cpu class idle while the ring drains on time (backlog mark %llu KiB, wait mark "
		 "%llu ms)",
		 (unsigned long long)(s->backlog_bytes / 1024),
		 (unsigned long long)(s->lag_ns / 1000000));
}

bool agent_sched_want_idle(struct agent_sched *s, uint64_t drained, uint64_t lag, uint64_t now)
{
	if (!s->enabled)
		return false;
	if (drained >= s->backlog_bytes || lag >= s->lag_ns)
		s->normal_until = now + AGENT_SCHED_NORMAL_S * 1000000000ull;
	return now >= s->normal_until;
}

void agent_sched_update(struct agent_sched *s, uint64_t drained, uint64_t lag, uint64_t now)
{
	if (!s->enabled)
		return;
	atomic_store(&s->beat, now);
	uint64_t forced = atomic_exchange(&s->forced, 0);
	if (forced && s->idle) {
		s->idle = false;
		atomic_store(&s->idle_now, false);
		s->switches++;
		s->normal_until = now + AGENT_SCHED_NORMAL_S * 1000000000ull;
		log_info("agent", "cpu class normal for %ds: the event loop did not run for %llu ms "
				  "(mark %llu ms)",
			 AGENT_SCHED_NORMAL_S, (unsigned long long)(forced / 1000000),
			 (unsigned long long)(s->lag_ns / 1000000));
	}
	bool want = agent_sched_want_idle(s, drained, lag, now);

	if (want == s->idle)
		return;
	int rc = set_class(want);
	if (rc) {
		log_warn("agent", "cannot switch cpu class: %s; idle class off", strerror(-rc));
		s->enabled = false;
		return;
	}
	s->idle = want;
	atomic_store(&s->idle_now, want);
	s->switches++;
	if (want)
		log_info("agent", "cpu class idle again: the ring drains on time");
	else if (drained >= s->backlog_bytes)
		log_info("agent", "cpu class normal for %ds: a drain read %llu KiB (mark %llu KiB)",
			 AGENT_SCHED_NORMAL_S, (unsigned long long)(drained / 1024),
			 (unsigned long long)(s->backlog_bytes / 1024));
	else
		log_info("agent",
			 "cpu class normal for %ds: an event waited %llu ms (mark %llu ms)",
			 AGENT_SCHED_NORMAL_S, (unsigned long long)(lag / 1000000),
			 (unsigned long long)(s->lag_ns / 1000000));
}
