/* Exec blocking against real execs: copies of touch(1) with random bytes appended (so each has a
 * hash of its own) run, or fail to, and the marker file each would touch says whether its code
 * ran. Covers the fanotify deny, memfd and ld.so runs killed by the eBPF half, rewrites (write
 * and shared mapping) after a file was allowed, a filesystem mounted where the agent cannot see
 * it, and the empty set. Needs root and fanotify permission events; skips otherwise. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "block_exec.h"
#include "hashcache.h"

#define LDSO "/lib64/ld-linux-x86-64.so.2"
#define TAIL 64 /* random bytes appended: both copies keep one size */
#define MAX_HITS 64

static struct {
	bool ready;
	char dir[64];
	char blocked[128], allowed[128]; /* the two copies */
	unsigned char *blocked_bytes, *allowed_bytes;
	size_t size;
	char blocked_sha[65], allowed_sha[65];
	struct block_exec *b;
	pthread_mutex_t lock;
	struct block_exec_hit hits[MAX_HITS];
	size_t nhits;
} T = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_hit(void *ctx, const struct block_exec_hit *hit)
{
	(void)ctx;
	pthread_mutex_lock(&T.lock);
	if (T.nhits < MAX_HITS)
		T.hits[T.nhits++] = *hit;
	pthread_mutex_unlock(&T.lock);
}

static size_t hit_count(void)
{
	size_t n;

	pthread_mutex_lock(&T.lock);
	n = T.nhits;
	pthread_mutex_unlock(&T.lock);
	return n;
}

/* The one hit reported since `since` hits. */
static struct block_exec_hit last_hit(size_t since)
{
	struct block_exec_hit h;

	pthread_mutex_lock(&T.lock);
	assert_int_equal(T.nhits, since + 1);
	h = T.hits[since];
	pthread_mutex_unlock(&T.lock);
	return h;
}

static void check_hit(size_t since, pid_t pid, const char *sha, const char *how, const char *action,
		      const char *path)
{
	struct block_exec_hit h = last_hit(since);

	if (pid > 0)
		assert_int_equal(h.pid, (uint32_t)pid);
	assert_string_equal(h.sha256, sha);
	assert_string_equal(h.how, how);
	assert_string_equal(h.action, action);
	if (path)
		assert_string_equal(h.path, path);
}

static struct block_exec_stats stats(void)
{
	struct block_exec_stats s;

	block_exec_get_stats(T.b, &s);
	return s;
}

static void write_file(const char *path, const unsigned char *bytes, size_t n, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0755);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, n), (ssize_t)n);
	assert_int_equal(close(fd), 0);
}

static char *path_in(const char *name)
{
	static char bufs[8][160];
	static int next;
	char *p = bufs[next++ % 8];

	(void)snprintf(p, sizeof(bufs[0]), "%s/%s", T.dir, name);
	return p;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* The result of one exec in a child: exec_errno is 0 when the exec itself succeeded (the
 * child's CLOEXEC pipe closed without a word), status is waitpid's. */
struct run {
	pid_t pid;
	int exec_errno;
	int status;
};

enum how_exec { BY_PATH, BY_MEMFD, BY_LDSO_FD, BY_INTERP_FD };

static struct run run_in(const char *cwd, enum how_exec how, const unsigned char *bytes, size_t n,
			 char *const argv[])
{
	struct run r = {0};
	int pipefd[2];
	ssize_t got;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	r.pid = fork();
	assert_true(r.pid >= 0);
	if (r.pid == 0) {
		int err, fd = -1;

		if (cwd && chdir(cwd) != 0)
			_exit(126);
		if (how == BY_MEMFD) {
			fd = memfd_create("payload", MFD_CLOEXEC);
			if (fd < 0 || write(fd, bytes, n) != (ssize_t)n)
				_exit(126);
			fexecve(fd, argv, environ);
		} else if (how == BY_INTERP_FD) {
			/* The program's PT_INTERP names /proc/self/fd/7: this memfd. */
			fd = memfd_create("interp", MFD_CLOEXEC); /* dup2 clears it */
			if (fd < 0 || write(fd, bytes, n) != (ssize_t)n || dup2(fd, 7) != 7)
				_exit(126);
			execv(argv[0], argv);
		} else if (how == BY_LDSO_FD) {
			/* argv names /proc/self/fd/5: the blocked file, seen only by the loader. */
			fd = open((const char *)bytes, O_RDONLY | O_CLOEXEC); /* dup2 clears it */
			if (fd < 0 || dup2(fd, 5) != 5)
				_exit(126);
			execv(argv[0], argv);
		} else {
			execv(argv[0], argv);
		}
		err = errno;
		(void)!write(pipefd[1], &err, sizeof(err));
		_exit(127);
	}
	close(pipefd[1]);
	got = read(pipefd[0], &r.exec_errno, sizeof(r.exec_errno));
	if (got != (ssize_t)sizeof(r.exec_errno))
		r.exec_errno = 0;
	close(pipefd[0]);
	assert_int_equal(waitpid(r.pid, &r.status, 0), r.pid);
	return r;
}

static struct run run(char *const argv[])
{
	return run_in(NULL, BY_PATH, NULL, 0, argv);
}

static void assert_denied(struct run r)
{
	if (r.exec_errno != EPERM && r.exec_errno != EACCES)
		fail_msg("exec was not denied: errno=%d status=0x%x", r.exec_errno, r.status);
}

static void assert_killed(struct run r)
{
	assert_int_equal(r.exec_errno, 0);
	if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGKILL)
		fail_msg("not killed: status=0x%x", r.status);
}

static void assert_ran(struct run r, const char *marker)
{
	assert_int_equal(r.exec_errno, 0);
	if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
		fail_msg("did not run to completion: status=0x%x", r.status);
	assert_true(exists(marker));
}

/* Runs path twice more and true when one of the runs caused no permission event and stopped
 * nothing. Other processes on the host exec too, so a run is retried a few times. */
static bool runs_for_free(const char *path, const char *marker)
{
	for (int i = 0; i < 5; i++) {
		struct block_exec_stats a = stats(), b;

		unlink(marker);
		assert_ran(run((char *[]){(char *)path, (char *)marker, NULL}), marker);
		b = stats();
		if (b.perm_events == a.perm_events && b.bypass_checks == a.bypass_checks)
			return true;
	}
	return false;
}

/* A file changed less than a second ago gets neither cache entry nor ignore mark. */
static void age(const char *path)
{
	struct timespec now, nap = {0, 50000000};
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	do {
		nanosleep(&nap, NULL);
		clock_gettime(CLOCK_REALTIME, &now);
	} while ((now.tv_sec - sb.st_ctim.tv_sec) * 1000000000LL +
		     (now.tv_nsec - sb.st_ctim.tv_nsec) <
		 1200000000LL);
}

/* The blocked copy's hash among two unrelated ones, and extra (when not NULL). */
static void set_hashes(bool on, const char *extra)
{
	char set[4][65] = {
	    "0000000000000000000000000000000000000000000000000000000000000001",
	    "", /* the blocked copy's */
	    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	};

	memcpy(set[1], T.blocked_sha, sizeof(set[1]));
	if (extra)
		memcpy(set[3], extra, sizeof(set[3]));
	assert_int_equal(block_exec_set(T.b, (const char(*)[65])set, !on ? 0 : extra ? 4 : 3), 0);
}

static void set_blocked(bool on)
{
	set_hashes(on, NULL);
}

/* ---- setup ---- */

static unsigned char *copy_with_tail(const char *src, const char *dst, size_t *size)
{
	struct stat sb;
	unsigned char *bytes;
	int fd = open(src, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	bytes = malloc((size_t)sb.st_size + TAIL);
	assert_non_null(bytes);
	assert_int_equal(read(fd, bytes, (size_t)sb.st_size), sb.st_size);
	close(fd);
	assert_int_equal(getrandom(bytes + sb.st_size, TAIL, 0), TAIL);
	*size = (size_t)sb.st_size + TAIL;
	write_file(dst, bytes, *size, O_TRUNC);
	return bytes;
}

static int group_setup(void **state)
{
	char err[256];
	int fd;

	(void)state;
	if (geteuid() != 0) {
		(void)fprintf(stderr,
			      "SKIP: exec blocking needs root (fanotify permission marks)\n");
		return 0;
	}
	fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY);
	if (fd < 0) {
		(void)fprintf(stderr, "SKIP: fanotify_init(FAN_CLASS_CONTENT): %s\n",
			      strerror(errno));
		return 0;
	}
	close(fd);
	/* Watchdog: a hung worker would hold every exec on the host; dying releases them. */
	alarm(240);
	(void)snprintf(T.dir, sizeof(T.dir), "/tmp/mamori-bx-XXXXXX");
	assert_non_null(mkdtemp(T.dir));
	(void)snprintf(T.blocked, sizeof(T.blocked), "%s/blocked-touch", T.dir);
	(void)snprintf(T.allowed, sizeof(T.allowed), "%s/allowed-touch", T.dir);
	T.blocked_bytes = copy_with_tail("/usr/bin/touch", T.blocked, &T.size);
	{
		size_t n;

		T.allowed_bytes = copy_with_tail("/usr/bin/touch", T.allowed, &n);
		assert_int_equal(n, T.size);
	}
	assert_int_equal(hashcache_file(T.blocked, NULL, 1 << 30, T.blocked_sha), 0);
	assert_int_equal(hashcache_file(T.allowed, NULL, 1 << 30, T.allowed_sha), 0);
	assert_string_not_equal(T.blocked_sha, T.allowed_sha);
	T.b = block_exec_new(&(struct block_exec_opts){.on_hit = on_hit}, err, sizeof(err));
	if (!T.b)
		fail_msg("block_exec_new: %s", err);
	set_blocked(true);
	T.ready = true;
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static int group_teardown(void **state)
{
	(void)state;
	block_exec_free(T.b);
	if (T.dir[0])
		nftw(T.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(T.blocked_bytes);
	free(T.allowed_bytes);
	return 0;
}

#define NEED_READY()                                                                               \
	do {                                                                                       \
		if (!T.ready)                                                                      \
			skip();                                                                    \
	} while (0)

/* ---- fanotify: synchronous deny ---- */

static void test_blocked_denied(void **state)
{
	char *marker = path_in("m-blocked");
	size_t since = hit_count();
	struct block_exec_stats before;
	struct run r;

	(void)state;
	NEED_READY();
	before = stats();
	r = run((char *[]){T.blocked, marker, NULL});
	assert_denied(r);
	assert_false(exists(marker));
	check_hit(since, r.pid, T.blocked_sha, "exec", "denied", T.blocked);
	assert_true(stats().denied > before.denied);
}

static void test_copy_denied(void **state)
{
	char *copy = path_in("renamed-copy"), *marker = path_in("m-copy");
	size_t since = hit_count();
	struct run r;

	(void)state;
	NEED_READY();
	write_file(copy, T.blocked_bytes, T.size, O_EXCL);
	r = run((char *[]){copy, marker, NULL});
	assert_denied(r);
	assert_false(exists(marker));
	check_hit(since, r.pid, T.blocked_sha, "exec", "denied", copy);
}

/* Allowed, then free: once old enough for an ignore mark, an exec costs no permission event. */
static void test_allowed_runs_and_is_remembered(void **state)
{
	char *m1 = path_in("m-allowed-1"), *m2 = path_in("m-allowed-2"),
	     *m3 = path_in("m-allowed-3");
	size_t since = hit_count();

	(void)state;
	NEED_READY();
	assert_ran(run((char *[]){T.allowed, m1, NULL}), m1);
	age(T.allowed);
	assert_ran(run((char *[]){T.allowed, m2, NULL}), m2);
	assert_true(runs_for_free(T.allowed, m3));
	assert_int_equal(hit_count(), since);
}

/* ---- eBPF: stopped, then killed or resumed ---- */

static void test_memfd_blocked_killed(void **state)
{
	char *marker = path_in("m-memfd-blocked");
	size_t since = hit_count();
	struct block_exec_stats before;
	struct run r;

	(void)state;
	NEED_READY();
	before = stats();
	r = run_in(NULL, BY_MEMFD, T.blocked_bytes, T.size, (char *[]){"payload", marker, NULL});
	assert_killed(r);
	assert_false(exists(marker));
	check_hit(since, r.pid, T.blocked_sha, "memfd", "killed", "/memfd:payload");
	assert_true(stats().killed > before.killed);
}

static void test_memfd_allowed_runs(void **state)
{
	char *marker = path_in("m-memfd-allowed");
	size_t since = hit_count();
	struct block_exec_stats before, after;

	(void)state;
	NEED_READY();
	before = stats();
	assert_ran(
	    run_in(NULL, BY_MEMFD, T.allowed_bytes, T.size, (char *[]){"payload", marker, NULL}),
	    marker);
	after = stats();
	assert_true(after.continued > before.continued); /* it was stopped, then resumed */
	assert_true(after.bypass_checks > before.bypass_checks);
	assert_int_equal(hit_count(), since);
}

static void ldso_killed(const char *cwd, char *const argv[], const char *marker, const char *path)
{
	size_t since = hit_count();
	struct run r = run_in(cwd, BY_PATH, NULL, 0, argv);

	assert_killed(r);
	assert_false(exists(marker));
	check_hit(since, r.pid, T.blocked_sha, "ld.so", "killed", path);
}

static void test_ldso_blocked_killed(void **state)
{
	char *m1 = path_in("m-ld-1"), *m2 = path_in("m-ld-2"), *m3 = path_in("m-ld-3");
	char rel[160];

	(void)state;
	NEED_READY();
	if (!exists(LDSO))
		skip();
	ldso_killed(NULL, (char *[]){LDSO, T.blocked, m1, NULL}, m1, T.blocked);
	(void)snprintf(rel, sizeof(rel), "./%s", strrchr(T.blocked, '/') + 1);
	ldso_killed(T.dir, (char *[]){LDSO, rel, m2, NULL}, m2, T.blocked);
	ldso_killed(
	    NULL,
	    (char *[]){LDSO, "--library-path", "/tmp", "--inhibit-cache", T.blocked, m3, NULL}, m3,
	    T.blocked);
}

/* What only the process itself can name: its own fd, through /proc/self. */
static void test_ldso_proc_self_fd_killed(void **state)
{
	char *marker = path_in("m-ld-fd");
	size_t since = hit_count();
	struct run r;

	(void)state;
	NEED_READY();
	if (!exists(LDSO))
		skip();
	r = run_in(NULL, BY_LDSO_FD, (const unsigned char *)T.blocked, 0,
		   (char *[]){LDSO, "/proc/self/fd/5", marker, NULL});
	assert_killed(r);
	assert_false(exists(marker));
	check_hit(since, r.pid, T.blocked_sha, "ld.so", "killed", T.blocked);
}

/* A loader under another name is still a loader: recognised by its ELF shape. */
static void test_renamed_loader_killed(void **state)
{
	char *loader = path_in("innocent"), *marker = path_in("m-ld-renamed");
	unsigned char *bytes;
	size_t n;

	(void)state;
	NEED_READY();
	if (!exists(LDSO))
		skip();
	bytes = copy_with_tail(LDSO, loader, &n);
	free(bytes);
	ldso_killed(NULL, (char *[]){loader, T.blocked, marker, NULL}, marker, T.blocked);
}

static void test_ldso_allowed_runs(void **state)
{
	char *marker = path_in("m-ld-allowed");
	size_t since = hit_count();
	struct block_exec_stats before;

	(void)state;
	NEED_READY();
	before = stats();
	if (!exists(LDSO))
		skip();
	assert_ran(run((char *[]){LDSO, T.allowed, marker, NULL}), marker);
	assert_true(stats().continued > before.continued);
	assert_int_equal(hit_count(), since);
}

/* A program whose ELF interpreter is a memfd (PT_INTERP "/proc/self/fd/7"): the kernel opens
 * the interpreter without an exec permission event that anyone could receive. A copy of ld.so
 * serves as the interpreter, blocked once and allowed once. */
static void patch_interp(const char *path, const char *interp)
{
	Elf64_Ehdr e;
	Elf64_Phdr ph;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &e, sizeof(e), 0), sizeof(e));
	for (int i = 0; i < e.e_phnum; i++) {
		char name[64] = {0};

		assert_int_equal(pread(fd, &ph, sizeof(ph), (off_t)(e.e_phoff + i * sizeof(ph))),
				 sizeof(ph));
		if (ph.p_type != PT_INTERP)
			continue;
		assert_true(strlen(interp) < ph.p_filesz && ph.p_filesz <= sizeof(name));
		memcpy(name, interp, strlen(interp) + 1);
		assert_int_equal(pwrite(fd, name, ph.p_filesz, (off_t)ph.p_offset),
				 (ssize_t)ph.p_filesz);
	}
	close(fd);
}

static void test_interp_memfd(void **state)
{
	char *prog = path_in("interp-prog"), *ld = path_in("ld-copy");
	char *m1 = path_in("m-interp-1"), *m2 = path_in("m-interp-2");
	char ld_sha[65];
	unsigned char *ld_bytes, *prog_bytes;
	size_t ld_size, prog_size, since;
	struct run r;

	(void)state;
	NEED_READY();
	if (!exists(LDSO))
		skip();
	prog_bytes = copy_with_tail("/usr/bin/touch", prog, &prog_size);
	free(prog_bytes);
	patch_interp(prog, "/proc/self/fd/7");
	ld_bytes = copy_with_tail(LDSO, ld, &ld_size);
	assert_int_equal(hashcache_file(ld, NULL, 1 << 30, ld_sha), 0);

	/* Allowed interpreter: the program runs, so the setup itself works. */
	assert_ran(run_in(NULL, BY_INTERP_FD, ld_bytes, ld_size, (char *[]){prog, m1, NULL}), m1);

	set_hashes(true, ld_sha);
	since = hit_count();
	r = run_in(NULL, BY_INTERP_FD, ld_bytes, ld_size, (char *[]){prog, m2, NULL});
	set_blocked(true);
	free(ld_bytes);
	assert_killed(r);
	assert_false(exists(m2));
	check_hit(since, r.pid, ld_sha, "interp", "killed", NULL);
	assert_non_null(strstr(last_hit(since).path, "/memfd:interp"));
}

/* ---- rewrites ---- */

static void test_rewrite_flips_verdict(void **state)
{
	char *flip = path_in("flip"), *m1 = path_in("m-flip-1"), *m2 = path_in("m-flip-2");
	char *m3 = path_in("m-flip-3"), *aged = path_in("aged"), *m4 = path_in("m-aged-1");
	char *m5 = path_in("m-aged-2"), *m6 = path_in("m-aged-3");
	size_t since;

	(void)state;
	NEED_READY();
	/* Fresh files: hashed on every exec. */
	write_file(flip, T.blocked_bytes, T.size, O_EXCL);
	assert_denied(run((char *[]){flip, m1, NULL}));
	assert_false(exists(m1));
	write_file(flip, T.allowed_bytes, T.size, O_TRUNC);
	assert_ran(run((char *[]){flip, m2, NULL}), m2);
	write_file(flip, T.blocked_bytes, T.size, O_TRUNC);
	since = hit_count();
	assert_denied(run((char *[]){flip, m3, NULL}));
	assert_false(exists(m3));
	check_hit(since, 0, T.blocked_sha, "exec", "denied", flip);

	/* An allowed file with an ignore mark, rewritten in place: the write clears the mark. */
	write_file(aged, T.allowed_bytes, T.size, O_EXCL);
	age(aged);
	assert_ran(run((char *[]){aged, m4, NULL}), m4);
	assert_ran(run((char *[]){aged, m5, NULL}), m5);
	write_file(aged, T.blocked_bytes, T.size, O_TRUNC);
	since = hit_count();
	assert_denied(run((char *[]){aged, m6, NULL}));
	assert_false(exists(m6));
	check_hit(since, 0, T.blocked_sha, "exec", "denied", aged);
}

/* A blocked file old enough to be cached, rewritten in place with the same size: the cache key
 * (mtime, ctime) moves, so it is hashed again and runs. */
static void test_cached_blocked_rewritten_runs(void **state)
{
	char *f = path_in("aged-blocked"), *m1 = path_in("m-ab-1"), *m2 = path_in("m-ab-2");
	char *m3 = path_in("m-ab-3");

	(void)state;
	NEED_READY();
	write_file(f, T.blocked_bytes, T.size, O_EXCL);
	age(f);
	assert_denied(run((char *[]){f, m1, NULL}));
	assert_denied(run((char *[]){f, m2, NULL})); /* from the cache */
	write_file(f, T.allowed_bytes, T.size, O_TRUNC);
	assert_ran(run((char *[]){f, m3, NULL}), m3);
	assert_false(exists(m1));
	assert_false(exists(m2));
}

/* Allowed with an ignore mark, then its hash is blocked: a new set forgets every allow. */
static void test_set_change_drops_ignore_marks(void **state)
{
	char *f = path_in("later"), *m1 = path_in("m-later-1"), *m2 = path_in("m-later-2");
	char *m3 = path_in("m-later-3");
	size_t since;
	struct run r;

	(void)state;
	NEED_READY();
	write_file(f, T.allowed_bytes, T.size, O_EXCL);
	age(f);
	assert_ran(run((char *[]){f, m1, NULL}), m1);
	assert_true(runs_for_free(f, m2));
	set_hashes(true, T.allowed_sha);
	since = hit_count();
	r = run((char *[]){f, m3, NULL});
	set_blocked(true);
	assert_denied(r);
	assert_false(exists(m3));
	check_hit(since, r.pid, T.allowed_sha, "exec", "denied", f);
}

/* A write through a shared mapping reports no modification and leaves the ignore mark: the
 * eBPF half sees the ctime moved. */
static void test_mapped_rewrite_killed(void **state)
{
	char *f = path_in("mapped"), *m1 = path_in("m-map-1"), *m2 = path_in("m-map-2");
	char *m3 = path_in("m-map-3");
	size_t since;
	void *map;
	int fd;
	struct run r;

	(void)state;
	NEED_READY();
	write_file(f, T.allowed_bytes, T.size, O_EXCL);
	age(f);
	assert_ran(run((char *[]){f, m1, NULL}), m1);
	assert_true(runs_for_free(f, m2)); /* the ignore mark is in place */
	fd = open(f, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	map = mmap(NULL, T.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	memcpy(map, T.blocked_bytes, T.size);
	assert_int_equal(munmap(map, T.size), 0);
	close(fd);
	since = hit_count();
	r = run((char *[]){f, m3, NULL});
	assert_false(exists(m3));
	if (r.exec_errno) {
		/* This kernel cleared the mark after all: fanotify denied it. */
		assert_denied(r);
		check_hit(since, r.pid, T.blocked_sha, "exec", "denied", f);
	} else {
		assert_killed(r);
		check_hit(since, r.pid, T.blocked_sha, "changed", "killed", f);
	}
}

/* ---- a filesystem the agent never saw mounted ---- */

/* In a mount namespace of its own, a tmpfs the agent's mountinfo does not list: the first exec
 * is stopped and killed, and the filesystem gets its mark, so the second is denied. Exits with
 * a bit per failed expectation. */
static void test_unseen_mount(void **state)
{
	size_t since = hit_count();
	int status;
	pid_t pid;

	(void)state;
	NEED_READY();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char mnt[160], file[200], marker[200];
		int bad = 0;
		struct run r;

		(void)snprintf(mnt, sizeof(mnt), "%s/mnt", T.dir);
		(void)snprintf(file, sizeof(file), "%s/hidden", mnt);
		(void)snprintf(marker, sizeof(marker), "%s/m-hidden", T.dir);
		if (mkdir(mnt, 0700) || unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("mamori-test", mnt, "tmpfs", 0, "size=16m"))
			_exit(100);
		write_file(file, T.blocked_bytes, T.size, O_EXCL);
		r = run((char *[]){file, marker, NULL});
		if (r.exec_errno || !WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGKILL)
			bad |= 1;
		r = run((char *[]){file, marker, NULL});
		if (r.exec_errno != EPERM && r.exec_errno != EACCES)
			bad |= 2;
		if (exists(marker))
			bad |= 4;
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 100)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
	pthread_mutex_lock(&T.lock);
	assert_int_equal(T.nhits, since + 2);
	assert_string_equal(T.hits[since].how, "unwatched");
	assert_string_equal(T.hits[since].action, "killed");
	assert_string_equal(T.hits[since + 1].how, "exec");
	assert_string_equal(T.hits[since + 1].action, "denied");
	pthread_mutex_unlock(&T.lock);
}

/* ---- the empty set ---- */

static void test_empty_set_runs_everything(void **state)
{
	char *m1 = path_in("m-off-1"), *m2 = path_in("m-off-2"), *m3 = path_in("m-off-3");
	size_t since = hit_count();
	struct block_exec_stats a, b;

	(void)state;
	NEED_READY();
	set_blocked(false);
	a = stats();
	assert_ran(run((char *[]){T.blocked, m1, NULL}), m1);
	assert_ran(run_in(NULL, BY_MEMFD, T.blocked_bytes, T.size, (char *[]){"payload", m2, NULL}),
		   m2);
	if (exists(LDSO))
		assert_ran(run((char *[]){LDSO, T.blocked, m3, NULL}), m3);
	b = stats();
	/* Off means off: no permission event, nothing stopped. */
	assert_int_equal(b.perm_events, a.perm_events);
	assert_int_equal(b.bypass_checks, a.bypass_checks);
	assert_int_equal(hit_count(), since);
	/* And back on: the same file is denied again. */
	set_blocked(true);
	assert_denied(run((char *[]){T.blocked, path_in("m-off-4"), NULL}));
	assert_false(exists(path_in("m-off-4")));
}

static void test_bad_hash_rejected(void **state)
{
	const char bad[1][65] = {"xyz"};

	(void)state;
	NEED_READY();
	assert_int_equal(block_exec_set(T.b, bad, 1), -EINVAL);
	/* Nothing changed. */
	assert_denied(run((char *[]){T.blocked, path_in("m-bad"), NULL}));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blocked_denied),
	    cmocka_unit_test(test_copy_denied),
	    cmocka_unit_test(test_allowed_runs_and_is_remembered),
	    cmocka_unit_test(test_memfd_blocked_killed),
	    cmocka_unit_test(test_memfd_allowed_runs),
	    cmocka_unit_test(test_ldso_blocked_killed),
	    cmocka_unit_test(test_ldso_proc_self_fd_killed),
	    cmocka_unit_test(test_renamed_loader_killed),
	    cmocka_unit_test(test_ldso_allowed_runs),
	    cmocka_unit_test(test_interp_memfd),
	    cmocka_unit_test(test_rewrite_flips_verdict),
	    cmocka_unit_test(test_cached_blocked_rewritten_runs),
	    cmocka_unit_test(test_set_change_drops_ignore_marks),
	    cmocka_unit_test(test_mapped_rewrite_killed),
	    cmocka_unit_test(test_unseen_mount),
	    cmocka_unit_test(test_bad_hash_rejected),
	    cmocka_unit_test(test_empty_set_runs_everything),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
