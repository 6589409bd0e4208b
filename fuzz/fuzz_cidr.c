/* IP and CIDR parsing and the longest-prefix-match set: any bytes parse or fail cleanly. A parsed
 * address formats to text that parses back to it; a parsed network holds its own address and has
 * no host bits. Each input line also goes into a set, and every lookup agrees with a linear scan
 * (most specific network wins, the first added among equals). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 256

static void check_addr(const char *s, size_t n)
{
	struct ip_addr a, back;
	char buf[CIDR_ADDR_STRLEN];

	if (ip_addr_parse(s, n, &a))
		return;
	ip_addr_format(&a, buf, sizeof(buf));
	if (ip_addr_parse(buf, strlen(buf), &back) || memcmp(a.b, back.b, 16) != 0)
		abort();
	if ((strchr(buf, ':') == NULL) != ip_addr_is_v4(&a))
		abort();
}

static void check_cidr(const char *s, size_t n, struct cidr *c, bool *ok)
{
	struct cidr again;
	struct ip_addr last;

	*ok = cidr_parse(s, n, c) == 0;
	if (!*ok)
		return;
	if (c->prefix > 128 || !cidr_contains(c, &c->net))
		abort();
	last = c->net;
	for (unsigned bit = c->prefix; bit < 128; bit++) {
		if (c->net.b[bit / 8] & (0x80u >> (bit % 8)))
			abort(); /* host bit left set */
		last.b[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
	}
	if (!cidr_contains(c, &last))
		abort();
	again = *c;
	again.prefix = 128;
	if (!cidr_contains(&again, &c->net))
		abort();
}

static bool scan(const struct cidr *nets, const uint32_t *ids, size_t n, const struct ip_addr *a,
		 uint32_t *id)
{
	size_t best = SIZE_MAX;

	for (size_t i = 0; i < n; i++)
		if (cidr_contains(&nets[i], a) &&
		    (best == SIZE_MAX || nets[i].prefix > nets[best].prefix))
			best = i;
	if (best == SIZE_MAX)
		return false;
	*id = ids[best];
	return true;
}

static void check_lookup(const struct cidr_set *s, const struct cidr *nets, const uint32_t *ids,
			 size_t n, const struct ip_addr *a)
{
	uint32_t got = 0, want = 0;
	bool g = cidr_set_lookup(s, a, &got), w = scan(nets, ids, n, a, &want);

	if (g != w || (g && got != want))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cidr nets[MAX_LINES];
	static uint32_t ids[MAX_LINES];
	static struct ip_addr addrs[MAX_LINES];
	const char *text = (const char *)data;
	struct cidr_set *s;
	size_t nnets = 0, naddrs = 0, pos = 0;
	struct cidr whole;
	bool ok;

	check_addr(text, size);
	check_cidr(text, size, &whole, &ok);

	s = cidr_set_new();
	if (!s)
		return 0;
	while (pos < size && nnets < MAX_LINES) {
		const char *nl = memchr(text + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - (text + pos)) : size - pos;

		check_addr(text + pos, len);
		if (ip_addr_parse(text + pos, len, &addrs[naddrs]) == 0)
			naddrs++;
		check_cidr(text + pos, len, &nets[nnets], &ok);
		if (ok) {
			/* Ids from the text too, so equal ids on different networks occur. */
			ids[nnets] = len ? (uint8_t)text[pos] : 0;
			if (cidr_set_add(s, &nets[nnets], ids[nnets]))
				abort();
			nnets++;
		}
		pos += len + 1;
	}
	if (cidr_set_freeze(s))
		goto out;
	if (cidr_set_count(s) > nnets)
		abort();
	for (size_t i = 0; i < naddrs; i++)
		check_lookup(s, nets, ids, nnets, &addrs[i]);
	for (size_t i = 0; i < nnets; i++) {
		struct ip_addr a = nets[i].net;

		check_lookup(s, nets, ids, nnets, &a);
		for (unsigned bit = nets[i].prefix; bit < 128; bit++)
			a.b[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
		check_lookup(s, nets, ids, nnets, &a);
		/* One past the end (wrapping round to :: is fine too). */
		for (int k = 15; k >= 0 && ++a.b[k] == 0; k--)
			;
		check_lookup(s, nets, ids, nnets, &a);
	}
out:
	cidr_set_free(s);
	return 0;
}
