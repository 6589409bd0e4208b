#include "ioc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cidr.h"
#include "detect_doc.h"
#include "detect_fields.h"
#include "hash64.h"
#include "utf8.h"

#include "banned.h"

/* Longest line the loader reads; longer ones are reported and skipped. */
#define LINE_MAX_LEN 4096
/* RFC 1035 limits, after the trailing dot is dropped. */
#define DOMAIN_MAX_LEN 253
#define LABEL_MAX_LEN 63
#define LIST_NAME_MAX 128
/* How much of a bad value a diag message quotes. */
#define QUOTE_MAX 80
#define POOL_CHUNK (1u << 20)

enum field_kind { KIND_HASH, KIND_IP, KIND_DOMAIN, KIND_PATH };

/* Where each type is looked for. Hash fields accept any of the three digest lengths, so a
 * SHA-1 in a field named sha256 by a sloppy producer still matches. */
#define FIELD_LIST(X)                                                                              \
	X("process.hash.sha256", KIND_HASH)                                                        \
	X("process.hash.sha1", KIND_HASH)                                                          \
	X("process.hash.md5", KIND_HASH)                                                           \
	X("process.parent.hash.sha256", KIND_HASH)                                                 \
	X("process.parent.hash.sha1", KIND_HASH)                                                   \
	X("process.parent.hash.md5", KIND_HASH)                                                    \
	X("file.hash.sha256", KIND_HASH)                                                           \
	X("file.hash.sha1", KIND_HASH)                                                             \
	X("file.hash.md5", KIND_HASH)                                                              \
	X("dll.hash.sha256", KIND_HASH)                                                            \
	X("dll.hash.sha1", KIND_HASH)                                                              \
	X("dll.hash.md5", KIND_HASH)                                                               \
	X("destination.ip", KIND_IP)                                                               \
	X("source.ip", KIND_IP)                                                                    \
	X("client.ip", KIND_IP)                                                                    \
	X("server.ip", KIND_IP)                                                                    \
	X("dns.resolved_ip", KIND_IP)                                                              \
	X("dns.question.name", KIND_DOMAIN)                                                        \
	X("destination.domain", KIND_DOMAIN)                                                       \
	X("url.domain", KIND_DOMAIN)                                                               \
	X("server.domain", KIND_DOMAIN)                                                            \
	X("process.executable", KIND_PATH)                                                         \
	X("process.parent.executable", KIND_PATH)                                                  \
	X("file.path", KIND_PATH)

#define FIELD_NAME(name, kind) name,
#define FIELD_INFO(name, kind) {sizeof(name) - 1, kind},

const char *const IOC_FIELDS[] = {FIELD_LIST(FIELD_NAME) NULL};

static const struct {
	uint8_t len;
	uint8_t kind; /* enum field_kind */
} field_info[] = {FIELD_LIST(FIELD_INFO)};

#define NFIELDS (sizeof(field_info) / sizeof(field_info[0]))

static const char *const TYPE_NAMES[] = {
    [IOC_SHA256] = "sha256", [IOC_SHA1] = "sha1",     [IOC_MD5] = "md5",   [IOC_IP] = "ip",
    [IOC_CIDR] = "cidr",     [IOC_DOMAIN] = "domain", [IOC_PATH] = "path",
};

static const char *const SEVERITY_NAMES[] = {"informational", "low", "medium", "high", "critical"};
static const int RISK[] = {10, 21, 47, 73, 99}; /* per severity, as for Sigma rules */

static const char ADVICE_HASH[] =
    "A file known as malicious ran or was written. Isolate the host, quarantine the file, find "
    "how it arrived (process tree, downloads) and look for the same hash across the fleet.";
static const char ADVICE_IP[] =
    "The host exchanged traffic with an address on an indicator list. Find the process behind the "
    "connection (process tree, command line), check what was sent or received, block the address "
    "at the firewall and look for other hosts that reached it.";
static const char ADVICE_DOMAIN[] =
    "The host looked up or contacted a domain on an indicator list. Find the process that resolved "
    "it, check whether a connection followed and what it carried, block the domain at the DNS "
    "resolver or proxy and look for other hosts that queried it.";
static const char ADVICE_PATH[] =
    "A file was found at a path known from malware. Isolate the host, collect the file and its "
    "hash, review the process tree that created or started it and look for the same path across "
    "the fleet.";

static const char *const no_tactics[1] = {NULL};

struct ioc_item {
	struct ioc_entry e;
	struct detect_rule_meta meta;
	uint32_t vlen;
};

/* Open addressing with linear probing over 64-bit hashes; keys are compared against the item
 * only when the whole hash matches, so a miss never leaves the slot array. */
struct slot {
	uint64_t h;
	uint32_t idx1; /* item index + 1, 0 when empty */
	uint32_t pad;
};

struct htab {
	struct slot *s;
	size_t mask; /* slots - 1 */
	size_t n;
};

struct pool_chunk {
	struct pool_chunk *next;
	size_t size, used;
	_Alignas(16) char data[];
};

enum { HT_SHA256, HT_SHA1, HT_MD5, HT_NET, HT_DOMAIN, HT_PATH, HT_COUNT };

struct ioc_set {
	atomic_uint refs;
	bool finished;
	struct ioc_item *items;
	size_t n, alloc;
	struct pool_chunk *pool;
	struct htab tab[HT_COUNT]; /* HT_NET only dedups while loading; cidrs answers lookups */
	struct cidr_set *cidrs;
	size_t ncidr;
	uint64_t domain_labels; /* bit k: some listed domain has k labels (63: 63 or more) */
	size_t bad_lines, duplicates;
	/* The id each IOC_FIELDS name had in the field table last seen. Only a hint: every use
	 * checks the name behind the id, so a table freed and another allocated at the same
	 * address (an engine reload) or two engines sharing the set cost lookups, never wrong
	 * fields; relaxed atomics, so concurrent matches may update it. */
	atomic_uint field_id[NFIELDS];
};

/* ---- small helpers ---- */

/* Pointer-aligned, so the pool also holds the one-element technique arrays. */
static char *pool_alloc(struct ioc_set *s, size_t n)
{
	struct pool_chunk *c = s->pool;

	n = (n + 7) & ~(size_t)7;
	if (!c || c->size - c->used < n) {
		/* Chunks double from 4 KiB so a list of ten indicators does not cost a megabyte. */
		size_t size = c ? (c->size * 2 < POOL_CHUNK ? c->size * 2 : POOL_CHUNK) : 4096;

		if (n > size / 4)
			size = n;
		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		if (size == n && s->pool) {
			/* Big blocks go behind the current chunk so its free space stays usable. */
			c->next = s->pool->next;
			s->pool->next = c;
		} else {
			c->next = s->pool;
			s->pool = c;
		}
	}
	c->used += n;
	return c->data + c->used - n;
}

static char *pool_strndup(struct ioc_set *s, const char *p, size_t n)
{
	char *d = pool_alloc(s, n + 1);

	if (d) {
		memcpy(d, p, n);
		d[n] = '\0';
	}
	return d;
}

/* Eight bytes at a time: paths and digests. */
static uint64_t hash_bytes(const void *p, size_t n)
{
	return hash64_bytes(p, n, 0);
}

/* Each hex digit's value plus one, 0 for other bytes: a table, because digests are random and a
 * branch per digit would mispredict half the time. */
static const int8_t HEX[256] = {
    ['0'] = 1,	['1'] = 2,  ['2'] = 3,	['3'] = 4,  ['4'] = 5,	['5'] = 6,  ['6'] = 7,	['7'] = 8,
    ['8'] = 9,	['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static int hex_digit(char c)
{
	return HEX[(unsigned char)c] - 1;
}

/* Digests are kept as lowercase hex and hashed in a case-blind way eight digits at a time: each
 * digit byte becomes its value (letters have bit 6 set and low bits 1-6, so value = low nibble +
 * 9 * bit 6) without a check, so event values need no decoding or copying. Bytes that are not
 * hex digits hash to something too; the comparison after a hash match rejects them. n is a
 * multiple of 8 (32, 40 and 64 are). */
static uint64_t hash_hex(const char *s, size_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ n, w;

	for (size_t i = 0; i < n; i += 8) {
		memcpy(&w, s + i, 8);
		w = (w & 0x0F0F0F0F0F0F0F0Full) + ((w >> 6) & 0x0101010101010101ull) * 9;
		h = (h ^ w) * 0xFF51AFD7ED558CCDull;
		h ^= h >> 32;
	}
	return hash64_mix(h);
}

static char to_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int hash_table_of(enum ioc_type t)
{
	return t == IOC_SHA256 ? HT_SHA256 : t == IOC_SHA1 ? HT_SHA1 : HT_MD5;
}

static size_t digest_len(enum ioc_type t)
{
	return t == IOC_SHA256 ? 32 : t == IOC_SHA1 ? 20 : 16;
}

/* ---- tables ---- */

static int htab_reserve(struct htab *t)
{
	size_t nslots;
	struct slot *s;

	if (t->s && (t->n + 1) * 2 <= t->mask + 1)
		return 0;
	nslots = t->s ? (t->mask + 1) * 2 : 16;
	s = calloc(nslots, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; t->s && i <= t->mask; i++) {
		size_t j;

		if (!t->s[i].idx1)
			continue;
		for (j = t->s[i].h & (nslots - 1); s[j].idx1; j = (j + 1) & (nslots - 1))
			;
		s[j] = t->s[i];
	}
	free(t->s);
	t->s = s;
	t->mask = nslots - 1;
	return 0;
}

/* Call htab_reserve first. */
static void htab_put(struct htab *t, uint64_t h, uint32_t idx)
{
	size_t i = h & t->mask;

	while (t->s[i].idx1)
		i = (i + 1) & t->mask;
	t->s[i].h = h;
	t->s[i].idx1 = idx + 1;
	t->n++;
}

static void htab_release(struct htab *t)
{
	free(t->s);
	t->s = NULL;
	t->mask = 0;
	t->n = 0;
}

/* hex is an event's digest in either case, or a normalised one. */
static const struct ioc_item *find_digest(const struct ioc_set *s, const struct htab *t, uint64_t h,
					  const char *hex, size_t n)
{
	if (!t->n || !s->items)
		return NULL;
	for (size_t i = h & t->mask; t->s[i].idx1; i = (i + 1) & t->mask) {
		const struct ioc_item *it;
		size_t k = 0;

		if (t->s[i].h != h)
			continue;
		/* The listed value is lowercase hex, so equality also proves hex is hex. */
		it = &s->items[t->s[i].idx1 - 1];
		while (k < n && to_lower(hex[k]) == it->e.value[k])
			k++;
		if (k == n && it->vlen == n)
			return it;
	}
	return NULL;
}

static const struct ioc_item *find_str(const struct ioc_set *s, const struct htab *t, uint64_t h,
				       const char *key, size_t len)
{
	if (!t->n || !s->items)
		return NULL;
	for (size_t i = h & t->mask; t->s[i].idx1; i = (i + 1) & t->mask) {
		const struct ioc_item *it;

		if (t->s[i].h != h)
			continue;
		it = &s->items[t->s[i].idx1 - 1];
		if (it->vlen == len && memcmp(it->e.value, key, len) == 0)
			return it;
	}
	return NULL;
}

static uint64_t hash_cidr(const struct cidr *c)
{
	unsigned char k[17];

	memcpy(k, c->net.b, 16);
	k[16] = c->prefix;
	return hash_bytes(k, sizeof(k));
}

/* Values of ip entries are bare addresses, of cidr entries networks; both reparse. */
static const struct ioc_item *find_net(const struct ioc_set *s, const struct cidr *c)
{
	const struct htab *t = &s->tab[HT_NET];
	uint64_t h;

	if (!t->n || !s->items)
		return NULL;
	h = hash_cidr(c);
	for (size_t i = h & t->mask; t->s[i].idx1; i = (i + 1) & t->mask) {
		const struct ioc_item *it;
		struct cidr o;

		if (t->s[i].h != h)
			continue;
		it = &s->items[t->s[i].idx1 - 1];
		if (cidr_parse(it->e.value, it->vlen, &o) == 0 && o.prefix == c->prefix &&
		    memcmp(o.net.b, c->net.b, 16) == 0)
			return it;
	}
	return NULL;
}

/* ---- the set ---- */

struct ioc_set *ioc_set_new(void)
{
	struct ioc_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cidrs = cidr_set_new();
	if (!s->cidrs) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&s->refs, 1);
	for (size_t k = 0; k < NFIELDS; k++)
		atomic_init(&s->field_id[k], DETECT_FIELD_NONE);
	return s;
}

void ioc_set_ref(struct ioc_set *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void ioc_set_unref(struct ioc_set *s)
{
	struct pool_chunk *c;

	if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_release) != 1)
		return;
	atomic_thread_fence(memory_order_acquire);
	for (int i = 0; i < HT_COUNT; i++)
		htab_release(&s->tab[i]);
	cidr_set_free(s->cidrs);
	free(s->items);
	c = s->pool;
	while (c) {
		struct pool_chunk *next = c->next;

		free(c);
		c = next;
	}
	free(s);
}

size_t ioc_set_count(const struct ioc_set *s)
{
	return s->n;
}

size_t ioc_set_bad_lines(const struct ioc_set *s)
{
	return s->bad_lines;
}

size_t ioc_set_duplicates(const struct ioc_set *s)
{
	return s->duplicates;
}

const struct ioc_entry *ioc_set_entry(const struct ioc_set *s, size_t i)
{
	return i < s->n ? &s->items[i].e : NULL;
}

int ioc_set_finish(struct ioc_set *s)
{
	int rc;

	if (s->finished)
		return 0;
	rc = cidr_set_freeze(s->cidrs);
	if (rc)
		return rc;
	htab_release(&s->tab[HT_NET]);
	if (s->n && s->n < s->alloc) {
		struct ioc_item *p = realloc(s->items, s->n * sizeof(*p));

		if (p) {
			s->items = p;
			s->alloc = s->n;
		}
	}
	s->finished = true;
	return 0;
}

/* ---- loading ---- */

struct loader {
	struct ioc_set *s;
	const char *path;      /* as given, for diags */
	const char *meta_path; /* pooled, for metas */
	unsigned line;
	detect_diag_fn diag;
	void *diag_ctx;
	const char *default_list;
	const char *list;
	size_t list_len;
	enum detect_severity sev;
	const char *const *tech; /* pooled one-element array, NULL when none */
	int added;
};

static void bad(struct loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bad(struct loader *L, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	L->s->bad_lines++;
	if (!L->diag)
		return;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	L->diag(L->diag_ctx, &(struct detect_diag){L->path, L->line, NULL, msg, false});
}

/* How much of s to quote in a message: at most QUOTE_MAX bytes, not splitting a UTF-8
 * sequence (the line is valid UTF-8, so the message stays valid too). */
static int quote_len(const char *s, size_t n)
{
	return (int)(n <= QUOTE_MAX ? n : utf8_cut(s, QUOTE_MAX));
}

#define Q(s, n) quote_len((s), (n)), (s)

/* Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		uint32_t cp;
		uint64_t w;

		/* Lists are nearly all ASCII: skip it a word at a time. */
		if (n - i >= 8 && (memcpy(&w, s + i, 8), (w & 0x8080808080808080ull) == 0)) {
			i += 8;
			continue;
		}
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			k = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			k = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3F);
		}
		if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
			return false;
		i += k + 1;
	}
	return true;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hex_digit(s[i]) < 0)
			return false;
	return n > 0;
}

static bool word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

static int parse_type(const char *s, size_t n)
{
	for (int t = IOC_SHA256; t <= IOC_PATH; t++)
		if (word_is(s, n, TYPE_NAMES[t]))
			return t;
	return -1;
}

/* A normalised value: out holds it (NUL-terminated), with what the net table needs. */
struct norm {
	enum ioc_type type;
	char v[LINE_MAX_LEN + 1];
	size_t len;
	struct cidr net;
};

static void format_net(const struct cidr *c, bool host, struct norm *o)
{
	char a[CIDR_ADDR_STRLEN];
	int n;

	ip_addr_format(&c->net, a, sizeof(a));
	if (host)
		n = snprintf(o->v, sizeof(o->v), "%s", a);
	else if (ip_addr_is_v4(&c->net) && c->prefix >= 96)
		n = snprintf(o->v, sizeof(o->v), "%s/%u", a, c->prefix - 96u);
	else
		n = snprintf(o->v, sizeof(o->v), "%s/%u", a, (unsigned)c->prefix);
	o->len = (size_t)n;
}

static int norm_hash(struct loader *L, enum ioc_type t, const char *s, size_t n, struct norm *o)
{
	size_t want = digest_len(t) * 2;

	if (!all_hex(s, n)) {
		bad(L, "%s value '%.*s' is not hexadecimal", TYPE_NAMES[t], Q(s, n));
		return -EINVAL;
	}
	if (n != want) {
		bad(L, "%s needs %zu hex digits, '%.*s' has %zu", TYPE_NAMES[t], want, Q(s, n), n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		o->v[i] = to_lower(s[i]);
	o->v[n] = '\0';
	o->len = n;
	o->type = t;
	return 0;
}

static int norm_ip(struct loader *L, enum ioc_type t, const char *s, size_t n, struct norm *o)
{
	bool slash = memchr(s, '/', n) != NULL;

	/* "ip 10.0.0.0/8" is what some feeds write; take it as the network it plainly is. */
	if (cidr_parse(s, n, &o->net) != 0) {
		bad(L, "'%.*s' is not a valid %s", Q(s, n),
		    t == IOC_CIDR || slash ? "network (a.b.c.d/n or x:y::/n)" : "IP address");
		return -EINVAL;
	}
	o->type = t == IOC_CIDR || slash ? IOC_CIDR : IOC_IP;
	format_net(&o->net, o->type == IOC_IP, o);
	return 0;
}

static int norm_domain(struct loader *L, const char *s, size_t n, struct norm *o)
{
	struct ip_addr a;
	size_t label = 0;
	bool digits = true;

	if (n >= 2 && s[0] == '*' && s[1] == '.') { /* "*.evil.example": subdomains match anyway */
		s += 2;
		n -= 2;
	} else if (n >= 1 && s[0] == '.') {
		s++;
		n--;
	}
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > DOMAIN_MAX_LEN) {
		bad(L, "domain '%.*s' is empty or longer than %d bytes", Q(s, n), DOMAIN_MAX_LEN);
		return -EINVAL;
	}
	if (ip_addr_parse(s, n, &a) == 0) {
		bad(L, "'%.*s' is an IP address; list it as ip", Q(s, n));
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = to_lower(s[i]);

		if (c == '.') {
			if (label == 0)
				break;
			label = 0;
			digits = true;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			   c == '_') {
			if (++label > LABEL_MAX_LEN)
				break;
			digits &= c >= '0' && c <= '9';
		} else {
			if ((unsigned char)c >= 0x80)
				bad(L, "domain '%.*s' is not ASCII; list its punycode (xn--) form",
				    Q(s, n));
			else
				bad(L, "domain '%.*s' has a character a host name cannot have",
				    Q(s, n));
			return -EINVAL;
		}
		o->v[i] = c;
	}
	if (label == 0 || label > LABEL_MAX_LEN) {
		bad(L, "domain '%.*s' has an empty label or one longer than %d bytes", Q(s, n),
		    LABEL_MAX_LEN);
		return -EINVAL;
	}
	if (digits) {
		bad(L, "domain '%.*s' ends in a numeric label (a mistyped IP address?)", Q(s, n));
		return -EINVAL;
	}
	o->v[n] = '\0';
	o->len = n;
	o->type = IOC_DOMAIN;
	return 0;
}

static int norm_path(struct loader *L, const char *s, size_t n, struct norm *o)
{
	if (n == 0 || s[0] != '/') {
		bad(L, "path '%.*s' is not absolute", Q(s, n));
		return -EINVAL;
	}
	memcpy(o->v, s, n);
	o->v[n] = '\0';
	o->len = n;
	o->type = IOC_PATH;
	return 0;
}

static int normalise(struct loader *L, int type, const char *s, size_t n, struct norm *o)
{
	switch (type) {
	case IOC_SHA256:
	case IOC_SHA1:
	case IOC_MD5:
		return norm_hash(L, (enum ioc_type)type, s, n, o);
	case IOC_IP:
	case IOC_CIDR:
		return norm_ip(L, (enum ioc_type)type, s, n, o);
	case IOC_DOMAIN:
		return norm_domain(L, s, n, o);
	default:
		return norm_path(L, s, n, o);
	}
}

/* The type a bare value has, or -1 (reported). */
static int infer_type(struct loader *L, const char *s, size_t n)
{
	struct cidr c;
	bool hex = all_hex(s, n);

	if (hex && n == 64)
		return IOC_SHA256;
	if (hex && n == 40)
		return IOC_SHA1;
	if (hex && n == 32)
		return IOC_MD5;
	if (s[0] == '/')
		return IOC_PATH;
	if (cidr_parse(s, n, &c) == 0)
		return memchr(s, '/', n) ? IOC_CIDR : IOC_IP;
	if (hex) {
		bad(L,
		    "'%.*s' looks like a hash but has %zu hex digits (MD5 32, SHA-1 40, "
		    "SHA-256 64)",
		    Q(s, n), n);
		return -1;
	}
	if (memchr(s, '.', n))
		return IOC_DOMAIN;
	bad(L, "cannot tell what kind of indicator '%.*s' is; write its type first", Q(s, n));
	return -1;
}

static char *putn(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static char *put(char *p, const char *s)
{
	return putn(p, s, strlen(s));
}

static int add_entry(struct loader *L, const struct norm *o, const char *desc, size_t dlen)
{
	const size_t max_entries = (size_t)IOC_MAX_ENTRIES;
	struct ioc_set *s = L->s;
	struct ioc_item *it;
	int ht = -1;
	uint64_t h = 0;
	char *id, *title, *p;
	size_t idlen, tlen;
	const char *advice;
	int rc;

	switch (o->type) {
	case IOC_SHA256:
	case IOC_SHA1:
	case IOC_MD5:
		ht = hash_table_of(o->type);
		h = hash_hex(o->v, o->len);
		if (find_digest(s, &s->tab[ht], h, o->v, o->len))
			goto dup;
		advice = ADVICE_HASH;
		break;
	case IOC_IP:
	case IOC_CIDR:
		ht = HT_NET;
		if (find_net(s, &o->net))
			goto dup;
		h = hash_cidr(&o->net);
		advice = ADVICE_IP;
		break;
	case IOC_DOMAIN:
		ht = HT_DOMAIN;
		h = hash_bytes(o->v, o->len);
		if (find_str(s, &s->tab[ht], h, o->v, o->len))
			goto dup;
		advice = ADVICE_DOMAIN;
		break;
	default:
		ht = HT_PATH;
		h = hash_bytes(o->v, o->len);
		if (find_str(s, &s->tab[ht], h, o->v, o->len))
			goto dup;
		advice = ADVICE_PATH;
		break;
	}
	if (s->n >= max_entries)
		return -E2BIG;
	if (s->n == s->alloc) {
		size_t na = s->alloc ? s->alloc * 2 : 16;
		struct ioc_item *grown;

		if (na > max_entries)
			na = max_entries;
		grown = realloc(s->items, na * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		s->items = grown;
		s->alloc = na;
	}
	rc = htab_reserve(&s->tab[ht]);
	if (rc)
		return rc;
	/* id "ioc:<list>:<value>" holds the value too. */
	idlen = 4 + L->list_len + 1 + o->len;
	tlen = strlen("Indicator match:  ") + strlen(TYPE_NAMES[o->type]) + o->len + strlen(" ()") +
	       L->list_len;
	id = pool_alloc(s, idlen + 1 + tlen + 1 + (dlen ? dlen + 1 : 0));
	if (!id)
		return -ENOMEM;
	/* memcpy, not snprintf: this runs for every indicator, a million for a big feed. */
	p = put(id, "ioc:");
	p = putn(p, L->list, L->list_len);
	p = put(p, ":");
	p = putn(p, o->v, o->len);
	*p++ = '\0';
	title = p;
	p = put(p, "Indicator match: ");
	p = put(p, TYPE_NAMES[o->type]);
	p = put(p, " ");
	p = putn(p, o->v, o->len);
	p = put(p, " (");
	p = putn(p, L->list, L->list_len);
	p = put(p, ")");
	*p = '\0';
	if (dlen) {
		char *dd = title + tlen + 1;

		memcpy(dd, desc, dlen);
		dd[dlen] = '\0';
		desc = dd;
	}
	if (o->type == IOC_IP || o->type == IOC_CIDR) {
		rc = cidr_set_add(s->cidrs, &o->net, (uint32_t)s->n);
		if (rc)
			return rc;
		s->ncidr++;
	}
	if (o->type == IOC_DOMAIN) {
		unsigned labels = 1;

		for (size_t i = 0; i < o->len; i++)
			labels += o->v[i] == '.';
		s->domain_labels |= UINT64_C(1) << (labels < 63 ? labels : 63);
	}
	it = &s->items[s->n];
	memset(it, 0, sizeof(*it));
	it->e.type = o->type;
	it->e.value = id + 4 + L->list_len + 1;
	it->e.list = L->list;
	it->e.description = dlen ? desc : "";
	it->e.severity = L->sev;
	it->e.technique = L->tech ? L->tech[0] : "";
	it->vlen = (uint32_t)o->len;
	it->meta.id = id;
	it->meta.title = title;
	it->meta.description = dlen ? desc : NULL;
	it->meta.path = L->meta_path;
	it->meta.status = "";
	it->meta.kind = "ioc";
	it->meta.severity = L->sev;
	it->meta.risk_score = RISK[L->sev];
	it->meta.advice = advice;
	it->meta.tactics = no_tactics;
	it->meta.ntactics = 0;
	it->meta.techniques = L->tech ? L->tech : no_tactics;
	it->meta.ntechniques = L->tech ? 1 : 0;
	it->meta.generate = true;
	htab_put(&s->tab[ht], h, (uint32_t)s->n);
	s->n++;
	L->added++;
	return 0;
dup:
	s->duplicates++;
	return 0;
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_space((*s)[*n - 1]))
		(*n)--;
}

static void unquote(const char **s, size_t *n)
{
	if (*n >= 2 && (*s)[0] == '"' && (*s)[*n - 1] == '"') {
		(*s)++;
		*n -= 2;
		trim(s, n);
	}
}

static int set_list(struct loader *L, const char *v, size_t n)
{
	char *p;

	if (n == 0) {
		L->list = L->default_list;
		L->list_len = strlen(L->list);
		return 0;
	}
	if (n > LIST_NAME_MAX) {
		bad(L, "@name is longer than %d bytes", LIST_NAME_MAX);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c <= ' ' || c == ':' || c == 0x7f) {
			bad(L, "@name '%.*s' has a space, a colon or a control character", Q(v, n));
			return 0;
		}
	}
	p = pool_strndup(L->s, v, n);
	if (!p)
		return -ENOMEM;
	L->list = p;
	L->list_len = n;
	return 0;
}

static int set_technique(struct loader *L, const char *v, size_t n)
{
	const char **cell;
	char *p;
	bool ok = n == 5 || n == 9;

	if (n == 0 || word_is(v, n, "none") || word_is(v, n, "-")) {
		L->tech = NULL;
		return 0;
	}
	/* T1234 or T1234.567 */
	for (size_t i = 0; ok && i < n; i++) {
		if (i == 0)
			ok = v[i] == 'T' || v[i] == 't';
		else if (i == 5)
			ok = v[i] == '.';
		else
			ok = v[i] >= '0' && v[i] <= '9';
	}
	if (!ok) {
		bad(L, "@technique '%.*s' is not an ATT&CK technique id (T1234 or T1234.001)",
		    Q(v, n));
		return 0;
	}
	cell = (const char **)(void *)pool_alloc(L->s, sizeof(*cell));
	p = pool_strndup(L->s, v, n);
	if (!cell || !p)
		return -ENOMEM;
	p[0] = 'T';
	*cell = p;
	L->tech = cell;
	return 0;
}

static int directive(struct loader *L, const char *s, size_t n)
{
	size_t k = 1;
	const char *v;
	size_t vn;

	while (k < n && !is_space(s[k]))
		k++;
	v = s + k;
	vn = n - k;
	trim(&v, &vn);
	if (word_is(s + 1, k - 1, "name"))
		return set_list(L, v, vn);
	if (word_is(s + 1, k - 1, "technique"))
		return set_technique(L, v, vn);
	if (word_is(s + 1, k - 1, "severity")) {
		if (vn == 0) {
			L->sev = DETECT_SEV_HIGH;
			return 0;
		}
		for (int i = 0; i < 5; i++) {
			if (word_is(v, vn, SEVERITY_NAMES[i])) {
				L->sev = (enum detect_severity)i;
				return 0;
			}
		}
		bad(L, "@severity '%.*s' is not informational, low, medium, high or critical",
		    Q(v, vn));
		return 0;
	}
	bad(L, "unknown directive '%.*s' (@name, @severity, @technique)", Q(s, k));
	return 0;
}

/* "url", "ip-dst", "filename": a word where a type name would be, not a value. */
static bool looks_like_type(const char *s, size_t n)
{
	bool letter = false;

	if (all_hex(s, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = to_lower(s[i]);

		if (c >= 'a' && c <= 'z')
			letter = true;
		else if (!(c >= '0' && c <= '9') && c != '-' && c != '_')
			return false;
	}
	return letter && n <= 32;
}

/* One line without its newline, comments already cut, trimmed, not empty. */
static int indicator(struct loader *L, const char *s, size_t n, struct norm *o)
{
	const char *tok = s, *val, *desc;
	size_t tn = 0, vn, dn, k;
	int type;

	while (tn < n && !is_space(s[tn]) && s[tn] != ',')
		tn++;
	k = tn;
	while (k < n && is_space(s[k]))
		k++;
	if (k < n && s[k] == ',') {
		/* type,value[,description]  or  value[,description] */
		const char *rest = s + k + 1, *comma;
		size_t rn = n - k - 1;

		unquote(&tok, &tn);
		comma = memchr(rest, ',', rn);
		val = rest;
		vn = comma ? (size_t)(comma - rest) : rn;
		desc = comma ? comma + 1 : "";
		dn = comma ? rn - vn - 1 : 0;
		trim(&val, &vn);
		unquote(&val, &vn);
		type = parse_type(tok, tn);
		if (type < 0) {
			if (word_is(tok, tn, "type")) /* a CSV header row */
				return 0;
			desc = rest;
			dn = rn;
			val = tok;
			vn = tn;
		}
	} else {
		type = parse_type(tok, tn);
		if (type >= 0) {
			val = s + k;
			vn = 0;
			while (k + vn < n && !is_space(val[vn]))
				vn++;
			desc = val + vn;
			dn = n - k - vn;
		} else {
			val = tok;
			vn = tn;
			desc = s + k;
			dn = n - k;
		}
	}
	trim(&desc, &dn);
	unquote(&desc, &dn);
	if (vn == 0) {
		if (type >= 0)
			bad(L, "%s with no value", TYPE_NAMES[type]);
		else
			bad(L, "no indicator value before ','");
		return 0;
	}
	if (type < 0 && dn > 0 && looks_like_type(val, vn)) {
		bad(L, "unknown indicator type '%.*s' (sha256, sha1, md5, ip, cidr, domain, path)",
		    Q(val, vn));
		return 0;
	}
	if (type < 0) {
		type = infer_type(L, val, vn);
		if (type < 0)
			return 0;
	}
	if (normalise(L, type, val, vn, o))
		return 0;
	return add_entry(L, o, desc, dn);
}

static int line(struct loader *L, const char *s, size_t n, struct norm *o)
{
	if (n > LINE_MAX_LEN) {
		bad(L, "line longer than %d bytes", LINE_MAX_LEN);
		return 0;
	}
	/* '#' starts a comment at the start of the line or after blank space. Comments are not
	 * checked further: a Latin-1 name in one is no reason to drop the line. */
	for (const char *h = memchr(s, '#', n); h;
	     h = memchr(h + 1, '#', n - (size_t)(h + 1 - s))) {
		if (h == s || is_space(h[-1])) {
			n = (size_t)(h - s);
			break;
		}
	}
	trim(&s, &n);
	if (n == 0)
		return 0;
	/* Values and descriptions end up in C strings and JSON alerts. */
	if (memchr(s, '\0', n)) {
		bad(L, "line has a NUL byte");
		return 0;
	}
	if (!utf8_valid((const unsigned char *)s, n)) {
		bad(L, "line is not valid UTF-8");
		return 0;
	}
	if (s[0] == '@')
		return directive(L, s, n);
	return indicator(L, s, n, o);
}

/* "feeds/feodo.txt" -> "feodo": the list name when no @name says otherwise. */
static const char *default_list_name(struct ioc_set *s, const char *path, size_t *len)
{
	const char *b, *dot;
	size_t n;
	char *p;

	if (!path || !*path)
		path = "indicators";
	b = strrchr(path, '/');
	b = b ? b + 1 : path;
	dot = strrchr(b, '.');
	n = dot && dot > b ? (size_t)(dot - b) : strlen(b);
	if (n == 0) {
		b = "indicators";
		n = strlen(b);
	}
	if (n > LIST_NAME_MAX)
		n = LIST_NAME_MAX;
	p = pool_strndup(s, b, n);
	if (!p)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == ':' || p[i] == 0x7f)
			p[i] = '_';
	*len = n;
	return p;
}

int ioc_set_add_text(struct ioc_set *s, const char *path, const char *text, size_t len,
		     detect_diag_fn diag, void *diag_ctx)
{
	struct loader L = {.s = s, .path = path ? path : "", .diag = diag, .diag_ctx = diag_ctx};
	struct norm *o = NULL;
	size_t pos = 0;
	int rc = 0;

	if (s->finished)
		return -EBUSY;
	if (!text && len)
		return -EINVAL;
	o = malloc(sizeof(*o));
	L.meta_path = pool_strndup(s, L.path, strlen(L.path));
	L.default_list = default_list_name(s, path, &L.list_len);
	if (!o || !L.meta_path || !L.default_list) {
		rc = -ENOMEM;
		goto out;
	}
	L.list = L.default_list;
	L.sev = DETECT_SEV_HIGH;
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;

		L.line++;
		rc = line(&L, text + pos, end - pos, o);
		if (rc)
			goto out;
		pos = end + 1;
	}
	rc = L.added;
out:
	free(o);
	return rc;
}

/* ---- matching ---- */

static int report(const struct ioc_item *it, unsigned k, const struct detect_value *v,
		  struct detect_doc *doc, ioc_hit_fn fn, void *ctx, int *hits)
{
	struct ioc_hit hit = {.ioc = &it->e,
			      .field = IOC_FIELDS[k],
			      .value = v->str,
			      .value_len = v->len,
			      .rule = &it->meta};
	int rc = fn ? fn(ctx, &hit, doc) : 0;

	if (rc)
		return rc;
	(*hits)++;
	return 0;
}

/* The digest table for an event value of n hex digits, or -1. */
static int digest_table(size_t n)
{
	return n == 64 ? HT_SHA256 : n == 40 ? HT_SHA1 : n == 32 ? HT_MD5 : -1;
}

static const struct ioc_item *match_ip(const struct ioc_set *s, const char *str, size_t len)
{
	struct ip_addr a;
	uint32_t id;

	if (!s->ncidr || ip_addr_parse(str, len, &a) != 0 || !cidr_set_lookup(s->cidrs, &a, &id))
		return NULL;
	return &s->items[id];
}

/* The most specific listed domain the name is, or is under: the name lowercased, then each
 * parent (a suffix starting a label) with a label count some listed domain has, longest first. */
static const struct ioc_item *match_domain(const struct ioc_set *s, const struct detect_value *v)
{
	char b[DOMAIN_MAX_LEN + 8];
	size_t n = v->len, start = 0;
	unsigned labels = 1;

	if (n > 0 && v->str[n - 1] == '.')
		n--;
	if (n == 0 || n > DOMAIN_MAX_LEN)
		return NULL;
	/* Eight bytes at a time: lowercase A-Z and count the dots. */
	for (size_t i = 0; i < n; i += 8) {
		const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
		uint64_t w = 0, low, upper, dot;

		memcpy(&w, v->str + i, n - i < 8 ? n - i : 8);
		low = w & ~high;
		upper = ((low + ones * (0x80 - 'A')) ^ (low + ones * (0x80 - 'Z' - 1))) & ~w & high;
		w |= upper >> 2;
		dot = w ^ ones * '.';
		dot = ~(((dot & ~high) + ~high) | dot | ~high);
		if (n - i < 8)
			dot &= (UINT64_C(1) << 8 * (n - i)) - 1;
		labels += (unsigned)(((dot >> 7) * ones) >> 56); /* sums the per-byte flags */
		memcpy(b + i, &w, 8);
	}
	for (;;) {
		if (start < n && b[start] != '.' &&
		    (s->domain_labels >> (labels < 63 ? labels : 63) & 1)) {
			const struct ioc_item *it =
			    find_str(s, &s->tab[HT_DOMAIN], hash_bytes(b + start, n - start),
				     b + start, n - start);

			if (it)
				return it;
		}
		if (labels == 1)
			return NULL;
		start = (size_t)((const char *)memchr(b + start, '.', n - start) - b) + 1;
		labels--;
	}
}

/* Id of IOC_FIELDS[k] in the doc's field table, from the hint when its name checks out. */
static uint32_t field_id(const struct ioc_set *s, const struct detect_fields *f, unsigned k)
{
	atomic_uint *hint = (atomic_uint *)&s->field_id[k];
	uint32_t id = atomic_load_explicit(hint, memory_order_relaxed);

	if (id != DETECT_FIELD_NONE && strcmp(detect_fields_name(f, id), IOC_FIELDS[k]) == 0)
		return id;
	id = detect_fields_find(f, IOC_FIELDS[k], field_info[k].len);
	atomic_store_explicit(hint, id, memory_order_relaxed);
	return id;
}

/* Values are looked up in batches: exact lookups (digests, paths) are hashed and their slots
 * prefetched first, so with a set bigger than the caches their misses overlap instead of
 * queueing one after the other. */
#define MATCH_BATCH 32

struct pending {
	const struct detect_value *v;
	uint64_t h;
	int ht; /* table of an exact lookup; -1 for the others or when it cannot match */
	unsigned k;
};

static const struct ioc_item *resolve(const struct ioc_set *s, const struct pending *p)
{
	const struct detect_value *v = p->v;
	const struct ioc_item *it = NULL;

	switch ((enum field_kind)field_info[p->k].kind) {
	case KIND_HASH:
		return p->ht < 0 ? NULL : find_digest(s, &s->tab[p->ht], p->h, v->str, v->len);
	case KIND_PATH:
		return find_str(s, &s->tab[HT_PATH], p->h, v->str, v->len);
	case KIND_IP:
		return match_ip(s, v->str, v->len);
	case KIND_DOMAIN:
		/* url.domain and friends may hold an address; a name ends in a letter (and has no
		 * colon), so most skip the parse. */
		if (v->len && (v->str[v->len - 1] <= '9' || v->str[v->len - 1] == ']' ||
			       memchr(v->str, ':', v->len)))
			it = match_ip(s, v->str, v->len);
		if (!it && s->tab[HT_DOMAIN].n)
			it = match_domain(s, v);
		return it;
	}
	return NULL;
}

static int flush(const struct ioc_set *s, struct detect_doc *doc, const struct pending *q,
		 unsigned n, ioc_hit_fn fn, void *ctx, int *hits)
{
	for (unsigned i = 0; i < n; i++) {
		const struct ioc_item *it = resolve(s, &q[i]);
		int rc;

		if (it && (rc = report(it, q[i].k, q[i].v, doc, fn, ctx, hits)) != 0)
			return rc;
	}
	return 0;
}

int ioc_set_match(const struct ioc_set *s, struct detect_doc *doc, ioc_hit_fn fn, void *ctx)
{
	struct pending q[MATCH_BATCH];
	unsigned nq = 0;
	bool kind_on[4];
	int hits = 0, rc;

	if (!s->finished || !doc->fields)
		return 0;
	kind_on[KIND_HASH] = s->tab[HT_SHA256].n || s->tab[HT_SHA1].n || s->tab[HT_MD5].n;
	kind_on[KIND_IP] = s->ncidr > 0;
	kind_on[KIND_DOMAIN] = s->tab[HT_DOMAIN].n > 0 || s->ncidr > 0;
	kind_on[KIND_PATH] = s->tab[HT_PATH].n > 0;
	for (unsigned k = 0; k < NFIELDS; k++) {
		enum field_kind kind = (enum field_kind)field_info[k].kind;
		uint32_t id;

		if (!kind_on[kind])
			continue;
		id = field_id(s, doc->fields, k);
		if (id == DETECT_FIELD_NONE)
			continue;
		for (const struct detect_value *v = detect_doc_first(doc, id); v;
		     v = detect_doc_next(doc, v)) {
			struct pending *p = &q[nq++];

			p->v = v;
			p->k = k;
			p->ht = kind == KIND_HASH   ? digest_table(v->len)
				: kind == KIND_PATH ? HT_PATH
						    : -1;
			if (p->ht >= 0 && !s->tab[p->ht].n)
				p->ht = -1;
			if (p->ht >= 0) {
				const struct htab *t = &s->tab[p->ht];

				p->h = kind == KIND_HASH ? hash_hex(v->str, v->len)
							 : hash_bytes(v->str, v->len);
				__builtin_prefetch(&t->s[p->h & t->mask]);
			}
			if (nq == MATCH_BATCH) {
				rc = flush(s, doc, q, nq, fn, ctx, &hits);
				if (rc)
					return rc;
				nq = 0;
			}
		}
	}
	rc = flush(s, doc, q, nq, fn, ctx, &hits);
	return rc ? rc : hits;
}
