// SPDX-License-Identifier: GPL-2.0
/* Exec enforcement, the part fanotify cannot see. At each exec, an image fanotify never checked
 * (memfd, deleted file, a filesystem without our permission mark, an ELF interpreter from such
 * a file), a dynamic loader run as the program (ld.so FILE maps FILE without an exec), or an
 * allowed file whose ctime moved (a write through a shared mapping clears no ignore mark) is
 * stopped with SIGSTOP before its first instruction and reported, one wake-up per record: these
 * are rare and a process waits on each. Attached only while a block list is set. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "enforce.h"

char LICENSE[] SEC("license") = "GPL";

#define SIGSTOP 19
#define ENOENT 2
#define FS_OPEN_EXEC_PERM 0x00040000
#define FUSE_SUPER_MAGIC 0x65735546
#define I_CTIME_QUERIED (1u << 31) /* multigrain timestamps keep a flag in the top bit */

const volatile __u32 agent_tgid = 0;

/* Execs that should have been stopped and were not (ring full, signal refused). */
__u64 missed = 0;

/* Set by user space while hashes are blocked: the checks for what fanotify cannot see. */
__u32 blocking = 0;

/* Set by user space while prevention rules are in force: ENFORCE_GATE_ALL stops every exec,
 * ENFORCE_GATE_NAMES those whose file name (lowercase, first 15 bytes) is in gate_names. */
__u32 gate_all = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ENFORCE_GATE_NAMES_MAX);
	__type(key, struct enforce_name);
	__type(value, __u8);
} gate_names SEC(".maps");

/* The exec'd file's name, lowercased as the rules' case-insensitive match needs. */
static __always_inline bool gate_name(struct file *f)
{
	struct enforce_name n = {};

	bpf_probe_read_kernel_str(n.name, sizeof(n.name), f->f_path.dentry->d_name.name);
	for (int i = 0; i < ENFORCE_NAME_LEN; i++)
		if (n.name[i] >= 'A' && n.name[i] <= 'Z')
			n.name[i] += 'a' - 'A';
	n.name[ENFORCE_NAME_LEN - 1] = 0;
	return bpf_map_lookup_elem(&gate_names, &n) != NULL;
}

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} holds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ENFORCE_LOADERS_MAX);
	__type(key, struct enforce_inode);
	__type(value, __u8);
} loaders SEC(".maps");

/* Inodes user space allowed and gave an ignore mark, with the ctime it hashed. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ENFORCE_TRUSTED_MAX);
	__type(key, struct enforce_inode);
	__type(value, __u64);
} trusted SEC(".maps");

/* Some group has an exec permission mark on the file's superblock or mount. Only CAP_SYS_ADMIN
 * can place permission marks, so nobody else can make a filesystem look watched. */
static __always_inline bool watched(struct file *f)
{
	struct mount *m = container_of(f->f_path.mnt, struct mount, mnt);
	__u32 mask = f->f_inode->i_sb->s_fsnotify_mask | BPF_CORE_READ(m, mnt_fsnotify_mask);

	return mask & FS_OPEN_EXEC_PERM;
}

/* Not checked at all: its daemon may be the process we would stop, then never answer. */
static __always_inline bool fuse(struct file *f)
{
	return f->f_inode->i_sb->s_magic == FUSE_SUPER_MAGIC;
}

static __always_inline bool unseen(struct file *f)
{
	return !fuse(f) && (f->f_inode->__i_nlink == 0 || !watched(f));
}

/* "ld-linux*", "ld-musl*" or "ld.so", the names a loader is installed and invoked under. */
static __always_inline bool loader_name(struct file *f)
{
	char n[16] = {};

	bpf_probe_read_kernel_str(n, sizeof(n), f->f_path.dentry->d_name.name);
	if (n[0] != 'l' || n[1] != 'd')
		return false;
	if (n[2] == '.' && n[3] == 's' && n[4] == 'o' && n[5] == '\0')
		return true;
	if (n[2] != '-')
		return false;
	if (n[3] == 'l' && n[4] == 'i' && n[5] == 'n' && n[6] == 'u' && n[7] == 'x')
		return true;
	return n[3] == 'm' && n[4] == 'u' && n[5] == 's' && n[6] == 'l';
}

struct entry_ctx {
	struct file *image;
	__u64 start, end;
};

/* The mapping holding the first instruction: in the image itself, or in its ELF interpreter. */
static long entry_vma(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct entry_ctx *c = data;
	struct file *f = vma->vm_file;

	if (f && f != c->image && unseen(f)) {
		c->start = vma->vm_start;
		c->end = vma->vm_end;
	}
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(enforce_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct file *image = bprm->file;
	struct inode *inode = image->f_inode;
	struct enforce_inode key = {.ino = inode->i_ino, .dev = inode->i_sb->s_dev};
	struct entry_ctx entry = {.image = image};
	struct pt_regs *regs;
	struct enforce_hold *h;
	__u64 *ctime;
	__u32 kind = 0;

	if (task->tgid == agent_tgid)
		return 0;
	/* Without a block list there are no permission marks: every file would look unwatched. */
	if (!blocking)
		goto gate;
	if (inode->__i_nlink == 0 && !fuse(image))
		kind |= ENFORCE_NOLINK;
	if (!watched(image) && !fuse(image))
		kind |= ENFORCE_UNWATCHED;
	if (loader_name(image) || bpf_map_lookup_elem(&loaders, &key))
		kind |= ENFORCE_LOADER;
	ctime = bpf_map_lookup_elem(&trusted, &key);
	if (ctime && *ctime != (__u64)inode->i_ctime_sec * 1000000000ull +
				   (inode->i_ctime_nsec & ~I_CTIME_QUERIED))
		kind |= ENFORCE_CHANGED;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (regs) {
		long rc = bpf_find_vma(task, regs->ip, entry_vma, &entry, 0);

		if (rc == 0 && entry.start)
			kind |= ENFORCE_INTERP;
		else if (rc && rc != -ENOENT)
			__sync_fetch_and_add(&missed, 1); /* mmap lock busy: not checked */
	}
gate:
	if (!fuse(image) &&
	    (gate_all == ENFORCE_GATE_ALL || (gate_all == ENFORCE_GATE_NAMES && gate_name(image))))
		kind |= ENFORCE_GATE;
	if (!kind)
		return 0;

	h = bpf_ringbuf_reserve(&holds, sizeof(*h), 0);
	if (!h) {
		__sync_fetch_and_add(&missed, 1);
		return 0;
	}
	/* Taken on the way back to user space, before the new image's first instruction. Not
	 * stopped means not reported: nobody would ever send the SIGCONT. */
	if (bpf_send_signal(SIGSTOP)) {
		bpf_ringbuf_discard(h, 0);
		__sync_fetch_and_add(&missed, 1);
		return 0;
	}
	h->pid = task->tgid;
	h->kind = kind;
	h->start_boot_ns = task->start_boottime;
	h->ino = key.ino;
	h->dev = key.dev;
	h->pad = 0;
	h->interp_start = entry.start;
	h->interp_end = entry.end;
	h->stop_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(h, BPF_RB_FORCE_WAKEUP);
	return 0;
}
