/* Indicator lists: any bytes load cleanly as an indicator file. Every bad line reaches the diag
 * callback with its line number and a message; every loaded value is in normal form (loading
 * "<type> <value>" again gives the same value back) and is found again when put into an event
 * (hashes upper-cased, a subdomain of a domain, the first address of a network); a fixed event
 * matches without trouble and a nonzero callback return stops the match. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "detect_doc.h"
#include "detect_fields.h"
#include "ioc.h"

#include "banned.h"

/* Entries re-checked one by one: enough for coverage, bounded for speed. */
#define CHECK_MAX 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const TYPE_NAME[] = {
    [IOC_SHA256] = "sha256", [IOC_SHA1] = "sha1",     [IOC_MD5] = "md5",   [IOC_IP] = "ip",
    [IOC_CIDR] = "cidr",     [IOC_DOMAIN] = "domain", [IOC_PATH] = "path",
};

static struct detect_fields *fields;
static struct detect_doc *doc;

struct diag_state {
	unsigned calls;
	unsigned last_line;
	unsigned max_line;
};

static void on_diag(void *ctx, const struct detect_diag *d)
{
	struct diag_state *st = ctx;

	if (!d->path || !d->message || !d->message[0] || d->rule || d->fatal || d->line == 0 ||
	    d->line > st->max_line || d->line <= st->last_line)
		abort(); /* one diag per bad line, in order */
	st->last_line = d->line;
	st->calls++;
}

struct hit_state {
	const struct ioc_set *set;
	int hits;
	int stop_after;
	const struct ioc_entry *want; /* when set, one of the hits must be this entry */
	bool seen;
};

static int on_hit(void *ctx, const struct ioc_hit *h, struct detect_doc *d)
{
	struct hit_state *st = ctx;

	if (d != doc || !h->ioc || !h->rule || !h->field || !h->value ||
	    strncmp(h->rule->id, "ioc:", 4) != 0 || strcmp(h->rule->kind, "ioc") != 0 ||
	    h->rule->risk_score < 10 || h->rule->risk_score > 99 || !h->rule->advice[0] ||
	    h->rule->ntechniques > 1 || h->rule->ntactics != 0)
		abort();
	if (h->ioc == st->want)
		st->seen = true;
	st->hits++;
	return st->stop_after && st->hits == st->stop_after ? 99 : 0;
}

static void setup(void)
{
	if (fields)
		return;
	fields = detect_fields_new();
	if (!fields)
		abort();
	for (size_t i = 0; IOC_FIELDS[i]; i++)
		if (detect_fields_intern(fields, IOC_FIELDS[i], strlen(IOC_FIELDS[i])) ==
		    DETECT_FIELD_NONE)
			abort();
	doc = detect_doc_new(fields);
	if (!doc)
		abort();
}

static void add(const char *field, const char *value, size_t len)
{
	if (detect_doc_add(doc, field, strlen(field), value, len) != 0)
		abort();
}

/* The fixed event: a few values of every kind, some of them typical list entries. */
static void fill_fixed_doc(void)
{
	static const char *const pairs[][2] = {
	    {"process.hash.sha256",
	     "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"},
	    {"process.hash.md5", "d41d8cd98f00b204e9800998ecf8427e"},
	    {"file.hash.sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	    {"destination.ip", "203.0.113.7"},
	    {"source.ip", "2001:db8::1"},
	    {"dns.resolved_ip", "::ffff:10.1.2.3"},
	    {"dns.question.name", "a.b.Evil.Example."},
	    {"url.domain", "198.51.100.9"},
	    {"destination.domain", "x.y.z.w.v.u.t.s.r.q.p.o.n.m.l.k.j.i.h.g.f.e.d.c.b.a"},
	    {"process.executable", "/tmp/.x/kworker"},
	    {"file.path", "/usr/bin/bash"},
	};

	detect_doc_reset(doc);
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		add(pairs[i][0], pairs[i][1], strlen(pairs[i][1]));
}

/* Loading "<type> <value>" on its own gives back exactly one entry with the same value. */
static void check_normal_form(const struct ioc_entry *e)
{
	char line[4200];
	struct ioc_set *s = ioc_set_new();
	const struct ioc_entry *again;
	int n;

	if (!s)
		abort();
	if (strlen(e->value) + strlen(TYPE_NAME[e->type]) + 1 > 4096) {
		ioc_set_unref(s); /* a bare 4096-byte path has no room for its type on a line */
		return;
	}
	/* CSV values cannot hold a comma, the other form's cannot hold a space. */
	n = snprintf(line, sizeof(line), strchr(e->value, ',') ? "%s %s\n" : "%s,%s\n",
		     TYPE_NAME[e->type], e->value);
	if (n < 0 || (size_t)n >= sizeof(line))
		abort();
	if (ioc_set_add_text(s, "again", line, (size_t)n, NULL, NULL) != 1 ||
	    ioc_set_bad_lines(s) != 0 || ioc_set_finish(s) != 0)
		abort();
	again = ioc_set_entry(s, 0);
	if (!again || again->type != e->type || strcmp(again->value, e->value) != 0)
		abort();
	ioc_set_unref(s);
}

/* The entry, put into an event, is found (maybe as a more specific entry of the set). */
static void check_found(const struct ioc_set *s, const struct ioc_entry *e)
{
	struct hit_state st = {s, 0, 0, e, false};
	char buf[4200], *slash;
	size_t n = strlen(e->value);

	detect_doc_reset(doc);
	switch (e->type) {
	case IOC_SHA256:
	case IOC_SHA1:
	case IOC_MD5:
		for (size_t i = 0; i < n; i++)
			buf[i] = e->value[i] >= 'a' ? (char)(e->value[i] - 32) : e->value[i];
		add(e->type == IOC_SHA256 ? "file.hash.sha256" : "process.hash.sha1", buf, n);
		break;
	case IOC_IP:
		add("destination.ip", e->value, n);
		break;
	case IOC_CIDR:
		memcpy(buf, e->value, n + 1);
		slash = strchr(buf, '/');
		if (!slash)
			abort();
		add("source.ip", buf, (size_t)(slash - buf));
		break;
	case IOC_DOMAIN:
		n = (size_t)snprintf(buf, sizeof(buf), n + 4 <= 253 ? "Sub.%s." : "%s.", e->value);
		add("dns.question.name", buf, n);
		break;
	case IOC_PATH:
		add("file.path", e->value, n);
		break;
	}
	if (ioc_set_match(s, doc, on_hit, &st) != 1 || st.hits != 1)
		abort();
	/* Exact kinds find this very entry; networks and domains may find a more specific one. */
	if (!st.seen && e->type != IOC_CIDR && e->type != IOC_DOMAIN)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag_state ds = {0, 0, 1};
	struct hit_state hs = {0};
	struct ioc_set *s;
	size_t count;
	int rc, hits;

	setup();
	for (size_t i = 0; i < size; i++)
		ds.max_line += data[i] == '\n';
	s = ioc_set_new();
	if (!s)
		abort();
	rc = ioc_set_add_text(s, "fuzz.txt", (const char *)data, size, on_diag, &ds);
	if (rc < 0 || ds.calls != ioc_set_bad_lines(s))
		abort();
	count = ioc_set_count(s);
	if ((size_t)rc != count || ioc_set_finish(s) != 0 ||
	    ioc_set_add_text(s, "x", "a.example", 9, NULL, NULL) != -EBUSY)
		abort();
	for (size_t i = 0; i < count && i < CHECK_MAX; i++) {
		const struct ioc_entry *e = ioc_set_entry(s, i);

		if (!e || !e->value[0] || !e->list[0] || !e->description || !e->technique ||
		    (unsigned)e->severity > DETECT_SEV_CRITICAL || (unsigned)e->type > IOC_PATH)
			abort();
		check_normal_form(e);
		check_found(s, e);
	}
	if (ioc_set_entry(s, count))
		abort();

	fill_fixed_doc();
	hs.set = s;
	hits = ioc_set_match(s, doc, on_hit, &hs);
	if (hits < 0 || hits != hs.hits)
		abort();
	if (hits > 1) {
		hs.hits = 0;
		hs.stop_after = 1;
		if (ioc_set_match(s, doc, on_hit, &hs) != 99 || hs.hits != 1)
			abort();
	}
	ioc_set_ref(s);
	ioc_set_unref(s);
	ioc_set_unref(s);
	return 0;
}
