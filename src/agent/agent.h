/* The agent core shared by every source: configuration, host identity, the process table used
 * to attribute events, counters, and the emit path (enrich -> hash -> output). */
#ifndef MAMORI_AGENT_H
#define MAMORI_AGENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent_config.h"
#include "event.h"

struct proctable;
struct hashcache;
struct output;
struct source;

struct agent_counters {
	atomic_uint_fast64_t emitted;	     /* events written to the output */
	atomic_uint_fast64_t shed;	     /* dropped on purpose under the budget */
	atomic_uint_fast64_t queue_dropped;  /* dropped because a queue was full */
	atomic_uint_fast64_t kernel_dropped; /* reported lost by kernel buffers */
	atomic_uint_fast64_t malformed;	     /* bad input from a source (replay lines etc.) */
	atomic_uint_fast64_t ignored;	     /* filtered by ignore lists */
	atomic_uint_fast64_t alerts;	     /* raised by local detection */
};

struct agent_health;
struct agent_detect;
struct agent_yara;

struct agent {
	struct agent_config *config; /* borrowed */
	char host_name[256];
	char boot_id[40];
	uint64_t id_seed[2]; /* boot id folded once for agent_entity_id (agent_set_boot_id) */
	pid_t self_pid;
	struct proctable *procs;
	struct hashcache *hashes;
	struct output *out;
	struct agent_counters counters;
	struct source *sources; /* borrowed: the agent runner's table */
	size_t nsources;
	unsigned cover; /* union of the active sources' cover */
	bool shedding;	/* over budget: low-value events are dropped and counted */
	uint64_t ring_drained; /* bytes read from the kernel ring since the loop last looked */
	uint64_t ring_oldest_ns; /* boot-clock time of the oldest event among them, 0: none */
	uint64_t seq;
	struct agent_health *health; /* borrowed, may be NULL */
	struct agent_detect *detect; /* local detection; NULL when no rules are configured */
	struct agent_yara *yara;     /* YARA scans of executed and written executables */
};

/* Sends one event down the pipeline: fills host fields, sequence and time when unset, attributes
 * it to its process, applies ignore lists and the budget, hashes executables and writes it.
 * The caller keeps ownership of ev; it may be modified. */
void agent_emit(struct agent *ag, struct event *ev);

/* agent_emit() for an exec: the executable's identity (device, inode, mtime, size) keys the hash
 * cache; on a miss the event waits in the hash queue while a worker thread hashes the file, so
 * hashing never blocks the event path. */
void agent_emit_exec(struct agent *ag, struct event *ev, uint32_t dev, uint64_t ino,
		     uint64_t mtime_ns, uint64_t size);

/* The hash worker's completion callback (ctx is the agent): writes the hashed exec event. */
void agent_hash_done(void *ctx, struct event *ev);

/* Writes a pre-built JSON document line (inventory, state) to the output. */
void agent_emit_json(struct agent *ag, const char *json, size_t len);

/* Writes an alert line and seals the batch so it leaves at once (thread-safe; ctx is the agent). */
void agent_emit_alert(void *ctx, const char *line, size_t len);

/* Sets ag->boot_id and the entity-id seeds derived from it. */
void agent_set_boot_id(struct agent *ag, const char *boot_id, size_t len);

/* The process's entity id: hash of boot id, pid and start time in clock ticks since boot, so it
 * is the same whichever source saw the process first. out must hold EVENT_ENTITY_ID_LEN. */
void agent_entity_id(const struct agent *ag, uint32_t pid, uint64_t start_ticks, char *out);

/* True when path is under one of ignore.path_prefix; prefixes match whole path components. */
bool agent_path_ignored(const struct agent_config *c, const char *path);

/* Names of the active sources into names[max]; returns how many. Strings are static. */
size_t agent_source_names(const struct agent *ag, const char **names, size_t max);

/* Monotonic and realtime clocks in ns. */
uint64_t agent_now_mono(void);
uint64_t agent_now_real(void);
/* Converts a CLOCK_BOOTTIME/MONOTONIC-since-boot ns value to wall-clock ns. */
uint64_t agent_boot_to_real(uint64_t boot_ns);

#endif
