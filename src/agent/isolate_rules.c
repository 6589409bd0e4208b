#include "isolate_rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "banned.h"

int isolate_addr_parse(const char *s, bool cidr_ok, struct isolate_addr *out)
{
	char ip[64], *slash, *end;
	unsigned char bin[16];
	unsigned long prefix;
	int family, max;

	if (!s || strlen(s) >= sizeof(ip) || !*s)
		return -EINVAL;
	memcpy(ip, s, strlen(s) + 1);
	slash = strchr(ip, '/');
	if (slash) {
		if (!cidr_ok || !slash[1])
			return -EINVAL;
		*slash++ = 0;
		errno = 0;
		prefix = strtoul(slash, &end, 10);
		if (errno || *end || (slash[0] == '0' && slash[1]))
			return -EINVAL;
	}
	if (inet_pton(AF_INET, ip, bin) == 1) {
		family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, ip, bin) == 1) {
		family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		if (prefix > (unsigned long)max)
			return -EINVAL;
		/* Host bits set under the prefix are a typo more often than not. */
		for (int bit = (int)prefix; bit < max; bit++)
			if (bin[bit / 8] & (0x80 >> (bit % 8)))
				return -EINVAL;
	}
	out->family = family;
	if (!inet_ntop(family, bin, out->text, sizeof(out->text)))
		return -EINVAL;
	if (slash && (int)prefix != max) {
		size_t len = strlen(out->text);

		snprintf(out->text + len, sizeof(out->text) - len, "/%lu", prefix);
	}
	return 0;
}

int isolate_addr_add(struct isolate_addr *list, size_t *n, const struct isolate_addr *a)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(list[i].text, a->text))
			return 0;
	if (*n >= ISOLATE_MAX_ADDRS)
		return -E2BIG;
	list[(*n)++] = *a;
	return 0;
}

/* "{ a, b }" of the addresses of one family; false when there is none. */
static bool set_of(struct dynbuf *b, const struct isolate_addr *list, size_t n, int family)
{
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (list[i].family != family)
			continue;
		dynbuf_adds(b, any ? ", " : "{ ");
		dynbuf_adds(b, list[i].text);
		any = true;
	}
	if (any)
		dynbuf_adds(b, " }");
	return any;
}

static void rule(struct dynbuf *b, const struct isolate_addr *list, size_t n, bool in,
		 const char *tail)
{
	static const int families[] = {AF_INET, AF_INET6};

	for (size_t f = 0; f < 2; f++) {
		size_t mark = b->len;

		dynbuf_printf(b, "\t\t%s %s ", families[f] == AF_INET ? "ip" : "ip6",
			      in ? "saddr" : "daddr");
		if (!set_of(b, list, n, families[f])) {
			dynbuf_truncate(b, mark);
			continue;
		}
		dynbuf_printf(b, " %s accept\n", tail);
	}
}

/* Neighbour discovery and router advertisements: without them IPv6 stops working at all,
 * the management channel included. */
#define ND_TYPES "{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert }"

static void chain(struct dynbuf *b, const struct isolate_spec *sp, bool in)
{
	char port[32];

	dynbuf_printf(b,
		      "\tchain %s {\n\t\ttype filter hook %s priority filter - 10; policy drop;\n"
		      "\t\t%s \"lo\" accept\n",
		      in ? "input" : "output", in ? "input" : "output", in ? "iifname" : "oifname");
	snprintf(port, sizeof(port), "tcp %s %u", in ? "sport" : "dport", sp->server_port);
	rule(b, sp->servers, sp->nservers, in, port);
	rule(b, sp->dns, sp->ndns, in, in ? "udp sport 53" : "udp dport 53");
	rule(b, sp->dns, sp->ndns, in, in ? "tcp sport 53" : "tcp dport 53");
	rule(b, sp->allow, sp->nallow, in, "");
	/* DHCP keeps the host's lease (and so its address) while isolated. */
	dynbuf_printf(b, "\t\tudp sport %d udp dport %d accept\n", in ? 67 : 68, in ? 68 : 67);
	dynbuf_printf(b, "\t\ticmpv6 type " ND_TYPES " accept\n");
	dynbuf_printf(b, "\t\tcounter comment \"dropped by isolation\"\n\t}\n");
}

int isolate_rules_build(const struct isolate_spec *sp, struct dynbuf *out)
{
	size_t start = out->len;

	if (!sp->nservers || !sp->server_port)
		return -EINVAL;
	/* add + delete + define: one transaction that replaces any earlier table, and works
	 * whether or not there was one. */
	dynbuf_printf(out, "add table inet %s\ndelete table inet %s\ntable inet %s {\n",
		      ISOLATE_TABLE, ISOLATE_TABLE, ISOLATE_TABLE);
	chain(out, sp, true);
	chain(out, sp, false);
	/* Containers and VMs on the host are cut off too. */
	dynbuf_printf(out, "\tchain forward {\n\t\ttype filter hook forward priority filter - 10; "
			   "policy drop;\n\t\tcounter comment \"dropped by isolation\"\n\t}\n}\n");
	if (dynbuf_reserve(out, 1)) {
		dynbuf_truncate(out, start);
		return -ENOMEM;
	}
	return 0;
}

static json_t *list_json(const struct isolate_addr *list, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(list[i].text));
	return a;
}

json_t *isolate_spec_to_json(const struct isolate_spec *sp)
{
	return json_pack("{s:o,s:i,s:o,s:o}", "servers", list_json(sp->servers, sp->nservers),
			 "server_port", (int)sp->server_port, "dns", list_json(sp->dns, sp->ndns),
			 "allow", list_json(sp->allow, sp->nallow));
}

static int list_from(json_t *j, const char *key, bool cidr_ok, struct isolate_addr *list, size_t *n,
		     char *err, size_t errlen)
{
	json_t *a = json_object_get(j, key), *v;
	size_t i;

	*n = 0;
	if (!a)
		return 0;
	if (!json_is_array(a)) {
		snprintf(err, errlen, "%s: not a list", key);
		return -EINVAL;
	}
	json_array_foreach(a, i, v)
	{
		struct isolate_addr ad;

		if (!json_is_string(v) || isolate_addr_parse(json_string_value(v), cidr_ok, &ad)) {
			snprintf(err, errlen, "%s[%zu]: not an IP address%s", key, i,
				 cidr_ok ? " or network" : "");
			return -EINVAL;
		}
		if (isolate_addr_add(list, n, &ad)) {
			snprintf(err, errlen, "%s: more than %d entries", key, ISOLATE_MAX_ADDRS);
			return -EINVAL;
		}
	}
	return 0;
}

int isolate_spec_from_json(json_t *j, struct isolate_spec *sp, char *err, size_t errlen)
{
	json_t *port = json_object_get(j, "server_port");
	int rc;

	memset(sp, 0, sizeof(*sp));
	if (!json_is_object(j)) {
		snprintf(err, errlen, "not an object");
		return -EINVAL;
	}
	if (!json_is_integer(port) || json_integer_value(port) < 1 ||
	    json_integer_value(port) > 65535) {
		snprintf(err, errlen, "server_port: not a port number");
		return -EINVAL;
	}
	sp->server_port = (uint16_t)json_integer_value(port);
	rc = list_from(j, "servers", false, sp->servers, &sp->nservers, err, errlen);
	if (!rc)
		rc = list_from(j, "dns", false, sp->dns, &sp->ndns, err, errlen);
	if (!rc)
		rc = list_from(j, "allow", true, sp->allow, &sp->nallow, err, errlen);
	if (!rc && !sp->nservers) {
		snprintf(err, errlen, "servers: empty");
		rc = -EINVAL;
	}
	return rc;
}
