#include "cidr.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "banned.h"

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Zone ids are interface names or numbers; anything else is more likely an injection. */
#define CIDR_MAX_ZONE 64

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly "d.d.d.d" filling all n bytes, each part 0..255 without leading zeros: "010" is octal to
 * inet_aton and decimal to others, so it is refused rather than guessed. */
static int parse_v4(const char *s, size_t n, uint8_t out[4])
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		size_t start;
		unsigned v = 0;

		if (part) {
			if (i >= n || s[i] != '.')
				return -EINVAL;
			i++;
		}
		start = i;
		while (i < n && i - start < 3 && s[i] >= '0' && s[i] <= '9')
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
			return -EINVAL;
		out[part] = (uint8_t)v;
	}
	return i == n ? 0 : -EINVAL;
}

/* RFC 4291 text: eight 1..4 digit hex groups, at most one "::" standing for one or more zero
 * groups, optionally ending in a dotted quad that fills the last two groups. */
static int parse_v6(const char *s, size_t n, uint8_t out[16])
{
	uint16_t w[8] = {0};
	size_t nw = 0, i = 0;
	int gap = -1;

	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		gap = 0;
		i = 2;
	} else if (n > 0 && s[0] == ':') {
		return -EINVAL;
	}
	while (i < n) {
		size_t start = i;
		unsigned v = 0;
		int h;

		while (i < n && (h = hex_value(s[i])) >= 0) {
			if (i - start == 4)
				return -EINVAL;
			v = v << 4 | (unsigned)h;
			i++;
		}
		if (i < n && s[i] == '.') {
			uint8_t q[4];

			if (nw > 6 || parse_v4(s + start, n - start, q))
				return -EINVAL;
			w[nw++] = (uint16_t)(q[0] << 8 | q[1]);
			w[nw++] = (uint16_t)(q[2] << 8 | q[3]);
			break;
		}
		if (i == start || nw == 8)
			return -EINVAL;
		w[nw++] = (uint16_t)v;
		if (i == n)
			break;
		if (s[i++] != ':' || i == n)
			return -EINVAL;
		if (s[i] == ':') {
			if (gap >= 0)
				return -EINVAL;
			gap = (int)nw;
			i++;
		}
	}
	if (gap >= 0) {
		size_t tail = nw - (size_t)gap;

		if (nw > 7)
			return -EINVAL;
		memmove(w + 8 - tail, w + gap, tail * sizeof(w[0]));
		memset(w + gap, 0, (8 - nw) * sizeof(w[0]));
	} else if (nw != 8) {
		return -EINVAL;
	}
	for (size_t k = 0; k < 8; k++) {
		out[2 * k] = (uint8_t)(w[k] >> 8);
		out[2 * k + 1] = (uint8_t)w[k];
	}
	return 0;
}

static bool zone_is_valid(const char *z, size_t n)
{
	if (n == 0 || n > CIDR_MAX_ZONE)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = z[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* Parses an address, telling the caller whether it was written as IPv6 (which decides how a
 * following prefix length is counted). */
static int parse_addr(const char *s, size_t n, struct ip_addr *out, bool *v6_text)
{
	struct ip_addr a;
	bool bracket = false, zone = false;
	const char *pct;

	if (n == 0 || n > CIDR_MAX_TEXT)
		return -EINVAL;
	if (s[0] == '[') {
		if (n < 2 || s[n - 1] != ']')
			return -EINVAL;
		bracket = true;
		s++;
		n -= 2;
	}
	pct = memchr(s, '%', n);
	if (pct) {
		size_t at = (size_t)(pct - s);

		if (!zone_is_valid(pct + 1, n - at - 1))
			return -EINVAL;
		zone = true;
		n = at;
	}
	*v6_text = memchr(s, ':', n) != NULL;
	if (*v6_text) {
		if (parse_v6(s, n, a.b))
			return -EINVAL;
	} else {
		if (bracket || zone || parse_v4(s, n, a.b + 12))
			return -EINVAL;
		memcpy(a.b, v4_mapped_prefix, sizeof(v4_mapped_prefix));
	}
	*out = a;
	return 0;
}

int ip_addr_parse(const char *s, size_t n, struct ip_addr *out)
{
	bool v6_text;

	return parse_addr(s, n, out, &v6_text);
}

bool ip_addr_is_v4(const struct ip_addr *a)
{
	return memcmp(a->b, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0;
}

static void clear_host_bits(struct ip_addr *a, unsigned prefix)
{
	for (unsigned k = 0; k < 16; k++) {
		if (prefix >= 8 * (k + 1))
			continue;
		if (prefix <= 8 * k)
			a->b[k] = 0;
		else
			a->b[k] &= (uint8_t)(0xff00u >> (prefix - 8 * k));
	}
}

int cidr_parse(const char *s, size_t n, struct cidr *out)
{
	const char *slash;
	struct ip_addr a;
	unsigned prefix = 128, max;
	size_t alen = n;
	bool v6_text;

	if (n > CIDR_MAX_TEXT)
		return -EINVAL;
	slash = memchr(s, '/', n);
	if (slash)
		alen = (size_t)(slash - s);
	if (parse_addr(s, alen, &a, &v6_text))
		return -EINVAL;
	if (slash) {
		const char *p = slash + 1;
		size_t plen = n - alen - 1;

		if (plen == 0 || plen > 3 || (plen > 1 && p[0] == '0'))
			return -EINVAL;
		prefix = 0;
		for (size_t i = 0; i < plen; i++) {
			if (p[i] < '0' || p[i] > '9')
				return -EINVAL;
			prefix = prefix * 10 + (unsigned)(p[i] - '0');
		}
		max = v6_text ? 128 : 32;
		if (prefix > max)
			return -EINVAL;
		if (!v6_text)
			prefix += 96;
	}
	clear_host_bits(&a, prefix);
	out->net = a;
	out->prefix = (uint8_t)prefix;
	return 0;
}

bool cidr_contains(const struct cidr *c, const struct ip_addr *a)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (c->prefix > 128)
		return false;
	if (memcmp(c->net.b, a->b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((c->net.b[full] ^ a->b[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

void ip_addr_format(const struct ip_addr *a, char *buf, size_t size)
{
	char tmp[CIDR_ADDR_STRLEN];
	uint16_t w[8];
	size_t best = 8, best_len = 0, len = 0;

	if (size == 0)
		return;
	if (ip_addr_is_v4(a)) {
		(void)snprintf(buf, size, "%u.%u.%u.%u", a->b[12], a->b[13], a->b[14], a->b[15]);
		return;
	}
	for (size_t k = 0; k < 8; k++)
		w[k] = (uint16_t)(a->b[2 * k] << 8 | a->b[2 * k + 1]);
	/* RFC 5952: compress the first longest run of two or more zero groups. */
	for (size_t k = 0; k < 8;) {
		size_t run = 0;

		while (k + run < 8 && w[k + run] == 0)
			run++;
		if (run >= 2 && run > best_len) {
			best = k;
			best_len = run;
		}
		k += run ? run : 1;
	}
	for (size_t k = 0; k < 8; k++) {
		if (k == best) {
			tmp[len++] = ':';
			tmp[len++] = ':';
			k += best_len - 1;
			continue;
		}
		if (k > 0 && k != best + best_len)
			tmp[len++] = ':';
		len += (size_t)snprintf(tmp + len, sizeof(tmp) - len, "%x", w[k]);
	}
	tmp[len] = '\0';
	(void)snprintf(buf, size, "%s", tmp); /* truncation is the documented contract */
}

/* The set. Networks are nested or disjoint, so once sorted they flatten into a partition of the
 * address space into intervals, each labelled with its most specific network (or none); a
 * lookup is then a search for the last interval starting at or below the address.
 *
 * That search runs in a static 16-way tree over the sorted starts: leaves of 16 intervals (ids
 * next to keys, so a leaf is one burst of cache misses), and levels above holding the first key
 * of each child, so its cost does not depend on how addresses are distributed. A table indexed
 * by the top bits (of the IPv4 part for IPv4, which indicator lists are mostly made of; up to 16
 * bits, fewer for small sets so its size follows the set's) first bounds the answer to the
 * intervals starting in that slice; the descent then starts at the smallest tree node spanning
 * those, usually a single leaf, instead of at the root. */

struct u128 {
	uint64_t hi, lo;
};

struct set_entry {
	struct u128 start;
	uint32_t id;
	uint32_t seq; /* add order, so duplicates keep the first id despite qsort */
	uint8_t prefix;
};

#define NO_ID UINT64_MAX
#define FANOUT 16
#define FANOUT_BITS 4
/* 16^8 > 2 * CIDR_SET_MAX + 1 intervals. */
#define MAX_LEVELS 8
#define MAX_SLICE_BITS 16
#define HUGE_PAGE (2u << 20)

/* FANOUT intervals; past the last interval keys are all-ones and ids repeat the last one, so a
 * search can always count over the whole block. */
struct leaf {
	struct u128 key[FANOUT];
	uint64_t val[FANOUT]; /* id, or NO_ID */
};

struct cidr_set {
	struct set_entry *ents; /* until freeze */
	size_t n, alloc;
	bool frozen;
	struct u128 *starts; /* while freezing: nint intervals, starts[0] is 0 */
	uint64_t *vals;
	size_t nint;
	/* After freeze. Node heights: a leaf is 0, a block of level[l] is l + 1; a node at height
	 * h spans intervals [m << 4(h+1), (m + 1) << 4(h+1)). level[l][i] is the first key of
	 * node i one height below, padded with all-ones to whole blocks; the last level is one
	 * block. slice[k] is the first interval starting in slice k; slice[nslices] is nint. */
	struct leaf *leaves;
	struct u128 *level[MAX_LEVELS];
	size_t level_n[MAX_LEVELS];
	unsigned nlevels;
	uint32_t *slice;
	unsigned slice_bits;
	uint32_t nslices;
};

static uint64_t load_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

static struct u128 to_u128(const struct ip_addr *a)
{
	return (struct u128){load_be64(a->b), load_be64(a->b + 8)};
}

static bool u128_le(struct u128 a, struct u128 b)
{
#ifdef __SIZEOF_INT128__
	/* One compare-with-borrow instead of three compares: the block scans are the hot loop. */
	return ((unsigned __int128)a.hi << 64 | a.lo) <= ((unsigned __int128)b.hi << 64 | b.lo);
#else
	return (a.hi < b.hi) | ((a.hi == b.hi) & (a.lo <= b.lo));
#endif
}

static bool u128_eq(struct u128 a, struct u128 b)
{
	return a.hi == b.hi && a.lo == b.lo;
}

static struct u128 u128_next(struct u128 a)
{
	return (struct u128){a.hi + (a.lo == UINT64_MAX), a.lo + 1};
}

/* Last address of the network starting at start. */
static struct u128 net_end(struct u128 start, unsigned prefix)
{
	struct u128 host = {0, 0};

	if (prefix < 64) {
		host.hi = UINT64_MAX >> prefix;
		host.lo = UINT64_MAX;
	} else if (prefix < 128) {
		host.lo = UINT64_MAX >> (prefix - 64);
	}
	return (struct u128){start.hi | host.hi, start.lo | host.lo};
}

/* Slices in address order, so each one's intervals are contiguous: 0 below IPv4, then 2^bits
 * for IPv4 by the top bits of the IPv4 address, then 2^bits for the rest by the top bits. */
static uint32_t slice_of(const struct cidr_set *s, struct u128 a)
{
	unsigned b = s->slice_bits;

	if (a.hi == 0 && a.lo >> 32 == 0xffff)
		return 1 + (uint32_t)((a.lo & 0xffffffffu) >> (32 - b));
	if (a.hi == 0 && a.lo < 0xffff00000000ull)
		return 0;
	return 1 + (1u << b) + (uint32_t)(a.hi >> (64 - b));
}

struct cidr_set *cidr_set_new(void)
{
	return calloc(1, sizeof(struct cidr_set));
}

static void free_tree(struct cidr_set *s)
{
	free(s->leaves);
	s->leaves = NULL;
	for (unsigned l = 0; l < s->nlevels; l++) {
		free(s->level[l]);
		s->level[l] = NULL;
	}
	s->nlevels = 0;
	free(s->slice);
	s->slice = NULL;
}

void cidr_set_free(struct cidr_set *s)
{
	if (!s)
		return;
	free(s->ents);
	free(s->starts);
	free(s->vals);
	free_tree(s);
	free(s);
}

int cidr_set_add(struct cidr_set *s, const struct cidr *c, uint32_t id)
{
	struct ip_addr net;

	if (s->frozen)
		return -EBUSY;
	if (c->prefix > 128)
		return -EINVAL;
	if (s->n >= CIDR_SET_MAX)
		return -E2BIG;
	if (s->n == s->alloc) {
		size_t na = s->alloc ? s->alloc * 2 : 64;
		struct set_entry *p = realloc(s->ents, na * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->ents = p;
		s->alloc = na;
	}
	net = c->net;
	clear_host_bits(&net, c->prefix);
	s->ents[s->n] = (struct set_entry){to_u128(&net), id, (uint32_t)s->n, c->prefix};
	s->n++;
	return 0;
}

/* By start, then widest first (so a network precedes those inside it), then add order. */
static int cmp_entry(const void *pa, const void *pb)
{
	const struct set_entry *a = pa, *b = pb;

	if (a->start.hi != b->start.hi)
		return a->start.hi < b->start.hi ? -1 : 1;
	if (a->start.lo != b->start.lo)
		return a->start.lo < b->start.lo ? -1 : 1;
	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Starts an interval at start with val; one starting at the same place is replaced, and one that
 * would only continue its predecessor's label is merged into it. */
static void emit(struct cidr_set *s, struct u128 start, uint64_t val)
{
	if (s->nint && u128_eq(s->starts[s->nint - 1], start))
		s->nint--;
	if (s->nint && s->vals[s->nint - 1] == val)
		return;
	s->starts[s->nint] = start;
	s->vals[s->nint++] = val;
}

/* Sorted, distinct networks to intervals: at most 2n + 1 of them. */
static void flatten(struct cidr_set *s)
{
	/* Open networks, outermost first; nested ones have distinct prefixes, so 129 at most. */
	struct {
		struct u128 end;
		uint64_t val;
	} stack[129];
	size_t depth = 0;
	const struct u128 zero = {0, 0};

	s->nint = 0;
	emit(s, zero, NO_ID);
	for (size_t i = 0; i < s->n; i++) {
		const struct set_entry *e = &s->ents[i];

		while (depth && !u128_le(e->start, stack[depth - 1].end)) {
			struct u128 after = u128_next(stack[--depth].end);

			emit(s, after, depth ? stack[depth - 1].val : NO_ID);
		}
		emit(s, e->start, e->id);
		stack[depth].end = net_end(e->start, e->prefix);
		stack[depth++].val = e->id;
	}
	while (depth) {
		struct u128 end = stack[--depth].end;

		if (end.hi != UINT64_MAX || end.lo != UINT64_MAX)
			emit(s, u128_next(end), depth ? stack[depth - 1].val : NO_ID);
	}
}

/* Cache-line aligned; big arrays on huge pages where the kernel allows, since each lookup
 * touches a random leaf and TLB misses would otherwise cost as much as the cache miss. */
static void *alloc_blocks(size_t bytes)
{
	size_t align = bytes >= 2 * (size_t)HUGE_PAGE ? HUGE_PAGE : 64;
	void *p;

	bytes = (bytes + align - 1) / align * align; /* aligned_alloc wants a multiple */
	p = aligned_alloc(align, bytes);
	if (p && align == HUGE_PAGE)
		(void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: fine if refused */
	return p;
}

/* Builds leaves, levels and the slice table from starts/vals[0..nint). 0 or -ENOMEM. */
static int build_tree(struct cidr_set *s)
{
	const struct u128 ones = {UINT64_MAX, UINT64_MAX};
	size_t nleaves = (s->nint + FANOUT - 1) / FANOUT, i = 0;

	/* About one slice per 4 intervals, so most slices fall within one leaf; the table costs
	 * about a byte per interval against 24 for the leaves. */
	s->slice_bits = 1;
	while (s->slice_bits < MAX_SLICE_BITS && (size_t)4 << (s->slice_bits + 1) <= s->nint)
		s->slice_bits++;
	s->nslices = 1 + (2u << s->slice_bits);
	s->leaves = alloc_blocks(nleaves * sizeof(struct leaf));
	s->slice = malloc((s->nslices + 1) * sizeof(*s->slice));
	if (!s->leaves || !s->slice)
		return -ENOMEM;
	for (size_t k = 0; k < nleaves * FANOUT; k++) {
		bool real = k < s->nint;

		s->leaves[k / FANOUT].key[k % FANOUT] = real ? s->starts[k] : ones;
		s->leaves[k / FANOUT].val[k % FANOUT] = s->vals[real ? k : s->nint - 1];
	}
	for (size_t n = nleaves; n > 1; n = (n + FANOUT - 1) / FANOUT) {
		size_t padded = (n + FANOUT - 1) / FANOUT * FANOUT;
		struct u128 *k = alloc_blocks(padded * sizeof(*k));
		unsigned l = s->nlevels;

		if (!k)
			return -ENOMEM;
		s->level[l] = k;
		s->level_n[l] = n;
		s->nlevels++;
		for (size_t j = 0; j < padded; j++) {
			if (j >= n)
				k[j] = ones;
			else if (l == 0)
				k[j] = s->leaves[j].key[0];
			else
				k[j] = s->level[l - 1][j * FANOUT];
		}
	}
	for (uint32_t k = 0; k <= s->nslices; k++) {
		while (i < s->nint && slice_of(s, s->starts[i]) < k)
			i++;
		s->slice[k] = (uint32_t)i;
	}
	return 0;
}

int cidr_set_freeze(struct cidr_set *s)
{
	size_t cap, m = 0;
	int rc = -ENOMEM;

	if (s->frozen)
		return 0;
	cap = 2 * s->n + 1;
	s->starts = malloc(cap * sizeof(*s->starts));
	s->vals = malloc(cap * sizeof(*s->vals));
	if (!s->starts || !s->vals)
		goto out;
	if (s->n)
		qsort(s->ents, s->n, sizeof(*s->ents), cmp_entry);
	for (size_t k = 0; k < s->n; k++)
		if (m == 0 || !u128_eq(s->ents[k].start, s->ents[m - 1].start) ||
		    s->ents[k].prefix != s->ents[m - 1].prefix)
			s->ents[m++] = s->ents[k];
	s->n = m;
	flatten(s);
	rc = build_tree(s);
	if (rc)
		goto out;
	free(s->ents);
	s->ents = NULL;
	s->alloc = 0;
	s->frozen = true;
out:
	free(s->starts);
	free(s->vals);
	s->starts = NULL;
	s->vals = NULL;
	if (rc)
		free_tree(s);
	return rc;
}

/* Where x falls in a sorted block whose first key is known to be <= x: the number of the other
 * keys that are <= x. Branch-free so all of the block's cache lines load at once. */
static size_t block_rank(const struct u128 *k, struct u128 x)
{
	size_t c = 0;

	for (size_t i = 1; i < FANOUT; i++)
		c += u128_le(k[i], x);
	return c;
}

bool cidr_set_lookup(const struct cidr_set *s, const struct ip_addr *a, uint32_t *id)
{
	const struct leaf *leaf;
	struct u128 x;
	size_t first, last, j;
	unsigned h = 0;
	uint32_t k;
	uint64_t d, v;

	if (!s->frozen)
		return false;
	x = to_u128(a);
	/* The answer is the interval before x's slice (it starts below x) or one starting in the
	 * slice, so it lies in [first, last]. Interval 0 starts at 0, in slice 0: for k > 0
	 * slice[k] >= 1, and slice[k + 1] >= 1 always. */
	k = slice_of(s, x);
	first = s->slice[k] ? s->slice[k] - 1 : 0;
	last = s->slice[k + 1] - 1;
	/* Start at the lowest node spanning [first, last]; its first key is <= starts[first] <= x,
	 * as every block searched must have. */
	d = first ^ last;
	while (h < s->nlevels && d >> (FANOUT_BITS * (h + 1)))
		h++;
	j = first >> (FANOUT_BITS * (h + 1));
	/* Padding is all-ones, so it only counts for x == all-ones, where the last real entry is
	 * the answer. */
	for (unsigned l = h; l-- > 0;) {
		j = j * FANOUT + block_rank(s->level[l] + j * FANOUT, x);
		if (j >= s->level_n[l])
			j = s->level_n[l] - 1;
	}
	leaf = &s->leaves[j];
	__builtin_prefetch(&leaf->val[0]);
	__builtin_prefetch(&leaf->val[FANOUT / 2]);
	v = leaf->val[block_rank(leaf->key, x)];
	if (v == NO_ID)
		return false;
	*id = (uint32_t)v;
	return true;
}

size_t cidr_set_count(const struct cidr_set *s)
{
	return s->n;
}
