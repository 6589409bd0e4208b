/* YARA rules (libyara) compiled from rule text, each rule described like a Sigma rule
 * (detect_rule_meta) so its matches become ordinary alerts: id "yara:<namespace>:<rule>",
 * severity from the rule's `severity` meta (0-100) or its threat family, ATT&CK technique from
 * `mitre_attack`/`technique` metas or the family (ransomware T1486, miner T1496, rootkit T1014...).
 * Scanning works on memory buffers; callers read files. */
#ifndef MAMORI_YARA_SCAN_H
#define MAMORI_YARA_SCAN_H

#include <stddef.h>

#include "detect.h"

struct yara_rules;

/* Caller owns the result (yara_rules_free). NULL + errno. */
struct yara_rules *yara_rules_new(void);
void yara_rules_free(struct yara_rules *r);
/* Compiles one file's text (namespace = its file name). A file with errors is reported to diag
 * (with line) and left out; the others still load. Returns the number of rules added or a
 * negative errno. */
int yara_rules_add(struct yara_rules *r, const char *path, const char *text, size_t len,
		   detect_diag_fn diag, void *diag_ctx);
/* Finishes compiling (after the last add). 0 or a negative errno. */
int yara_rules_finish(struct yara_rules *r);
size_t yara_rules_count(const struct yara_rules *r);
size_t yara_rules_failed_files(const struct yara_rules *r);

/* Called per matching rule. Return nonzero to stop. */
typedef int (*yara_hit_fn)(void *ctx, const struct detect_rule_meta *rule);
/* Scans buf (thread-safe after finish). Returns the number of matching rules, or a negative
 * errno (-ETIMEDOUT past timeout_s, -ENOMEM). */
int yara_rules_scan(const struct yara_rules *r, const void *buf, size_t len, int timeout_s,
		    yara_hit_fn fn, void *ctx);

#endif
