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
	int64_t queued_ms;     /* when the kill was asked for (ms since the epoch), 0: unknown;
				* a process started later is another one that reused the pid */
};

/* Stops each target (SIGSTOP) as soon as it is found, so a tree cannot fork away, kills them all
 * (SIGKILL), and waits up to two seconds for them to be gone. Each pid is checked against its
 * start time before every signal. 0 when every target is gone, with *result {"killed":[{pid,
 * entity_id, name}], "count":N, "tree"}; a negative errno otherwise, with *result {"error":
 * text, ...}: -ESRCH (no such process), -ESTALE (the pid now belongs to another process),
 * -EINVAL (a thread id, or a malformed entity id), -EPERM (pid 1, a kernel thread, the agent,
 * or the kernel refused the signal), -ETIMEDOUT (still running after the wait), -E2BIG (a tree
 * of more than 8192 processes: those found are killed). On the last three, "killed" and
 * "alive" list what happened to each target. */
int respond_kill(const struct respond_kill_opts *o, json_t **result);

/* The entity id the agent gives process pid started at start_ticks (agent.c), computed from
 * the boot id under proc_root. out has room for 33 bytes. */
void respond_entity_id(const char *proc_root, uint32_t pid, uint64_t start_ticks, char *out);

/* The same for many processes: the boot id is read once. NULL when out of memory (then
 * respond_ids_entity writes ""). */
struct respond_ids;
struct respond_ids *respond_ids_new(const char *proc_root);
void respond_ids_entity(const struct respond_ids *ids, uint32_t pid, uint64_t start_ticks,
			char *out);
void respond_ids_free(struct respond_ids *ids);

#endif
