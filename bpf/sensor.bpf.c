// SPDX-License-Identifier: GPL-2.0
/* Mamori's kernel sensor: process lifecycle (tp_btf sched_*), TCP state (inet_sock_set_state)
 * and a few syscalls of interest (sys_enter/sys_exit filtered by id). Records go to one ring
 * buffer; wake-ups are batched (user space drains on a timer unless the buffer fills), and every
 * record that cannot be sent is counted in a per-CPU drop array. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "sensor.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define S_ISUID 04000
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206
#define BPF_PROG_LOAD_CMD 5

/* x86_64 syscall numbers. */
#define NR_ptrace 101
#define NR_setuid 105
#define NR_setgid 106
#define NR_setreuid 113
#define NR_setregid 114
#define NR_setresuid 117
#define NR_setresgid 119
#define NR_setfsuid 122
#define NR_setfsgid 123
#define NR_init_module 175
#define NR_finit_module 313
#define NR_memfd_create 319
#define NR_bpf 321

const volatile __u32 agent_tgid = 0;
const volatile __u64 wakeup_bytes = 256 * 1024;
const volatile bool ignore_comm_enabled = false;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WIRE_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Per-CPU record under construction: exec records are too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wire_exec);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[WIRE_COMM_LEN]);
	__type(value, __u8);
} ignore_comm SEC(".maps");

struct sock_owner {
	struct wire_hdr h;
	__u64 since_ns;
	__u16 sport; /* at established time: a closing socket may have given its port back */
	__u8 outgoing;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* struct sock * */
	__type(value, struct sock_owner);
} socks SEC(".maps");

struct listen_key {
	__u16 family;
	__u16 port;
	__u32 netns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct listen_key);
	__type(value, struct wire_hdr);
} listeners SEC(".maps");

struct cred_before {
	__u32 uid, euid, gid, egid;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tid */
	__type(value, struct cred_before);
} cred_pending SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&counters, &which);

	if (n)
		*n += 1;
}

static __always_inline __u64 wake_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									     : BPF_RB_NO_WAKEUP;
}

static __always_inline void submit(void *rec, __u64 size)
{
	__u32 type = ((struct wire_hdr *)rec)->type & 15;

	if (bpf_ringbuf_output(&events, rec, size, wake_flags()))
		count(WIRE_CNT_DROPPED(type));
	else
		count(WIRE_CNT_SENT(type));
}

static __always_inline bool is_ignored(struct task_struct *task)
{
	char comm[WIRE_COMM_LEN];

	if (!ignore_comm_enabled)
		return false;
	__builtin_memset(comm, 0, sizeof(comm));
	bpf_probe_read_kernel_str(comm, sizeof(comm), task->comm);
	return bpf_map_lookup_elem(&ignore_comm, comm) != NULL;
}

/* task comes from a tp_btf argument or bpf_get_current_task_btf(): a trusted BTF pointer, so
 * fields are read with direct (fault-safe) loads instead of one probe_read call each. */
static __always_inline void fill_hdr(struct wire_hdr *h, __u32 type, struct task_struct *task)
{
	const struct cred *cred = task->cred;

	h->type = type;
	h->pid = task->tgid;
	h->tid = task->pid;
	h->uid = cred->uid.val;
	h->euid = cred->euid.val;
	h->gid = cred->gid.val;
	h->egid = cred->egid.val;
	h->pad = 0;
	h->ts_boot_ns = bpf_ktime_get_boot_ns();
	h->start_boot_ns = task->group_leader->start_boottime;
}

struct path_walk {
	char *buf;
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	__u32 off;
	__u32 flags;
};

/* One step of the walk from a dentry up to the root, as a bpf_loop() callback so the verifier
 * checks the body once instead of once per unrolled iteration. */
static long path_step(__u64 index, void *data)
{
	struct path_walk *w = data;
	/* Copied to locals: CO-RE reads must start from kernel types, not from path_walk. */
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	const unsigned char *name;
	long n;

	if (dentry == mnt_root || dentry == parent) {
		struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

		if (dentry != mnt_root || mnt == mnt_parent) {
			/* The namespace root, or an internal mount (memfd, pipe) whose lone
			 * dentry name is all there is. */
			if (w->off == 0) {
				/* A pseudo file (memfd) is a lone root dentry named "memfd:x";
				 * the real root's name is "/", which adds nothing. */
				name = BPF_CORE_READ(dentry, d_name.name);
				n = bpf_probe_read_kernel_str(w->buf, WIRE_NAME_READ, name);
				if (n > 1 && w->buf[0] != '/')
					w->off = (__u32)n;
			}
			w->flags &= ~WIRE_EXEC_PATH_TRUNCATED;
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mnt_parent;
		w->vfsmnt = &mnt_parent->mnt;
		return 0;
	}
	name = BPF_CORE_READ(dentry, d_name.name);
	n = bpf_probe_read_kernel_str(w->buf + (w->off & (WIRE_PATH_BYTES - 1)), WIRE_NAME_READ,
				      name);
	if (n <= 0)
		return 1;
	w->off += (__u32)n;
	if (w->off >= WIRE_PATH_BYTES) {
		w->off = WIRE_PATH_BYTES;
		return 1;
	}
	w->dentry = parent;
	return 0;
}

/* Writes the path's components leaf first, each NUL-terminated, into buf (WIRE_PATH_BYTES plus
 * WIRE_NAME_READ of slack); returns bytes used. Mount points are crossed through struct mount
 * so the path is the one a user would see. */
static __always_inline __u32 read_path(char *buf, struct dentry *dentry, struct vfsmount *vfsmnt,
				       __u32 *flags)
{
	struct path_walk w = {
		.buf = buf,
		.dentry = dentry,
		.vfsmnt = vfsmnt,
		.mnt = container_of(vfsmnt, struct mount, mnt),
		.off = 0,
		.flags = WIRE_EXEC_PATH_TRUNCATED,
	};

	bpf_loop(WIRE_PATH_DEPTH * 2, path_step, &w, 0);
	*flags |= w.flags;
	return w.off;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 zero = 0;
	struct wire_exec *e;
	struct file *exe;
	struct inode *inode;
	struct mm_struct *mm;
	struct tty_struct *tty;
	struct task_struct *parent;
	unsigned long arg_start, arg_end, len;
	__u64 size;

	if (task->tgid == agent_tgid || is_ignored(task))
		return 0;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e) {
		count(WIRE_CNT_NO_SCRATCH);
		return 0;
	}
	fill_hdr(&e->h, WIRE_EXEC, task);
	parent = task->real_parent;
	e->ppid = parent->tgid;
	e->parent_start_boot_ns = parent->group_leader->start_boottime;
	e->auid = task->loginuid.val;
	e->sid = BPF_CORE_READ(task, signal, pids[PIDTYPE_SID], numbers[0].nr);
	tty = task->signal->tty;
	if (tty) {
		e->tty_major = tty->driver->major;
		e->tty_minor = tty->driver->minor_start + tty->index;
	} else {
		e->tty_major = 0;
		e->tty_minor = 0;
	}
	e->argc = bprm->argc;
	e->flags = 0;

	exe = bprm->file;
	inode = exe->f_inode;
	e->exe_mode = inode->i_mode;
	e->exe_dev = inode->i_sb->s_dev;
	e->exe_ino = inode->i_ino;
	e->exe_size = inode->i_size;
	e->exe_mtime_ns = (__u64)inode->i_mtime_sec * 1000000000ull + inode->i_mtime_nsec;
	if (inode->__i_nlink == 0)
		e->flags |= WIRE_EXEC_DELETED;
	e->exe_len = read_path(e->exe, exe->f_path.dentry, exe->f_path.mnt, &e->flags);
	e->cwd_len = read_path(e->cwd, task->fs->pwd.dentry, task->fs->pwd.mnt, &e->flags);
	{
		const char *cg = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, name);
		long n = bpf_probe_read_kernel_str(e->cgroup, sizeof(e->cgroup), cg);

		e->cgroup_len = n > 0 ? (__u32)n : 0;
	}

	mm = task->mm;
	arg_start = mm->arg_start;
	arg_end = mm->arg_end;
	len = arg_end - arg_start;
	if (len > WIRE_ARGS_BYTES) {
		len = WIRE_ARGS_BYTES;
		e->flags |= WIRE_EXEC_ARGS_TRUNCATED;
	}
	e->args_len = 0;
	if (len > 0 && bpf_probe_read_user(e->args, len,
					   (void *)arg_start) == 0)
		e->args_len = (__u32)len;

	size = __builtin_offsetof(struct wire_exec, args) + e->args_len;
	if (size > sizeof(*e))
		size = sizeof(*e);
	submit(e, size);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	struct wire_fork f;

	/* Threads are not processes: only a new thread group is reported. */
	if (child->pid != child->tgid)
		return 0;
	if (parent->tgid == agent_tgid || is_ignored(parent))
		return 0;
	fill_hdr(&f.h, WIRE_FORK, child);
	f.h.start_boot_ns = child->start_boottime;
	f.ppid = parent->tgid;
	f.pad = 0;
	f.parent_start_boot_ns = parent->group_leader->start_boottime;
	submit(&f, sizeof(f));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task)
{
	struct wire_exit x;

	/* Report the process, not each thread: only when the last thread leaves. */
	if (task->signal->live.counter != 0)
		return 0;
	if (task->tgid == agent_tgid || is_ignored(task))
		return 0;
	fill_hdr(&x.h, WIRE_EXIT, task);
	x.exit_code = task->exit_code;
	x.pad = 0;
	submit(&x, sizeof(x));
	return 0;
}

static __always_inline void sock_addrs(struct wire_sock *s, const struct sock *sk)
{
	__builtin_memset(s->saddr, 0, sizeof(s->saddr));
	__builtin_memset(s->daddr, 0, sizeof(s->daddr));
	s->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	s->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	s->dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	/* Explicit sizes: BPF_CORE_READ_INTO would size the read by the array's element. */
	if (s->family == AF_INET) {
		bpf_core_read(s->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(s->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(s->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(s->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	__u64 key = (__u64)sk;
	struct sock_owner *owner, o;
	struct wire_sock s;
	__u16 family;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;

	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		/* connect(): process context. Ports are not chosen yet; report when the
		 * handshake ends, with the owner remembered now. */
		struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();

		if (BPF_CORE_READ(task, tgid) == agent_tgid || is_ignored(task))
			return 0;
		fill_hdr(&o.h, WIRE_CONNECT, task);
		o.since_ns = o.h.ts_boot_ns;
		o.sport = 0;
		o.outgoing = 1;
		if (bpf_map_update_elem(&socks, &key, &o, BPF_ANY))
			count(WIRE_CNT_SOCKMAP_FULL);
		return 0;
	}
	if (oldstate == TCP_SYN_SENT) {
		owner = bpf_map_lookup_elem(&socks, &key);
		if (!owner)
			return 0;
		s.h = owner->h;
		s.h.type = WIRE_CONNECT;
		s.h.ts_boot_ns = bpf_ktime_get_boot_ns();
		sock_addrs(&s, sk);
		s.ok = newstate == TCP_ESTABLISHED;
		s.duration_ns = 0;
		submit(&s, sizeof(s));
		if (newstate == TCP_ESTABLISHED) {
			owner->since_ns = s.h.ts_boot_ns;
			owner->sport = s.sport;
		} else {
			bpf_map_delete_elem(&socks, &key);
		}
		return 0;
	}
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		/* Passive open, in softirq context: the owner is whoever listens on the port. */
		struct listen_key lk = {};
		struct wire_hdr *lh;

		lk.family = family;
		lk.port = BPF_CORE_READ(sk, __sk_common.skc_num);
		lk.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
		lh = bpf_map_lookup_elem(&listeners, &lk);
		if (!lh)
			return 0;
		s.h = *lh;
		s.h.type = WIRE_ACCEPT;
		s.h.ts_boot_ns = bpf_ktime_get_boot_ns();
		sock_addrs(&s, sk);
		s.ok = 1;
		s.duration_ns = 0;
		submit(&s, sizeof(s));
		o.h = s.h;
		o.since_ns = s.h.ts_boot_ns;
		o.sport = s.sport;
		o.outgoing = 0;
		if (bpf_map_update_elem(&socks, &key, &o, BPF_ANY))
			count(WIRE_CNT_SOCKMAP_FULL);
		return 0;
	}
	if (oldstate == TCP_CLOSE && newstate == TCP_LISTEN) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
		struct listen_key lk = {};

		if (BPF_CORE_READ(task, tgid) == agent_tgid || is_ignored(task))
			return 0;
		fill_hdr(&s.h, WIRE_LISTEN, task);
		sock_addrs(&s, sk);
		s.ok = 1;
		s.duration_ns = 0;
		lk.family = family;
		lk.port = s.sport;
		lk.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
		bpf_map_update_elem(&listeners, &lk, &s.h, BPF_ANY);
		submit(&s, sizeof(s));
		return 0;
	}
	if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE) {
		struct listen_key lk = {};

		lk.family = family;
		lk.port = BPF_CORE_READ(sk, __sk_common.skc_num);
		lk.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
		bpf_map_delete_elem(&listeners, &lk);
		return 0;
	}
	if (newstate == TCP_CLOSE) {
		owner = bpf_map_lookup_elem(&socks, &key);
		if (!owner)
			return 0;
		s.h = owner->h;
		s.h.type = WIRE_CLOSE;
		s.h.ts_boot_ns = bpf_ktime_get_boot_ns();
		sock_addrs(&s, sk);
		if (s.sport == 0)
			s.sport = owner->sport;
		s.ok = owner->outgoing;
		s.duration_ns = s.h.ts_boot_ns - owner->since_ns;
		bpf_map_delete_elem(&socks, &key);
		submit(&s, sizeof(s));
	}
	return 0;
}

static __always_inline bool is_cred_call(long id)
{
	return id == NR_setuid || id == NR_setgid || id == NR_setreuid || id == NR_setregid ||
	       id == NR_setresuid || id == NR_setresgid || id == NR_setfsuid || id == NR_setfsgid;
}

/* What a watched syscall does on entry: set*id calls record the credentials before, the others
 * become records at once. arg0/arg1 are the call's first two arguments. */
static __always_inline int sys_enter_body(long id, __u64 arg0, __u64 arg1)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	struct wire_syscall sc;
	__u32 type;

	if (task->tgid == agent_tgid || is_ignored(task))
		return 0;
	if (is_cred_call(id)) {
		struct cred_before cb;
		__u32 tid = task->pid;
		const struct cred *cred = task->cred;

		cb.uid = cred->uid.val;
		cb.euid = cred->euid.val;
		cb.gid = cred->gid.val;
		cb.egid = cred->egid.val;
		bpf_map_update_elem(&cred_pending, &tid, &cb, BPF_ANY);
		return 0;
	}
	sc.arg0 = arg0;
	sc.arg1 = arg1;
	sc.name[0] = '\0';
	sc.old_uid = sc.old_euid = sc.old_gid = sc.old_egid = 0;
	if (id == NR_ptrace) {
		if (sc.arg0 != PTRACE_ATTACH && sc.arg0 != PTRACE_SEIZE)
			return 0;
		type = WIRE_PTRACE;
	} else if (id == NR_memfd_create) {
		bpf_probe_read_user_str(sc.name, sizeof(sc.name), (const void *)sc.arg0);
		type = WIRE_MEMFD;
	} else if (id == NR_bpf) {
		if (sc.arg0 != BPF_PROG_LOAD_CMD)
			return 0;
		/* union bpf_attr starts with prog_type for BPF_PROG_LOAD. */
		__u32 prog_type = 0;

		bpf_probe_read_user(&prog_type, sizeof(prog_type), (const void *)sc.arg1);
		sc.arg1 = prog_type;
		type = WIRE_BPF;
	} else {
		/* init_module(image, len, params) has no fd; finit_module(fd, ...) does. */
		if (id == NR_init_module)
			sc.arg0 = (__u64)-1;
		type = WIRE_MODULE;
	}
	fill_hdr(&sc.h, type, task);
	submit(&sc, sizeof(sc));
	return 0;
}

/* On exit from a set*id call: a record when it succeeded and changed an id. */
static __always_inline int sys_exit_body(long id, long ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	struct cred_before *cb;
	struct wire_syscall sc;
	__u32 tid = task->pid;

	cb = bpf_map_lookup_elem(&cred_pending, &tid);
	if (!cb)
		return 0;
	fill_hdr(&sc.h, WIRE_CRED, task);
	sc.old_uid = cb->uid;
	sc.old_euid = cb->euid;
	sc.old_gid = cb->gid;
	sc.old_egid = cb->egid;
	bpf_map_delete_elem(&cred_pending, &tid);
	if (ret != 0 || (sc.old_uid == sc.h.uid && sc.old_euid == sc.h.euid &&
			 sc.old_gid == sc.h.gid && sc.old_egid == sc.h.egid))
		return 0;
	sc.arg0 = id;
	sc.arg1 = 0;
	sc.name[0] = '\0';
	submit(&sc, sizeof(sc));
	return 0;
}

/* Preferred: one tracepoint per watched syscall, so a program runs only for those calls (every
 * other syscall pays a bit test). The layout of syscalls:sys_enter_* and sys_exit_*: the common
 * header, the syscall number, then the arguments or the return value. */
struct sys_enter_args {
	__u64 common;
	int nr;
	int pad;
	__u64 args[6];
};

struct sys_exit_args {
	__u64 common;
	int nr;
	int pad;
	long ret;
};

#define SYS_ENTER_TP(name, nr)                                                                     \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int tp_enter_##name(struct sys_enter_args *ctx)                                            \
	{                                                                                          \
		return sys_enter_body(nr, ctx->args[0], ctx->args[1]);                             \
	}
/* The perf side refuses a program that reads past the event's record: one-argument calls get
 * only what they have (the set*id calls need no argument at all). */
#define SYS_ENTER_TP1(name, nr)                                                                    \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int tp_enter_##name(struct sys_enter_args *ctx)                                            \
	{                                                                                          \
		return sys_enter_body(nr, ctx->args[0], 0);                                        \
	}
#define SYS_ENTER_TP0(name, nr)                                                                    \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int tp_enter_##name(void *ctx)                                                             \
	{                                                                                          \
		return sys_enter_body(nr, 0, 0);                                                   \
	}
#define SYS_EXIT_TP(name, nr)                                                                      \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                                 \
	int tp_exit_##name(struct sys_exit_args *ctx)                                              \
	{                                                                                          \
		return sys_exit_body(nr, ctx->ret);                                                \
	}

SYS_ENTER_TP(ptrace, NR_ptrace)
SYS_ENTER_TP(memfd_create, NR_memfd_create)
SYS_ENTER_TP1(init_module, NR_init_module)
SYS_ENTER_TP1(finit_module, NR_finit_module)
SYS_ENTER_TP(bpf, NR_bpf)
SYS_ENTER_TP0(setuid, NR_setuid)
SYS_ENTER_TP0(setgid, NR_setgid)
SYS_ENTER_TP0(setreuid, NR_setreuid)
SYS_ENTER_TP0(setregid, NR_setregid)
SYS_ENTER_TP0(setresuid, NR_setresuid)
SYS_ENTER_TP0(setresgid, NR_setresgid)
SYS_ENTER_TP0(setfsuid, NR_setfsuid)
SYS_ENTER_TP0(setfsgid, NR_setfsgid)
SYS_EXIT_TP(setuid, NR_setuid)
SYS_EXIT_TP(setgid, NR_setgid)
SYS_EXIT_TP(setreuid, NR_setreuid)
SYS_EXIT_TP(setregid, NR_setregid)
SYS_EXIT_TP(setresuid, NR_setresuid)
SYS_EXIT_TP(setresgid, NR_setresgid)
SYS_EXIT_TP(setfsuid, NR_setfsuid)
SYS_EXIT_TP(setfsgid, NR_setfsgid)

/* Fallback: the raw sys_enter/sys_exit tracepoints, which run a program for every syscall. */
SEC("tp_btf/sys_enter")
int BPF_PROG(handle_sys_enter, struct pt_regs *regs, long id)
{
	if (id != NR_ptrace && id != NR_memfd_create && id != NR_init_module &&
	    id != NR_finit_module && id != NR_bpf && !is_cred_call(id))
		return 0;
	return sys_enter_body(id, BPF_CORE_READ(regs, di), BPF_CORE_READ(regs, si));
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	long id = regs->orig_ax;

	if (!is_cred_call(id))
		return 0;
	return sys_exit_body(id, ret);
}

/* ---- DNS: who sends to port 53 (cgroup sock_addr hooks, process context), then what the
 * packet asks (cgroup_skb egress on the root cgroup, where the payload is visible). ---- */

#define ETH_P_IP_BE 0x0008   /* htons(0x0800) */
#define ETH_P_IPV6_BE 0xDD86 /* htons(0x86DD) */
#define IPPROTO_UDP 17
#define DNS_PORT_BE 0x3500 /* htons(53) */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* socket cookie */
	__type(value, struct wire_hdr);
} dns_owners SEC(".maps");

/* Remembers the sending process of a socket that talks to port 53; always allows the call. */
static __always_inline int note_dns_owner(struct bpf_sock_addr *ctx)
{
	if (ctx->user_port != DNS_PORT_BE)
		return 1;
	__u64 cookie = bpf_get_socket_cookie(ctx);
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();
	struct wire_hdr h = {};

	if ((__u32)(pid_tgid >> 32) == agent_tgid)
		return 1;
	h.type = WIRE_DNS;
	h.pid = pid_tgid >> 32;
	h.tid = (__u32)pid_tgid;
	h.uid = h.euid = (__u32)uid_gid;
	h.gid = h.egid = uid_gid >> 32;
	bpf_map_update_elem(&dns_owners, &cookie, &h, BPF_ANY);
	return 1;
}

SEC("cgroup/connect4")
int dns_connect4(struct bpf_sock_addr *ctx)
{
	return note_dns_owner(ctx);
}

SEC("cgroup/connect6")
int dns_connect6(struct bpf_sock_addr *ctx)
{
	return note_dns_owner(ctx);
}

SEC("cgroup/sendmsg4")
int dns_sendmsg4(struct bpf_sock_addr *ctx)
{
	return note_dns_owner(ctx);
}

SEC("cgroup/sendmsg6")
int dns_sendmsg6(struct bpf_sock_addr *ctx)
{
	return note_dns_owner(ctx);
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wire_dns);
} dns_scratch SEC(".maps");

SEC("cgroup_skb/egress")
int dns_egress(struct __sk_buff *skb)
{
	__u32 zero = 0, off;
	__u64 cookie, len;
	struct wire_hdr *owner;
	struct wire_dns *d;
	__u16 ports[2];

	d = bpf_map_lookup_elem(&dns_scratch, &zero);
	if (!d)
		return 1;
	__builtin_memset(d->saddr, 0, sizeof(d->saddr));
	__builtin_memset(d->daddr, 0, sizeof(d->daddr));
	if (skb->protocol == ETH_P_IP_BE) {
		__u8 vihl, proto;

		if (bpf_skb_load_bytes(skb, 0, &vihl, 1) || bpf_skb_load_bytes(skb, 9, &proto, 1) ||
		    proto != IPPROTO_UDP)
			return 1;
		off = (vihl & 0x0f) * 4;
		if (bpf_skb_load_bytes(skb, 12, d->saddr, 4) ||
		    bpf_skb_load_bytes(skb, 16, d->daddr, 4))
			return 1;
		d->family = AF_INET;
	} else if (skb->protocol == ETH_P_IPV6_BE) {
		__u8 next;

		/* Extension headers before UDP are rare for DNS: only the plain case is read. */
		if (bpf_skb_load_bytes(skb, 6, &next, 1) || next != IPPROTO_UDP)
			return 1;
		off = 40;
		if (bpf_skb_load_bytes(skb, 8, d->saddr, 16) ||
		    bpf_skb_load_bytes(skb, 24, d->daddr, 16))
			return 1;
		d->family = AF_INET6;
	} else {
		return 1;
	}
	if (off > 60 || bpf_skb_load_bytes(skb, off, ports, sizeof(ports)) ||
	    ports[1] != DNS_PORT_BE)
		return 1;
	off += 8;
	if (skb->len <= off + 12)
		return 1;
	len = skb->len - off;
	if (len > WIRE_DNS_BYTES)
		len = WIRE_DNS_BYTES;
	/* Masked in asm so the compiler cannot drop it: the verifier needs the bound on the
	 * very register passed as the length. */
	asm volatile("%[n] &= 511" : [n] "+r"(len));
	if (len < 13)
		return 1;
	if (bpf_skb_load_bytes(skb, off, d->payload, len))
		return 1;
	d->len = len;
	d->sport = __builtin_bswap16(ports[0]);
	d->dport = 53;
	cookie = bpf_get_socket_cookie(skb);
	owner = bpf_map_lookup_elem(&dns_owners, &cookie);
	if (owner) {
		d->h = *owner;
	} else {
		__builtin_memset(&d->h, 0, sizeof(d->h));
		d->h.type = WIRE_DNS;
	}
	d->h.ts_boot_ns = bpf_ktime_get_boot_ns();
	submit(d, sizeof(*d));
	return 1;
}
