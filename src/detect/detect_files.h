/* Loading rule files from disk into an engine: the one part of the detection library that reads
 * the filesystem (the engine itself only ever sees text). */
#ifndef MAMORI_DETECT_FILES_H
#define MAMORI_DETECT_FILES_H

#include <stdint.h>

#include "detect.h"

struct detect_engine;
struct ioc_set;

#define DETECT_FILES_MAX_BYTES (4u << 20)
#define DETECT_FILES_MAX 100000

/* Loads every *.yml / *.yaml file under path (or path itself), in sorted order. Unreadable
 * files are reported through the engine's diag callback and counted as failed documents.
 * Returns the number of files read, or a negative errno when path cannot be listed. */
int detect_files_load(struct detect_engine *e, const char *path);

#define DETECT_FILES_MAX_IOC_BYTES (512u << 20)
/* Adds every file under path (or path itself) to an indicator set. Unreadable files and bad
 * lines go to diag (may be NULL). Returns the number of files read, or a negative errno when path
 * cannot be listed. */
int detect_files_load_iocs(struct ioc_set *s, const char *path, detect_diag_fn diag, void *ctx);

/* Folds the path and bytes of every file under path (suffixes as for file_list, NULL for all)
 * into *h with 64-bit FNV-1a, in sorted order: the content version of rules and indicators.
 * Start with DETECT_FILES_HASH_INIT. 0 or a negative errno. */
#define DETECT_FILES_HASH_INIT 1469598103934665603ull
int detect_files_hash(const char *path, const char *const *suffixes, uint64_t *h);

#endif
