/* The agent's configuration: defaults, a YAML file (/etc/mamori/agent.yml) and validation.
 * Unknown or malformed keys are errors that name the key and line. */
#ifndef MAMORI_AGENT_CONFIG_H
#define MAMORI_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum source_mode { SOURCE_MODE_AUTO, SOURCE_MODE_ON, SOURCE_MODE_OFF };

#define AGENT_CONFIG_LIST_MAX 64

struct agent_config_list {
	char *items[AGENT_CONFIG_LIST_MAX]; /* owned */
	size_t n;
};

struct agent_config {
	char *log_level;
	char *host_name; /* empty: gethostname() */

	enum source_mode src_ebpf, src_fanotify, src_netlink, src_audit, src_procfs, src_inventory;
	bool syscalls; /* eBPF syscall hooks: ptrace, memfd, set*id, module, bpf */
	bool syscalls_raw; /* raw sys_enter/sys_exit instead of per-syscall tracepoints */
	bool dns;

	struct agent_config_list ignore_comm; /* process names dropped in the kernel */
	struct agent_config_list
	    ignore_executable; /* exact executable paths, dropped in user space */
	struct agent_config_list ignore_path_prefix; /* file events under these prefixes */

	bool file_writes;		  /* close_write via fanotify mount marks */
	struct agent_config_list skip_fs; /* extra filesystem types to leave unwatched */

	uint32_t args_max_count;
	bool hash_executables;
	uint64_t hash_max_bytes;

	uint32_t ringbuf_kb;
	uint32_t wakeup_ms;
	uint32_t wakeup_bytes;

	uint32_t budget_cpu_percent; /* of one core, averaged over 5 s */
	uint32_t budget_memory_mb;   /* RSS */
	uint32_t queue_events;	     /* events held for hashing before shedding */
	int32_t nice;		     /* scheduling priority: below the workloads it watches */
	bool idle_class;	     /* SCHED_IDLE while the ring drains on time (agent_sched.h) */

	uint32_t inventory_interval_s;
	uint32_t stats_interval_s; /* drop/health counter events */
	char *replay_path;	   /* replay source input ("-" for stdin); empty: off */

	char *state_dir;       /* enrollment identity and spool (default /var/lib/mamori) */
	uint32_t spool_max_mb; /* disk cap of the spool */
	bool spool_sync;       /* fdatasync every sealed batch */
	uint32_t batch_events; /* a batch is sealed at this many events, */
	uint32_t batch_kb;     /* this size, */
	uint32_t batch_ms;     /* or this age */
	uint32_t heartbeat_s;  /* heartbeat period */

	struct agent_config_list detect_rules; /* Sigma rule files/directories for local alerts */
	struct agent_config_list detect_iocs;  /* indicator list files/directories */
	struct agent_config_list detect_yara;  /* YARA rule files/directories */
	uint32_t yara_max_mb;		       /* files larger than this are not scanned */
	uint32_t yara_mb_per_s;		       /* scan pace */
};

/* Fills defaults. */
void agent_config_init(struct agent_config *c);
void agent_config_release(struct agent_config *c);
/* Loads a YAML file over the defaults. 0, or -EINVAL with "file:line: reason" in err. */
int agent_config_load(struct agent_config *c, const char *path, char *err, size_t errlen);
/* Same from memory (tests, fuzzing). */
int agent_config_load_string(struct agent_config *c, const char *yaml, size_t len, const char *name,
			     char *err, size_t errlen);
bool agent_config_list_has(const struct agent_config_list *l, const char *s);

#endif
