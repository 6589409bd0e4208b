/* State of Sigma correlation rules: per correlation and group-by key, what the referenced rules
 * matched inside the timespan (event counts in 64 sliding sub-windows, distinct values, the last
 * time each rule matched, or how far an ordered chain got). Event time drives the windows, so
 * replayed and live events behave the same. Memory is bounded: at most CORR_MAX_GROUPS keys per
 * correlation; when full, the older half is forgotten (and counted). */
#include "sigma_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORR_MAX_GROUPS 8192
#define CORR_BUCKETS 64
#define CORR_MAX_VALUES 1024
#define CORR_HASH 4096
#define KEY_MAX 512

struct corr_group {
	struct corr_group *next;
	uint64_t hash;
	uint64_t first_ns, last_ns;
	char key[KEY_MAX];
	/* event_count */
	uint64_t base; /* bucket index of counts[0] */
	uint32_t counts[CORR_BUCKETS];
	/* value_count: hashes of distinct values and when each was last seen */
	unsigned nvalues;
	uint64_t *vhash;
	uint64_t *vtime;
	/* temporal: last match time per referenced rule (0 = none); ordered: chain start */
	uint64_t *t;
};

struct corr_state {
	pthread_mutex_t lock;
	struct corr_group *buckets[CORR_HASH];
	unsigned ngroups;
	uint64_t evicted;
	uint64_t max_ns;
};

int sigma_corr_init(struct sigma_corr *c)
{
	c->state = calloc(1, sizeof(*c->state));
	if (!c->state)
		return -ENOMEM;
	pthread_mutex_init(&c->state->lock, NULL);
	return 0;
}

static void group_free(struct corr_group *g)
{
	free(g->vhash);
	free(g->vtime);
	free(g->t);
	free(g);
}

void sigma_corr_release(struct sigma_corr *c)
{
	struct corr_state *s = c->state;
	if (!s)
		return;
	for (unsigned i = 0; i < CORR_HASH; i++) {
		struct corr_group *g = s->buckets[i];
		while (g) {
			struct corr_group *n = g->next;
			group_free(g);
			g = n;
		}
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
	c->state = NULL;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

/* "field=value,field=value" from the doc, with the fields the correlation reads for this rule. */
static size_t build_key(const struct sigma_corr *c, unsigned ri, struct detect_doc *doc,
			char *out, size_t size)
{
	size_t n = 0;
	out[0] = 0;
	for (unsigned g = 0; g < c->ngroup; g++) {
		const struct detect_value *v = detect_doc_first(doc, c->group_fields[g * c->nrules + ri]);
		int w = snprintf(out + n, size - n, "%s%s=%.*s", g ? "," : "", c->group_by[g],
				 v ? (int)(v->len > 200 ? 200 : v->len) : 0, v ? v->str : "");
		if (w < 0 || (size_t)w >= size - n)
			return size - 1;
		n += (size_t)w;
	}
	return n;
}

/* Full: forget the older half of the keys in one sweep (constant cost per insertion). */
static void evict_oldest(struct corr_state *s)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	for (unsigned i = 0; i < CORR_HASH; i++)
		for (struct corr_group *g = s->buckets[i]; g; g = g->next) {
			lo = g->last_ns < lo ? g->last_ns : lo;
			hi = g->last_ns > hi ? g->last_ns : hi;
		}
	uint64_t cut = lo + (hi - lo) / 2;
	for (unsigned i = 0; i < CORR_HASH; i++)
		for (struct corr_group **p = &s->buckets[i]; *p;) {
			if ((*p)->last_ns <= cut) {
				struct corr_group *g = *p;
				*p = g->next;
				group_free(g);
				s->ngroups--;
				s->evicted++;
			} else {
				p = &(*p)->next;
			}
		}
}

static struct corr_group *group_get(const struct sigma_corr *c, const char *key, size_t klen)
{
	struct corr_state *s = c->state;
	uint64_t h = hash_bytes(key, klen);
	struct corr_group **b = &s->buckets[h % CORR_HASH];
	for (struct corr_group *g = *b; g; g = g->next)
		if (g->hash == h && strcmp(g->key, key) == 0)
			return g;
	if (s->ngroups >= CORR_MAX_GROUPS)
		evict_oldest(s);
	struct corr_group *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->hash = h;
	memcpy(g->key, key, klen < KEY_MAX ? klen + 1 : KEY_MAX);
	g->key[KEY_MAX - 1] = 0;
	if (c->type == CORR_VALUE_COUNT) {
		g->vhash = calloc(CORR_MAX_VALUES, sizeof(uint64_t));
		g->vtime = calloc(CORR_MAX_VALUES, sizeof(uint64_t));
	} else if (c->type == CORR_TEMPORAL || c->type == CORR_TEMPORAL_ORDERED) {
		g->t = calloc(c->nrules, sizeof(uint64_t));
	}
	if ((c->type == CORR_VALUE_COUNT && (!g->vhash || !g->vtime)) ||
	    ((c->type == CORR_TEMPORAL || c->type == CORR_TEMPORAL_ORDERED) && !g->t)) {
		group_free(g);
		return NULL;
	}
	g->next = *b;
	*b = g;
	s->ngroups++;
	return g;
}

static bool cond_holds(const struct sigma_corr *c, uint64_t n)
{
	bool r;
	switch (c->op) {
	case CMP_EQ: r = n == c->threshold; break;
	case CMP_LT: r = n < c->threshold; break;
	case CMP_LTE: r = n <= c->threshold; break;
	case CMP_GT: r = n > c->threshold; break;
	case CMP_GTE: r = n >= c->threshold; break;
	default: r = false;
	}
	return c->op_neq ? !r : r;
}

static void group_reset(const struct sigma_corr *c, struct corr_group *g)
{
	memset(g->counts, 0, sizeof(g->counts));
	g->nvalues = 0;
	if (g->t)
		memset(g->t, 0, c->nrules * sizeof(uint64_t));
	g->first_ns = 0;
}

static uint64_t feed_count(const struct sigma_corr *c, struct corr_group *g, uint64_t now)
{
	uint64_t width = c->timespan_ns / CORR_BUCKETS;
	if (!width)
		width = 1;
	uint64_t b = now / width;
	if (b >= g->base + CORR_BUCKETS) {
		/* Slide: drop buckets that left the window. */
		uint64_t shift = b - (g->base + CORR_BUCKETS - 1);
		if (shift >= CORR_BUCKETS) {
			memset(g->counts, 0, sizeof(g->counts));
		} else {
			memmove(g->counts, g->counts + shift,
				(CORR_BUCKETS - shift) * sizeof(g->counts[0]));
			memset(g->counts + CORR_BUCKETS - shift, 0, shift * sizeof(g->counts[0]));
		}
		g->base += shift;
	}
	if (b >= g->base && g->counts[b - g->base] < UINT32_MAX)
		g->counts[b - g->base]++;
	uint64_t total = 0;
	for (unsigned i = 0; i < CORR_BUCKETS; i++)
		total += g->counts[i];
	return total;
}

static uint64_t feed_value(const struct sigma_corr *c, struct corr_group *g, unsigned ri,
			   struct detect_doc *doc, uint64_t now)
{
	(void)ri;
	uint64_t since = now > c->timespan_ns ? now - c->timespan_ns : 0;
	/* Forget values that left the window (compacting). */
	unsigned k = 0;
	for (unsigned i = 0; i < g->nvalues; i++)
		if (g->vtime[i] >= since) {
			g->vhash[k] = g->vhash[i];
			g->vtime[k++] = g->vtime[i];
		}
	g->nvalues = k;
	const struct detect_value *v = detect_doc_first(doc, c->value_field);
	if (v) {
		uint64_t h = hash_bytes(v->str, v->len);
		unsigned i = 0;
		while (i < g->nvalues && g->vhash[i] != h)
			i++;
		if (i < g->nvalues) {
			g->vtime[i] = now;
		} else if (g->nvalues < CORR_MAX_VALUES) {
			g->vhash[g->nvalues] = h;
			g->vtime[g->nvalues++] = now;
		}
	}
	return g->nvalues;
}

static uint64_t feed_temporal(const struct sigma_corr *c, struct corr_group *g, unsigned ri,
			      uint64_t now)
{
	uint64_t since = now > c->timespan_ns ? now - c->timespan_ns : 0;
	if (c->type == CORR_TEMPORAL) {
		g->t[ri] = now ? now : 1;
		uint64_t n = 0;
		for (unsigned i = 0; i < c->nrules; i++)
			if (g->t[i] && g->t[i] >= since)
				n++;
		return n;
	}
	/* Ordered: t[i] is when the chain that reached rule i started. */
	if (ri == 0) {
		g->t[0] = now ? now : 1;
	} else if (g->t[ri - 1] && g->t[ri - 1] >= since) {
		g->t[ri] = g->t[ri - 1];
	}
	uint64_t n = 0;
	while (n < c->nrules && g->t[n] && g->t[n] >= since)
		n++;
	return n;
}

bool sigma_corr_feed(struct sigma_corr *c, unsigned ri, struct detect_doc *doc, char *group,
		     size_t gsize, struct detect_hit *hit)
{
	struct corr_state *s = c->state;
	if (!s || ri >= c->nrules)
		return false;
	size_t klen = build_key(c, ri, doc, group, gsize < KEY_MAX ? gsize : KEY_MAX);
	bool fired = false;
	pthread_mutex_lock(&s->lock);
	uint64_t now = doc->time_ns;
	if (now > s->max_ns)
		s->max_ns = now;
	if (!now)
		now = s->max_ns;
	struct corr_group *g = group_get(c, group, klen);
	if (!g)
		goto out;
	if (!g->first_ns || g->first_ns + c->timespan_ns < now)
		g->first_ns = now;
	g->last_ns = now;
	uint64_t n;
	switch (c->type) {
	case CORR_EVENT_COUNT: n = feed_count(c, g, now); break;
	case CORR_VALUE_COUNT: n = feed_value(c, g, ri, doc, now); break;
	default: n = feed_temporal(c, g, ri, now); break;
	}
	if (cond_holds(c, n)) {
		fired = true;
		memset(hit, 0, sizeof(*hit));
		hit->rule = &c->meta;
		hit->doc = doc;
		hit->group = group;
		hit->count = n;
		hit->first_ns = g->first_ns;
		hit->last_ns = now;
		/* One alert per completed window: start counting afresh. */
		group_reset(c, g);
	}
out:
	pthread_mutex_unlock(&s->lock);
	return fired;
}
