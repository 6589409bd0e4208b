#include "stdio_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

bool stdio_socket_is_shell(const char *name)
{
	static const char *const SHELLS[] = {"sh",   "bash", "dash", "zsh",	 "ksh",	 "mksh",
					     "csh",  "tcsh", "fish", "ash",	 "busybox", "python",
					     "perl", "ruby", "php",  "lua",	 "node",  "pwsh",
					     "awk",  "gawk", "tclsh", "irb"};
	for (size_t i = 0; i < sizeof(SHELLS) / sizeof(SHELLS[0]); i++) {
		size_t n;

		if (SHELLS[i][0] != name[0]) /* runs for every exec: skip the call for most names */
			continue;
		n = strlen(SHELLS[i]);
		/* python3, python3.11, perl5.36, php8.2 */
		if (strncmp(name, SHELLS[i], n) == 0 &&
		    (name[n] == 0 || (name[n] >= '0' && name[n] <= '9')))
			return true;
	}
	return false;
}

bool stdio_socket_table_has(const char *text, unsigned long inode)
{
	const char *p = strchr(text, '\n'); /* header */
	while (p && *++p) {
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		const char *q = p;
		int field = 0;
		while (*q && *q != '\n' && field < 9) {
			while (*q == ' ')
				q++;
			while (*q && *q != ' ' && *q != '\n')
				q++;
			field++;
		}
		while (*q == ' ')
			q++;
		char *end;
		unsigned long v = strtoul(q, &end, 10);
		if (end != q && v == inode)
			return true;
		p = strchr(q, '\n');
	}
	return false;
}

static bool table_has(const char *proc, pid_t pid, const char *table, unsigned long inode)
{
	char path[96], buf[65536];
	snprintf(path, sizeof(path), "%s/%d/net/%s", proc, (int)pid, table);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool found = false;
	size_t have = 0;
	/* Read in chunks, keeping a partial last line for the next round. */
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		buf[have] = 0;
		char *last = strrchr(buf, '\n');
		if (!last)
			break;
		char saved = last[1];
		last[1] = 0;
		if (stdio_socket_table_has(buf, inode)) {
			found = true;
			break;
		}
		last[1] = saved;
		size_t keep = have - (size_t)(last + 1 - buf);
		/* Keep the header line so the parser skips exactly one line next time. */
		memmove(buf + 1, last + 1, keep);
		buf[0] = '\n';
		have = keep + 1;
		buf[have] = 0;
	}
	close(fd);
	return found;
}

bool stdio_socket_inet(const char *proc, pid_t pid)
{
	for (int fd = 0; fd < 3; fd++) {
		char path[64], link[64];
		snprintf(path, sizeof(path), "%s/%d/fd/%d", proc, (int)pid, fd);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (strncmp(link, "socket:[", 8) != 0)
			continue;
		unsigned long inode = strtoul(link + 8, NULL, 10);
		static const char *const TABLES[] = {"tcp", "tcp6", "udp", "udp6"};
		for (size_t t = 0; t < 4; t++)
			if (table_has(proc, pid, TABLES[t], inode))
				return true;
	}
	return false;
}
