/* Indicator lists: every type with and without its name, directives, comments, the CSV form,
 * subdomains, the most specific network, normalisation, bad lines with their line numbers,
 * duplicates, and 200,000 random indicators checked against a naive scan. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cidr.h"
#include "detect_doc.h"
#include "detect_fields.h"
#include "dynbuf.h"
#include "ioc.h"

#include "banned.h"

#define MAX_DIAGS 64
#define MAX_HITS 64

static const char SHA256_A[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char SHA1_A[] = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
static const char MD5_A[] = "d41d8cd98f00b204e9800998ecf8427e";

struct diag_rec {
	unsigned line;
	char msg[256];
};

struct hit_rec {
	const struct ioc_entry *ioc;
	const struct detect_rule_meta *rule;
	const char *field;
};

struct env {
	struct detect_fields *fields;
	struct detect_doc *doc;
	struct ioc_set *set;
	struct diag_rec diags[MAX_DIAGS];
	unsigned ndiags;
	struct hit_rec hits[MAX_HITS];
	unsigned nhits;
	int stop_at; /* nonzero: the callback returns 7 on this hit */
};

static void on_diag(void *ctx, const struct detect_diag *d)
{
	struct env *e = ctx;

	assert_null(d->rule);
	assert_false(d->fatal);
	assert_non_null(d->path);
	if (e->ndiags < MAX_DIAGS) {
		e->diags[e->ndiags].line = d->line;
		(void)snprintf(e->diags[e->ndiags].msg, sizeof(e->diags[0].msg), "%s", d->message);
	}
	e->ndiags++;
}

static int on_hit(void *ctx, const struct ioc_hit *hit, struct detect_doc *doc)
{
	struct env *e = ctx;

	assert_ptr_equal(doc, e->doc);
	assert_non_null(hit->rule);
	assert_non_null(hit->field);
	assert_true(hit->value_len > 0);
	if (e->nhits < MAX_HITS)
		e->hits[e->nhits] = (struct hit_rec){hit->ioc, hit->rule, hit->field};
	e->nhits++;
	return e->stop_at && (int)e->nhits == e->stop_at ? 7 : 0;
}

static void env_free(struct env *e)
{
	ioc_set_unref(e->set);
	detect_doc_free(e->doc);
	detect_fields_free(e->fields);
	free(e);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	e->fields = detect_fields_new();
	if (!e->fields)
		goto out;
	for (size_t i = 0; IOC_FIELDS[i]; i++)
		if (detect_fields_intern(e->fields, IOC_FIELDS[i], strlen(IOC_FIELDS[i])) ==
		    DETECT_FIELD_NONE)
			goto out;
	if (detect_fields_intern(e->fields, "process.name", 12) == DETECT_FIELD_NONE)
		goto out;
	e->doc = detect_doc_new(e->fields);
	e->set = ioc_set_new();
	if (!e->doc || !e->set)
		goto out;
	*state = e;
	return 0;
out:
	env_free(e);
	return -1;
}

static int teardown(void **state)
{
	env_free(*state);
	return 0;
}

static int load(struct env *e, const char *path, const char *text)
{
	return ioc_set_add_text(e->set, path, text, strlen(text), on_diag, e);
}

static void finish(struct env *e)
{
	assert_int_equal(ioc_set_finish(e->set), 0);
}

/* Matches a doc of one field=value pair; the value of the (first) indicator hit, or NULL. */
static const char *match1(struct env *e, const char *field, const char *value)
{
	int rc;

	detect_doc_reset(e->doc);
	assert_int_equal(detect_doc_add(e->doc, field, strlen(field), value, strlen(value)), 0);
	e->nhits = 0;
	rc = ioc_set_match(e->set, e->doc, on_hit, e);
	assert_int_equal(rc, (int)e->nhits);
	if (!e->nhits)
		return NULL;
	assert_string_equal(e->hits[0].field, field);
	return e->hits[0].ioc->value;
}

static void expect_match(struct env *e, const char *field, const char *value, const char *want)
{
	const char *got = match1(e, field, value);

	if (!want && got)
		fail_msg("%s=%s matched %s", field, value, got);
	if (want && !got)
		fail_msg("%s=%s did not match %s", field, value, want);
	if (want)
		assert_string_equal(got, want);
}

static const struct ioc_entry *find_entry(struct env *e, const char *value)
{
	for (size_t i = 0; i < ioc_set_count(e->set); i++) {
		const struct ioc_entry *x = ioc_set_entry(e->set, i);

		if (strcmp(x->value, value) == 0)
			return x;
	}
	return NULL;
}

static void test_types(void **state)
{
	struct env *e = *state;
	char text[2048];
	const struct detect_rule_meta *r;

	(void)snprintf(text, sizeof(text),
		 "sha256 %s empty file\n"
		 "sha1 %s\n"
		 "md5   %s  the empty md5\n"
		 "ip 203.0.113.7\n"
		 "ip 2001:db8::1\n"
		 "cidr 198.51.100.0/24\n"
		 "domain evil.example\n"
		 "path /tmp/.x/kworker\n",
		 SHA256_A, SHA1_A, MD5_A);
	assert_int_equal(load(e, "feeds/test.txt", text), 8);
	assert_int_equal(e->ndiags, 0);
	finish(e);
	assert_int_equal(ioc_set_count(e->set), 8);
	assert_int_equal(ioc_set_bad_lines(e->set), 0);

	expect_match(e, "process.hash.sha256", SHA256_A, SHA256_A);
	expect_match(e, "file.hash.sha1", SHA1_A, SHA1_A);
	expect_match(e, "dll.hash.md5", MD5_A, MD5_A);
	expect_match(e, "process.parent.hash.sha256", SHA256_A, SHA256_A);
	expect_match(e, "destination.ip", "203.0.113.7", "203.0.113.7");
	expect_match(e, "dns.resolved_ip", "2001:db8::1", "2001:db8::1");
	expect_match(e, "source.ip", "198.51.100.200", "198.51.100.0/24");
	expect_match(e, "client.ip", "198.51.101.1", NULL);
	expect_match(e, "dns.question.name", "evil.example", "evil.example");
	expect_match(e, "url.domain", "evil.example", "evil.example");
	expect_match(e, "process.executable", "/tmp/.x/kworker", "/tmp/.x/kworker");
	expect_match(e, "file.path", "/tmp/.x/kworker2", NULL);
	expect_match(e, "file.path", "/TMP/.x/kworker", NULL); /* paths are case-sensitive */
	/* Values in fields indicators are not looked up in never match. */
	expect_match(e, "process.name", "/tmp/.x/kworker", NULL);

	/* The entry and its rule-like description. */
	assert_non_null(match1(e, "file.hash.sha256", SHA256_A));
	assert_int_equal(e->hits[0].ioc->type, IOC_SHA256);
	assert_string_equal(e->hits[0].ioc->list, "test");
	assert_string_equal(e->hits[0].ioc->description, "empty file");
	assert_int_equal(e->hits[0].ioc->severity, DETECT_SEV_HIGH);
	assert_string_equal(e->hits[0].ioc->technique, "");
	r = e->hits[0].rule;
	assert_string_equal(r->id,
			    "ioc:test:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
			    "7852b855");
	assert_string_equal(r->title,
			    "Indicator match: sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41"
			    "e4649b934ca495991b7852b855 (test)");
	assert_string_equal(r->description, "empty file");
	assert_string_equal(r->kind, "ioc");
	assert_string_equal(r->path, "feeds/test.txt");
	assert_int_equal(r->severity, DETECT_SEV_HIGH);
	assert_int_equal(r->risk_score, 73);
	assert_int_equal(r->ntactics, 0);
	assert_int_equal(r->ntechniques, 0);
	assert_true(r->generate);
	assert_non_null(strstr(r->advice, "quarantine the file"));

	assert_non_null(match1(e, "file.hash.sha1", SHA1_A));
	assert_null(e->hits[0].rule->description);
	assert_string_equal(e->hits[0].ioc->description, "");
	assert_non_null(match1(e, "destination.ip", "203.0.113.7"));
	assert_int_equal(e->hits[0].ioc->type, IOC_IP);
	assert_non_null(strstr(e->hits[0].rule->advice, "firewall"));
	assert_non_null(match1(e, "dns.question.name", "a.evil.example"));
	assert_int_equal(e->hits[0].ioc->type, IOC_DOMAIN);
	assert_string_equal(e->hits[0].rule->title, "Indicator match: domain evil.example (test)");
	assert_non_null(strstr(e->hits[0].rule->advice, "DNS"));
	assert_non_null(match1(e, "file.path", "/tmp/.x/kworker"));
	assert_int_equal(e->hits[0].ioc->type, IOC_PATH);
	assert_non_null(strstr(e->hits[0].rule->advice, "path"));
}

static void test_inference(void **state)
{
	struct env *e = *state;
	char text[2048];

	(void)snprintf(text, sizeof(text),
		 "%s\n%s described\n%s\n203.0.113.9\n2001:db8::9\n198.51.100.0/25\n"
		 "2001:db8:1::/48\nevil.example\n/usr/bin/.hidden some note\n",
		 SHA256_A, SHA1_A, MD5_A);
	assert_int_equal(load(e, NULL, text), 9);
	assert_int_equal(e->ndiags, 0);
	finish(e);
	assert_int_equal(find_entry(e, SHA256_A)->type, IOC_SHA256);
	assert_int_equal(find_entry(e, SHA1_A)->type, IOC_SHA1);
	assert_string_equal(find_entry(e, SHA1_A)->description, "described");
	assert_int_equal(find_entry(e, MD5_A)->type, IOC_MD5);
	assert_int_equal(find_entry(e, "203.0.113.9")->type, IOC_IP);
	assert_int_equal(find_entry(e, "2001:db8::9")->type, IOC_IP);
	assert_int_equal(find_entry(e, "198.51.100.0/25")->type, IOC_CIDR);
	assert_int_equal(find_entry(e, "2001:db8:1::/48")->type, IOC_CIDR);
	assert_int_equal(find_entry(e, "evil.example")->type, IOC_DOMAIN);
	assert_int_equal(find_entry(e, "/usr/bin/.hidden")->type, IOC_PATH);
	assert_string_equal(find_entry(e, "/usr/bin/.hidden")->description, "some note");
	assert_string_equal(find_entry(e, "evil.example")->list, "indicators"); /* no path */
	expect_match(e, "destination.ip", "2001:db8:1:ffff::1", "2001:db8:1::/48");
	expect_match(e, "server.domain", "x.evil.example", "evil.example");
}

static void test_directives(void **state)
{
	struct env *e = *state;
	const struct ioc_entry *x;
	const struct detect_rule_meta *r;

	assert_int_equal(load(e, "/etc/mamori/ioc/feodo.csv",
			      "a.example\n"
			      "@name feodo-c2\n"
			      "@severity critical   # worst\n"
			      "@technique T1071.001\n"
			      "b.example c2 server\n"
			      "@severity LOW\n"
			      "@technique t1105\n"
			      "c.example\n"
			      "@technique\n"
			      "@severity informational\n"
			      "d.example\n"
			      "@name\n"
			      "@severity\n"
			      "e.example\n"
			      "@severity medium\n"
			      "f.example\n"),
			 6);
	assert_int_equal(load(e, "other.txt", "g.example\n"), 1); /* directives end with a file */
	assert_int_equal(e->ndiags, 0);
	finish(e);

	x = find_entry(e, "a.example");
	assert_string_equal(x->list, "feodo");
	assert_int_equal(x->severity, DETECT_SEV_HIGH);
	assert_string_equal(x->technique, "");

	x = find_entry(e, "b.example");
	assert_string_equal(x->list, "feodo-c2");
	assert_int_equal(x->severity, DETECT_SEV_CRITICAL);
	assert_string_equal(x->technique, "T1071.001");
	assert_non_null(match1(e, "dns.question.name", "b.example"));
	r = e->hits[0].rule;
	assert_string_equal(r->id, "ioc:feodo-c2:b.example");
	assert_string_equal(r->title, "Indicator match: domain b.example (feodo-c2)");
	assert_string_equal(r->description, "c2 server");
	assert_int_equal(r->risk_score, 99);
	assert_int_equal(r->ntechniques, 1);
	assert_string_equal(r->techniques[0], "T1071.001");

	x = find_entry(e, "c.example");
	assert_int_equal(x->severity, DETECT_SEV_LOW);
	assert_string_equal(x->technique, "T1105"); /* uppercased */
	assert_non_null(match1(e, "dns.question.name", "c.example"));
	assert_int_equal(e->hits[0].rule->risk_score, 21);

	x = find_entry(e, "d.example");
	assert_int_equal(x->severity, DETECT_SEV_INFORMATIONAL);
	assert_string_equal(x->technique, "");
	assert_non_null(match1(e, "dns.question.name", "d.example"));
	assert_int_equal(e->hits[0].rule->risk_score, 10);
	assert_int_equal(e->hits[0].rule->ntechniques, 0);

	x = find_entry(e, "e.example");
	assert_string_equal(x->list, "feodo");
	assert_int_equal(x->severity, DETECT_SEV_HIGH);

	assert_non_null(match1(e, "dns.question.name", "f.example"));
	assert_int_equal(e->hits[0].rule->risk_score, 47);

	x = find_entry(e, "g.example");
	assert_string_equal(x->list, "other");
	assert_int_equal(x->severity, DETECT_SEV_HIGH);
}

static void test_comments(void **state)
{
	struct env *e = *state;

	assert_int_equal(load(e, "c.txt",
			      "# a comment\n"
			      "   # indented comment\n"
			      "\n"
			      "  \t \r\n"
			      "evil.example # trailing comment\n"
			      "path /tmp/a#b  keeps the hash # but not this\n"
			      "ip 203.0.113.1\t# tab before\n"
			      "#ip 203.0.113.2\n"
			      "# Latin-1 in a comment: M\xfcller\n"
			      "latin.example # caf\xe9\n"
			      "domain crlf.example\r\n"
			      "last.example"),
			 6);
	assert_int_equal(e->ndiags, 0);
	finish(e);
	assert_string_equal(find_entry(e, "/tmp/a#b")->description, "keeps the hash");
	assert_string_equal(find_entry(e, "evil.example")->description, "");
	assert_non_null(find_entry(e, "crlf.example"));
	assert_non_null(find_entry(e, "last.example"));
	assert_null(find_entry(e, "203.0.113.2"));
	expect_match(e, "destination.ip", "203.0.113.1", "203.0.113.1");
}

static void test_csv(void **state)
{
	struct env *e = *state;
	char text[2048];

	(void)snprintf(text, sizeof(text),
		 "type,value,comment\n"
		 "sha256,%s,empty file, really\n"
		 "SHA1 , %s ,\n"
		 "\"md5\",\"%s\",\"quoted, description\"\n"
		 "ip,203.0.113.50\n"
		 "cidr,10.0.0.0/8,private\n"
		 "domain,csv.example,c2\n"
		 "path,/tmp/with space/x,spaces are fine here\n"
		 "untyped.example,typeless row\n"
		 "sha256,,missing\n",
		 SHA256_A, SHA1_A, MD5_A);
	assert_int_equal(load(e, "x.csv", text), 8);
	assert_int_equal(e->ndiags, 1);
	assert_int_equal(e->diags[0].line, 10);
	finish(e);
	assert_string_equal(find_entry(e, SHA256_A)->description, "empty file, really");
	assert_string_equal(find_entry(e, SHA1_A)->description, "");
	assert_string_equal(find_entry(e, MD5_A)->description, "quoted, description");
	assert_int_equal(find_entry(e, "203.0.113.50")->type, IOC_IP);
	assert_string_equal(find_entry(e, "10.0.0.0/8")->description, "private");
	assert_string_equal(find_entry(e, "csv.example")->description, "c2");
	assert_string_equal(find_entry(e, "/tmp/with space/x")->description,
			    "spaces are fine here");
	assert_string_equal(find_entry(e, "untyped.example")->description, "typeless row");
	expect_match(e, "file.path", "/tmp/with space/x", "/tmp/with space/x");
}

static void test_subdomains(void **state)
{
	struct env *e = *state;

	assert_int_equal(load(e, "d.txt",
			      "domain evil.example\n"
			      "domain deep.sub.evil.example\n"
			      "domain zip\n"
			      "*.wild.example\n"
			      "domain under_score.example\n"),
			 5);
	finish(e);
	expect_match(e, "dns.question.name", "evil.example", "evil.example");
	expect_match(e, "dns.question.name", "a.evil.example", "evil.example");
	expect_match(e, "dns.question.name", "a.b.c.evil.example", "evil.example");
	expect_match(e, "dns.question.name", "EVIL.Example.", "evil.example");
	expect_match(e, "dns.question.name", "WWW.EVIL.EXAMPLE", "evil.example");
	expect_match(e, "dns.question.name", "notevil.example", NULL);
	expect_match(e, "dns.question.name", "evil.example.com", NULL);
	expect_match(e, "dns.question.name", "example", NULL);
	expect_match(e, "dns.question.name", "vil.example", NULL);
	expect_match(e, "dns.question.name", ".evil.example", "evil.example");
	expect_match(e, "dns.question.name", "a..evil.example", "evil.example");
	expect_match(e, "dns.question.name", "", NULL);
	expect_match(e, "dns.question.name", ".", NULL);
	/* The most specific listed domain is reported. */
	expect_match(e, "dns.question.name", "deep.sub.evil.example", "deep.sub.evil.example");
	expect_match(e, "dns.question.name", "x.deep.sub.evil.example", "deep.sub.evil.example");
	expect_match(e, "dns.question.name", "sub.evil.example", "evil.example");
	/* A whole TLD, when a list asks for one explicitly. */
	expect_match(e, "destination.domain", "download.zip", "zip");
	expect_match(e, "destination.domain", "zip.example", NULL);
	expect_match(e, "url.domain", "wild.example", "wild.example");
	expect_match(e, "url.domain", "a.wild.example", "wild.example");
	expect_match(e, "url.domain", "_dmarc.under_score.example", "under_score.example");
	/* Names longer than DNS allows cannot be listed, so they never match. */
	{
		char big[400];

		memset(big, 'a', sizeof(big));
		memcpy(big + sizeof(big) - 14, ".evil.example", 14);
		expect_match(e, "dns.question.name", big, NULL);
	}
}

static void test_networks(void **state)
{
	struct env *e = *state;

	assert_int_equal(load(e, "n.txt",
			      "cidr 10.0.0.0/8 wide\n"
			      "cidr 10.1.0.0/16\n"
			      "ip 10.1.2.3\n"
			      "cidr 2001:db8::/32\n"
			      "cidr 2001:db8:abcd::/48\n"
			      "ip 2001:db8:abcd::5\n"
			      "ip 192.0.2.1\n"
			      "cidr 192.0.2.1/32\n"	  /* the same network as the line before */
			      "ip 192.0.2.0/28\n"	  /* "ip" with a prefix is a network */
			      "cidr 2001:db8:abcd::5\n"), /* host route, same as ip */
			 8);
	assert_int_equal(ioc_set_duplicates(e->set), 2);
	finish(e);
	expect_match(e, "destination.ip", "10.9.9.9", "10.0.0.0/8");
	expect_match(e, "destination.ip", "10.1.9.9", "10.1.0.0/16");
	expect_match(e, "destination.ip", "10.1.2.3", "10.1.2.3");
	expect_match(e, "destination.ip", "10.1.2.4", "10.1.0.0/16");
	expect_match(e, "destination.ip", "11.0.0.1", NULL);
	expect_match(e, "destination.ip", "::ffff:10.1.2.3", "10.1.2.3");
	expect_match(e, "destination.ip", "2001:db8:1::1", "2001:db8::/32");
	expect_match(e, "destination.ip", "2001:DB8:ABCD::1", "2001:db8:abcd::/48");
	expect_match(e, "destination.ip", "2001:db8:abcd:0:0:0:0:5", "2001:db8:abcd::5");
	expect_match(e, "destination.ip", "[2001:db8:abcd::5]", "2001:db8:abcd::5");
	expect_match(e, "destination.ip", "2001:db9::1", NULL);
	expect_match(e, "destination.ip", "192.0.2.1", "192.0.2.1");
	expect_match(e, "destination.ip", "192.0.2.7", "192.0.2.0/28");
	expect_match(e, "destination.ip", "not an ip", NULL);
	expect_match(e, "destination.ip", "10.1.2.3 ", NULL);
	/* Domain fields can hold an address. */
	expect_match(e, "url.domain", "10.1.2.3", "10.1.2.3");
	assert_int_equal(find_entry(e, "192.0.2.0/28")->type, IOC_CIDR);
	assert_string_equal(find_entry(e, "10.0.0.0/8")->description, "wide");
}

static void test_normalisation(void **state)
{
	struct env *e = *state;
	char text[1024], upper[65];

	for (size_t i = 0; i < 64; i++)
		upper[i] = (char)(SHA256_A[i] >= 'a' ? SHA256_A[i] - 32 : SHA256_A[i]);
	upper[64] = '\0';
	(void)snprintf(text, sizeof(text),
		 "sha256 %s\n"
		 "IP ::FFFF:203.0.113.77\n"
		 "ip 2001:DB8:0:0:0:0:0:00A1\n"
		 "cidr 198.51.100.77/24\n"
		 "cidr ::ffff:192.0.2.0/120\n"
		 "Domain Evil.Example.\n"
		 "domain .dot.example\n",
		 upper);
	assert_int_equal(load(e, "n.txt", text), 7);
	assert_int_equal(e->ndiags, 0);
	finish(e);
	assert_non_null(find_entry(e, SHA256_A));
	assert_non_null(find_entry(e, "203.0.113.77"));
	assert_non_null(find_entry(e, "2001:db8::a1"));
	assert_non_null(find_entry(e, "198.51.100.0/24"));
	assert_non_null(find_entry(e, "192.0.2.0/24"));
	assert_non_null(find_entry(e, "evil.example"));
	assert_non_null(find_entry(e, "dot.example"));
	expect_match(e, "process.hash.sha256", upper, SHA256_A);
	expect_match(e, "process.hash.sha256", SHA256_A, SHA256_A);
	expect_match(e, "destination.ip", "192.0.2.200", "192.0.2.0/24");
	expect_match(e, "dns.question.name", "WWW.evil.EXAMPLE.", "evil.example");
	assert_non_null(match1(e, "dns.question.name", "WWW.evil.EXAMPLE."));
	assert_int_equal(e->hits[0].rule->id[0], 'i');
	assert_string_equal(e->hits[0].rule->id, "ioc:n:evil.example");
	/* A near-miss digest: one digit changed, and one digit short. */
	upper[63] = upper[63] == '5' ? '6' : '5';
	expect_match(e, "process.hash.sha256", upper, NULL);
	upper[63] = '\0';
	expect_match(e, "process.hash.sha256", upper, NULL);
	/* Not hex, right length. */
	memset(upper, 'g', 64);
	upper[64] = '\0';
	expect_match(e, "process.hash.sha256", upper, NULL);
}

/* Lines 1-26 of the bad-lines test, one bad line after another (a NUL byte in line 23). */
static const char bad_text[] = "good.example\n"
			       "sha256 abcd\n"
			       "md5 e3b0c44298fc1c149afbf4c8996fb92427ae41e4\n"
			       "sha1 zz39a3ee5e6b4b0d3255bfef95601890afd80709\n"
			       "ip 300.1.2.3\n"
			       "ip 1.2.3\n"
			       "cidr 10.0.0.0/33\n"
			       "url http://evil.example/\n"
			       "domain evil..example\n"
			       "domain 1.2.3.4\n" /* 10 */
			       "domain ev!l.example\n"
			       "path relative/path\n"
			       "abcdef0123\n"
			       "justaword\n"
			       "@nme x\n"
			       "@severity extreme\n"
			       "@technique X1000\n"
			       "@name bad:name\n"
			       "sha256\n"
			       "domain 1.2.300\n" /* 20 */
			       "domain b\xc3\xbc"
			       "cher.example\n"
			       "bad\xff.example\n"
			       "nul\0.example\n"
			       ",nothing\n"
			       "d0main evil.example\n"
			       "fine.example\n";

static void test_bad_lines(void **state)
{
	struct env *e = *state;
	struct dynbuf b;
	static const unsigned want_lines[] = {2,  3,  4,  5,  6,  7,  8,  9,  10,
					      11, 12, 13, 14, 15, 16, 17, 18, 19,
					      20, 21, 22, 23, 24, 25, 27, 28, 30};
	const size_t nwant = sizeof(want_lines) / sizeof(want_lines[0]);

	dynbuf_init(&b, 1 << 20);
	assert_int_equal(dynbuf_add(&b, bad_text, sizeof(bad_text) - 1), 0);
	/* 27: a line one byte past the limit; 28: a very long one; 29: exactly at the limit. */
	assert_int_equal(dynbuf_adds(&b, "/"), 0);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(dynbuf_addc(&b, 'a'), 0);
	assert_int_equal(dynbuf_addc(&b, '\n'), 0);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(dynbuf_addc(&b, 'a'), 0);
	assert_int_equal(dynbuf_addc(&b, '\n'), 0);
	assert_int_equal(dynbuf_adds(&b, "/"), 0);
	for (int i = 0; i < 4095; i++)
		assert_int_equal(dynbuf_addc(&b, 'b'), 0);
	assert_int_equal(dynbuf_adds(&b, "\nip 1.1.1.1/0x\nip 9.9.9.9"), 0); /* 30, 31 */

	assert_int_equal(ioc_set_add_text(e->set, "bad.txt", b.data, b.len, on_diag, e), 4);
	assert_int_equal(ioc_set_bad_lines(e->set), nwant);
	assert_int_equal(e->ndiags, nwant);
	for (size_t i = 0; i < nwant; i++) {
		if (e->diags[i].line != want_lines[i])
			fail_msg("diag %zu: line %u (%s), want line %u", i, e->diags[i].line,
				 e->diags[i].msg, want_lines[i]);
		assert_true(strlen(e->diags[i].msg) > 5);
	}
	assert_non_null(strstr(e->diags[0].msg, "64 hex digits"));
	assert_non_null(strstr(e->diags[19].msg, "punycode"));
	assert_non_null(strstr(e->diags[6].msg, "unknown indicator type 'url'"));
	assert_non_null(strstr(e->diags[12].msg, "cannot tell"));
	assert_non_null(strstr(e->diags[23].msg, "unknown indicator type 'd0main'"));
	assert_non_null(strstr(e->diags[24].msg, "4096"));
	/* Bad directives change nothing: the list is still named after the file. */
	finish(e);
	assert_string_equal(find_entry(e, "fine.example")->list, "bad");
	assert_int_equal(find_entry(e, "fine.example")->severity, DETECT_SEV_HIGH);
	assert_non_null(find_entry(e, "9.9.9.9"));
	assert_int_equal(ioc_set_count(e->set), 4);
	dynbuf_release(&b);

	/* No diag callback: still counted. */
	{
		struct ioc_set *s = ioc_set_new();

		assert_non_null(s);
		assert_int_equal(ioc_set_add_text(s, "x", "bogus\nok.example\n", 17, NULL, NULL),
				 1);
		assert_int_equal(ioc_set_bad_lines(s), 1);
		ioc_set_unref(s);
	}
}

static void test_duplicates(void **state)
{
	struct env *e = *state;
	char text[1024];

	(void)snprintf(text, sizeof(text),
		 "@name first\n"
		 "dup.example first one\n"
		 "sha256 %s first hash\n"
		 "@name second\n"
		 "@severity low\n"
		 "DUP.example. second one\n"
		 "%s second hash\n"
		 "path /bin/x\n"
		 "path /bin/x\n",
		 SHA256_A, SHA256_A);
	assert_int_equal(load(e, "a.txt", text), 3);
	assert_int_equal(load(e, "b.txt", "dup.example\n"), 0);
	assert_int_equal(ioc_set_duplicates(e->set), 4);
	assert_int_equal(ioc_set_bad_lines(e->set), 0);
	finish(e);
	assert_int_equal(ioc_set_count(e->set), 3);
	assert_non_null(match1(e, "dns.question.name", "dup.example"));
	assert_int_equal(e->nhits, 1);
	assert_string_equal(e->hits[0].ioc->list, "first");
	assert_string_equal(e->hits[0].ioc->description, "first one");
	assert_int_equal(e->hits[0].ioc->severity, DETECT_SEV_HIGH);
	assert_non_null(match1(e, "process.hash.sha256", SHA256_A));
	assert_string_equal(e->hits[0].ioc->description, "first hash");
	/* Same hash, different types do not collide. */
	assert_null(ioc_set_entry(e->set, 3));
}

static void test_lifecycle(void **state)
{
	struct env *e = *state;
	int rc;

	/* Nothing matches before finish; nothing can be added after. */
	assert_int_equal(load(e, "l.txt", "evil.example\n10.0.0.0/8\n/bin/x\n"), 3);
	assert_null(match1(e, "dns.question.name", "evil.example"));
	finish(e);
	finish(e);
	assert_int_equal(load(e, "l.txt", "more.example\n"), -EBUSY);
	ioc_set_ref(e->set);
	ioc_set_unref(e->set);
	assert_int_equal(ioc_set_count(e->set), 3);

	/* Several values per doc, several hits; a nonzero return stops. */
	detect_doc_reset(e->doc);
	detect_doc_add(e->doc, "dns.question.name", 17, "a.evil.example", 14);
	detect_doc_add(e->doc, "destination.ip", 14, "10.2.3.4", 8);
	detect_doc_add(e->doc, "destination.ip", 14, "11.2.3.4", 8);
	detect_doc_add(e->doc, "source.ip", 9, "10.9.9.9", 8);
	detect_doc_add(e->doc, "process.executable", 18, "/bin/x", 6);
	detect_doc_add(e->doc, "file.path", 9, "/bin/x", 6);
	e->nhits = 0;
	assert_int_equal(ioc_set_match(e->set, e->doc, on_hit, e), 5);
	assert_int_equal(ioc_set_match(e->set, e->doc, NULL, NULL), 5);
	e->nhits = 0;
	e->stop_at = 2;
	rc = ioc_set_match(e->set, e->doc, on_hit, e);
	assert_int_equal(rc, 7);
	assert_int_equal(e->nhits, 2);
	e->stop_at = 0;

	/* A doc over a field table without the IOC fields matches nothing. */
	{
		struct detect_fields *f = detect_fields_new();
		struct detect_doc *d;

		assert_non_null(f);
		detect_fields_intern(f, "file.path", 9);
		d = detect_doc_new(f);
		assert_non_null(d);
		detect_doc_add(d, "dns.question.name", 17, "evil.example", 12);
		detect_doc_add(d, "file.path", 9, "/bin/x", 6);
		assert_int_equal(ioc_set_match(e->set, d, NULL, NULL), 1);
		detect_doc_free(d);
		detect_fields_free(f);
	}
	/* Empty input and an empty set. */
	{
		struct ioc_set *s = ioc_set_new();

		assert_non_null(s);
		assert_int_equal(ioc_set_add_text(s, "", "", 0, NULL, NULL), 0);
		assert_int_equal(ioc_set_add_text(s, "", "\xEF\xBB\xBF# bom\n", 9, NULL, NULL), 0);
		assert_int_equal(ioc_set_bad_lines(s), 0);
		assert_int_equal(ioc_set_finish(s), 0);
		assert_int_equal(ioc_set_match(s, e->doc, NULL, NULL), 0);
		ioc_set_unref(s);
		ioc_set_unref(NULL);
	}
}

/* Field tables with other ids for the same names, used in turn and from two threads at once: the
 * set's remembered ids must never send a lookup to the wrong field. */
struct table_user {
	const struct ioc_set *set;
	struct detect_fields *fields;
	int rounds;
	int failures;
};

static struct detect_fields *table_with_order(bool reverse, unsigned padding)
{
	struct detect_fields *f = detect_fields_new();
	size_t n = 0;

	assert_non_null(f);
	for (unsigned i = 0; i < padding; i++) {
		char name[32];

		(void)snprintf(name, sizeof(name), "pad.%u", i);
		detect_fields_intern(f, name, strlen(name));
	}
	while (IOC_FIELDS[n])
		n++;
	for (size_t i = 0; i < n; i++) {
		const char *name = IOC_FIELDS[reverse ? n - 1 - i : i];

		assert_int_not_equal(detect_fields_intern(f, name, strlen(name)),
				     DETECT_FIELD_NONE);
	}
	return f;
}

static int count_hits(void *ctx, const struct ioc_hit *hit, struct detect_doc *doc)
{
	(void)doc;
	if (strcmp(hit->field, "file.path") == 0 && strcmp(hit->ioc->value, "/bin/x") != 0)
		(*(int *)ctx) += 1000;
	(*(int *)ctx)++;
	return 0;
}

static void *use_table(void *arg)
{
	struct table_user *u = arg;
	struct detect_doc *d = detect_doc_new(u->fields);

	if (!d) {
		u->failures++;
		return NULL;
	}
	for (int r = 0; r < u->rounds; r++) {
		int hits = 0;

		detect_doc_reset(d);
		detect_doc_add(d, "file.path", 9, "/bin/x", 6);
		detect_doc_add(d, "dns.question.name", 17, "a.evil.example", 14);
		detect_doc_add(d, "process.name", 12, "evil.example", 12);
		if (ioc_set_match(u->set, d, count_hits, &hits) != 2 || hits != 2)
			u->failures++;
	}
	detect_doc_free(d);
	return NULL;
}

static void test_field_tables(void **state)
{
	struct env *e = *state;
	struct table_user u[2];
	pthread_t th[2];

	assert_int_equal(load(e, "t.txt", "evil.example\n/bin/x\n"), 2);
	finish(e);
	u[0] = (struct table_user){e->set, table_with_order(false, 0), 20000, 0};
	u[1] = (struct table_user){e->set, table_with_order(true, 3), 20000, 0};
	/* In turn, then at the same time. */
	for (int i = 0; i < 10; i++) {
		struct table_user one = u[i % 2];

		one.rounds = 1;
		use_table(&one);
		assert_int_equal(one.failures, 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, use_table, &u[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(u[0].failures, 0);
	assert_int_equal(u[1].failures, 0);
	/* The same address reused for a different table (an engine reload). */
	detect_fields_free(u[0].fields);
	u[0].fields = table_with_order(true, 7);
	u[0].rounds = 100;
	use_table(&u[0]);
	assert_int_equal(u[0].failures, 0);
	detect_fields_free(u[0].fields);
	detect_fields_free(u[1].fields);
}

/* ---- 200,000 random indicators against a naive scan ---- */

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint32_t next_rand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}

#define NRANDOM 200000
#define NWORDS 300

struct naive {
	int type;
	char value[80]; /* normalised */
	size_t len;
	struct cidr net; /* ip, cidr */
	bool dup;
};

static void random_hex(char *out, size_t n, bool mixed_case)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		char c = hex[next_rand() % 16];

		out[i] = mixed_case && c >= 'a' && next_rand() % 2 ? (char)(c - 32) : c;
	}
	out[n] = '\0';
}

static void random_domain(char *out, size_t size, unsigned labels)
{
	size_t len = 0;

	for (unsigned i = 0; i < labels; i++)
		len += (size_t)snprintf(out + len, size - len, "%sw%u", i ? "." : "",
					next_rand() % NWORDS);
}

/* An address inside a small space so networks overlap and nest. */
static void random_addr(char *out, size_t size, bool v6)
{
	if (v6)
		(void)snprintf(out, size, "2001:db8:%x:%x::%x", next_rand() % 4, next_rand() % 64,
			 next_rand() % 256);
	else
		(void)snprintf(out, size, "10.%u.%u.%u", next_rand() % 4, next_rand() % 64,
			 next_rand() % 256);
}

/* The naive answer: the listed value itself, the longest listed parent domain, the longest
 * listed network holding the address. by_type lists the indices of each type's indicators. */
static const struct naive *naive_lookup(const struct naive *list, size_t *const by_type[],
					const size_t count[], int type, const char *q)
{
	const struct naive *best = NULL;
	size_t qn = strlen(q);
	struct ip_addr a;
	int best_len = -1;

	if (type == IOC_IP && ip_addr_parse(q, qn, &a) != 0)
		return NULL;
	for (int t = type; t <= (type == IOC_IP ? IOC_CIDR : type); t++) {
		for (size_t k = 0; k < count[t]; k++) {
			const struct naive *x = &list[by_type[t][k]];
			size_t vn = x->len;

			if (x->dup)
				continue;
			if (type == IOC_IP) {
				if (x->net.prefix > best_len && cidr_contains(&x->net, &a)) {
					best = x;
					best_len = x->net.prefix;
				}
			} else if (type == IOC_DOMAIN) {
				if (vn <= qn && (int)vn > best_len &&
				    memcmp(q + qn - vn, x->value, vn) == 0 &&
				    (vn == qn || q[qn - vn - 1] == '.')) {
					best = x;
					best_len = (int)vn;
				}
			} else if (vn == qn && memcmp(x->value, q, qn) == 0) {
				return x;
			}
		}
	}
	return best;
}

static const char *const TYPE_NAME[] = {
    [IOC_SHA256] = "sha256", [IOC_SHA1] = "sha1",     [IOC_MD5] = "md5",   [IOC_IP] = "ip",
    [IOC_CIDR] = "cidr",     [IOC_DOMAIN] = "domain", [IOC_PATH] = "path",
};

/* One random indicator into x, and the line that lists it (typed, bare or CSV). */
static void random_indicator(struct naive *x, size_t i, char *line, size_t size)
{
	char raw[80] = "";
	unsigned r = next_rand() % 100, form = next_rand() % 3;
	int prefix = -1;

	if (r < 30) {
		x->type = IOC_SHA256;
		random_hex(raw, 64, true);
	} else if (r < 40) {
		x->type = IOC_SHA1;
		random_hex(raw, 40, true);
	} else if (r < 50) {
		x->type = IOC_MD5;
		random_hex(raw, 32, true);
	} else if (r < 65) {
		x->type = IOC_IP;
		random_addr(raw, sizeof(raw), next_rand() % 2);
	} else if (r < 70) {
		bool v6 = next_rand() % 2;

		x->type = IOC_CIDR;
		random_addr(raw, sizeof(raw), v6);
		prefix = v6 ? 32 + (int)(next_rand() % 97) : (int)(8 + next_rand() % 25);
		(void)snprintf(raw + strlen(raw), sizeof(raw) - strlen(raw), "/%d", prefix);
	} else if (r < 95) {
		x->type = IOC_DOMAIN;
		random_domain(raw, sizeof(raw), 1 + next_rand() % 4);
		if (!strchr(raw, '.') && form == 1) /* one label: needs its type written */
			form = 0;
		if (next_rand() % 4 == 0) /* upper case, to be folded */
			raw[0] = (char)(raw[0] - 32);
	} else {
		x->type = IOC_PATH;
		(void)snprintf(raw, sizeof(raw), "/tmp/p%u/%u", next_rand() % 1000, next_rand() % 100);
	}
	if (x->type == IOC_IP || x->type == IOC_CIDR) {
		char a[CIDR_ADDR_STRLEN];

		assert_int_equal(cidr_parse(raw, strlen(raw), &x->net), 0);
		ip_addr_format(&x->net.net, a, sizeof(a));
		if (x->type == IOC_IP)
			(void)snprintf(x->value, sizeof(x->value), "%s", a);
		else
			(void)snprintf(x->value, sizeof(x->value), "%s/%d", a,
				 ip_addr_is_v4(&x->net.net) ? x->net.prefix - 96 : x->net.prefix);
	} else {
		for (size_t k = 0; k <= strlen(raw); k++)
			x->value[k] = x->type != IOC_PATH && raw[k] >= 'A' && raw[k] <= 'Z'
					  ? (char)(raw[k] + 32)
					  : raw[k];
	}
	x->len = strlen(x->value);
	if (form == 0)
		(void)snprintf(line, size, "%s %s d%zu\n", TYPE_NAME[x->type], raw, i);
	else if (form == 1)
		(void)snprintf(line, size, "%s d%zu\n", raw, i);
	else
		(void)snprintf(line, size, "%s,%s,d%zu\n", TYPE_NAME[x->type], raw, i);
}

/* Marks the later copies of the same indicator (same network for ip and cidr). */
static size_t mark_duplicates(struct naive *list, size_t n)
{
	const size_t nb = 1u << 19;
	size_t *head = malloc(nb * sizeof(*head)), *next = malloc(n * sizeof(*next)), ndup = 0;
	char(*key)[96] = malloc(n * sizeof(*key));

	assert_non_null(head);
	assert_non_null(next);
	assert_non_null(key);
	for (size_t b = 0; b < nb; b++)
		head[b] = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		uint64_t h = 1469598103934665603ull;

		if (list[i].type == IOC_IP || list[i].type == IOC_CIDR) {
			char a[CIDR_ADDR_STRLEN];

			ip_addr_format(&list[i].net.net, a, sizeof(a));
			(void)snprintf(key[i], sizeof(key[i]), "net %s/%u", a, list[i].net.prefix);
		} else {
			(void)snprintf(key[i], sizeof(key[i]), "%d %s", list[i].type, list[i].value);
		}
		for (const char *p = key[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ull;
		h &= nb - 1;
		for (size_t j = head[h]; j != SIZE_MAX; j = next[j]) {
			if (strcmp(key[j], key[i]) == 0) {
				list[i].dup = true;
				ndup++;
				break;
			}
		}
		if (!list[i].dup) {
			next[i] = head[h];
			head[h] = i;
		}
	}
	free(key);
	free(next);
	free(head);
	return ndup;
}

/* A value to look up, of the type of a random listed indicator: a fresh random one (mostly a
 * miss), or one the indicator covers (in other case, a subdomain, an address in the network). */
static int random_query(const struct naive *list, char *q, size_t size)
{
	const struct naive *x = &list[next_rand() % NRANDOM];
	int type = x->type;

	if (next_rand() % 2) {
		if (type == IOC_SHA256)
			random_hex(q, 64, true);
		else if (type == IOC_SHA1)
			random_hex(q, 40, false);
		else if (type == IOC_MD5)
			random_hex(q, 32, true);
		else if (type == IOC_IP || type == IOC_CIDR)
			random_addr(q, size, next_rand() % 2);
		else if (type == IOC_DOMAIN)
			random_domain(q, size, 1 + next_rand() % 6);
		else
			(void)snprintf(q, size, "/tmp/p%u/%u", next_rand() % 1000, next_rand() % 200);
	} else if (type == IOC_DOMAIN) {
		(void)snprintf(q, size, "%sW%u.%s%s", next_rand() % 2 ? "" : "x.", next_rand() % NWORDS,
			 x->value, next_rand() % 2 ? "" : ".");
	} else if (type == IOC_CIDR) {
		char a[CIDR_ADDR_STRLEN];
		struct ip_addr in = x->net.net;

		in.b[15] ^= (uint8_t)(next_rand() % 4);
		ip_addr_format(&in, a, sizeof(a));
		(void)snprintf(q, size, "%s", a);
	} else if (type == IOC_PATH) {
		(void)snprintf(q, size, "%s", x->value);
	} else {
		size_t n = strlen(x->value);

		for (size_t k = 0; k <= n; k++)
			q[k] = x->value[k] >= 'a' && x->value[k] <= 'f' && next_rand() % 2
				   ? (char)(x->value[k] - 32)
				   : x->value[k];
	}
	return type == IOC_CIDR ? IOC_IP : type;
}

static void test_random(void **state)
{
	static const char *const field_of[] = {
	    [IOC_SHA256] = "file.hash.sha256",	[IOC_SHA1] = "process.hash.sha1",
	    [IOC_MD5] = "dll.hash.md5",		[IOC_IP] = "destination.ip",
	    [IOC_DOMAIN] = "dns.question.name", [IOC_PATH] = "file.path",
	};
	struct env *e = *state;
	struct naive *list = calloc(NRANDOM, sizeof(*list));
	struct dynbuf text;
	size_t ndup, *by_type[IOC_PATH + 1], count[IOC_PATH + 1] = {0};
	unsigned found = 0, missed = 0;

	assert_non_null(list);
	dynbuf_init(&text, 64u << 20);
	for (size_t i = 0; i < NRANDOM; i++) {
		char line[160];

		random_indicator(&list[i], i, line, sizeof(line));
		assert_int_equal(dynbuf_adds(&text, line), 0);
	}
	ndup = mark_duplicates(list, NRANDOM);
	for (int t = 0; t <= IOC_PATH; t++) {
		by_type[t] = malloc(NRANDOM * sizeof(size_t));
		assert_non_null(by_type[t]);
	}
	for (size_t i = 0; i < NRANDOM; i++)
		by_type[list[i].type][count[list[i].type]++] = i;
	assert_true(ndup > 100); /* the generator does repeat networks and domains */

	assert_int_equal(ioc_set_add_text(e->set, "random.txt", text.data, text.len, on_diag, e),
			 NRANDOM - ndup);
	assert_int_equal(e->ndiags, 0);
	assert_int_equal(ioc_set_duplicates(e->set), ndup);
	finish(e);
	assert_int_equal(ioc_set_count(e->set), NRANDOM - ndup);

	for (int k = 0; k < 2000; k++) {
		char q[160], lower[160], desc[32];
		int type = random_query(list, q, sizeof(q));
		const struct naive *want;
		const char *got;
		size_t n = strlen(q);

		/* The naive scan compares lowercase names without the trailing dot. */
		for (size_t j = 0; j <= n; j++)
			lower[j] = type != IOC_PATH && q[j] >= 'A' && q[j] <= 'Z'
				       ? (char)(q[j] + 32)
				       : q[j];
		if (type == IOC_DOMAIN && n && lower[n - 1] == '.')
			lower[n - 1] = '\0';
		want = naive_lookup(list, by_type, count, type, lower);
		got = match1(e, field_of[type], q);
		if (!want != !got)
			fail_msg("%s=%s: got %s, want %s", field_of[type], q, got ? got : "-",
				 want ? want->value : "-");
		if (!want) {
			missed++;
			continue;
		}
		assert_string_equal(got, want->value);
		(void)snprintf(desc, sizeof(desc), "d%zu", (size_t)(want - list)); /* the first copy */
		assert_string_equal(e->hits[0].ioc->description, desc);
		assert_int_equal(e->nhits, 1);
		found++;
	}
	assert_true(found > 700);
	assert_true(missed > 500);
	for (int t = 0; t <= IOC_PATH; t++)
		free(by_type[t]);
	dynbuf_release(&text);
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inference, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_directives, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_comments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csv, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_subdomains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_networks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_normalisation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_field_tables, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_random, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
