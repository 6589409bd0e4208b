#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sysmacros.h>

#include "banned.h"

long procfs_clk_tck(void)
{
	static long tck;

	if (!tck) {
		tck = sysconf(_SC_CLK_TCK);
		if (tck <= 0)
			tck = 100;
	}
	return tck;
}

/* Reads a whole small /proc file into buf; returns bytes read or a negative errno. */
static ssize_t read_file(const char *root, uint32_t pid, const char *name, char *buf, size_t size)
{
	char path[128];
	ssize_t n, total = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%u/%s", root, pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((size_t)total < size - 1 &&
	       (n = read(fd, buf + total, size - 1 - (size_t)total)) > 0)
		total += n;
	close(fd);
	buf[total] = '\0';
	return total;
}

int procfs_read_stat(const char *root, uint32_t pid, struct procfs_stat *st)
{
	char buf[1024];
	ssize_t n = read_file(root, pid, "stat", buf, sizeof(buf));
	char *open_paren, *close_paren, *p;
	unsigned long long v[20];
	int field = 0;

	if (n < 0)
		return (int)n;
	/* comm may hold spaces and parentheses: it runs from the first '(' to the last ')'. */
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	{
		size_t clen = (size_t)(close_paren - open_paren - 1);

		if (clen >= sizeof(st->comm))
			clen = sizeof(st->comm) - 1;
		memcpy(st->comm, open_paren + 1, clen);
		st->comm[clen] = '\0';
	}
	/* Fields after comm: 3 state, 4 ppid, 5 pgrp, 6 session, 7 tty_nr, ..., 22 starttime. */
	p = close_paren + 2;
	if (p >= buf + n)
		return -EINVAL;
	st->state = *p;
	p = strchr(p, ' '); /* past the state */
	while (p && field < 20) {
		char *end;

		v[field++] = strtoull(p + 1, &end, 10);
		p = strchr(end, ' ');
	}
	if (field < 19)
		return -EINVAL;
	st->ppid = (uint32_t)v[0];
	st->sid = (uint32_t)v[2];
	st->tty_nr = (uint32_t)v[3];
	st->flags = (uint32_t)v[5];
	st->start_ticks = v[18];
	return 0;
}

bool procfs_container_id(const char *root, uint32_t pid, char *out, size_t size)
{
	char buf[4096];
	ssize_t n = read_file(root, pid, "cgroup", buf, sizeof(buf));
	char *line, *save = NULL;

	if (n <= 0)
		return false;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* Find a run of 64 hex digits: docker-<id>.scope, /docker/<id>,
		 * cri-containerd-<id>. */
		size_t run = 0;

		for (char *c = line; *c; c++) {
			bool hex = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f');

			run = hex ? run + 1 : 0;
			if (run == 64 && !(c[1] >= '0' && c[1] <= '9') &&
			    !(c[1] >= 'a' && c[1] <= 'f')) {
				if (size < 65)
					return false;
				memcpy(out, c - 63, 64);
				out[64] = '\0';
				return true;
			}
		}
	}
	return false;
}

static void read_link(const char *root, uint32_t pid, const char *name, char *out, size_t size)
{
	char path[128];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%u/%s", root, pid, name);
	n = readlink(path, out, size - 1);
	out[n > 0 ? n : 0] = '\0';
}

static void read_ids(const char *line, uint32_t *real, uint32_t *eff)
{
	unsigned long r = 0, e = 0;
	char *end;

	r = strtoul(line, &end, 10);
	e = strtoul(end, NULL, 10);
	*real = (uint32_t)r;
	*eff = (uint32_t)e;
}

int procfs_fill_process(const char *root, uint32_t pid, uint32_t args_max_count, struct event *ev)
{
	struct procfs_stat st;
	char buf[EVENT_ARGS_LEN];
	char status[2048];
	ssize_t n;
	int rc;

	rc = procfs_read_stat(root, pid, &st);
	if (rc)
		return rc;
	ev->process.pid = pid;
	event_mark(ev, EVF_PROCESS_PID);
	ev->process.parent.pid = st.ppid;
	event_mark(ev, EVF_PROCESS_PARENT_PID);
	ev->process.session_leader_pid = st.sid;
	event_mark(ev, EVF_PROCESS_SESSION_LEADER_PID);
	if (st.tty_nr) {
		ev->process.tty_major = major(st.tty_nr);
		ev->process.tty_minor = minor(st.tty_nr);
		event_mark(ev, EVF_PROCESS_TTY_MAJOR);
		event_mark(ev, EVF_PROCESS_TTY_MINOR);
	}
	read_link(root, pid, "exe", ev->process.executable, sizeof(ev->process.executable));
	if (ev->process.executable[0]) {
		/* A deleted executable shows as "/path (deleted)". */
		size_t len = strlen(ev->process.executable);
		const char *del = " (deleted)";

		if (len > strlen(del) &&
		    strcmp(ev->process.executable + len - strlen(del), del) == 0) {
			ev->process.executable[len - strlen(del)] = '\0';
			ev->process.deleted_executable = true;
			event_mark(ev, EVF_PROCESS_EXT_DELETED);
		}
		if (strncmp(ev->process.executable, "/memfd:", 7) == 0) {
			ev->process.memfd = true;
			event_mark(ev, EVF_PROCESS_EXT_MEMFD);
		}
		const char *slash = strrchr(ev->process.executable, '/');

		event_copy_str(ev->process.name, sizeof(ev->process.name),
			       slash ? slash + 1 : ev->process.executable,
			       strlen(slash ? slash + 1 : ev->process.executable));
	} else {
		event_copy_str(ev->process.name, sizeof(ev->process.name), st.comm,
			       strlen(st.comm));
	}
	read_link(root, pid, "cwd", ev->process.working_directory,
		  sizeof(ev->process.working_directory));

	n = read_file(root, pid, "cmdline", buf, sizeof(buf));
	if (n > 0) {
		uint32_t count = 0;
		ssize_t i = 0;

		ev->process.args_len = 0;
		while (i < n) {
			size_t len = strnlen(buf + i, (size_t)(n - i));

			count++;
			if (count > args_max_count ||
			    !event_list_add(ev->process.args, sizeof(ev->process.args),
					    &ev->process.args_len, buf + i, len))
				ev->process.args_truncated = true;
			i += (ssize_t)len + 1;
		}
		/* A full buffer means the real command line may be longer. */
		if ((size_t)n == sizeof(buf) - 1)
			ev->process.args_truncated = true;
		ev->process.args_count = count;
		event_mark(ev, EVF_PROCESS_ARGS_COUNT);
		if (ev->process.args_truncated)
			event_mark(ev, EVF_PROCESS_EXT_ARGS_TRUNCATED);
		event_build_command_line(ev);
	}

	n = read_file(root, pid, "status", status, sizeof(status));
	if (n > 0) {
		char *uid = strstr(status, "\nUid:");
		char *gid = strstr(status, "\nGid:");

		if (uid) {
			read_ids(uid + 5, &ev->process.uid, &ev->process.euid);
			event_mark(ev, EVF_PROCESS_USER_ID);
			event_mark(ev, EVF_PROCESS_REAL_USER_ID);
			event_mark(ev, EVF_USER_ID);
		}
		if (gid) {
			read_ids(gid + 5, &ev->process.gid, &ev->process.egid);
			event_mark(ev, EVF_PROCESS_GROUP_ID);
			event_mark(ev, EVF_PROCESS_REAL_GROUP_ID);
		}
	}
	n = read_file(root, pid, "loginuid", buf, 32);
	if (n > 0) {
		unsigned long auid = strtoul(buf, NULL, 10);

		if (auid != 4294967295ul) {
			ev->auid = (uint32_t)auid;
			event_mark(ev, EVF_USER_AUDIT_ID);
		}
	}
	procfs_container_id(root, pid, ev->container_id, sizeof(ev->container_id));
	return 0;
}
