/* IP addresses and networks for Sigma's cidr modifier and for indicator lists: strict parsing of
 * IPv4/IPv6 text, containment, and a frozen longest-prefix-match set that answers "which listed
 * network is the most specific one holding this address" without allocating. */
#ifndef MAMORI_CIDR_H
#define MAMORI_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An IPv4 or IPv6 address in network byte order; IPv4 is kept as an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) so one comparison serves both, and IPv4 networks also match the mapped form
 * of their addresses. */
struct ip_addr {
	uint8_t b[16];
};

struct cidr {
	struct ip_addr net;
	uint8_t prefix; /* 0..128, counted on the 16-byte form (IPv4 /8 is 104) */
};

/* Longest text ip_addr_parse and cidr_parse look at; longer input is -EINVAL. */
#define CIDR_MAX_TEXT 128

/* Parses "10.1.2.3", "::1", "::ffff:1.2.3.4", "fe80::1%eth0" (zone dropped), "[::1]". Strict:
 * IPv4 needs four decimal parts 0..255 without leading zeros (no octal or short forms), IPv6
 * groups have 1..4 hex digits and at most one "::", no surrounding spaces. s need not be
 * NUL-terminated. 0 or -EINVAL. */
int ip_addr_parse(const char *s, size_t n, struct ip_addr *out);
/* True for IPv4 addresses, i.e. the ::ffff:0:0/96 block however it was written. */
bool ip_addr_is_v4(const struct ip_addr *a);

/* "10.0.0.0/8", "2001:db8::/32", or a bare address (host route, /32 or /128). The prefix is
 * decimal without leading zeros. Host bits set in net are cleared (10.1.2.3/8 == 10.0.0.0/8).
 * 0 or -EINVAL (bad address, bad prefix, > 32 for IPv4, > 128 for IPv6). */
int cidr_parse(const char *s, size_t n, struct cidr *out);
bool cidr_contains(const struct cidr *c, const struct ip_addr *a);

/* Formats a for messages and JSON: RFC 5952 text for IPv6 (lowercase, longest run of zero groups
 * as "::"), dotted quad for IPv4 (without ::ffff:). Truncates like snprintf when size is short;
 * CIDR_ADDR_STRLEN (46) always suffices. */
#define CIDR_ADDR_STRLEN 46
void ip_addr_format(const struct ip_addr *a, char *buf, size_t size);

/* A set of networks, each with a caller-chosen id, for longest-prefix match. Build it with adds,
 * freeze it once, then look up from any number of threads. Memory: 32 bytes per add until
 * freeze; afterwards about 26 bytes per interval, where n networks make at most 2n + 1 intervals
 * (about 1.3n for typical indicator lists), on huge pages when large. */
struct cidr_set;

/* Caller owns the result. NULL + errno. */
struct cidr_set *cidr_set_new(void);
void cidr_set_free(struct cidr_set *s);
/* Adds c (host bits are cleared) with id; when the same network is added twice the first id is
 * kept. 0, -ENOMEM, -EINVAL (prefix > 128), -E2BIG (past CIDR_SET_MAX adds), -EBUSY after
 * freeze. */
#define CIDR_SET_MAX (1u << 30)
int cidr_set_add(struct cidr_set *s, const struct cidr *c, uint32_t id);
/* Call after the last add: builds the lookup structure and drops the build-time list. Lookups
 * before this find nothing. Calling it again is a no-op. 0 / -ENOMEM (the set stays unfrozen). */
int cidr_set_freeze(struct cidr_set *s);
/* Id of the most specific network containing a into *id and true, or false. Thread-safe after
 * freeze; no allocation; O(log16 n) worst case, usually one 384-byte leaf. */
bool cidr_set_lookup(const struct cidr_set *s, const struct ip_addr *a, uint32_t *id);
/* Networks in the set: adds so far before freeze, distinct networks after. */
size_t cidr_set_count(const struct cidr_set *s);

#endif
