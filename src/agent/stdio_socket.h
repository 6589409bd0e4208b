/* Whether a process's standard streams are a network socket: a shell or interpreter started that
 * way is what a reverse shell looks like (nc -e /bin/sh, bash -i >& /dev/tcp/..., python pty over
 * a socket). Reads /proc/PID/fd/{0,1,2} and the process's own /proc/PID/net tables so Unix
 * sockets (journald, ssh socketpairs) do not count. */
#ifndef MAMORI_STDIO_SOCKET_H
#define MAMORI_STDIO_SOCKET_H

#include <stdbool.h>
#include <sys/types.h>

/* True for process names worth the check (shells and script interpreters). */
bool stdio_socket_is_shell(const char *name);
/* True when fd 0, 1 or 2 of pid is a TCP or UDP socket (IPv4 or IPv6). proc is "/proc". */
bool stdio_socket_inet(const char *proc, pid_t pid);
/* Searches one /proc/net/{tcp,tcp6,udp,udp6} text for a socket inode (exposed for tests). */
bool stdio_socket_table_has(const char *text, unsigned long inode);

#endif
