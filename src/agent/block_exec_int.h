/* Private to exec blocking: the state shared by block_exec.c (the worker, the fanotify group),
 * block_exec_hash.c (hashing and its cache) and block_exec_bpf.c (execs the eBPF program
 * stopped, ld.so command lines). Not for use outside these files; everything here runs on the
 * worker thread unless marked otherwise. */
#ifndef MAMORI_BLOCK_EXEC_INT_H
#define MAMORI_BLOCK_EXEC_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "block_exec.h"

#define BE_LOG "block_exec"
#define BE_HOLD_NS 2000000000ull /* longest a stopped process waits for its verdict */
#define BE_REFRESH_FULL 1	 /* the trusted map is full: at most once a minute */
#define BE_REFRESH_NOW 2	 /* events could not be parsed: at once */

struct block_exec_bpf;
struct be_cache_entry;

struct be_digest {
	uint8_t sha[32];
	bool loader; /* an ELF that runs like ld.so: ET_DYN, no PT_INTERP, a SONAME, no NEEDED */
	bool racy;   /* changed within the last second: a rewrite might not change its ctime */
};

struct be_counters {
	atomic_uint_fast64_t perm_events, allowed, denied, killed, continued, hash_failures,
	    too_big, bypass_checks, bypass_missed;
};

struct block_exec {
	struct block_exec_opts opts;
	pthread_t thread;
	int epoll_fd, ctl_fd;
	int group_fd; /* -1 while nothing is blocked */

	/* block_exec_set() hands a new set over to the worker; any thread. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint8_t (*req_set)[32];
	size_t req_n;
	bool busy, req, done, stop;
	bool req_gate; /* a gate change (req_gate_fn, req_gate_ctx, req_names) waits */
	block_exec_gate_fn req_gate_fn;
	void *req_gate_ctx;
	const char *const *req_names; /* borrowed for the request; NULL: every exec */
	size_t req_nnames;
	int done_rc;

	/* The worker's own. */
	uint8_t (*set)[32]; /* sorted */
	size_t nset;
	block_exec_gate_fn gate; /* prevention at exec, NULL when off */
	void *gate_ctx;
	char **gate_names; /* NULL: the gate stops every exec */
	size_t gate_nnames;
	int refresh; /* BE_REFRESH_*: a new group at the next turn */
	struct be_cache_entry *cache;
	uint64_t clock;
	unsigned char *buf;
	void *md; /* EVP_MD_CTX */
	struct block_exec_bpf *bpf;
	struct block_exec_hit hit;
	struct be_counters n;
};

/* ---- block_exec_hash.c ---- */

/* Allocates b's cache and buffers: 0 or -ENOMEM. Release frees what init allocated. */
int block_exec_hash_init(struct block_exec *b);
void block_exec_hash_release(struct block_exec *b);

/* SHA-256 of the regular file behind fd (read from offset 0, the file position untouched), from
 * the cache when its device, inode, mtime, ctime and size are unchanged; *sb is its stat at the
 * time. deadline_ns on CLOCK_MONOTONIC, 0 for none. 0, -EAGAIN when the file changed while
 * read (try again), -EFBIG above max_hash_bytes, -ETIMEDOUT, or another negative errno. */
int block_exec_digest(struct block_exec *b, int fd, uint64_t deadline_ns, struct be_digest *d,
		      struct stat *sb);

/* Same device, inode, mtime, ctime and size. */
bool block_exec_same_file(const struct stat *a, const struct stat *b);
/* Drops the cached digest of this file state. */
void block_exec_forget(struct block_exec *b, const struct stat *sb);

uint64_t block_exec_now_ns(void); /* CLOCK_MONOTONIC */

/* ---- block_exec.c ---- */

bool block_exec_is_blocked(const struct block_exec *b, const uint8_t sha[32]);

/* Fills b->hit (path from fd) and calls on_hit. */
void block_exec_report(struct block_exec *b, uint32_t pid, const uint8_t sha[32], int fd,
		       const char *how, const char *action);

/* ---- block_exec_bpf.c ---- */

/* NULL with a reason in err when the program cannot be loaded. */
struct block_exec_bpf *block_exec_bpf_new(struct block_exec *b, char *err, size_t errlen);
/* Detaches, decides every process still stopped, frees. NULL is a no-op. */
void block_exec_bpf_free(struct block_exec_bpf *p);

int block_exec_bpf_attach(struct block_exec_bpf *p);
/* Whether hashes are blocked: the checks for execs fanotify cannot see run only then. */
void block_exec_bpf_set_blocking(struct block_exec_bpf *p, bool on);
/* The gate off, on every exec (names NULL) or on the named files. 0 or a negative errno. */
int block_exec_bpf_set_gate(struct block_exec_bpf *p, bool on, const char *const *names,
			    size_t n);
/* Detaches, then decides every process still stopped: none is left waiting. */
void block_exec_bpf_detach(struct block_exec_bpf *p);

int block_exec_bpf_ring_fd(struct block_exec_bpf *p);
/* Takes the records off the ring into the queue of stopped processes. */
void block_exec_bpf_consume(struct block_exec_bpf *p);
bool block_exec_bpf_pending(const struct block_exec_bpf *p);
/* Decides the oldest stopped process: SIGKILL or SIGCONT. */
void block_exec_bpf_run_one(struct block_exec_bpf *p);

/* The ignore mark's twin: the eBPF program stops an exec of this inode once its ctime moved.
 * -E2BIG when the map is full. */
int block_exec_bpf_trust(struct block_exec_bpf *p, const struct stat *sb);
void block_exec_bpf_untrust(struct block_exec_bpf *p, const struct stat *sb);
void block_exec_bpf_trust_clear(struct block_exec_bpf *p);

/* Execs the kernel side could not stop (ring full). Any thread. */
uint64_t block_exec_bpf_missed(const struct block_exec_bpf *p);

/* Records whether this inode runs like ld.so, so a renamed copy is treated as one. */
void block_exec_bpf_set_loader(struct block_exec_bpf *p, const struct stat *sb, bool loader);

#endif
