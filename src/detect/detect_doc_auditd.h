/* Adapter from one raw auditd log line ("type=EXECVE msg=audit(1700000000.123:456): argc=3
 * a0=...") to a struct detect_doc, for Sigma's `product: linux, service: auditd` rules: every
 * key=value is a field named as written, hex-encoded strings are decoded, and x86_64 syscall
 * numbers get their name under SYSCALL. Pure and bounded (src/common/audit_parse.h); fuzzed. */
#ifndef MAMORI_DETECT_DOC_AUDITD_H
#define MAMORI_DETECT_DOC_AUDITD_H

#include <stddef.h>

struct detect_doc;

/* Resets doc and fills it from one record (line need not be NUL-terminated; it is borrowed until
 * the next reset). Fields: "type" (EXECVE, SYSCALL, PATH...), "node" when given, each key=value
 * of the record, the key=value pairs inside a user-space record's msg='...', the enriched
 * format's uppercase translations, and SYSCALL=<name> derived from arch=c000003e syscall=N when
 * the line has none. Sets doc->time_ns and the logsource (linux/auditd). Returns 0; -EINVAL when
 * the msg=audit(sec.ms:serial) prefix is missing or malformed; -E2BIG past AUDIT_PARSE_MAX_TEXT.
 * On error doc is left empty and err (when errlen > 0) says why. */
int detect_doc_from_auditd(struct detect_doc *doc, const char *line, size_t len, char *err,
			   size_t errlen);

#endif
