#include "litscan.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "le.h"

#include "banned.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Anchors are up to four bytes wide: a literal of 4 bytes or more is indexed under one window of
 * four, a shorter one under all of its bytes. One tier per width. */
#define NTIERS 4
#define FOLD4 0x20202020u
#define HASH_MUL 0x9E3779B1u
/* Bitmap bits per anchor key: few enough set bits that a text window hits a stray one about
 * once in a hundred positions, small enough that thousands of keys fit the first-level cache. */
#define BITS_PER_KEY 64
#define MIN_BITS_LOG2 9
#define MAX_BITS_LOG2 20

struct lit {
	uint32_t off; /* of the literal's bytes in the builder / scanner */
	uint32_t len;
	uint32_t id;
	uint8_t where; /* enum litscan_where */
};

/* Literals found anywhere are anchored on a window the scan probes at every position; literals
 * bound to the start (or the whole text) on their first bytes, probed once at the start; literals
 * bound to the end on their last bytes, probed once at the end. */
enum { CLS_ANY, CLS_START, CLS_END, NCLASSES };

struct litscan_builder {
	unsigned char *bytes;
	size_t nbytes, abytes;
	struct lit *lits;
	size_t nlits, alits;
};

/* A literal under its anchor: where the anchor starts in it. */
struct entry {
	uint32_t key; /* the anchor's bytes, little-endian, each ORed with 0x20 */
	uint32_t anchor;
	uint32_t off; /* folded bytes in the scanner */
	uint32_t len;
	uint32_t id;
	uint8_t cls;  /* CLS_* */
	uint8_t tier; /* anchor width - 1 */
	bool whole;   /* the literal must be the whole text */
	/* A literal longer than four bytes: another four of its bytes (from chk_off, ORed with
	 * 0x20 like keys), compared before the whole literal. Many literals share an anchor
	 * ("/var" of "/var/run/...", "/var/log/..." bound to the start; "mctl" of
	 * "/systemctl" and its like at the end): this tells them apart in one load. */
	uint8_t chk_off;
	uint32_t chk;
};

/* Open addressing by key: the range of entries under it (cnt 0: empty slot). */
struct slot {
	uint32_t key;
	uint32_t lo;
	uint32_t cnt;
};

/* A tier of short anchors (one to three bytes) with at most this many keys is searched for
 * key by key, sixteen positions at a time, rather than probed at every position: such anchors
 * are whole literals, rare in rule sets but each a probe per byte of every value otherwise. */
#define FEW_KEYS 8

/* A bitmap that the anywhere tiers of one width of several scanners share (litscan_build_set):
 * freed with the last of them. */
struct shared_bitmap {
	uint64_t *bits;
	size_t refs;
};

struct tier {
	uint32_t mask; /* the anchor's bytes of a four-byte load */
	uint32_t shift;
	uint64_t *bitmap;
	struct shared_bitmap *shared; /* NULL: bitmap is the tier's own */
	struct slot *slots;
	uint32_t slot_mask;
	uint32_t slot_shift;
	uint32_t nfew; /* 0, or the tier's keys are few[0, nfew) (FEW_KEYS) */
	uint32_t few[FEW_KEYS];
	/* Byte j of few key k in all sixteen bytes of fewv[k * 3 + j] (16-aligned), so a block's
	 * comparisons load them instead of building them (SSE2 builds only). */
	unsigned char (*fewv)[16];
};

struct litscan {
	struct tier tier[NCLASSES][NTIERS];
	unsigned active[NCLASSES]; /* bit w-1: tier of width w has literals */
	unsigned few;		   /* bit w-1: the anywhere tier of width w has few keys */
	struct entry *entries;
	size_t nentries;
	unsigned char *folded;
	size_t nfolded;
	size_t min_len; /* of the literals: a shorter text holds none */
};

static const unsigned char FOLD[256] = {
#define R(b)                                                                                       \
	(b) + 0, (b) + 1, (b) + 2, (b) + 3, (b) + 4, (b) + 5, (b) + 6, (b) + 7, (b) + 8, (b) + 9,  \
	    (b) + 10, (b) + 11, (b) + 12, (b) + 13, (b) + 14, (b) + 15
    R(0x00), R(0x10), R(0x20), R(0x30), 0x40,	 'a',	  'b',	   'c',	    'd',     'e',
    'f',     'g',     'h',     'i',	'j',	 'k',	  'l',	   'm',	    'n',     'o',
    'p',     'q',     'r',     's',	't',	 'u',	  'v',	   'w',	    'x',     'y',
    'z',     0x5b,    0x5c,    0x5d,	0x5e,	 0x5f,	  R(0x60), R(0x70), R(0x80), R(0x90),
    R(0xa0), R(0xb0), R(0xc0), R(0xd0), R(0xe0), R(0xf0),
#undef R
};

/* Little-endian value of n <= 4 bytes, zero padded (anchors and text tails). */
static uint32_t load_upto4(const unsigned char *p, size_t n)
{
	uint32_t x = 0;

	for (size_t k = 0; k < n && k < 4; k++)
		x |= (uint32_t)p[k] << (8 * k);
	return x;
}

static uint32_t tier_mask(unsigned width)
{
	return width >= 4 ? UINT32_MAX : (1u << (8 * width)) - 1;
}

/* ---- builder ---- */
struct litscan_builder *litscan_builder_new(void)
{
	return calloc(1, sizeof(struct litscan_builder));
}

void litscan_builder_free(struct litscan_builder *b)
{
	if (!b)
		return;
	free(b->bytes);
	free(b->lits);
	free(b);
}

static int grow(void **p, size_t *alloc, size_t need, size_t elem, size_t first)
{
	if (need <= *alloc)
		return 0;
	size_t n = *alloc ? *alloc : first;
	while (n < need) {
		if (n > SIZE_MAX / 2 / elem)
			return -ENOMEM;
		n *= 2;
	}
	void *q = realloc(*p, n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*alloc = n;
	return 0;
}

int litscan_builder_add(struct litscan_builder *b, const void *lit, size_t len, uint32_t id)
{
	return litscan_builder_add_at(b, lit, len, id, LITSCAN_ANYWHERE);
}

int litscan_builder_add_at(struct litscan_builder *b, const void *lit, size_t len, uint32_t id,
			   enum litscan_where where)
{
	if (!b || !lit || len == 0 || (unsigned)where > LITSCAN_WHOLE)
		return -EINVAL;
	if (len > LITSCAN_MAX_LITERAL || b->nlits >= LITSCAN_MAX_LITERALS)
		return -E2BIG;
	if (b->nbytes + len > UINT32_MAX)
		return -E2BIG;
	if (grow((void **)&b->bytes, &b->abytes, b->nbytes + len, 1, 4096) < 0 ||
	    grow((void **)&b->lits, &b->alits, b->nlits + 1, sizeof(*b->lits), 64) < 0)
		return -ENOMEM;
	memcpy(b->bytes + b->nbytes, lit, len);
	b->lits[b->nlits++] = (struct lit){
	    .off = (uint32_t)b->nbytes, .len = (uint32_t)len, .id = id, .where = (uint8_t)where};
	b->nbytes += len;
	return 0;
}

/* ---- anchors ---- */
/* How common a folded byte is in command lines, paths and log text: separators and frequent
 * letters cost most, so the chosen window is the one a scan will meet least often. */
static unsigned byte_cost(unsigned char c)
{
	if (c && strchr(" /.-_=:,\\\"'", c))
		return 5;
	if (c >= '0' && c <= '9')
		return 3;
	if (c && strchr("etaoinsr", c))
		return 3;
	if (c && strchr("lcdpmuhbg", c))
		return 2;
	return 1;
}

/* Words that process, file and network events are full of (paths, interpreters, service
 * names): a literal anchored on a window inside one would be compared at most positions of a
 * scan. */
static const char *const COMMON_WORDS[] = {
    "/bin/bash", "/sbin/",  "/usr/",	   "/tmp/",   "/dev/null", "/etc/",   "/var/log/",
    "/lib64/",	 "/home/",  "/proc/self/", "/root/",  "/run/",	   "/opt/",   "/local/",
    "/share/",	 "http://", "https://",	   "exec",    "python",	   "perl",    "ruby",
    "java",	 "node",    "grep",	   "load",    "server",	   "service", "base",
    "pack",	 "export",  "chown",	   "chmod",   "passwd",	   "shadow",  "systemd",
    "system",	 "cron",    "docker",	   "sudo",    "config",	   "include", "cache",
    "nginx",	 "apache",  "www-data",	   "data",    "x86_64",	   "linux",   "gnu",
    "worker",	 "main",    "postgres",	   "mysql",   "journal",   "status",  "start",
    "stop",	 "install", "update",	   "curl",    "wget",	   "echo",    "find",
    "name",	 "type",    "file",	   "host",    "list",	   "string",  "print",
    "import",	 "index",   "hash",	   "time",    "temp",	   "backup",  "make",
    "build",	 "test",    "package",	   "version", "socket",	   "kworker", "process",
    "kernel",	 "module",  "session",	   "network", "manager",   "client",  "daemon",
    "user",	 "group",   "password",	   "-rf ",    " -rf",	   " -c ",    " -f ",
    " -s ",	 ".so.",    ".conf",	   ".log",    ".py",	   ".sh ",    ".json",
    "true",	 "false",   "null",	   "none",    "default"};

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return (a > b) - (a < b);
}

/* Every four-byte window of the common words, sorted; *n set. NULL when out of memory. */
static uint32_t *common_grams(size_t *n)
{
	size_t cap = 0, k = 0;
	for (size_t w = 0; w < sizeof(COMMON_WORDS) / sizeof(COMMON_WORDS[0]); w++)
		cap += strlen(COMMON_WORDS[w]);
	uint32_t *g = malloc(cap * sizeof(*g));
	if (!g)
		return NULL;
	for (size_t w = 0; w < sizeof(COMMON_WORDS) / sizeof(COMMON_WORDS[0]); w++) {
		size_t len = strlen(COMMON_WORDS[w]);
		for (size_t o = 0; o + 4 <= len; o++)
			g[k++] = le32_get((const unsigned char *)COMMON_WORDS[w] + o);
	}
	qsort(g, k, sizeof(*g), cmp_u32);
	*n = k;
	return g;
}

/* Where the literal's four-byte anchor starts (folded bytes, len >= 4): the window the scan will
 * meet least often, by its bytes and whether common words hold it. */
static uint32_t pick_anchor(const unsigned char *f, uint32_t len, const uint32_t *common,
			    size_t ncommon)
{
	uint32_t best = 0;
	unsigned best_cost = UINT32_MAX;

	for (uint32_t o = 0; o + 4 <= len; o++) {
		uint32_t w = le32_get(f + o);
		unsigned cost = byte_cost(f[o]) + byte_cost(f[o + 1]) + byte_cost(f[o + 2]) +
				byte_cost(f[o + 3]) +
				(bsearch(&w, common, ncommon, sizeof(w), cmp_u32) ? 20 : 0);
		if (cost < best_cost) {
			best_cost = cost;
			best = o;
		}
	}
	return best;
}

static int cmp_entry(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;

	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->tier != b->tier)
		return a->tier < b->tier ? -1 : 1;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static uint32_t hash_key(uint32_t key, uint32_t shift)
{
	return (key * HASH_MUL) >> shift;
}

/* Bitmap and slot table of one tier over its sorted entries [lo, hi). */
static int tier_build(struct litscan *s, unsigned cls, unsigned t, size_t lo, size_t hi)
{
	struct tier *tr = &s->tier[cls][t];
	size_t nkeys = 0;

	for (size_t k = lo; k < hi; k++)
		nkeys += k == lo || s->entries[k].key != s->entries[k - 1].key;
	unsigned lg = MIN_BITS_LOG2;
	while (lg < MAX_BITS_LOG2 && ((size_t)1 << lg) < nkeys * BITS_PER_KEY)
		lg++;
	tr->mask = tier_mask(t + 1);
	tr->shift = 32 - lg;
	tr->bitmap = calloc((size_t)1 << (lg - 6), sizeof(uint64_t));
	unsigned slg = 3;
	while (((size_t)1 << slg) < nkeys * 2)
		slg++;
	size_t cap = (size_t)1 << slg;
	tr->slots = calloc(cap, sizeof(*tr->slots));
	if (!tr->bitmap || !tr->slots)
		return -ENOMEM;
	tr->slot_mask = (uint32_t)cap - 1;
	tr->slot_shift = 32 - slg;
	for (size_t k = lo; k < hi;) {
		uint32_t key = s->entries[k].key;
		size_t end = k + 1;

		while (end < hi && s->entries[end].key == key)
			end++;
		uint32_t h = hash_key(key, tr->shift);
		tr->bitmap[h >> 6] |= UINT64_C(1) << (h & 63);
		uint32_t i = hash_key(key, tr->slot_shift);
		while (tr->slots[i].cnt)
			i = (i + 1) & tr->slot_mask;
		tr->slots[i] =
		    (struct slot){.key = key, .lo = (uint32_t)k, .cnt = (uint32_t)(end - k)};
		if (t < NTIERS - 1 && cls == CLS_ANY && nkeys <= FEW_KEYS)
			tr->few[tr->nfew++] = key;
		k = end;
	}
	s->active[cls] |= 1u << t;
#ifdef __SSE2__
	if (tr->nfew) {
		tr->fewv = aligned_alloc(16, (size_t)tr->nfew * (NTIERS - 1) * 16);
		if (!tr->fewv)
			return -ENOMEM;
		for (uint32_t k = 0; k < tr->nfew; k++)
			for (unsigned j = 0; j < NTIERS - 1; j++)
				memset(tr->fewv[k * (NTIERS - 1) + j],
				       (int)(uint8_t)(tr->few[k] >> (8 * j)), 16);
		s->few |= 1u << t;
	}
#else
	tr->nfew = 0;
#endif
	return 0;
}

struct litscan *litscan_build(const struct litscan_builder *b)
{
	struct litscan *s = calloc(1, sizeof(*s));
	uint32_t *common = NULL;
	size_t ncommon = 0;
	int rc = -ENOMEM;

	if (!s)
		goto out;
	if (!b || !b->nlits)
		return s;
	common = common_grams(&ncommon);
	s->folded = malloc(b->nbytes);
	s->entries = calloc(b->nlits, sizeof(*s->entries));
	if (!common || !s->folded || !s->entries)
		goto out;
	for (size_t k = 0; k < b->nbytes; k++)
		s->folded[k] = FOLD[b->bytes[k]];
	s->nfolded = b->nbytes;
	s->min_len = SIZE_MAX;
	for (size_t k = 0; k < b->nlits; k++) {
		const struct lit *l = &b->lits[k];
		if (l->len < s->min_len)
			s->min_len = l->len;
		const unsigned char *f = s->folded + l->off;
		uint32_t width = l->len < 4 ? l->len : 4, anchor = 0;
		uint8_t cls = CLS_ANY;

		if (l->where == LITSCAN_START || l->where == LITSCAN_WHOLE) {
			cls = CLS_START;
		} else if (l->where == LITSCAN_END) {
			cls = CLS_END;
			anchor = l->len - width;
		} else if (l->len >= 4) {
			anchor = pick_anchor(f, l->len, common, ncommon);
		}
		/* the window after the anchor, else the one before, else the last */
		uint32_t chk_off = anchor + 8 <= l->len ? anchor + 4
				   : anchor >= 4	  ? anchor - 4
							  : l->len - 4;
		s->entries[k] = (struct entry){
		    .key = load_upto4(f + anchor, width) | (FOLD4 & tier_mask(width)),
		    .anchor = anchor,
		    .off = l->off,
		    .len = l->len,
		    .id = l->id,
		    .cls = cls,
		    .tier = (uint8_t)(width - 1),
		    .whole = l->where == LITSCAN_WHOLE,
		    .chk_off = (uint8_t)(l->len > 4 && chk_off < 256 ? chk_off : 0),
		    .chk = l->len > 4 && chk_off < 256 ? le32_get(f + chk_off) | FOLD4 : 0,
		};
	}
	s->nentries = b->nlits;
	qsort(s->entries, s->nentries, sizeof(*s->entries), cmp_entry);
	for (size_t k = 0; k < s->nentries;) {
		size_t end = k;

		while (end < s->nentries && s->entries[end].cls == s->entries[k].cls &&
		       s->entries[end].tier == s->entries[k].tier)
			end++;
		if ((rc = tier_build(s, s->entries[k].cls, s->entries[k].tier, k, end)) < 0)
			goto out;
		k = end;
	}
	free(common);
	return s;
out:
	free(common);
	litscan_free(s);
	errno = -rc;
	return NULL;
}

/* The keys of the anywhere tier of width t + 1 of every scanner of out[0, n), distinct, into one
 * bitmap that each such tier then reads instead of its own. 0 or -ENOMEM. */
static int share_tier(struct litscan **out, size_t n, unsigned t)
{
	size_t nk = 0, k = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t e = 0; e < out[i]->nentries; e++)
			nk += out[i]->entries[e].cls == CLS_ANY && out[i]->entries[e].tier == t;
	if (!nk)
		return 0;
	uint32_t *keys = malloc(nk * sizeof(*keys));
	struct shared_bitmap *sh = calloc(1, sizeof(*sh));
	if (!keys || !sh)
		goto nomem;
	for (size_t i = 0; i < n; i++)
		for (size_t e = 0; e < out[i]->nentries; e++)
			if (out[i]->entries[e].cls == CLS_ANY && out[i]->entries[e].tier == t)
				keys[k++] = out[i]->entries[e].key;
	qsort(keys, nk, sizeof(*keys), cmp_u32);
	size_t distinct = 0;
	for (k = 0; k < nk; k++)
		distinct += k == 0 || keys[k] != keys[k - 1];
	unsigned lg = MIN_BITS_LOG2;
	while (lg < MAX_BITS_LOG2 && ((size_t)1 << lg) < distinct * BITS_PER_KEY)
		lg++;
	if (!(sh->bits = calloc((size_t)1 << (lg - 6), sizeof(uint64_t))))
		goto nomem;
	for (k = 0; k < nk; k++) {
		uint32_t h = hash_key(keys[k], 32 - lg);
		sh->bits[h >> 6] |= UINT64_C(1) << (h & 63);
	}
	free(keys);
	for (size_t i = 0; i < n; i++) {
		struct tier *tr = &out[i]->tier[CLS_ANY][t];
		if (!(out[i]->active[CLS_ANY] & (1u << t)))
			continue;
		free(tr->bitmap);
		tr->bitmap = sh->bits;
		tr->shift = 32 - lg;
		tr->shared = sh;
		sh->refs++;
	}
	return 0;
nomem:
	free(keys);
	free(sh);
	return -ENOMEM;
}

int litscan_build_set(struct litscan_builder *const *b, size_t n, struct litscan **out)
{
	int rc = 0;
	size_t i;
	for (i = 0; i < n; i++)
		out[i] = NULL;
	for (i = 0; i < n && rc == 0; i++)
		if (!(out[i] = litscan_build(b[i])))
			rc = -errno;
	for (unsigned t = 0; t < NTIERS && rc == 0; t++)
		rc = share_tier(out, n, t);
	if (rc == 0)
		return 0;
	for (i = 0; i < n; i++) {
		litscan_free(out[i]);
		out[i] = NULL;
	}
	return rc;
}

void litscan_free(struct litscan *s)
{
	if (!s)
		return;
	for (unsigned c = 0; c < NCLASSES; c++)
		for (unsigned t = 0; t < NTIERS; t++) {
			struct shared_bitmap *sh = s->tier[c][t].shared;
			if (!sh) {
				free(s->tier[c][t].bitmap);
			} else if (--sh->refs == 0) {
				free(sh->bits);
				free(sh);
			}
			free(s->tier[c][t].slots);
			free(s->tier[c][t].fewv);
		}
	free(s->entries);
	free(s->folded);
	free(s);
}

/* ---- scanning ---- */
static bool same_folded(const unsigned char *text, const unsigned char *lit, uint32_t len)
{
	for (uint32_t k = 0; k < len; k++)
		if (FOLD[text[k]] != lit[k])
			return false;
	return true;
}

/* The window at pos has a set bit: compare every literal anchored under its key. */
static int verify(const struct litscan *s, const struct tier *tr, uint32_t key,
		  const unsigned char *p, size_t len, size_t pos, litscan_hit_fn fn, void *ctx)
{
	uint32_t i = hash_key(key, tr->slot_shift);

	for (; tr->slots[i].cnt; i = (i + 1) & tr->slot_mask) {
		if (tr->slots[i].key != key)
			continue;
		const struct slot *sl = &tr->slots[i];
		for (uint32_t k = sl->lo; k < sl->lo + sl->cnt; k++) {
			const struct entry *e = &s->entries[k];

			if (e->anchor > pos || pos - e->anchor + e->len > len ||
			    (e->whole && e->len != len))
				continue;
			if (e->chk && (le32_get(p + pos - e->anchor + e->chk_off) | FOLD4) != e->chk)
				continue;
			if (!same_folded(p + pos - e->anchor, s->folded + e->off, e->len))
				continue;
			int rc = fn(ctx, e->id, pos - e->anchor);
			if (rc)
				return rc;
		}
		break;
	}
	return 0;
}

static inline int probe(const struct litscan *s, const struct tier *tr, uint32_t x,
			const unsigned char *p, size_t len, size_t pos, litscan_hit_fn fn,
			void *ctx)
{
	uint32_t key = (x & tr->mask) | (FOLD4 & tr->mask);
	uint32_t h = hash_key(key, tr->shift);

	if (likely(!(tr->bitmap[h >> 6] & (UINT64_C(1) << (h & 63)))))
		return 0;
	return verify(s, tr, key, p, len, pos, fn, ctx);
}

/* The literals bound to the start or the end: one probe per anchor width that has some (and
 * fits the text), all widths cut from one load at each end. */
static int scan_ends(const struct litscan *s, const unsigned char *p, size_t len, litscan_hit_fn fn,
		     void *ctx)
{
	const unsigned start = s->active[CLS_START], end = s->active[CLS_END];
	const uint32_t head = len >= 4 ? le32_get(p) : load_upto4(p, len);
	const uint32_t tail = len >= 4 ? le32_get(p + len - 4) : 0;
	int rc;

	const unsigned fits = len >= NTIERS ? (1u << NTIERS) - 1 : (1u << len) - 1; /* widths <= len */

	for (unsigned m = start & fits; m; m &= m - 1) {
		unsigned t = (unsigned)__builtin_ctz(m);
		if ((rc = probe(s, &s->tier[CLS_START][t], head, p, len, 0, fn, ctx)))
			return rc;
	}
	for (unsigned m = end & fits; m; m &= m - 1) {
		unsigned t = (unsigned)__builtin_ctz(m);
		uint32_t x = len >= 4 ? tail >> (8 * (3 - t)) : load_upto4(p + len - t - 1, t + 1);
		if ((rc = probe(s, &s->tier[CLS_END][t], x, p, len, len - t - 1, fn, ctx)))
			return rc;
	}
	return 0;
}

/* Bit 0: whether one of the four windows of tr's width that start in the first four bytes of x
 * has its bit set. */
static inline __attribute__((always_inline)) uint64_t bits4(const struct tier *tr, uint64_t x)
{
	const uint64_t *bm = tr->bitmap;
	const uint32_t mask = tr->mask, sh = tr->shift;
	uint32_t h0 = hash_key((uint32_t)x & mask, sh),
		 h1 = hash_key((uint32_t)(x >> 8) & mask, sh),
		 h2 = hash_key((uint32_t)(x >> 16) & mask, sh),
		 h3 = hash_key((uint32_t)(x >> 24) & mask, sh);
	return (bm[h0 >> 6] >> (h0 & 63)) | (bm[h1 >> 6] >> (h1 & 63)) |
	       (bm[h2 >> 6] >> (h2 & 63)) | (bm[h3 >> 6] >> (h3 & 63));
}

/* The literals found anywhere, for the anchor widths in any (bit w - 1 for width w). Every width
 * is hashed from the same eight-byte load, four positions at a time, and the bits found are
 * tested together: a set bit is rare, so there is one branch per four positions however many
 * widths there are. Inlined with any constant for the usual sets, so unused widths cost
 * nothing. The last positions, where a load would pass the end, are probed one at a time. */
static inline __attribute__((always_inline)) int scan_any(const struct litscan *s, unsigned any,
							  const unsigned char *p, size_t len,
							  litscan_hit_fn fn, void *ctx)
{
	const struct tier *tiers = s->tier[CLS_ANY];
	size_t pos = 0;
	int rc;

	for (; pos + 8 <= len; pos += 4) {
		const uint64_t x = le64_get(p + pos) | 0x2020202020202020ull;
		uint64_t set = 0;
		if (any & 8)
			set |= bits4(&tiers[3], x);
		if (any & 4)
			set |= bits4(&tiers[2], x);
		if (any & 2)
			set |= bits4(&tiers[1], x);
		if (any & 1)
			set |= bits4(&tiers[0], x);
		if (likely(!(set & 1)))
			continue;
		for (unsigned t = 0; t < NTIERS; t++)
			if (any & (1u << t))
				for (size_t q = pos; q < pos + 4; q++)
					if ((rc = probe(s, &tiers[t], le32_get(p + q), p, len, q,
							fn, ctx)))
						return rc;
	}
	for (unsigned t = 0; t < NTIERS; t++) {
		if (!(any & (1u << t)))
			continue;
		for (size_t q = pos; q + t < len; q++) {
			uint32_t x = q + 4 <= len ? le32_get(p + q) : load_upto4(p + q, len - q);
			if ((rc = probe(s, &tiers[t], x, p, len, q, fn, ctx)))
				return rc;
		}
	}
	return 0;
}

#ifdef __SSE2__
/* The positions base + i (bit i of valid) where one of the few keys of tier tr (anchors of
 * t + 1 bytes) starts in q[0, 16 + t), which holds the text from base on: sixteen positions per
 * comparison. Each is verified against the text p[0, len). */
static inline __attribute__((always_inline)) int
few_block(const struct litscan *s, const struct tier *tr, unsigned t, const unsigned char *q,
	  size_t base, unsigned valid, const unsigned char *p, size_t len, litscan_hit_fn fn,
	  void *ctx)
{
	const __m128i fold = _mm_set1_epi8(0x20);
	__m128i b[NTIERS - 1];
	int rc;

	for (unsigned j = 0; j <= t; j++)
		b[j] = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(q + j)), fold);
	for (uint32_t k = 0; k < tr->nfew; k++) {
		const uint32_t key = tr->few[k];
		const __m128i *kv = (const __m128i *)(const void *)tr->fewv[k * (NTIERS - 1)];
		__m128i m = _mm_cmpeq_epi8(b[0], _mm_load_si128(kv));
		for (unsigned j = 1; j <= t; j++)
			m = _mm_and_si128(m, _mm_cmpeq_epi8(b[j], _mm_load_si128(kv + j)));
		for (unsigned hit = (unsigned)_mm_movemask_epi8(m) & valid; hit; hit &= hit - 1) {
			size_t at = base + (unsigned)__builtin_ctz(hit);
			if ((rc = verify(s, tr, key, p, len, at, fn, ctx)))
				return rc;
		}
	}
	return 0;
}

/* Every position of p[0, len) where one of the few keys of the anywhere tier t (anchors of
 * t + 1 bytes) is, sixteen at a time. The positions a whole block would not reach are
 * compared in one more block: the last sixteen of the text, without those already compared,
 * or, for a text shorter than a block, a copy of it padded with zeros (padding positions are
 * left out). */
static inline __attribute__((always_inline)) int scan_few(const struct litscan *s, unsigned t,
							  const unsigned char *p, size_t len,
							  litscan_hit_fn fn, void *ctx)
{
	const struct tier *tr = &s->tier[CLS_ANY][t];
	size_t pos = 0;
	int rc;

	for (; pos + t + 16 <= len; pos += 16)
		if ((rc = few_block(s, tr, t, p + pos, pos, 0xffffu, p, len, fn, ctx)))
			return rc;
	if (pos + t >= len)
		return 0;
	if (pos) {
		size_t start = len - t - 16;
		return few_block(s, tr, t, p + start, start, 0xffffu & ~((1u << (pos - start)) - 1),
				 p, len, fn, ctx);
	}
	unsigned char pad[32] = {0};
	memcpy(pad, p, len);
	return few_block(s, tr, t, pad, 0, (1u << (len - t)) - 1, p, len, fn, ctx);
}
#endif

int litscan_scan(const struct litscan *s, const void *text, size_t len, litscan_hit_fn fn,
		 void *ctx)
{
	const unsigned char *p = text;
	unsigned any;
	int rc;

	if (!s || !p || len < s->min_len || !len)
		return 0;
	if ((s->active[CLS_START] | s->active[CLS_END]) && (rc = scan_ends(s, p, len, fn, ctx)))
		return rc;
	any = s->active[CLS_ANY];
#ifdef __SSE2__
	if (s->few & any) {
		/* One copy per width, so each compares a constant number of bytes. */
		if ((s->few & 1) && (rc = scan_few(s, 0, p, len, fn, ctx)))
			return rc;
		if ((s->few & 2) && (rc = scan_few(s, 1, p, len, fn, ctx)))
			return rc;
		if ((s->few & 4) && (rc = scan_few(s, 2, p, len, fn, ctx)))
			return rc;
		any &= ~s->few;
	}
#endif
	switch (any) {
	case 0:
		return 0;
	case 8: /* four-byte anchors only: the usual case */
		return scan_any(s, 8, p, len, fn, ctx);
	case 12: /* and three-byte ones */
		return scan_any(s, 12, p, len, fn, ctx);
	default:
		return scan_any(s, any, p, len, fn, ctx);
	}
}

size_t litscan_literal_count(const struct litscan *s)
{
	return s ? s->nentries : 0;
}

size_t litscan_memory_bytes(const struct litscan *s)
{
	if (!s)
		return 0;
	size_t n = sizeof(*s) + s->nentries * sizeof(*s->entries) + s->nfolded;
	for (unsigned c = 0; c < NCLASSES; c++)
		for (unsigned t = 0; t < NTIERS; t++)
			if (s->active[c] & (1u << t)) {
				const struct tier *tr = &s->tier[c][t];
				size_t bits = ((size_t)1 << (32 - tr->shift)) / 8;
				/* a shared bitmap counts in equal parts in each of its scanners */
				n += (tr->shared ? bits / tr->shared->refs : bits) +
				     ((size_t)tr->slot_mask + 1) * sizeof(struct slot);
			}
	return n;
}
