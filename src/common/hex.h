/* Hex digits for the parsers (JSON \u escapes, /proc/net addresses, audit hex fields). */
#ifndef MAMORI_HEX_H
#define MAMORI_HEX_H

/* The value of one hex digit, or -1 when c is not one. */
static inline int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes n hex digits (n even) into out[size]. Returns the number of bytes or -1. */
static inline int hex_decode(const char *s, unsigned long n, unsigned char *out, unsigned long size)
{
	if (n % 2 || n / 2 > size)
		return -1;
	for (unsigned long i = 0; i < n; i += 2) {
		int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

#endif
