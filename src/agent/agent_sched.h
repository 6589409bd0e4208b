/* The agent's CPU class. While it keeps up with the kernel ring, its event thread runs under
 * SCHED_IDLE: the scheduler counts a CPU that runs only SCHED_IDLE work as idle, so it places
 * the workloads the agent watches there and they preempt the agent at once, instead of waiting
 * behind it or being placed elsewhere. Two signs mean the agent is falling behind (a busy host
 * gives an idle-class thread almost no CPU): a drain that reads half the ring or more, and an
 * event that waited in the ring longer than the wake-up interval plus AGENT_SCHED_LAG_MS (a
 * host whose CPUs are all busy starves the thread even when events are few, and their alerts
 * would wait). The thread then goes back to SCHED_OTHER at budget.nice for AGENT_SCHED_NORMAL_S
 * seconds, and what it still cannot keep up with is counted as dropped. The caller enables it only
 * where that backlog can be seen (the eBPF ring is the agent's source) and where nothing on the
 * host waits on this thread (no exec blocking, whose permission replies can need a lock this thread
 * holds). */
#ifndef MAMORI_AGENT_SCHED_H
#define MAMORI_AGENT_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define AGENT_SCHED_NORMAL_S 10
#define AGENT_SCHED_LAG_MS 250

struct agent_sched {
	bool enabled;		/* idle class allowed (agent_sched_start) */
	bool idle;		/* the class the thread has now */
	uint64_t backlog_bytes; /* a drain this large means falling behind */
	uint64_t lag_ns;	/* so does an event that waited this long in the ring */
	uint64_t normal_until;	/* monotonic ns: no idle class before then */
	uint64_t switches;	/* class changes, for logs and tests */
	/* The watchdog (agent_sched_start): a normal-class thread that moves the event thread to
	 * normal class when its loop has not turned for lag_ns. On a host whose CPUs are all busy,
	 * an idle-class thread can get no CPU at all for many seconds (seen in its own session's
	 * autogroup), so it cannot notice by itself that its events wait. */
	pid_t tid;		  /* the event thread */
	_Atomic uint64_t beat;	  /* monotonic ns of its loop's last turn (agent_sched_update) */
	_Atomic bool idle_now;	  /* s->idle, for the watchdog */
	_Atomic uint64_t forced;  /* ns the loop had not turned when the watchdog moved it, 0 */
	_Atomic bool stop;
	bool watching;
	pthread_t watch;
};

/* The drain size that means falling behind: half the ring, and above the kernel's early-wake
 * fill (a drain right after an early wake reads about that much while keeping up). */
uint64_t agent_sched_backlog_mark(uint64_t ring_bytes, uint64_t wakeup_bytes);

/* Sets the calling thread's class: idle when enabled and when the thread could return to
 * normal class later (it may raise its own priority); otherwise it stays normal. why says why
 * idle class is off when !enabled. lag_ns: the wait in the ring that means falling behind
 * (agent_sched_lag_mark). Logs what it did. */
void agent_sched_start(struct agent_sched *s, bool enabled, const char *why, uint64_t backlog_bytes,
		       uint64_t lag_ns);

/* The wait in the ring that means falling behind: the loop's wake-up interval plus
 * AGENT_SCHED_LAG_MS, in ns. */
uint64_t agent_sched_lag_mark(unsigned wakeup_ms);

/* Pure decision: after a drain of `drained` bytes whose oldest event had waited lag ns, at now
 * (monotonic ns), whether the thread should be idle-class; updates s->normal_until. */
bool agent_sched_want_idle(struct agent_sched *s, uint64_t drained, uint64_t lag, uint64_t now);

/* agent_sched_want_idle, then switches the calling thread's class when the answer changed. A
 * switch that fails turns idle class off for good (logged once). Call it on every turn of the
 * loop: it is also the heartbeat the watchdog watches, and where the thread learns that the
 * watchdog moved it. */
void agent_sched_update(struct agent_sched *s, uint64_t drained, uint64_t lag, uint64_t now);

/* Stops the watchdog (joins it); the thread keeps its class. Idempotent. */
void agent_sched_stop(struct agent_sched *s);

#endif
