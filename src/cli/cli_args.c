#include "cli_args.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static const struct cli_args_opt *find_long(const struct cli_args_opt *opts, const char *name,
					    size_t len)
{
	for (; opts->name; opts++)
		if (strlen(opts->name) == len && !memcmp(opts->name, name, len))
			return opts;
	return NULL;
}

static const struct cli_args_opt *find_short(const struct cli_args_opt *opts, char c)
{
	for (; opts->name; opts++)
		if (opts->short_name && opts->short_name == c)
			return opts;
	return NULL;
}

static int parse_long_opt(const struct cli_args_opt *opts, int argc, char **argv, int *i,
			  const char *cmd, FILE *err)
{
	const char *name = argv[*i] + 2;
	const char *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct cli_args_opt *o = find_long(opts, name, len);

	if (!o) {
		fprintf(err, "mamori: %s: unknown option '--%.*s'\n", cmd, (int)len, name);
		return -EINVAL;
	}
	if (o->flag) {
		if (eq) {
			fprintf(err, "mamori: %s: option '--%s' takes no value\n", cmd, o->name);
			return -EINVAL;
		}
		*o->flag = true;
		return 0;
	}
	if (eq) {
		*o->value = eq + 1;
		return 0;
	}
	if (*i + 1 >= argc) {
		fprintf(err, "mamori: %s: option '--%s' needs a value\n", cmd, o->name);
		return -EINVAL;
	}
	*o->value = argv[++*i];
	return 0;
}

static int parse_short_opt(const struct cli_args_opt *opts, int argc, char **argv, int *i,
			   const char *cmd, FILE *err)
{
	const char *a = argv[*i];
	const struct cli_args_opt *o = find_short(opts, a[1]);

	if (!o) {
		fprintf(err, "mamori: %s: unknown option '-%c'\n", cmd, a[1]);
		return -EINVAL;
	}
	if (o->flag) {
		if (a[2]) {
			fprintf(err, "mamori: %s: unknown option '%s'\n", cmd, a);
			return -EINVAL;
		}
		*o->flag = true;
		return 0;
	}
	if (a[2]) {
		*o->value = a + 2 + (a[2] == '=');
		return 0;
	}
	if (*i + 1 >= argc) {
		fprintf(err, "mamori: %s: option '-%c' needs a value\n", cmd, a[1]);
		return -EINVAL;
	}
	*o->value = argv[++*i];
	return 0;
}

int cli_args_parse(const struct cli_args_opt *opts, int argc, char **argv, struct cli_args_pos *pos,
		   const char *cmd, FILE *err)
{
	bool only_pos = false;
	int i, rc;

	pos->n = 0;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!only_pos && !strcmp(a, "--")) {
			only_pos = true;
			continue;
		}
		if (!only_pos && a[0] == '-' && a[1] == '-') {
			rc = parse_long_opt(opts, argc, argv, &i, cmd, err);
			if (rc)
				return rc;
			continue;
		}
		if (!only_pos && a[0] == '-' && a[1]) {
			rc = parse_short_opt(opts, argc, argv, &i, cmd, err);
			if (rc)
				return rc;
			continue;
		}
		if (pos->n == CLI_ARGS_MAX_POS) {
			fprintf(err, "mamori: %s: too many arguments\n", argv[0]);
			return -EINVAL;
		}
		pos->v[pos->n++] = a;
	}
	return 0;
}

/* Consumes exactly n digits. */
static bool digits(const char **p, int n)
{
	for (int k = 0; k < n; k++, (*p)++)
		if (!isdigit((unsigned char)**p))
			return false;
	return true;
}

static bool expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

bool cli_args_is_duration(const char *s)
{
	size_t n = strspn(s, "0123456789");

	/* Nine digits keep the server's arithmetic in range even for days. */
	return n >= 1 && n <= 9 && s[n] && strchr("smhd", s[n]) && !s[n + 1];
}

bool cli_args_is_time(const char *s)
{
	const char *p = s;

	if (cli_args_is_duration(s))
		return true;
	if (!digits(&p, 4) || !expect(&p, '-') || !digits(&p, 2) || !expect(&p, '-') ||
	    !digits(&p, 2))
		return false;
	if (*p != 'T' && *p != 't')
		return false;
	p++;
	if (!digits(&p, 2) || !expect(&p, ':') || !digits(&p, 2) || !expect(&p, ':') ||
	    !digits(&p, 2))
		return false;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0';
	if (*p != '+' && *p != '-')
		return false;
	p++;
	return digits(&p, 2) && expect(&p, ':') && digits(&p, 2) && *p == '\0';
}

int cli_args_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)s[0]) && s[0] != '-')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}
