/* Exec blocking, the fanotify half and the worker. One FAN_CLASS_CONTENT group holds a
 * FAN_OPEN_EXEC_PERM mark on every filesystem that can hold a program; the worker hashes each
 * exec'd file through the event's fd, answers FAN_DENY for a blocked hash and FAN_ALLOW otherwise,
 * and gives an allowed file an ignore mark so its next execs cost nothing. The same thread
 * decides the execs block_exec_bpf.c stopped, so the cache and the set need no lock. */
#include "block_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block_exec_int.h"
#include "hex.h"
#include "log.h"
#include "mountinfo.h"

#include "banned.h"

#define BE_DEFAULT_MAX_BYTES (128ull << 20)
#define BE_MAX_FS 1024
#define BE_EVENTS_PER_TURN 64 /* then stopped processes get a turn */
#define BE_REFRESH_NS 60000000000ull

enum { TAG_CTL = 1, TAG_GROUP, TAG_RING };

/* Kernel interfaces rather than files. FUSE is left out too: its daemon may be the process
 * whose exec waits on us, and it would then never answer our read (no FUSE file is checked,
 * see the eBPF side). Network filesystems are marked: an exec from there waits on the server
 * anyway. */
static const char *const skip_fs_types[] = {
    "proc",    "sysfs",	   "cgroup",	 "cgroup2",    "devpts",    "mqueue",	 "bpf",
    "tracefs", "debugfs",  "securityfs", "pstore",     "configfs",  "fusectl",	 "binfmt_misc",
    "autofs",  "efivarfs", "nsfs",	 "rpc_pipefs", "selinuxfs", "hugetlbfs",
};

static struct log_rate fail_rate, hit_rate, write_rate;

/* Sorted by bytes: bsearch. */
static int sha_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

bool block_exec_is_blocked(const struct block_exec *b, const uint8_t sha[32])
{
	return b->nset && bsearch(sha, b->set, b->nset, 32, sha_cmp);
}

void block_exec_report(struct block_exec *b, uint32_t pid, const uint8_t sha[32], int fd,
		       const char *how, const char *action)
{
	static const char digits[] = "0123456789abcdef", deleted[] = " (deleted)";
	const size_t dlen = sizeof(deleted) - 1;
	struct block_exec_hit *h = &b->hit;
	char link[64];
	ssize_t n;

	h->pid = pid;
	for (size_t i = 0; i < 32; i++) {
		h->sha256[2 * i] = digits[sha[i] >> 4];
		h->sha256[2 * i + 1] = digits[sha[i] & 15];
	}
	h->sha256[64] = '\0';
	(void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, h->path, sizeof(h->path) - 1);
	n = n < 0 ? 0 : n;
	h->path[n] = '\0';
	/* Both a memfd and a deleted file read "<name> (deleted)". */
	if ((size_t)n > dlen && memcmp(h->path + n - dlen, deleted, dlen) == 0)
		h->path[n - dlen] = '\0';
	h->how = how;
	h->action = action;
	log_ratelimited(&hit_rate, 60, LOG_LEVEL_WARN, BE_LOG,
			"blocked exec pid=%u how=%s action=%s sha256=%s path=%s", pid, how, action,
			h->sha256, h->path);
	if (b->opts.on_hit)
		b->opts.on_hit(b->opts.ctx, h);
}

/* ---- marks ---- */

static bool fs_type_skipped(const char *type)
{
	if (strncmp(type, "fuse", 4) == 0)
		return true;
	for (size_t i = 0; i < sizeof(skip_fs_types) / sizeof(skip_fs_types[0]); i++) {
		if (strcmp(type, skip_fs_types[i]) == 0)
			return true;
	}
	return false;
}

struct be_fs {
	dev_t dev;
	bool by_mount; /* no filesystem mark: each of its mounts is marked instead */
};

/* One mark per superblock; a filesystem that refuses one gets a mark on each of its mounts. */
static void mark_mount(int gfd, const struct mountinfo_entry *m, struct be_fs *fs, size_t *nfs,
		       size_t *marked)
{
	struct statx stx;
	size_t i;

	/* A mount hidden under a later one at the same path is not reachable by path: its execs
	 * are left to the eBPF half, which sees the filesystem unwatched. */
	if (statx(AT_FDCWD, m->point, AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) <
		0 ||
	    !(stx.stx_mask & STATX_MNT_ID) || stx.stx_mnt_id != m->id)
		return;
	for (i = 0; i < *nfs && fs[i].dev != m->dev; i++)
		continue;
	if (i < *nfs && !fs[i].by_mount)
		return;
	if (i == *nfs) {
		if (*nfs == BE_MAX_FS)
			return;
		fs[i] = (struct be_fs){.dev = m->dev};
		(*nfs)++;
		if (fanotify_mark(gfd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC_PERM,
				  AT_FDCWD, m->point) == 0) {
			(*marked)++;
			return;
		}
		log_debug(BE_LOG, "no filesystem mark path=%s type=%s err=%s", m->point, m->type,
			  strerror(errno));
		fs[i].by_mount = true;
	}
	if (fanotify_mark(gfd, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN_EXEC_PERM, AT_FDCWD,
			  m->point) == 0)
		(*marked)++;
	else
		log_info(BE_LOG, "mount not watched path=%s type=%s err=%s", m->point, m->type,
			 strerror(errno));
}

static int mark_all(int gfd)
{
	struct be_fs *fs = calloc(BE_MAX_FS, sizeof(*fs));
	size_t nfs = 0, marked = 0, cap = 0;
	struct mountinfo_entry m;
	char *line = NULL;
	FILE *f;

	if (!fs)
		return -ENOMEM;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f) {
		free(fs);
		return -errno;
	}
	while (getline(&line, &cap, f) > 0) {
		if (mountinfo_parse_line(line, &m) == 0 && !fs_type_skipped(m.type))
			mark_mount(gfd, &m, fs, &nfs, &marked);
	}
	free(line);
	(void)fclose(f);
	free(fs);
	log_debug(BE_LOG, "exec permission marks=%zu filesystems=%zu", marked, nfs);
	return marked ? 0 : -ENODEV;
}

/* A group of our own (its marks, its ignore marks) or a negative errno. Without an unlimited
 * queue, an exec storm that fills it is allowed by the kernel unchecked. */
static int group_open(void)
{
	const unsigned flags = FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK;
	const unsigned ev_flags = O_RDONLY | O_LARGEFILE | O_CLOEXEC;
	int fd = fanotify_init(flags | FAN_UNLIMITED_QUEUE, ev_flags), rc;

	if (fd < 0 && (errno == EPERM || errno == EINVAL)) {
		log_warn(BE_LOG,
			 "no FAN_UNLIMITED_QUEUE err=%s: execs past a full queue run unchecked",
			 strerror(errno));
		fd = fanotify_init(flags, ev_flags);
	}
	if (fd < 0)
		return -errno;
	rc = mark_all(fd);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

/* ---- permission events ---- */

/* Spares the next execs of an allowed file the round trip. The kernel clears an ignore mark on
 * the next write or truncate (no FAN_MARK_IGNORED_SURV_MODIFY); a write through a shared mapping
 * reports none, so the eBPF half also gets the inode and the ctime that was hashed. */
static bool ignore_file(struct block_exec *b, int gfd, int fd, const struct stat *sb)
{
	const unsigned rm = FAN_MARK_REMOVE | FAN_MARK_IGNORED_MASK;
	struct stat now;
	int rc = b->bpf ? block_exec_bpf_trust(b->bpf, sb) : 0;

	if (rc == -E2BIG && !b->refresh)
		b->refresh = BE_REFRESH_FULL;
	if (rc)
		return true;
	if (fanotify_mark(gfd, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, FAN_OPEN_EXEC_PERM, fd,
			  NULL)) {
		if (b->bpf)
			block_exec_bpf_untrust(b->bpf, sb);
		return true;
	}
	/* Written between the hash and the mark: its modify event came too early to clear it. */
	if (fstat(fd, &now) == 0 && block_exec_same_file(sb, &now))
		return true;
	(void)fanotify_mark(gfd, rm, FAN_OPEN_EXEC_PERM, fd, NULL);
	if (b->bpf)
		block_exec_bpf_untrust(b->bpf, sb);
	block_exec_forget(b, sb);
	return false;
}

static uint32_t decide(struct block_exec *b, int gfd, const struct fanotify_event_metadata *m)
{
	struct be_digest d;
	struct stat sb;
	int rc = -EAGAIN;

	for (int tries = 0; tries < 3 && rc == -EAGAIN; tries++) {
		rc = block_exec_digest(b, m->fd, 0, &d, &sb);
		if (rc == 0 && !block_exec_is_blocked(b, d.sha) && !d.racy &&
		    !ignore_file(b, gfd, m->fd, &sb))
			rc = -EAGAIN;
	}
	if (rc == -EFBIG) {
		atomic_fetch_add(&b->n.too_big, 1);
		return FAN_ALLOW;
	}
	if (rc) {
		atomic_fetch_add(&b->n.hash_failures, 1);
		log_ratelimited(&fail_rate, 10, LOG_LEVEL_WARN, BE_LOG,
				"exec allowed unchecked pid=%d err=%s", m->pid, strerror(-rc));
		return FAN_ALLOW;
	}
	if (block_exec_is_blocked(b, d.sha)) {
		block_exec_report(b, (uint32_t)m->pid, d.sha, m->fd, "exec", "denied");
		return FAN_DENY;
	}
	if (b->bpf) {
		block_exec_bpf_set_loader(b->bpf, &sb, d.loader);
		if (d.racy)
			block_exec_bpf_untrust(b->bpf, &sb);
	}
	return FAN_ALLOW;
}

/* Counted first: whoever waits on the exec may read the counters the moment it is answered. */
static void respond(struct block_exec *b, int gfd, int fd, uint32_t verdict)
{
	struct fanotify_response r = {.fd = fd, .response = verdict};
	ssize_t n;

	atomic_fetch_add(verdict == FAN_DENY ? &b->n.denied : &b->n.allowed, 1);
	do
		n = write(gfd, &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(r))
		log_ratelimited(&write_rate, 10, LOG_LEVEL_ERROR, BE_LOG,
				"fanotify response not written err=%s", strerror(errno));
}

/* Reads and answers up to BE_EVENTS_PER_TURN events: the number handled, 0 once the queue is
 * empty. Every permission event read is answered exactly once, here, and its fd closed. */
static int drain_group(struct block_exec *b, int gfd)
{
	char buf[8192] __attribute__((aligned(8)));
	struct fanotify_event_metadata m;
	int count = 0;

	while (count < BE_EVENTS_PER_TURN) {
		ssize_t n = read(gfd, buf, sizeof(buf));
		const char *p = buf, *end;

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (n < 0 && (errno == EAGAIN || errno == EBADF || errno == EINVAL)))
			break;
		if (n < 0) {
			/* The kernel could not give us an fd (EMFILE...) and denied that exec. */
			log_ratelimited(&fail_rate, 10, LOG_LEVEL_WARN, BE_LOG,
					"fanotify read failed err=%s", strerror(errno));
			count++;
			continue;
		}
		for (end = buf + n; end - p >= (ssize_t)sizeof(m); p += m.event_len, count++) {
			memcpy(&m, p, sizeof(m));
			if (m.vers != FANOTIFY_METADATA_VERSION || m.event_len < sizeof(m) ||
			    m.event_len > (size_t)(end - p)) {
				/* Unparsable: only a new group answers what follows (at close). */
				log_error(BE_LOG, "malformed fanotify event, recreating the group");
				b->refresh = BE_REFRESH_NOW;
				return count;
			}
			if (m.fd < 0)
				continue;
			if (m.mask & FAN_OPEN_EXEC_PERM) {
				atomic_fetch_add(&b->n.perm_events, 1);
				respond(b, gfd, m.fd, decide(b, gfd, &m));
			}
			close(m.fd);
		}
	}
	return count;
}

/* ---- the worker ---- */

static int epoll_add(struct block_exec *b, int fd, uint32_t tag)
{
	struct epoll_event ee = {.events = EPOLLIN, .data.u32 = tag};

	return epoll_ctl(b->epoll_fd, EPOLL_CTL_ADD, fd, &ee) < 0 ? -errno : 0;
}

/* The worker's own copy of the gate's names (the request's are borrowed). */
static int gate_names_copy(struct block_exec *b, const char *const *names, size_t n)
{
	for (size_t i = 0; i < b->gate_nnames; i++)
		free(b->gate_names[i]);
	free(b->gate_names);
	b->gate_names = NULL;
	b->gate_nnames = 0;
	if (!names)
		return 0;
	b->gate_names = calloc(n ? n : 1, sizeof(*b->gate_names));
	if (!b->gate_names)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		b->gate_names[i] = strdup(names[i]);
		if (!b->gate_names[i])
			return -ENOMEM;
		b->gate_nnames++;
	}
	return 0;
}

/* The eBPF program runs while something is blocked or a gate is set, and stops every exec only
 * for the gate. */
static int bpf_update(struct block_exec *b, const char *const *names, size_t nnames)
{
	int rc;

	if (!b->bpf)
		return b->gate ? -ENOTSUP : 0;
	block_exec_bpf_set_blocking(b->bpf, b->nset > 0);
	rc = block_exec_bpf_set_gate(b->bpf, b->gate != NULL, names, nnames);
	if (rc)
		return rc;
	if (!b->nset && !b->gate) {
		block_exec_bpf_detach(b->bpf);
		return 0;
	}
	rc = block_exec_bpf_attach(b->bpf);
	if (rc)
		log_error(BE_LOG, "memfd, ld.so and prevention not checked: attach err=%s",
			  strerror(-rc));
	return b->gate ? rc : 0;
}

/* Takes set (sorted, n entries). The new group is marked before the old one goes, so no exec
 * slips between; the old queue is answered under the new set, and whatever the old group alone
 * still holds after that, the kernel allows at close (the new group saw it too). */
static int apply_set(struct block_exec *b, uint8_t (*set)[32], size_t n)
{
	int old = b->group_fd, gfd = -1, rc;

	if (n) {
		gfd = group_open();
		rc = gfd < 0 ? gfd : epoll_add(b, gfd, TAG_GROUP);
		if (rc) {
			if (gfd >= 0)
				close(gfd);
			free(set);
			log_error(BE_LOG, "block list not applied err=%s", strerror(-rc));
			return rc;
		}
	}
	free(b->set);
	b->set = set;
	b->nset = n;
	if (old >= 0) {
		/* Without marks the old group gets nothing new, so draining it ends. */
		(void)fanotify_mark(old, FAN_MARK_FLUSH | FAN_MARK_FILESYSTEM, 0, AT_FDCWD, "/");
		(void)fanotify_mark(old, FAN_MARK_FLUSH | FAN_MARK_MOUNT, 0, AT_FDCWD, "/");
		(void)fanotify_mark(old, FAN_MARK_FLUSH, 0, AT_FDCWD, "/");
		while (drain_group(b, old) > 0)
			continue;
		(void)epoll_ctl(b->epoll_fd, EPOLL_CTL_DEL, old, NULL);
		close(old);
	}
	b->group_fd = gfd;
	b->refresh = 0;
	if (!b->bpf)
		return 0;
	block_exec_bpf_trust_clear(b->bpf);
	return bpf_update(b, (const char *const *)b->gate_names, b->gate_nnames);
}

/* Starts again from a new group: at once when events could not be parsed (only closing the
 * old group answers them), at most once a minute when the trusted map filled up (ignore marks
 * the kernel already dropped leave entries behind). */
static void refresh(struct block_exec *b, uint64_t *next_ns)
{
	uint8_t(*copy)[32];
	uint64_t now = block_exec_now_ns();
	bool urgent = b->refresh == BE_REFRESH_NOW;

	b->refresh = 0;
	if (!b->nset || (!urgent && now < *next_ns))
		return;
	*next_ns = now + BE_REFRESH_NS;
	copy = malloc(b->nset * 32);
	if (!copy)
		return;
	memcpy(copy, b->set, b->nset * 32);
	(void)apply_set(b, copy, b->nset);
}

/* True when asked to stop. */
static bool handle_ctl(struct block_exec *b)
{
	uint8_t(*set)[32];
	uint64_t v;
	size_t n;
	int rc;

	if (read(b->ctl_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn(BE_LOG, "control read err=%s", strerror(errno));
	pthread_mutex_lock(&b->lock);
	if (b->stop) {
		if (b->req || b->req_gate) { /* a set() racing free(): it returns, not waits */
			free(b->req_set);
			b->req_set = NULL;
			b->req = false;
			b->req_gate = false;
			b->done_rc = -ECANCELED;
			b->done = true;
			pthread_cond_broadcast(&b->cond);
		}
		pthread_mutex_unlock(&b->lock);
		return true;
	}
	if (b->req_gate) {
		b->gate = b->req_gate_fn;
		b->gate_ctx = b->req_gate_ctx;
		b->req_gate = false;
		rc = gate_names_copy(b, b->req_names, b->req_nnames);
		pthread_mutex_unlock(&b->lock);
		if (!rc)
			rc = bpf_update(b, (const char *const *)b->gate_names, b->gate_nnames);
		pthread_mutex_lock(&b->lock);
		b->done_rc = rc;
		b->done = true;
		pthread_cond_broadcast(&b->cond);
		pthread_mutex_unlock(&b->lock);
		return false;
	}
	if (!b->req) {
		pthread_mutex_unlock(&b->lock);
		return false;
	}
	set = b->req_set;
	n = b->req_n;
	b->req_set = NULL;
	b->req = false;
	pthread_mutex_unlock(&b->lock);
	rc = apply_set(b, set, n);
	pthread_mutex_lock(&b->lock);
	b->done_rc = rc;
	b->done = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	return false;
}

static void *worker(void *arg)
{
	struct block_exec *b = arg;
	uint64_t next_refresh_ns = 0;
	struct epoll_event ev[4];

	for (;;) {
		bool held = b->bpf && block_exec_bpf_pending(b->bpf), ctl = false;
		int n = epoll_wait(b->epoll_fd, ev, 4, held ? 0 : -1);

		for (int i = 0; i < n; i++) {
			if (ev[i].data.u32 == TAG_CTL)
				ctl = true;
			else if (ev[i].data.u32 == TAG_GROUP && b->group_fd >= 0)
				drain_group(b, b->group_fd);
			else if (ev[i].data.u32 == TAG_RING && b->bpf)
				block_exec_bpf_consume(b->bpf);
		}
		if (b->bpf && block_exec_bpf_pending(b->bpf))
			block_exec_bpf_run_one(b->bpf);
		if (b->refresh)
			refresh(b, &next_refresh_ns);
		if (ctl && handle_ctl(b))
			break;
	}
	if (b->bpf)
		block_exec_bpf_detach(b->bpf);
	if (b->group_fd >= 0)
		close(b->group_fd); /* the kernel allows whatever is still queued */
	b->group_fd = -1;
	return NULL;
}

/* ---- API ---- */

static void release(struct block_exec *b)
{
	block_exec_bpf_free(b->bpf);
	if (b->epoll_fd >= 0)
		close(b->epoll_fd);
	if (b->ctl_fd >= 0)
		close(b->ctl_fd);
	block_exec_hash_release(b);
	free(b->set);
	(void)gate_names_copy(b, NULL, 0);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

struct block_exec *block_exec_new(const struct block_exec_opts *o, char *err, size_t errlen)
{
	struct block_exec *b;
	char why[256];
	int fd, rc;

	if (geteuid() != 0) {
		(void)snprintf(err, errlen,
			       "needs root (CAP_SYS_ADMIN) for fanotify permission marks");
		errno = EPERM;
		return NULL;
	}
	fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY);
	if (fd < 0) {
		rc = errno;
		(void)snprintf(err, errlen, "fanotify_init(FAN_CLASS_CONTENT): %s",
			       rc == EINVAL || rc == ENOSYS
				   ? "kernel without CONFIG_FANOTIFY_ACCESS_PERMISSIONS"
				   : strerror(rc));
		errno = rc;
		return NULL;
	}
	close(fd);
	b = calloc(1, sizeof(*b));
	if (!b) {
		(void)snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->opts = *o;
	if (!b->opts.max_hash_bytes)
		b->opts.max_hash_bytes = BE_DEFAULT_MAX_BYTES;
	b->group_fd = -1;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	b->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	b->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (block_exec_hash_init(b) || b->epoll_fd < 0 || b->ctl_fd < 0 ||
	    epoll_add(b, b->ctl_fd, TAG_CTL)) {
		rc = errno ? errno : ENOMEM;
		(void)snprintf(err, errlen, "setup: %s", strerror(rc));
		goto fail;
	}
	b->bpf = block_exec_bpf_new(b, why, sizeof(why));
	if (!b->bpf)
		log_warn(BE_LOG, "memfd, deleted-file and ld.so execs not checked: %s", why);
	else if ((rc = -epoll_add(b, block_exec_bpf_ring_fd(b->bpf), TAG_RING))) {
		(void)snprintf(err, errlen, "epoll: %s", strerror(rc));
		goto fail;
	}
	rc = pthread_create(&b->thread, NULL, worker, b);
	if (rc) {
		(void)snprintf(err, errlen, "thread: %s", strerror(rc));
		goto fail;
	}
	return b;
fail:
	release(b);
	errno = rc;
	return NULL;
}

static int parse_set(const char (*sha256)[65], size_t n, uint8_t (**out)[32], size_t *outn)
{
	uint8_t(*set)[32] = NULL;
	size_t k = 0;

	if (n && !(set = malloc(n * 32)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (strnlen(sha256[i], 65) != 64 || hex_decode(sha256[i], 64, set[i], 32) != 32) {
			free(set);
			return -EINVAL;
		}
	}
	if (n)
		qsort(set, n, 32, sha_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k == 0 || memcmp(set[k - 1], set[i], 32) != 0)
			memmove(set[k++], set[i], 32);
	}
	*out = set;
	*outn = k;
	return 0;
}

/* One request to the worker at a time: begin takes the lock and the turn, the caller fills the
 * request, end wakes the worker and waits for its answer. */
static void request_begin(struct block_exec *b)
{
	pthread_mutex_lock(&b->lock);
	while (b->busy)
		pthread_cond_wait(&b->cond, &b->lock);
	b->busy = true;
	b->done = false;
}

static int request_end(struct block_exec *b)
{
	uint64_t one = 1;
	int rc;

	if (write(b->ctl_fd, &one, sizeof(one)) < 0)
		log_warn(BE_LOG, "control write err=%s", strerror(errno));
	while (!b->done)
		pthread_cond_wait(&b->cond, &b->lock);
	rc = b->done_rc;
	b->busy = false;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	return rc;
}

int block_exec_set(struct block_exec *b, const char (*sha256)[65], size_t n)
{
	uint8_t(*set)[32];
	size_t k;
	int rc;

	if (pthread_equal(pthread_self(), b->thread))
		return -EDEADLK;
	rc = parse_set(sha256, n, &set, &k);
	if (rc)
		return rc;
	request_begin(b);
	b->req_set = set;
	b->req_n = k;
	b->req = true;
	return request_end(b);
}

int block_exec_set_gate(struct block_exec *b, block_exec_gate_fn gate, void *ctx,
			const char *const *names, size_t n)
{
	if (pthread_equal(pthread_self(), b->thread))
		return -EDEADLK;
	request_begin(b);
	b->req_gate = true;
	b->req_gate_fn = gate;
	b->req_gate_ctx = ctx;
	b->req_names = gate ? names : NULL;
	b->req_nnames = gate ? n : 0;
	return request_end(b);
}

void block_exec_free(struct block_exec *b)
{
	uint64_t one = 1;

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	pthread_mutex_unlock(&b->lock);
	if (write(b->ctl_fd, &one, sizeof(one)) < 0)
		log_warn(BE_LOG, "control write err=%s", strerror(errno));
	pthread_join(b->thread, NULL);
	release(b);
}

void block_exec_get_stats(struct block_exec *b, struct block_exec_stats *out)
{
	*out = (struct block_exec_stats){
	    .perm_events = atomic_load(&b->n.perm_events),
	    .allowed = atomic_load(&b->n.allowed),
	    .denied = atomic_load(&b->n.denied),
	    .killed = atomic_load(&b->n.killed),
	    .continued = atomic_load(&b->n.continued),
	    .hash_failures = atomic_load(&b->n.hash_failures),
	    .too_big = atomic_load(&b->n.too_big),
	    .bypass_checks = atomic_load(&b->n.bypass_checks),
	    .bypass_missed =
		atomic_load(&b->n.bypass_missed) + (b->bpf ? block_exec_bpf_missed(b->bpf) : 0),
	};
}
