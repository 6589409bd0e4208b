#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "agent_config.h"
#include "event.h"
#include "fanotify_int.h"
#include "fanotify_parse.h"
#include "log.h"

#include "banned.h"

/*
 * Two fanotify groups:
 *  A "dir":   FID reporting, one filesystem mark per superblock: create, delete, rename, attrib.
 *             Events carry directory handles + names, resolved with open_by_handle_at().
 *  B "write": classic fd reporting, one mount mark per mount: close_write, path from the fd.
 * Both sit in one epoll fd, which is what fd() hands to the agent loop. Which mounts are marked,
 * and where handles are decoded, is fanotify_mounts.c.
 */

#define FAN_MAX_PER_POLL 4096	    /* events per poll() call, so other sources get a turn */
#define FAN_RESCAN_NS 1000000000ull /* how often tick() checks mountinfo for changes */
#define FAN_DIR_MASK (FAN_CREATE | FAN_DELETE | FAN_ATTRIB | FAN_ONDIR)

static struct log_rate overflow_rate, error_rate, unresolved_rate, bad_rate;

/* ---- paths and event fields ---- */

/* A deleted object's link reads "<path> (deleted)"; strip that only when the link count says
 * so, since a real name may end the same way. */
static int fd_path(int fd, char *out, size_t size)
{
	static const char deleted[] = " (deleted)";
	const size_t dlen = sizeof(deleted) - 1;
	char link[64];
	struct stat sb;
	ssize_t n;

	(void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, size);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	out[n] = '\0';
	if (out[0] != '/')
		return -ENOENT;
	if ((size_t)n > dlen && memcmp(out + n - dlen, deleted, dlen) == 0 && fstat(fd, &sb) == 0 &&
	    sb.st_nlink == 0)
		out[n - dlen] = '\0';
	return 0;
}

static void event_set_path(struct event *ev, const char *path)
{
	const char *slash = strrchr(path, '/');

	event_copy_str(ev->file.path, sizeof(ev->file.path), path, strlen(path));
	if (!slash)
		return;
	event_copy_str(ev->file.name, sizeof(ev->file.name), slash + 1, strlen(slash + 1));
	event_copy_str(ev->file.directory, sizeof(ev->file.directory), path,
		       slash == path ? 1 : (size_t)(slash - path));
}

static void event_set_stat(struct event *ev, const struct stat *sb)
{
	ev->file.mode = sb->st_mode & 07777; /* keeps setuid/setgid/sticky */
	ev->file.uid = sb->st_uid;
	ev->file.gid = sb->st_gid;
	ev->file.inode = sb->st_ino;
	event_mark(ev, EVF_FILE_MODE);
	event_mark(ev, EVF_FILE_UID);
	event_mark(ev, EVF_FILE_GID);
	event_mark(ev, EVF_FILE_INODE);
	if (S_ISREG(sb->st_mode)) {
		ev->file.size = (uint64_t)sb->st_size;
		event_mark(ev, EVF_FILE_SIZE);
	}
}

/* Stat after the fact, by path: what a chmod or chown left behind. */
static void event_stat_path(struct event *ev, const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) == 0)
		event_set_stat(ev, &sb);
}

static struct event *event_begin(struct fan_state *st, enum event_action action, int pid,
				 const char *path)
{
	struct event *ev = &st->ev;

	event_reset(ev);
	ev->action = action;
	ev->timestamp_ns = agent_now_real();
	event_mark(ev, EVF_TIMESTAMP);
	if (pid > 0) {
		ev->process.pid = (uint32_t)pid;
		event_mark(ev, EVF_PROCESS_PID);
	}
	event_copy_str(ev->mamori_source, sizeof(ev->mamori_source), FAN_LOG, strlen(FAN_LOG));
	event_set_path(ev, path);
	return ev;
}

/* ---- handle resolution ---- */

static bool same_handle(const struct fan_fid *a, const struct fan_fid *b)
{
	return a->handle_bytes == b->handle_bytes && a->handle_type == b->handle_type &&
	       memcmp(a->fsid, b->fsid, sizeof(a->fsid)) == 0 &&
	       memcmp(a->handle, b->handle, a->handle_bytes) == 0;
}

static struct fan_cache_entry *cache_slot(struct fan_state *st, const struct fan_fid *f)
{
	uint32_t h = 2166136261u;

	for (unsigned i = 0; i < f->handle_bytes; i++)
		h = (h ^ f->handle[i]) * 16777619u;
	return &st->cache[h & (FAN_CACHE_SIZE - 1)];
}

static void cache_put(struct fan_state *st, const struct fan_fid *f, const char *path)
{
	struct fan_cache_entry *e = cache_slot(st, f);
	size_t len = strlen(path);

	if (len >= sizeof(e->path) || f->handle_bytes > sizeof(e->handle))
		return;
	memcpy(e->fsid, f->fsid, sizeof(e->fsid));
	e->handle_type = f->handle_type;
	e->handle_bytes = f->handle_bytes;
	memcpy(e->handle, f->handle, f->handle_bytes);
	memcpy(e->path, path, len + 1);
}

/* Path of the directory behind a fid record. Directory handles decode to connected dentries, so
 * the path is exact; caching it saves four syscalls per event in bursts on one directory. */
static int resolve_dir(struct fan_state *st, const struct fan_fid *f, char *out, size_t size)
{
	struct fan_cache_entry *e = cache_slot(st, f);
	struct fan_fid cached = {.handle = e->handle,
				 .handle_bytes = e->handle_bytes,
				 .handle_type = e->handle_type,
				 .fsid = {e->fsid[0], e->fsid[1]}};
	struct fan_fs *fs;
	int fd, err;

	if (e->handle_bytes && same_handle(&cached, f)) {
		if (strlen(e->path) >= size)
			return -ENAMETOOLONG;
		memcpy(out, e->path, strlen(e->path) + 1);
		return 0;
	}
	fs = fanotify_mounts_by_fsid(st, f->fsid);
	if (!fs)
		return -ENODEV;
	fd = fanotify_mounts_fd(fs);
	if (fd < 0)
		return fd;
	fd = open_by_handle_at(fd, (struct file_handle *)(uintptr_t)f->fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = fd_path(fd, out, size);
	close(fd);
	if (!err)
		cache_put(st, f, out);
	return err;
}

/* Full path of a DFID_NAME record; the name "." stands for the directory itself. */
static int resolve_name(struct fan_state *st, const struct fan_fid *f, char *out, size_t size)
{
	int err = resolve_dir(st, f, st->dir, sizeof(st->dir));
	int n;

	if (err)
		return err;
	if (strcmp(f->name, ".") == 0)
		n = snprintf(out, size, "%s", st->dir);
	else
		n = snprintf(out, size, "%s%s%s", st->dir, st->dir[1] ? "/" : "", f->name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Mostly a directory already removed when its events are read (rm -rf of an old tree). */
static void note_unresolved(struct fan_state *st, int err)
{
	st->unresolved++;
	log_ratelimited(&unresolved_rate, 5, LOG_LEVEL_DEBUG, FAN_LOG,
			"event dropped, path unresolved err=%d total=%llu", -err,
			(unsigned long long)st->unresolved);
}

/* ---- group A: directory events ---- */

static void emit_named(struct fan_state *st, const struct fanotify_event_metadata *m,
		       enum event_action action, const struct fan_info *fi)
{
	const struct fan_fid *f = &fi->dfid_name;
	struct event *ev;
	int err;

	/* Without a name it is a link-count change reported on the inode alone (unlink, link),
	 * which the DELETE or CREATE next to it already describes. */
	if (!f->fh)
		return;
	err = resolve_name(st, f, st->path, sizeof(st->path));
	if (err) {
		note_unresolved(st, err);
		return;
	}
	if (agent_path_ignored(st->ag->config, st->path)) {
		atomic_fetch_add(&st->ag->counters.ignored, 1);
		return;
	}
	ev = event_begin(st, action, m->pid, st->path);
	if (action != EVENT_ACTION_DELETION)
		event_stat_path(ev, st->path);
	/* FAN_REPORT_TARGET_FID hands us a new directory's own handle: remembering its path lets
	 * events inside it resolve even once it is gone (mktemp -d ... rm -rf). */
	if (action == EVENT_ACTION_CREATION && (m->mask & FAN_ONDIR) && fi->fid.fh &&
	    !same_handle(&fi->fid, f))
		cache_put(st, &fi->fid, st->path);
	agent_emit(st->ag, ev);
}

/* old_path may be empty (unknown): the new name is what matters, e.g. a temp file renamed into
 * /etc/cron.d. A move out of an ignored directory into a watched one is kept. */
static void emit_rename(struct fan_state *st, const struct fanotify_event_metadata *m,
			const char *old_path, const char *old_name, const struct fan_fid *newf)
{
	const struct agent_config *cfg = st->ag->config;
	struct event *ev;
	int err;

	err = resolve_name(st, newf, st->path, sizeof(st->path));
	if (err) {
		note_unresolved(st, err);
		return;
	}
	if (agent_path_ignored(cfg, st->path) &&
	    (!old_path[0] || agent_path_ignored(cfg, old_path))) {
		atomic_fetch_add(&st->ag->counters.ignored, 1);
		return;
	}
	ev = event_begin(st, EVENT_ACTION_RENAME, m->pid, st->path);
	event_stat_path(ev, st->path);
	if (old_path[0]) {
		event_copy_str(ev->file.original_path, sizeof(ev->file.original_path), old_path,
			       strlen(old_path));
		old_name = strrchr(old_path, '/') + 1;
	}
	if (old_name)
		event_copy_str(ev->file.original_name, sizeof(ev->file.original_name), old_name,
			       strlen(old_name));
	agent_emit(st->ag, ev);
}

static void handle_rename(struct fan_state *st, const struct fanotify_event_metadata *m,
			  const struct fan_info *fi)
{
	if (!fi->old_name.fh || !fi->new_name.fh)
		return;
	if (resolve_name(st, &fi->old_name, st->old_path, sizeof(st->old_path)))
		st->old_path[0] = '\0';
	emit_rename(st, m, st->old_path, fi->old_name.name, &fi->new_name);
}

/* Before FAN_RENAME: FID groups have no cookie, but the renaming task queues MOVED_FROM and
 * MOVED_TO back to back, so pair them by pid. */
static void handle_moved(struct fan_state *st, const struct fanotify_event_metadata *m,
			 const struct fan_info *fi)
{
	if (!fi->dfid_name.fh)
		return;
	if (m->mask & FAN_MOVED_FROM) {
		st->moved_pid = m->pid;
		if (resolve_name(st, &fi->dfid_name, st->old_path, sizeof(st->old_path)))
			st->old_path[0] = '\0';
		event_copy_str(st->moved_path, sizeof(st->moved_path), st->old_path,
			       strlen(st->old_path));
	}
	if (m->mask & FAN_MOVED_TO) {
		emit_rename(st, m, st->moved_pid == m->pid ? st->moved_path : "", NULL,
			    &fi->dfid_name);
		st->moved_pid = 0;
		st->moved_path[0] = '\0';
	}
}

/* The kernel merges events on one name, so a mask may carry several actions: report each, in
 * the order they most plausibly happened. */
static void handle_dir_event(struct fan_state *st, const struct fanotify_event_metadata *m,
			     const char *raw)
{
	uint64_t mask = m->mask;
	struct fan_info fi;

	if (m->pid == st->ag->self_pid)
		return;
	if (fanotify_parse_info(raw, m, &fi)) {
		atomic_fetch_add(&st->ag->counters.malformed, 1);
		log_ratelimited(&bad_rate, 5, LOG_LEVEL_WARN, FAN_LOG,
				"malformed fanotify record mask=0x%llx", (unsigned long long)mask);
		return;
	}
	if (mask & FAN_CREATE)
		emit_named(st, m, EVENT_ACTION_CREATION, &fi);
	if (mask & (FAN_MOVED_FROM | FAN_MOVED_TO))
		handle_moved(st, m, &fi);
	if (mask & FAN_RENAME)
		handle_rename(st, m, &fi);
	/* touch = create + utimes: the creation already carries the resulting mode. */
	if ((mask & FAN_ATTRIB) && !(mask & FAN_CREATE))
		emit_named(st, m, EVENT_ACTION_ATTRIBUTES_MODIFICATION, &fi);
	if (mask & FAN_DELETE)
		emit_named(st, m, EVENT_ACTION_DELETION, &fi);
	if ((mask & FAN_ONDIR) && (mask & (FAN_RENAME | FAN_MOVED_FROM | FAN_MOVED_TO)))
		fanotify_cache_flush(st);
}

/* ---- group B: writes ---- */

static void handle_write_event(struct fan_state *st, const struct fanotify_event_metadata *m)
{
	struct event *ev;
	struct stat sb;

	if (m->fd < 0)
		return;
	/* Pipes and device nodes: "modified" means nothing there. */
	if (m->pid == st->ag->self_pid || fstat(m->fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		goto out;
	if (fd_path(m->fd, st->path, sizeof(st->path))) {
		note_unresolved(st, -ENOENT);
		goto out;
	}
	if (agent_path_ignored(st->ag->config, st->path)) {
		atomic_fetch_add(&st->ag->counters.ignored, 1);
		goto out;
	}
	ev = event_begin(st, EVENT_ACTION_MODIFICATION, m->pid, st->path);
	event_set_stat(ev, &sb);
	agent_emit(st->ag, ev);
out:
	close(m->fd);
}

/* ---- reading ---- */

/* Reads one buffer from a group: the number of events handled (0: queue empty), or a negative
 * errno when the group is broken. */
static int read_group(struct fan_state *st, int fd, bool dir)
{
	struct fanotify_event_metadata m;
	const char *p = st->buf, *end;
	ssize_t n;
	int count = 0;

	do
		n = read(fd, st->buf, sizeof(st->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0 && (errno == EBADF || errno == EINVAL || errno == EFAULT))
		return -errno;
	if (n < 0) {
		/* The kernel could not open a group B event's file: that event is lost. */
		atomic_fetch_add(&st->ag->counters.kernel_dropped, 1);
		log_ratelimited(&error_rate, 5, LOG_LEVEL_WARN, FAN_LOG,
				"event lost, kernel could not open the file err=%s",
				strerror(errno));
		return 1;
	}
	for (end = st->buf + n; (size_t)(end - p) >= sizeof(m); p += m.event_len, count++) {
		memcpy(&m, p, sizeof(m));
		if (m.vers != FANOTIFY_METADATA_VERSION || m.event_len < sizeof(m) ||
		    m.event_len > (size_t)(end - p)) {
			if (!dir && m.fd >= 0)
				close(m.fd);
			return -EPROTO;
		}
		if (m.mask & FAN_Q_OVERFLOW) {
			/* One event stands for an unknown number lost: counted as one. */
			atomic_fetch_add(&st->ag->counters.kernel_dropped, 1);
			log_ratelimited(&overflow_rate, 6, LOG_LEVEL_WARN, FAN_LOG,
					"kernel queue overflowed, events lost group=%s",
					dir ? "dir" : "write");
		} else if (dir) {
			handle_dir_event(st, &m, p);
		} else {
			handle_write_event(st, &m);
		}
	}
	return count;
}

/* Alternates between the groups so a write storm cannot starve creates and deletes. Returns the
 * events handled, or a negative errno when group A is broken. */
static int drain(struct fan_state *st, int budget)
{
	int a = 1, b = st->write_fd >= 0, total = 0;

	while ((a > 0 || b > 0) && total < budget) {
		if (a > 0) {
			a = read_group(st, st->dir_fd, true);
			total += a > 0 ? a : 0;
		}
		if (b > 0 && total < budget) {
			b = read_group(st, st->write_fd, false);
			total += b > 0 ? b : 0;
			if (b < 0) {
				log_error(FAN_LOG, "file writes no longer watched err=%s",
					  strerror(-b));
				close(st->write_fd); /* also leaves the epoll set */
				st->write_fd = -1;
			}
		}
	}
	fanotify_mounts_close_fds(st);
	return a < 0 ? a : total;
}

/* ---- source ops ---- */

static void state_free(struct fan_state *st)
{
	int fds[] = {st->mountinfo_fd, st->epoll_fd, st->write_fd, st->dir_fd};

	fanotify_mounts_clear(st);
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
	free(st);
}

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ee = {.events = EPOLLIN, .data.fd = fd};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ee) < 0 ? -errno : 0;
}

static int fan_open(struct source *src, unsigned want, char *why, size_t whylen)
{
	const unsigned flags = FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK;
	struct agent *ag = src->agent;
	struct fan_state *st;
	int err;

	(void)want;
	if (geteuid() != 0) {
		(void)snprintf(why, whylen,
			       "needs root (CAP_SYS_ADMIN) for fanotify filesystem marks");
		return -EPERM;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		(void)snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	st->ag = ag;
	st->write_fd = st->epoll_fd = st->mountinfo_fd = -1;
	st->dir_mask = FAN_DIR_MASK | FAN_RENAME;
	/* Default queue sizes, not FAN_UNLIMITED_QUEUE: kernel memory stays bounded and overflows
	 * are counted. TARGET_FID (5.17+) only feeds the directory cache, so it is optional. */
	st->dir_fd = fanotify_init(flags | FAN_REPORT_DFID_NAME_TARGET, O_RDONLY | O_LARGEFILE);
	if (st->dir_fd < 0 && errno == EINVAL)
		st->dir_fd = fanotify_init(flags | FAN_REPORT_DFID_NAME | FAN_REPORT_FID,
					   O_RDONLY | O_LARGEFILE);
	if (st->dir_fd < 0) {
		err = -errno;
		(void)snprintf(why, whylen, "fanotify_init: %s",
			       err == -ENOSYS	? "kernel built without fanotify"
			       : err == -EINVAL ? "no FAN_REPORT_DFID_NAME (needs Linux 5.9+)"
						: strerror(-err));
		goto fail;
	}
	/* O_NONBLOCK: the kernel opens every written file for us, and opening a FIFO blocks. */
	if (ag->config->file_writes) {
		st->write_fd =
		    fanotify_init(flags, O_RDONLY | O_LARGEFILE | O_NONBLOCK | O_CLOEXEC);
		if (st->write_fd < 0)
			log_warn(FAN_LOG, "file writes not watched: fanotify_init err=%s",
				 strerror(errno));
	}
	st->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	err = st->epoll_fd < 0 ? -errno : epoll_add(st->epoll_fd, st->dir_fd);
	if (!err && st->write_fd >= 0)
		err = epoll_add(st->epoll_fd, st->write_fd);
	if (err) {
		(void)snprintf(why, whylen, "epoll: %s", strerror(-err));
		goto fail;
	}
	/* POLLPRI on it means the mount table changed; checked from tick(). */
	st->mountinfo_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	err = fanotify_mounts_scan(st, true);
	if (err) {
		(void)snprintf(why, whylen, "no filesystem could be marked: %s", strerror(-err));
		goto fail;
	}
	src->priv = st;
	return 0;
fail:
	state_free(st);
	return err;
}

static unsigned fan_cover(struct source *src)
{
	(void)src;
	return SOURCE_COVER_FILE;
}

static int fan_fd(struct source *src)
{
	const struct fan_state *st = src->priv;

	return st ? st->epoll_fd : -1;
}

static int fan_poll(struct source *src)
{
	struct fan_state *st = src->priv;
	int n;

	if (!st)
		return -EBADF;
	n = drain(st, FAN_MAX_PER_POLL);
	return n < 0 ? n : 0;
}

static void fan_tick(struct source *src, uint64_t now_ns)
{
	struct fan_state *st = src->priv;
	struct pollfd pfd;

	if (!st || st->mountinfo_fd < 0 || now_ns < st->next_rescan_ns)
		return;
	st->next_rescan_ns = now_ns + FAN_RESCAN_NS;
	pfd = (struct pollfd){.fd = st->mountinfo_fd, .events = POLLPRI};
	if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLPRI | POLLERR)))
		fanotify_mounts_scan(st, false);
}

static void fan_close(struct source *src)
{
	struct fan_state *st = src->priv;
	int rounds = 4; /* bounded: a busy host would keep us draining forever */

	if (!st)
		return;
	while (rounds-- > 0 && drain(st, FAN_MAX_PER_POLL) > 0)
		continue;
	state_free(st);
	src->priv = NULL;
}

const struct source_ops source_fanotify_ops = {
    .name = "fanotify",
    .open = fan_open,
    .cover = fan_cover,
    .fd = fan_fd,
    .poll = fan_poll,
    .tick = fan_tick,
    .close = fan_close,
};
