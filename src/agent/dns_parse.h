/* Reading the question of a DNS query message (RFC 1035) as captured off the wire: bounded,
 * no allocation, hostile input rejected with an error. */
#ifndef MAMORI_DNS_PARSE_H
#define MAMORI_DNS_PARSE_H

#include <stddef.h>
#include <stdint.h>

struct dns_question {
	char name[256]; /* dotted, without the final dot; "." for the root */
	uint16_t qtype;
	uint16_t id;
	char type[16]; /* "A", "AAAA", ... or the number */
};

/* Parses the first question of a query (QR bit clear). 0, or -EINVAL when the message is not a
 * well-formed query, -ENOSPC when the name does not fit. */
int dns_parse_query(const uint8_t *msg, size_t len, struct dns_question *q);

#endif
