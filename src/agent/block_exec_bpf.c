/* Exec blocking, the eBPF half: execs that fanotify cannot see were stopped (SIGSTOP) by
 * bpf/enforce.bpf.c before their first instruction; here each is checked and killed (SIGKILL)
 * or resumed (SIGCONT). The image is hashed through /proc/PID/exe (or its ELF interpreter
 * through map_files); for a dynamic loader run as the program, the program named on its command
 * line is opened as the process would open it and hashed. Nothing stays stopped longer than
 * BE_HOLD_NS: no verdict by then, or any failure, means SIGCONT. */
#include "block_exec_int.h"

#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/membarrier.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "enforce.h"
#include "enforce.skel.h"
#include "log.h"
#include "procfs.h"

#include "banned.h"

#define BE_HOLDS 256
#define BE_MAX_LINKS 40
#define BE_LOADER_DEPTH 4	  /* ld.so running ld.so running ... */
#define BE_CMDLINE_MAX (8u << 20) /* execve caps arguments at 3/4 of 8 MiB */
#define BE_WALK_MAX (2 * PATH_MAX)

struct be_hold {
	struct enforce_hold rec;
	uint64_t deadline_ns;
};

/* Reads /proc/PID/cmdline one argument at a time: no cap on an argument we skip. */
struct argscan {
	int fd;
	size_t pos, len;
	uint64_t total;
	char buf[4096];
};

struct block_exec_bpf {
	struct block_exec *b;
	struct enforce_bpf *skel;
	struct bpf_link *link;
	struct ring_buffer *rb;
	struct be_hold q[BE_HOLDS]; /* ring of stopped processes, oldest first */
	unsigned head, count;
	struct argscan scan;
	char arg[PATH_MAX];
	char walk[BE_WALK_MAX], walk2[BE_WALK_MAX];
};

/* Options of glibc's and musl's ld.so that take a value: the value is not the program. */
static const char *const ldso_value_opts[] = {
    "--library-path",	      "--inhibit-rpath",     "--audit", "--preload", "--argv0",
    "--glibc-hwcaps-prepend", "--glibc-hwcaps-mask",
};

static const char *const loader_dirs[] = {
    "/lib64",
    "/lib",
    "/usr/lib64",
    "/usr/lib",
    "/lib32",
    "/libx32",
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/i386-linux-gnu",
    "/lib/aarch64-linux-gnu",
};

static struct log_rate fail_rate, heal_rate;

static struct enforce_inode inode_key(const struct stat *sb)
{
	return (struct enforce_inode){
	    .ino = sb->st_ino,
	    .dev = (uint32_t)(major(sb->st_dev) << 20 | minor(sb->st_dev)),
	};
}

static void count_failure(struct block_exec_bpf *p, uint32_t pid, const char *what, int err)
{
	atomic_fetch_add(&p->b->n.hash_failures, 1);
	log_ratelimited(&fail_rate, 10, LOG_LEVEL_WARN, BE_LOG,
			"stopped exec resumed unchecked pid=%u what=%s err=%s", pid, what,
			strerror(-err));
}

/* ---- maps ---- */

int block_exec_bpf_trust(struct block_exec_bpf *p, const struct stat *sb)
{
	struct enforce_inode k = inode_key(sb);
	uint64_t ctime =
	    (uint64_t)sb->st_ctim.tv_sec * 1000000000ull + (uint64_t)sb->st_ctim.tv_nsec;

	return bpf_map__update_elem(p->skel->maps.trusted, &k, sizeof(k), &ctime, sizeof(ctime),
				    BPF_ANY);
}

void block_exec_bpf_untrust(struct block_exec_bpf *p, const struct stat *sb)
{
	struct enforce_inode k = inode_key(sb);

	(void)bpf_map__delete_elem(p->skel->maps.trusted, &k, sizeof(k), 0);
}

/* Keys first, deletes after: a hash map's walk restarts from the top once its key is gone. */
void block_exec_bpf_trust_clear(struct block_exec_bpf *p)
{
	struct enforce_inode *keys = malloc(ENFORCE_TRUSTED_MAX * sizeof(*keys));
	int fd = bpf_map__fd(p->skel->maps.trusted);
	size_t n = 0;

	if (!keys)
		return;
	while (n < ENFORCE_TRUSTED_MAX &&
	       bpf_map_get_next_key(fd, n ? &keys[n - 1] : NULL, &keys[n]) == 0)
		n++;
	for (size_t i = 0; i < n; i++)
		(void)bpf_map_delete_elem(fd, &keys[i]);
	free(keys);
}

void block_exec_bpf_set_loader(struct block_exec_bpf *p, const struct stat *sb, bool loader)
{
	struct enforce_inode k = inode_key(sb);
	uint8_t one = 1;

	if (loader)
		(void)bpf_map__update_elem(p->skel->maps.loaders, &k, sizeof(k), &one, sizeof(one),
					   BPF_ANY);
	else
		(void)bpf_map__delete_elem(p->skel->maps.loaders, &k, sizeof(k), 0);
}

/* Hard links to the installed loaders, whatever their names. */
static void seed_loaders(struct block_exec_bpf *p)
{
	for (size_t i = 0; i < sizeof(loader_dirs) / sizeof(loader_dirs[0]); i++) {
		DIR *d = opendir(loader_dirs[i]);
		struct dirent *e;
		struct stat sb;

		if (!d)
			continue;
		while ((e = readdir(d))) {
			if ((strncmp(e->d_name, "ld-linux", 8) == 0 ||
			     strncmp(e->d_name, "ld-musl", 7) == 0 ||
			     strcmp(e->d_name, "ld.so") == 0) &&
			    fstatat(dirfd(d), e->d_name, &sb, 0) == 0 && S_ISREG(sb.st_mode))
				block_exec_bpf_set_loader(p, &sb, true);
		}
		closedir(d);
	}
}

uint64_t block_exec_bpf_missed(const struct block_exec_bpf *p)
{
	return __atomic_load_n(&p->skel->bss->missed, __ATOMIC_RELAXED);
}

/* ---- checking one file ---- */

/* 1: blocked (reported), 0: may run, or a negative errno: no verdict. */
static int check_fd(struct block_exec_bpf *p, const struct be_hold *h, int fd, const char *how,
		    bool *loader)
{
	struct be_digest d;
	struct statfs sfs;
	struct stat sb;
	int rc = -EAGAIN;

	/* The FUSE daemon may be the very process we stopped: reading would never return. */
	if (fstatfs(fd, &sfs) == 0 && sfs.f_type == FUSE_SUPER_MAGIC)
		return -EOPNOTSUPP;
	for (int tries = 0; tries < 3 && rc == -EAGAIN; tries++)
		rc = block_exec_digest(p->b, fd, h->deadline_ns, &d, &sb);
	if (rc == -EFBIG) {
		atomic_fetch_add(&p->b->n.too_big, 1);
		return 0;
	}
	if (rc)
		return rc;
	if (loader)
		*loader |= d.loader;
	if (!block_exec_is_blocked(p->b, d.sha))
		return 0;
	block_exec_report(p->b, h->rec.pid, d.sha, fd, how, "killed");
	return 1;
}

/* A filesystem first met in an exec (mounted since the group was set up, or in another mount
 * namespace) gets its mark now, so its next execs are denied synchronously. */
static void watch_fs(struct block_exec_bpf *p, int fd)
{
	struct statfs sfs;

	if (p->b->group_fd < 0 || fstatfs(fd, &sfs) || sfs.f_type == FUSE_SUPER_MAGIC)
		return;
	if (fanotify_mark(p->b->group_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC_PERM,
			  fd, NULL) == 0)
		log_ratelimited(&heal_rate, 10, LOG_LEVEL_INFO, BE_LOG,
				"filesystem now watched type=0x%lx", (unsigned long)sfs.f_type);
}

/* The image itself (/proc/PID/exe) or its interpreter (map_files). */
static int check_image(struct block_exec_bpf *p, const struct be_hold *h, const char *path,
		       bool interp, bool *loader)
{
	uint32_t kind = h->rec.kind;
	const char *how = interp		       ? "interp"
			  : (kind & ENFORCE_NOLINK)    ? "deleted"
			  : (kind & ENFORCE_UNWATCHED) ? "unwatched"
						       : "changed";
	char target[16];
	struct stat sb;
	int fd, rc;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = interp ? 0 : readlink(path, target, sizeof(target));
	if (n >= 7 && memcmp(target, "/memfd:", 7) == 0)
		how = "memfd";
	rc = check_fd(p, h, fd, how, loader);
	if (!interp && (kind & ENFORCE_UNWATCHED) && !(kind & ENFORCE_NOLINK))
		watch_fs(p, fd);
	/* Rewritten under its ignore mark: drop the mark, the next exec is a permission event. */
	if (!interp && (kind & ENFORCE_CHANGED) && fstat(fd, &sb) == 0) {
		if (p->b->group_fd >= 0)
			(void)fanotify_mark(p->b->group_fd, FAN_MARK_REMOVE | FAN_MARK_IGNORED_MASK,
					    FAN_OPEN_EXEC_PERM, fd, NULL);
		block_exec_bpf_untrust(p, &sb);
	}
	close(fd);
	return rc;
}

/* ---- ld.so FILE ---- */

/* The next NUL-terminated argument from /proc/PID/cmdline into out[size]: 1, 0 at the end, or
 * a negative errno. A longer argument is cut and *cut set. */
static int next_arg(struct argscan *s, char *out, size_t size, bool *cut)
{
	size_t n = 0;

	*cut = false;
	for (;;) {
		char c;

		if (s->pos == s->len) {
			ssize_t r;

			if (s->total >= BE_CMDLINE_MAX)
				return -E2BIG;
			do
				r = read(s->fd, s->buf, sizeof(s->buf));
			while (r < 0 && errno == EINTR);
			if (r < 0)
				return -errno;
			if (r == 0) {
				out[n] = '\0';
				return n > 0;
			}
			s->pos = 0;
			s->len = (size_t)r;
			s->total += (uint64_t)r;
		}
		c = s->buf[s->pos++];
		if (c == '\0') {
			out[n] = '\0';
			return 1;
		}
		if (n + 1 < size)
			out[n++] = c;
		else
			*cut = true;
	}
}

/* The loader's program: the first argument that is not one of its options ("--x", or the value
 * of one that takes a value). glibc exits on an option it does not know; taking it for a flag
 * only means a program that would not run gets checked. 1 with the name in out, 0 when
 * nothing runs (no program, or a name too long to open), or a negative errno. */
static int next_program(struct argscan *s, char *out, size_t size)
{
	bool cut;
	int rc;

	while ((rc = next_arg(s, out, size, &cut)) > 0) {
		bool value = false;

		if (strncmp(out, "--", 2) != 0)
			return cut ? 0 : 1;
		if (strcmp(out, "--") == 0) {
			rc = next_arg(s, out, size, &cut);
			return rc > 0 && cut ? 0 : rc;
		}
		for (size_t i = 0; i < sizeof(ldso_value_opts) / sizeof(ldso_value_opts[0]); i++)
			value |= strcmp(out, ldso_value_opts[i]) == 0;
		if (value && (rc = next_arg(s, out, size, &cut)) <= 0)
			return rc;
	}
	return rc;
}

static bool same_inode(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* What "self" in a procfs names for pid: its number in our /proc, otherwise its number in the
 * innermost pid namespace (the /proc a container mounts). */
static void proc_self_name(uint32_t pid, int procfs_fd, char *out, size_t size)
{
	char path[64], line[256];
	struct stat ours, theirs;
	uint32_t ns = pid;
	FILE *f;

	(void)snprintf(out, size, "%u", pid);
	if (stat("/proc", &ours) || fstat(procfs_fd, &theirs) || ours.st_dev == theirs.st_dev)
		return;
	(void)snprintf(path, sizeof(path), "/proc/%u/status", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + 6, *end;

		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		for (;;) {
			unsigned long v = strtoul(p, &end, 10);

			if (end == p)
				break;
			ns = (uint32_t)v;
			p = end;
		}
	}
	(void)fclose(f);
	(void)snprintf(out, size, "%u", ns);
}

static int replace_fd(int *cur, int fd)
{
	if (fd < 0)
		return -errno;
	close(*cur);
	*cur = fd;
	return 0;
}

/* Opens path (read-only) as process pid would: from its cwd or its root, never above its root.
 * Symlinks are followed here, one component at a time, so that "/proc/self" (and /dev/fd,
 * /dev/stdin, which lead there) name pid and not the agent; procfs's magic links (fd/N, exe)
 * are followed by the kernel, which resolves them the same for any reader. */
static int open_as(struct block_exec_bpf *p, uint32_t pid, const char *path)
{
	char proc[64], name[NAME_MAX + 1], *rest = p->walk;
	int root = -1, cur = -1, fd, rc = 0, links = 0;
	struct statfs sfs;
	struct stat sb;

	if (strlen(path) >= sizeof(p->walk))
		return -ENAMETOOLONG;
	memcpy(p->walk, path, strlen(path) + 1);
	(void)snprintf(proc, sizeof(proc), "/proc/%u/root", pid);
	root = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
	(void)snprintf(proc, sizeof(proc), "/proc/%u/%s", pid, path[0] == '/' ? "root" : "cwd");
	cur = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 || cur < 0) {
		rc = -errno;
		goto out;
	}
	while (!rc) {
		size_t len;

		while (*rest == '/')
			rest++;
		if (!*rest)
			break;
		len = strcspn(rest, "/");
		if (len > NAME_MAX) {
			rc = -ENAMETOOLONG;
			break;
		}
		memcpy(name, rest, len);
		name[len] = '\0';
		rest += len;
		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			if (!same_inode(cur, root))
				rc = replace_fd(&cur, openat(cur, "..", O_PATH | O_CLOEXEC));
			continue;
		}
		fd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISLNK(sb.st_mode)) {
			rc = replace_fd(&cur, fd);
			continue;
		}
		close(fd);
		if (++links > BE_MAX_LINKS) {
			rc = -ELOOP;
			break;
		}
		if (fstatfs(cur, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC) {
			char self[32];

			if (strcmp(name, "self") != 0 && strcmp(name, "thread-self") != 0) {
				rc = replace_fd(&cur, openat(cur, name, O_PATH | O_CLOEXEC));
				continue;
			}
			proc_self_name(pid, cur, self, sizeof(self));
			if (strcmp(name, "self") == 0)
				len = (size_t)snprintf(p->walk2, sizeof(p->walk2), "%s%s", self,
						       rest);
			else
				len = (size_t)snprintf(p->walk2, sizeof(p->walk2), "%s/task/%s%s",
						       self, self, rest);
		} else {
			ssize_t n = readlinkat(cur, name, p->walk2, sizeof(p->walk2) - 1);

			if (n < 0) {
				rc = -errno;
				break;
			}
			p->walk2[n] = '\0';
			len =
			    (size_t)n + (size_t)snprintf(p->walk2 + n, sizeof(p->walk2) - (size_t)n,
							 "/%s", rest);
			if (p->walk2[0] == '/')
				rc = replace_fd(&cur, fcntl(root, F_DUPFD_CLOEXEC, 0));
		}
		if (len >= sizeof(p->walk2)) {
			rc = -ENAMETOOLONG;
			break;
		}
		memcpy(p->walk, p->walk2, len + 1);
		rest = p->walk;
	}
	if (!rc && (fstat(cur, &sb) < 0 || !S_ISREG(sb.st_mode)))
		rc = -EACCES;
	if (!rc) {
		(void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", cur);
		fd = open(proc, O_RDONLY | O_CLOEXEC);
		rc = fd < 0 ? -errno : fd;
	}
out:
	if (cur >= 0)
		close(cur);
	if (root >= 0)
		close(root);
	return rc;
}

/* ld.so FILE maps FILE itself, which fanotify never sees as an exec. A program that is itself a
 * loader is given the arguments after it, as glibc does. */
static int check_loader(struct block_exec_bpf *p, const struct be_hold *h)
{
	struct argscan *s = &p->scan;
	bool cut, blocked = false;
	char path[64];
	int rc, fd;

	(void)snprintf(path, sizeof(path), "/proc/%u/cmdline", h->rec.pid);
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0)
		return -errno;
	s->pos = s->len = 0;
	s->total = 0;
	rc = next_arg(s, p->arg, sizeof(p->arg), &cut); /* the loader's own argv[0] */
	for (int depth = 0; rc > 0 && depth < BE_LOADER_DEPTH; depth++) {
		bool loader = false;

		rc = next_program(s, p->arg, sizeof(p->arg));
		if (rc <= 0)
			break;
		fd = open_as(p, h->rec.pid, p->arg);
		if (fd < 0) {
			/* Not there for the loader either: nothing runs. */
			rc = fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP || fd == -EACCES ||
				     fd == -ENAMETOOLONG
				 ? 0
				 : fd;
			break;
		}
		rc = check_fd(p, h, fd, "ld.so", &loader);
		close(fd);
		blocked = rc > 0;
		if (rc)
			break;
		rc = loader; /* a loader runs the next program named */
	}
	close(s->fd);
	return blocked ? 1 : rc < 0 ? rc : 0;
}

/* ---- stopped processes ---- */

/* Still the process that was stopped: same start time. */
static bool same_process(const struct enforce_hold *r)
{
	uint64_t ticks = r->start_boot_ns / (1000000000ull / (uint64_t)procfs_clk_tck());
	struct procfs_stat st;

	return procfs_read_stat("/proc", r->pid, &st) == 0 && st.start_ticks == ticks;
}

/* True to kill. Errors resume the process: availability first. */
static bool check_hold(struct block_exec_bpf *p, const struct be_hold *h)
{
	const struct enforce_hold *r = &h->rec;
	bool loader = r->kind & ENFORCE_LOADER;
	char path[96];
	int rc;

	if (block_exec_now_ns() > h->deadline_ns) {
		count_failure(p, r->pid, "late", -ETIMEDOUT);
		return false;
	}
	if (r->kind & (ENFORCE_NOLINK | ENFORCE_UNWATCHED | ENFORCE_CHANGED)) {
		(void)snprintf(path, sizeof(path), "/proc/%u/exe", r->pid);
		rc = check_image(p, h, path, false, &loader);
		if (rc > 0)
			return true;
		if (rc < 0)
			count_failure(p, r->pid, "image", rc);
	}
	if (r->kind & ENFORCE_INTERP) {
		(void)snprintf(path, sizeof(path), "/proc/%u/map_files/%llx-%llx", r->pid,
			       (unsigned long long)r->interp_start,
			       (unsigned long long)r->interp_end);
		rc = check_image(p, h, path, true, NULL);
		if (rc > 0)
			return true;
		if (rc < 0)
			count_failure(p, r->pid, "interp", rc);
	}
	if (!loader)
		return false;
	rc = check_loader(p, h);
	if (rc < 0)
		count_failure(p, r->pid, "ld.so", rc);
	return rc > 0;
}

/* The pidfd pins the process: once its start time matched, no signal reaches a pid reused
 * since. */
static void decide_hold(struct block_exec_bpf *p, const struct be_hold *h, bool check)
{
	int pidfd = pidfd_open((pid_t)h->rec.pid, 0);
	bool kill;

	if (pidfd < 0)
		return;
	if (!same_process(&h->rec)) {
		close(pidfd);
		return;
	}
	kill = check && p->b->nset && check_hold(p, h);
	/* Prevention rules: the agent looks at the process as it is about to run. */
	if (check && !kill && p->b->gate && (h->rec.kind & ENFORCE_GATE) &&
	    block_exec_now_ns() <= h->deadline_ns)
		kill = p->b->gate(p->b->gate_ctx, h->rec.pid);
	/* Counted first, as for fanotify answers; taken back if the process is gone. */
	atomic_fetch_add(kill ? &p->b->n.killed : &p->b->n.continued, 1);
	if (pidfd_send_signal(pidfd, kill ? SIGKILL : SIGCONT, NULL, 0) < 0)
		atomic_fetch_sub(kill ? &p->b->n.killed : &p->b->n.continued, 1);
	close(pidfd);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct block_exec_bpf *p = ctx;
	struct be_hold *h;
	uint64_t now;

	if (size < sizeof(struct enforce_hold))
		return 0;
	atomic_fetch_add(&p->b->n.bypass_checks, 1);
	if (p->count == BE_HOLDS) {
		struct be_hold full = {.deadline_ns = 0};

		memcpy(&full.rec, data, sizeof(full.rec));
		atomic_fetch_add(&p->b->n.bypass_missed, 1);
		decide_hold(p, &full, false);
		return 0;
	}
	h = &p->q[(p->head + p->count++) % BE_HOLDS];
	memcpy(&h->rec, data, sizeof(h->rec));
	/* From the stop itself: a record may have waited in the ring while the worker hashed. */
	now = block_exec_now_ns();
	h->deadline_ns =
	    (h->rec.stop_ns && h->rec.stop_ns < now ? h->rec.stop_ns : now) + BE_HOLD_NS;
	return 0;
}

void block_exec_bpf_consume(struct block_exec_bpf *p)
{
	(void)ring_buffer__consume(p->rb);
}

bool block_exec_bpf_pending(const struct block_exec_bpf *p)
{
	return p->count > 0;
}

void block_exec_bpf_run_one(struct block_exec_bpf *p)
{
	struct be_hold h;

	if (!p->count)
		return;
	h = p->q[p->head];
	p->head = (p->head + 1) % BE_HOLDS;
	p->count--;
	decide_hold(p, &h, true);
}

int block_exec_bpf_ring_fd(struct block_exec_bpf *p)
{
	return ring_buffer__epoll_fd(p->rb);
}

/* ---- lifecycle ---- */

void block_exec_bpf_set_blocking(struct block_exec_bpf *p, bool on)
{
	__atomic_store_n(&p->skel->bss->blocking, on ? 1u : 0u, __ATOMIC_RELEASE);
}

int block_exec_bpf_set_gate(struct block_exec_bpf *p, bool on, const char *const *names,
			    size_t n)
{
	int fd = bpf_map__fd(p->skel->maps.gate_names);
	struct enforce_name key = {{0}}, next;
	uint8_t one = 1;

	if (names && n > ENFORCE_GATE_NAMES_MAX)
		return -E2BIG;
	/* Every exec is checked while the names change hands. */
	__atomic_store_n(&p->skel->bss->gate_all, on ? ENFORCE_GATE_ALL : 0u, __ATOMIC_RELEASE);
	while (bpf_map_get_next_key(fd, NULL, &next) == 0)
		if (bpf_map_delete_elem(fd, &next))
			break;
	if (!on || !names)
		return 0;
	for (size_t i = 0; i < n; i++) {
		memset(&key, 0, sizeof(key));
		for (size_t k = 0; k < ENFORCE_NAME_LEN - 1 && names[i][k]; k++)
			key.name[k] = (char)tolower((unsigned char)names[i][k]);
		if (bpf_map_update_elem(fd, &key, &one, BPF_ANY))
			return -errno;
	}
	__atomic_store_n(&p->skel->bss->gate_all, ENFORCE_GATE_NAMES, __ATOMIC_RELEASE);
	return 0;
}

int block_exec_bpf_attach(struct block_exec_bpf *p)
{
	if (p->link)
		return 0;
	seed_loaders(p);
	p->link = bpf_program__attach(p->skel->progs.enforce_exec);
	if (!p->link)
		return -errno;
	return 0;
}

void block_exec_bpf_detach(struct block_exec_bpf *p)
{
	if (!p->link)
		return;
	bpf_link__destroy(p->link);
	p->link = NULL;
	/* A run already past the attach point may still submit: an RCU grace period (which
	 * MEMBARRIER_CMD_GLOBAL waits for) lets it finish before the last look at the ring. */
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) < 0)
		usleep(50000);
	ring_buffer__consume(p->rb);
	while (p->count)
		block_exec_bpf_run_one(p);
}

struct block_exec_bpf *block_exec_bpf_new(struct block_exec *b, char *err, size_t errlen)
{
	struct block_exec_bpf *p = calloc(1, sizeof(*p));
	int rc;

	if (!p) {
		(void)snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->b = b;
	p->skel = enforce_bpf__open();
	if (!p->skel) {
		(void)snprintf(err, errlen, "open: %s", strerror(errno));
		goto fail;
	}
	p->skel->rodata->agent_tgid = (uint32_t)getpid();
	rc = enforce_bpf__load(p->skel);
	if (rc) {
		(void)snprintf(err, errlen, "load: %s", strerror(-rc));
		goto fail;
	}
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.holds), on_record, p, NULL);
	if (!p->rb) {
		(void)snprintf(err, errlen, "ring buffer: %s", strerror(errno));
		goto fail;
	}
	return p;
fail:
	enforce_bpf__destroy(p->skel);
	free(p);
	return NULL;
}

void block_exec_bpf_free(struct block_exec_bpf *p)
{
	if (!p)
		return;
	block_exec_bpf_detach(p);
	ring_buffer__free(p->rb);
	enforce_bpf__destroy(p->skel);
	free(p);
}
