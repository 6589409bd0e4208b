/* Adapter from one ECS JSON document (an NDJSON line from the agent, the store or a file given to
 * `mamori scan`) to a struct detect_doc: nested objects are flattened to dotted names, arrays give
 * one value per element, and string values are borrowed from the input unless they need
 * unescaping. One pass over the text with no token array; bounded, never allocates, fuzzed. */
#ifndef MAMORI_DETECT_DOC_JSON_H
#define MAMORI_DETECT_DOC_JSON_H

#include <stddef.h>

struct detect_doc;

/* Most JSON tokens in one document, longest document and longest dotted name kept (longer
 * names are skipped with everything below them). */
#define DETECT_DOC_JSON_MAX_TOKENS 4096
#define DETECT_DOC_JSON_MAX_LEN ((size_t)1 << 20)
#define DETECT_DOC_JSON_MAX_NAME 256

/* Resets doc and fills it from one JSON object (json need not be NUL-terminated; it is borrowed
 * until the next reset). Sets doc->time_ns from @timestamp and classifies the event
 * (detect_doc_classify_ecs). Returns 0; -EINVAL when the text is malformed or not an object;
 * -E2BIG past DETECT_DOC_JSON_MAX_TOKENS or DETECT_DOC_JSON_MAX_LEN. On error doc is left empty
 * and err (when errlen > 0) says why. Values that did not fit are counted in doc->overflow. */
int detect_doc_from_json(struct detect_doc *doc, const char *json, size_t len, char *err,
			 size_t errlen);

#endif
