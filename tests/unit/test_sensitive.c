/* sensitive_path_class: every class with positives and the near misses that must stay quiet. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "sensitive.h"

struct expect {
	const char *path;
	const char *class; /* NULL: not sensitive */
};

static void check(const struct expect *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *got = sensitive_path_class(cases[i].path);

		if (!cases[i].class) {
			if (got)
				fail_msg("%s: expected not sensitive, got %s", cases[i].path, got);
			continue;
		}
		if (!got || strcmp(got, cases[i].class) != 0)
			fail_msg("%s: expected %s, got %s", cases[i].path, cases[i].class,
				 got ? got : "NULL");
	}
}

#define CHECK(cases) check(cases, sizeof(cases) / sizeof(cases[0]))

static void test_cron(void **state)
{
	static const struct expect cases[] = {
	    {"/etc/crontab", "cron"},	    {"/etc/cron.d", "cron"},
	    {"/etc/cron.d/evil", "cron"},   {"/etc/cron.daily/logrotate", "cron"},
	    {"/etc/cron.hourly/x", "cron"}, {"/etc/cron.allow", "cron"},
	    {"/var/spool/cron", "cron"},    {"/var/spool/cron/crontabs/root", "cron"},
	    {"/etc/anacrontab", "cron"},    {"/etc/crontab-", NULL},
	    {"/etc/crontab.bak", NULL},	    {"/etc/cron", NULL},
	    {"/etc/cron.", NULL},	    {"/etc/cron./x", NULL},
	    {"/etc/cronx/y", NULL},	    {"/var/spool/cronx", NULL},
	    {"/var/spool/cups/x", NULL},    {"/tmp/etc/crontab", NULL},
	};
	(void)state;
	CHECK(cases);
}

static void test_systemd(void **state)
{
	static const struct expect cases[] = {
	    {"/etc/systemd/system", "systemd"},
	    {"/etc/systemd/system/evil.service", "systemd"},
	    {"/etc/systemd/system/multi-user.target.wants/evil.service", "systemd"},
	    {"/usr/lib/systemd/system/ssh.service", "systemd"},
	    {"/lib/systemd/system/ssh.service", "systemd"},
	    {"/run/systemd/system/x.service", "systemd"},
	    {"/etc/systemd/user/x.service", "systemd"},
	    {"/root/.config/systemd/user/x.service", "systemd"},
	    {"/home/alice/.config/systemd/user/x.timer", "systemd"},
	    {"/home/alice/.config/systemd/user", "systemd"},
	    {"/etc/systemd/system.conf", NULL},
	    {"/etc/systemd/systemx/a", NULL},
	    {"/etc/systemd/journald.conf", NULL},
	    {"/usr/lib/systemd/systemd-logind", NULL},
	    {"/home/alice/.config/systemd/userx/a", NULL},
	    {"/home/alice/x/.config/systemd/user/a", NULL},
	    {"/home/.config/systemd/user/a", NULL},
	    {"/tmp/.config/systemd/user/a", NULL},
	};
	(void)state;
	CHECK(cases);
}

static void test_ld_preload(void **state)
{
	static const struct expect cases[] = {
	    {"/etc/ld.so.preload", "ld_preload"}, {"/etc/ld.so.preload.bak", NULL},
	    {"/etc/ld.so.preloadx", NULL},	  {"/etc/ld.so.conf", NULL},
	    {"/etc/ld.so.cache", NULL},
	};
	(void)state;
	CHECK(cases);
}

static void test_sudoers(void **state)
{
	static const struct expect cases[] = {
	    {"/etc/sudoers", "sudoers"},
	    {"/etc/sudoers.d", "sudoers"},
	    {"/etc/sudoers.d/90-evil", "sudoers"},
	    {"/etc/sudoers.tmp", NULL},
	    {"/etc/sudoers-", NULL},
	    {"/etc/sudoers.dx/a", NULL},
	    {"/etc/sudo.conf", NULL},
	};
	(void)state;
	CHECK(cases);
}

static void test_ssh(void **state)
{
	static const struct expect cases[] = {
	    {"/root/.ssh/authorized_keys", "ssh_authorized_keys"},
	    {"/home/alice/.ssh/authorized_keys", "ssh_authorized_keys"},
	    {"/home/alice/.ssh/authorized_keys2", "ssh_authorized_keys"},
	    {"/var/lib/git/.ssh/authorized_keys", "ssh_authorized_keys"},
	    {"/.ssh/authorized_keys", "ssh_authorized_keys"},
	    {"/home/alice/authorized_keys", NULL},
	    {"/home/alice/.ssh/authorized_keys.bak", NULL},
	    {"/home/alice/.ssh/authorized_keys3", NULL},
	    {"/home/alice/.ssh/known_hosts", NULL},
	    {"/home/alice/x.ssh/authorized_keys", NULL},
	    {"/home/alice/.ssh/sub/authorized_keys", NULL},
	    {"authorized_keys", NULL},
	};
	(void)state;
	CHECK(cases);
}

static void test_shell_profile(void **state)
{
	static const struct expect cases[] = {
	    {"/etc/profile", "shell_profile"},
	    {"/etc/profile.d", "shell_profile"},
	    {"/etc/profile.d/evil.sh", "shell_profile"},
	    {"/etc/bash.bashrc", "shell_profile"},
	    {"/etc/zsh/zshrc", "shell_profile"},
	    {"/root/.bashrc", "shell_profile"},
	    {"/root/.profile", "shell_profile"},
	    {"/home/alice/.bashrc", "shell_profile"},
	    {"/home/alice/.bash_profile", "shell_profile"},
	    {"/home/alice/.bash_login", "shell_profile"},
	    {"/home/alice/.bash_logout", "shell_profile"},
	    {"/home/alice/.zshrc", "shell_profile"},
	    {"/etc/profilex", NULL},
	    {"/etc/profile.dx/a", NULL},
	    {"/etc/zshx", NULL},
	    {"/root/.bashrc.bak", NULL},
	    {"/root/.bashrc/x", NULL},
	    {"/root/x/.bashrc", NULL},
	    {"/home/alice/project/.bashrc", NULL},
	    {"/home/.bashrc", NULL},
	    {"/home//.bashrc", NULL},
	    {"/tmp/.bashrc", NULL},
	    {"/rootx/.bashrc", NULL},
	    {"/root", NULL},
	};
	(void)state;
	CHECK(cases);
}

static void test_account_db(void **state)
{
	static const struct expect cases[] = {
	    {"/etc/passwd", "account_db"}, {"/etc/shadow", "account_db"},
	    {"/etc/group", "account_db"},  {"/etc/gshadow", "account_db"},
	    {"/etc/passwd-", NULL},	   {"/etc/passwdX", NULL},
	    {"/etc/passwd+", NULL},	   {"/etc/shadow-", NULL},
	    {"/etc/group-", NULL},	   {"/etc/gshadow.lock", NULL},
	    {"/etc/passwd/x", NULL},	   {"/tmp/etc/passwd", NULL},
	    {"/etc/groups", NULL},
	};
	(void)state;
	CHECK(cases);
}

static void test_pam(void **state)
{
	static const struct expect cases[] = {
	    {"/etc/pam.d", "pam"},   {"/etc/pam.d/sshd", "pam"}, {"/etc/pam.d/common-auth", "pam"},
	    {"/etc/pam.dx/a", NULL}, {"/etc/pam", NULL},	 {"/usr/etc/pam.d.bak", NULL},
	};
	(void)state;
	CHECK(cases);
}

static void test_init(void **state)
{
	static const struct expect cases[] = {
	    {"/etc/rc.local", "init"},	  {"/etc/init.d", "init"},
	    {"/etc/init.d/evil", "init"}, {"/etc/rc.d/rc.local", "init"},
	    {"/etc/rc.local.bak", NULL},  {"/etc/init.dx", NULL},
	    {"/etc/init", NULL},	  {"/etc/initramfs-tools/modules", NULL},
	};
	(void)state;
	CHECK(cases);
}

static void test_kernel_modules(void **state)
{
	static const struct expect cases[] = {
	    {"/etc/modules", "kernel_modules"},
	    {"/etc/modules-load.d", "kernel_modules"},
	    {"/etc/modules-load.d/evil.conf", "kernel_modules"},
	    {"/etc/modprobe.d/evil.conf", "kernel_modules"},
	    {"/etc/modules.bak", NULL},
	    {"/etc/modules-load.dx/a", NULL},
	    {"/etc/modulesx", NULL},
	    {"/lib/modules/6.1.0/kernel/x.ko", NULL},
	};
	(void)state;
	CHECK(cases);
}

static void test_not_sensitive(void **state)
{
	static const struct expect cases[] = {
	    {"", NULL},
	    {"/", NULL},
	    {"/etc", NULL},
	    {"/etc/hosts", NULL},
	    {"etc/passwd", NULL},
	    {"/tmp/x", NULL},
	    {"/home/alice/Documents/passwd", NULL},
	};
	(void)state;
	CHECK(cases);
	assert_null(sensitive_path_class(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cron),	  cmocka_unit_test(test_systemd),
	    cmocka_unit_test(test_ld_preload),	  cmocka_unit_test(test_sudoers),
	    cmocka_unit_test(test_ssh),		  cmocka_unit_test(test_shell_profile),
	    cmocka_unit_test(test_account_db),	  cmocka_unit_test(test_pam),
	    cmocka_unit_test(test_init),	  cmocka_unit_test(test_kernel_modules),
	    cmocka_unit_test(test_not_sensitive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
