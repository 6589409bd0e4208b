#include "respond_persist.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dynbuf.h"
#include "log.h"
#include "respond_quarantine.h"

#include "banned.h"

#define SYSTEMCTL_TIMEOUT_MS 30000
#define MAX_REMOVED 1000

extern char **environ;

/* Where each type of persistence lives. whole: a file of its own (a cron.d entry, a unit, a
 * profile.d script) that may go whole; the others (/etc/profile, a crontab, authorized_keys)
 * only lose the named lines. */
struct place {
	const char *pattern; /* fnmatch with FNM_PATHNAME: '*' stays within one component */
	bool whole;
};

static const struct place cron_places[] = {
    {"/etc/crontab", false},	   {"/etc/anacrontab", false},
    {"/etc/cron.d/*", true},	   {"/etc/cron.hourly/*", true},
    {"/etc/cron.daily/*", true},   {"/etc/cron.weekly/*", true},
    {"/etc/cron.monthly/*", true}, {"/var/spool/cron/crontabs/*", false},
    {"/var/spool/cron/*", false},  {NULL, false},
};

static const struct place systemd_places[] = {
    {"/etc/systemd/system/*", true},
    {"/etc/systemd/system/*.d/*.conf", true},
    {"/run/systemd/system/*", true},
    {"/usr/lib/systemd/system/*", true},
    {"/lib/systemd/system/*", true},
    {"/etc/systemd/user/*", true},
    {"/root/.config/systemd/user/*", true},
    {"/home/*/.config/systemd/user/*", true},
    {NULL, false},
};

static const struct place keys_places[] = {
    {"/root/.ssh/authorized_keys", false},
    {"/root/.ssh/authorized_keys2", false},
    {"/home/*/.ssh/authorized_keys", false},
    {"/home/*/.ssh/authorized_keys2", false},
    {NULL, false},
};

static const struct place preload_places[] = {{"/etc/ld.so.preload", true}, {NULL, false}};

static const struct place rc_places[] = {
    {"/etc/profile", false},
    {"/etc/profile.d/*", true},
    {"/etc/bash.bashrc", false},
    {"/etc/bashrc", false},
    {"/etc/environment", false},
    {"/etc/zsh/*", false},
    {"/root/.bashrc", false},
    {"/root/.profile", false},
    {"/root/.bash_profile", false},
    {"/root/.bash_login", false},
    {"/root/.bash_logout", false},
    {"/root/.zshrc", false},
    {"/root/.zprofile", false},
    {"/home/*/.bashrc", false},
    {"/home/*/.profile", false},
    {"/home/*/.bash_profile", false},
    {"/home/*/.bash_login", false},
    {"/home/*/.bash_logout", false},
    {"/home/*/.zshrc", false},
    {"/home/*/.zprofile", false},
    {NULL, false},
};

static const struct {
	const char *type;
	const struct place *places;
} types[] = {
    {"cron", cron_places},	    {"systemd", systemd_places}, {"authorized_keys", keys_places},
    {"ld_preload", preload_places}, {"shell_rc", rc_places},
};

/* {"error": a b}. */
static int fail(json_t **result, int rc, const char *a, const char *b)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "%s%s", a, b ? b : "");
	*result = json_pack("{s:s}", "error", msg);
	return rc;
}

/* Absolute, and no "." or ".." component nor "//": what the patterns see is where it leads. */
static bool clean_path(const char *p)
{
	if (!p || p[0] != '/' || strlen(p) >= 4096 || strstr(p, "//"))
		return false;
	for (const char *c = p; (c = strchr(c, '/')); c++)
		if ((c[1] == '.' && (c[2] == '/' || !c[2])) ||
		    (c[1] == '.' && c[2] == '.' && (c[3] == '/' || !c[3])))
			return false;
	return true;
}

static const struct place *place_of(const struct place *places, const char *path)
{
	for (; places->pattern; places++)
		if (fnmatch(places->pattern, path, FNM_PATHNAME | FNM_PERIOD) == 0)
			return places;
	return NULL;
}

static bool unit_name_ok(const char *u)
{
	size_t n = u ? strlen(u) : 0;
	const char *dot = u ? strrchr(u, '.') : NULL;

	if (!n || n > 200 || !dot ||
	    strspn(u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@._-:\\") != n)
		return false;
	return !strcmp(dot, ".service") || !strcmp(dot, ".timer") || !strcmp(dot, ".socket") ||
	       !strcmp(dot, ".path") || !strcmp(dot, ".mount");
}

/* systemctl ARGS... with a time limit; its exit status, or a negative errno. */
static int systemctl(const char *a1, const char *a2, const char *a3)
{
	char *argv[] = {"systemctl", (char *)a1, (char *)a2, (char *)a3, NULL};
	struct timespec nap = {0, 20 * 1000000};
	posix_spawn_file_actions_t fa;
	int status, rc, waited = 0;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, "systemctl", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		return -rc;
	while ((rc = (int)waitpid(pid, &status, WNOHANG)) == 0 && waited < SYSTEMCTL_TIMEOUT_MS) {
		nanosleep(&nap, NULL);
		waited += 20;
	}
	if (rc == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -ETIMEDOUT;
	}
	return rc < 0 ? -errno : (WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR);
}

/* The file without the lines that match: exactly (trailing blanks aside) or containing match. */
static int filter(const char *text, size_t len, const char *line, const char *match,
		  struct dynbuf *out, json_t *removed)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p), m = n;
		bool hit;

		while (m && (p[m - 1] == ' ' || p[m - 1] == '\t' || p[m - 1] == '\r'))
			m--;
		hit = line ? (strlen(line) == m && !memcmp(p, line, m))
			   : (memmem(p, n, match, strlen(match)) != NULL);
		if (hit) {
			if (json_array_size(removed) >= MAX_REMOVED)
				return -E2BIG;
			json_array_append_new(removed, json_stringn_nocheck(p, m));
		} else if (dynbuf_add(out, p, n + (nl ? 1 : 0))) {
			return -ENOMEM;
		}
		p += n + (nl ? 1 : 0);
	}
	return 0;
}

/* Reads path (no symlink as last component, a regular file of at most the cap). */
static int read_file(const char *path, struct dynbuf *b, struct stat *st)
{
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
		rc = S_ISREG(st->st_mode) ? -errno : -EINVAL;
		goto out;
	}
	if ((uint64_t)st->st_size > RESPOND_PERSIST_MAX_FILE) {
		rc = -EFBIG;
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (dynbuf_add(b, buf, (size_t)n)) {
			rc = -EFBIG;
			goto out;
		}
	if (n < 0)
		rc = -errno;
out:
	close(fd);
	return rc;
}

/* Writes the edited file where the original was (now in the vault): same owner and mode. */
static int write_back(const char *path, const struct dynbuf *b, const struct stat *st)
{
	char tmp[8400];
	int fd, rc = 0;
	size_t off = 0;

	snprintf(tmp, sizeof(tmp), "%s.mamori-edit-%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (off < b->len && !rc) {
		ssize_t n = write(fd, b->data + off, b->len - off);

		if (n < 0 && errno != EINTR)
			rc = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	/* chown first: it clears set-id bits that chmod then sets again. */
	if (!rc &&
	    (fchown(fd, st->st_uid, st->st_gid) || fchmod(fd, st->st_mode & 07777) || fsync(fd)))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int respond_persist_remove(const struct respond_persist_opts *o, json_t *args, json_t **result)
{
	const char *type = str(args, "type"), *path = str(args, "path"), *line = str(args, "line");
	const char *match = str(args, "match"), *unit = str(args, "unit"), *sysctl = NULL;
	const struct place *places = NULL, *pl;
	char unit_path[4096], full[8192], backup[33] = "";
	json_t *removed = json_array(), *q = NULL;
	struct dynbuf text, edited;
	struct stat st;
	int rc;

	*result = NULL;
	dynbuf_init(&text, RESPOND_PERSIST_MAX_FILE + 1);
	dynbuf_init(&edited, RESPOND_PERSIST_MAX_FILE + 1);
	for (size_t i = 0; type && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(type, types[i].type))
			places = types[i].places;
	if (!places) {
		rc = fail(result, -EINVAL,
			  "type: cron, systemd, authorized_keys, ld_preload or shell_rc", NULL);
		goto out;
	}
	if (line && match) {
		rc = fail(result, -EINVAL, "give line or match, not both", NULL);
		goto out;
	}
	if ((line && (!*line || strchr(line, '\n'))) ||
	    (match && (!*match || strchr(match, '\n')))) {
		rc = fail(result, -EINVAL, "line and match are one non-empty line", NULL);
		goto out;
	}
	if (!strcmp(type, "systemd") && !path && unit) {
		if (!unit_name_ok(unit)) {
			rc = fail(result, -EINVAL, "unit: not a unit name: ", unit);
			goto out;
		}
		snprintf(unit_path, sizeof(unit_path), "/etc/systemd/system/%s", unit);
		path = unit_path;
	}
	if (!clean_path(path)) {
		rc = fail(result, -EINVAL, "path: an absolute path without . or .. components",
			  NULL);
		goto out;
	}
	pl = place_of(places, path);
	if (!pl) {
		rc = fail(result, -EPERM, path,
			  " is not a place where this type of persistence lives");
		goto out;
	}
	if (!line && !match && !pl->whole) {
		rc = fail(result, -EINVAL, path,
			  " is shared: name the line (line or match) to remove");
		goto out;
	}
	snprintf(full, sizeof(full), "%s%s", o->root ? o->root : "", path);
	rc = read_file(full, &text, &st);
	if (rc) {
		rc = fail(result, rc,
			  rc == -EFBIG	  ? "file larger than 1 MiB"
			  : rc == -ELOOP  ? "a symlink"
			  : rc == -EINVAL ? "not a regular file"
					  : strerror(-rc),
			  NULL);
		goto out;
	}
	if (line || match) {
		rc = filter(text.data ? text.data : "", text.len, line, match, &edited, removed);
		if (rc) {
			rc = fail(result, rc, "too many matching lines", NULL);
			goto out;
		}
		if (!json_array_size(removed)) {
			rc = fail(result, -ENOENT, "no such line in ", path);
			goto out;
		}
	}
	/* A unit is stopped and disabled before its file goes, while systemd still knows it. */
	if (!strcmp(type, "systemd") && o->use_systemctl &&
	    access("/run/systemd/system", F_OK) == 0) {
		const char *name = strrchr(path, '/') + 1;
		int s = systemctl("disable", "--now", name);

		sysctl = s == 0 ? "stopped and disabled" : "disable failed (it may not be loaded)";
	} else if (!strcmp(type, "systemd")) {
		sysctl = "systemd is not running: nothing to stop";
	}
	/* The backup: the file as it was, into the vault. */
	rc = respond_quarantine(o->vault_dir, full, &q);
	if (rc) {
		rc = fail(result, rc, "backup failed, nothing removed: ", str(q, "error"));
		goto out;
	}
	snprintf(backup, sizeof(backup), "%s", str(q, "id") ? str(q, "id") : "");
	if (line || match) {
		rc = write_back(str(q, "path") ? str(q, "path") : full, &edited, &st);
		if (rc) {
			json_t *r = NULL;
			char why[200];

			snprintf(why, sizeof(why), "%s", strerror(-rc));
			/* Put the original back: better the persistence than a lost file. */
			if (respond_restore(o->vault_dir, backup, true, &r))
				log_error("persist",
					  "rewrite failed and restore failed path=%s id=%s", path,
					  backup);
			json_decref(r);
			rc = fail(result, rc,
				  "cannot write the edited file, original restored: ", why);
			goto out;
		}
	}
	if (sysctl && !strcmp(sysctl, "stopped and disabled"))
		systemctl("daemon-reload", NULL, NULL);
	*result = json_pack("{s:s,s:s,s:O,s:s,s:b}", "type", type, "path", path, "removed", removed,
			    "backup_id", backup, "whole_file", !line && !match);
	if (*result && sysctl)
		json_object_set_new(*result, "systemctl", json_string(sysctl));
	log_info("persist", "removed type=%s path=%s lines=%zu backup=%s", type, path,
		 json_array_size(removed), backup);
	rc = 0;
out:
	json_decref(q);
	json_decref(removed);
	dynbuf_release(&text);
	dynbuf_release(&edited);
	return rc;
}
