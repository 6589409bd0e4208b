#include "procnet_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "hex.h"

#include "banned.h"

struct cursor {
	const char *p, *end;
};

static void skip_spaces(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* Length of the token at the cursor (up to the next blank). */
static size_t token_len(const struct cursor *c)
{
	const char *q = c->p;

	while (q < c->end && *q != ' ' && *q != '\t' && *q != '\n')
		q++;
	return (size_t)(q - c->p);
}

/* Exactly n hex digits into *out (n <= 8). */
static int parse_hex_fixed(const char *s, size_t n, uint32_t *out)
{
	uint32_t v = 0;

	for (size_t i = 0; i < n; i++) {
		int d = hex_value(s[i]);

		if (d < 0)
			return -EINVAL;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

/* A decimal token of at most 20 digits into *out. */
static int parse_dec_token(struct cursor *c, uint64_t *out)
{
	size_t n;
	uint64_t v = 0;

	skip_spaces(c);
	n = token_len(c);
	if (n == 0 || n > 20)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char ch = c->p[i];

		if (ch < '0' || ch > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(ch - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(ch - '0');
	}
	c->p += n;
	*out = v;
	return 0;
}

static int skip_token(struct cursor *c)
{
	size_t n;

	skip_spaces(c);
	n = token_len(c);
	if (n == 0)
		return -EINVAL;
	c->p += n;
	return 0;
}

/* "HHHHHHHH:PPPP" or 32 hex digits ":PPPP"; *family is set by the first address and must match
 * for the second. */
static int parse_endpoint(struct cursor *c, int *family, uint8_t addr[16], uint16_t *port)
{
	size_t n, hex;
	uint32_t word, p;

	skip_spaces(c);
	n = token_len(c);
	if (n == 8 + 1 + 4)
		hex = 8;
	else if (n == 32 + 1 + 4)
		hex = 32;
	else
		return -EINVAL;
	if (*family && *family != (hex == 8 ? AF_INET : AF_INET6))
		return -EINVAL;
	*family = hex == 8 ? AF_INET : AF_INET6;
	if (c->p[hex] != ':')
		return -EINVAL;
	memset(addr, 0, 16);
	for (size_t i = 0; i < hex; i += 8) {
		if (parse_hex_fixed(c->p + i, 8, &word))
			return -EINVAL;
		/* The kernel printed the word as a host-order integer; storing it back in host
		 * order restores the network-order bytes. */
		memcpy(addr + i / 2, &word, 4);
	}
	if (parse_hex_fixed(c->p + hex + 1, 4, &p))
		return -EINVAL;
	*port = (uint16_t)p;
	c->p += n;
	return 0;
}

int procnet_parse_line(const char *line, size_t len, struct procnet_sock *out)
{
	struct cursor c = {line, line + len};
	uint64_t v;
	uint32_t st;
	size_t n;

	if (len > PROCNET_PARSE_MAX_LINE)
		return -E2BIG;
	memset(out, 0, sizeof(*out));
	/* "  12:" slot number; the header line ("  sl  local_address ...") fails here. */
	skip_spaces(&c);
	n = token_len(&c);
	if (n < 2 || c.p[n - 1] != ':')
		return -EINVAL;
	for (size_t i = 0; i + 1 < n; i++) {
		if (c.p[i] < '0' || c.p[i] > '9')
			return -EINVAL;
	}
	c.p += n;
	if (parse_endpoint(&c, &out->family, out->local, &out->local_port) ||
	    parse_endpoint(&c, &out->family, out->remote, &out->remote_port))
		return -EINVAL;
	skip_spaces(&c);
	n = token_len(&c);
	if (n < 1 || n > 2 || parse_hex_fixed(c.p, n, &st))
		return -EINVAL;
	out->state = (uint8_t)st;
	c.p += n;
	/* tx_queue:rx_queue, tr:tm->when, retrnsmt */
	for (int i = 0; i < 3; i++) {
		if (skip_token(&c))
			return -EINVAL;
	}
	if (parse_dec_token(&c, &v) || v > UINT32_MAX)
		return -EINVAL;
	out->uid = (uint32_t)v;
	if (skip_token(&c)) /* timeout */
		return -EINVAL;
	if (parse_dec_token(&c, &v))
		return -EINVAL;
	out->inode = v;
	return 0;
}

int procnet_parse_format_ip(int family, const uint8_t *addr, char *out, size_t size)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char buf[INET6_ADDRSTRLEN];
	size_t n;

	if (family == AF_INET6 && memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
		family = AF_INET;
		addr += 12;
	}
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	if (!inet_ntop(family, addr, buf, sizeof(buf)))
		return -errno;
	n = strlen(buf);
	if (n >= size)
		return -ENOSPC;
	memcpy(out, buf, n + 1);
	return family;
}

int procnet_parse_socket_link(const char *s, size_t len, uint64_t *inode)
{
	uint64_t v = 0;
	size_t i;

	if (len < 10 || memcmp(s, "socket:[", 8) != 0 || s[len - 1] != ']')
		return -EINVAL;
	for (i = 8; i < len - 1; i++) {
		if (s[i] < '0' || s[i] > '9' || i - 8 >= 20)
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*inode = v;
	return 0;
}
