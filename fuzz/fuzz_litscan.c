/* Literal scanner: any literals and text build and scan cleanly, the occurrences reported are
 * exactly those of a naive case-folding search, each once, and a nonzero callback return stops the
 * scan there.
 *
 * Input: byte 0 gives the literal count (1 + low 4 bits) and, in bit 4, whether literals are bound
 * (to the start, the end or the whole text, by their first byte mod 4); each literal is a length,
 * one byte (1 + b when b < 0xf0) or three (b >= 0xf0: 1 + the next two bytes, big endian, mod 8192,
 * so lengths past LITSCAN_MAX_LITERAL occur), then its bytes; the rest, up to TEXT_MAX bytes, is
 * the text. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "litscan.h"

#include "banned.h"

#define MAX_LITERALS 16
#define TEXT_MAX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct literal {
	const uint8_t *p;
	size_t len;
	enum litscan_where where;
};

struct seen {
	uint16_t *at; /* per text offset: bitmask of literals reported starting there */
	size_t n, len, stop_after;
	const struct literal *lits;
	size_t nlit;
	const uint8_t *text;
};

static uint8_t fold(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static bool occurs(const struct literal *l, const uint8_t *text, size_t len, size_t at)
{
	if (l->len > len - at)
		return false;
	if ((l->where == LITSCAN_START && at != 0) ||
	    (l->where == LITSCAN_END && at + l->len != len) ||
	    (l->where == LITSCAN_WHOLE && (at != 0 || l->len != len)))
		return false;
	for (size_t k = 0; k < l->len; k++)
		if (fold(text[at + k]) != fold(l->p[k]))
			return false;
	return true;
}

static int on_hit(void *ctx, uint32_t id, size_t start)
{
	struct seen *s = ctx;

	if (id >= s->nlit || start >= s->len || (s->at[start] & (1u << id)))
		abort(); /* bad id, out of the text, or reported twice */
	if (!occurs(&s->lits[id], s->text, s->len, start))
		abort(); /* not there */
	s->at[start] |= (uint16_t)(1u << id);
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

static void check(const struct litscan_builder *b, const struct literal *lits, size_t nlit,
		  const uint8_t *text, size_t len)
{
	struct litscan *ls = litscan_build(b);
	struct seen s = {.len = len, .lits = lits, .nlit = nlit, .text = text};
	size_t want = 0;

	s.at = calloc(len + 1, sizeof(*s.at));
	if (!ls || !s.at)
		abort();
	if (litscan_literal_count(ls) != nlit || litscan_memory_bytes(ls) == 0)
		abort();
	if (litscan_scan(ls, text, len, on_hit, &s) != 0)
		abort();
	for (size_t at = 0; at < len; at++)
		for (size_t i = 0; i < nlit; i++)
			if (occurs(&lits[i], text, len, at)) {
				if (!(s.at[at] & (1u << i)))
					abort(); /* missed */
				want++;
			}
	if (s.n != want)
		abort();
	if (want) {
		memset(s.at, 0, (len + 1) * sizeof(*s.at));
		s.n = 0;
		s.stop_after = 1 + (len + nlit) % want;
		if (litscan_scan(ls, text, len, on_hit, &s) != 42 || s.n != s.stop_after)
			abort();
	}
	free(s.at);
	litscan_free(ls);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct literal lits[MAX_LITERALS];
	struct litscan_builder *b;
	size_t nlit = 0, want, pos = 1, len;

	if (size < 1)
		return 0;
	want = 1 + (data[0] & 15);
	b = litscan_builder_new();
	if (!b)
		abort();
	while (nlit < want && pos < size) {
		size_t n = 1 + (size_t)data[pos++];
		int rc;

		if (n > 0xf0) {
			if (size - pos < 2)
				break;
			n = 1 + ((((size_t)data[pos] << 8) | data[pos + 1]) % 8192);
			pos += 2;
		}
		if (n > size - pos)
			n = size - pos;
		if (n == 0)
			break;
		enum litscan_where where =
		    data[0] & 0x10 ? (enum litscan_where)(data[pos] % 4) : LITSCAN_ANYWHERE;
		rc = litscan_builder_add_at(b, data + pos, n, (uint32_t)nlit, where);
		if (n > LITSCAN_MAX_LITERAL) {
			if (rc != -E2BIG)
				abort();
		} else {
			if (rc)
				abort();
			lits[nlit].p = data + pos;
			lits[nlit].len = n;
			lits[nlit].where = where;
			nlit++;
		}
		pos += n;
	}
	len = size - pos < TEXT_MAX ? size - pos : TEXT_MAX;
	check(b, lits, nlit, data + pos, len);
	litscan_builder_free(b);
	return 0;
}
