/* Replacing a file so a crash leaves the old content or the new, never a torn file: a
 * temporary file beside it (created with its final mode), fsync, rename, fsync of the directory.
 * Used for keys, certificates and state files. */
#ifndef MAMORI_ATOMIC_FILE_H
#define MAMORI_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Writes data[0..len) to path atomically with the given mode. 0 or a negative errno. */
int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode);

#endif
