#include "cli_output.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"
#include "dynbuf.h"

#include "banned.h"

#define COL_GAP 2
#define KV_MAX_WIDTH 200
#define KV_MAX_DEPTH 32
#define CELL_CAP (1u << 20)
#define LIST_MAX_COLS 16

int cli_output_format_parse(const char *s, enum cli_output_format *out)
{
	if (!strcmp(s, "table"))
		*out = CLI_OUTPUT_TABLE;
	else if (!strcmp(s, "jsonl"))
		*out = CLI_OUTPUT_JSONL;
	else
		return -EINVAL;
	return 0;
}

int cli_output_jsonl(FILE *out, const json_t *v)
{
	if (json_dumpf(v, out, JSON_COMPACT | JSON_ENCODE_ANY) || fputc('\n', out) == EOF)
		return -EIO;
	return 0;
}

/* Decodes one UTF-8 sequence; returns its length, or 0 when it is malformed, overlong, a
 * surrogate or past U+10FFFF. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
	size_t n, i;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2, c = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, c = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4, c = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Characters a terminal acts on or that reorder the text around them (Trojan Source). */
static bool is_unsafe(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x200e || c == 0x200f ||
	       (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/* One displayed unit: a safe code point copied as is (one column) or an escape sequence. */
struct unit {
	char text[8];
	size_t len;	/* bytes in text */
	size_t cols;	/* columns on screen */
	size_t src_len; /* bytes consumed from the input */
};

static void next_unit(const char *s, struct unit *u)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c = 0;
	size_t n = utf8_decode(p, &c);
	int len;

	if (n && !is_unsafe(c)) {
		memcpy(u->text, s, n);
		u->len = n;
		u->cols = 1;
		u->src_len = n;
		return;
	}
	if (!n)
		len = snprintf(u->text, sizeof(u->text), "\\x%02x", p[0]);
	else if (c == '\n')
		len = snprintf(u->text, sizeof(u->text), "\\n");
	else if (c == '\t')
		len = snprintf(u->text, sizeof(u->text), "\\t");
	else if (c == '\r')
		len = snprintf(u->text, sizeof(u->text), "\\r");
	else if (c < 0x80)
		len = snprintf(u->text, sizeof(u->text), "\\x%02x", (unsigned)c);
	else
		len = snprintf(u->text, sizeof(u->text), "\\u%04x", (unsigned)c);
	u->len = (size_t)len;
	u->cols = (size_t)len;
	u->src_len = n ? n : 1;
}

int cli_output_sanitize(struct dynbuf *out, const char *s, size_t max_width, size_t *width)
{
	size_t total = 0, used = 0, limit, dots;
	struct unit u;
	const char *p;
	int rc;

	for (p = s; *p; p += u.src_len) {
		next_unit(p, &u);
		total += u.cols;
	}
	if (!max_width || total <= max_width) {
		limit = total;
		dots = 0;
	} else {
		dots = max_width < 3 ? max_width : 3;
		limit = max_width - dots;
	}
	for (p = s; *p; p += u.src_len) {
		next_unit(p, &u);
		if (used + u.cols > limit)
			break;
		rc = dynbuf_add(out, u.text, u.len);
		if (rc)
			return rc;
		used += u.cols;
	}
	if (dots) {
		rc = dynbuf_add(out, "...", dots);
		if (rc)
			return rc;
		used += dots;
	}
	if (width)
		*width = used;
	return 0;
}

void cli_output_table_init(struct cli_output_table *t, const struct cli_output_col *cols,
			   size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->ncols = ncols;
}

static int table_grow(struct cli_output_table *t)
{
	size_t alloc = t->alloc ? t->alloc * 2 : 16;
	char **cells;
	size_t *width;

	cells = reallocarray(t->cells, alloc * t->ncols, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	t->cells = cells;
	width = reallocarray(t->width, alloc * t->ncols, sizeof(*width));
	if (!width)
		return -ENOMEM;
	t->width = width;
	t->alloc = alloc;
	return 0;
}

int cli_output_table_add(struct cli_output_table *t, const char *const *cells)
{
	const size_t ncols = t->ncols;
	struct dynbuf b;
	size_t base, i;
	int rc;

	if (t->nrows == t->alloc && (rc = table_grow(t)))
		return rc;
	base = t->nrows * ncols;
	for (i = 0; i < ncols; i++) {
		dynbuf_init(&b, CELL_CAP);
		rc = cli_output_sanitize(&b, cells[i] ? cells[i] : "", t->cols[i].max_width,
					 &t->width[base + i]);
		if (!rc && !b.data)
			rc = dynbuf_adds(&b, "");
		if (rc) {
			dynbuf_release(&b);
			while (i--)
				free(t->cells[base + i]);
			return rc;
		}
		t->cells[base + i] = b.data;
	}
	t->nrows++;
	return 0;
}

/* Pads every cell to its column's width, except after the last non-empty cell: no line ends
 * in spaces. */
static void print_row(FILE *out, const char *const *cells, const size_t *cell_width,
		      const size_t *col_width, size_t ncols)
{
	size_t last = 0;

	for (size_t i = 0; i < ncols; i++)
		if (cells[i][0])
			last = i;
	for (size_t i = 0; i <= last && i < ncols; i++) {
		fputs(cells[i], out);
		if (i < last)
			fprintf(out, "%*s", (int)(col_width[i] - cell_width[i] + COL_GAP), "");
	}
	fputc('\n', out);
}

int cli_output_table_print(const struct cli_output_table *t, FILE *out)
{
	bool header = t->ncols && t->cols[0].header;
	const char **head = NULL;
	size_t *col_width, *head_width = NULL;
	size_t r, i;
	int rc = 0;

	col_width = calloc(t->ncols ? t->ncols : 1, sizeof(*col_width));
	if (!col_width)
		return -ENOMEM;
	if (header) {
		head = calloc(t->ncols, sizeof(*head));
		head_width = calloc(t->ncols, sizeof(*head_width));
		if (!head || !head_width) {
			rc = -ENOMEM;
			goto out;
		}
		for (i = 0; i < t->ncols; i++) {
			head[i] = t->cols[i].header;
			head_width[i] = strlen(head[i]);
			col_width[i] = head_width[i];
		}
	}
	for (r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols; i++)
			if (t->width[r * t->ncols + i] > col_width[i])
				col_width[i] = t->width[r * t->ncols + i];
	if (header)
		print_row(out, head, head_width, col_width, t->ncols);
	for (r = 0; r < t->nrows; r++)
		print_row(out, (const char *const *)&t->cells[r * t->ncols],
			  &t->width[r * t->ncols], col_width, t->ncols);
	if (ferror(out))
		rc = -EIO;
out:
	free(head_width);
	free(head);
	free(col_width);
	return rc;
}

void cli_output_table_release(struct cli_output_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	cli_output_table_init(t, t->cols, t->ncols);
}

static bool has_containers(const json_t *arr)
{
	const json_t *e;
	size_t i;

	json_array_foreach(arr, i, e)
	{
		if (json_is_object(e) || json_is_array(e))
			return true;
	}
	return false;
}

static int kv_walk(struct cli_output_table *t, struct dynbuf *key, const json_t *v, int depth)
{
	struct dynbuf val;
	const char *cells[2] = {NULL, NULL};
	size_t keylen = key->len;
	const char *k;
	json_t *child;
	int rc = 0;

	if (json_is_object(v) && depth < KV_MAX_DEPTH) {
		json_object_foreach((json_t *)v, k, child)
		{
			rc = dynbuf_printf(key, "%s%s", keylen ? "." : "", k);
			if (!rc)
				rc = kv_walk(t, key, child, depth + 1);
			dynbuf_truncate(key, keylen);
			if (rc)
				return rc;
		}
		return 0;
	}
	dynbuf_init(&val, CELL_CAP);
	if (json_is_array(v) && has_containers(v))
		rc = dynbuf_printf(&val, "[%zu item%s]", json_array_size(v),
				   json_array_size(v) == 1 ? "" : "s");
	else
		rc = cli_json_format(v, &val);
	if (rc == -ENOSPC)
		rc = 0; /* cut at KV_MAX_WIDTH anyway */
	if (!rc) {
		cells[0] = key->data ? key->data : "";
		cells[1] = val.data;
		rc = cli_output_table_add(t, cells);
	}
	dynbuf_release(&val);
	return rc;
}

int cli_output_kv(FILE *out, const json_t *obj)
{
	static const struct cli_output_col cols[] = {{NULL, 0, NULL, false},
						     {NULL, KV_MAX_WIDTH, NULL, false}};
	struct cli_output_table t;
	struct dynbuf key;
	int rc;

	cli_output_table_init(&t, cols, 2);
	dynbuf_init(&key, 4096);
	rc = kv_walk(&t, &key, obj, 0);
	if (!rc)
		rc = cli_output_table_print(&t, out);
	dynbuf_release(&key);
	cli_output_table_release(&t);
	return rc;
}

static int list_row(struct cli_output_table *t, const json_t *item)
{
	struct dynbuf vals[LIST_MAX_COLS];
	const char *cells[LIST_MAX_COLS] = {NULL};
	size_t i;
	int rc = 0;

	for (i = 0; i < t->ncols; i++)
		dynbuf_init(&vals[i], CELL_CAP);
	for (i = 0; i < t->ncols; i++) {
		const json_t *v = cli_json_get(item, t->cols[i].path);
		int r = t->cols[i].time ? cli_json_format_time(v, &vals[i])
					: cli_json_format(v, &vals[i]);

		/* A value past CELL_CAP is cut by the table anyway. */
		if (r && r != -ENOSPC)
			rc = r;
		cells[i] = vals[i].data;
	}
	if (!rc)
		rc = cli_output_table_add(t, cells);
	for (i = 0; i < t->ncols; i++)
		dynbuf_release(&vals[i]);
	return rc;
}

int cli_output_list(FILE *out, enum cli_output_format fmt, const json_t *arr,
		    const struct cli_output_col *cols, size_t ncols)
{
	struct cli_output_table t;
	const json_t *item;
	size_t i;
	int rc = 0;

	if (ncols > LIST_MAX_COLS)
		return -EINVAL;
	if (fmt == CLI_OUTPUT_JSONL) {
		json_array_foreach(arr, i, item)
		{
			rc = cli_output_jsonl(out, item);
			if (rc)
				return rc;
		}
		return 0;
	}
	cli_output_table_init(&t, cols, ncols);
	json_array_foreach(arr, i, item)
	{
		rc = list_row(&t, item);
		if (rc)
			break;
	}
	if (!rc)
		rc = cli_output_table_print(&t, out);
	cli_output_table_release(&t);
	return rc;
}
