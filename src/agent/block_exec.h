/* Synchronous exec blocking by SHA-256: a fanotify FAN_OPEN_EXEC_PERM group denies the exec of a
 * blocked file before it starts, and an eBPF program stops the execs fanotify cannot see (memfd,
 * deleted files, unmarked filesystems, ld.so FILE) so they can be killed before their first
 * instruction. Needs root; one worker thread answers everything and calls on_hit. */
#ifndef MAMORI_BLOCK_EXEC_H
#define MAMORI_BLOCK_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct block_exec;

struct block_exec_hit {
	uint32_t pid;
	char sha256[65]; /* lowercase hex of what was blocked */
	char path[4096]; /* as the agent sees it; "/memfd:NAME" for a memfd */
	/* "exec" (fanotify), "memfd", "deleted", "unwatched" (filesystem without our mark),
	 * "changed" (allowed file rewritten through a mapping), "interp" (ELF interpreter),
	 * "ld.so" (program run by the dynamic loader) */
	const char *how;
	const char *action; /* "denied" (the exec failed) or "killed" (SIGKILL before it ran) */
};

struct block_exec_opts {
	/* Called from the worker thread; hit is borrowed for the call. It must not exec, block,
	 * or call block_exec_set(): every exec on the host waits while it runs. */
	void (*on_hit)(void *ctx, const struct block_exec_hit *hit);
	void *ctx;
	uint64_t max_hash_bytes; /* larger files are allowed unhashed; 0: 128 MiB */
};

/* Caller owns the result (block_exec_free). Enforces nothing until block_exec_set(). NULL with
 * errno and a reason in err when not root or without fanotify permission events; without eBPF
 * it logs a warning and runs with fanotify alone (memfd, ld.so... not covered). */
struct block_exec *block_exec_new(const struct block_exec_opts *o, char *err, size_t errlen);

/* Replaces the blocked set (64 hex digits each, copied); n == 0 removes every mark and detaches
 * the eBPF program. Every allow decision is forgotten, so each file is checked again on its next
 * exec. 0, -EINVAL for a malformed hash (nothing changed), -EDEADLK from on_hit, or the errno
 * that kept the fanotify group from being set up (the previous set stays in force). */
int block_exec_set(struct block_exec *b, const char (*sha256)[65], size_t n);

/* Prevention at exec: while a gate is set, execs on the host (FUSE aside) are stopped before
 * their first instruction and gate(ctx, pid) decides: true kills the process, false lets it
 * run. names (n of them, NULL for every exec) limits the stops to files with those names,
 * compared case-insensitively on their first 15 bytes; the gate must still check the whole
 * name. The callback runs on the worker thread with the process stopped, so it must be quick
 * and must not exec; the block list is checked as before. NULL gate removes it. Needs the eBPF
 * program: -ENOTSUP without. 0, -EDEADLK from a callback, -E2BIG (too many names), or a
 * negative errno. */
typedef bool (*block_exec_gate_fn)(void *ctx, uint32_t pid);
int block_exec_set_gate(struct block_exec *b, block_exec_gate_fn gate, void *ctx,
			const char *const *names, size_t n);

/* Stops the worker: no process is left stopped and pending execs are allowed. NULL is a no-op. */
void block_exec_free(struct block_exec *b);

struct block_exec_stats {
	uint64_t perm_events;	/* fanotify permission events answered */
	uint64_t allowed;	/* ... with FAN_ALLOW */
	uint64_t denied;	/* ... with FAN_DENY */
	uint64_t killed;	/* stopped execs killed (SIGKILL) */
	uint64_t continued;	/* stopped execs resumed (SIGCONT) */
	uint64_t hash_failures; /* let run without a verdict: unreadable, unstable, too slow */
	uint64_t too_big;	/* let run unhashed: larger than max_hash_bytes */
	uint64_t bypass_checks; /* execs the eBPF program stopped and reported */
	uint64_t bypass_missed; /* execs it should have stopped and could not (ring full...) */
};

/* A snapshot; callable from any thread. */
void block_exec_get_stats(struct block_exec *b, struct block_exec_stats *out);

#endif
