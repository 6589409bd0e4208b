/* Wire records and map keys shared by the exec enforcement program (enforce.bpf.c) and its loader
 * (src/agent/block_exec_bpf.c). The kernel side stops a suspicious exec with SIGSTOP and reports
 * it here; user space hashes what is about to run and sends SIGKILL or SIGCONT. */
#ifndef MAMORI_BPF_ENFORCE_H
#define MAMORI_BPF_ENFORCE_H

#define ENFORCE_TRUSTED_MAX 16384 /* inodes allowed with an ignore mark, checked at each exec */
#define ENFORCE_LOADERS_MAX 1024  /* inodes known to be a dynamic loader */
#define ENFORCE_GATE_NAMES_MAX 1024 /* file names prevention rules can match */
#define ENFORCE_NAME_LEN 16

/* gate_all */
#define ENFORCE_GATE_ALL 1
#define ENFORCE_GATE_NAMES 2

/* A file name as the gate compares it: lowercase, at most 15 bytes, zero-padded. */
struct enforce_name {
	char name[ENFORCE_NAME_LEN];
};

/* Why an exec was stopped; several can be set. */
enum enforce_kind {
	ENFORCE_NOLINK = 1 << 0, /* the image has no links: memfd, O_TMPFILE or deleted */
	ENFORCE_UNWATCHED =
	    1 << 1,		  /* its filesystem has no exec permission mark (fanotify blind) */
	ENFORCE_LOADER = 1 << 2,  /* the image is a dynamic loader run as the program */
	ENFORCE_CHANGED = 1 << 3, /* allowed with an ignore mark, ctime changed since then */
	ENFORCE_INTERP = 1 << 4,  /* first instruction in another file, nolink or unwatched */
	ENFORCE_GATE = 1 << 5,	  /* every exec, for prevention rules (gate_all set) */
};

/* A (superblock, inode) pair; dev is the kernel's encoding, (major << 20) | minor. */
struct enforce_inode {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

struct enforce_hold {
	__u32 pid; /* tgid */
	__u32 kind;
	__u64 start_boot_ns; /* task's start_boottime: /proc/PID/stat field 22 in ns */
	__u64 ino;	     /* the image */
	__u32 dev;
	__u32 pad;
	__u64 interp_start; /* ENFORCE_INTERP: the entry point's mapping, for map_files */
	__u64 interp_end;
	__u64 stop_ns; /* bpf_ktime_get_ns(), CLOCK_MONOTONIC: when it was stopped */
};

#endif
