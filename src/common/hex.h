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

#endif
