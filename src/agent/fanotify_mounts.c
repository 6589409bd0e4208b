/* The filesystems and mounts the fanotify source watches: /proc/self/mountinfo is parsed into
 * one filesystem mark per superblock (group A) and one mount mark per mount (group B), and each
 * filesystem keeps a mount path on which its file handles are decoded. */
#include "fanotify_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent.h"
#include "agent_config.h"
#include "log.h"
#include "mountinfo.h"

#include "banned.h"

/* Kernel interfaces rather than files. FUSE and network filesystems are left out as well: their
 * statfs and getattr go to a daemon or a server, which can block the agent indefinitely. */
static const char *const skip_fs_types[] = {
    "proc",    "sysfs",	    "cgroup",	  "cgroup2", "devpts",	   "mqueue",	"bpf",
    "tracefs", "debugfs",   "securityfs", "pstore",  "configfs",   "fusectl",	"binfmt_misc",
    "autofs",  "hugetlbfs", "efivarfs",	  "nsfs",    "rpc_pipefs", "selinuxfs", "nfs",
    "nfs4",    "cifs",	    "smb3",	  "9p",	     "ceph",	   "glusterfs", "lustre",
};

static struct log_rate full_rate; /* "too many filesystems" */

static bool fs_type_skipped(const struct agent_config *cfg, const char *type)
{
	if (strncmp(type, "fuse", 4) == 0)
		return true;
	for (size_t i = 0; i < sizeof(skip_fs_types) / sizeof(skip_fs_types[0]); i++) {
		if (strcmp(type, skip_fs_types[i]) == 0)
			return true;
	}
	return cfg && agent_config_list_has(&cfg->skip_fs, type);
}

/* ---- mountinfo ---- */

/* ---- marks ---- */

static int mark_filesystem(struct fan_state *st, int fd)
{
	int err =
	    fanotify_mark(st->dir_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, st->dir_mask, fd, ".");

	if (err && errno == EINVAL && (st->dir_mask & FAN_RENAME)) {
		st->dir_mask =
		    (st->dir_mask & ~(uint64_t)FAN_RENAME) | FAN_MOVED_FROM | FAN_MOVED_TO;
		log_info(FAN_LOG,
			 "no FAN_RENAME (Linux < 5.17), pairing MOVED_FROM/MOVED_TO by pid");
		err = fanotify_mark(st->dir_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, st->dir_mask,
				    fd, ".");
	}
	return err ? errno : 0;
}

/* Marks one mount: group B's mount mark, and group A's filesystem mark once per superblock.
 * fanotify_mark() needs a path (an O_PATH fd alone gives EBADF), hence fd + ".". */
static void mark_mount(struct fan_state *st, const struct mountinfo_entry *m, bool verbose)
{
	bool whole = strcmp(m->root, "/") == 0;
	struct fan_fs *fs = NULL;
	struct statfs sfs;
	struct statx stx;
	char *path;
	int fd, err, fsid[2];

	fd = open(m->point, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	/* A mount hidden under a later one at the same path is not reachable by path: marking the
	 * path would mark the one on top. DONT_SYNC keeps a stale mount from blocking us. */
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) < 0 ||
	    !(stx.stx_mask & STATX_MNT_ID) || stx.stx_mnt_id != m->id || fstatfs(fd, &sfs) < 0)
		goto out;
	/* Not devtmpfs: the kernel opens each written file for us, and opening a device node can
	 * have driver side effects (a watchdog starts ticking). */
	if (st->write_fd >= 0 && strcmp(m->type, "devtmpfs") != 0 &&
	    fanotify_mark(st->write_fd, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_CLOSE_WRITE, fd, ".") &&
	    verbose)
		log_info(FAN_LOG, "mount not watched for writes path=%s type=%s err=%s", m->point,
			 m->type, strerror(errno));

	for (size_t i = 0; i < st->nfs && !fs; i++)
		fs = st->fs[i].dev == m->dev ? &st->fs[i] : NULL;
	memcpy(fsid, &sfs.f_fsid, sizeof(fsid));
	if (fs && !fs->err) {
		/* Handles decode relative to the mount: one showing the whole filesystem gives
		 * full paths where a bind mount of a subdirectory would not. */
		if (whole && !fs->whole && memcmp(fsid, fs->fsid, sizeof(fsid)) == 0 &&
		    (path = strdup(m->point))) {
			free(fs->mount_path);
			fs->mount_path = path;
			fs->whole = true;
		}
		goto out;
	}
	if (!fs && st->nfs == FAN_MAX_FS) {
		log_ratelimited(&full_rate, 5, LOG_LEVEL_WARN, FAN_LOG,
				"too many filesystems max=%d path=%s", FAN_MAX_FS, m->point);
		goto out;
	}
	if (!fs) {
		fs = &st->fs[st->nfs++];
		*fs = (struct fan_fs){.dev = m->dev, .mount_fd = -1, .err = ENOENT};
	}
	err = mark_filesystem(st, fd);
	if (!err && fanotify_mounts_by_fsid(st, fsid)) {
		/* Two filesystems with one fsid: their handles could not be told apart. */
		fanotify_mark(st->dir_fd, FAN_MARK_REMOVE | FAN_MARK_FILESYSTEM, st->dir_mask, fd,
			      ".");
		err = EEXIST;
	}
	if (!err && !(fs->mount_path = strdup(m->point)))
		err = ENOMEM;
	memcpy(fs->fsid, fsid, sizeof(fsid));
	fs->whole = whole;
	fs->err = err;
	if (err && verbose)
		log_info(FAN_LOG, "filesystem not watched path=%s type=%s err=%s", m->point,
			 m->type,
			 err == EEXIST ? "fsid shared with another filesystem" : strerror(err));
out:
	close(fd);
}

void fanotify_mounts_clear(struct fan_state *st)
{
	fanotify_mounts_close_fds(st);
	for (size_t i = 0; i < st->nfs; i++)
		free(st->fs[i].mount_path);
	st->nfs = 0;
}

/* Rebuilds the table and marks every mount again (marks are idempotent), so new mounts are
 * watched and a reused device number never keeps a stale entry. */
int fanotify_mounts_scan(struct fan_state *st, bool verbose)
{
	const struct agent_config *cfg = st->ag->config;
	struct mountinfo_entry m;
	char *line = NULL;
	size_t cap = 0, marked = 0;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	fanotify_mounts_clear(st);
	fanotify_cache_flush(st);
	while (getline(&line, &cap, f) > 0) {
		if (mountinfo_parse_line(line, &m) == 0 && !fs_type_skipped(cfg, m.type))
			mark_mount(st, &m, verbose);
	}
	free(line);
	(void)fclose(f);
	for (size_t i = 0; i < st->nfs; i++)
		marked += st->fs[i].err == 0;
	log_msg(verbose ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG, FAN_LOG,
		"watching filesystems=%zu of=%zu rename=%s writes=%s", marked, st->nfs,
		st->dir_mask & FAN_RENAME ? "fan_rename" : "moved_pair",
		st->write_fd >= 0 ? "on" : "off");
	return marked ? 0 : -ENODEV;
}

/* ---- handle decoding ---- */

struct fan_fs *fanotify_mounts_by_fsid(struct fan_state *st, const int fsid[2])
{
	for (size_t i = 0; i < st->nfs; i++) {
		if (!st->fs[i].err && memcmp(st->fs[i].fsid, fsid, sizeof(st->fs[i].fsid)) == 0)
			return &st->fs[i];
	}
	return NULL;
}

void fanotify_mounts_close_fds(struct fan_state *st)
{
	for (size_t i = 0; i < st->nfs; i++) {
		if (st->fs[i].mount_fd >= 0)
			close(st->fs[i].mount_fd);
		st->fs[i].mount_fd = -1;
	}
}

/* open_by_handle_at() wants a real (not O_PATH) fd on the filesystem. The fsid is checked
 * again: a handle decoded on another filesystem of the same type could name an unrelated file. */
int fanotify_mounts_fd(struct fan_fs *fs)
{
	struct statfs sfs;
	int fd;

	if (fs->mount_fd >= 0)
		return fs->mount_fd;
	fd = open(fs->mount_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &sfs) < 0 || memcmp(&sfs.f_fsid, fs->fsid, sizeof(fs->fsid)) != 0) {
		close(fd);
		return -ESTALE;
	}
	fs->mount_fd = fd;
	return fd;
}
