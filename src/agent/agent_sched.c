#include "agent_sched.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

#include "log.h"

#include "banned.h"

/* sched_setscheduler keeps the thread's nice value, so back under SCHED_OTHER it runs at the
 * budget.nice it was given at start. */
static int set_class(bool idle)
{
	struct sched_param p = {.sched_priority = 0};

	return sched_setscheduler(0, idle ? SCHED_IDLE : SCHED_OTHER, &p) == 0 ? 0 : -errno;
}

void agent_sched_start(struct agent_sched *s, bool enabled, uint64_t ring_bytes)
{
	memset(s, 0, sizeof(*s));
	s->enabled = enabled;
	s->backlog_bytes = ring_bytes / 4 ? ring_bytes / 4 : 1;
	if (!enabled) {
		log_info("agent", "cpu class normal (budget.idle_class off)");
		return;
	}
	int rc = set_class(true);
	if (rc) {
		log_warn("agent", "cannot run idle-class: %s; staying normal", strerror(-rc));
		s->enabled = false;
		return;
	}
	s->idle = true;
	log_info("agent", "cpu class idle while the ring drains on time (backlog mark %llu KiB)",
		 (unsigned long long)(s->backlog_bytes / 1024));
}

bool agent_sched_want_idle(struct agent_sched *s, uint64_t drained, uint64_t now)
{
	if (!s->enabled)
		return false;
	if (drained >= s->backlog_bytes)
		s->normal_until = now + AGENT_SCHED_NORMAL_S * 1000000000ull;
	return now >= s->normal_until;
}

void agent_sched_update(struct agent_sched *s, uint64_t drained, uint64_t now)
{
	bool want = agent_sched_want_idle(s, drained, now);

	if (want == s->idle)
		return;
	int rc = set_class(want);
	if (rc) {
		log_warn("agent", "cannot switch cpu class: %s", strerror(-rc));
		return;
	}
	s->idle = want;
	s->switches++;
	if (want)
		log_info("agent", "cpu class idle again: the ring drains on time");
	else
		log_info("agent", "cpu class normal for %ds: a drain read %llu KiB (mark %llu KiB)",
			 AGENT_SCHED_NORMAL_S, (unsigned long long)(drained / 1024),
			 (unsigned long long)(s->backlog_bytes / 1024));
}
