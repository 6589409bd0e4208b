/* Network fallback: polls /proc/net/tcp and /proc/net/tcp6 once a second and reports the
 * difference from the previous scan as listen, connect, accept and disconnect events, attributed
 * to a process by finding the socket's inode among /proc/<pid>/fd links.
 *
 * Limits, inherent to polling: a connection that opens and closes between two scans is missed
 * (unless it lingers in TIME_WAIT, where it is reported without a process); a process that exits
 * before the scan cannot be named; only the agent's own network namespace is seen; the table is
 * read as text, so a busy server with tens of thousands of sockets costs real CPU each second.
 * The first scan is a silent baseline: connections that predate the agent are not reported. */
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "procfs.h"
#include "procnet_parse.h"
#include "banned.h"

#define PROCFS_SCAN_INTERVAL_NS 1000000000ull
/* Sockets tracked per scan; beyond this the rest of the table is ignored (and logged). */
#define PROCFS_MAX_SOCKETS 65536
/* Bounds on one attribution pass over /proc/<pid>/fd. */
#define PROCFS_MAX_FDS_SCANNED 262144
#define PROCFS_ATTRIB_BUDGET_NS (100ull * 1000000ull)

enum conn_kind { CONN_LISTEN, CONN_OUT, CONN_IN };

/* Zeroed before filling so that memcmp sees no stray padding. */
struct conn_key {
	uint8_t family;
	uint8_t pad;
	uint16_t local_port;
	uint16_t remote_port;
	uint8_t local[16];
	uint8_t remote[16];
};

struct conn {
	struct conn_key key;
	uint64_t inode;
	uint64_t first_mono;
	uint64_t start_ns; /* owner's process.start, 0 when unknown */
	uint32_t uid;
	uint32_t pid; /* owner, 0 when unknown */
	uint8_t state;
	uint8_t kind;
	bool open;  /* reported, and its disconnect is still due */
	bool fresh; /* first seen in this scan */
	bool self;  /* the agent's own socket: never reported */
	char entity_id[EVENT_ENTITY_ID_LEN];
};

struct inode_owner {
	uint64_t inode;
	uint32_t pid;
};

struct procfs_priv {
	struct conn *prev, *cur;
	size_t nprev, ncur, cap;
	struct inode_owner *owners; /* sorted by inode; cap entries */
	size_t nowners;
	uint64_t last_scan;
	bool baseline_done;
	uint8_t listening[65536 / 8]; /* ports in LISTEN in the current scan */
	struct event ev;
};

static struct log_rate cap_rate, read_rate, attrib_rate;

static int key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct conn *)a)->key, &((const struct conn *)b)->key,
		      sizeof(struct conn_key));
}

static int owner_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct inode_owner *)a)->inode;
	uint64_t y = ((const struct inode_owner *)b)->inode;

	return x < y ? -1 : x > y;
}

static bool state_is_open(uint8_t st)
{
	return st != PROCNET_TCP_TIME_WAIT && st != PROCNET_TCP_CLOSE;
}

/* Grows both scan arrays (and the owner array) to hold one more socket. */
static int reserve(struct procfs_priv *p)
{
	size_t cap;
	void *a, *b, *c;

	if (p->ncur < p->cap)
		return 0;
	if (p->cap >= PROCFS_MAX_SOCKETS)
		return -ENOSPC;
	cap = p->cap ? p->cap * 2 : 256;
	if (cap > PROCFS_MAX_SOCKETS)
		cap = PROCFS_MAX_SOCKETS;
	a = realloc(p->cur, cap * sizeof(*p->cur));
	if (!a)
		return -ENOMEM;
	p->cur = a;
	b = realloc(p->prev, cap * sizeof(*p->prev));
	if (!b)
		return -ENOMEM;
	p->prev = b;
	c = realloc(p->owners, cap * sizeof(*p->owners));
	if (!c)
		return -ENOMEM;
	p->owners = c;
	p->cap = cap;
	return 0;
}

/* Appends the sockets of one table to p->cur. */
static void read_table(struct source *src, const char *path)
{
	struct procfs_priv *p = src->priv;
	char line[PROCNET_PARSE_MAX_LINE + 2];
	bool first = true, skipping = false;
	FILE *f = fopen(path, "re");

	if (!f) {
		/* tcp6 is absent on kernels without IPv6: not worth a warning. */
		if (errno != ENOENT)
			log_ratelimited(&read_rate, 1, LOG_LEVEL_WARN, "procfs", "open %s: %s",
					path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		struct procnet_sock s;
		struct conn *c;
		bool whole = len > 0 && line[len - 1] == '\n';

		/* A line longer than the buffer: drop it and its continuation. */
		if (skipping || !whole) {
			if (!skipping && !whole && !feof(f))
				atomic_fetch_add(&src->agent->counters.malformed, 1);
			skipping = !whole && !feof(f);
			continue;
		}
		if (first) { /* column header */
			first = false;
			continue;
		}
		if (procnet_parse_line(line, len - 1, &s)) {
			atomic_fetch_add(&src->agent->counters.malformed, 1);
			continue;
		}
		/* Half-open requests become ESTABLISHED sockets once accepted; report those. */
		if (s.state == PROCNET_TCP_SYN_RECV || s.state == PROCNET_TCP_NEW_SYN_RECV ||
		    s.state == PROCNET_TCP_CLOSE || s.state < PROCNET_TCP_ESTABLISHED ||
		    s.state > PROCNET_TCP_NEW_SYN_RECV)
			continue;
		if (reserve(p)) {
			log_ratelimited(&cap_rate, 1, LOG_LEVEL_WARN, "procfs",
					"more than %d TCP sockets: the rest are not tracked",
					PROCFS_MAX_SOCKETS);
			break;
		}
		c = &p->cur[p->ncur++];
		memset(c, 0, sizeof(*c));
		c->key.family = (uint8_t)s.family;
		c->key.local_port = s.local_port;
		c->key.remote_port = s.remote_port;
		memcpy(c->key.local, s.local, sizeof(c->key.local));
		memcpy(c->key.remote, s.remote, sizeof(c->key.remote));
		c->inode = s.inode;
		c->uid = s.uid;
		c->state = s.state;
		if (s.state == PROCNET_TCP_LISTEN)
			p->listening[s.local_port / 8] |= (uint8_t)(1u << (s.local_port % 8));
	}
	(void)fclose(f);
}

/* Finds the owning pid of every inode in p->owners by reading /proc/<pid>/fd links, within
 * the fd and time budgets. Owners not found keep pid 0. */
static void attribute(struct source *src)
{
	struct procfs_priv *p = src->priv;
	uint64_t deadline = agent_now_mono() + PROCFS_ATTRIB_BUDGET_NS;
	size_t remaining = p->nowners, scanned = 0;
	struct dirent *de;
	DIR *proc;

	if (!remaining)
		return;
	proc = opendir("/proc");
	if (!proc)
		return;
	while (remaining && (de = readdir(proc))) {
		char path[sizeof(de->d_name) + 16], link[64];
		struct dirent *fe;
		DIR *fds;
		int dfd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue;
		fds = fdopendir(dfd);
		if (!fds) {
			close(dfd);
			continue;
		}
		while (remaining && (fe = readdir(fds))) {
			struct inode_owner key, *o;
			ssize_t n;

			if (fe->d_name[0] == '.')
				continue;
			if (++scanned > PROCFS_MAX_FDS_SCANNED)
				break;
			n = readlinkat(dfd, fe->d_name, link, sizeof(link) - 1);
			if (n < 10 || link[0] != 's' ||
			    procnet_parse_socket_link(link, (size_t)n, &key.inode))
				continue;
			o = bsearch(&key, p->owners, p->nowners, sizeof(*o), owner_cmp);
			if (o && !o->pid) {
				o->pid = (uint32_t)strtoul(de->d_name, NULL, 10);
				remaining--;
			}
		}
		closedir(fds);
		if (scanned > PROCFS_MAX_FDS_SCANNED || agent_now_mono() > deadline) {
			log_ratelimited(
			    &attrib_rate, 1, LOG_LEVEL_INFO, "procfs",
			    "socket owner search stopped at its budget: unattributed=%zu",
			    remaining);
			break;
		}
	}
	closedir(proc);
}

static void set_ip(struct event *ev, char *dst, size_t size, const struct conn *c, bool remote)
{
	int fam = procnet_parse_format_ip(c->key.family, remote ? c->key.remote : c->key.local, dst,
					  size);

	if (fam == AF_INET)
		event_copy_str(ev->net_type, sizeof(ev->net_type), "ipv4", 4);
	else if (fam == AF_INET6)
		event_copy_str(ev->net_type, sizeof(ev->net_type), "ipv6", 4);
	else
		dst[0] = '\0';
}

/* Fills and emits one event about c. */
static void emit(struct source *src, const struct conn *c, enum event_action action,
		 uint64_t now_mono)
{
	struct procfs_priv *p = src->priv;
	struct event *ev = &p->ev;
	bool in = c->kind == CONN_IN;

	if (c->self)
		return;
	event_reset(ev);
	ev->action = action;
	ev->timestamp_ns = agent_now_real();
	event_mark(ev, EVF_TIMESTAMP);
	if (c->pid) {
		ev->process.pid = c->pid;
		event_mark(ev, EVF_PROCESS_PID);
		if (c->entity_id[0])
			memcpy(ev->process.entity_id, c->entity_id, sizeof(ev->process.entity_id));
		if (c->start_ns) {
			ev->process.start_ns = c->start_ns;
			event_mark(ev, EVF_PROCESS_START);
		}
	}
	/* The socket's owner uid is known even when its process is not; a socket no file refers
	 * to (TIME_WAIT) shows uid 0, which would wrongly say root. */
	if (c->inode) {
		ev->process.euid = c->uid;
		event_mark(ev, EVF_PROCESS_USER_ID);
		event_mark(ev, EVF_USER_ID);
	}

	/* ECS: source is the side that initiated the connection; a listener is its own source. */
	if (c->kind == CONN_LISTEN) {
		set_ip(ev, ev->source.ip, sizeof(ev->source.ip), c, false);
		ev->source.port = c->key.local_port;
		event_mark(ev, EVF_SOURCE_PORT);
	} else {
		set_ip(ev, ev->source.ip, sizeof(ev->source.ip), c, in);
		ev->source.port = in ? c->key.remote_port : c->key.local_port;
		set_ip(ev, ev->destination.ip, sizeof(ev->destination.ip), c, !in);
		ev->destination.port = in ? c->key.local_port : c->key.remote_port;
		event_mark(ev, EVF_SOURCE_PORT);
		event_mark(ev, EVF_DESTINATION_PORT);
		event_copy_str(ev->net_direction, sizeof(ev->net_direction),
			       in ? "ingress" : "egress", in ? 7 : 6);
	}
	event_copy_str(ev->net_transport, sizeof(ev->net_transport), "tcp", 3);
	if (action == EVENT_ACTION_DISCONNECT_RECEIVED) {
		ev->duration_ns = now_mono - c->first_mono;
		event_mark(ev, EVF_EVENT_DURATION);
	}
	event_copy_str(ev->mamori_source, sizeof(ev->mamori_source), "procfs", 6);
	agent_emit(src->agent, ev);
}

static void disconnect(struct source *src, struct conn *c, uint64_t now)
{
	if (!c->open)
		return;
	c->open = false;
	emit(src, c, EVENT_ACTION_DISCONNECT_RECEIVED, now);
}

/* Classifies, attributes and reports the sockets first seen in this scan. */
static void report_fresh(struct source *src, uint64_t now)
{
	struct procfs_priv *p = src->priv;
	uint32_t self = (uint32_t)src->agent->self_pid;

	p->nowners = 0;
	for (size_t i = 0; i < p->ncur; i++) {
		struct conn *c = &p->cur[i];

		if (!c->fresh)
			continue;
		if (c->state == PROCNET_TCP_LISTEN)
			c->kind = CONN_LISTEN;
		else if (c->state != PROCNET_TCP_SYN_SENT &&
			 (p->listening[c->key.local_port / 8] >> (c->key.local_port % 8)) & 1)
			c->kind = CONN_IN;
		else
			c->kind = CONN_OUT;
		if (c->inode)
			p->owners[p->nowners++] = (struct inode_owner){c->inode, 0};
	}
	if (!p->baseline_done)
		return;
	qsort(p->owners, p->nowners, sizeof(*p->owners), owner_cmp);
	attribute(src);
	for (size_t i = 0; i < p->ncur; i++) {
		struct conn *c = &p->cur[i];
		struct inode_owner key = {c->inode, 0}, *o;
		struct procfs_stat st;

		if (!c->fresh)
			continue;
		o = c->inode ? bsearch(&key, p->owners, p->nowners, sizeof(*o), owner_cmp) : NULL;
		if (o && o->pid) {
			c->pid = o->pid;
			c->self = o->pid == self;
			if (!c->self && procfs_read_stat("/proc", c->pid, &st) == 0) {
				agent_entity_id(src->agent, c->pid, st.start_ticks, c->entity_id);
				c->start_ns = agent_boot_to_real(
				    st.start_ticks * (1000000000ull / (uint64_t)procfs_clk_tck()));
			}
		}
		if (c->kind == CONN_LISTEN) {
			emit(src, c, EVENT_ACTION_LISTEN, now);
			continue;
		}
		emit(src, c,
		     c->kind == CONN_IN ? EVENT_ACTION_CONNECTION_ACCEPTED
					: EVENT_ACTION_CONNECTION_ATTEMPTED,
		     now);
		/* First seen already closing (TIME_WAIT): its end was missed, no disconnect. */
		c->open = state_is_open(c->state);
	}
}

/* Carries what is known about a socket from the previous scan into the current one. */
static void carry(struct conn *c, const struct conn *old)
{
	/* An orphaned or TIME_WAIT socket loses its inode and uid in the table; keep them. */
	if (!c->inode) {
		c->inode = old->inode;
		c->uid = old->uid;
	}
	c->first_mono = old->first_mono;
	c->start_ns = old->start_ns;
	c->pid = old->pid;
	c->kind = old->kind;
	c->open = old->open;
	c->self = old->self;
	memcpy(c->entity_id, old->entity_id, sizeof(c->entity_id));
}

static void scan(struct source *src, uint64_t now)
{
	struct procfs_priv *p = src->priv;
	size_t i = 0, j = 0, w = 0;
	struct conn *tmp;

	p->ncur = 0;
	memset(p->listening, 0, sizeof(p->listening));
	read_table(src, "/proc/net/tcp");
	read_table(src, "/proc/net/tcp6");
	qsort(p->cur, p->ncur, sizeof(*p->cur), key_cmp);
	/* SO_REUSEPORT listeners share a key; one event per address and port is enough. */
	for (size_t k = 0; k < p->ncur; k++) {
		if (w && key_cmp(&p->cur[w - 1], &p->cur[k]) == 0)
			continue;
		p->cur[w++] = p->cur[k];
	}
	p->ncur = w;

	while (i < p->nprev || j < p->ncur) {
		int cmp = i >= p->nprev ? 1 : j >= p->ncur ? -1 : key_cmp(&p->prev[i], &p->cur[j]);

		if (cmp < 0) {
			disconnect(src, &p->prev[i++], now);
			continue;
		}
		if (cmp > 0) {
			p->cur[j].fresh = true;
			p->cur[j++].first_mono = now;
			continue;
		}
		/* Same addresses, a different live socket: the old one ended and a new one
		 * reused its ports. A remnant without inode (TIME_WAIT) is the same one. */
		if (p->cur[j].inode && p->cur[j].inode != p->prev[i].inode) {
			disconnect(src, &p->prev[i], now);
			p->cur[j].fresh = true;
			p->cur[j].first_mono = now;
		} else {
			carry(&p->cur[j], &p->prev[i]);
			if (!state_is_open(p->cur[j].state))
				disconnect(src, &p->cur[j], now);
		}
		i++;
		j++;
	}
	report_fresh(src, now);
	p->baseline_done = true;
	tmp = p->prev;
	p->prev = p->cur;
	p->cur = tmp;
	p->nprev = p->ncur;
	p->ncur = 0;
}

static int pf_open(struct source *src, unsigned want, char *why, size_t whylen)
{
	struct procfs_priv *p;

	(void)want;
	if (access("/proc/net/tcp", R_OK)) {
		int rc = -errno;

		(void)snprintf(why, whylen, "cannot read /proc/net/tcp: %s", strerror(errno));
		return rc;
	}
	p = calloc(1, sizeof(*p));
	if (!p || reserve(p)) {
		if (p) {
			free(p->cur);
			free(p->prev);
			free(p->owners);
		}
		free(p);
		(void)snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	src->priv = p;
	/* The baseline now, so that the first real diff comes one interval later. */
	scan(src, agent_now_mono());
	p->last_scan = agent_now_mono();
	return 0;
}

static unsigned pf_cover(struct source *src)
{
	(void)src;
	return SOURCE_COVER_NETWORK;
}

static int pf_fd(struct source *src)
{
	(void)src;
	return -1;
}

static int pf_poll(struct source *src)
{
	(void)src;
	return 0;
}

static void pf_tick(struct source *src, uint64_t now_ns)
{
	struct procfs_priv *p = src->priv;

	if (!p || now_ns < p->last_scan || now_ns - p->last_scan < PROCFS_SCAN_INTERVAL_NS)
		return;
	p->last_scan = now_ns;
	scan(src, now_ns);
}

static void pf_close(struct source *src)
{
	struct procfs_priv *p = src->priv;

	if (!p)
		return;
	free(p->cur);
	free(p->prev);
	free(p->owners);
	free(p);
	src->priv = NULL;
}

const struct source_ops source_procfs_ops = {
    .name = "procfs",
    .open = pf_open,
    .cover = pf_cover,
    .fd = pf_fd,
    .poll = pf_poll,
    .tick = pf_tick,
    .close = pf_close,
};
