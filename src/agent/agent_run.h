/* Runs the agent: opens the sources with fallbacks, drives them from one epoll loop with a
 * 10 ms tick, watches the CPU and memory budget, and stops cleanly (flushing) on SIGINT/SIGTERM,
 * after a deadline, or when a replay ends. */
#ifndef MAMORI_AGENT_RUN_H
#define MAMORI_AGENT_RUN_H

#include "agent_config.h"

struct agent_run_opts {
	unsigned seconds; /* 0: until a signal */
	int out_fd;	  /* where events go */
};

/* 0 on a clean stop; 1 when a required source failed or nothing could be opened. */
int agent_run(struct agent_config *c, const struct agent_run_opts *o);

#endif
