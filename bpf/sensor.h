/* Wire records from the kernel sensor (sensor.bpf.c) to the agent (src_ebpf.c), shared by both
 * sides. Every record starts with struct wire_hdr; paths arrive as NUL-separated components,
 * leaf first, and are reassembled in user space. */
#ifndef MAMORI_BPF_SENSOR_H
#define MAMORI_BPF_SENSOR_H

#define WIRE_PATH_BYTES 1024 /* power of two: used as a mask */
#define WIRE_NAME_READ 256   /* longest component read at once */
#define WIRE_PATH_DEPTH 32
#define WIRE_ARGS_BYTES 4096 /* power of two */
#define WIRE_CGROUP_BYTES 128
#define WIRE_COMM_LEN 16
#define WIRE_DNS_BYTES 256

enum wire_type {
	WIRE_EXEC = 1,
	WIRE_FORK,
	WIRE_EXIT,
	WIRE_CONNECT,	/* outgoing TCP, reported once the handshake ends either way */
	WIRE_ACCEPT,	/* incoming TCP established */
	WIRE_CLOSE,	/* a tracked TCP socket closed */
	WIRE_LISTEN,
	WIRE_PTRACE,
	WIRE_MEMFD,
	WIRE_MODULE,
	WIRE_BPF,
	WIRE_CRED,	/* uid or gid changed by a set*id call */
	WIRE_DNS,	/* a UDP packet to port 53 left this host */
	WIRE_TYPE_MAX
};

enum wire_exec_flags {
	WIRE_EXEC_DELETED = 1 << 0, /* executable has no links left (deleted, or memfd) */
	WIRE_EXEC_ARGS_TRUNCATED = 1 << 1,
	WIRE_EXEC_PATH_TRUNCATED = 1 << 2,
};

/* Per-CPU counters: records sent and records lost, per wire type, so user space can prove that
 * what it received plus what was dropped is everything the kernel produced. */
#define WIRE_CNT_SENT(type) (type)
#define WIRE_CNT_DROPPED(type) (16 + (type)) /* ring buffer full */
#define WIRE_CNT_NO_SCRATCH 32		      /* no scratch buffer (should not happen) */
#define WIRE_CNT_SOCKMAP_FULL 33	      /* socket table full: close/duration untracked */
#define WIRE_CNT_MAX 34

struct wire_hdr {
	__u32 type;
	__u32 pid; /* tgid */
	__u32 tid;
	__u32 uid, euid, gid, egid;
	__u32 pad;
	__u64 ts_boot_ns;     /* bpf_ktime_get_boot_ns() */
	__u64 start_boot_ns;  /* group leader's start_boottime */
};

struct wire_exec {
	struct wire_hdr h;
	__u32 ppid;
	__u32 auid;
	__u32 sid;
	__u32 tty_major, tty_minor;
	__u32 argc;
	__u32 flags;
	__u32 exe_mode;
	__u32 exe_dev;
	__u32 exe_len, cwd_len, cgroup_len, args_len;
	__u64 parent_start_boot_ns;
	__u64 exe_ino;
	__u64 exe_size;
	__u64 exe_mtime_ns;
	char exe[WIRE_PATH_BYTES + WIRE_NAME_READ];
	char cwd[WIRE_PATH_BYTES + WIRE_NAME_READ];
	char cgroup[WIRE_CGROUP_BYTES];
	char args[WIRE_ARGS_BYTES]; /* last: only args_len bytes of it are sent */
};

struct wire_fork {
	struct wire_hdr h; /* the child */
	__u32 ppid;
	__u32 pad;
	__u64 parent_start_boot_ns;
};

struct wire_exit {
	struct wire_hdr h;
	__u32 exit_code; /* task->exit_code: (status << 8) | signal */
	__u32 pad;
};

struct wire_sock {
	struct wire_hdr h; /* the owning process (at connect, accept or listen time) */
	__u16 family;
	__u16 sport, dport; /* host order */
	__u16 ok;	    /* WIRE_CONNECT: handshake completed */
	__u8 saddr[16], daddr[16];
	__u64 duration_ns;  /* WIRE_CLOSE */
};

struct wire_syscall {
	struct wire_hdr h;
	__u64 arg0, arg1; /* ptrace: request, target pid; module: fd or -1; bpf: command, prog type */
	__u32 old_uid, old_euid; /* WIRE_CRED */
	__u32 old_gid, old_egid;
	char name[WIRE_NAME_READ]; /* memfd name, module name */
};

struct wire_dns {
	struct wire_hdr h; /* owner as seen at connect()/sendmsg() time; pid 0 when unknown */
	__u16 family;
	__u16 sport, dport;
	__u16 len; /* payload bytes captured */
	__u8 saddr[16], daddr[16];
	__u8 payload[WIRE_DNS_BYTES * 2]; /* DNS message from its header on (len bytes) */
};

#endif
