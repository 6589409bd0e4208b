/* Reading one process's facts from /proc: used to seed the process table at start, to attribute
 * events from sources that only carry a pid, and by the netlink fallback on exec. */
#ifndef MAMORI_PROCFS_H
#define MAMORI_PROCFS_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"

struct procfs_stat {
	uint32_t ppid;
	uint32_t sid;
	uint32_t tty_nr;
	uint64_t start_ticks; /* field 22 of /proc/pid/stat: clock ticks since boot */
	uint32_t flags;	      /* field 9: PF_* (PF_KTHREAD 0x00200000) */
	char state;	      /* field 3: R, S, D, Z, T... */
	char comm[17];
};

/* Parses /proc/<pid>/stat (or root/<pid>/stat with root "/proc"). 0 or negative errno. */
int procfs_read_stat(const char *root, uint32_t pid, struct procfs_stat *st);

/* Fills ev->process (pid, executable, name, args, args_count, command_line, working_directory,
 * uids/gids, tty, session, start) and container_id, auid from /proc/<pid>. Missing pieces (a
 * process that just exited, a kernel thread) are left empty. 0 when at least stat was readable. */
int procfs_fill_process(const char *root, uint32_t pid, uint32_t args_max_count, struct event *ev);

/* Container id (64 hex, or the last path element's id) from /proc/<pid>/cgroup; false if none. */
bool procfs_container_id(const char *root, uint32_t pid, char *out, size_t size);

/* Clock ticks per second (sysconf(_SC_CLK_TCK)), cached. */
long procfs_clk_tck(void);

#endif
