#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

int wire_parse_epoch(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!s || strlen(s) != 16)
		return -EINVAL;
	for (i = 0; i < 16; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

void wire_format_epoch(uint64_t epoch, char *buf, size_t size)
{
	snprintf(buf, size, "%016llx", (unsigned long long)epoch);
}

int wire_parse_seq(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i, n;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}
