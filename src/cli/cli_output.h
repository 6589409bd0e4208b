/* What the CLI writes on stdout: JSON lines for scripts (compact, keys in the server's order) and
 * aligned tables for people. Table text is made safe for a terminal: control, C1 and bidi
 * characters from hostile process arguments or file names are shown escaped, never emitted. */
#ifndef MAMORI_CLI_OUTPUT_H
#define MAMORI_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

struct dynbuf;

enum cli_output_format {
	CLI_OUTPUT_TABLE,
	CLI_OUTPUT_JSONL,
};

/* Parses "table" or "jsonl". Returns 0 or -EINVAL. */
int cli_output_format_parse(const char *s, enum cli_output_format *out);

/* Writes v compact on one line. Returns 0 or -EIO. */
int cli_output_jsonl(FILE *out, const json_t *v);

/* Appends s with unsafe characters escaped (\n, \t, \xNN, \u202e...) and, when max_width is not
 * 0, cut to at most max_width columns ending in "..." when cut. *width (may be NULL) receives the
 * columns used (one per code point). Returns 0 or a negative errno from the buffer. */
int cli_output_sanitize(struct dynbuf *out, const char *s, size_t max_width, size_t *width);

struct cli_output_col {
	const char *header; /* NULL in every column: no header line */
	size_t max_width;   /* 0: unlimited; longer cells are cut with "..." */
	const char *path;   /* dotted path of the cell's value, for cli_output_list */
	bool time;	    /* the value is a time: epoch numbers are shown as RFC 3339 */
};

/* Rows of cells, printed with every column as wide as its widest cell, two spaces apart. */
struct cli_output_table {
	const struct cli_output_col *cols; /* borrowed until release */
	size_t ncols;
	size_t nrows;
	size_t alloc;
	char **cells;  /* nrows * ncols sanitized copies, owned */
	size_t *width; /* columns used by each cell, nrows * ncols */
};

void cli_output_table_init(struct cli_output_table *t, const struct cli_output_col *cols,
			   size_t ncols);
/* Copies ncols cells (a NULL cell is empty). Returns 0 or -ENOMEM. */
int cli_output_table_add(struct cli_output_table *t, const char *const *cells);
/* Returns 0 or -EIO. */
int cli_output_table_print(const struct cli_output_table *t, FILE *out);
void cli_output_table_release(struct cli_output_table *t);

/* Prints each element of arr: as a compact JSON line, or as a table row of the values at the
 * columns' paths. Returns 0 or a negative errno. */
int cli_output_list(FILE *out, enum cli_output_format fmt, const json_t *arr,
		    const struct cli_output_col *cols, size_t ncols);

/* Prints an object as aligned "dotted.key  value" lines: nested objects flattened, arrays of
 * scalars joined by ",", arrays of objects summarised as "[N items]". Returns 0 or -errno. */
int cli_output_kv(FILE *out, const json_t *obj);

#endif
