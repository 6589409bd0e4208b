/* The quarantine response: a file is moved into an encrypted vault on the host (AES-256-GCM under
 * a per-host key) and removed from its place, so it can neither run nor be read, yet can be put
 * back byte for byte, with its owner, mode and mtime, if it was a false positive. */
#ifndef MAMORI_RESPOND_QUARANTINE_H
#define MAMORI_RESPOND_QUARANTINE_H

#include <stdbool.h>

#include <jansson.h>

#define RESPOND_QUARANTINE_MAX (256u << 20) /* files larger are refused */

/* vault_dir: root-only directory (created 0700 if missing, refused if not owned by root/euid or
 * group/world accessible). The 32-byte key lives in vault_dir/key (0600, created from RAND_bytes
 * on first use). Losing the key loses every file in the vault.
 *
 * Every function returns 0 with *result as described, or a negative errno with *result
 * {"error": text}; the caller owns *result either way. They lock the vault (flock) for their
 * whole run, so calls on one vault from several threads or processes run one after another.
 * "mode" is st_mode & 07777 (setuid, setgid and sticky included). */

/* Moves path (absolute; its last component is never followed) into the vault. The original is
 * removed only once the vault copy is on disk and decrypts to the same SHA-256. *result {"id",
 * "path", "size", "sha256", "mode", "uid", "gid"}, plus "warning" when other hard links to the
 * file remain. path in the result is the canonical one (no symlinks in its directories); restore
 * puts the file back there. Errors: -EINVAL (not absolute, not a regular file, inside the vault),
 * -ELOOP (a symlink), -EFBIG (over RESPOND_QUARANTINE_MAX), -EAGAIN (the file changed while it
 * was read), -ESTALE (it was replaced before it could be removed), -EPERM (the vault or its key
 * has unsafe ownership or permissions), or what the system gave. */
int respond_quarantine(const char *vault_dir, const char *path, json_t **result);

/* Puts entry id (32 lowercase hex) back where it was and removes it from the vault. The target
 * directory must still exist and be reached without symlinks; an existing file at the path is
 * replaced only when force. Nothing is written outside the vault before the entry (content and
 * metadata) is authenticated. *result {"id", "path", "size", "sha256"}. Errors: -EINVAL (a
 * malformed id or entry), -ENOENT (no such entry, no key, or the directory is gone), -ELOOP (the
 * directory is now reached through a symlink), -EEXIST (the path exists and not force),
 * -EBADMSG (the entry was tampered with or the key is not the one it was made with), -EPERM
 * (unsafe vault), or what the system gave. A failed restore leaves the entry in the vault. */
int respond_restore(const char *vault_dir, const char *id, bool force, json_t **result);

/* *result {"entries": [{"id", "path", "size", "sha256", "mode", "uid", "gid", "mtime",
 * "mtime_nsec", "quarantined_at"}], "count"}, oldest first (quarantined_at: ms since the epoch).
 * The metadata is shown as stored: it is authenticated only when an entry is restored. An
 * unreadable entry is listed as {"id", "error"}. At most 4096 entries, then "truncated": true. */
int respond_quarantine_list(const char *vault_dir, json_t **result);

#endif
