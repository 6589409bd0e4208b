/* Reading whole files with a size cap, and listing the files under a directory tree in a stable
 * order, for loaders of rules, indicators and configuration. */
#ifndef MAMORI_FILE_READ_H
#define MAMORI_FILE_READ_H

#include <stddef.h>

struct dynbuf;

/* Reads path into out (reset first, NUL-terminated). 0, -EFBIG past cap, or a negative errno. */
int file_read(const char *path, size_t cap, struct dynbuf *out);

/* Calls fn for every regular file under root (root itself when it is a file) whose name ends with
 * one of the NULL-terminated suffixes (all files when suffixes is NULL), in sorted order, at most
 * depth 16 and max_files files (-E2BIG past it). Hidden entries are skipped. Stops and returns
 * fn's value when nonzero. */
typedef int (*file_list_fn)(void *ctx, const char *path);
int file_list(const char *root, const char *const *suffixes, size_t max_files, file_list_fn fn,
	      void *ctx);

#endif
