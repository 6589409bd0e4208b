/* Host inventory: exact values from the fixture roots in tests/data/inventory/ (basic, malformed,
 * minimal), the bounded parsers on hostile buffers, and files with huge lines. */
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

#include "inventory.h"

#ifndef MAMORI_TEST_DATA
#define MAMORI_TEST_DATA "tests/data"
#endif

static json_t *collect_root(const char *root)
{
	static const char *const sources[] = {"ebpf", "inventory"};
	struct inventory_opts o = {
	    .root = root, .host_name = "test-host", .sources = sources, .nsources = 2};
	json_t *doc = inventory_collect(&o);

	assert_non_null(doc);
	return doc;
}

static json_t *collect_fixture(const char *name)
{
	char root[4096];

	(void)snprintf(root, sizeof(root), "%s/inventory/%s", MAMORI_TEST_DATA, name);
	return collect_root(root);
}

static json_t *inv(json_t *doc, const char *key)
{
	json_t *v =
	    json_object_get(json_object_get(json_object_get(doc, "mamori"), "inventory"), key);

	assert_non_null(v);
	return v;
}

static const char *str_at(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static json_t *find_by(json_t *arr, const char *key, const char *val)
{
	json_t *o;
	size_t i;

	json_array_foreach(arr, i, o)
	{
		const char *s = str_at(o, key);

		if (s && strcmp(s, val) == 0)
			return o;
	}
	return NULL;
}

static void assert_listen(json_t *o, const char *transport, const char *ip, int port, int pid,
			  const char *process)
{
	assert_non_null(o);
	assert_string_equal(str_at(o, "transport"), transport);
	assert_string_equal(str_at(o, "ip"), ip);
	assert_int_equal(json_integer_value(json_object_get(o, "port")), port);
	if (pid) {
		assert_int_equal(json_integer_value(json_object_get(o, "pid")), pid);
		assert_string_equal(str_at(o, "process"), process);
	} else {
		assert_null(json_object_get(o, "pid"));
		assert_null(json_object_get(o, "process"));
	}
}

static void test_basic_host(void **state)
{
	json_t *doc = collect_fixture("basic"), *host, *os, *ev;

	(void)state;
	ev = json_object_get(doc, "event");
	assert_string_equal(str_at(ev, "kind"), "state");
	assert_string_equal(str_at(ev, "action"), "inventory");
	assert_string_equal(str_at(ev, "dataset"), "mamori.inventory");
	assert_string_equal(json_string_value(json_array_get(json_object_get(ev, "category"), 0)),
			    "host");
	assert_int_equal(strlen(str_at(doc, "@timestamp")), 30);

	host = json_object_get(doc, "host");
	assert_string_equal(str_at(host, "name"), "test-host");
	assert_non_null(str_at(host, "hostname"));
	assert_non_null(str_at(host, "architecture"));
	assert_string_equal(str_at(host, "id"), "0123456789abcdef0123456789abcdef");
	assert_string_equal(str_at(json_object_get(host, "boot"), "id"),
			    "01234567-89ab-cdef-0123-456789abcdef");
	assert_int_equal(json_integer_value(json_object_get(host, "uptime")), 12345);
	assert_true(json_is_array(json_object_get(host, "ip")));
	assert_true(json_is_array(json_object_get(host, "mac")));

	os = json_object_get(host, "os");
	assert_string_equal(str_at(os, "type"), "linux");
	assert_string_equal(str_at(os, "name"), "Debian GNU/Linux");
	assert_string_equal(str_at(os, "version"), "12");
	assert_string_equal(str_at(os, "full"), "Debian GNU/Linux 12 (bookworm)");
	assert_string_equal(str_at(os, "platform"), "debian");
	assert_string_equal(str_at(os, "family"), "debian");
	assert_non_null(str_at(os, "kernel"));

	assert_int_equal(json_array_size(inv(doc, "sources")), 2);
	assert_string_equal(json_string_value(json_array_get(inv(doc, "sources"), 1)), "inventory");
	assert_true(json_is_array(inv(doc, "interfaces")));
	json_decref(doc);
}

static void test_basic_users(void **state)
{
	json_t *doc = collect_fixture("basic"), *users = inv(doc, "users"), *u;

	(void)state;
	assert_int_equal(json_array_size(users), 6); /* the +nisusers line is not an account */
	u = find_by(users, "name", "alice");
	assert_non_null(u);
	assert_string_equal(str_at(u, "id"), "1000");
	assert_string_equal(str_at(u, "group_id"), "1000");
	assert_string_equal(str_at(u, "home"), "/home/alice");
	assert_string_equal(str_at(u, "shell"), "/usr/bin/zsh");
	assert_true(json_is_true(json_object_get(u, "login")));
	assert_true(json_is_false(json_object_get(find_by(users, "name", "daemon"), "login")));
	assert_true(json_is_false(json_object_get(find_by(users, "name", "svc"), "login")));
	assert_true(json_is_true(json_object_get(find_by(users, "name", "sync"), "login")));
	u = find_by(users, "name", "plain");
	assert_string_equal(str_at(u, "shell"), "");
	assert_true(json_is_true(json_object_get(u, "login")));
	assert_null(find_by(users, "name", "+nisusers"));
	json_decref(doc);
}

static void test_basic_packages(void **state)
{
	json_t *doc = collect_fixture("basic"), *pkgs = inv(doc, "packages"), *p;

	(void)state;
	assert_int_equal(json_integer_value(inv(doc, "packages_count")), 4);
	assert_int_equal(json_array_size(pkgs), 4);
	p = find_by(pkgs, "name", "bash");
	assert_non_null(p);
	assert_string_equal(str_at(p, "version"), "5.2.15-2+b2");
	assert_string_equal(str_at(p, "architecture"), "amd64");
	assert_string_equal(str_at(find_by(pkgs, "name", "openssh-server"), "version"),
			    "1:9.2p1-2+deb12u3");
	assert_string_equal(str_at(find_by(pkgs, "name", "libc6"), "architecture"), "i386");
	/* Field names are case-insensitive. */
	assert_string_equal(str_at(find_by(pkgs, "name", "tzdata"), "version"), "2024a-0+deb12u1");
	assert_null(find_by(pkgs, "name", "oldpkg"));
	assert_null(find_by(pkgs, "name", "removed"));
	assert_null(find_by(pkgs, "name", "halfpkg"));
	assert_null(find_by(pkgs, "name", "fake-continuation-line"));
	json_decref(doc);
}

static void test_basic_listening(void **state)
{
	json_t *doc, *l;

	(void)state;
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	skip(); /* /proc/net fixtures hold little-endian address words */
#endif
	doc = collect_fixture("basic");
	l = inv(doc, "listening");
	/* Sorted by transport, family, address, port; SO_REUSEPORT duplicates collapse into the
	 * one whose process is known; ESTABLISHED, connected UDP and port 0 are left out. */
	assert_int_equal(json_array_size(l), 7);
	assert_listen(json_array_get(l, 0), "tcp", "0.0.0.0", 22, 1234, "sshd");
	assert_listen(json_array_get(l, 1), "tcp", "0.0.0.0", 80, 999, "nginx");
	assert_listen(json_array_get(l, 2), "tcp", "127.0.0.1", 3306, 0, NULL);
	assert_listen(json_array_get(l, 3), "tcp", "::", 22, 1234, "sshd");
	assert_listen(json_array_get(l, 4), "tcp", "::1", 8080, 0, NULL);
	assert_listen(json_array_get(l, 5), "udp", "0.0.0.0", 68, 0, NULL);
	assert_listen(json_array_get(l, 6), "udp", "127.0.0.53", 53, 0, NULL);
	json_decref(doc);
}

static void test_malformed_fixture(void **state)
{
	json_t *doc = collect_fixture("malformed"), *host, *os, *users, *pkgs, *l;
	char *dump;

	(void)state;
	host = json_object_get(doc, "host");
	assert_null(json_object_get(host, "id"));     /* machine-id too long */
	assert_null(json_object_get(host, "boot"));   /* boot_id with junk */
	assert_null(json_object_get(host, "uptime")); /* not a number */
	os = json_object_get(host, "os");
	assert_null(json_object_get(os, "name")); /* unterminated, then over the cap */
	assert_null(json_object_get(os, "full")); /* invalid UTF-8 */
	assert_string_equal(str_at(os, "version"), "7");
	assert_string_equal(str_at(os, "platform"), "weird");
	assert_string_equal(str_at(os, "family"), "rhel");
	assert_string_equal(str_at(os, "type"), "linux");

	users = inv(doc, "users");
	assert_int_equal(json_array_size(users), 3);
	assert_string_equal(str_at(find_by(users, "name", "bob"), "shell"), "/bin/bash");
	assert_string_equal(str_at(find_by(users, "name", "carol"), "shell"), "");
	assert_non_null(find_by(users, "name", "root"));

	pkgs = inv(doc, "packages");
	assert_int_equal(json_integer_value(inv(doc, "packages_count")), 2);
	assert_string_equal(str_at(find_by(pkgs, "name", "good"), "version"), "1.0-1");
	assert_non_null(find_by(pkgs, "name", "junkversion"));
	assert_null(json_object_get(find_by(pkgs, "name", "junkversion"), "version"));
	assert_null(find_by(pkgs, "name", "trunc"));

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	l = inv(doc, "listening");
	assert_int_equal(json_array_size(l), 2);
	assert_listen(json_array_get(l, 0), "tcp", "0.0.0.0", 24, 0, NULL);
	assert_listen(json_array_get(l, 1), "tcp", "0.0.0.0", 8080, 0, NULL);
#else
	(void)l;
#endif
	dump = json_dumps(doc, JSON_COMPACT); /* still serializable */
	assert_non_null(dump);
	free(dump);
	json_decref(doc);
}

static void test_minimal_and_missing_root(void **state)
{
	json_t *doc = collect_fixture("minimal"), *os;

	(void)state;
	os = json_object_get(json_object_get(doc, "host"), "os");
	assert_string_equal(str_at(os, "name"), "Alpine Linux"); /* /usr/lib fallback */
	assert_string_equal(str_at(os, "version"), "3.20.1");
	assert_string_equal(str_at(os, "family"), "alpine");
	assert_int_equal(json_array_size(inv(doc, "users")), 0);
	assert_int_equal(json_array_size(inv(doc, "packages")), 0);
	assert_int_equal(json_integer_value(inv(doc, "packages_count")), 0);
	assert_int_equal(json_array_size(inv(doc, "listening")), 0);
	json_decref(doc);

	doc = collect_root("/nonexistent/mamori/root");
	os = json_object_get(json_object_get(doc, "host"), "os");
	assert_string_equal(str_at(os, "type"), "linux");
	assert_null(json_object_get(os, "name"));
	assert_int_equal(json_integer_value(inv(doc, "packages_count")), 0);
	json_decref(doc);
}

static void test_os_release_quoting(void **state)
{
	static const char rel[] = "NAME=\"a \\\"quoted\\\" \\$x \\\\ \\n\"\n"
				  "  PRETTY_NAME='single \\ literal'  \n"
				  "VERSION_ID=22.04\r\n"
				  "ID=linuxmint\n"
				  "ID_LIKE=\"ubuntu debian\"\n";
	static const char like[] = "ID=x\nID_LIKE=\"arch-ish foo\"";
	json_t *os = json_object();

	(void)state;
	assert_int_equal(inventory_parse_os_release(rel, sizeof(rel) - 1, os), 0);
	assert_string_equal(str_at(os, "name"), "a \"quoted\" $x \\ \\n");
	assert_string_equal(str_at(os, "full"), "single \\ literal");
	assert_string_equal(str_at(os, "version"), "22.04");
	assert_string_equal(str_at(os, "platform"), "linuxmint");
	assert_string_equal(str_at(os, "family"), "debian");
	json_decref(os);

	os = json_object();
	assert_int_equal(inventory_parse_os_release(like, strlen(like), os), 0);
	assert_string_equal(str_at(os, "family"), "arch-ish");
	assert_int_equal(inventory_parse_os_release(NULL, 0, os), 0);
	assert_int_equal(inventory_parse_os_release(NULL, 5, os), -EINVAL);
	json_decref(os);
	assert_int_equal(inventory_parse_os_release("", 0, NULL), -EINVAL);
}

/* A 1 MB line inside a paragraph and 1 MB of binary junk without a newline at the end. */
static void test_dpkg_huge_line(void **state)
{
	static const char head[] = "Package: a\nStatus: install ok installed\nDescription: ";
	static const char tail[] = "\nVersion: 1\n\nPackage: b\nStatus: install ok installed\n";
	size_t big = 1 << 20, len = sizeof(head) - 1 + big + sizeof(tail) - 1 + big, o = 0;
	char *buf = malloc(len);
	json_t *arr = json_array();

	(void)state;
	assert_non_null(buf);
	memcpy(buf, head, sizeof(head) - 1);
	o += sizeof(head) - 1;
	memset(buf + o, 'x', big);
	o += big;
	memcpy(buf + o, tail, sizeof(tail) - 1);
	o += sizeof(tail) - 1;
	memset(buf + o, 0xff, big);
	assert_int_equal(inventory_parse_dpkg_status(buf, len, arr), 2);
	assert_string_equal(str_at(json_array_get(arr, 0), "version"), "1");
	assert_string_equal(str_at(json_array_get(arr, 1), "name"), "b");

	/* Package: with a 1 MB value is dropped, not truncated into a wrong name. */
	json_array_clear(arr);
	memcpy(buf, "Status: install ok installed\nPackage: ", 38);
	memset(buf + 38, 'n', big);
	assert_int_equal(inventory_parse_dpkg_status(buf, 38 + big, arr), 0);

	assert_int_equal(inventory_parse_dpkg_status(NULL, 0, arr), 0);
	assert_int_equal(inventory_parse_dpkg_status(NULL, 1, arr), -EINVAL);
	assert_int_equal(inventory_parse_dpkg_status("x", 1, NULL), -EINVAL);
	json_decref(arr);
	free(buf);
}

/* Every prefix of each fixture: the truncated file a crash or a full disk leaves behind. */
static void test_truncated_prefixes(void **state)
{
	static const char *const files[] = {
	    "basic/var/lib/dpkg/status", "malformed/var/lib/dpkg/status",
	    "basic/etc/passwd",		 "malformed/etc/passwd",
	    "basic/etc/os-release",	 "malformed/etc/os-release"};

	(void)state;
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char path[4096], *buf;
		FILE *fp;
		long n;

		(void)snprintf(path, sizeof(path), "%s/inventory/%s", MAMORI_TEST_DATA, files[f]);
		fp = fopen(path, "rbe");
		assert_non_null(fp);
		buf = malloc(1 << 16);
		assert_non_null(buf);
		n = (long)fread(buf, 1, 1 << 16, fp);
		(void)fclose(fp);
		for (long i = 0; i <= n; i++) {
			json_t *arr = json_array(), *obj = json_object();

			assert_true(inventory_parse_dpkg_status(buf, (size_t)i, arr) >= 0);
			assert_true(json_array_size(arr) <= 4);
			json_array_clear(arr);
			assert_true(inventory_parse_passwd(buf, (size_t)i, arr) >= 0);
			assert_int_equal(inventory_parse_os_release(buf, (size_t)i, obj), 0);
			json_decref(arr);
			json_decref(obj);
		}
		free(buf);
	}
}

static void write_file(const char *dir, const char *rel, const char *a, size_t alen, char fill,
		       size_t nfill, const char *b)
{
	char path[4096];
	FILE *fp;

	(void)snprintf(path, sizeof(path), "%s%s", dir, rel);
	fp = fopen(path, "wbe");
	assert_non_null(fp);
	(void)fwrite(a, 1, alen, fp);
	for (size_t i = 0; i < nfill; i++)
		(void)fputc(fill, fp);
	(void)fputs(b, fp);
	(void)fclose(fp);
}

/* Through the file readers: a dpkg status and passwd with 1 MB lines, /proc/net/tcp with a line
 * longer than the streaming buffer before a valid one. */
static void test_collect_huge_files(void **state)
{
	static const char *const dirs[] = {"/etc",	    "/var",  "/var/lib",
					   "/var/lib/dpkg", "/proc", "/proc/net"};
	static const char pkg[] = "Package: big\nStatus: install ok installed\nDescription: ";
	static const char tcp[] = "  sl  local_address rem_address   st\n   9: ";
	char root[] = "/tmp/mamori-inv-XXXXXX", path[4096];
	json_t *doc, *l;

	(void)state;
	assert_non_null(mkdtemp(root));
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s%s", root, dirs[i]);
		assert_int_equal(mkdir(path, 0755), 0);
	}
	write_file(root, "/var/lib/dpkg/status", pkg, sizeof(pkg) - 1, 'y', 1 << 20,
		   "\nVersion: 2.0\n\nPackage: small\nStatus: install ok installed\n");
	write_file(root, "/etc/passwd", "", 0, 'z', 1 << 20, "\nuser:x:1:1::/home/user:/bin/sh\n");
	write_file(root, "/proc/net/tcp", tcp, sizeof(tcp) - 1, '0', 100000,
		   "\n   1: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 "
		   "00000000     0        0 4242 1\n");
	doc = collect_root(root);
	assert_int_equal(json_integer_value(inv(doc, "packages_count")), 2);
	assert_string_equal(str_at(find_by(inv(doc, "packages"), "name", "big"), "version"), "2.0");
	assert_int_equal(json_array_size(inv(doc, "users")), 1);
	l = inv(doc, "listening");
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	assert_int_equal(json_array_size(l), 1);
	assert_listen(json_array_get(l, 0), "tcp", "127.0.0.1", 80, 0, NULL);
#else
	(void)l;
#endif
	json_decref(doc);

	for (size_t i = 0; i < 3; i++) {
		static const char *const files[] = {"/var/lib/dpkg/status", "/etc/passwd",
						    "/proc/net/tcp"};

		(void)snprintf(path, sizeof(path), "%s%s", root, files[i]);
		unlink(path);
	}
	for (size_t i = sizeof(dirs) / sizeof(dirs[0]); i-- > 0;) {
		(void)snprintf(path, sizeof(path), "%s%s", root, dirs[i]);
		rmdir(path);
	}
	rmdir(root);
}

static void test_dump_cap(void **state)
{
	json_t *doc = collect_fixture("basic"), *back;
	char *full = inventory_dump(doc, 1 << 20), *cut;
	size_t len;

	(void)state;
	assert_non_null(full);
	len = strlen(full);
	assert_null(json_object_get(json_object_get(json_object_get(doc, "mamori"), "inventory"),
				    "packages_truncated"));
	cut = inventory_dump(doc, len - 100);
	assert_non_null(cut);
	assert_true(strlen(cut) <= len - 100);
	back = json_loads(cut, 0, NULL);
	assert_non_null(back);
	assert_true(json_is_true(inv(back, "packages_truncated")));
	assert_int_equal(json_integer_value(inv(back, "packages_count")), 4);
	assert_true(json_array_size(inv(back, "packages")) < 4);
	assert_null(inventory_dump(doc, 10));
	json_decref(back);
	free(cut);
	free(full);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic_host),
	    cmocka_unit_test(test_basic_users),
	    cmocka_unit_test(test_basic_packages),
	    cmocka_unit_test(test_basic_listening),
	    cmocka_unit_test(test_malformed_fixture),
	    cmocka_unit_test(test_minimal_and_missing_root),
	    cmocka_unit_test(test_os_release_quoting),
	    cmocka_unit_test(test_dpkg_huge_line),
	    cmocka_unit_test(test_truncated_prefixes),
	    cmocka_unit_test(test_collect_huge_files),
	    cmocka_unit_test(test_dump_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
