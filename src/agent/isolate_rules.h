/* Host isolation as data: which addresses stay reachable (the Mamori servers on their port,
 * DNS resolvers, an allow-list of addresses and networks) and the nftables ruleset text that
 * enforces it. Pure: no I/O, so the ruleset is checked by unit tests and fuzzing. */
#ifndef MAMORI_ISOLATE_RULES_H
#define MAMORI_ISOLATE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dynbuf.h"

#define ISOLATE_MAX_ADDRS 64
#define ISOLATE_TABLE "mamori_isolation"

struct isolate_addr {
	int family;    /* AF_INET or AF_INET6 */
	char text[64]; /* normalized: "10.0.0.1", "10.0.0.0/8", "fd00::/64" */
};

struct isolate_spec {
	struct isolate_addr servers[ISOLATE_MAX_ADDRS]; /* TCP to server_port only */
	size_t nservers;
	uint16_t server_port;
	struct isolate_addr dns[ISOLATE_MAX_ADDRS]; /* UDP and TCP port 53 only */
	size_t ndns;
	struct isolate_addr allow[ISOLATE_MAX_ADDRS]; /* everything */
	size_t nallow;
};

/* Parses an address ("192.0.2.1", "2001:db8::1") or, when cidr_ok, a network ("10.0.0.0/8");
 * host bits under the prefix must be zero. 0 or -EINVAL. */
int isolate_addr_parse(const char *s, bool cidr_ok, struct isolate_addr *out);

/* Adds an address to one of the lists unless already there. -E2BIG when full. */
int isolate_addr_add(struct isolate_addr *list, size_t *n, const struct isolate_addr *a);

/* The nftables script that replaces the isolation table in one transaction. -EINVAL when there
 * is no server address (isolating would cut the management channel). */
int isolate_rules_build(const struct isolate_spec *sp, struct dynbuf *out);

/* The spec as JSON ({"servers", "server_port", "dns", "allow"}) and back; from_json validates
 * every address and returns -EINVAL with a reason in err. Caller owns the JSON. */
json_t *isolate_spec_to_json(const struct isolate_spec *sp);
int isolate_spec_from_json(json_t *j, struct isolate_spec *sp, char *err, size_t errlen);

#endif
