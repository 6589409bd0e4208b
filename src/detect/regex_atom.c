#include "regex_atom.h"

#include <stdbool.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "banned.h"

/*
 * One pass over the pattern at group depth 0. Literal characters (plain, escaped punctuation,
 * \xHH below 0x80, \Q...\E) build a run; anything else ends it, and groups and classes are
 * skipped whole. A character followed by a quantifier of minimum 0 is dropped, of minimum >= 1
 * kept once before the run ends. PCRE2 ignores \E, \Q\E and (?#...) between an item and its
 * quantifier, so the quantifier is looked for past them. Refused outright: top-level |, (* verbs
 * anywhere ((*ACCEPT) ends a match early), callouts (their strings may hold parentheses),
 * extended mode, \Q or \E inside a class, unusual POSIX brackets, unbalanced syntax.
 *
 * Case: the prefilter folds ASCII only, but with UTF or UCP a caseless k or s also matches
 * U+212A KELVIN SIGN or U+017F LONG S, and a caseless non-ASCII letter its other case, so once
 * caseless may be on such characters end the run instead.
 */

/* Options that leave the syntax walked here unchanged. Extended modes, PCRE2_LITERAL, ALT_BSUX,
 * ALT_VERBNAMES, ALLOW_EMPTY_CLASS and options of later PCRE2 releases are refused. */
#define SAFE_FLAGS                                                                                 \
	(PCRE2_CASELESS | PCRE2_MULTILINE | PCRE2_DOTALL | PCRE2_UTF | PCRE2_UCP |                 \
	 PCRE2_MATCH_INVALID_UTF | PCRE2_NO_UTF_CHECK | PCRE2_DOLLAR_ENDONLY |                     \
	 PCRE2_NO_AUTO_CAPTURE | PCRE2_UNGREEDY | PCRE2_ANCHORED | PCRE2_ENDANCHORED |             \
	 PCRE2_DUPNAMES | PCRE2_FIRSTLINE | PCRE2_NO_AUTO_POSSESS | PCRE2_NO_DOTSTAR_ANCHOR |      \
	 PCRE2_NO_START_OPTIMIZE | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C)

enum quant { Q_NONE, Q_DROP, Q_KEEP };
enum paren { P_FAIL, P_DONE, P_GROUP };

struct walk {
	const char *p;
	size_t n, i;
	bool quote;    /* inside \Q...\E */
	bool caseless; /* caseless may be in effect from here on */
	bool folds;    /* UTF or UCP: caseless k and s match non-ASCII characters */
	size_t limit, cur_len, best_len;
	size_t close_end; /* past the last ')': a comment opened before it is closed */
	char *best;
	char cur[REGEX_ATOM_MAX];
	/* Alternatives: when a group of plain alternatives joins the run, the run becomes a set of
	 * strings (cur's bytes, then each alternative, then what follows), one of which every
	 * match holds where the run is. nset 0: the run is cur alone. */
	bool sets; /* look for such groups (regex_required_set) */
	unsigned nset;
	uint32_t set_len[REGEX_SET_MAX];
	char set[REGEX_SET_MAX][REGEX_SET_LEN];
	struct regex_set *best_set; /* the best set run so far: the most bytes in its shortest */
};

static bool at(const struct walk *w, size_t i, char c)
{
	return i < w->n && w->p[i] == c;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* Index of the first c at or after i, or n. */
static size_t find(const struct walk *w, size_t i, char c)
{
	while (i < w->n && w->p[i] != c)
		i++;
	return i;
}

static uint32_t set_min(const uint32_t *len, unsigned n)
{
	uint32_t m = UINT32_MAX;
	for (unsigned i = 0; i < n; i++)
		m = len[i] < m ? len[i] : m;
	return n ? m : 0;
}

static void end_run(struct walk *w)
{
	if (w->nset) {
		struct regex_set *b = w->best_set;
		uint32_t m = set_min(w->set_len, w->nset), bm = set_min(b->len, b->n);
		if (m > bm || (m == bm && b->n && w->nset < b->n)) {
			b->n = w->nset;
			for (unsigned i = 0; i < w->nset; i++) {
				memcpy(b->lit[i], w->set[i], w->set_len[i]);
				b->lit[i][w->set_len[i]] = '\0';
				b->len[i] = w->set_len[i];
			}
		}
		w->nset = 0;
	} else if (w->cur_len > w->best_len) {
		memcpy(w->best, w->cur, w->cur_len);
		w->best_len = w->cur_len;
	}
	w->cur_len = 0;
}

/* A UTF-8 sequence is one character to a quantifier in UTF mode; keeping it whole is merely
 * cautious in byte mode. */
static size_t unit_len(const struct walk *w, size_t i)
{
	size_t len = 1;

	if ((unsigned char)w->p[i] >= 0xc0)
		while (len < 4 && i + len < w->n && ((unsigned char)w->p[i + len] & 0xc0) == 0x80)
			len++;
	return len;
}

/* Skips what PCRE2 ignores between an item and its quantifier. */
static size_t skip_noise(const struct walk *w, size_t i)
{
	for (;;) {
		if (at(w, i, '\\') && at(w, i + 1, 'E'))
			i += 2;
		else if (at(w, i, '\\') && at(w, i + 1, 'Q') && at(w, i + 2, '\\') &&
			 at(w, i + 3, 'E'))
			i += 4;
		else if (at(w, i, '(') && at(w, i + 1, '?') && at(w, i + 2, '#') &&
			 i + 3 < w->close_end)
			i = find(w, i + 3, ')') + 1;
		else
			return i;
	}
}

/* Length of a {m,n} quantifier at i, or 0. Looser than any PCRE2 release (spaces, {,n}, {}):
 * taking a literal brace for a quantifier only loses literal characters. */
static size_t brace_quant(const struct walk *w, size_t i, bool *min1)
{
	bool comma = false, one = false;

	for (size_t j = i + 1; j < w->n; j++) {
		char c = w->p[j];

		if (c == '}') {
			if (min1)
				*min1 = one;
			return j + 1 - i;
		}
		if (c == ',')
			comma = true;
		else if (is_digit(c))
			one |= !comma && c != '0';
		else if (!strchr(" \t\n\r\v\f", c) || c == '\0')
			return 0;
	}
	return 0;
}

static enum quant quant_at(const struct walk *w, size_t i)
{
	bool min1;

	if (i >= w->n)
		return Q_NONE;
	if (w->p[i] == '?' || w->p[i] == '*')
		return Q_DROP;
	if (w->p[i] == '+')
		return Q_KEEP;
	if (w->p[i] == '{' && brace_quant(w, i, &min1))
		return min1 ? Q_KEEP : Q_DROP;
	return Q_NONE;
}

/* Literal u[0..len) whose quantifier, if any, would be at q. */
static void literal(struct walk *w, const char *u, size_t len, size_t q)
{
	enum quant k = quant_at(w, q);
	unsigned char c = (unsigned char)u[0];
	bool ks = (c | 0x20) == 'k' || (c | 0x20) == 's';
	bool folded = w->caseless && (c >= 0x80 || (w->folds && ks));

	if (k == Q_DROP || folded || len > w->limit) {
		end_run(w);
		return;
	}
	if (w->nset) {
		for (unsigned i = 0; i < w->nset; i++)
			if (w->set_len[i] + len >= REGEX_SET_LEN) {
				end_run(w);
				break;
			}
	} else if (w->cur_len + len > w->limit) {
		end_run(w);
	}
	for (size_t j = 0; j < len; j++) {
		char lc = (char)(u[j] >= 'A' && u[j] <= 'Z' ? u[j] + 32 : u[j]);
		if (!w->nset)
			w->cur[w->cur_len++] = lc;
		for (unsigned i = 0; i < w->nset; i++)
			w->set[i][w->set_len[i]++] = lc;
	}
	if (k == Q_KEEP)
		end_run(w);
}

/* Past the argument of \g, \k, \o, \p, \x... starting at i: a bracketed one must be closed. */
static int skip_arg(const struct walk *w, size_t *i, const char *openers)
{
	const char *o = *i < w->n ? strchr(openers, w->p[*i]) : NULL;
	size_t e;

	if (!o || *o == '\0')
		return 0;
	e = find(w, *i + 1, *o == '{' ? '}' : *o == '<' ? '>' : '\'');
	if (e >= w->n)
		return -1;
	*i = e + 1;
	return 0;
}

static int escape(struct walk *w)
{
	size_t i = w->i, j = i + 2;
	char d;

	if (i + 1 >= w->n)
		return -1;
	d = w->p[i + 1];
	if (d == 'Q') {
		w->quote = true;
		w->i = j;
		return 0;
	}
	if (!is_alpha(d) && !is_digit(d)) {
		j = i + 1 + unit_len(w, i + 1);
		literal(w, w->p + i + 1, j - i - 1, skip_noise(w, j));
		w->i = j;
		return 0;
	}
	if (d == 'x' && i + 3 < w->n && hex_value(w->p[i + 2]) >= 0 && hex_value(w->p[i + 2]) < 8 &&
	    hex_value(w->p[i + 3]) >= 0) {
		char c = (char)(hex_value(w->p[i + 2]) * 16 + hex_value(w->p[i + 3]));

		literal(w, &c, 1, skip_noise(w, i + 4));
		w->i = i + 4;
		return 0;
	}
	end_run(w);
	if (strchr("xopPNgk", d) && skip_arg(w, &j, strchr("gk", d) ? "{<'" : "{"))
		return -1;
	if (j == i + 2) {
		if (d == 'x')
			while (j < i + 4 && j < w->n && hex_value(w->p[j]) >= 0)
				j++;
		else if (strchr("cpP", d) || (d == 'g' && (at(w, j, '+') || at(w, j, '-'))))
			j++;
		if (is_digit(d) || d == 'g')
			while (j < w->n && is_digit(w->p[j]))
				j++;
	}
	w->i = j > w->n ? w->n : j;
	return 0;
}

/* Past the class opening at *i. POSIX brackets must be plain [:name:] or [:^name:]. */
static int skip_class(const struct walk *w, size_t *i)
{
	size_t j = *i + 1;

	j += at(w, j, '^');
	j += at(w, j, ']');
	while (j < w->n) {
		char c = w->p[j];

		if (c == ']') {
			*i = j + 1;
			return 0;
		}
		if (c == '\\') {
			if (at(w, j + 1, 'Q') || at(w, j + 1, 'E'))
				return -1;
			j += at(w, j + 1, 'c') ? 3 : 2;
		} else if (c == '[' &&
			   (at(w, j + 1, ':') || at(w, j + 1, '.') || at(w, j + 1, '='))) {
			size_t k = j + 2 + at(w, j + 2, '^'), name = k;

			while (k < w->n && w->p[k] >= 'a' && w->p[k] <= 'z')
				k++;
			if (k == name || !at(w, j + 1, ':') || !at(w, k, ':') || !at(w, k + 1, ']'))
				return -1;
			j = k + 2;
		} else {
			j++;
		}
	}
	return -1;
}

/* Classifies the parenthesis at i: a comment or option setting is skipped whole (P_DONE), a group
 * leaves *end past its opening. top: at depth 0, where (?i) lasts to the end of the pattern. */
static enum paren paren_head(struct walk *w, size_t i, bool top, size_t *end)
{
	size_t j = i + 2;
	bool x = false, ci = false;

	*end = i + 1;
	if (at(w, i + 1, '*'))
		return P_FAIL;
	if (!at(w, i + 1, '?'))
		return P_GROUP;
	if (at(w, j, '#')) {
		*end = find(w, j, ')') + 1;
		return *end <= w->n ? P_DONE : P_FAIL;
	}
	if (at(w, j, 'C') || at(w, j, '['))
		return P_FAIL;
	for (; j < w->n && (is_alpha(w->p[j]) || w->p[j] == '^' || w->p[j] == '-'); j++) {
		x |= w->p[j] == 'x';
		ci |= w->p[j] == 'i';
	}
	if (x && (at(w, j, ')') || at(w, j, ':')))
		return P_FAIL;
	if (j > i + 2 && at(w, j, ')')) {
		w->caseless |= top && ci;
		*end = j + 1;
		return P_DONE;
	}
	*end = i + 2;
	return P_GROUP;
}

/* Past the parenthesis at w->i and everything it encloses. */
static int skip_paren(struct walk *w)
{
	size_t depth = 1, i, e;
	enum paren k = paren_head(w, w->i, true, &i);

	if (k != P_GROUP) {
		w->i = i;
		return k == P_DONE ? 0 : -1;
	}
	while (i < w->n) {
		char c = w->p[i];

		if (c == '\\' && at(w, i + 1, 'Q')) {
			for (e = i + 2; e < w->n && !(w->p[e] == '\\' && at(w, e + 1, 'E')); e++)
				;
			i = e + 2;
		} else if (c == '\\') {
			i += at(w, i + 1, 'c') ? 3 : 2;
		} else if (c == '[') {
			if (skip_class(w, &i))
				return -1;
		} else if (c == '(') {
			k = paren_head(w, i, false, &i);
			if (k == P_FAIL)
				return -1;
			depth += k == P_GROUP;
		} else if (c == ')' && --depth == 0) {
			w->i = i + 1;
			return 0;
		} else {
			i++;
		}
	}
	return -1;
}

/* A group of plain alternatives at w->i, such as (W|R) or (?:bash|zsh): each alternative is
 * literal characters only, none empty. Its alternatives join the run as a set (each string of
 * the run followed by each alternative). True when it was one: w->i is then past its ')', and
 * a quantifier there is the caller's as after any literal. False, with nothing changed, for any
 * other group (the caller skips it whole). */
static bool alt_group(struct walk *w)
{
	char alt[REGEX_SET_MAX][REGEX_SET_LEN];
	uint32_t alen[REGEX_SET_MAX] = {0};
	unsigned na = 0;
	size_t i = w->i + 1;

	if (at(w, i, '?')) {
		if (!at(w, i + 1, ':'))
			return false;
		i += 2;
	}
	for (;; i++) {
		if (i >= w->n)
			return false;
		char c = w->p[i];
		if (c == ')' || c == '|') {
			if (!alen[na]) /* an empty alternative: the group can match nothing */
				return false;
			na++;
			if (c == ')')
				break;
			if (na == REGEX_SET_MAX)
				return false;
			continue;
		}
		if (c == '\\') { /* escaped punctuation stands for itself */
			if (i + 1 >= w->n || is_alpha(w->p[i + 1]) || is_digit(w->p[i + 1]) ||
			    (unsigned char)w->p[i + 1] >= 0x80 || w->p[i + 1] == '\0')
				return false;
			c = w->p[++i];
		} else if (c == '\0' || (unsigned char)c >= 0x80 || strchr("^$.[]{}()*+?#", c)) {
			return false;
		}
		if (w->caseless && w->folds && ((c | 0x20) == 'k' || (c | 0x20) == 's'))
			return false;
		if (alen[na] + 1 >= REGEX_SET_LEN)
			return false;
		alt[na][alen[na]++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	w->i = i + 1;
	if (quant_at(w, skip_noise(w, w->i)) == Q_DROP) { /* optional: holds nothing */
		end_run(w);
		return true;
	}
	/* The run so far (cur, or the set) times the alternatives; too many strings or bytes and
	 * the run so far is ended, the alternatives starting a new one. */
	unsigned have = w->nset ? w->nset : 1;
	uint32_t longest = 0;
	for (unsigned a = 0; a < na; a++)
		longest = alen[a] > longest ? alen[a] : longest;
	bool fits = have * na <= REGEX_SET_MAX;
	for (unsigned m = 0; fits && m < have; m++)
		fits = (w->nset ? w->set_len[m] : w->cur_len) + longest < REGEX_SET_LEN;
	if (!fits) {
		end_run(w);
		have = 1;
	}
	char prev[REGEX_SET_MAX][REGEX_SET_LEN];
	uint32_t plen[REGEX_SET_MAX];
	if (w->nset) {
		memcpy(prev, w->set, sizeof(prev));
		memcpy(plen, w->set_len, sizeof(plen));
	} else {
		memcpy(prev[0], w->cur, w->cur_len);
		plen[0] = (uint32_t)w->cur_len;
	}
	unsigned k = 0;
	for (unsigned m = 0; m < have; m++)
		for (unsigned a = 0; a < na; a++, k++) {
			memcpy(w->set[k], prev[m], plen[m]);
			memcpy(w->set[k] + plen[m], alt[a], alen[a]);
			w->set_len[k] = plen[m] + alen[a];
		}
	w->nset = k;
	w->cur_len = 0;
	return true;
}

static int walk(struct walk *w)
{
	while (w->i < w->n) {
		size_t i = w->i, e;
		char c = w->p[i];

		if (w->quote && c == '\\' && at(w, i + 1, 'E')) {
			w->quote = false;
			w->i = i + 2;
			continue;
		}
		if (w->quote) {
			e = i + unit_len(w, i);
			literal(w, w->p + i, e - i,
				at(w, e, '\\') && at(w, e + 1, 'E') ? skip_noise(w, e) : w->n);
			w->i = e;
			continue;
		}
		if ((e = skip_noise(w, i)) != i) {
			w->i = e;
			continue;
		}
		if (c == '|' || c == ')')
			return -1;
		if (c == '\\') {
			if (escape(w))
				return -1;
			continue;
		}
		if (c == '(' && w->sets && alt_group(w))
			continue;
		if (c == '[' || c == '(') {
			end_run(w);
			if (c == '[' ? skip_class(w, &w->i) : skip_paren(w))
				return -1;
			continue;
		}
		if (strchr(".^$*+?", c) && c != '\0') {
			end_run(w);
			w->i++;
			continue;
		}
		if (c == '{' && (e = brace_quant(w, i, NULL))) {
			end_run(w);
			w->i += e;
			continue;
		}
		e = i + unit_len(w, i);
		literal(w, w->p + i, e - i, skip_noise(w, e));
		w->i = e;
	}
	end_run(w);
	return 0;
}

/* Walks pat with w's output fields set: 0, or -1 when the pattern or its flags are refused. */
static int walk_pattern(struct walk *w, const char *pat, size_t n, uint32_t flags, size_t limit)
{
	if (!pat || (flags & ~(uint32_t)SAFE_FLAGS))
		return -1;
	w->p = pat;
	w->n = n;
	w->caseless = flags & PCRE2_CASELESS;
	w->folds = flags & (PCRE2_UTF | PCRE2_UCP);
	w->limit = limit;
	for (size_t i = n; i > 0 && !w->close_end; i--)
		w->close_end = pat[i - 1] == ')' ? i : 0;
	return walk(w);
}

size_t regex_required_literal(const char *pat, size_t n, uint32_t flags, size_t min_len, char *out,
			      size_t cap)
{
	struct walk w = {.best = out};

	if (!out || cap == 0)
		return 0;
	out[0] = '\0';
	if (walk_pattern(&w, pat, n, flags, cap - 1 < REGEX_ATOM_MAX ? cap - 1 : REGEX_ATOM_MAX) ||
	    w.best_len == 0 || w.best_len < min_len) {
		out[0] = '\0';
		return 0;
	}
	out[w.best_len] = '\0';
	return w.best_len;
}

unsigned regex_required_set(const char *pat, size_t n, uint32_t flags, size_t min_len,
			    struct regex_set *out)
{
	char one[REGEX_SET_LEN];
	struct walk w = {.best = one, .sets = true, .best_set = out};

	if (!out)
		return 0;
	out->n = 0;
	if (walk_pattern(&w, pat, n, flags, REGEX_SET_LEN - 1)) {
		out->n = 0;
		return 0;
	}
	/* One literal is as good as a set whose shortest string is no longer. */
	if (w.best_len && w.best_len >= set_min(out->len, out->n)) {
		memcpy(out->lit[0], one, w.best_len);
		out->lit[0][w.best_len] = '\0';
		out->len[0] = (uint32_t)w.best_len;
		out->n = 1;
	}
	if (out->n && set_min(out->len, out->n) < min_len)
		out->n = 0;
	return out->n;
}
