/* Process fallback: the netlink proc connector (fork, exec, exit, uid and gid changes) plus /proc
 * for what the connector does not carry. Used when eBPF is unavailable. Subscribing needs
 * CAP_NET_ADMIN before Linux 6.6, and reading other users' /proc entries needs root anyway.
 *
 * Limits, by design of the connector: events carry ids only, so exec details are read from /proc
 * afterwards. A process that exits first yields an exec event with its pid only, and one that
 * execs again first (env -> bash) shows its newer image in both exec events. Exit codes come
 * from the kernel's wait status; previous uids are unknown; only the initial PID and network
 * namespaces' view is reported (pids are host pids). */
#include "source.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#include "agent.h"
#include "log.h"
#include "procfs.h"
#include "banned.h"

#define NETLINK_RCVBUF (4 * 1024 * 1024)
/* Datagrams read per poll() so one busy source cannot starve the others. */
#define NETLINK_BATCH 1024
/* How long open() waits for the kernel to acknowledge the subscription. */
#define NETLINK_ACK_WAIT_MS 500

struct netlink_priv {
	int fd;
	uint32_t seq;
	struct event ev; /* reused for every event: no allocation on the event path */
	char buf[8192] __attribute__((aligned(8)));
};

static struct log_rate overflow_rate, malformed_rate;

/* Sends PROC_CN_MCAST_LISTEN or _IGNORE to the connector. */
static int send_op(struct netlink_priv *p, enum proc_cn_mcast_op op)
{
	char msg[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(op))] __attribute__((aligned(8)));
	struct nlmsghdr *nl = (struct nlmsghdr *)msg;
	struct cn_msg *cn = (struct cn_msg *)NLMSG_DATA(nl);
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};

	memset(msg, 0, sizeof(msg));
	nl->nlmsg_len = NLMSG_LENGTH(sizeof(*cn) + sizeof(op));
	nl->nlmsg_type = NLMSG_DONE;
	nl->nlmsg_pid = 0;
	nl->nlmsg_seq = ++p->seq;
	cn->id.idx = CN_IDX_PROC;
	cn->id.val = CN_VAL_PROC;
	cn->seq = p->seq;
	cn->ack = p->seq; /* echoed back as ack + 1: the kernel rewrites seq with its own counter */
	cn->len = sizeof(op);
	memcpy(cn->data, &op, sizeof(op));
	if (sendto(p->fd, msg, nl->nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

/* The shell's view of a wait status: the exit status, or 128 + the signal that killed it. The
 * connector passes task->exit_code, which is the raw wait status (status << 8 | signal). */
static int32_t shell_exit_code(uint32_t wait_status)
{
	uint32_t sig = wait_status & 0x7f;

	if (sig)
		return (int32_t)(128 + sig);
	return (int32_t)((wait_status >> 8) & 0xff);
}

/* Start time and entity id from /proc/<pid>/stat; left absent when the process is gone. */
static void fill_identity(struct agent *ag, struct event *ev, uint32_t pid, uint32_t *ppid)
{
	struct procfs_stat st;

	if (procfs_read_stat("/proc", pid, &st))
		return;
	agent_entity_id(ag, pid, st.start_ticks, ev->process.entity_id);
	ev->process.start_ns =
	    agent_boot_to_real(st.start_ticks * (1000000000ull / (uint64_t)procfs_clk_tck()));
	event_mark(ev, EVF_PROCESS_START);
	if (ppid)
		*ppid = st.ppid;
}

static void set_pid(struct event *ev, uint32_t pid)
{
	ev->process.pid = pid;
	event_mark(ev, EVF_PROCESS_PID);
}

static void set_parent(struct event *ev, uint32_t ppid)
{
	if (!ppid)
		return;
	ev->process.parent.pid = ppid;
	event_mark(ev, EVF_PROCESS_PARENT_PID);
}

/* Size of the part of struct proc_event the handler of `what` reads. */
static size_t needed_len(uint32_t what)
{
	size_t base = offsetof(struct proc_event, event_data);

	switch (what) {
	case PROC_EVENT_FORK:
		return base + sizeof(struct fork_proc_event);
	case PROC_EVENT_EXEC:
		return base + sizeof(struct exec_proc_event);
	case PROC_EVENT_UID:
	case PROC_EVENT_GID:
		return base + sizeof(struct id_proc_event);
	case PROC_EVENT_EXIT:
		/* Kernels before 4.x lack the parent fields; those are read only when present. */
		return base + offsetof(struct exit_proc_event, parent_pid);
	default:
		return base;
	}
}

/* Builds the event for one connector record into p->ev; false when it is not one we report. */
static bool build_event(struct source *src, const struct proc_event *pe, size_t len)
{
	struct netlink_priv *p = src->priv;
	struct agent *ag = src->agent;
	struct event *ev = &p->ev;
	uint32_t pid, ppid = 0;

	event_reset(ev);
	switch (pe->what) {
	case PROC_EVENT_FORK: {
		const struct fork_proc_event *f = &pe->event_data.fork;

		/* A new thread shares its tgid with the creator; only new processes count. */
		if (f->child_pid != f->child_tgid)
			return false;
		pid = (uint32_t)f->child_tgid;
		ev->action = EVENT_ACTION_FORK;
		set_pid(ev, pid);
		set_parent(ev, (uint32_t)f->parent_tgid);
		fill_identity(ag, ev, pid, NULL);
		break;
	}
	case PROC_EVENT_EXEC:
		pid = (uint32_t)pe->event_data.exec.process_tgid;
		ev->action = EVENT_ACTION_EXEC;
		fill_identity(ag, ev, pid, &ppid);
		/* Racy by nature: a process that already exited leaves only its pid. */
		procfs_fill_process("/proc", pid, ag->config->args_max_count, ev);
		set_pid(ev, pid);
		if (!event_has(ev, EVF_PROCESS_PARENT_PID))
			set_parent(ev, ppid);
		break;
	case PROC_EVENT_EXIT: {
		const struct exit_proc_event *x = &pe->event_data.exit;

		/* Every thread reports its exit; the process ends with its leader. */
		if (x->process_pid != x->process_tgid)
			return false;
		pid = (uint32_t)x->process_tgid;
		ev->action = EVENT_ACTION_END;
		set_pid(ev, pid);
		if (len >= offsetof(struct proc_event, event_data) + sizeof(*x))
			set_parent(ev, (uint32_t)x->parent_tgid);
		ev->process.exit_code = shell_exit_code(x->exit_code);
		event_mark(ev, EVF_PROCESS_EXIT_CODE);
		fill_identity(ag, ev, pid, NULL);
		break;
	}
	case PROC_EVENT_UID:
	case PROC_EVENT_GID: {
		const struct id_proc_event *id = &pe->event_data.id;

		/* glibc applies set*id to every thread, each reporting it: keep the leader's. */
		if (id->process_pid != id->process_tgid)
			return false;
		pid = (uint32_t)id->process_tgid;
		set_pid(ev, pid);
		if (pe->what == PROC_EVENT_UID) {
			ev->action = EVENT_ACTION_UID_CHANGE;
			ev->process.uid = id->r.ruid;
			ev->process.euid = id->e.euid;
			event_mark(ev, EVF_PROCESS_REAL_USER_ID);
			event_mark(ev, EVF_PROCESS_USER_ID);
			event_mark(ev, EVF_USER_ID);
		} else {
			ev->action = EVENT_ACTION_GID_CHANGE;
			ev->process.gid = id->r.rgid;
			ev->process.egid = id->e.egid;
			event_mark(ev, EVF_PROCESS_REAL_GROUP_ID);
			event_mark(ev, EVF_PROCESS_GROUP_ID);
		}
		fill_identity(ag, ev, pid, &ppid);
		set_parent(ev, ppid);
		break;
	}
	default:
		return false;
	}
	if (ev->process.pid == (uint32_t)ag->self_pid)
		return false;
	ev->timestamp_ns = agent_boot_to_real(pe->timestamp_ns);
	event_mark(ev, EVF_TIMESTAMP);
	event_copy_str(ev->mamori_source, sizeof(ev->mamori_source), "netlink", 7);
	return true;
}

/* Walks the netlink messages of one datagram. *ack_err gets the error of a subscription
 * acknowledgement matching ack_seq (when non-NULL); other events are emitted only when emit. */
static void handle_datagram(struct source *src, size_t n, bool emit, uint32_t ack_seq, int *ack_err)
{
	struct netlink_priv *p = src->priv;
	size_t off = 0;

	/* Walked by hand: NLMSG_NEXT's arithmetic can step past the end on a short last message. */
	while (off < n && n - off >= NLMSG_HDRLEN) {
		struct nlmsghdr *nl = (struct nlmsghdr *)(p->buf + off);
		const struct cn_msg *cn = NLMSG_DATA(nl);
		size_t payload, len;
		struct proc_event pe;

		if (nl->nlmsg_len < NLMSG_HDRLEN || nl->nlmsg_len > n - off)
			break;
		off += NLMSG_ALIGN(nl->nlmsg_len);
		payload = nl->nlmsg_len - NLMSG_HDRLEN;
		if (nl->nlmsg_type == NLMSG_ERROR || nl->nlmsg_type == NLMSG_NOOP)
			continue;
		if (payload < sizeof(*cn) || cn->id.idx != CN_IDX_PROC ||
		    cn->id.val != CN_VAL_PROC || cn->len > payload - sizeof(*cn) ||
		    cn->len < offsetof(struct proc_event, event_data)) {
			atomic_fetch_add(&src->agent->counters.malformed, 1);
			log_ratelimited(&malformed_rate, 6, LOG_LEVEL_WARN, "netlink",
					"malformed connector message len=%u", nl->nlmsg_len);
			continue;
		}
		/* Copy out: the record need not be aligned for its 64-bit timestamp. */
		len = cn->len < sizeof(pe) ? cn->len : sizeof(pe);
		memset(&pe, 0, sizeof(pe));
		memcpy(&pe, cn->data, len);
		if (pe.what == PROC_EVENT_NONE) {
			if (ack_err && cn->ack == ack_seq + 1 &&
			    len >= needed_len(PROC_EVENT_NONE) + 4)
				*ack_err = (int)pe.event_data.ack.err;
			continue;
		}
		if (len < needed_len(pe.what)) {
			atomic_fetch_add(&src->agent->counters.malformed, 1);
			continue;
		}
		if (emit && build_event(src, &pe, len))
			agent_emit(src->agent, &p->ev);
	}
}

/* One non-blocking receive from the kernel: bytes, 0 when nothing waits, or a negative errno.
 * Datagrams not sent by the kernel (nl_pid != 0) are dropped, so no local process can forge
 * events by writing to our port. */
static ssize_t receive(struct source *src)
{
	struct netlink_priv *p = src->priv;
	struct sockaddr_nl from;
	socklen_t fromlen;
	ssize_t n;

	for (;;) {
		/* Unset means "not the kernel" should recvfrom leave it unfilled. */
		memset(&from, 0, sizeof(from));
		from.nl_pid = UINT32_MAX;
		fromlen = sizeof(from);
		n = recvfrom(p->fd, p->buf, sizeof(p->buf), MSG_DONTWAIT, (struct sockaddr *)&from,
			     &fromlen);
		if (n >= 0) {
			if (fromlen >= sizeof(from) && from.nl_pid == 0 && n > 0)
				return n;
			atomic_fetch_add(&src->agent->counters.malformed, 1);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == ENOBUFS) {
			/* The kernel dropped at least one event; the count is not reported, so
			 * each overflow adds one as a floor estimate. */
			atomic_fetch_add(&src->agent->counters.kernel_dropped, 1);
			log_ratelimited(&overflow_rate, 6, LOG_LEVEL_WARN, "netlink",
					"connector overflow: events lost");
			continue;
		}
		return -errno;
	}
}

static int nl_open(struct source *src, unsigned want, char *why, size_t whylen)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC};
	struct netlink_priv *p;
	int bufsize = NETLINK_RCVBUF, ack_err = 0, rc;
	uint64_t deadline;
	uint32_t ack_seq;

	(void)want;
	p = calloc(1, sizeof(*p));
	if (!p) {
		(void)snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	src->priv = p;
	p->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (p->fd < 0) {
		rc = -errno;
		(void)snprintf(why, whylen,
			       "no proc connector (%s): kernel without CONFIG_PROC_EVENTS "
			       "or not in the initial network namespace",
			       strerror(-rc));
		goto fail;
	}
	if (setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof(bufsize)) < 0 &&
	    setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize)) < 0)
		log_warn("netlink", "cannot enlarge receive buffer: %s", strerror(errno));
	if (bind(p->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		(void)snprintf(why, whylen, "bind to the proc connector: %s%s", strerror(-rc),
			       rc == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
		goto fail;
	}
	rc = send_op(p, PROC_CN_MCAST_LISTEN);
	if (rc) {
		(void)snprintf(why, whylen, "subscribe to the proc connector: %s", strerror(-rc));
		goto fail;
	}
	/* The kernel answers the subscription with an acknowledgement carrying an errno (EPERM
	 * without CAP_NET_ADMIN). Events that arrive before it are dropped: the process table
	 * is seeded from /proc at start anyway. */
	ack_seq = p->seq;
	ack_err = -1;
	deadline = agent_now_mono() + NETLINK_ACK_WAIT_MS * 1000000ull;
	while (ack_err < 0 && agent_now_mono() < deadline) {
		struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = receive(src);
		if (n > 0)
			handle_datagram(src, (size_t)n, false, ack_seq, &ack_err);
		else if (n < 0)
			break;
	}
	if (ack_err > 0) {
		rc = -ack_err;
		(void)snprintf(why, whylen, "proc connector refused the subscription: %s%s",
			       strerror(ack_err), ack_err == EPERM ? " (needs CAP_NET_ADMIN)" : "");
		goto fail;
	}
	if (ack_err < 0)
		log_debug("netlink", "no subscription acknowledgement after %d ms",
			  NETLINK_ACK_WAIT_MS);
	return 0;
fail:
	if (p->fd >= 0)
		close(p->fd);
	free(p);
	src->priv = NULL;
	return rc;
}

static unsigned nl_cover(struct source *src)
{
	(void)src;
	return SOURCE_COVER_PROCESS;
}

static int nl_fd(struct source *src)
{
	struct netlink_priv *p = src->priv;

	return p ? p->fd : -1;
}

static int nl_poll(struct source *src)
{
	for (int i = 0; i < NETLINK_BATCH; i++) {
		ssize_t n = receive(src);

		if (n == 0)
			return 0;
		if (n < 0) {
			log_error("netlink", "receive failed: %s", strerror((int)-n));
			return (int)n;
		}
		handle_datagram(src, (size_t)n, true, 0, NULL);
	}
	return 0;
}

static void nl_tick(struct source *src, uint64_t now_ns)
{
	(void)src;
	(void)now_ns;
}

static void nl_close(struct source *src)
{
	struct netlink_priv *p = src->priv;

	if (!p)
		return;
	nl_poll(src);
	/* Unsubscribing lets the kernel stop building events once no one listens. */
	send_op(p, PROC_CN_MCAST_IGNORE);
	close(p->fd);
	free(p);
	src->priv = NULL;
}

const struct source_ops source_netlink_ops = {
    .name = "netlink",
    .open = nl_open,
    .cover = nl_cover,
    .fd = nl_fd,
    .poll = nl_poll,
    .tick = nl_tick,
    .close = nl_close,
};
