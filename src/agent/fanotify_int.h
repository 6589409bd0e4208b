/* Private to the fanotify source: the state shared by src_fanotify.c (reading and decoding events)
 * and fanotify_mounts.c (which filesystems and mounts are marked, and where their file handles
 * are decoded). Not for use outside these two files. */
#ifndef MAMORI_FANOTIFY_INT_H
#define MAMORI_FANOTIFY_INT_H

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "event.h"

struct agent;

#define FAN_LOG "fanotify"
#define FAN_BUF_SIZE (64 * 1024)
#define FAN_MAX_FS 256
#define FAN_CACHE_SIZE 128 /* directory handle -> path slots, power of two */
#define FAN_PATH_MAX (PATH_MAX + NAME_MAX + 2)

struct fan_fs {
	dev_t dev;	  /* superblock, as mountinfo's major:minor */
	int fsid[2];	  /* as fid records report it */
	char *mount_path; /* where handles are decoded; a whole-filesystem mount if there is one */
	bool whole;
	int mount_fd; /* open only within one poll batch: a held fd would make umount fail */
	int err;      /* why marking failed; 0 when watched */
};

struct fan_cache_entry {
	int fsid[2];
	int handle_type;
	unsigned handle_bytes; /* 0: empty slot */
	unsigned char handle[MAX_HANDLE_SZ];
	char path[EVENT_PATH_LEN];
};

struct fan_state {
	struct agent *ag;
	int dir_fd, write_fd, epoll_fd, mountinfo_fd;
	uint64_t dir_mask;
	uint64_t next_rescan_ns;
	uint64_t unresolved;
	struct fan_fs fs[FAN_MAX_FS];
	size_t nfs;
	pid_t moved_pid; /* pending MOVED_FROM, kernels without FAN_RENAME */
	char moved_path[EVENT_PATH_LEN];
	struct fan_cache_entry cache[FAN_CACHE_SIZE];
	struct event ev;
	char dir[PATH_MAX];
	char path[FAN_PATH_MAX];
	char old_path[FAN_PATH_MAX];
	char buf[FAN_BUF_SIZE] __attribute__((aligned(8)));
};

/* Any directory rename may move an ancestor of cached paths; mount changes move everything.
 * Deleted directories need nothing: their handles are never reused. */
static inline void fanotify_cache_flush(struct fan_state *st)
{
	for (size_t i = 0; i < FAN_CACHE_SIZE; i++)
		st->cache[i].handle_bytes = 0;
}

/* Rebuilds st's filesystem table from /proc/self/mountinfo and marks every mount again (marks
 * are idempotent), flushing the directory cache. 0 when at least one filesystem is watched,
 * otherwise a negative errno. verbose logs at info what could not be marked. */
int fanotify_mounts_scan(struct fan_state *st, bool verbose);

/* Closes the mount fds and frees the filesystem table; st->nfs becomes 0. */
void fanotify_mounts_clear(struct fan_state *st);

/* The watched filesystem with this fsid, or NULL. Borrowed until the next scan or clear. */
struct fan_fs *fanotify_mounts_by_fsid(struct fan_state *st, const int fsid[2]);

/* An fd on fs for open_by_handle_at(), or a negative errno. Owned by fs: it stays open until
 * fanotify_mounts_close_fds(), so callers do not close it. */
int fanotify_mounts_fd(struct fan_fs *fs);

/* Closes the fds fanotify_mounts_fd() opened; called after each poll batch so that no held fd
 * makes an umount fail. */
void fanotify_mounts_close_fds(struct fan_state *st);

#endif
