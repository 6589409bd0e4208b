/* Runs the agent: opens the sources with fallbacks, drives them from one epoll loop with a
 * 10 ms tick, watches the CPU and memory budget, and stops cleanly (flushing) on SIGINT/SIGTERM,
 * after a deadline, or when a replay ends. */
#ifndef MAMORI_AGENT_RUN_H
#define MAMORI_AGENT_RUN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent_config.h"

struct output;

/* What the agent reports about itself in heartbeats; written by the agent loop every few
 * seconds, read by the uplink under the lock. */
struct agent_health {
	pthread_mutex_t lock;
	char sources[256]; /* active source names, comma-separated */
	uint64_t kernel_drops, queue_drops, shed, emitted, malformed;
	unsigned cpu_pct, rss_mb;
	/* Local detection content, reported in heartbeats ("" when off). */
	char content_version[17];
	unsigned rules, yara_rules;
	uint64_t alerts;
};

struct agent_run_opts {
	unsigned seconds;	     /* 0: until a signal */
	int out_fd;		     /* where events go */
	struct output *out;	     /* instead of out_fd when set (borrowed) */
	struct agent_health *health; /* updated when set */
	bool enforce;		     /* exec blocking from the policy (agent_enforce.h) */
};

/* 0 on a clean stop; 1 when a required source failed or nothing could be opened. */
int agent_run(struct agent_config *c, const struct agent_run_opts *o);

/* Gives the calling thread, and the threads it starts from then on, budget.nice (logged when it
 * cannot). agent_run does it first; a caller that starts threads before (the uplink) too. */
void agent_set_nice(const struct agent_config *c);

#endif
