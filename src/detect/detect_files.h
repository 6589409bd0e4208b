/* Loading rule files from disk into an engine: the one part of the detection library that reads
 * the filesystem (the engine itself only ever sees text). */
#ifndef MAMORI_DETECT_FILES_H
#define MAMORI_DETECT_FILES_H

struct detect_engine;

#define DETECT_FILES_MAX_BYTES (4u << 20)
#define DETECT_FILES_MAX 100000

/* Loads every *.yml / *.yaml file under path (or path itself), in sorted order. Unreadable
 * files are reported through the engine's diag callback and counted as failed documents.
 * Returns the number of files read, or a negative errno when path cannot be listed. */
int detect_files_load(struct detect_engine *e, const char *path);

#endif
