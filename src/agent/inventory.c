#include "inventory.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "event_json.h"
#include "inventory_net.h"
#include "log.h"

#include "banned.h"

#define INV_LOG "inventory"

#define OS_RELEASE_MAX ((size_t)64 * 1024)
#define SMALL_FILE_MAX 4096
#define PASSWD_MAX (16u << 20)
#define DPKG_STATUS_MAX (64u << 20)
#define SLOW_NS (100ull * 1000000) /* collection slower than this is logged */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int path_join(char *out, size_t size, const char *root, const char *rel)
{
	int n = snprintf(out, size, "%s%s", root ? root : "", rel);

	return (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : 0;
}

/* Reads root+rel into a NUL-terminated heap buffer of at most cap bytes. *truncated says whether
 * the file was longer (callers parse what they got). */
static int read_file(const char *root, const char *rel, size_t cap, char **out, size_t *outlen,
		     bool *truncated)
{
	char path[PATH_MAX];
	struct stat st;
	size_t alloc, len = 0;
	char *buf = NULL, *p;
	int fd, rc;

	*out = NULL;
	*outlen = 0;
	if (truncated)
		*truncated = false;
	rc = path_join(path, sizeof(path), root, rel);
	if (rc)
		return rc;
	/* O_NONBLOCK and the regular-file check: a FIFO or device planted here must not hang or
	 * feed the agent forever. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	/* /proc files report size 0: start small and grow. */
	alloc = 4096;
	if (st.st_size > 0)
		alloc = (size_t)st.st_size < cap - 4096 ? (size_t)st.st_size + 4096 : cap + 1;
	buf = malloc(alloc);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len + 1 >= alloc) {
			if (alloc > cap) {
				if (truncated)
					*truncated = true;
				break;
			}
			alloc = alloc * 2 > cap + 1 ? cap + 1 : alloc * 2;
			p = realloc(buf, alloc);
			if (!p) {
				rc = -ENOMEM;
				goto out;
			}
			buf = p;
		}
		n = read(fd, buf + len, alloc - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_space((*s)[*n - 1]))
		(*n)--;
}

static bool span_eq(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n == l && memcmp(s, lit, l) == 0;
}

/* Control bytes would survive JSON escaping but have no business in a name or a path. */
static bool has_ctl(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return true;
	}
	return false;
}

/* Printable ASCII without spaces: what dpkg allows in names, versions and architectures. */
static bool is_token(const char *s, size_t n)
{
	if (n == 0 || n > INVENTORY_MAX_VALUE)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* Sets key to s[0..n). Values too long, with control bytes or invalid UTF-8 are dropped
 * (-EINVAL) so one bad file cannot make the document unserializable. */
static int obj_set_strn(json_t *obj, const char *key, const char *s, size_t n)
{
	json_t *v;

	if (n > INVENTORY_MAX_VALUE || has_ctl(s, n))
		return -EINVAL;
	v = json_stringn(s, n);
	if (!v)
		return -EINVAL;
	return json_object_set_new(obj, key, v) ? -ENOMEM : 0;
}

static int obj_set_str(json_t *obj, const char *key, const char *s)
{
	return obj_set_strn(obj, key, s, strlen(s));
}

static int arr_add_str(json_t *arr, const char *s)
{
	json_t *v = json_string(s);

	if (!v)
		return -EINVAL;
	return json_array_append_new(arr, v) ? -ENOMEM : 0;
}

/* ---- dpkg status ---- */

struct dpkg_para {
	const char *name, *version, *arch, *status;
	size_t name_len, version_len, arch_len, status_len;
};

static int dpkg_flush(const struct dpkg_para *p, json_t *array)
{
	json_t *pkg;

	if (!p->name || !p->status || !span_eq(p->status, p->status_len, "install ok installed"))
		return 0;
	if (!is_token(p->name, p->name_len))
		return 0;
	pkg = json_object();
	if (!pkg)
		return -ENOMEM;
	if (obj_set_strn(pkg, "name", p->name, p->name_len) == -ENOMEM)
		goto nomem;
	if (p->version && is_token(p->version, p->version_len) &&
	    obj_set_strn(pkg, "version", p->version, p->version_len) == -ENOMEM)
		goto nomem;
	if (p->arch && is_token(p->arch, p->arch_len) &&
	    obj_set_strn(pkg, "architecture", p->arch, p->arch_len) == -ENOMEM)
		goto nomem;
	return json_array_append_new(array, pkg) ? -ENOMEM : 1;
nomem:
	json_decref(pkg);
	return -ENOMEM;
}

int inventory_parse_dpkg_status(const char *buf, size_t len, json_t *array)
{
	const char *line = buf, *end;
	struct dpkg_para p = {0};
	int count = 0, rc;

	if (!json_is_array(array) || (!buf && len))
		return -EINVAL;
	if (!len)
		return 0;
	end = buf + len;
	while (line < end && json_array_size(array) < INVENTORY_MAX_PACKAGES) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *start = line, *s = line, *colon;
		size_t n = (size_t)((nl ? nl : end) - line);

		line = nl ? nl + 1 : end;
		trim(&s, &n);
		if (n == 0) {
			rc = dpkg_flush(&p, array);
			if (rc < 0)
				return rc;
			count += rc;
			memset(&p, 0, sizeof(p));
			continue;
		}
		/* Continuation lines (Description, Conffiles) and junk without a colon carry
		 * nothing we keep; a truncated file then yields the fields seen so far. */
		if (s != start || !(colon = memchr(s, ':', n)))
			continue;
		{
			size_t klen = (size_t)(colon - s);
			const char *v = colon + 1;
			size_t vlen = n - klen - 1;

			trim(&v, &vlen);
			/* Field names are case-insensitive in deb822. */
			if (klen == 7 && strncasecmp(s, "Package", 7) == 0) {
				p.name = v;
				p.name_len = vlen;
			} else if (klen == 7 && strncasecmp(s, "Version", 7) == 0) {
				p.version = v;
				p.version_len = vlen;
			} else if (klen == 12 && strncasecmp(s, "Architecture", 12) == 0) {
				p.arch = v;
				p.arch_len = vlen;
			} else if (klen == 6 && strncasecmp(s, "Status", 6) == 0) {
				p.status = v;
				p.status_len = vlen;
			}
		}
	}
	if (json_array_size(array) < INVENTORY_MAX_PACKAGES) {
		rc = dpkg_flush(&p, array);
		if (rc < 0)
			return rc;
		count += rc;
	}
	return count;
}

/* ---- os-release ---- */

/* Unquotes a shell-style value into out (os-release(5)): "..." with \\ \" \$ \` escapes, '...'
 * literal, or bare. -EINVAL when unterminated or longer than outsize - 1. */
static int os_release_value(const char *s, size_t n, char *out, size_t outsize, size_t *outlen)
{
	size_t o = 0, i = 0;
	char q = 0;

	if (n && (s[0] == '"' || s[0] == '\'')) {
		q = s[0];
		i = 1;
	}
	for (; i < n; i++) {
		char c = s[i];

		if (q && c == q) {
			q = 0;
			break;
		}
		if (q == '"' && c == '\\' && i + 1 < n &&
		    (s[i + 1] == '\\' || s[i + 1] == '"' || s[i + 1] == '$' || s[i + 1] == '`'))
			c = s[++i];
		if (o + 1 >= outsize)
			return -EINVAL;
		out[o++] = c;
	}
	if (q)
		return -EINVAL;
	out[o] = '\0';
	*outlen = o;
	return 0;
}

/* ID_LIKE lists ancestors nearest first ("ubuntu debian", "rhel centos fedora"); ECS os.family
 * wants the root of the family, so a known root wins over the first word. */
static void os_family_from_like(const char *like, char *out, size_t size)
{
	static const char *const roots[] = {"debian", "rhel", "suse", "arch", "alpine", "gentoo"};
	const char *p = like, *first = NULL;
	size_t first_len = 0;

	while (*p) {
		const char *w;
		size_t wl;

		while (*p == ' ' || *p == '\t')
			p++;
		w = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		wl = (size_t)(p - w);
		if (!wl)
			continue;
		if (!first) {
			first = w;
			first_len = wl;
		}
		for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
			if (span_eq(w, wl, roots[i])) {
				(void)snprintf(out, size, "%s", roots[i]);
				return;
			}
		}
	}
	if (first)
		(void)snprintf(out, size, "%.*s", (int)first_len, first);
}

int inventory_parse_os_release(const char *buf, size_t len, json_t *os)
{
	char id[INVENTORY_MAX_VALUE + 1] = "", like[INVENTORY_MAX_VALUE + 1] = "";
	char val[INVENTORY_MAX_VALUE + 1], family[INVENTORY_MAX_VALUE + 1] = "";
	const char *line = buf, *end;

	if (!json_is_object(os) || (!buf && len))
		return -EINVAL;
	if (!len)
		return 0;
	end = buf + len;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *s = line, *eq, *v;
		size_t n = (size_t)((nl ? nl : end) - line), klen, vlen, outlen;
		const char *key = NULL;

		line = nl ? nl + 1 : end;
		trim(&s, &n);
		if (n == 0 || s[0] == '#' || !(eq = memchr(s, '=', n)))
			continue;
		klen = (size_t)(eq - s);
		v = eq + 1;
		vlen = n - klen - 1;
		if (os_release_value(v, vlen, val, sizeof(val), &outlen) < 0)
			continue;
		if (span_eq(s, klen, "NAME"))
			key = "name";
		else if (span_eq(s, klen, "VERSION_ID"))
			key = "version";
		else if (span_eq(s, klen, "PRETTY_NAME"))
			key = "full";
		else if (span_eq(s, klen, "ID_LIKE") && !has_ctl(val, outlen))
			memcpy(like, val, outlen + 1);
		else if (span_eq(s, klen, "ID") && !has_ctl(val, outlen)) {
			memcpy(id, val, outlen + 1);
			key = "platform";
		}
		if (key && obj_set_strn(os, key, val, outlen) == -ENOMEM)
			return -ENOMEM;
	}
	os_family_from_like(like, family, sizeof(family));
	if (!family[0])
		memcpy(family, id, sizeof(family));
	if (family[0] && obj_set_str(os, "family", family) == -ENOMEM)
		return -ENOMEM;
	return 0;
}

/* ---- passwd ---- */

static bool is_decimal(const char *s, size_t n)
{
	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Accounts whose shell refuses logins; an empty shell means /bin/sh. */
static bool shell_allows_login(const char *s, size_t n)
{
	const char *base = s;

	for (size_t i = 0; i < n; i++)
		if (s[i] == '/')
			base = s + i + 1;
	n -= (size_t)(base - s);
	return !span_eq(base, n, "nologin") && !span_eq(base, n, "false");
}

static int passwd_line(const char *s, size_t n, json_t *array)
{
	const char *f[7];
	size_t fl[7], nf = 0;
	const char *p = s, *end = s + n;
	json_t *u;

	/* name:passwd:uid:gid:gecos:home:shell; the last field runs to the end of the line. */
	while (nf < 7) {
		const char *c = nf < 6 ? memchr(p, ':', (size_t)(end - p)) : NULL;

		f[nf] = p;
		fl[nf] = (size_t)((c ? c : end) - p);
		nf++;
		if (!c)
			break;
		p = c + 1;
	}
	if (nf != 7 || fl[0] == 0 || !is_decimal(f[2], fl[2]) || !is_decimal(f[3], fl[3]))
		return 0;
	/* NIS compat entries (+name, -name) are not accounts of their own. */
	if (f[0][0] == '+' || f[0][0] == '-')
		return 0;
	if (fl[0] > INVENTORY_MAX_VALUE || has_ctl(f[0], fl[0]))
		return 0;
	u = json_object();
	if (!u)
		return -ENOMEM;
	if (obj_set_strn(u, "name", f[0], fl[0]) < 0) {
		json_decref(u);
		return 0;
	}
	if (obj_set_strn(u, "id", f[2], fl[2]) == -ENOMEM ||
	    obj_set_strn(u, "group_id", f[3], fl[3]) == -ENOMEM ||
	    obj_set_strn(u, "home", f[5], fl[5]) == -ENOMEM ||
	    obj_set_strn(u, "shell", f[6], fl[6]) == -ENOMEM ||
	    json_object_set_new(u, "login", json_boolean(shell_allows_login(f[6], fl[6])))) {
		json_decref(u);
		return -ENOMEM;
	}
	return json_array_append_new(array, u) ? -ENOMEM : 1;
}

int inventory_parse_passwd(const char *buf, size_t len, json_t *array)
{
	const char *line = buf, *end;
	int count = 0, rc;

	if (!json_is_array(array) || (!buf && len))
		return -EINVAL;
	if (!len)
		return 0;
	end = buf + len;
	while (line < end && json_array_size(array) < INVENTORY_MAX_USERS) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *s = line;
		size_t n = (size_t)((nl ? nl : end) - line);

		line = nl ? nl + 1 : end;
		trim(&s, &n);
		if (n == 0 || s[0] == '#')
			continue;
		rc = passwd_line(s, n, array);
		if (rc < 0)
			return rc;
		count += rc;
	}
	return count;
}

/* ---- host ---- */

/* Reads a one-line file such as /etc/machine-id and keeps it only if every byte is allowed. */
static bool read_id(const char *root, const char *rel, const char *allowed, size_t maxlen,
		    char *out, size_t size)
{
	const char *s;
	char *buf;
	size_t n;

	if (read_file(root, rel, SMALL_FILE_MAX, &buf, &n, NULL) < 0)
		return false;
	s = buf;
	trim(&s, &n);
	if (n == 0 || n > maxlen || n >= size || strspn(s, allowed) < n) {
		free(buf);
		return false;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	free(buf);
	return true;
}

static void collect_host(const struct inventory_opts *o, json_t *host)
{
	char buf[INVENTORY_MAX_VALUE + 1], *up;
	json_t *os = json_object();
	struct utsname u;
	bool have_uname;
	size_t n;

	have_uname = uname(&u) == 0;
	if (have_uname) {
		obj_set_str(host, "name",
			    o->host_name && o->host_name[0] ? o->host_name : u.nodename);
		obj_set_str(host, "hostname", u.nodename);
	} else if (o->host_name && o->host_name[0]) {
		obj_set_str(host, "name", o->host_name);
	}
	if (read_id(o->root, "/proc/sys/kernel/random/boot_id", "0123456789abcdef-", 36, buf,
		    sizeof(buf)))
		json_object_set_new(host, "boot", json_pack("{s:s}", "id", buf));
	if (read_id(o->root, "/etc/machine-id", "0123456789abcdef", 32, buf, sizeof(buf)))
		obj_set_str(host, "id", buf);
	if (read_file(o->root, "/proc/uptime", SMALL_FILE_MAX, &up, &n, NULL) == 0 && up) {
		char *end;
		unsigned long long secs;

		errno = 0;
		secs = strtoull(up, &end, 10);
		if (end != up && up[0] >= '0' && up[0] <= '9' && !errno &&
		    (*end == '.' || *end == ' '))
			json_object_set_new(host, "uptime", json_integer((json_int_t)secs));
		free(up);
	}
	if (!os)
		return;
	if (have_uname)
		obj_set_str(host, "architecture", u.machine);
	obj_set_str(os, "type", "linux");
	{
		char *rel;
		int rc = read_file(o->root, "/etc/os-release", OS_RELEASE_MAX, &rel, &n, NULL);

		if (rc == -ENOENT)
			rc = read_file(o->root, "/usr/lib/os-release", OS_RELEASE_MAX, &rel, &n,
				       NULL);
		if (rc == 0) {
			inventory_parse_os_release(rel, n, os);
			free(rel);
		}
	}
	if (have_uname && snprintf(buf, sizeof(buf), "%s %s", u.release, u.version) > 0)
		obj_set_str(os, "kernel", buf);
	json_object_set_new(host, "os", os);
}

static void collect_users(const char *root, json_t *users)
{
	bool truncated;
	char *buf;
	size_t n;

	if (read_file(root, "/etc/passwd", PASSWD_MAX, &buf, &n, &truncated) < 0)
		return;
	if (truncated)
		log_warn(INV_LOG, "passwd truncated max_bytes=%u", PASSWD_MAX);
	inventory_parse_passwd(buf, n, users);
	free(buf);
}

static void collect_packages(const char *root, json_t *pkgs)
{
	bool truncated;
	char *buf;
	size_t n;
	int rc;

	rc = read_file(root, "/var/lib/dpkg/status", DPKG_STATUS_MAX, &buf, &n, &truncated);
	if (rc < 0) {
		if (rc != -ENOENT)
			log_warn(INV_LOG, "cannot read dpkg status err=%s", strerror(-rc));
		return;
	}
	if (truncated) {
		/* Keep whole paragraphs only, so a cut Status line cannot pass as installed. */
		while (n >= 2 && !(buf[n - 1] == '\n' && buf[n - 2] == '\n'))
			n--;
		log_warn(INV_LOG, "dpkg status truncated max_bytes=%u", DPKG_STATUS_MAX);
	}
	rc = inventory_parse_dpkg_status(buf, n, pkgs);
	if (rc < 0)
		log_warn(INV_LOG, "dpkg status incomplete err=%s", strerror(-rc));
	else if (json_array_size(pkgs) >= INVENTORY_MAX_PACKAGES)
		log_warn(INV_LOG, "packages capped max=%d", INVENTORY_MAX_PACKAGES);
	free(buf);
}

json_t *inventory_collect(const struct inventory_opts *o)
{
	json_t *doc, *host, *inv, *ifaces, *ips, *macs, *users, *listening, *pkgs, *sources;
	uint64_t t0 = mono_ns(), t_host, t_net, t_users, t_listen, t_pkgs;
	struct inventory_opts opts = *o;
	struct timespec now;
	char ts[40];
	int rc;

	if (!opts.root)
		opts.root = "";
	clock_gettime(CLOCK_REALTIME, &now);
	json_format_time((uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec, ts,
			 sizeof(ts));
	/* Every container exists up front, so the collectors below only fill borrowed arrays. */
	doc = json_pack("{s:s, s:{s:s, s:[s], s:[s], s:s, s:s}, s:{},"
			" s:{s:{s:[], s:[], s:[], s:[], s:i, s:[]}}}",
			"@timestamp", ts, "event", "kind", "state", "category", "host", "type",
			"info", "action", "inventory", "dataset", "mamori.inventory", "host",
			"mamori", "inventory", "interfaces", "users", "listening", "packages",
			"packages_count", 0, "sources");
	ips = json_array();
	macs = json_array();
	if (!doc || !ips || !macs) {
		json_decref(ips);
		json_decref(macs);
		json_decref(doc);
		errno = ENOMEM;
		return NULL;
	}
	host = json_object_get(doc, "host");
	inv = json_object_get(json_object_get(doc, "mamori"), "inventory");
	ifaces = json_object_get(inv, "interfaces");
	users = json_object_get(inv, "users");
	listening = json_object_get(inv, "listening");
	pkgs = json_object_get(inv, "packages");
	sources = json_object_get(inv, "sources");

	collect_host(&opts, host);
	t_host = mono_ns();
	inventory_net_interfaces(ifaces, ips, macs);
	json_object_set_new(host, "ip", ips);
	json_object_set_new(host, "mac", macs);
	t_net = mono_ns();
	collect_users(opts.root, users);
	t_users = mono_ns();
	rc = inventory_net_listening(opts.root, listening);
	if (rc < 0)
		log_warn(INV_LOG, "listening sockets incomplete err=%s", strerror(-rc));
	t_listen = mono_ns();
	collect_packages(opts.root, pkgs);
	json_object_set_new(inv, "packages_count", json_integer((json_int_t)json_array_size(pkgs)));
	t_pkgs = mono_ns();
	for (size_t i = 0; i < opts.nsources && opts.sources; i++)
		if (opts.sources[i])
			arr_add_str(sources, opts.sources[i]);

	if (t_pkgs - t0 > SLOW_NS)
		log_warn(INV_LOG,
			 "slow collection total_ms=%llu host_ms=%llu interfaces_ms=%llu "
			 "users_ms=%llu listening_ms=%llu packages_ms=%llu",
			 (unsigned long long)((t_pkgs - t0) / 1000000),
			 (unsigned long long)((t_host - t0) / 1000000),
			 (unsigned long long)((t_net - t_host) / 1000000),
			 (unsigned long long)((t_users - t_net) / 1000000),
			 (unsigned long long)((t_listen - t_users) / 1000000),
			 (unsigned long long)((t_pkgs - t_listen) / 1000000));
	else
		log_debug(INV_LOG, "collected total_us=%llu packages=%zu users=%zu listening=%zu",
			  (unsigned long long)((t_pkgs - t0) / 1000), json_array_size(pkgs),
			  json_array_size(users), json_array_size(listening));
	return doc;
}

char *inventory_dump(json_t *doc, size_t max)
{
	json_t *inv = json_object_get(json_object_get(doc, "mamori"), "inventory");
	json_t *pkgs = json_object_get(inv, "packages");
	char *s = json_dumps(doc, JSON_COMPACT);
	size_t len = s ? strlen(s) : 0, cut = 0, kept;

	if (!s || len <= max)
		return s;
	free(s);
	/* Packages are the part that grows with the host; drop what overflows, with room for
	 * the flag added below. */
	while (cut < len - max + 32 && json_array_size(pkgs)) {
		size_t last = json_array_size(pkgs) - 1;
		char *e = json_dumps(json_array_get(pkgs, last), JSON_COMPACT);

		cut += (e ? strlen(e) : 0) + 1;
		free(e);
		json_array_remove(pkgs, last);
	}
	kept = json_array_size(pkgs);
	json_object_set_new(inv, "packages_truncated", json_true());
	s = json_dumps(doc, JSON_COMPACT);
	log_warn(INV_LOG, "inventory over the line limit, packages cut bytes=%zu max=%zu kept=%zu",
		 len, max, kept);
	if (s && strlen(s) > max) {
		free(s);
		return NULL;
	}
	return s;
}
