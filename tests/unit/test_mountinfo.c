/* mountinfo lines: fields, escapes, malformed lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <cmocka.h>

#include "mountinfo.h"

static void test_parse(void **state)
{
	char line[] = "36 25 0:32 / /mnt/my\\040disk rw,relatime shared:1 - ext4 /dev/sda1 rw\n";
	struct mountinfo_entry m;

	(void)state;
	assert_int_equal(mountinfo_parse_line(line, &m), 0);
	assert_int_equal(m.id, 36);
	assert_int_equal(major(m.dev), 0);
	assert_int_equal(minor(m.dev), 32);
	assert_string_equal(m.root, "/");
	assert_string_equal(m.point, "/mnt/my disk");
	assert_string_equal(m.type, "ext4");
}

static void test_malformed(void **state)
{
	char a[] = "";
	char b[] = "36 25 0:32 / /mnt rw";  /* no " - type" */
	char c[] = "x y z";
	struct mountinfo_entry m;

	(void)state;
	assert_int_equal(mountinfo_parse_line(a, &m), -EINVAL);
	assert_int_equal(mountinfo_parse_line(b, &m), -EINVAL);
	assert_int_equal(mountinfo_parse_line(c, &m), -EINVAL);
}

static void test_find_type(void **state)
{
	char out[256];

	(void)state;
	/* Every Linux system mounts proc; a made-up type is never there. */
	assert_int_equal(mountinfo_find_type("proc", out, sizeof(out)), 0);
	assert_true(out[0] == '/');
	assert_int_equal(mountinfo_find_type("no-such-fs", out, sizeof(out)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_find_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
