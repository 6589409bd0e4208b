/* The collect response: one regular file from the host, read whole and sent back in the command
 * result with its SHA-256 and metadata, so an analyst can examine a dropper or a modified
 * config without logging in. docs/response.md. */
#ifndef MAMORI_RESPOND_COLLECT_H
#define MAMORI_RESPOND_COLLECT_H

#include <stddef.h>

#include <jansson.h>

/* Largest file collected: its base64 must fit a command result under the server's 1 MiB limit
 * on JSON bodies (WIRE_MAX_JSON_BODY). */
#define RESPOND_COLLECT_MAX ((size_t)512 * 1024)

/* Reads path (absolute; the last component is not followed if it is a symlink) when it is a
 * regular file of at most max_bytes (capped at RESPOND_COLLECT_MAX). 0 with *result {"path",
 * "size", "sha256", "mode", "uid", "gid", "mtime", "content_base64"}; a negative errno with
 * *result {"error": text}: -EINVAL (not an absolute path, not a regular file), -EFBIG (larger
 * than the cap), or what open/read gave (-ENOENT, -ELOOP for a symlink, -EACCES...). */
int respond_collect(const char *path, size_t max_bytes, json_t **result);

#endif
