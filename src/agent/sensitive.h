/* Classifies file paths that attackers touch to persist or escalate (cron, systemd units, sudoers,
 * authorized_keys, shell profiles, ...), so the agent can tag file events ["sensitive", class]
 * without a rule engine. Exact byte comparison: callers pass canonical absolute paths. */
#ifndef MAMORI_SENSITIVE_H
#define MAMORI_SENSITIVE_H

/* The class of path ("cron", "systemd", "ld_preload", "sudoers", "ssh_authorized_keys",
 * "shell_profile", "account_db", "pam", "init", "kernel_modules"), or NULL when not sensitive.
 * The result is a static string. Pure: no allocation, no I/O. */
const char *sensitive_path_class(const char *path);

#endif
