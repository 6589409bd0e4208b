#include "sensitive.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "banned.h"

enum sensitive_match {
	MATCH_EXACT, /* the path itself */
	MATCH_TREE,  /* the directory itself or anything below it */
	MATCH_STEM,  /* the prefix plus at least one more name byte: "/etc/cron." covers cron.d */
};

struct sensitive_rule {
	const char *path;
	enum sensitive_match match;
	const char *class;
};

/* Absolute paths. Beyond the obvious ones: RHEL spells the global bashrc /etc/bashrc and keeps
 * rc.local under /etc/rc.d; modprobe.d "install" lines run commands at module load. */
static const struct sensitive_rule system_rules[] = {
    {"/etc/crontab", MATCH_EXACT, "cron"},
    {"/etc/anacrontab", MATCH_EXACT, "cron"},
    {"/etc/cron.", MATCH_STEM, "cron"},
    {"/var/spool/cron", MATCH_TREE, "cron"},
    {"/etc/systemd/system", MATCH_TREE, "systemd"},
    {"/etc/systemd/user", MATCH_TREE, "systemd"},
    {"/usr/lib/systemd/system", MATCH_TREE, "systemd"},
    {"/usr/lib/systemd/user", MATCH_TREE, "systemd"},
    {"/usr/local/lib/systemd/system", MATCH_TREE, "systemd"},
    {"/lib/systemd/system", MATCH_TREE, "systemd"},
    {"/lib/systemd/user", MATCH_TREE, "systemd"},
    {"/run/systemd/system", MATCH_TREE, "systemd"},
    {"/etc/ld.so.preload", MATCH_EXACT, "ld_preload"},
    {"/etc/sudoers", MATCH_EXACT, "sudoers"},
    {"/etc/sudoers.d", MATCH_TREE, "sudoers"},
    {"/etc/profile", MATCH_EXACT, "shell_profile"},
    {"/etc/profile.d", MATCH_TREE, "shell_profile"},
    {"/etc/bash.bashrc", MATCH_EXACT, "shell_profile"},
    {"/etc/bashrc", MATCH_EXACT, "shell_profile"},
    {"/etc/zsh", MATCH_TREE, "shell_profile"},
    {"/etc/zshrc", MATCH_EXACT, "shell_profile"},
    {"/etc/zprofile", MATCH_EXACT, "shell_profile"},
    {"/etc/zshenv", MATCH_EXACT, "shell_profile"},
    {"/etc/zlogin", MATCH_EXACT, "shell_profile"},
    {"/etc/passwd", MATCH_EXACT, "account_db"},
    {"/etc/shadow", MATCH_EXACT, "account_db"},
    {"/etc/group", MATCH_EXACT, "account_db"},
    {"/etc/gshadow", MATCH_EXACT, "account_db"},
    {"/etc/pam.d", MATCH_TREE, "pam"},
    {"/etc/rc.local", MATCH_EXACT, "init"},
    {"/etc/rc.d", MATCH_TREE, "init"},
    {"/etc/init.d", MATCH_TREE, "init"},
    {"/etc/modules", MATCH_EXACT, "kernel_modules"},
    {"/etc/modules-load.d", MATCH_TREE, "kernel_modules"},
    {"/usr/lib/modules-load.d", MATCH_TREE, "kernel_modules"},
    {"/etc/modprobe.d", MATCH_TREE, "kernel_modules"},
};

/* Relative to a home directory (/root or /home/<user>), starting with '/'. */
static const struct sensitive_rule home_rules[] = {
    {"/.bashrc", MATCH_EXACT, "shell_profile"},
    {"/.bash_profile", MATCH_EXACT, "shell_profile"},
    {"/.bash_login", MATCH_EXACT, "shell_profile"},
    {"/.bash_logout", MATCH_EXACT, "shell_profile"},
    {"/.profile", MATCH_EXACT, "shell_profile"},
    {"/.zshrc", MATCH_EXACT, "shell_profile"},
    {"/.zprofile", MATCH_EXACT, "shell_profile"},
    {"/.zshenv", MATCH_EXACT, "shell_profile"},
    {"/.zlogin", MATCH_EXACT, "shell_profile"},
    {"/.config/systemd/user", MATCH_TREE, "systemd"},
};

static bool rule_matches(const struct sensitive_rule *r, const char *path)
{
	size_t n = strlen(r->path);

	if (strncmp(path, r->path, n) != 0)
		return false;
	switch (r->match) {
	case MATCH_EXACT:
		return path[n] == '\0';
	case MATCH_TREE:
		return path[n] == '\0' || path[n] == '/';
	case MATCH_STEM:
		return path[n] != '\0' && path[n] != '/';
	}
	return false;
}

static const char *match_table(const struct sensitive_rule *rules, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		if (rule_matches(&rules[i], path))
			return rules[i].class;
	}
	return NULL;
}

/* The part of path after "/root" or "/home/<user>", or NULL when path is not below a home. */
static const char *home_rest(const char *path)
{
	const char *user;
	const char *slash;

	if (strncmp(path, "/root/", 6) == 0)
		return path + 5;
	if (strncmp(path, "/home/", 6) != 0)
		return NULL;
	user = path + 6;
	slash = strchr(user, '/');
	if (!slash || slash == user)
		return NULL;
	return slash;
}

/* authorized_keys[2] directly inside any .ssh directory, wherever the home is. */
static bool is_authorized_keys(const char *path)
{
	const char *base = strrchr(path, '/');

	if (!base)
		return false;
	if (strcmp(base, "/authorized_keys") != 0 && strcmp(base, "/authorized_keys2") != 0)
		return false;
	return base - path >= 5 && strncmp(base - 5, "/.ssh", 5) == 0;
}

const char *sensitive_path_class(const char *path)
{
	const char *rest;

	if (!path || path[0] != '/')
		return NULL;
	if (is_authorized_keys(path))
		return "ssh_authorized_keys";
	rest = home_rest(path);
	if (rest)
		return match_table(home_rules, sizeof(home_rules) / sizeof(home_rules[0]), rest);
	return match_table(system_rules, sizeof(system_rules) / sizeof(system_rules[0]), path);
}
