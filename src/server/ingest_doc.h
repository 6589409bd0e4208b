/* Strict validation of one ECS JSON line from an agent and extraction of the indexed columns.
 * Pure and bounded (jsmn with a fixed token array); fuzzed. The store needs strictly valid JSON
 * in UTF-8 without NUL escapes (PostgreSQL jsonb refuses them), so anything else is rejected. */
#ifndef MAMORI_INGEST_DOC_H
#define MAMORI_INGEST_DOC_H

#include <stddef.h>

#include "store.h"

#define INGEST_DOC_MAX_LINE ((size_t)256 * 1024)
#define INGEST_DOC_MAX_TOKENS 32768

/* Parses line[0..len) into row. Extracted strings are unescaped into *arena (advanced; the
 * caller provides at least len + 32 bytes). row->doc points at line. 0, or -EINVAL/-E2BIG with a
 * short reason in err. */
int ingest_doc_parse(const char *line, size_t len, struct store_event_row *row, char **arena,
		     char *err, size_t errlen);

#endif
