#include "ac.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/*
 * Layout. Patterns are sorted by their class-mapped bytes and the trie is laid out in BFS order
 * straight from the sorted list, so a node's children are consecutive and sorted by class, and
 * depth never decreases with the state number.
 *
 * A full DFA row costs ncls * 4 bytes per state: 50,000 literals of 20 bytes make ~750k states,
 * i.e. >100 MiB of rows over ~40 classes, and a scan is one dependent load per byte, so once the
 * rows it touches leave the cache every byte waits on memory. Only the first states in BFS order
 * (as many as AC_DENSE_BUDGET allows: the root and the first levels) get a full row with the
 * failure transitions folded in. Deeper states keep their trie edges (one inline, more in the
 * edge arrays) and a failure link, 16 bytes each; failure links point to shallower states, so a
 * chain ends in a full row, and the usual Aho-Corasick amortisation bounds the work at two
 * transitions per byte whatever the input. Sparse states are numbered so the ones just below the
 * full rows are packed together and each literal's tail is contiguous (ac_sparse_order).
 *
 * A state is named by a "ref": below dense_end it is the offset of its row in dense (state number
 * times ncls, saving a multiply per byte), above it dense_end plus its index in sparse. Transition
 * targets carry AC_FLAG when the target state has an output of its own or through its suffixes,
 * so the scan pays one test per byte for the output check.
 *
 * Outputs: ids holds every pattern id in sorted order, so a state's own patterns are one run
 * (lo, cnt). Each state with own patterns has a slot in outs; a slot links to the slot of the
 * longest proper suffix state that has own patterns (a dictionary-suffix link), and a state with
 * only inherited outputs uses that slot directly. Memory stays linear in the patterns.
 */

/* Bytes of full rows: ~3,000 rows of 40 classes, the first two levels of a large set. Measured on
 * random literals: as fast as full rows for every state with 1,000 literals (2.5 MiB), twice as
 * fast with 20,000 (full rows: 48 MiB, read at random, nearly every read a cache miss) in a ninth
 * of the memory, and up to 3x faster on text made of literal prefixes. Override at compile time. */
#ifndef AC_DENSE_BUDGET
#define AC_DENSE_BUDGET (512u << 10)
#endif
/* Refs must stay below AC_FLAG: dense_end is at most AC_DENSE_BUDGET / 4. */
#define AC_MAX_STATES (1u << 30)
#define AC_FLAG 0x80000000u
#define AC_NONE UINT32_MAX

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

struct ac_pattern {
	size_t off; /* in builder bytes */
	uint32_t len;
	uint32_t id;
};

struct ac_builder {
	unsigned char *bytes;
	size_t nbytes;
	size_t abytes;
	struct ac_pattern *pats;
	size_t npats;
	size_t apats;
};

struct ac_sparse {
	uint32_t fail; /* ref, no flag */
	uint32_t next; /* nchild == 1: target ref (with flag); > 1: first edge index */
	uint32_t slot; /* outs index, AC_NONE without output */
	uint16_t nchild;
	uint8_t cls; /* nchild == 1: class of the only edge */
	uint8_t pad;
};

struct ac_out {
	uint32_t lo; /* first index in ids */
	uint32_t cnt;
	uint32_t next; /* slot of the longest proper suffix with own patterns, or AC_NONE */
};

struct ac {
	uint8_t cls[256];
	uint32_t ncls;
	uint32_t nstates;
	uint32_t ndense;
	uint32_t dense_end; /* ndense * ncls */
	uint32_t *dense;    /* ndense rows of ncls target refs */
	uint32_t *dense_slot;
	struct ac_sparse *sparse; /* nstates - ndense */
	uint8_t *edge_cls;
	uint32_t *edge_next;
	size_t nedges;
	struct ac_out *outs;
	size_t nouts;
	uint32_t *ids;
	size_t npatterns;
};

/* Trie node while building. */
struct ac_node {
	uint32_t lo; /* range of sorted patterns sharing this prefix */
	uint32_t hi;
	uint32_t own; /* patterns ending here: the first own of the range */
	uint32_t first_child;
	uint32_t fail;
	uint32_t slot;
	uint32_t pos; /* sparse states: index in sparse (see ac_sparse_order) */
	uint16_t nchild;
	uint16_t depth;
	uint8_t cls; /* class of the edge from the parent */
};

struct ac_ctx {
	const struct ac_builder *b;
	uint8_t *keys;	 /* class of every builder byte, at the same offsets */
	uint32_t *order; /* pattern indices sorted by keys */
	struct ac_node *nodes;
	size_t nnodes;
	size_t anodes;
	size_t nown;   /* nodes with own patterns */
	uint32_t *inv; /* sparse index -> node */
};

/* The capacity (doubling from first) that holds need elements of size elem; 0 on overflow. */
static size_t grown(size_t alloc, size_t need, size_t elem, size_t first)
{
	size_t n = alloc ? alloc : first;

	while (n < need) {
		if (n > SIZE_MAX / 2)
			return 0;
		n *= 2;
	}
	return n > SIZE_MAX / elem ? 0 : n;
}

struct ac_builder *ac_builder_new(void)
{
	return calloc(1, sizeof(struct ac_builder));
}

void ac_builder_free(struct ac_builder *b)
{
	if (!b)
		return;
	free(b->bytes);
	free(b->pats);
	free(b);
}

int ac_builder_add(struct ac_builder *b, const void *pat, size_t len, uint32_t id)
{
	if (!b || !pat || len == 0)
		return -EINVAL;
	if (len > AC_MAX_PATTERN || b->npats >= AC_MAX_PATTERNS)
		return -E2BIG;
	if (len > SIZE_MAX - b->nbytes)
		return -ENOMEM;
	if (b->nbytes + len > b->abytes) {
		size_t n = grown(b->abytes, b->nbytes + len, 1, 4096);
		unsigned char *q = n ? realloc(b->bytes, n) : NULL;

		if (!q)
			return -ENOMEM;
		b->bytes = q;
		b->abytes = n;
	}
	if (b->npats == b->apats) {
		size_t n = grown(b->apats, b->npats + 1, sizeof(*b->pats), 64);
		struct ac_pattern *q = n ? realloc(b->pats, n * sizeof(*q)) : NULL;

		if (!q)
			return -ENOMEM;
		b->pats = q;
		b->apats = n;
	}
	memcpy(b->bytes + b->nbytes, pat, len);
	b->pats[b->npats].off = b->nbytes;
	b->pats[b->npats].len = (uint32_t)len;
	b->pats[b->npats].id = id;
	b->npats++;
	b->nbytes += len;
	return 0;
}

static unsigned char fold(unsigned char c, bool nocase)
{
	return nocase && c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* One class per byte value some (folded) pattern uses, in byte order so sorting by class sorts by
 * folded bytes; every other byte shares one more class. Returns the class count (<= 256). */
static uint32_t ac_classes(const struct ac_builder *b, bool nocase, uint8_t cls[256])
{
	bool used[256] = {false};
	uint8_t map[256] = {0};
	uint32_t k = 0;
	bool other = false;

	for (size_t i = 0; i < b->nbytes; i++)
		used[fold(b->bytes[i], nocase)] = true;
	for (unsigned c = 0; c < 256; c++)
		if (used[c])
			map[c] = (uint8_t)k++;
	for (unsigned c = 0; c < 256; c++) {
		unsigned char f = fold((unsigned char)c, nocase);

		if (used[f]) {
			cls[c] = map[f];
		} else {
			cls[c] = (uint8_t)k; /* k < 256 here: c itself is unused */
			other = true;
		}
	}
	return k + other;
}

static int cmp_pattern(const void *x, const void *y, void *arg)
{
	const struct ac_ctx *c = arg;
	uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
	const struct ac_pattern *p = &c->b->pats[i], *q = &c->b->pats[j];
	int r = memcmp(c->keys + p->off, c->keys + q->off, p->len < q->len ? p->len : q->len);

	if (r)
		return r;
	if (p->len != q->len)
		return p->len < q->len ? -1 : 1;
	return (i > j) - (i < j); /* stable: duplicates report in the order they were added */
}

static uint8_t key_at(const struct ac_ctx *c, uint32_t k, uint32_t depth)
{
	return c->keys[c->b->pats[c->order[k]].off + depth];
}

/* Appends a zeroed node; NULL when out of memory. */
static struct ac_node *new_node(struct ac_ctx *c)
{
	struct ac_node *v;

	if (c->nnodes == c->anodes) {
		size_t n = grown(c->anodes, c->nnodes + 1, sizeof(*c->nodes), 1024);
		struct ac_node *q = n ? realloc(c->nodes, n * sizeof(*q)) : NULL;

		if (!q)
			return NULL;
		c->nodes = q;
		c->anodes = n;
	}
	v = &c->nodes[c->nnodes++];
	memset(v, 0, sizeof(*v));
	return v;
}

/* Lays the trie out in BFS order from the sorted patterns: a node's range splits into its own
 * patterns (length == depth, sorted first) and one run per next class. */
static int ac_trie(struct ac_ctx *c)
{
	const struct ac_pattern *pats = c->b->pats;
	struct ac_node *root = new_node(c);

	if (!root)
		return -ENOMEM;
	root->hi = (uint32_t)c->b->npats;
	for (size_t u = 0; u < c->nnodes; u++) {
		uint32_t lo = c->nodes[u].lo, hi = c->nodes[u].hi, depth = c->nodes[u].depth;
		uint32_t k = lo, first = (uint32_t)c->nnodes, n = 0;

		while (k < hi && pats[c->order[k]].len == depth)
			k++;
		c->nodes[u].own = k - lo;
		c->nown += k > lo;
		while (k < hi) {
			uint8_t key = key_at(c, k, depth);
			uint32_t e = k + 1;
			struct ac_node *v;

			while (e < hi && key_at(c, e, depth) == key)
				e++;
			if (c->nnodes >= AC_MAX_STATES)
				return -E2BIG;
			v = new_node(c);
			if (!v)
				return -ENOMEM;
			v->lo = k;
			v->hi = e;
			v->depth = (uint16_t)(depth + 1);
			v->cls = key;
			n++;
			k = e;
		}
		c->nodes[u].first_child = first;
		c->nodes[u].nchild = (uint16_t)n;
	}
	return 0;
}

static uint32_t node_ref(const struct ac *a, const struct ac_ctx *c, uint32_t v)
{
	return v < a->ndense ? v * a->ncls : a->dense_end + c->nodes[v].pos;
}

static uint32_t ref_node(const struct ac *a, const struct ac_ctx *c, uint32_t r)
{
	r &= ~AC_FLAG;
	return r < a->dense_end ? r / a->ncls : c->inv[r - a->dense_end];
}

static uint32_t find_child(const struct ac_node *nodes, uint32_t u, uint8_t cls)
{
	uint32_t lo = nodes[u].first_child, hi = lo + nodes[u].nchild;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (nodes[mid].cls == cls)
			return mid;
		if (nodes[mid].cls < cls)
			lo = mid + 1;
		else
			hi = mid;
	}
	return AC_NONE;
}

/* The DFA transition from state f on cls, at build time (rows of states before the current one
 * are complete). */
static uint32_t delta_build(const struct ac *a, const struct ac_ctx *c, uint32_t f, uint8_t cls)
{
	for (;;) {
		uint32_t v;

		if (f < a->ndense)
			return ref_node(a, c, a->dense[(size_t)f * a->ncls + cls]);
		v = find_child(c->nodes, f, cls);
		if (v != AC_NONE)
			return v;
		f = c->nodes[f].fail;
	}
}

static uint32_t target_ref(const struct ac *a, const struct ac_ctx *c, uint32_t v)
{
	return node_ref(a, c, v) | (c->nodes[v].slot != AC_NONE ? AC_FLAG : 0);
}

/* Numbers the sparse states: first the children of full-row states in BFS order, so the sparse
 * states a scan visits most stay packed together, then the states under each of them in depth-first
 * order, so walking down one literal reads consecutive entries instead of missing the cache on
 * every byte. stack has room for every sparse state. */
static void ac_sparse_order(const struct ac *a, struct ac_ctx *c, uint32_t *stack)
{
	struct ac_node *nodes = c->nodes;
	uint32_t next = 0, nheads;

	for (uint32_t u = 0; u < a->ndense; u++) {
		uint32_t first = nodes[u].first_child, n = nodes[u].nchild;

		for (uint32_t r = first; r < first + n; r++) {
			if (r < a->ndense)
				continue;
			nodes[r].pos = next;
			c->inv[next++] = r;
		}
	}
	nheads = next;
	for (uint32_t h = 0; h < nheads; h++) {
		uint32_t r = c->inv[h];
		size_t top = 0;

		for (uint32_t k = nodes[r].nchild; k > 0; k--)
			stack[top++] = nodes[r].first_child + k - 1;
		while (top) {
			uint32_t v = stack[--top];

			nodes[v].pos = next;
			c->inv[next++] = v;
			for (uint32_t k = nodes[v].nchild; k > 0; k--)
				stack[top++] = nodes[v].first_child + k - 1;
		}
	}
}

/* Failure links, output slots and full rows, in BFS order: everything a state needs comes from
 * shallower states, which are done. */
static void ac_link(struct ac *a, struct ac_ctx *c)
{
	struct ac_node *nodes = c->nodes;

	nodes[0].fail = 0;
	nodes[0].slot = AC_NONE;
	for (uint32_t u = 0; u < a->nstates; u++) {
		uint32_t first = nodes[u].first_child, n = nodes[u].nchild;

		for (uint32_t v = first; v < first + n; v++) {
			struct ac_node *m = &nodes[v];
			uint32_t fslot;

			m->fail = u == 0 ? 0 : delta_build(a, c, nodes[u].fail, m->cls);
			fslot = nodes[m->fail].slot;
			if (m->own) {
				struct ac_out *o = &a->outs[a->nouts];

				o->lo = m->lo;
				o->cnt = m->own;
				o->next = fslot;
				m->slot = (uint32_t)a->nouts++;
			} else {
				m->slot = fslot;
			}
		}
		if (u < a->ndense) {
			uint32_t *row = a->dense + (size_t)u * a->ncls;

			if (u == 0)
				memset(row, 0, a->ncls * sizeof(*row));
			else
				memcpy(row, a->dense + (size_t)nodes[u].fail * a->ncls,
				       a->ncls * sizeof(*row));
			for (uint32_t v = first; v < first + n; v++)
				row[nodes[v].cls] = target_ref(a, c, v);
			a->dense_slot[u] = nodes[u].slot;
		}
	}
}

static void ac_sparse_fill(struct ac *a, const struct ac_ctx *c)
{
	const struct ac_node *nodes = c->nodes;
	size_t e = 0;

	for (uint32_t j = 0; j < a->nstates - a->ndense; j++) {
		uint32_t v = c->inv[j];
		struct ac_sparse *sp = &a->sparse[j];
		uint32_t first = nodes[v].first_child, n = nodes[v].nchild;

		sp->fail = node_ref(a, c, nodes[v].fail);
		sp->slot = nodes[v].slot;
		sp->nchild = (uint16_t)n;
		sp->cls = 0;
		sp->pad = 0;
		sp->next = 0;
		if (n == 1) {
			sp->cls = nodes[first].cls;
			sp->next = target_ref(a, c, first);
		} else if (n > 1) {
			sp->next = (uint32_t)e;
			for (uint32_t i = first; i < first + n; i++, e++) {
				a->edge_cls[e] = nodes[i].cls;
				a->edge_next[e] = target_ref(a, c, i);
			}
		}
	}
}

static void *alloc_array(size_t n, size_t elem)
{
	if (n && n > SIZE_MAX / elem)
		return NULL;
	return malloc(n ? n * elem : 1);
}

struct ac *ac_build(const struct ac_builder *b, bool nocase)
{
	struct ac_ctx c = {.b = b};
	struct ac *a = NULL;
	uint32_t *stack = NULL;
	size_t rows;
	int rc = -ENOMEM;

	if (!b) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		goto out;
	a->npatterns = b->npats;
	a->ncls = ac_classes(b, nocase, a->cls); /* >= 1: without patterns every byte is "other" */
	c.keys = alloc_array(b->nbytes, 1);
	c.order = alloc_array(b->npats, sizeof(*c.order));
	if (!c.keys || !c.order)
		goto out;
	for (size_t i = 0; i < b->nbytes; i++)
		c.keys[i] = a->cls[b->bytes[i]];
	for (size_t i = 0; i < b->npats; i++)
		c.order[i] = (uint32_t)i;
	qsort_r(c.order, b->npats, sizeof(*c.order), cmp_pattern, &c);
	rc = ac_trie(&c);
	if (rc)
		goto out;
	rc = -ENOMEM;

	a->nstates = (uint32_t)c.nnodes;
	rows = AC_DENSE_BUDGET / (a->ncls * sizeof(uint32_t));
	if (rows == 0) /* the root always has a full row: it ends every failure chain */
		rows = 1;
	a->ndense = (uint32_t)(c.nnodes < rows ? c.nnodes : rows);
	a->dense_end = a->ndense * a->ncls;
	for (uint32_t v = a->ndense; v < a->nstates; v++)
		if (c.nodes[v].nchild > 1)
			a->nedges += c.nodes[v].nchild;
	a->dense = alloc_array(a->dense_end, sizeof(*a->dense));
	a->dense_slot = alloc_array(a->ndense, sizeof(*a->dense_slot));
	a->sparse = alloc_array(a->nstates - a->ndense, sizeof(*a->sparse));
	a->edge_cls = alloc_array(a->nedges, sizeof(*a->edge_cls));
	a->edge_next = alloc_array(a->nedges, sizeof(*a->edge_next));
	a->outs = alloc_array(c.nown, sizeof(*a->outs));
	a->ids = alloc_array(b->npats, sizeof(*a->ids));
	if (!a->dense || !a->dense_slot || !a->sparse || !a->edge_cls || !a->edge_next ||
	    !a->outs || !a->ids)
		goto out;
	for (size_t i = 0; i < b->npats; i++)
		a->ids[i] = b->pats[c.order[i]].id;
	c.inv = alloc_array(a->nstates - a->ndense, sizeof(*c.inv));
	stack = alloc_array(a->nstates - a->ndense, sizeof(*stack));
	if (!c.inv || !stack)
		goto out;
	ac_sparse_order(a, &c, stack);
	ac_link(a, &c);
	ac_sparse_fill(a, &c);
	rc = 0;
out:
	free(stack);
	free(c.inv);
	free(c.nodes);
	free(c.order);
	free(c.keys);
	if (rc) {
		ac_free(a);
		errno = -rc;
		return NULL;
	}
	return a;
}

void ac_free(struct ac *a)
{
	if (!a)
		return;
	free(a->ids);
	free(a->outs);
	free(a->edge_next);
	free(a->edge_cls);
	free(a->sparse);
	free(a->dense_slot);
	free(a->dense);
	free(a);
}

/* The transition from a sparse state: its own edges, else its failure link, until a full row. */
static uint32_t sparse_step(const struct ac *a, uint32_t s, uint32_t cls)
{
	for (;;) {
		const struct ac_sparse *sp;

		if (s < a->dense_end)
			return a->dense[s + cls];
		sp = &a->sparse[s - a->dense_end];
		if (sp->nchild == 1) {
			if (sp->cls == cls)
				return sp->next;
		} else if (sp->nchild > 1) {
			uint32_t lo = sp->next, hi = lo + sp->nchild;

			while (lo < hi) {
				uint32_t mid = lo + (hi - lo) / 2;

				if (a->edge_cls[mid] == cls)
					return a->edge_next[mid];
				if (a->edge_cls[mid] < cls)
					lo = mid + 1;
				else
					hi = mid;
			}
		}
		s = sp->fail;
	}
}

static uint32_t ref_slot(const struct ac *a, uint32_t r)
{
	return r < a->dense_end ? a->dense_slot[r / a->ncls] : a->sparse[r - a->dense_end].slot;
}

/* Sets the bits of every pattern ending at state s; returns how many were new. */
static size_t set_bits(const struct ac *a, uint32_t s, uint64_t *bits)
{
	uint32_t slot = ref_slot(a, s);
	size_t found = 0;

	do {
		const struct ac_out *o = &a->outs[slot];

		for (uint32_t k = o->lo; k < o->lo + o->cnt; k++) {
			uint32_t id = a->ids[k];
			uint64_t m = UINT64_C(1) << (id & 63);

			if (!(bits[id >> 6] & m)) {
				bits[id >> 6] |= m;
				found++;
			}
		}
		slot = o->next;
	} while (slot != AC_NONE);
	return found;
}

static inline uint32_t step(const struct ac *a, uint32_t s, unsigned char byte)
{
	uint32_t c = a->cls[byte];

	return likely(s < a->dense_end) ? a->dense[s + c] : sparse_step(a, s, c);
}

/* One lane of a bitset scan: advances *s by one byte. */
static inline void lane(const struct ac *a, uint32_t *s, unsigned char byte, uint64_t *bits,
			size_t *found)
{
	uint32_t t = step(a, *s, byte);

	*s = t & ~AC_FLAG;
	if (unlikely(t & AC_FLAG))
		*found += set_bits(a, *s, bits);
}

static size_t scan_bits_from(const struct ac *a, uint32_t s, const unsigned char *p, size_t len,
			     uint64_t *bits)
{
	size_t found = 0;

	for (size_t i = 0; i < len; i++)
		lane(a, &s, p[i], bits, &found);
	return found;
}

int ac_scan(const struct ac *a, const void *text, size_t len, ac_hit_fn fn, void *ctx)
{
	const unsigned char *p = text;
	uint32_t s = 0;

	for (size_t i = 0; i < len; i++) {
		uint32_t t = step(a, s, p[i]);

		s = t & ~AC_FLAG;
		if (unlikely(t & AC_FLAG)) {
			uint32_t slot = ref_slot(a, s);

			do {
				const struct ac_out *o = &a->outs[slot];

				for (uint32_t k = o->lo; k < o->lo + o->cnt; k++) {
					int rc = fn(ctx, a->ids[k], i + 1);

					if (rc)
						return rc;
				}
				slot = o->next;
			} while (slot != AC_NONE);
		}
	}
	return 0;
}

size_t ac_scan_bits(const struct ac *a, const void *text, size_t len, uint64_t *bits)
{
	return scan_bits_from(a, 0, text, len, bits);
}

/* Four scans advance in lockstep; a lane whose text ends takes the next text. Once no text is
 * left for an empty lane, the other lanes finish one after the other. */
size_t ac_scan_bits_many(const struct ac *a, const void *const *texts, const size_t *lens, size_t n,
			 uint64_t *bits)
{
	const unsigned char *p[4] = {NULL};
	size_t left[4] = {0}, next = 0, found = 0;
	uint32_t s[4] = {0};

	for (;;) {
		size_t m;
		bool full = true;

		for (int k = 0; k < 4 && full; k++) {
			while (left[k] == 0 && next < n) {
				p[k] = texts[next];
				left[k] = lens[next++];
				s[k] = 0;
			}
			full = left[k] > 0;
		}
		if (!full)
			break;
		m = left[0];
		for (int k = 1; k < 4; k++)
			m = left[k] < m ? left[k] : m;
		for (size_t i = 0; i < m; i++) {
			lane(a, &s[0], p[0][i], bits, &found);
			lane(a, &s[1], p[1][i], bits, &found);
			lane(a, &s[2], p[2][i], bits, &found);
			lane(a, &s[3], p[3][i], bits, &found);
		}
		for (int k = 0; k < 4; k++) {
			p[k] += m;
			left[k] -= m;
		}
	}
	for (int k = 0; k < 4; k++)
		found += scan_bits_from(a, s[k], p[k], left[k], bits);
	return found;
}

size_t ac_pattern_count(const struct ac *a)
{
	return a->npatterns;
}

size_t ac_state_count(const struct ac *a)
{
	return a->nstates;
}

size_t ac_dense_state_count(const struct ac *a)
{
	return a->ndense;
}

size_t ac_class_count(const struct ac *a)
{
	return a->ncls;
}

size_t ac_memory_bytes(const struct ac *a)
{
	return sizeof(*a) + (size_t)a->dense_end * sizeof(*a->dense) +
	       (size_t)a->ndense * sizeof(*a->dense_slot) +
	       (size_t)(a->nstates - a->ndense) * sizeof(*a->sparse) +
	       a->nedges * (sizeof(*a->edge_cls) + sizeof(*a->edge_next)) +
	       a->nouts * sizeof(*a->outs) + a->npatterns * sizeof(*a->ids);
}
