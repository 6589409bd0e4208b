#include "inventory_net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "inventory.h"
#include "log.h"
#include "procnet_parse.h"

#include "banned.h"

#define NET_LOG "inventory"
#define PROC_NET_MAX (64u << 20) /* a host with a million connections: stop reading there */
/* Attributing sockets walks every process's fds: bounded in links and in time so a host with
 * thousands of processes, or a socket owned outside our pid namespace, cannot stall collection. */
#define FD_SCAN_MAX 200000
#define FD_SCAN_NS (50ull * 1000000)

struct listen_entry {
	uint64_t inode;
	uint8_t addr[16];
	uint8_t remote[16];
	int family;
	uint16_t port;
	uint16_t remote_port;
	uint8_t state;
	bool udp;
	int32_t pid; /* 0: not found */
	char comm[17];
};

struct listen_set {
	struct listen_entry *e;
	size_t n;
	size_t alloc;
	bool all;   /* every TCP socket and every bound UDP socket, not only listeners */
	size_t max; /* at most this many entries */
	size_t dropped;
};

/* Keeps TCP listeners and bound, unconnected UDP sockets (state CLOSE with no peer); with
 * ls->all every TCP socket and every bound UDP socket. */
static int proc_net_line(const char *s, size_t n, bool udp, int family, struct listen_set *ls)
{
	static const uint8_t zero[16];
	struct procnet_sock ps;
	struct listen_entry e = {0};

	if (procnet_parse_line(s, n, &ps) < 0 || ps.family != family)
		return 0; /* header or junk */
	if (ls->all) {
		if (udp && ps.local_port == 0)
			return 0;
	} else if (!udp && ps.state != PROCNET_TCP_LISTEN) {
		return 0;
	} else if (udp && (ps.state != PROCNET_TCP_CLOSE || ps.remote_port != 0 ||
			   ps.local_port == 0 || memcmp(ps.remote, zero, sizeof(zero)) != 0)) {
		return 0;
	}
	if (ls->n >= ls->max) {
		ls->dropped++;
		return -E2BIG;
	}
	if (ls->n == ls->alloc) {
		size_t na = ls->alloc ? ls->alloc * 2 : 32;
		struct listen_entry *p = realloc(ls->e, na * sizeof(*p));

		if (!p)
			return -ENOMEM;
		ls->e = p;
		ls->alloc = na;
	}
	e.inode = ps.inode;
	memcpy(e.addr, ps.local, sizeof(e.addr));
	memcpy(e.remote, ps.remote, sizeof(e.remote));
	e.family = family;
	e.port = ps.local_port;
	e.remote_port = ps.remote_port;
	e.state = ps.state;
	e.udp = udp;
	ls->e[ls->n++] = e;
	return 0;
}

/* Streams the file with a fixed line buffer: /proc/net/tcp can be tens of MB on a busy server
 * and only the few listening lines matter. */
static int read_proc_net(const char *root, const char *rel, bool udp, int family,
			 struct listen_set *ls)
{
	char path[PATH_MAX], buf[16 * 1024];
	size_t have = 0, total = 0;
	bool skipping = false;
	int fd, rc = 0;

	if (snprintf(path, sizeof(path), "%s%s", root, rel) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	while (total < PROC_NET_MAX) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - have);
		size_t start = 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0 && have && !skipping)
				rc = proc_net_line(buf, have, udp, family, ls);
			else if (r < 0)
				rc = -errno;
			break;
		}
		total += (size_t)r;
		have += (size_t)r;
		for (;;) {
			char *nl = memchr(buf + start, '\n', have - start);

			if (!nl)
				break;
			if (!skipping && (size_t)(nl - (buf + start)) <= PROCNET_PARSE_MAX_LINE)
				rc = proc_net_line(buf + start, (size_t)(nl - (buf + start)), udp,
						   family, ls);
			skipping = false;
			start = (size_t)(nl - buf) + 1;
			if (rc < 0)
				goto out;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have > PROCNET_PARSE_MAX_LINE) { /* overlong line: drop it up to its newline */
			have = 0;
			skipping = true;
		}
	}
out:
	close(fd);
	return rc;
}

static int cmp_inode(const void *a, const void *b)
{
	const struct listen_entry *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static int cmp_key(const void *a, const void *b)
{
	const struct listen_entry *x = a, *y = b;
	int c;

	if (x->udp != y->udp)
		return x->udp - y->udp;
	if (x->family != y->family)
		return x->family - y->family;
	c = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (c)
		return c;
	if (x->port != y->port)
		return x->port - y->port;
	/* Among duplicates (SO_REUSEPORT workers), the one with a known process comes first. */
	return (x->pid == 0) - (y->pid == 0);
}

static bool same_endpoint(const struct listen_entry *x, const struct listen_entry *y)
{
	return x->udp == y->udp && x->family == y->family && x->port == y->port &&
	       memcmp(x->addr, y->addr, sizeof(x->addr)) == 0;
}

static void read_comm(int procfd, const char *pid, char *out, size_t size)
{
	char rel[64];
	ssize_t n;
	int fd;

	out[0] = '\0';
	if (snprintf(rel, sizeof(rel), "%s/comm", pid) >= (int)sizeof(rel))
		return;
	fd = openat(procfd, rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	n = read(fd, out, size - 1);
	close(fd);
	if (n < 0)
		n = 0;
	out[n] = '\0';
	while (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	/* Any process can rename itself to arbitrary bytes; keep the name printable ASCII. */
	for (ssize_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
			out[i] = '?';
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool scan_budget_left(size_t links, uint64_t deadline)
{
	return links < FD_SCAN_MAX && (links % 256 != 0 || mono_ns() < deadline);
}

static bool parse_pid(const char *s, int32_t *pid)
{
	int64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > INT32_MAX / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	if (v <= 0 || v > INT32_MAX)
		return false;
	*pid = (int32_t)v;
	return true;
}

/* Finds the process holding each socket inode by walking /proc/<pid>/fd, stopping as soon as
 * every socket is found or the readlink budget is spent. Entries must be sorted by inode. */
static void resolve_pids(const char *root, struct listen_set *ls)
{
	char path[PATH_MAX], link[64];
	size_t left = 0, links = 0;
	uint64_t deadline;
	struct dirent *de;
	DIR *proc;

	for (size_t i = 0; i < ls->n; i++)
		left += ls->e[i].inode != 0;
	if (!left || snprintf(path, sizeof(path), "%s/proc", root) >= (int)sizeof(path))
		return;
	proc = opendir(path);
	if (!proc)
		return;
	deadline = mono_ns() + FD_SCAN_NS;
	while (left && scan_budget_left(links, deadline) && (de = readdir(proc))) {
		char rel[64];
		struct dirent *fe;
		int32_t pid;
		DIR *fds;
		int fdd;

		if (!parse_pid(de->d_name, &pid) ||
		    snprintf(rel, sizeof(rel), "%s/fd", de->d_name) >= (int)sizeof(rel))
			continue;
		fdd = openat(dirfd(proc), rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fdd < 0)
			continue;
		fds = fdopendir(fdd);
		if (!fds) {
			close(fdd);
			continue;
		}
		while (left && scan_budget_left(links, deadline) && (fe = readdir(fds))) {
			struct listen_entry key = {0}, *hit;
			ssize_t n;

			if (fe->d_type != DT_LNK && fe->d_type != DT_UNKNOWN)
				continue;
			links++;
			n = readlinkat(fdd, fe->d_name, link, sizeof(link) - 1);
			if (n < 0 || procnet_parse_socket_link(link, (size_t)n, &key.inode) < 0 ||
			    !key.inode)
				continue;
			hit = bsearch(&key, ls->e, ls->n, sizeof(*ls->e), cmp_inode);
			if (!hit || hit->pid)
				continue;
			hit->pid = pid;
			read_comm(dirfd(proc), de->d_name, hit->comm, sizeof(hit->comm));
			left--;
		}
		closedir(fds);
	}
	closedir(proc);
	if (left)
		log_debug(NET_LOG, "sockets without a process unresolved=%zu readlinks=%zu", left,
			  links);
}

static const char *tcp_state(uint8_t st)
{
	static const char *const names[] = {
	    NULL,    "established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2",	"time_wait",
	    "close", "close_wait",  "last_ack", "listen",   "closing",	 "new_syn_recv"};

	return st < sizeof(names) / sizeof(names[0]) && names[st] ? names[st] : "unknown";
}

static json_t *endpoint(int family, const uint8_t *addr, uint16_t port)
{
	char ip[PROCNET_PARSE_IP_LEN];

	if (procnet_parse_format_ip(family, addr, ip, sizeof(ip)) < 0)
		return NULL;
	return json_pack("{s:s, s:i}", "ip", ip, "port", (int)port);
}

/* One socket as inventory_net_sockets shows it with all set. */
static json_t *socket_json(const struct listen_entry *e)
{
	json_t *local = endpoint(e->family, e->addr, e->port);
	json_t *remote = endpoint(e->family, e->remote, e->remote_port);

	if (!local || !remote) {
		json_decref(local);
		json_decref(remote);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:o, s:o}", "transport", e->udp ? "udp" : "tcp", "state",
			 e->udp ? (e->remote_port ? "connected" : "bound") : tcp_state(e->state),
			 "local", local, "remote", remote);
}

static int net_sockets(const char *root, struct listen_set *ls, json_t *out);

int inventory_net_listening(const char *root, json_t *out)
{
	struct listen_set ls = {.max = INVENTORY_MAX_LISTENING};

	return net_sockets(root, &ls, out);
}

int inventory_net_sockets(const char *root, size_t max, json_t *out, size_t *dropped)
{
	struct listen_set ls = {.all = true, .max = max};
	int rc = net_sockets(root, &ls, out);

	*dropped = ls.dropped;
	return rc;
}

static int net_sockets(const char *root, struct listen_set *ls, json_t *out)
{
	static const struct {
		const char *rel;
		bool udp;
		int family;
	} files[] = {
	    {"/proc/net/tcp", false, AF_INET},
	    {"/proc/net/tcp6", false, AF_INET6},
	    {"/proc/net/udp", true, AF_INET},
	    {"/proc/net/udp6", true, AF_INET6},
	};
	int rc = 0;

	if (!root)
		root = "";
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		rc = read_proc_net(root, files[i].rel, files[i].udp, files[i].family, ls);
		if (rc == -ENOMEM)
			goto out;
		if (rc == -E2BIG) {
			log_warn(NET_LOG, "sockets capped max=%zu", ls->max);
			break;
		}
	}
	rc = 0;
	if (!ls->n)
		goto out;
	qsort(ls->e, ls->n, sizeof(*ls->e), cmp_inode);
	resolve_pids(root, ls);
	qsort(ls->e, ls->n, sizeof(*ls->e), cmp_key);
	for (size_t i = 0; i < ls->n; i++) {
		const struct listen_entry *e = &ls->e[i];
		char ip[PROCNET_PARSE_IP_LEN];
		json_t *o;

		if (!ls->all && i && same_endpoint(e, &ls->e[i - 1]))
			continue;
		if (procnet_parse_format_ip(e->family, e->addr, ip, sizeof(ip)) < 0)
			continue;
		if (ls->all)
			o = socket_json(e);
		else
			o = json_pack("{s:s, s:s, s:i}", "transport", e->udp ? "udp" : "tcp", "ip",
				      ip, "port", (int)e->port);
		if (!o) {
			rc = -ENOMEM;
			goto out;
		}
		if (e->pid) {
			json_object_set_new(o, "pid", json_integer(e->pid));
			if (e->comm[0])
				json_object_set_new(o, "process", json_string(e->comm));
		}
		if (json_array_append_new(out, o)) {
			rc = -ENOMEM;
			goto out;
		}
	}
out:
	free(ls->e);
	ls->e = NULL;
	return rc;
}

/* ---- interfaces ---- */

/* json_string refuses invalid UTF-8, which an interface name may hold: that one is skipped. */
static int obj_set_str(json_t *obj, const char *key, const char *s)
{
	json_t *v = json_string(s);

	if (!v)
		return -EINVAL;
	return json_object_set_new(obj, key, v) ? -ENOMEM : 0;
}

static int arr_add_str(json_t *arr, const char *s)
{
	json_t *v = json_string(s);

	if (!v)
		return -EINVAL;
	return json_array_append_new(arr, v) ? -ENOMEM : 0;
}

static json_t *iface_get(json_t *ifaces, const struct ifaddrs *ifa, int sock)
{
	struct ifreq ifr;
	json_t *o;
	size_t i;

	json_array_foreach(ifaces, i, o)
	{
		if (strcmp(json_string_value(json_object_get(o, "name")), ifa->ifa_name) == 0)
			return o;
	}
	if (json_array_size(ifaces) >= INVENTORY_MAX_INTERFACES)
		return NULL;
	o = json_object();
	if (!o)
		return NULL;
	if (obj_set_str(o, "name", ifa->ifa_name) < 0) {
		json_decref(o);
		return NULL;
	}
	if (json_array_append_new(ifaces, o))
		return NULL;
	memset(&ifr, 0, sizeof(ifr));
	if (sock >= 0 && strlen(ifa->ifa_name) < sizeof(ifr.ifr_name)) {
		memcpy(ifr.ifr_name, ifa->ifa_name, strlen(ifa->ifa_name) + 1);
		if (ioctl(sock, SIOCGIFMTU, &ifr) == 0)
			json_object_set_new(o, "mtu", json_integer(ifr.ifr_mtu));
	}
	json_object_set_new(o, "up", json_boolean(ifa->ifa_flags & IFF_UP));
	json_object_set_new(o, "addresses", json_array());
	return o;
}

static unsigned prefix_len(const uint8_t *mask, size_t n)
{
	unsigned bits = 0;

	for (size_t i = 0; i < n; i++)
		bits += (unsigned)__builtin_popcount(mask[i]);
	return bits;
}

static bool arr_has_str(json_t *arr, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
	{
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	}
	return false;
}

static void iface_add(json_t *ifaces, json_t *ips, json_t *macs, const struct ifaddrs *ifa,
		      int sock, size_t *naddr)
{
	int fam = ifa->ifa_addr->sa_family;
	char ip[INET6_ADDRSTRLEN], cidr[INET6_ADDRSTRLEN + 8];
	const uint8_t *addr, *mask = NULL;
	size_t masklen;
	json_t *o;

	if (fam != AF_PACKET && fam != AF_INET && fam != AF_INET6)
		return;
	o = iface_get(ifaces, ifa, sock);
	if (!o)
		return;
	if (fam == AF_PACKET) {
		const struct sockaddr_ll *ll = (const struct sockaddr_ll *)ifa->ifa_addr;
		static const uint8_t zero[6];
		char mac[18];

		if (ll->sll_halen != 6)
			return;
		/* ECS formats MAC addresses as uppercase, hyphen-separated. */
		(void)snprintf(mac, sizeof(mac), "%02X-%02X-%02X-%02X-%02X-%02X", ll->sll_addr[0],
			       ll->sll_addr[1], ll->sll_addr[2], ll->sll_addr[3], ll->sll_addr[4],
			       ll->sll_addr[5]);
		obj_set_str(o, "mac", mac);
		if (memcmp(ll->sll_addr, zero, 6) != 0 && !arr_has_str(macs, mac))
			arr_add_str(macs, mac);
		return;
	}
	if (*naddr >= INVENTORY_MAX_ADDRESSES)
		return;
	if (fam == AF_INET) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)ifa->ifa_addr)->sin_addr;
		if (ifa->ifa_netmask)
			mask = (const uint8_t *)&((const struct sockaddr_in *)ifa->ifa_netmask)
				   ->sin_addr;
		masklen = 4;
	} else {
		addr = (const uint8_t *)&((const struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
		if (ifa->ifa_netmask)
			mask = (const uint8_t *)&((const struct sockaddr_in6 *)ifa->ifa_netmask)
				   ->sin6_addr;
		masklen = 16;
	}
	if (!inet_ntop(fam, addr, ip, sizeof(ip)))
		return;
	(void)snprintf(cidr, sizeof(cidr), "%s/%u", ip,
		       mask ? prefix_len(mask, masklen) : (unsigned)(8 * masklen));
	arr_add_str(json_object_get(o, "addresses"), cidr);
	arr_add_str(ips, ip);
	(*naddr)++;
}

void inventory_net_interfaces(json_t *ifaces, json_t *ips, json_t *macs)
{
	struct ifaddrs *all, *ifa;
	size_t naddr = 0;
	int sock;

	if (getifaddrs(&all) < 0) {
		log_warn(NET_LOG, "getifaddrs failed err=%s", strerror(errno));
		return;
	}
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (ifa = all; ifa; ifa = ifa->ifa_next)
		if (ifa->ifa_addr && ifa->ifa_name)
			iface_add(ifaces, ips, macs, ifa, sock, &naddr);
	if (sock >= 0)
		close(sock);
	freeifaddrs(all);
}
