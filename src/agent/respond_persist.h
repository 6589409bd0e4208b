/* Removal of a persistence item (the persistence_remove command): a cron entry, a systemd unit,
 * an authorized_keys line, an ld.so.preload entry or a shell start-up line. The file as it was
 * goes into the quarantine vault first, so the removal is undone by restoring that backup;
 * lines are removed by writing the file again without them, with its owner and mode. Each type
 * only touches the files where that kind of persistence lives. */
#ifndef MAMORI_RESPOND_PERSIST_H
#define MAMORI_RESPOND_PERSIST_H

#include <stdbool.h>

#include <jansson.h>

#define RESPOND_PERSIST_MAX_FILE (1u << 20) /* files edited line by line */

struct respond_persist_opts {
	const char *vault_dir; /* backups go here (respond_quarantine.h) */
	const char *root;      /* prefix for every path ("" normally; a test directory in tests) */
	bool use_systemctl; /* stop, disable and reload units through systemctl when systemd runs */
};

/* args: {"type": "cron"|"systemd"|"authorized_keys"|"ld_preload"|"shell_rc", "path": "/abs",
 * "line": "exact line" | "match": "substring" (neither: the whole file goes)}; for systemd
 * "unit": "name.service" may replace path. *result {"type", "path", "removed": [lines],
 * "backup_id", "whole_file"}, plus "systemctl" for units. 0 or a negative errno with
 * {"error"}; the caller owns *result. */
int respond_persist_remove(const struct respond_persist_opts *o, json_t *args, json_t **result);

#endif
