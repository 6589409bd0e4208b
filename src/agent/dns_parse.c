#include "dns_parse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

static const struct {
	uint16_t code;
	const char *name;
} qtypes[] = {
	{1, "A"},    {2, "NS"},	   {5, "CNAME"}, {6, "SOA"},  {12, "PTR"},  {15, "MX"},
	{16, "TXT"}, {28, "AAAA"}, {33, "SRV"},	 {35, "NAPTR"}, {43, "DS"}, {48, "DNSKEY"},
	{64, "SVCB"}, {65, "HTTPS"}, {99, "SPF"}, {252, "AXFR"}, {255, "ANY"}, {257, "CAA"},
};

int dns_parse_query(const uint8_t *msg, size_t len, struct dns_question *q)
{
	size_t off = 12, out = 0;
	unsigned labels = 0;

	if (len < 12 + 1 + 4)
		return -EINVAL;
	q->id = (uint16_t)(msg[0] << 8 | msg[1]);
	/* A query (QR = 0), opcode QUERY or IQUERY/STATUS, at least one question. */
	if ((msg[2] & 0x80) || (msg[4] == 0 && msg[5] == 0))
		return -EINVAL;
	for (;;) {
		uint8_t l;

		if (off >= len)
			return -EINVAL;
		l = msg[off++];
		if (l == 0)
			break;
		/* Compression pointers and extended label types do not occur in a question. */
		if (l & 0xC0)
			return -EINVAL;
		if (off + l > len || ++labels > 127)
			return -EINVAL;
		if (out + (out ? 1 : 0) + l >= sizeof(q->name))
			return -ENOSPC;
		if (out)
			q->name[out++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			uint8_t c = msg[off + i];

			/* Keep names printable; anything else is shown escaped as ? */
			q->name[out++] = (c >= 0x21 && c < 0x7f) ? (char)c : '?';
		}
		off += l;
	}
	if (off + 4 > len)
		return -EINVAL;
	if (out == 0)
		q->name[out++] = '.';
	q->name[out] = '\0';
	q->qtype = (uint16_t)(msg[off] << 8 | msg[off + 1]);
	snprintf(q->type, sizeof(q->type), "%u", q->qtype);
	for (size_t i = 0; i < sizeof(qtypes) / sizeof(qtypes[0]); i++) {
		if (qtypes[i].code == q->qtype) {
			snprintf(q->type, sizeof(q->type), "%s", qtypes[i].name);
			break;
		}
	}
	return 0;
}
