/* The eBPF source: loads bpf/sensor.bpf.c (CO-RE, skeleton), attaches each hook on its own so a
 * hook the kernel refuses only loses its own events, and turns wire records into ECS events. */
#include "source.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "log.h"
#include "dns_parse.h"
#include "mountinfo.h"
#include "procfs.h"
#include "sensor.h"
#include "sensor.skel.h"

#include "banned.h"

struct ebpf {
	struct sensor_bpf *skel;
	struct ring_buffer *rb;
	struct agent *ag;
	struct event ev;
	unsigned cover;
	uint64_t counts[WIRE_CNT_MAX];	  /* last sums read from the kernel */
	uint64_t received[WIRE_TYPE_MAX]; /* records taken off the ring, per type */
	uint64_t last_drop_read;
	uint64_t malformed;
	struct bpf_link *sys_links[32]; /* the per-syscall tracepoints, when attached */
	size_t nsys_links;
};

__attribute__((format(printf, 2, 0))) static int libbpf_log(enum libbpf_print_level level,
							     const char *fmt, va_list ap)
{
	char line[512];

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (line[0])
		log_debug("ebpf", "libbpf: %s", line);
	return 0;
}

/* Rebuilds "/a/b/c" from the leaf-first components "c\0b\0a\0". */
static void assemble_path(const char *comp, uint32_t len, char *out, size_t size)
{
	const char *parts[WIRE_PATH_DEPTH * 2];
	size_t plen[WIRE_PATH_DEPTH * 2];
	int n = 0;
	size_t o = 0;
	uint32_t i = 0;

	if (len > WIRE_PATH_BYTES + WIRE_NAME_READ)
		len = WIRE_PATH_BYTES + WIRE_NAME_READ;
	while (i < len && n < WIRE_PATH_DEPTH * 2) {
		size_t k = strnlen(comp + i, len - i);

		if (k == 0)
			break;
		parts[n] = comp + i;
		plen[n++] = k;
		i += (uint32_t)k + 1;
	}
	if (n == 0) {
		event_copy_str(out, size, "/", 1);
		return;
	}
	for (int j = n - 1; j >= 0 && o + 1 < size; j--) {
		if (parts[j][0] != '/')
			out[o++] = '/';
		if (o + plen[j] >= size)
			break;
		memcpy(out + o, parts[j], plen[j]);
		o += plen[j];
	}
	out[o] = '\0';
}

static uint64_t boot_ns_to_ticks(uint64_t ns)
{
	return ns / (1000000000ull / (uint64_t)procfs_clk_tck());
}

/* Common process identity from the record header. */
static void fill_from_hdr(struct ebpf *e, const struct wire_hdr *h, enum event_action action)
{
	struct event *ev = &e->ev;

	event_reset(ev);
	ev->action = action;
	ev->timestamp_ns = agent_boot_to_real(h->ts_boot_ns);
	event_mark(ev, EVF_TIMESTAMP);
	ev->process.pid = h->pid;
	event_mark(ev, EVF_PROCESS_PID);
	if (h->tid != h->pid) {
		ev->process.tid = h->tid;
		event_mark(ev, EVF_PROCESS_TID);
	}
	/* Records from cgroup hooks carry no start time: the process table fills the identity. */
	if (h->start_boot_ns) {
		ev->process.start_ns = agent_boot_to_real(h->start_boot_ns);
		event_mark(ev, EVF_PROCESS_START);
		agent_entity_id(e->ag, h->pid, boot_ns_to_ticks(h->start_boot_ns),
				ev->process.entity_id);
	}
	ev->process.uid = h->uid;
	ev->process.euid = h->euid;
	ev->process.gid = h->gid;
	ev->process.egid = h->egid;
	event_mark(ev, EVF_PROCESS_USER_ID);
	event_mark(ev, EVF_PROCESS_REAL_USER_ID);
	event_mark(ev, EVF_PROCESS_GROUP_ID);
	event_mark(ev, EVF_PROCESS_REAL_GROUP_ID);
	event_mark(ev, EVF_USER_ID);
}

static void set_parent(struct ebpf *e, uint32_t ppid, uint64_t parent_start_boot_ns)
{
	struct event *ev = &e->ev;

	ev->process.parent.pid = ppid;
	event_mark(ev, EVF_PROCESS_PARENT_PID);
	if (ppid)
		agent_entity_id(e->ag, ppid, boot_ns_to_ticks(parent_start_boot_ns),
				ev->process.parent.entity_id);
}

/* The container id is the 64-hex run in the leaf cgroup's name (docker-<id>.scope, <id>). */
static void set_container(struct event *ev, const char *cg, uint32_t len)
{
	size_t run = 0;

	for (uint32_t i = 0; i < len && cg[i]; i++) {
		bool hex = (cg[i] >= '0' && cg[i] <= '9') || (cg[i] >= 'a' && cg[i] <= 'f');

		run = hex ? run + 1 : 0;
		if (run == 64) {
			event_copy_str(ev->container_id, sizeof(ev->container_id), cg + i - 63, 64);
			return;
		}
	}
}

static void on_exec(struct ebpf *e, const struct wire_exec *x, size_t size)
{
	struct event *ev = &e->ev;
	uint32_t args_len = x->args_len;
	uint32_t count = 0, i = 0;
	const struct agent_config *c = e->ag->config;

	if (args_len > size - offsetof(struct wire_exec, args))
		args_len = (uint32_t)(size - offsetof(struct wire_exec, args));
	fill_from_hdr(e, &x->h, EVENT_ACTION_EXEC);
	set_parent(e, x->ppid, x->parent_start_boot_ns);
	assemble_path(x->exe, x->exe_len, ev->process.executable, sizeof(ev->process.executable));
	assemble_path(x->cwd, x->cwd_len, ev->process.working_directory,
		      sizeof(ev->process.working_directory));
	{
		const char *slash = strrchr(ev->process.executable, '/');
		const char *base = slash ? slash + 1 : ev->process.executable;

		event_copy_str(ev->process.name, sizeof(ev->process.name), base, strlen(base));
	}
	if (strncmp(ev->process.executable, "/memfd:", 7) == 0) {
		ev->process.memfd = true;
		event_mark(ev, EVF_PROCESS_EXT_MEMFD);
	} else if (x->flags & WIRE_EXEC_DELETED) {
		ev->process.deleted_executable = true;
		event_mark(ev, EVF_PROCESS_EXT_DELETED);
	}
	if ((x->exe_mode & S_ISUID) || (x->exe_mode & S_ISGID) || x->h.euid != x->h.uid) {
		ev->process.setuid = true;
		event_mark(ev, EVF_PROCESS_EXT_SETUID);
	}
	while (i < args_len) {
		size_t k = strnlen(x->args + i, args_len - i);

		count++;
		if (count > c->args_max_count ||
		    !event_list_add(ev->process.args, sizeof(ev->process.args),
				    &ev->process.args_len, x->args + i, k))
			ev->process.args_truncated = true;
		i += (uint32_t)k + 1;
	}
	if ((x->flags & WIRE_EXEC_ARGS_TRUNCATED) || x->argc > count)
		ev->process.args_truncated = true;
	ev->process.args_count = x->argc > count ? x->argc : count;
	event_mark(ev, EVF_PROCESS_ARGS_COUNT);
	if (ev->process.args_truncated)
		event_mark(ev, EVF_PROCESS_EXT_ARGS_TRUNCATED);
	event_build_command_line(ev);
	ev->process.session_leader_pid = x->sid;
	event_mark(ev, EVF_PROCESS_SESSION_LEADER_PID);
	if (x->tty_major) {
		ev->process.tty_major = x->tty_major;
		ev->process.tty_minor = x->tty_minor;
		event_mark(ev, EVF_PROCESS_TTY_MAJOR);
		event_mark(ev, EVF_PROCESS_TTY_MINOR);
	}
	if (x->auid != UINT32_MAX) {
		ev->auid = x->auid;
		event_mark(ev, EVF_USER_AUDIT_ID);
	}
	set_container(ev, x->cgroup, x->cgroup_len < sizeof(x->cgroup) ? x->cgroup_len
								       : sizeof(x->cgroup));
	/* The file's identity lets the hash cache skip rehashing an unchanged binary. */
	ev->file.inode = x->exe_ino;
	ev->file.size = x->exe_size;
	ev->file.mode = x->exe_mode;
	agent_emit_exec(e->ag, ev, x->exe_dev, x->exe_ino, x->exe_mtime_ns, x->exe_size);
}

static void on_fork(struct ebpf *e, const struct wire_fork *f)
{
	fill_from_hdr(e, &f->h, EVENT_ACTION_FORK);
	set_parent(e, f->ppid, f->parent_start_boot_ns);
	agent_emit(e->ag, &e->ev);
}

static void on_exit_rec(struct ebpf *e, const struct wire_exit *x)
{
	struct event *ev = &e->ev;
	uint32_t code = x->exit_code;

	fill_from_hdr(e, &x->h, EVENT_ACTION_END);
	/* As a shell reports it: the exit status, or 128 + the signal that ended it. */
	ev->process.exit_code = (code & 0x7f) ? (int32_t)(128 + (code & 0x7f))
					      : (int32_t)((code >> 8) & 0xff);
	event_mark(ev, EVF_PROCESS_EXIT_CODE);
	agent_emit(e->ag, ev);
}

static void format_ip(uint16_t family, const uint8_t *addr, char *out, size_t size)
{
	if (family == 2)
		inet_ntop(AF_INET, addr, out, (socklen_t)size);
	else if (addr[0] == 0 && addr[10] == 0xff && addr[11] == 0xff &&
		 !memcmp(addr, "\0\0\0\0\0\0\0\0\0\0", 10))
		inet_ntop(AF_INET, addr + 12, out, (socklen_t)size); /* v4-mapped */
	else
		inet_ntop(AF_INET6, addr, out, (socklen_t)size);
}

static void set_net_kind(struct event *ev, uint16_t family, const char *transport)
{
	event_copy_str(ev->net_transport, sizeof(ev->net_transport), transport, strlen(transport));
	event_copy_str(ev->net_type, sizeof(ev->net_type), family == 2 ? "ipv4" : "ipv6", 4);
}

/* ECS endpoints: source is the side that initiated the exchange; direction is from this host. */
static void set_endpoints(struct event *ev, uint16_t family, const uint8_t *src_ip,
			  uint16_t src_port, const uint8_t *dst_ip, uint16_t dst_port, bool egress,
			  const char *transport)
{
	format_ip(family, src_ip, ev->source.ip, sizeof(ev->source.ip));
	format_ip(family, dst_ip, ev->destination.ip, sizeof(ev->destination.ip));
	ev->source.port = src_port;
	ev->destination.port = dst_port;
	event_mark(ev, EVF_SOURCE_PORT);
	event_mark(ev, EVF_DESTINATION_PORT);
	event_copy_str(ev->net_direction, sizeof(ev->net_direction), egress ? "egress" : "ingress",
		       egress ? 6 : 7);
	set_net_kind(ev, family, transport);
}

static void on_sock(struct ebpf *e, const struct wire_sock *s)
{
	struct event *ev = &e->ev;
	static const enum event_action actions[] = {
		[WIRE_CONNECT] = EVENT_ACTION_CONNECTION_ATTEMPTED,
		[WIRE_ACCEPT] = EVENT_ACTION_CONNECTION_ACCEPTED,
		[WIRE_CLOSE] = EVENT_ACTION_DISCONNECT_RECEIVED,
		[WIRE_LISTEN] = EVENT_ACTION_LISTEN,
	};
	bool outgoing;

	fill_from_hdr(e, &s->h, actions[s->h.type]);
	outgoing = s->h.type == WIRE_CONNECT || (s->h.type == WIRE_CLOSE && s->ok);
	if (s->h.type == WIRE_LISTEN) {
		format_ip(s->family, s->saddr, ev->source.ip, sizeof(ev->source.ip));
		ev->source.port = s->sport;
		event_mark(ev, EVF_SOURCE_PORT);
		set_net_kind(ev, s->family, "tcp");
	} else if (outgoing) {
		set_endpoints(ev, s->family, s->saddr, s->sport, s->daddr, s->dport, true, "tcp");
	} else {
		set_endpoints(ev, s->family, s->daddr, s->dport, s->saddr, s->sport, false, "tcp");
	}
	if (s->h.type == WIRE_CLOSE) {
		ev->duration_ns = s->duration_ns;
		event_mark(ev, EVF_EVENT_DURATION);
	}
	if (s->h.type == WIRE_CONNECT && !s->ok)
		event_list_add(ev->tags, sizeof(ev->tags), &ev->tags_len, "connection_failed", 17);
	agent_emit(e->ag, ev);
}

static void on_dns(struct ebpf *e, const struct wire_dns *d)
{
	static struct log_rate bad_rate;
	struct event *ev = &e->ev;
	struct dns_question q;
	size_t len = d->len < sizeof(d->payload) ? d->len : sizeof(d->payload);
	int rc = dns_parse_query(d->payload, len, &q);

	if (rc) {
		/* Responses and non-DNS traffic to port 53 are not queries: not an error. */
		log_ratelimited(&bad_rate, 5, LOG_LEVEL_DEBUG, "ebpf",
				"udp/53 payload is not a DNS query len=%zu err=%d", len, rc);
		return;
	}
	if (d->h.pid) {
		fill_from_hdr(e, &d->h, EVENT_ACTION_DNS_QUERY);
	} else {
		/* Sent on a socket opened before the agent started: no owner known. */
		event_reset(ev);
		ev->action = EVENT_ACTION_DNS_QUERY;
		ev->timestamp_ns = agent_boot_to_real(d->h.ts_boot_ns);
		event_mark(ev, EVF_TIMESTAMP);
	}
	event_copy_str(ev->dns_question_name, sizeof(ev->dns_question_name), q.name,
		       strlen(q.name));
	event_copy_str(ev->dns_question_type, sizeof(ev->dns_question_type), q.type,
		       strlen(q.type));
	set_endpoints(ev, d->family, d->saddr, d->sport, d->daddr, d->dport, true, "udp");
	event_copy_str(ev->net_protocol, sizeof(ev->net_protocol), "dns", 3);
	agent_emit(e->ag, ev);
}

static void on_syscall(struct ebpf *e, const struct wire_syscall *sc)
{
	struct event *ev = &e->ev;
	size_t nlen = strnlen(sc->name, sizeof(sc->name));

	switch (sc->h.type) {
	case WIRE_PTRACE:
		fill_from_hdr(e, &sc->h, EVENT_ACTION_PTRACE);
		ev->process.ptrace_request = (uint32_t)sc->arg0;
		ev->process.target_pid = (uint32_t)sc->arg1;
		event_mark(ev, EVF_PROCESS_EXT_PTRACE_REQUEST);
		event_mark(ev, EVF_PROCESS_EXT_TARGET_PID);
		break;
	case WIRE_MEMFD:
		fill_from_hdr(e, &sc->h, EVENT_ACTION_MEMFD_CREATE);
		event_copy_str(ev->file.name, sizeof(ev->file.name), sc->name, nlen);
		break;
	case WIRE_MODULE:
		fill_from_hdr(e, &sc->h, EVENT_ACTION_LOAD_MODULE);
		if ((int64_t)sc->arg0 >= 0) {
			char link[64];
			ssize_t n;

			/* finit_module: the module file, while the caller still holds the fd. */
			snprintf(link, sizeof(link), "/proc/%u/fd/%d", sc->h.pid, (int)sc->arg0);
			n = readlink(link, ev->file.path, sizeof(ev->file.path) - 1);
			ev->file.path[n > 0 ? n : 0] = '\0';
		}
		break;
	case WIRE_BPF:
		fill_from_hdr(e, &sc->h, EVENT_ACTION_BPF_LOAD);
		ev->process.bpf_command = (uint32_t)sc->arg1;
		event_mark(ev, EVF_PROCESS_EXT_BPF_COMMAND);
		break;
	case WIRE_CRED:
		fill_from_hdr(e, &sc->h, (sc->old_uid != sc->h.uid || sc->old_euid != sc->h.euid)
						 ? EVENT_ACTION_UID_CHANGE
						 : EVENT_ACTION_GID_CHANGE);
		ev->process.prev_uid = sc->old_uid;
		ev->process.prev_euid = sc->old_euid;
		event_mark(ev, EVF_PROCESS_EXT_PREV_USER_ID);
		event_mark(ev, EVF_PROCESS_EXT_PREV_REAL_USER_ID);
		break;
	default:
		return;
	}
	agent_emit(e->ag, ev);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct ebpf *e = ctx;
	const struct wire_hdr *h = data;
	e->ag->ring_drained += size; /* how far behind the agent is (agent_sched.h) */
	static const size_t min_size[WIRE_TYPE_MAX] = {
		[WIRE_EXEC] = offsetof(struct wire_exec, args),
		[WIRE_FORK] = sizeof(struct wire_fork),
		[WIRE_EXIT] = sizeof(struct wire_exit),
		[WIRE_CONNECT] = sizeof(struct wire_sock),
		[WIRE_ACCEPT] = sizeof(struct wire_sock),
		[WIRE_CLOSE] = sizeof(struct wire_sock),
		[WIRE_LISTEN] = sizeof(struct wire_sock),
		[WIRE_PTRACE] = sizeof(struct wire_syscall),
		[WIRE_MEMFD] = sizeof(struct wire_syscall),
		[WIRE_MODULE] = sizeof(struct wire_syscall),
		[WIRE_BPF] = sizeof(struct wire_syscall),
		[WIRE_CRED] = sizeof(struct wire_syscall),
		[WIRE_DNS] = offsetof(struct wire_dns, payload),
	};

	if (size < sizeof(*h) || h->type == 0 || h->type >= WIRE_TYPE_MAX ||
	    size < min_size[h->type]) {
		e->malformed++;
		atomic_fetch_add(&e->ag->counters.malformed, 1);
		return 0;
	}
	e->received[h->type]++;
	if (h->ts_boot_ns && (!e->ag->ring_oldest_ns || h->ts_boot_ns < e->ag->ring_oldest_ns))
		e->ag->ring_oldest_ns = h->ts_boot_ns; /* how long events wait (agent_sched.h) */
	switch (h->type) {
	case WIRE_EXEC:
		on_exec(e, data, size);
		break;
	case WIRE_FORK:
		on_fork(e, data);
		break;
	case WIRE_EXIT:
		on_exit_rec(e, data);
		break;
	case WIRE_CONNECT:
	case WIRE_ACCEPT:
	case WIRE_CLOSE:
	case WIRE_LISTEN:
		on_sock(e, data);
		break;
	case WIRE_DNS:
		on_dns(e, data);
		break;
	default:
		on_syscall(e, data);
	}
	return 0;
}

static struct log_rate drop_log_rate;

/* Sums the per-CPU counters and adds new losses to the agent's kernel drop count. */
static void read_counters(struct ebpf *e)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(e->skel->maps.counters);
	uint64_t *vals;

	if (ncpu <= 0 || ncpu > 4096)
		return;
	vals = calloc((size_t)ncpu, sizeof(uint64_t));
	if (!vals)
		return;
	for (uint32_t k = 0; k < WIRE_CNT_MAX; k++) {
		uint64_t sum = 0;
		/* Lost records only: a full socket table loses tracking, not a record. */
		bool loss = (k >= WIRE_CNT_DROPPED(0) && k < WIRE_CNT_DROPPED(WIRE_TYPE_MAX)) ||
			    k == WIRE_CNT_NO_SCRATCH;

		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			sum += vals[c];
		if (sum > e->counts[k] && k == WIRE_CNT_SOCKMAP_FULL)
			log_ratelimited(&drop_log_rate, 10, LOG_LEVEL_WARN, "ebpf",
					"socket table full: %llu connections without close events",
					(unsigned long long)(sum - e->counts[k]));
		if (sum > e->counts[k] && loss) {
			atomic_fetch_add(&e->ag->counters.kernel_dropped, sum - e->counts[k]);
			log_ratelimited(&drop_log_rate, 10, LOG_LEVEL_WARN, "ebpf",
					"kernel lost records counter=%u new=%llu total=%llu", k,
					(unsigned long long)(sum - e->counts[k]),
					(unsigned long long)sum);
		}
		e->counts[k] = sum;
	}
	free(vals);
}

static uint32_t round_pow2_pages(uint32_t kb)
{
	uint32_t bytes = 4096;

	while (bytes < kb * 1024u && bytes < (1u << 30))
		bytes <<= 1;
	return bytes;
}

static bool is_sys_tp(const struct bpf_program *p)
{
	return strncmp(bpf_program__section_name(p), "tracepoint/syscalls/", 20) == 0;
}

/* Loads the object with the given optional hooks; returns 0 or the libbpf error. */
static int try_load(struct ebpf *e, bool net, bool sys, bool dns)
{
	const struct agent_config *c = e->ag->config;
	struct sensor_bpf *skel = sensor_bpf__open();
	int rc;

	if (!skel)
		return -errno;
	skel->rodata->agent_tgid = (uint32_t)e->ag->self_pid;
	skel->rodata->wakeup_bytes = c->wakeup_bytes;
	skel->rodata->ignore_comm_enabled = c->ignore_comm.n > 0;
	bpf_map__set_max_entries(skel->maps.events, round_pow2_pages(c->ringbuf_kb));
	bpf_program__set_autoload(skel->progs.handle_sock_state, net);
	bpf_program__set_autoload(skel->progs.handle_sys_enter, sys);
	bpf_program__set_autoload(skel->progs.handle_sys_exit, sys);
	{
		struct bpf_program *p;

		bpf_object__for_each_program(p, skel->obj)
			if (is_sys_tp(p))
				bpf_program__set_autoload(p, sys && !c->syscalls_raw);
	}
	bpf_program__set_autoload(skel->progs.dns_connect4, dns);
	bpf_program__set_autoload(skel->progs.dns_connect6, dns);
	bpf_program__set_autoload(skel->progs.dns_sendmsg4, dns);
	bpf_program__set_autoload(skel->progs.dns_sendmsg6, dns);
	bpf_program__set_autoload(skel->progs.dns_egress, dns);
	rc = sensor_bpf__load(skel);
	if (rc) {
		sensor_bpf__destroy(skel);
		return rc;
	}
	e->skel = skel;
	return 0;
}

static int attach_one(struct bpf_program *p, struct bpf_link **link, const char *what)
{
	*link = bpf_program__attach(p);
	if (!*link) {
		int rc = -errno;

		log_warn("ebpf", "hook %s not attached: %s", what, strerror(-rc));
		return rc;
	}
	log_info("ebpf", "hook %s active", what);
	return 0;
}

static void drop_sys_links(struct ebpf *e)
{
	for (size_t i = 0; i < e->nsys_links; i++)
		bpf_link__destroy(e->sys_links[i]);
	e->nsys_links = 0;
}

static bool have_syscall_events(void)
{
	return access("/sys/kernel/tracing/events/syscalls", F_OK) == 0 ||
	       access("/sys/kernel/debug/tracing/events/syscalls", F_OK) == 0;
}

/* Syscall tracepoints live in tracefs, which systemd mounts at boot; mount it where nothing did.
 * False when the kernel has no syscall events (CONFIG_FTRACE_SYSCALLS off). */
static bool ensure_tracefs(void)
{
	if (have_syscall_events())
		return true;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
		log_info("ebpf", "mounted tracefs on /sys/kernel/tracing for the syscall tracepoints");
	return have_syscall_events();
}

/* The watched syscalls (ptrace, memfd_create, modules, bpf, set*id): one tracepoint per call,
 * so no program runs for any other syscall; when tracefs or the syscall events are missing, the
 * raw sys_enter/sys_exit hooks, which run for every syscall on the host. */
static int attach_syscalls(struct ebpf *e)
{
	struct bpf_program *p;
	int rc = 0;

	if (e->ag->config->syscalls_raw)
		rc = -ENOTSUP;
	else if (!ensure_tracefs())
		rc = -ENOENT;
	bpf_object__for_each_program(p, e->skel->obj)
	{
		if (rc)
			break;
		if (!is_sys_tp(p))
			continue;
		if (e->nsys_links == sizeof(e->sys_links) / sizeof(e->sys_links[0])) {
			rc = -E2BIG;
			break;
		}
		e->sys_links[e->nsys_links] = bpf_program__attach(p);
		if (e->sys_links[e->nsys_links]) {
			e->nsys_links++;
		} else if (errno == ENOENT) {
			/* No event for a syscall this kernel does not build (init_module without
			 * CONFIG_MODULES): nothing can make that call, so nothing is missed. */
			log_info("ebpf", "hook %s: no such syscall event in this kernel",
				 bpf_program__section_name(p));
		} else {
			rc = -errno;
			log_info("ebpf", "hook %s not attached: %s", bpf_program__section_name(p),
				 strerror(-rc));
		}
	}
	if (rc == 0 && e->nsys_links > 0) {
		log_info("ebpf", "hook syscalls active: %zu per-syscall tracepoints",
			 e->nsys_links);
		return 0;
	}
	drop_sys_links(e);
	if (rc == -ENOTSUP)
		log_info("ebpf", "raw sys_enter/sys_exit by configuration (sources.syscalls_raw)");
	else
		log_info("ebpf", "per-syscall tracepoints unavailable; using raw sys_enter/sys_exit");
	rc = attach_one(e->skel->progs.handle_sys_enter, &e->skel->links.handle_sys_enter,
			"tp_btf/sys_enter");
	if (rc == 0)
		rc = attach_one(e->skel->progs.handle_sys_exit, &e->skel->links.handle_sys_exit,
				"tp_btf/sys_exit");
	return rc;
}

/* DNS needs all five cgroup hooks: the owner from sock_addr, the question from egress. */
static int attach_dns(struct ebpf *e)
{
	struct bpf_program *progs[] = {
		e->skel->progs.dns_connect4, e->skel->progs.dns_connect6,
		e->skel->progs.dns_sendmsg4, e->skel->progs.dns_sendmsg6,
		e->skel->progs.dns_egress,
	};
	struct bpf_link **links[] = {
		&e->skel->links.dns_connect4, &e->skel->links.dns_connect6,
		&e->skel->links.dns_sendmsg4, &e->skel->links.dns_sendmsg6,
		&e->skel->links.dns_egress,
	};
	char root[512];
	int fd, rc = mountinfo_find_type("cgroup2", root, sizeof(root));

	if (rc) {
		log_warn("ebpf", "DNS hooks inactive: no cgroup v2 hierarchy mounted");
		return rc;
	}
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		log_warn("ebpf", "DNS hooks inactive: %s: %s", root, strerror(errno));
		return rc;
	}
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		*links[i] = bpf_program__attach_cgroup(progs[i], fd);
		if (!*links[i]) {
			rc = -errno;
			log_warn("ebpf", "DNS hook %s not attached: %s", bpf_program__name(progs[i]),
				 strerror(-rc));
			for (size_t j = 0; j < i; j++) {
				bpf_link__destroy(*links[j]);
				*links[j] = NULL;
			}
			close(fd);
			return rc;
		}
	}
	close(fd);
	log_info("ebpf", "hook cgroup DNS (connect/sendmsg/egress on %s) active", root);
	return 0;
}

static int ebpf_open(struct source *src, unsigned want, char *why, size_t whylen)
{
	const struct agent_config *c = src->agent->config;
	struct ebpf *e;
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
	bool net = true, sys = c->syscalls, dns = c->dns;
	int rc;

	/* MAMORI_VMLINUX_BTF lets tests point at a missing file to exercise the fallbacks. */
	const char *btf = getenv("MAMORI_VMLINUX_BTF");

	(void)want;
	if (!btf || !btf[0])
		btf = "/sys/kernel/btf/vmlinux";
	if (access(btf, R_OK) != 0) {
		snprintf(why, whylen, "kernel has no BTF (%s): CO-RE needs it", btf);
		return -ENOTSUP;
	}
	if (geteuid() != 0) {
		snprintf(why, whylen, "needs root (CAP_BPF, CAP_PERFMON) to load BPF programs");
		return -EPERM;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->ag = src->agent;
	libbpf_set_print(libbpf_log);
	setrlimit(RLIMIT_MEMLOCK, &rl);

	/* Load with every hook; when the verifier refuses, drop the optional ones one by one. */
	rc = try_load(e, net, sys, dns);
	if (rc && dns) {
		log_warn("ebpf", "load with DNS hooks failed (%s); retrying without them",
			 strerror(-rc));
		dns = false;
		rc = try_load(e, net, sys, dns);
	}
	if (rc && sys) {
		log_warn("ebpf", "load with syscall hooks failed (%s); retrying without them",
			 strerror(-rc));
		sys = false;
		rc = try_load(e, net, sys, dns);
	}
	if (rc) {
		log_warn("ebpf", "load with TCP hook failed (%s); retrying without it",
			 strerror(-rc));
		net = false;
		rc = try_load(e, net, sys, dns);
	}
	if (rc) {
		snprintf(why, whylen, "BPF object did not load: %s", strerror(-rc));
		free(e);
		return rc;
	}
	for (size_t i = 0; i < c->ignore_comm.n; i++) {
		char comm[WIRE_COMM_LEN] = {0};
		uint8_t one = 1;

		event_copy_str(comm, sizeof(comm), c->ignore_comm.items[i],
			       strlen(c->ignore_comm.items[i]));
		bpf_map__update_elem(e->skel->maps.ignore_comm, comm, sizeof(comm), &one,
				     sizeof(one), BPF_ANY);
	}

	/* Process hooks are the reason this source exists: without them it is not active. */
	rc = attach_one(e->skel->progs.handle_exec, &e->skel->links.handle_exec,
			"tp_btf/sched_process_exec");
	if (!rc)
		rc = attach_one(e->skel->progs.handle_fork, &e->skel->links.handle_fork,
				"tp_btf/sched_process_fork");
	if (!rc)
		rc = attach_one(e->skel->progs.handle_exit, &e->skel->links.handle_exit,
				"tp_btf/sched_process_exit");
	if (rc) {
		snprintf(why, whylen, "process tracepoints did not attach: %s", strerror(-rc));
		goto fail;
	}
	e->cover = SOURCE_COVER_PROCESS;
	if (net && attach_one(e->skel->progs.handle_sock_state,
			      &e->skel->links.handle_sock_state, "tp_btf/inet_sock_set_state") == 0)
		e->cover |= SOURCE_COVER_NETWORK;
	if (sys && attach_syscalls(e) == 0)
		e->cover |= SOURCE_COVER_SYSCALLS;
	else if (!c->syscalls)
		log_info("ebpf", "syscall hooks off by configuration (sources.syscalls)");

	if (dns) {
		if (attach_dns(e) == 0)
			e->cover |= SOURCE_COVER_DNS;
	} else if (!c->dns) {
		log_info("ebpf", "DNS hooks off by configuration (sources.dns)");
	}

	e->rb = ring_buffer__new(bpf_map__fd(e->skel->maps.events), on_record, e, NULL);
	if (!e->rb) {
		rc = -errno;
		snprintf(why, whylen, "ring buffer: %s", strerror(-rc));
		goto fail;
	}
	src->priv = e;
	return 0;
fail:
	drop_sys_links(e);
	sensor_bpf__destroy(e->skel);
	free(e);
	return rc;
}

static unsigned ebpf_cover(struct source *src)
{
	return ((struct ebpf *)src->priv)->cover;
}

static int ebpf_fd(struct source *src)
{
	return ring_buffer__epoll_fd(((struct ebpf *)src->priv)->rb);
}

static int ebpf_poll(struct source *src)
{
	struct ebpf *e = src->priv;
	int n = ring_buffer__consume(e->rb);

	return n < 0 && n != -EINTR ? n : 0;
}

static void ebpf_tick(struct source *src, uint64_t now_ns)
{
	struct ebpf *e = src->priv;

	/* Wake-ups are batched: the kernel only wakes us above the fill mark, so drain here. */
	ring_buffer__consume(e->rb);
	if (now_ns - e->last_drop_read >= 1000000000ull) {
		e->last_drop_read = now_ns;
		read_counters(e);
	}
}

static void ebpf_close(struct source *src)
{
	struct ebpf *e = src->priv;

	if (!e)
		return;
	/* Detach first so nothing new arrives, then drain what the ring still holds. */
	drop_sys_links(e);
	sensor_bpf__detach(e->skel);
	ring_buffer__consume(e->rb);
	read_counters(e);
	/* The accounting the overload benchmark checks: received + dropped == produced. */
	for (uint32_t t = 1; t < WIRE_TYPE_MAX; t++) {
		if (e->counts[WIRE_CNT_SENT(t)] || e->counts[WIRE_CNT_DROPPED(t)])
			log_info("ebpf", "records type=%u sent=%llu received=%llu dropped=%llu", t,
				 (unsigned long long)e->counts[WIRE_CNT_SENT(t)],
				 (unsigned long long)e->received[t],
				 (unsigned long long)e->counts[WIRE_CNT_DROPPED(t)]);
	}
	ring_buffer__free(e->rb);
	sensor_bpf__destroy(e->skel);
	free(e);
	src->priv = NULL;
}

const struct source_ops source_ebpf_ops = {
	.name = "ebpf",
	.open = ebpf_open,
	.cover = ebpf_cover,
	.fd = ebpf_fd,
	.poll = ebpf_poll,
	.tick = ebpf_tick,
	.close = ebpf_close,
};
