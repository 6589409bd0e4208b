/* An event source of the agent (ebpf, fanotify, netlink, audit, proc, replay, inventory): one
 * file per source behind struct source_ops. Each is probed at start and either becomes active or
 * says why not, so the agent falls back hook by hook. */
#ifndef MAMORI_SOURCE_H
#define MAMORI_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent;
struct source;

/* What a source covers, so the agent can start fallbacks only for what is missing. */
enum source_cover {
	SOURCE_COVER_PROCESS = 1 << 0,	/* exec, fork, end */
	SOURCE_COVER_NETWORK = 1 << 1,	/* TCP connect, accept, close, listen */
	SOURCE_COVER_FILE = 1 << 2,	/* create, delete, rename, write, attrib */
	SOURCE_COVER_SYSCALLS = 1 << 3, /* ptrace, memfd, set*id, module and bpf load */
	SOURCE_COVER_DNS = 1 << 4,
	SOURCE_COVER_INVENTORY = 1 << 5,
};

struct source_ops {
	const char *name;
	/* Probes and starts the source. 0 when active; a negative errno otherwise, with a one-line
	 * reason in why[whylen]. `want` is the cover the agent still lacks. */
	int (*open)(struct source *src, unsigned want, char *why, size_t whylen);
	/* What this source covers once open. */
	unsigned (*cover)(struct source *src);
	/* A pollable fd (readable when events wait), or -1 to be called on every tick only. */
	int (*fd)(struct source *src);
	/* Reads and emits what is ready, without blocking. Returns a negative errno when the source
	 * has failed for good, 1 when it has finished (replay at end of file), 0 otherwise. */
	int (*poll)(struct source *src);
	/* Called about every 10 ms with the monotonic time: flush batches, report counters. */
	void (*tick)(struct source *src, uint64_t now_ns);
	/* Stops the source after emitting what is still buffered. */
	void (*close)(struct source *src);
};

struct source {
	const struct source_ops *ops;
	struct agent *agent; /* borrowed */
	void *priv;	     /* owned by the source */
	bool active;
};

extern const struct source_ops source_ebpf_ops;
extern const struct source_ops source_fanotify_ops;
extern const struct source_ops source_netlink_ops;
extern const struct source_ops source_audit_ops;
extern const struct source_ops source_procfs_ops;
extern const struct source_ops source_replay_ops;
extern const struct source_ops source_inventory_ops;

#endif
