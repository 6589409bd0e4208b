/* The agent's output: NDJSON lines to a descriptor, or batches to a sink that never exceed their
 * byte and line caps, with every line delivered once and in order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "event.h"
#include "event_json.h"
#include "output.h"

struct sink {
	char *all; /* every batch, concatenated */
	size_t len;
	unsigned batches;
	uint32_t lines;
	size_t max_batch;
	uint32_t max_lines;
	bool bad_count; /* a batch's line count disagreed with its newlines */
};

static int sink_fn(void *ctx, const char *data, size_t len, uint32_t lines)
{
	struct sink *s = ctx;
	uint32_t nl = 0;

	for (size_t i = 0; i < len; i++)
		nl += data[i] == '\n';
	if (nl != lines)
		s->bad_count = true;
	s->all = realloc(s->all, s->len + len + 1);
	memcpy(s->all + s->len, data, len);
	s->len += len;
	s->all[s->len] = '\0';
	s->batches++;
	s->lines += lines;
	if (len > s->max_batch)
		s->max_batch = len;
	if (lines > s->max_lines)
		s->max_lines = lines;
	return 0;
}

static void event_n(struct event *ev, unsigned i)
{
	char cmd[512];
	int n = snprintf(
	    cmd, sizeof(cmd), "/bin/echo %u %.*s", i, (int)(i % 300),
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");

	event_reset(ev);
	ev->action = EVENT_ACTION_EXEC;
	ev->process.pid = 1000 + i;
	event_mark(ev, EVF_PROCESS_PID);
	event_copy_str(ev->process.command_line, sizeof(ev->process.command_line), cmd, (size_t)n);
}

/* Batches stay within max_bytes even though events are encoded straight into the batch. */
static void test_sink_batches_capped(void **state)
{
	static struct event ev;
	struct sink s = {0};
	struct output *o;
	const unsigned n = 3000;
	const char *p;

	(void)state;
	o = output_new_sink(sink_fn, &s, 16 * 1024, 100, UINT64_MAX);
	assert_non_null(o);
	for (unsigned i = 0; i < n; i++) {
		event_n(&ev, i);
		assert_int_equal(output_event(o, &ev), 0);
	}
	output_line(o, "{\"last\":true}", 13);
	output_free(o); /* flushes the rest */
	assert_false(s.bad_count);
	assert_int_equal(s.lines, n + 1);
	assert_true(s.max_batch <= 16 * 1024);
	assert_true(s.max_lines <= 100);
	assert_true(s.batches >= n / 100);
	/* Every line once, in order, and each one valid JSON for its event. */
	p = s.all;
	for (unsigned i = 0; i < n; i++) {
		const char *nl = strchr(p, '\n');
		char want[32];
		static struct event back;

		assert_non_null(nl);
		assert_int_equal(event_json_decode(p, (size_t)(nl - p), &back, NULL, 0, NULL), 0);
		snprintf(want, sizeof(want), "/bin/echo %u ", i);
		assert_int_equal(back.process.pid, 1000 + i);
		assert_memory_equal(back.process.command_line, want, strlen(want));
		p = nl + 1;
	}
	assert_string_equal(p, "{\"last\":true}\n");
	free(s.all);
}

/* A descriptor gets every line, whatever the buffer size. */
static void test_fd_lines(void **state)
{
	static struct event ev;
	char path[] = "/tmp/mamori-test-output.XXXXXX";
	int fd = mkstemp(path);
	struct output *o;
	char *buf;
	long size;
	unsigned lines = 0;
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	o = output_new(fd, 4096);
	for (unsigned i = 0; i < 500; i++) {
		event_n(&ev, i);
		assert_int_equal(output_event(o, &ev), 0);
		if (i % 97 == 0)
			assert_int_equal(output_flush(o), 0);
	}
	assert_int_equal(output_lines(o), 500);
	assert_int_equal(output_errors(o), 0);
	output_free(o);
	f = fdopen(fd, "r");
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	buf = malloc((size_t)size + 1);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	buf[size] = '\0';
	for (long i = 0; i < size; i++)
		lines += buf[i] == '\n';
	assert_int_equal(lines, 500);
	assert_non_null(strstr(buf, "\"pid\":1499,"));
	free(buf);
	fclose(f);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sink_batches_capped),
	    cmocka_unit_test(test_fd_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
