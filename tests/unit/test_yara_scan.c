/* YARA through the detection library: rule metadata becomes alert metadata, broken files are
 * reported and left out without spoiling the others, and the Elastic Linux rule set compiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dynbuf.h"
#include "file_read.h"
#include "yara_scan.h"

static const char RULES[] =
    "rule Test_Marker {\n"
    "  meta:\n"
    "    description = \"test marker\"\n"
    "    threat_name = \"Linux.Ransomware.Test\"\n"
    "    severity = 100\n"
    "  strings:\n"
    "    $a = \"MAMORI-YARA-MARKER\"\n"
    "  condition:\n"
    "    $a\n"
    "}\n"
    "rule Test_Hex { strings: $h = { 7F 45 4C 46 ?? 01 } condition: $h at 0 }\n";

static unsigned diags;

static void on_diag(void *ctx, const struct detect_diag *d)
{
	(void)ctx;
	if (d->fatal)
		diags++;
}

struct hits {
	const struct detect_rule_meta *m[4];
	int n;
};

static int on_hit(void *ctx, const struct detect_rule_meta *r)
{
	struct hits *h = ctx;
	if (h->n < 4)
		h->m[h->n++] = r;
	return 0;
}

static void test_rules_and_meta(void **state)
{
	(void)state;
	struct yara_rules *r = yara_rules_new();
	assert_non_null(r);
	diags = 0;
	assert_int_equal(yara_rules_add(r, "/x/test.yar", RULES, sizeof(RULES) - 1, on_diag, NULL),
			 0);
	static const char bad[] = "rule broken { condition: $nope }\n";
	assert_true(yara_rules_add(r, "/x/bad.yar", bad, sizeof(bad) - 1, on_diag, NULL) < 0);
	assert_int_equal(diags, 1);
	assert_int_equal(yara_rules_finish(r), 0);
	assert_int_equal(yara_rules_count(r), 2);
	assert_int_equal(yara_rules_failed_files(r), 1);

	static const char buf[] = "\x7f" "ELF\x02\x01 padding MAMORI-YARA-MARKER tail";
	struct hits h = {0};
	assert_int_equal(yara_rules_scan(r, buf, sizeof(buf) - 1, 5, on_hit, &h), 2);
	const struct detect_rule_meta *m = strcmp(h.m[0]->id, "yara:test.yar:Test_Marker") == 0
					       ? h.m[0]
					       : h.m[1];
	assert_string_equal(m->id, "yara:test.yar:Test_Marker");
	assert_int_equal(m->severity, DETECT_SEV_CRITICAL);
	assert_string_equal(m->techniques[0], "T1486");
	assert_string_equal(m->tactics[0], "Impact");
	assert_non_null(strstr(m->title, "Linux.Ransomware.Test"));
	h.n = 0;
	assert_int_equal(yara_rules_scan(r, "clean", 5, 5, on_hit, &h), 0);
	yara_rules_free(r);
}

struct corpus {
	struct yara_rules *r;
	struct dynbuf buf;
	unsigned files;
};

static int add_file(void *ctx, const char *path)
{
	struct corpus *c = ctx;
	assert_int_equal(file_read(path, 1u << 24, &c->buf), 0);
	yara_rules_add(c->r, path, c->buf.data, c->buf.len, on_diag, NULL);
	c->files++;
	return 0;
}

static void test_elastic_linux_rules(void **state)
{
	(void)state;
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/yara-linux/rules", MAMORI_CORPORA);
	struct corpus c = {.r = yara_rules_new()};
	dynbuf_init(&c.buf, (1u << 24) + 1);
	static const char *const sfx[] = {".yar", NULL};
	diags = 0;
	if (file_list(dir, sfx, 10000, add_file, &c) < 0) {
		print_message("SKIP: YARA corpus not found at %s\n", dir);
		dynbuf_release(&c.buf);
		yara_rules_free(c.r);
		skip();
	}
	assert_int_equal(yara_rules_finish(c.r), 0);
	print_message("YARA: %u files, %zu rules, %zu files failed\n", c.files,
		      yara_rules_count(c.r), yara_rules_failed_files(c.r));
	assert_int_equal(yara_rules_failed_files(c.r), 0);
	assert_true(yara_rules_count(c.r) >= 900);
	/* /bin/true is no malware. */
	struct dynbuf bin;
	dynbuf_init(&bin, 64u << 20);
	assert_int_equal(file_read("/bin/true", 64u << 20, &bin), 0);
	struct hits h = {0};
	assert_int_equal(yara_rules_scan(c.r, bin.data, bin.len, 10, on_hit, &h), 0);
	dynbuf_release(&bin);
	dynbuf_release(&c.buf);
	yara_rules_free(c.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_and_meta),
		cmocka_unit_test(test_elastic_linux_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
