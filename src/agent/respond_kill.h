/* The kill response: one process, or a process with all its descendants, named by pid and
 * (optionally) entity id so that a reused pid is never hit. docs/response.md. */
#ifndef MAMORI_RESPOND_KILL_H
#define MAMORI_RESPOND_KILL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct respond_kill_opts {
	uint32_t pid;
	const char *entity_id; /* NULL: the pid alone names the target */
	bool tree;	       /* also every descendant */
	const char *proc_root; /* "/proc" unless a test says otherwise */
	uint32_t self_pid;     /* never killed (the agent) */
};

/* Freezes the targets (SIGSTOP, so a tree cannot fork away), kills them (SIGKILL), and waits up
 * to two seconds for them to be gone. Each pid is checked against its start time before every
 * signal. 0 when every target is gone, with *result {"killed":[{pid, entity_id, name}],
 * "count":N}; a negative errno with *result {"error": text, ...} otherwise: -ESRCH (no such
 * process), -ESTALE (the pid now belongs to another process), -EPERM (pid 1, a kernel thread,
 * the agent itself, or the kernel refused), -ETIMEDOUT (still there after the wait). */
int respond_kill(const struct respond_kill_opts *o, json_t **result);

/* The entity id the agent gives process pid started at start_ticks (agent.c), computed from
 * the boot id under proc_root. out has room for 33 bytes. */
void respond_entity_id(const char *proc_root, uint32_t pid, uint64_t start_ticks, char *out);

#endif
