/* Syscall fallback: reads the kernel audit multicast group (AUDIT_NLGRP_READLOG) and turns the
 * records of execve, ptrace, module loads, memfd_create, set*id and bpf into events. Read-only:
 * it never changes the audit rules and coexists with auditd. The kernel only emits records that
 * some rule asks for, so without rules (auditd's or an admin's) this source sees nothing; it
 * exists for hosts where eBPF syscall hooks are unavailable but auditing is configured.
 *
 * Records of one event share "audit(ts:serial)" and end with an EOE record; they are gathered in
 * a few fixed slots and emitted at EOE, or after a timeout since multicast delivery is best
 * effort and may lose the EOE. Only successful syscalls are reported. */
#include "source.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/netlink.h>

#include "agent.h"
#include "audit_parse.h"
#include "log.h"
#include "procfs.h"
#include "banned.h"

#define AUDIT_RCVBUF (4 * 1024 * 1024)
#define AUDIT_BATCH 1024
/* Events assembled at once; records of different events interleave only across CPUs. */
#define AUDIT_SLOTS 8
/* A group whose EOE never came is emitted (or dropped) after this long. */
#define AUDIT_GROUP_TIMEOUT_NS (2ull * 1000000000ull)
#define AUDIT_AUID_UNSET 4294967295u
#define BPF_PROG_LOAD_CMD 5

/* ptrace requests worth an event: taking control of a process or writing into it. Reads
 * (PEEK*, GETREGS) follow an attach and would flood the output (a single strace run makes
 * hundreds). TRACEME, POKETEXT, POKEDATA, POKEUSER, SETREGS, SETFPREGS, ATTACH, SETREGSET,
 * SEIZE. */
static const uint64_t ptrace_reported[] = {0, 4, 5, 6, 13, 15, 16, 0x4205, 0x4206};

#define ARCH_X86_64 0xc000003eu
#define ARCH_I386 0x40000003u
#define ARCH_AARCH64 0xc00000b7u

/* Syscall numbers per audit arch (checked with ausyscall). */
/* clang-format off */
static const struct {
	uint32_t arch;
	uint32_t nr;
	enum event_action action;
} syscall_actions[] = {
	{ARCH_X86_64, 59, EVENT_ACTION_EXEC},		{ARCH_X86_64, 322, EVENT_ACTION_EXEC},
	{ARCH_X86_64, 101, EVENT_ACTION_PTRACE},	{ARCH_X86_64, 175, EVENT_ACTION_LOAD_MODULE},
	{ARCH_X86_64, 313, EVENT_ACTION_LOAD_MODULE},	{ARCH_X86_64, 319, EVENT_ACTION_MEMFD_CREATE},
	{ARCH_X86_64, 321, EVENT_ACTION_BPF_LOAD},	{ARCH_X86_64, 105, EVENT_ACTION_UID_CHANGE},
	{ARCH_X86_64, 113, EVENT_ACTION_UID_CHANGE},	{ARCH_X86_64, 117, EVENT_ACTION_UID_CHANGE},
	{ARCH_X86_64, 106, EVENT_ACTION_GID_CHANGE},	{ARCH_X86_64, 114, EVENT_ACTION_GID_CHANGE},
	{ARCH_X86_64, 119, EVENT_ACTION_GID_CHANGE},

	{ARCH_I386, 11, EVENT_ACTION_EXEC},		{ARCH_I386, 358, EVENT_ACTION_EXEC},
	{ARCH_I386, 26, EVENT_ACTION_PTRACE},		{ARCH_I386, 128, EVENT_ACTION_LOAD_MODULE},
	{ARCH_I386, 350, EVENT_ACTION_LOAD_MODULE},	{ARCH_I386, 356, EVENT_ACTION_MEMFD_CREATE},
	{ARCH_I386, 357, EVENT_ACTION_BPF_LOAD},	{ARCH_I386, 23, EVENT_ACTION_UID_CHANGE},
	{ARCH_I386, 213, EVENT_ACTION_UID_CHANGE},	{ARCH_I386, 70, EVENT_ACTION_UID_CHANGE},
	{ARCH_I386, 203, EVENT_ACTION_UID_CHANGE},	{ARCH_I386, 164, EVENT_ACTION_UID_CHANGE},
	{ARCH_I386, 208, EVENT_ACTION_UID_CHANGE},	{ARCH_I386, 46, EVENT_ACTION_GID_CHANGE},
	{ARCH_I386, 214, EVENT_ACTION_GID_CHANGE},	{ARCH_I386, 71, EVENT_ACTION_GID_CHANGE},
	{ARCH_I386, 204, EVENT_ACTION_GID_CHANGE},	{ARCH_I386, 170, EVENT_ACTION_GID_CHANGE},
	{ARCH_I386, 210, EVENT_ACTION_GID_CHANGE},

	{ARCH_AARCH64, 221, EVENT_ACTION_EXEC},		{ARCH_AARCH64, 281, EVENT_ACTION_EXEC},
	{ARCH_AARCH64, 117, EVENT_ACTION_PTRACE},	{ARCH_AARCH64, 105, EVENT_ACTION_LOAD_MODULE},
	{ARCH_AARCH64, 273, EVENT_ACTION_LOAD_MODULE},	{ARCH_AARCH64, 279, EVENT_ACTION_MEMFD_CREATE},
	{ARCH_AARCH64, 280, EVENT_ACTION_BPF_LOAD},	{ARCH_AARCH64, 146, EVENT_ACTION_UID_CHANGE},
	{ARCH_AARCH64, 145, EVENT_ACTION_UID_CHANGE},	{ARCH_AARCH64, 147, EVENT_ACTION_UID_CHANGE},
	{ARCH_AARCH64, 144, EVENT_ACTION_GID_CHANGE},	{ARCH_AARCH64, 143, EVENT_ACTION_GID_CHANGE},
	{ARCH_AARCH64, 149, EVENT_ACTION_GID_CHANGE},
};
/* clang-format on */

struct audit_group {
	bool used;
	bool have_syscall;
	bool ignore;	     /* a syscall we do not report, or one that failed */
	bool skip_arg;	     /* the argument being assembled did not fit */
	uint32_t chunk_arg;  /* index of the argument being assembled from chunks */
	uint32_t chunk_next; /* the chunk expected next */
	uint64_t serial;
	uint64_t ts_ns;
	uint64_t born_mono;
	uint32_t nargs;		    /* entries in ev.process.args */
	char path0[EVENT_PATH_LEN]; /* PATH item 0, used when exe= is absent */
	struct event ev;
};

struct audit_priv {
	int fd;
	bool want_exec;
	struct audit_group slots[AUDIT_SLOTS];
	char scratch[EVENT_ARGS_LEN]; /* one decoded value */
	char buf[16384] __attribute__((aligned(8)));
};

static struct log_rate overflow_rate, malformed_rate;

static enum event_action syscall_action(uint32_t arch, uint64_t nr)
{
	for (size_t i = 0; i < sizeof(syscall_actions) / sizeof(syscall_actions[0]); i++) {
		if (syscall_actions[i].arch == arch && syscall_actions[i].nr == nr)
			return syscall_actions[i].action;
	}
	return EVENT_ACTION_NONE;
}

static bool ptrace_is_reported(uint64_t request)
{
	for (size_t i = 0; i < sizeof(ptrace_reported) / sizeof(ptrace_reported[0]); i++) {
		if (ptrace_reported[i] == request)
			return true;
	}
	return false;
}

static void count_malformed(struct source *src, const char *what)
{
	atomic_fetch_add(&src->agent->counters.malformed, 1);
	log_ratelimited(&malformed_rate, 6, LOG_LEVEL_WARN, "audit", "malformed record: %s", what);
}

/* "pts3" -> 136+3/256:3%256, "tty2" -> 4:2, "ttyS1" -> 4:65 (Documentation/admin-guide/devices). */
static void set_tty(struct event *ev, const struct audit_parse_field *f)
{
	struct audit_parse_field num = *f;
	uint32_t major, minor_base;
	uint64_t n;

	if (f->quote)
		return;
	if (f->val_len > 3 && memcmp(f->val, "pts", 3) == 0) {
		num.val += 3, num.val_len -= 3;
		if (audit_parse_u64(&num, 10, &n) || n > (1u << 20))
			return;
		major = 136 + (uint32_t)(n / 256);
		n %= 256;
		minor_base = 0;
	} else if (f->val_len > 4 && memcmp(f->val, "ttyS", 4) == 0) {
		num.val += 4, num.val_len -= 4;
		major = 4;
		minor_base = 64;
		if (audit_parse_u64(&num, 10, &n) || n > 191)
			return;
	} else if (f->val_len > 3 && memcmp(f->val, "tty", 3) == 0) {
		num.val += 3, num.val_len -= 3;
		major = 4;
		minor_base = 0;
		if (audit_parse_u64(&num, 10, &n) || n > 63)
			return;
	} else {
		return;
	}
	ev->process.tty_major = major;
	ev->process.tty_minor = minor_base + (uint32_t)n;
	event_mark(ev, EVF_PROCESS_TTY_MAJOR);
	event_mark(ev, EVF_PROCESS_TTY_MINOR);
}

static bool get_u32(const struct audit_parse_field *f, unsigned base, uint32_t *out)
{
	uint64_t v;

	if (audit_parse_u64(f, base, &v) || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Copies a decoded string field into dst[size]; false when absent or malformed. */
static bool get_str(struct audit_priv *p, const struct audit_parse_field *f, char *dst, size_t size)
{
	size_t n;

	if (audit_parse_string(f, p->scratch, sizeof(p->scratch), &n) < 0)
		return false;
	/* Paths and names cannot hold NUL; a decoded one that does is cut there. */
	n = strnlen(p->scratch, n);
	event_copy_str(dst, size, p->scratch, n);
	return true;
}

static void apply_syscall(struct source *src, struct audit_group *g, struct audit_parse_iter *it)
{
	struct audit_priv *p = src->priv;
	struct event *ev = &g->ev;
	struct audit_parse_field f;
	uint32_t arch = 0, v;
	uint64_t nr = UINT64_MAX, a[2] = {UINT64_MAX, UINT64_MAX}; /* absent: matches nothing */
	bool failed = false;
	char comm[EVENT_NAME_LEN] = "";

	while (audit_parse_next(it, &f)) {
		if (audit_parse_key_is(&f, "arch")) {
			get_u32(&f, 16, &arch);
		} else if (audit_parse_key_is(&f, "syscall")) {
			if (audit_parse_u64(&f, 10, &nr))
				nr = UINT64_MAX;
		} else if (audit_parse_key_is(&f, "success")) {
			failed = f.val_len == 2 && memcmp(f.val, "no", 2) == 0;
		} else if (audit_parse_key_is(&f, "a0")) {
			audit_parse_u64(&f, 16, &a[0]);
		} else if (audit_parse_key_is(&f, "a1")) {
			audit_parse_u64(&f, 16, &a[1]);
		} else if (audit_parse_key_is(&f, "pid")) {
			if (get_u32(&f, 10, &ev->process.pid))
				event_mark(ev, EVF_PROCESS_PID);
		} else if (audit_parse_key_is(&f, "ppid")) {
			if (get_u32(&f, 10, &ev->process.parent.pid))
				event_mark(ev, EVF_PROCESS_PARENT_PID);
		} else if (audit_parse_key_is(&f, "auid")) {
			if (get_u32(&f, 10, &v) && v != AUDIT_AUID_UNSET) {
				ev->auid = v;
				event_mark(ev, EVF_USER_AUDIT_ID);
			}
		} else if (audit_parse_key_is(&f, "uid")) {
			if (get_u32(&f, 10, &ev->process.uid))
				event_mark(ev, EVF_PROCESS_REAL_USER_ID);
		} else if (audit_parse_key_is(&f, "euid")) {
			if (get_u32(&f, 10, &ev->process.euid)) {
				event_mark(ev, EVF_PROCESS_USER_ID);
				event_mark(ev, EVF_USER_ID);
			}
		} else if (audit_parse_key_is(&f, "gid")) {
			if (get_u32(&f, 10, &ev->process.gid))
				event_mark(ev, EVF_PROCESS_REAL_GROUP_ID);
		} else if (audit_parse_key_is(&f, "egid")) {
			if (get_u32(&f, 10, &ev->process.egid))
				event_mark(ev, EVF_PROCESS_GROUP_ID);
		} else if (audit_parse_key_is(&f, "tty")) {
			set_tty(ev, &f);
		} else if (audit_parse_key_is(&f, "comm")) {
			get_str(p, &f, comm, sizeof(comm));
		} else if (audit_parse_key_is(&f, "exe")) {
			get_str(p, &f, ev->process.executable, sizeof(ev->process.executable));
		}
	}
	g->have_syscall = true;
	ev->action = syscall_action(arch, nr);
	if (ev->action == EVENT_ACTION_NONE || failed || !event_has(ev, EVF_PROCESS_PID) ||
	    (ev->action == EVENT_ACTION_EXEC && !p->want_exec)) {
		g->ignore = true;
		return;
	}
	/* Same naming as the /proc path: the executable's base name, else comm. */
	if (ev->process.executable[0]) {
		const char *slash = strrchr(ev->process.executable, '/');
		const char *base = slash ? slash + 1 : ev->process.executable;

		event_copy_str(ev->process.name, sizeof(ev->process.name), base, strlen(base));
	} else {
		event_copy_str(ev->process.name, sizeof(ev->process.name), comm, strlen(comm));
	}
	switch (ev->action) {
	case EVENT_ACTION_PTRACE:
		if (!ptrace_is_reported(a[0])) {
			g->ignore = true;
			break;
		}
		ev->process.ptrace_request = (uint32_t)a[0];
		event_mark(ev, EVF_PROCESS_EXT_PTRACE_REQUEST);
		/* PTRACE_TRACEME (0) names no target. */
		if (a[0] != 0 && a[1] <= UINT32_MAX) {
			ev->process.target_pid = (uint32_t)a[1];
			event_mark(ev, EVF_PROCESS_EXT_TARGET_PID);
		}
		break;
	case EVENT_ACTION_BPF_LOAD:
		/* Map lookups and the like are bpf() calls too; only a program load is reported. */
		if (a[0] != BPF_PROG_LOAD_CMD) {
			g->ignore = true;
			break;
		}
		ev->process.bpf_command = (uint32_t)a[0];
		event_mark(ev, EVF_PROCESS_EXT_BPF_COMMAND);
		break;
	default:
		break;
	}
}

/* Adds one argument to the event, or more bytes of the last one for a chunked argument. */
static void args_add(struct source *src, struct audit_group *g, const char *s, size_t n,
		     bool extend)
{
	struct event *ev = &g->ev;
	size_t room;

	n = strnlen(s, n);
	if (!extend) {
		if (g->nargs >= src->agent->config->args_max_count ||
		    !event_list_add(ev->process.args, sizeof(ev->process.args),
				    &ev->process.args_len, s, n)) {
			ev->process.args_truncated = true;
			g->skip_arg = true;
			return;
		}
		g->nargs++;
		g->skip_arg = false;
		return;
	}
	if (g->skip_arg || g->nargs == 0)
		return;
	/* The last entry's NUL is the list's last byte: overwrite it and terminate again. */
	room = sizeof(ev->process.args) - ev->process.args_len;
	if (n > room) {
		n = room;
		ev->process.args_truncated = true;
		g->skip_arg = true;
	}
	memcpy(ev->process.args + ev->process.args_len - 1, s, n);
	ev->process.args_len += (uint32_t)n;
	ev->process.args[ev->process.args_len - 1] = '\0';
}

static void apply_execve(struct source *src, struct audit_group *g, struct audit_parse_iter *it)
{
	struct audit_priv *p = src->priv;
	struct audit_parse_field f;
	uint32_t idx, chunk;
	size_t n;
	int rc;

	while (audit_parse_next(it, &f)) {
		enum audit_parse_arg kind = audit_parse_arg_key(&f, &idx, &chunk);

		if (kind == AUDIT_PARSE_ARG_NONE) {
			if (audit_parse_key_is(&f, "argc") &&
			    get_u32(&f, 10, &g->ev.process.args_count))
				event_mark(&g->ev, EVF_PROCESS_ARGS_COUNT);
			continue;
		}
		if (kind == AUDIT_PARSE_ARG_LEN)
			continue;
		rc = audit_parse_string(&f, p->scratch, sizeof(p->scratch), &n);
		if (rc == -ENOENT) {
			rc = 0;
			n = 0;
		}
		if (rc < 0) {
			count_malformed(src, "execve argument");
			continue;
		}
		if (rc == 1)
			g->ev.process.args_truncated = true;
		if (kind == AUDIT_PARSE_ARG_CHUNK && chunk > 0) {
			/* A chunk out of sequence (a record lost on the way) would splice
			 * unrelated bytes into the argument: stop assembling it instead. */
			if (idx != g->chunk_arg || chunk != g->chunk_next) {
				g->skip_arg = true;
				g->ev.process.args_truncated = true;
				continue;
			}
			g->chunk_next++;
			args_add(src, g, p->scratch, n, true);
			continue;
		}
		g->chunk_arg = idx;
		g->chunk_next = 1;
		args_add(src, g, p->scratch, n, false);
	}
}

/* proctitle is the NUL-separated command line (cut at 128 bytes by the kernel): used for the
 * arguments only when no EXECVE record gave them. */
static void apply_proctitle(struct source *src, struct audit_group *g, struct audit_parse_iter *it)
{
	struct audit_priv *p = src->priv;
	struct audit_parse_field f;
	size_t n, i = 0;

	if (g->ev.action != EVENT_ACTION_EXEC || g->ev.process.args_len)
		return;
	while (audit_parse_next(it, &f)) {
		if (!audit_parse_key_is(&f, "proctitle"))
			continue;
		if (audit_parse_string(&f, p->scratch, sizeof(p->scratch), &n) < 0)
			return;
		while (i < n) {
			size_t len = strnlen(p->scratch + i, n - i);

			args_add(src, g, p->scratch + i, len, false);
			i += len + 1;
		}
		return;
	}
}

static void apply_record(struct source *src, struct audit_group *g, uint32_t type,
			 struct audit_parse_iter *it)
{
	struct audit_priv *p = src->priv;
	struct audit_parse_field f;

	if (type == AUDIT_PARSE_SYSCALL) {
		apply_syscall(src, g, it);
		return;
	}
	if (g->ignore)
		return;
	switch (type) {
	case AUDIT_PARSE_EXECVE:
		apply_execve(src, g, it);
		break;
	case AUDIT_PARSE_CWD:
		while (audit_parse_next(it, &f)) {
			if (audit_parse_key_is(&f, "cwd"))
				get_str(p, &f, g->ev.process.working_directory,
					sizeof(g->ev.process.working_directory));
		}
		break;
	case AUDIT_PARSE_PATH: {
		bool item0 = false;

		while (audit_parse_next(it, &f)) {
			if (audit_parse_key_is(&f, "item"))
				item0 = f.val_len == 1 && f.val[0] == '0';
			else if (item0 && audit_parse_key_is(&f, "name"))
				get_str(p, &f, g->path0, sizeof(g->path0));
		}
		break;
	}
	case AUDIT_PARSE_PROCTITLE:
		apply_proctitle(src, g, it);
		break;
	default:
		break;
	}
	if (it->malformed)
		count_malformed(src, "unterminated quote");
}

/* Emits the group when it is a complete event of interest, then frees the slot. */
static void group_flush(struct source *src, struct audit_group *g)
{
	struct event *ev = &g->ev;
	struct procfs_stat st;

	if (!g->have_syscall || g->ignore || ev->process.pid == (uint32_t)src->agent->self_pid)
		goto out;
	if (!ev->process.executable[0] && g->path0[0] == '/')
		event_copy_str(ev->process.executable, sizeof(ev->process.executable), g->path0,
			       strlen(g->path0));
	if (ev->action == EVENT_ACTION_EXEC) {
		if (ev->process.args_count > g->nargs)
			ev->process.args_truncated = true;
		if (ev->process.args_truncated)
			event_mark(ev, EVF_PROCESS_EXT_ARGS_TRUNCATED);
		if (ev->process.args_len)
			event_build_command_line(ev);
	}
	/* The entity id needs the start time, which only /proc has; a process that is already
	 * gone is left to the core's process table. */
	if (procfs_read_stat("/proc", ev->process.pid, &st) == 0) {
		agent_entity_id(src->agent, ev->process.pid, st.start_ticks, ev->process.entity_id);
		ev->process.start_ns = agent_boot_to_real(
		    st.start_ticks * (1000000000ull / (uint64_t)procfs_clk_tck()));
		event_mark(ev, EVF_PROCESS_START);
	}
	ev->timestamp_ns = g->ts_ns;
	event_mark(ev, EVF_TIMESTAMP);
	event_copy_str(ev->mamori_source, sizeof(ev->mamori_source), "audit", 5);
	agent_emit(src->agent, ev);
out:
	g->used = false;
}

/* The slot of event (ts, serial): existing, else (when create) a free one or the oldest one
 * flushed to make room; NULL when absent and !create. */
static struct audit_group *group_get(struct source *src, const struct audit_parse_header *h,
				     bool create)
{
	struct audit_priv *p = src->priv;
	struct audit_group *free_slot = NULL, *oldest = NULL;

	for (int i = 0; i < AUDIT_SLOTS; i++) {
		struct audit_group *g = &p->slots[i];

		if (!g->used) {
			if (!free_slot)
				free_slot = g;
			continue;
		}
		if (g->serial == h->serial && g->ts_ns == h->ts_ns)
			return g;
		if (!oldest || g->born_mono < oldest->born_mono)
			oldest = g;
	}
	if (!create)
		return NULL;
	if (!free_slot) {
		group_flush(src, oldest);
		free_slot = oldest;
	}
	free_slot->used = true;
	free_slot->have_syscall = false;
	free_slot->ignore = false;
	free_slot->skip_arg = false;
	free_slot->chunk_arg = UINT32_MAX;
	free_slot->chunk_next = 0;
	free_slot->serial = h->serial;
	free_slot->ts_ns = h->ts_ns;
	free_slot->born_mono = agent_now_mono();
	free_slot->nargs = 0;
	free_slot->path0[0] = '\0';
	event_reset(&free_slot->ev);
	return free_slot;
}

static bool type_wanted(uint32_t type)
{
	return type == AUDIT_PARSE_SYSCALL || type == AUDIT_PARSE_EXECVE ||
	       type == AUDIT_PARSE_CWD || type == AUDIT_PARSE_PATH ||
	       type == AUDIT_PARSE_PROCTITLE || type == AUDIT_PARSE_EOE;
}

static void handle_record(struct source *src, uint32_t type, const char *text, size_t len)
{
	struct audit_parse_header h;
	struct audit_parse_iter it;
	struct audit_group *g;

	/* Other types (logins, AVCs, config changes) are never part of what we report, and
	 * would otherwise occupy slots until they time out. */
	if (!type_wanted(type))
		return;
	if (audit_parse_header(text, len, type, &h)) {
		count_malformed(src, "header");
		return;
	}
	if (type == AUDIT_PARSE_EOE) {
		g = group_get(src, &h, false);
		if (g)
			group_flush(src, g);
		return;
	}
	g = group_get(src, &h, true);
	audit_parse_iter_init(&it, text, len, &h);
	apply_record(src, g, type, &it);
}

/* One datagram: one or more netlink messages, each one record. */
static void handle_datagram(struct source *src, size_t n)
{
	struct audit_priv *p = src->priv;
	struct nlmsghdr *nl = (struct nlmsghdr *)p->buf;
	size_t off = 0;

	/* Kernels before 3.19 set nlmsg_len wrongly on multicast copies; trust the datagram size
	 * for a lone message rather than dropping it. */
	if (n >= NLMSG_HDRLEN && (nl->nlmsg_len < NLMSG_HDRLEN || nl->nlmsg_len > n)) {
		handle_record(src, nl->nlmsg_type, p->buf + NLMSG_HDRLEN, n - NLMSG_HDRLEN);
		return;
	}
	/* Walked by hand: NLMSG_NEXT's arithmetic can step past the end on a short last message. */
	while (off < n && n - off >= NLMSG_HDRLEN) {
		nl = (struct nlmsghdr *)(p->buf + off);
		if (nl->nlmsg_len < NLMSG_HDRLEN || nl->nlmsg_len > n - off)
			break;
		off += NLMSG_ALIGN(nl->nlmsg_len);
		if (nl->nlmsg_type == NLMSG_ERROR || nl->nlmsg_type == NLMSG_NOOP ||
		    nl->nlmsg_type == NLMSG_DONE)
			continue;
		handle_record(src, nl->nlmsg_type, NLMSG_DATA(nl), nl->nlmsg_len - NLMSG_HDRLEN);
	}
}

/* Logs whether the kernel audits at all: a disabled audit subsystem means a silent source. The
 * query is read-only (AUDIT_GET) and its failure is not an error. */
static void log_audit_status(void)
{
	struct {
		struct nlmsghdr nl;
		struct audit_status st;
	} req;
	char reply[512] __attribute__((aligned(8)));
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct pollfd pfd;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
	ssize_t n;

	if (fd < 0)
		return;
	memset(&req, 0, sizeof(req));
	req.nl.nlmsg_len = NLMSG_LENGTH(0);
	req.nl.nlmsg_type = AUDIT_GET;
	req.nl.nlmsg_flags = NLM_F_REQUEST;
	req.nl.nlmsg_seq = 1;
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (sendto(fd, &req, req.nl.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0 ||
	    poll(&pfd, 1, 200) <= 0)
		goto out;
	n = recv(fd, reply, sizeof(reply), MSG_DONTWAIT);
	if (n >= (ssize_t)NLMSG_LENGTH(offsetof(struct audit_status, lost))) {
		struct nlmsghdr *nl = (struct nlmsghdr *)reply;
		struct audit_status st;

		if (nl->nlmsg_type != AUDIT_GET)
			goto out;
		memset(&st, 0, sizeof(st));
		memcpy(&st, NLMSG_DATA(nl),
		       (size_t)n - NLMSG_HDRLEN < sizeof(st) ? (size_t)n - NLMSG_HDRLEN
							     : sizeof(st));
		if (!st.enabled)
			log_warn("audit",
				 "kernel auditing is disabled: no records until it is enabled "
				 "(auditd or auditctl -e 1)");
		else
			log_info("audit", "kernel auditing enabled=%u auditd_pid=%u", st.enabled,
				 st.pid);
	}
out:
	close(fd);
}

static int au_open(struct source *src, unsigned want, char *why, size_t whylen)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
				 .nl_groups = 1u << (AUDIT_NLGRP_READLOG - 1)};
	struct audit_priv *p;
	int bufsize = AUDIT_RCVBUF, rc;

	p = calloc(1, sizeof(*p));
	if (!p) {
		(void)snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	/* Exec is reported only when no earlier source covers processes, else it would be seen
	 * twice; cover() stays SYSCALLS because audit shows neither fork nor exit. */
	p->want_exec = want & SOURCE_COVER_PROCESS;
	src->priv = p;
	p->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_AUDIT);
	if (p->fd < 0) {
		rc = -errno;
		(void)snprintf(why, whylen, "no audit netlink (%s): kernel without CONFIG_AUDIT",
			       strerror(-rc));
		goto fail;
	}
	if (setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof(bufsize)) < 0 &&
	    setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize)) < 0)
		log_warn("audit", "cannot enlarge receive buffer: %s", strerror(errno));
	if (bind(p->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		(void)snprintf(why, whylen, "bind to the audit multicast group: %s%s",
			       strerror(-rc), rc == -EPERM ? " (needs CAP_AUDIT_READ)" : "");
		goto fail;
	}
	log_audit_status();
	return 0;
fail:
	if (p->fd >= 0)
		close(p->fd);
	free(p);
	src->priv = NULL;
	return rc;
}

static unsigned au_cover(struct source *src)
{
	(void)src;
	return SOURCE_COVER_SYSCALLS;
}

static int au_fd(struct source *src)
{
	struct audit_priv *p = src->priv;

	return p ? p->fd : -1;
}

static int au_poll(struct source *src)
{
	struct audit_priv *p = src->priv;

	for (int i = 0; i < AUDIT_BATCH; i++) {
		struct sockaddr_nl from = {.nl_pid = UINT32_MAX}; /* unfilled: not the kernel */
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(p->fd, p->buf, sizeof(p->buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &fromlen);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == ENOBUFS) {
				/* Lost records: one per overflow as a floor estimate. */
				atomic_fetch_add(&src->agent->counters.kernel_dropped, 1);
				log_ratelimited(&overflow_rate, 6, LOG_LEVEL_WARN, "audit",
						"multicast overflow: records lost");
				continue;
			}
			log_error("audit", "receive failed: %s", strerror(errno));
			return -errno;
		}
		/* Only the kernel multicasts on this group; anything else is forged. */
		if (fromlen < sizeof(from) || from.nl_pid != 0) {
			count_malformed(src, "not from the kernel");
			continue;
		}
		if ((size_t)n > sizeof(p->buf)) {
			count_malformed(src, "record larger than the receive buffer");
			continue;
		}
		handle_datagram(src, (size_t)n);
	}
	return 0;
}

static void au_tick(struct source *src, uint64_t now_ns)
{
	struct audit_priv *p = src->priv;

	for (int i = 0; i < AUDIT_SLOTS; i++) {
		struct audit_group *g = &p->slots[i];

		if (g->used && now_ns > g->born_mono &&
		    now_ns - g->born_mono > AUDIT_GROUP_TIMEOUT_NS)
			group_flush(src, g);
	}
}

static void au_close(struct source *src)
{
	struct audit_priv *p = src->priv;

	if (!p)
		return;
	au_poll(src);
	for (int i = 0; i < AUDIT_SLOTS; i++) {
		if (p->slots[i].used)
			group_flush(src, &p->slots[i]);
	}
	close(p->fd);
	free(p);
	src->priv = NULL;
}

const struct source_ops source_audit_ops = {
    .name = "audit",
    .open = au_open,
    .cover = au_cover,
    .fd = au_fd,
    .poll = au_poll,
    .tick = au_tick,
    .close = au_close,
};
