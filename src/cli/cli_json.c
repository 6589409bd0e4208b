#include "cli_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dynbuf.h"

#include "banned.h"

/* Deeper than any ECS path the CLI asks for; bounds the backtracking below. */
#define MAX_DEPTH 16

static json_t *get_n(const json_t *obj, const char *path, size_t len, int depth)
{
	json_t *v;

	if (!json_is_object(obj) || depth > MAX_DEPTH)
		return NULL;
	v = json_object_getn(obj, path, len);
	if (v)
		return v;
	/* Split at each dot in turn, so "a.b.c" also finds {"a.b": {"c": ..}} and {"a": {"b.c":
	 * ..}} as well as the usual ECS nesting {"a": {"b": {"c": ..}}}. */
	for (size_t i = 0; i < len; i++) {
		json_t *child;

		if (path[i] != '.')
			continue;
		child = json_object_getn(obj, path, i);
		if (!json_is_object(child))
			continue;
		v = get_n(child, path + i + 1, len - i - 1, depth + 1);
		if (v)
			return v;
	}
	return NULL;
}

json_t *cli_json_get(const json_t *obj, const char *path)
{
	if (!path)
		return NULL;
	return get_n(obj, path, strlen(path), 0);
}

const char *cli_json_get_string(const json_t *obj, const char *path)
{
	return json_string_value(cli_json_get(obj, path));
}

static int format_compact(const json_t *v, struct dynbuf *out)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	int rc;

	if (!s)
		return -ENOMEM;
	rc = dynbuf_adds(out, s);
	free(s);
	return rc;
}

static int format_scalar(const json_t *v, struct dynbuf *out)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return dynbuf_add(out, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return dynbuf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		return dynbuf_printf(out, "%.15g", json_real_value(v));
	case JSON_TRUE:
		return dynbuf_adds(out, "true");
	case JSON_FALSE:
		return dynbuf_adds(out, "false");
	case JSON_NULL:
		return 0;
	default:
		return format_compact(v, out);
	}
}

int cli_json_format(const json_t *v, struct dynbuf *out)
{
	const json_t *e;
	size_t i;
	int rc;

	if (!v)
		return 0;
	if (!json_is_array(v))
		return format_scalar(v, out);
	json_array_foreach(v, i, e)
	{
		if (i && (rc = dynbuf_addc(out, ',')))
			return rc;
		rc = json_is_array(e) ? format_compact(e, out) : format_scalar(e, out);
		if (rc)
			return rc;
	}
	return 0;
}

/* 1e11 seconds is the year 5138; below it, 1e11 milliseconds is 1973. */
#define EPOCH_MS_THRESHOLD 100000000000LL

int cli_json_format_time(const json_t *v, struct dynbuf *out)
{
	json_int_t n;
	struct tm tm;
	char buf[64];
	time_t t;

	if (!json_is_integer(v))
		return cli_json_format(v, out);
	n = json_integer_value(v);
	if (n <= 0)
		return 0;
	t = (time_t)(n >= EPOCH_MS_THRESHOLD ? n / 1000 : n);
	if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return cli_json_format(v, out);
	return dynbuf_adds(out, buf);
}
