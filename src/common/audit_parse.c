#include "audit_parse.h"

#include <errno.h>
#include <string.h>

#include "hex.h"

#include "banned.h"

/* auditd's enriched log format separates the translated fields with 0x1d (group separator). */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x1d';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
	       c == '-' || c == '[' || c == ']' || c == '.';
}

/* Parses an unsigned decimal at s[*i..n), advancing *i; -EINVAL when there is no digit. */
static int parse_dec(const char *s, size_t n, size_t *i, uint64_t *out, unsigned *digits)
{
	uint64_t v = 0;
	size_t start = *i;

	while (*i < n && is_digit(s[*i])) {
		unsigned d = (unsigned)(s[*i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
		(*i)++;
	}
	if (*i == start)
		return -EINVAL;
	if (digits)
		*digits = (unsigned)(*i - start);
	*out = v;
	return 0;
}

/* Where "type=NAME" stands among the tokens of prefix[0, n), or 0 when absent. */
static uint32_t prefix_type(const char *prefix, size_t n)
{
	size_t i = 0;

	while (i + 5 <= n) {
		if ((i == 0 || prefix[i - 1] == ' ') && memcmp(prefix + i, "type=", 5) == 0) {
			size_t start = i + 5, end = start;

			while (end < n && !is_space(prefix[end]))
				end++;
			return audit_parse_type_name(prefix + start, end - start);
		}
		i++;
	}
	return 0;
}

int audit_parse_header(const char *text, size_t len, uint32_t type_hint,
		       struct audit_parse_header *h)
{
	/* Bounds the search so junk without "audit(" costs a short scan, not the whole record. */
	const size_t prefix_max = 512;
	const char *start;
	uint64_t sec, frac, serial;
	unsigned frac_digits;
	size_t i, search;
	uint32_t named;
	int rc;

	memset(h, 0, sizeof(*h));
	if (len > AUDIT_PARSE_MAX_TEXT)
		return -E2BIG;
	len = strnlen(text, len);
	search = len < prefix_max ? len : prefix_max;
	start = search >= 6 ? memmem(text, search, "audit(", 6) : NULL;
	if (!start)
		return -EINVAL;
	i = (size_t)(start - text);
	named = prefix_type(text, i);
	h->type = named ? named : type_hint;

	i += 6;
	rc = parse_dec(text, len, &i, &sec, NULL);
	if (rc)
		return -EINVAL;
	if (i >= len || text[i] != '.')
		return -EINVAL;
	i++;
	rc = parse_dec(text, len, &i, &frac, &frac_digits);
	if (rc || frac_digits > 9)
		return -EINVAL;
	/* The kernel prints milliseconds as %03lu; scale whatever precision came to ns. */
	for (unsigned d = frac_digits; d < 9; d++)
		frac *= 10;
	if (i >= len || text[i] != ':')
		return -EINVAL;
	i++;
	rc = parse_dec(text, len, &i, &serial, NULL);
	if (rc)
		return -EINVAL;
	if (i >= len || text[i] != ')')
		return -EINVAL;
	i++;
	/* The colon after ")" is absent in some user-space records; accept both. */
	if (i < len && text[i] == ':')
		i++;
	if (sec > (UINT64_MAX - 999999999ull) / 1000000000ull)
		return -EINVAL;
	h->ts_ns = sec * 1000000000ull + frac;
	h->serial = serial;
	h->body = i;
	return 0;
}

void audit_parse_iter_init(struct audit_parse_iter *it, const char *text, size_t len,
			   const struct audit_parse_header *h)
{
	if (len > AUDIT_PARSE_MAX_TEXT)
		len = AUDIT_PARSE_MAX_TEXT;
	len = strnlen(text, len);
	it->end = text + len;
	it->p = h->body < len ? text + h->body : it->end;
	it->skipped = 0;
	it->malformed = false;
}

bool audit_parse_next(struct audit_parse_iter *it, struct audit_parse_field *f)
{
	for (;;) {
		const char *key, *val;
		size_t key_len, val_len;
		bool ok = true;
		char quote = 0;

		while (it->p < it->end && is_space(*it->p))
			it->p++;
		if (it->p >= it->end)
			return false;
		key = it->p;
		while (it->p < it->end && *it->p != '=' && !is_space(*it->p)) {
			if (!is_key_char(*it->p))
				ok = false;
			it->p++;
		}
		key_len = (size_t)(it->p - key);
		if (it->p >= it->end || *it->p != '=') {
			/* A bare word ("avc:", "denied", "{"): not a field. */
			it->skipped++;
			continue;
		}
		it->p++;
		if (key_len == 0 || key_len > AUDIT_PARSE_MAX_KEY)
			ok = false;
		if (it->p < it->end && (*it->p == '"' || *it->p == '\'')) {
			const char *close;

			quote = *it->p++;
			val = it->p;
			close = memchr(val, quote, (size_t)(it->end - val));
			if (!close) {
				it->malformed = true;
				close = it->end;
				it->p = it->end;
			} else {
				it->p = close + 1;
			}
			val_len = (size_t)(close - val);
		} else {
			val = it->p;
			while (it->p < it->end && !is_space(*it->p))
				it->p++;
			val_len = (size_t)(it->p - val);
		}
		if (!ok) {
			it->skipped++;
			continue;
		}
		f->key = key;
		f->key_len = key_len;
		f->val = val;
		f->val_len = val_len;
		f->quote = quote;
		return true;
	}
}

bool audit_parse_key_is(const struct audit_parse_field *f, const char *key)
{
	size_t n = strlen(key);

	return f->key_len == n && memcmp(f->key, key, n) == 0;
}

int audit_parse_u64(const struct audit_parse_field *f, unsigned base, uint64_t *out)
{
	uint64_t v = 0;

	if (f->quote || f->val_len == 0 || (base != 10 && base != 16))
		return -EINVAL;
	for (size_t i = 0; i < f->val_len; i++) {
		int d = base == 16 ? hex_value(f->val[i])
				   : (is_digit(f->val[i]) ? f->val[i] - '0' : -1);

		if (d < 0)
			return -EINVAL;
		if (v > (UINT64_MAX - (unsigned)d) / base)
			return -ERANGE;
		v = v * base + (unsigned)d;
	}
	*out = v;
	return 0;
}

int audit_parse_i64(const struct audit_parse_field *f, int64_t *out)
{
	struct audit_parse_field mag = *f;
	bool neg = false;
	uint64_t v;
	int rc;

	if (!f->quote && f->val_len > 0 && f->val[0] == '-') {
		neg = true;
		mag.val++;
		mag.val_len--;
	}
	rc = audit_parse_u64(&mag, 10, &v);
	if (rc)
		return rc;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return -ERANGE;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return -ERANGE;
		*out = (int64_t)v;
	}
	return 0;
}

int audit_parse_hex(const char *s, size_t n, char *out, size_t size, size_t *outlen)
{
	size_t w = 0;

	*outlen = 0;
	if (n % 2)
		return -EINVAL;
	/* Validate everything first so a bad digit never leaves half-decoded output. */
	for (size_t i = 0; i < n; i++) {
		if (hex_value(s[i]) < 0)
			return -EINVAL;
	}
	for (size_t i = 0; i < n; i += 2) {
		if (w >= size) {
			*outlen = w;
			return 1;
		}
		out[w++] = (char)(hex_value(s[i]) << 4 | hex_value(s[i + 1]));
	}
	*outlen = w;
	return 0;
}

static bool val_is(const struct audit_parse_field *f, const char *s)
{
	size_t n = strlen(s);

	return f->val_len == n && memcmp(f->val, s, n) == 0;
}

int audit_parse_string(const struct audit_parse_field *f, char *out, size_t size, size_t *outlen)
{
	size_t n;
	int rc;

	if (outlen)
		*outlen = 0;
	if (size == 0)
		return -EINVAL;
	out[0] = '\0';
	if (f->quote) {
		n = f->val_len < size - 1 ? f->val_len : size - 1;
		memcpy(out, f->val, n);
		out[n] = '\0';
		if (outlen)
			*outlen = n;
		return n < f->val_len ? 1 : 0;
	}
	if (f->val_len == 0 || val_is(f, "(null)") || val_is(f, "(none)") || val_is(f, "?"))
		return -ENOENT;
	rc = audit_parse_hex(f->val, f->val_len, out, size - 1, &n);
	if (rc < 0)
		return rc;
	out[n] = '\0';
	if (outlen)
		*outlen = n;
	return rc;
}

/* clang-format off */
static const struct {
	const char *name;
	uint32_t type;
} type_names[] = {
	{"SYSCALL", AUDIT_PARSE_SYSCALL},     {"PATH", AUDIT_PARSE_PATH},
	{"CWD", AUDIT_PARSE_CWD},	      {"EXECVE", AUDIT_PARSE_EXECVE},
	{"EOE", AUDIT_PARSE_EOE},	      {"PROCTITLE", AUDIT_PARSE_PROCTITLE},
	{"SOCKADDR", 1306},		      {"BPRM_FCAPS", 1321},
	{"MMAP", 1323},			      {"KERN_MODULE", 1330},
	{"BPF", 1334},			      {"USER", 1005},
	{"LOGIN", 1006},		      {"CONFIG_CHANGE", 1305},
	{"AVC", 1400},			      {"ANOM_ABEND", 1701},
};
/* clang-format on */

uint32_t audit_parse_type_name(const char *s, size_t n)
{
	/* auditd prints types it has no name for as UNKNOWN[number]. */
	if (n > 9 && memcmp(s, "UNKNOWN[", 8) == 0 && s[n - 1] == ']') {
		uint64_t v;
		size_t i = 8;

		if (parse_dec(s, n - 1, &i, &v, NULL) == 0 && i == n - 1 && v <= UINT32_MAX)
			return (uint32_t)v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (strlen(type_names[i].name) == n && memcmp(type_names[i].name, s, n) == 0)
			return type_names[i].type;
	}
	return 0;
}

enum audit_parse_arg audit_parse_arg_key(const struct audit_parse_field *f, uint32_t *index,
					 uint32_t *chunk)
{
	const char *k = f->key;
	size_t n = f->key_len, i = 1;
	uint64_t v, c;

	*index = 0;
	*chunk = 0;
	if (n < 2 || k[0] != 'a' || !is_digit(k[1]))
		return AUDIT_PARSE_ARG_NONE;
	if (parse_dec(k, n, &i, &v, NULL) || v > UINT32_MAX)
		return AUDIT_PARSE_ARG_NONE;
	*index = (uint32_t)v;
	if (i == n)
		return AUDIT_PARSE_ARG_WHOLE;
	if (n - i == 4 && memcmp(k + i, "_len", 4) == 0)
		return AUDIT_PARSE_ARG_LEN;
	if (k[i] == '[') {
		i++;
		if (parse_dec(k, n, &i, &c, NULL) || c > UINT32_MAX || i + 1 != n || k[i] != ']')
			return AUDIT_PARSE_ARG_NONE;
		*chunk = (uint32_t)c;
		return AUDIT_PARSE_ARG_CHUNK;
	}
	return AUDIT_PARSE_ARG_NONE;
}
