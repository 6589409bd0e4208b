/* Data-driven tests of the Sigma engine: each directory under tests/data/detect holds rule.yml
 * (one or more YAML documents), events.jsonl (ECS JSON or raw auditd lines) and expected.jsonl,
 * one line per hit in order: {"line":N,"rule":"id"} plus "group" and "count" for correlations.
 * A case may instead (or also) hold errors.txt: substrings that must appear, one per line, in
 * the loader's messages for rules that cannot load. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "detect.h"
#include "detect_doc_auditd.h"
#include "detect_doc_json.h"
#include "detect_files.h"
#include "dynbuf.h"
#include "file_read.h"

#define DIR_DETECT MAMORI_TEST_DATA "/detect"

struct run {
	struct dynbuf got;
	unsigned line;
	struct dynbuf diags;
};

static void on_diag(void *ctx, const struct detect_diag *d)
{
	struct run *r = ctx;
	dynbuf_printf(&r->diags, "%s%s:%u: %s: %s\n", d->fatal ? "" : "warning: ", d->path,
		      d->line, d->rule ? d->rule : "-", d->message);
}

static int on_hit(void *ctx, const struct detect_hit *hit)
{
	struct run *r = ctx;
	json_t *o = json_pack("{s:i,s:s}", "line", (json_int_t)r->line, "rule", hit->rule->id);
	if (hit->group) {
		json_object_set_new(o, "group", json_string(hit->group));
		json_object_set_new(o, "count", json_integer((json_int_t)hit->count));
	}
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	dynbuf_printf(&r->got, "%s\n", s);
	free(s);
	json_decref(o);
	return 0;
}

/* Normalises expected.jsonl the same way (key order, spacing). */
static void normalise(const char *text, struct dynbuf *out)
{
	const char *p = text;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n) {
			json_error_t je;
			json_t *o = json_loadb(p, n, 0, &je);
			if (!o)
				fail_msg("bad expected line: %.*s (%s)", (int)n, p, je.text);
			char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
			dynbuf_printf(out, "%s\n", s);
			free(s);
			json_decref(o);
		}
		p = nl ? nl + 1 : NULL;
	}
}

/* Every case runs three ways, and all must give the expected hits: detect_ctx_match; selection
 * on a second ctx then emission (detect_ctx_select and detect_ctx_emit, as mamori scan's workers
 * and main thread do); and the same with room for one selected rule, so that events matching
 * more take the fallback. */
enum mode { MODE_MATCH, MODE_SPLIT, MODE_SPLIT_TINY, MODE_COUNT };
static const char *const MODE_NAME[MODE_COUNT] = {"match", "select+emit", "select+emit, cap 1"};

/* c's doc, matched the way mode says; w is the selecting ctx in the split modes. As mamori scan
 * does: select on one ctx, emit on another, and when more rules match than there is room for,
 * match the whole event instead. */
static void match_doc(struct detect_ctx *c, struct detect_ctx *w, struct detect_doc *doc,
		      enum mode mode, struct run *r)
{
	uint32_t sel[32];
	int ns;

	if (mode == MODE_MATCH) {
		detect_ctx_match(c, on_hit, r);
		return;
	}
	ns = detect_ctx_select(w, doc, sel, mode == MODE_SPLIT ? 32 : 1);
	if (ns >= 0)
		detect_ctx_emit(c, doc, sel, (unsigned)ns, on_hit, r);
	else
		detect_ctx_match(c, on_hit, r);
}

static bool run_case(const char *name, enum mode mode)
{
	char path[1024];
	struct dynbuf buf, expected;
	struct run r = {0};
	dynbuf_init(&buf, 8u << 20);
	dynbuf_init(&expected, 8u << 20);
	dynbuf_init(&r.got, 8u << 20);
	dynbuf_init(&r.diags, 1u << 20);
	bool ok = true;

	struct detect_engine *e = detect_engine_new();
	assert_non_null(e);
	detect_engine_set_diag(e, on_diag, &r);
	/* Behaviour detections have their own cases (behaviour_*): elsewhere only rules count. */
	if (strncmp(name, "behaviour_", 10) != 0)
		detect_engine_set_behaviour(e, false);
	snprintf(path, sizeof(path), "%s/%s/placeholders.json", DIR_DETECT, name);
	if (file_read(path, 1u << 20, &buf) == 0) {
		json_t *ph = json_loads(buf.data, 0, NULL);
		const char *key;
		json_t *vals;
		json_object_foreach(ph, key, vals) {
			const char *v[64];
			size_t nv = 0;
			for (size_t i = 0; i < json_array_size(vals) && nv < 64; i++)
				v[nv++] = json_string_value(json_array_get(vals, i));
			assert_int_equal(detect_engine_set_placeholder(e, key, v, nv), 0);
		}
		json_decref(ph);
	}
	snprintf(path, sizeof(path), "%s/%s/rule.yml", DIR_DETECT, name);
	assert_int_equal(file_read(path, 8u << 20, &buf), 0);
	detect_engine_add_yaml(e, path, buf.data, buf.len);
	assert_int_equal(detect_engine_finish(e), 0);

	snprintf(path, sizeof(path), "%s/%s/errors.txt", DIR_DETECT, name);
	if (file_read(path, 1u << 20, &buf) == 0) {
		for (char *p = buf.data; p && *p;) {
			char *nl = strchr(p, '\n');
			if (nl)
				*nl = 0;
			if (*p && (!r.diags.data || !strstr(r.diags.data, p))) {
				print_error("%s: expected a load error containing '%s', got:\n%s\n",
					    name, p, r.diags.data ? r.diags.data : "(none)");
				ok = false;
			}
			p = nl ? nl + 1 : NULL;
		}
	} else if (r.diags.len && strstr(r.diags.data, "warning: ") != r.diags.data) {
		print_error("%s: unexpected load problems:\n%s\n", name, r.diags.data);
		ok = false;
	}

	struct detect_ctx *c = detect_ctx_new(e);
	struct detect_ctx *w = detect_ctx_new(e); /* the selecting thread's, in the split modes */
	assert_non_null(c);
	assert_non_null(w);
	snprintf(path, sizeof(path), "%s/%s/events.jsonl", DIR_DETECT, name);
	if (file_read(path, 8u << 20, &buf) == 0) {
		char *p = buf.data;
		while (p && *p) {
			char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);
			r.line++;
			if (n) {
				char err[128];
				struct detect_doc *doc = detect_ctx_doc(c);
				int rc = p[0] == '{' ? detect_doc_from_json(doc, p, n, err, sizeof(err))
						     : detect_doc_from_auditd(doc, p, n, err, sizeof(err));
				if (rc < 0) {
					print_error("%s: events.jsonl:%u: %s\n", name, r.line, err);
					ok = false;
				} else {
					match_doc(c, w, doc, mode, &r);
				}
			}
			p = nl ? nl + 1 : NULL;
		}
	}
	snprintf(path, sizeof(path), "%s/%s/expected.jsonl", DIR_DETECT, name);
	if (file_read(path, 8u << 20, &buf) == 0)
		normalise(buf.data, &expected);
	const char *g = r.got.data ? r.got.data : "";
	const char *x = expected.data ? expected.data : "";
	if (strcmp(g, x) != 0) {
		print_error("%s (%s): hits differ\n--- expected\n%s--- got\n%s", name,
			    MODE_NAME[mode], x, g);
		ok = false;
	}
	detect_ctx_free(w);
	detect_ctx_free(c);
	detect_engine_free(e);
	dynbuf_release(&buf);
	dynbuf_release(&expected);
	dynbuf_release(&r.got);
	dynbuf_release(&r.diags);
	return ok;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_golden_cases(void **state)
{
	(void)state;
	DIR *d = opendir(DIR_DETECT);
	assert_non_null(d);
	char *names[1024];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 1024)
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_name);
	unsigned failed = 0;
	for (size_t i = 0; i < n; i++) {
		for (int mode = 0; mode < MODE_COUNT; mode++)
			if (!run_case(names[i], (enum mode)mode))
				failed++;
		free(names[i]);
	}
	print_message("%zu golden detection cases in %d ways, %u failed\n", n, MODE_COUNT, failed);
	assert_true(n >= 20);
	assert_int_equal(failed, 0);
}

struct corpus_ctx {
	unsigned fatal;
	struct dynbuf msgs;
};

static void corpus_diag(void *ctx, const struct detect_diag *d)
{
	struct corpus_ctx *c = ctx;
	if (d->fatal) {
		c->fatal++;
		dynbuf_printf(&c->msgs, "%s:%u: %s\n", d->path, d->line, d->message);
	}
}

static int count_yml(void *ctx, const char *path)
{
	(void)path;
	(*(unsigned *)ctx)++;
	return 0;
}

/* Every SigmaHQ Linux rule must load, and the set must match events without surprises. */
static void test_sigmahq_linux_loads(void **state)
{
	(void)state;
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/sigma/rules/linux", MAMORI_CORPORA);
	unsigned files = 0;
	static const char *const sfx[] = {".yml", NULL};
	if (file_list(dir, sfx, 100000, count_yml, &files) < 0) {
		print_message("SKIP: SigmaHQ corpus not found at %s (-DMAMORI_CORPORA=...)\n", dir);
		skip();
	}
	struct corpus_ctx c = {0};
	dynbuf_init(&c.msgs, 1u << 20);
	struct detect_engine *e = detect_engine_new();
	detect_engine_set_diag(e, corpus_diag, &c);
	assert_int_equal(detect_files_load(e, dir), (int)files);
	assert_int_equal(detect_engine_finish(e), 0);
	struct detect_stats st;
	detect_engine_stats(e, &st);
	if (c.fatal)
		print_error("%s", c.msgs.data);
	print_message("SigmaHQ linux: loaded %u of %u rules; %u prefilter literals, %u rules "
		      "without a literal\n",
		      st.documents - st.failed, st.documents, st.atoms, st.unfiltered);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.documents, files);
	assert_true(files >= 200);
	/* A few events the set is known to catch, and one it must not. */
	struct detect_ctx *ctx = detect_ctx_new(e);
	struct run r = {0};
	dynbuf_init(&r.got, 1u << 20);
	static const char *const events[] = {
	    "{\"event\":{\"category\":\"process\",\"action\":\"exec\"},\"process\":{"
	    "\"executable\":\"/usr/bin/chattr\",\"command_line\":\"chattr -i /etc/passwd\"}}",
	    "{\"event\":{\"category\":\"process\",\"action\":\"exec\"},\"process\":{"
	    "\"executable\":\"/usr/bin/ls\",\"command_line\":\"ls -la\"}}",
	    "type=EXECVE msg=audit(1700000000.1:2): argc=3 a0=\"chattr\" a1=\"-i\" a2=\"/x\"",
	};
	unsigned hits[3];
	for (int i = 0; i < 3; i++) {
		char err[64];
		struct detect_doc *doc = detect_ctx_doc(ctx);
		int rc = events[i][0] == '{'
			     ? detect_doc_from_json(doc, events[i], strlen(events[i]), err, sizeof(err))
			     : detect_doc_from_auditd(doc, events[i], strlen(events[i]), err,
						      sizeof(err));
		assert_int_equal(rc, 0);
		hits[i] = (unsigned)detect_ctx_match(ctx, on_hit, &r);
	}
	assert_true(hits[0] >= 1);
	assert_int_equal(hits[1], 0);
	assert_true(hits[2] >= 1);
	dynbuf_release(&r.got);
	dynbuf_release(&c.msgs);
	detect_ctx_free(ctx);
	detect_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_cases),
		cmocka_unit_test(test_sigmahq_linux_loads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
