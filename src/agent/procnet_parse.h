/* Parser for one line of /proc/net/tcp or /proc/net/tcp6 and for the "socket:[inode]" targets of
 * /proc/<pid>/fd links, used by the procfs network fallback. Pure and bounded so it can be fuzzed
 * and unit-tested on fixed lines. */
#ifndef MAMORI_PROCNET_PARSE_H
#define MAMORI_PROCNET_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest line accepted; the kernel's lines are about 150 characters. */
#define PROCNET_PARSE_MAX_LINE 1024
/* Room for any address procnet_parse_format_ip writes (INET6_ADDRSTRLEN). */
#define PROCNET_PARSE_IP_LEN 46

/* TCP states as the kernel numbers them in the "st" column (include/net/tcp_states.h). */
enum procnet_tcp_state {
	PROCNET_TCP_ESTABLISHED = 1,
	PROCNET_TCP_SYN_SENT = 2,
	PROCNET_TCP_SYN_RECV = 3,
	PROCNET_TCP_FIN_WAIT1 = 4,
	PROCNET_TCP_FIN_WAIT2 = 5,
	PROCNET_TCP_TIME_WAIT = 6,
	PROCNET_TCP_CLOSE = 7,
	PROCNET_TCP_CLOSE_WAIT = 8,
	PROCNET_TCP_LAST_ACK = 9,
	PROCNET_TCP_LISTEN = 10,
	PROCNET_TCP_CLOSING = 11,
	PROCNET_TCP_NEW_SYN_RECV = 12,
};

struct procnet_sock {
	int family;	   /* AF_INET (8 hex digit addresses) or AF_INET6 (32) */
	uint8_t local[16]; /* network byte order; IPv4 in the first 4 bytes */
	uint8_t remote[16];
	uint16_t local_port;
	uint16_t remote_port;
	uint8_t state; /* enum procnet_tcp_state, as given (not range-checked) */
	uint32_t uid;
	uint64_t inode; /* 0 for sockets no file refers to (TIME_WAIT, orphans) */
};

/* Parses one table line ("  0: 0100007F:0016 00000000:0000 0A ... uid timeout inode ...").
 * The kernel prints each 32-bit address word in host byte order, so this reads them the same
 * way (the agent only ever parses its own host's tables). 0; -EINVAL for the header line or a
 * malformed line; -E2BIG when longer than PROCNET_PARSE_MAX_LINE. */
int procnet_parse_line(const char *line, size_t len, struct procnet_sock *out);

/* Writes addr (16 bytes, or 4 for AF_INET) as text. An IPv4-mapped IPv6 address is written as
 * IPv4, because that is the peer's real address. Returns the family written (AF_INET or
 * AF_INET6), -EAFNOSUPPORT for another family, -ENOSPC when out is too small. */
int procnet_parse_format_ip(int family, const uint8_t *addr, char *out, size_t size);

/* Parses a /proc/<pid>/fd link target "socket:[12345]". 0, or -EINVAL for anything else. */
int procnet_parse_socket_link(const char *s, size_t len, uint64_t *inode);

#endif
