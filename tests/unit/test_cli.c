/* The mamori CLI: dotted-path lookup, table alignment and truncation, URL encoding, argument
 * parsing, and whole commands run in-process against a one-shot fake HTTP server on loopback
 * (request line and headers checked, canned JSON replies). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_http.h"
#include "cli_json.h"
#include "cli_output.h"
#include "dynbuf.h"

#include "banned.h"

/* ---- helpers ---- */

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, 0, &err);

	assert_non_null(v);
	return v;
}

static char *format_value(const json_t *v)
{
	struct dynbuf b;

	dynbuf_init(&b, 4096);
	assert_int_equal(cli_json_format(v, &b), 0);
	if (!b.data)
		assert_int_equal(dynbuf_adds(&b, ""), 0);
	return b.data;
}

static char *sanitized(const char *s, size_t max, size_t *width)
{
	struct dynbuf b;

	dynbuf_init(&b, 4096);
	assert_int_equal(cli_output_sanitize(&b, s, max, width), 0);
	if (!b.data)
		assert_int_equal(dynbuf_adds(&b, ""), 0);
	return b.data;
}

struct run {
	int rc;
	char *out;
	char *err;
	size_t out_len;
	size_t err_len;
};

static void run_cli(struct run *r, int argc, const char **argv)
{
	FILE *out, *err;

	memset(r, 0, sizeof(*r));
	out = open_memstream(&r->out, &r->out_len);
	err = open_memstream(&r->err, &r->err_len);
	assert_non_null(out);
	assert_non_null(err);
	r->rc = cli_run(argc, (char **)argv, stdin, out, err);
	fclose(out);
	fclose(err);
}

static void run_release(struct run *r)
{
	free(r->out);
	free(r->err);
}

#define RUN(r, ...)                                                                                \
	do {                                                                                       \
		const char *argv_[] = {"mamori", __VA_ARGS__, NULL};                               \
		run_cli((r), (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_);                  \
	} while (0)

/* ---- a fake server: accepts one connection, records the request, sends a canned reply ---- */

struct fake {
	int fd;
	int port;
	char url[64];
	int status;
	const char *body;
	char request[16384];
	size_t len;
	pthread_t thread;
};

static void *fake_serve(void *arg)
{
	struct fake *f = arg;
	struct pollfd p = {.fd = f->fd, .events = POLLIN};
	struct timeval tv = {.tv_sec = 10};
	char head[256];
	int c, n;

	if (poll(&p, 1, 10000) != 1)
		return NULL;
	c = accept(f->fd, NULL, NULL);
	if (c < 0)
		return NULL;
	(void)setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (f->len < sizeof(f->request) - 1) {
		ssize_t got = read(c, f->request + f->len, sizeof(f->request) - 1 - f->len);

		if (got <= 0)
			break;
		f->len += (size_t)got;
		f->request[f->len] = '\0';
		/* Only bodiless requests (GET) are sent to this server. */
		if (strstr(f->request, "\r\n\r\n"))
			break;
	}
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d Canned\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		     f->status, strlen(f->body));
	if (write(c, head, (size_t)n) != n || write(c, f->body, strlen(f->body)) < 0)
		f->status = -1;
	close(c);
	return NULL;
}

static void fake_start(struct fake *f, int status, const char *body)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);

	memset(f, 0, sizeof(*f));
	f->status = status;
	f->body = body;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->fd, 1), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &alen), 0);
	f->port = ntohs(a.sin_port);
	(void)snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_serve, f), 0);
}

static void fake_finish(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->fd);
}

/* The request line, e.g. "GET /api/v1/events?q=x HTTP/1.1". */
static void assert_request_line(const struct fake *f, const char *line)
{
	size_t n = strlen(line);

	if (strncmp(f->request, line, n) || strncmp(f->request + n, "\r\n", 2))
		fail_msg("request was:\n%s\nexpected line: %s", f->request, line);
}

/* A free port: bound, then closed, so a connection to it is refused. */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* ---- dotted paths and value text ---- */

static void test_json_get(void **state)
{
	json_t *ev = parse("{\"host\":{\"name\":\"web-1\",\"ip\":[\"10.0.0.1\",\"10.0.0.2\"]},"
			   "\"process\":{\"pid\":42,\"parent\":{\"pid\":1}},"
			   "\"process.title\":\"flat\",\"a.b\":{\"c\":true},\"@timestamp\":\"t\"}");

	(void)state;
	assert_string_equal(cli_json_get_string(ev, "host.name"), "web-1");
	assert_int_equal(json_integer_value(cli_json_get(ev, "process.pid")), 42);
	assert_int_equal(json_integer_value(cli_json_get(ev, "process.parent.pid")), 1);
	assert_string_equal(cli_json_get_string(ev, "process.title"), "flat");
	assert_true(json_is_true(cli_json_get(ev, "a.b.c")));
	assert_string_equal(cli_json_get_string(ev, "@timestamp"), "t");
	assert_true(json_is_array(cli_json_get(ev, "host.ip")));
	assert_true(json_is_object(cli_json_get(ev, "host")));
	assert_null(cli_json_get(ev, "host.name.x"));
	assert_null(cli_json_get(ev, "host.missing"));
	assert_null(cli_json_get(ev, "process.pid.x"));
	assert_null(cli_json_get(ev, ""));
	assert_null(cli_json_get(ev, "."));
	assert_null(cli_json_get(ev, "host."));
	assert_null(cli_json_get_string(ev, "process.pid"));
	assert_null(cli_json_get(json_array_get(cli_json_get(ev, "host.ip"), 0), "x"));
	assert_null(cli_json_get(NULL, "host.name"));
	json_decref(ev);
}

static void test_json_format(void **state)
{
	json_t *v = parse("{\"s\":\"a b\",\"i\":-7,\"r\":3.5,\"t\":true,\"f\":false,\"n\":null,"
			  "\"a\":[\"x\",1,[2]],\"o\":{\"k\":[1,2]}}");
	static const struct {
		const char *path, *text;
	} cases[] = {
	    {"s", "a b"}, {"i", "-7"},	    {"r", "3.5"},	    {"t", "true"}, {"f", "false"},
	    {"n", ""},	  {"a", "x,1,[2]"}, {"o", "{\"k\":[1,2]}"}, {"zz", ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = format_value(cli_json_get(v, cases[i].path));

		assert_string_equal(s, cases[i].text);
		free(s);
	}
	json_decref(v);
}

static void test_json_format_time(void **state)
{
	json_t *v = parse("{\"s\":1795341600,\"ms\":1795341600123,\"str\":\"2026-11-22T10:00:00Z\","
			  "\"zero\":0}");
	static const struct {
		const char *path, *text;
	} cases[] = {
	    {"s", "2026-11-22T10:00:00Z"},
	    {"ms", "2026-11-22T10:00:00Z"},
	    {"str", "2026-11-22T10:00:00Z"},
	    {"zero", ""},
	    {"missing", ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dynbuf b;

		dynbuf_init(&b, 256);
		assert_int_equal(cli_json_format_time(cli_json_get(v, cases[i].path), &b), 0);
		assert_string_equal(b.data ? b.data : "", cases[i].text);
		dynbuf_release(&b);
	}
	json_decref(v);
}

/* ---- tables ---- */

static char *table_text(const struct cli_output_col *cols, size_t ncols, const char *const *cells,
			size_t nrows)
{
	struct cli_output_table t;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	cli_output_table_init(&t, cols, ncols);
	for (size_t r = 0; r < nrows; r++)
		assert_int_equal(cli_output_table_add(&t, cells + r * ncols), 0);
	assert_int_equal(cli_output_table_print(&t, f), 0);
	cli_output_table_release(&t);
	fclose(f);
	return buf;
}

static void test_table_alignment(void **state)
{
	static const struct cli_output_col cols[] = {
	    {"NAME", 0, NULL, false}, {"STATUS", 0, NULL, false}, {"GROUP", 0, NULL, false}};
	/* A trailing empty cell adds no padding; a two-byte character takes one column. */
	const char *cells[3][3] = {
	    {"web-1", "online", "prod"}, {"db-with-long-name", "off", NULL}, {"é", "", "x"}};
	char *s = table_text(cols, 3, &cells[0][0], 3);

	(void)state;
	assert_string_equal(s, "NAME               STATUS  GROUP\n"
			       "web-1              online  prod\n"
			       "db-with-long-name  off\n"
			       "é                          x\n");
	free(s);
}

static void test_table_truncation(void **state)
{
	static const struct cli_output_col cols[] = {{"CMD", 10, NULL, false},
						     {"N", 0, NULL, false}};
	const char *cells[4][2] = {{"abcdefghijklmnop", "1"},
				   {"short", "2"},
				   {"éééééééééééé", "3"},
				   {"a\nb\x1b[31m", "4"}};
	char *s = table_text(cols, 2, &cells[0][0], 4);
	size_t w = 0;

	(void)state;
	assert_string_equal(s, "CMD         N\n"
			       "abcdefg...  1\n"
			       "short       2\n"
			       "ééééééé...  3\n"
			       "a\\nb...     4\n");
	free(s);

	/* Escapes: C0 and DEL, C1, bidi overrides (Trojan Source), invalid UTF-8. */
	s = sanitized("a\tb\x7f\xc2\x9b\xe2\x80\xae!\xff", 0, &w);
	assert_string_equal(s, "a\\tb\\x7f\\u009b\\u202e!\\xff");
	assert_int_equal(w, strlen(s));
	free(s);
	s = sanitized("exactly10!", 10, &w);
	assert_string_equal(s, "exactly10!");
	assert_int_equal(w, 10);
	free(s);
	s = sanitized("abcdef", 2, &w);
	assert_string_equal(s, "..");
	free(s);
	/* A cut never splits an escape sequence. */
	s = sanitized("abc\ndef", 7, &w);
	assert_string_equal(s, "abc...");
	assert_int_equal(w, 6);
	free(s);
}

static void test_kv(void **state)
{
	json_t *v = parse("{\"ingest\":{\"events\":10,\"batches\":2},\"rejected\":0,"
			  "\"ip\":[\"a\",\"b\"],\"inv\":[{\"x\":1},{\"x\":2}]}");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_int_equal(cli_output_kv(f, v), 0);
	fclose(f);
	assert_string_equal(buf, "ingest.events   10\n"
				 "ingest.batches  2\n"
				 "rejected        0\n"
				 "ip              a,b\n"
				 "inv             [2 items]\n");
	free(buf);
	json_decref(v);
}

/* ---- URL encoding ---- */

static void test_url_encoding(void **state)
{
	struct dynbuf b;

	(void)state;
	dynbuf_init(&b, 4096);
	assert_int_equal(dynbuf_adds(&b, "/events"), 0);
	assert_int_equal(cli_http_query_add(&b, "q",
					    "process.name:bash and user.name:\"root\" "
					    "& x=1/2+3 é ~_-."),
			 0);
	assert_int_equal(cli_http_query_add(&b, "since", "2026-11-22T10:00:00+02:00"), 0);
	assert_int_equal(cli_http_query_add(&b, "count", "1"), 0);
	assert_string_equal(b.data, "/events?q=process.name%3Abash%20and%20user.name%3A%22root%22"
				    "%20%26%20x%3D1%2F2%2B3%20%C3%A9%20~_-."
				    "&since=2026-11-22T10%3A00%3A00%2B02%3A00&count=1");
	dynbuf_reset(&b);
	assert_int_equal(cli_http_path(&b, "/hosts/", "web 1/../x?y#z", "/move"), 0);
	assert_string_equal(b.data, "/hosts/web%201%2F..%2Fx%3Fy%23z/move");
	dynbuf_release(&b);
}

static void test_url_check(void **state)
{
	bool clear;

	(void)state;
	assert_int_equal(cli_http_url_check("https://127.0.0.1:8443", &clear), 0);
	assert_false(clear);
	assert_int_equal(cli_http_url_check("http://localhost:8080/prefix", &clear), 0);
	assert_false(clear);
	assert_int_equal(cli_http_url_check("http://10.0.0.1:8080", &clear), 0);
	assert_true(clear);
	assert_int_equal(cli_http_url_check("ftp://x", &clear), -EINVAL);
	assert_int_equal(cli_http_url_check("127.0.0.1:8443", &clear), -EINVAL);
	assert_int_equal(cli_http_url_check("https://x/?a=b", &clear), -EINVAL);
}

/* ---- argument parsing ---- */

static void test_args_parse(void **state)
{
	const char *since = NULL, *output = NULL;
	bool count = false;
	const struct cli_args_opt opts[] = {{"since", 's', &since, NULL},
					    {"count", 'c', NULL, &count},
					    {"output", 'o', &output, NULL},
					    {NULL, 0, NULL, NULL}};
	char *ok[] = {"search", "--since", "2h", "q1", "-ojsonl", "--count", "--", "--q2", NULL};
	char *eq[] = {"search", "--since=7d", "-o", "table", "-c", NULL};
	char *unknown[] = {"search", "--frob", NULL};
	char *novalue[] = {"search", "--since", NULL};
	char *flagval[] = {"search", "--count=1", NULL};
	struct cli_args_pos pos;
	FILE *devnull = fopen("/dev/null", "w");

	(void)state;
	assert_non_null(devnull);
	assert_int_equal(cli_args_parse(opts, 8, ok, &pos, "events search", devnull), 0);
	assert_string_equal(since, "2h");
	assert_string_equal(output, "jsonl");
	assert_true(count);
	assert_int_equal(pos.n, 2);
	assert_string_equal(pos.v[0], "q1");
	assert_string_equal(pos.v[1], "--q2");

	count = false;
	assert_int_equal(cli_args_parse(opts, 5, eq, &pos, "events search", devnull), 0);
	assert_string_equal(since, "7d");
	assert_string_equal(output, "table");
	assert_true(count);
	assert_int_equal(pos.n, 0);

	assert_int_equal(cli_args_parse(opts, 2, unknown, &pos, "x", devnull), -EINVAL);
	assert_int_equal(cli_args_parse(opts, 2, novalue, &pos, "x", devnull), -EINVAL);
	assert_int_equal(cli_args_parse(opts, 2, flagval, &pos, "x", devnull), -EINVAL);
	fclose(devnull);
}

static void test_times_and_numbers(void **state)
{
	static const char *const good[] = {"30s",
					   "15m",
					   "2h",
					   "7d",
					   "0s",
					   "2026-11-22T10:00:00Z",
					   "2026-11-22t10:00:00z",
					   "2026-11-22T10:00:00.123456Z",
					   "2026-11-22T10:00:00+02:00",
					   "2026-11-22T10:00:00-05:30"};
	static const char *const bad[] = {"",
					  "7",
					  "d",
					  "7w",
					  "7dd",
					  "-7d",
					  " 7d",
					  "1234567890s",
					  "2026-11-22",
					  "2026-11-22T10:00Z",
					  "2026-11-22T10:00:00",
					  "2026-11-22T10:00:00.Z",
					  "2026-11-22T10:00:00+0200",
					  "2026-11-22 10:00:00Z"};
	long v = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!cli_args_is_time(good[i]))
			fail_msg("rejected %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cli_args_is_time(bad[i]))
			fail_msg("accepted '%s'", bad[i]);
	assert_true(cli_args_is_duration("7d"));
	assert_false(cli_args_is_duration("2026-11-22T10:00:00Z"));
	assert_int_equal(cli_args_parse_long("10000", 1, 10000, &v), 0);
	assert_int_equal(v, 10000);
	assert_int_equal(cli_args_parse_long("10001", 1, 10000, &v), -EINVAL);
	assert_int_equal(cli_args_parse_long("0", 1, 10000, &v), -EINVAL);
	assert_int_equal(cli_args_parse_long("12x", 1, 10000, &v), -EINVAL);
	assert_int_equal(cli_args_parse_long("", 1, 10000, &v), -EINVAL);
	assert_int_equal(cli_args_parse_long(" 5", 1, 10000, &v), -EINVAL);
}

/* Usage errors exit 2 before any connection (the URL points at nothing). */
static void test_search_usage_errors(void **state)
{
	char url[64];
	struct run r;

	(void)state;
	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
	RUN(&r, "--url", url, "--token", "t", "events", "search");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "events search: missing argument"));
	run_release(&r);
	RUN(&r, "--url", url, "--token", "t", "events", "search", "a", "b");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unexpected argument 'b'"));
	run_release(&r);
	RUN(&r, "--url", url, "--token", "t", "events", "search", "a", "--since", "yesterday");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "--since: 'yesterday'"));
	run_release(&r);
	RUN(&r, "--url", url, "--token", "t", "events", "search", "a", "--limit", "10001");
	assert_int_equal(r.rc, 2);
	run_release(&r);
	RUN(&r, "--url", url, "--token", "t", "events", "search", "a", "--output", "xml");
	assert_int_equal(r.rc, 2);
	run_release(&r);
	RUN(&r, "--url", url, "--token", "t", "events", "search", "a", "--bogus");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unknown option '--bogus'"));
	run_release(&r);
	RUN(&r, "--url", url, "--token", "t", "events", "frob");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unknown command 'frob'"));
	run_release(&r);
	/* --help anywhere answers with the command's usage and succeeds. */
	RUN(&r, "events", "search", "a", "--limit", "0", "--help");
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "usage: mamori events search QUERY"));
	run_release(&r);
	RUN(&r, "--version");
	assert_int_equal(r.rc, 0);
	assert_int_equal(strncmp(r.out, "mamori ", 7), 0);
	run_release(&r);
}

static void test_missing_config(void **state)
{
	struct run r;

	(void)state;
	unsetenv("MAMORI_URL");
	unsetenv("MAMORI_TOKEN");
	unsetenv("MAMORI_CACERT");
	RUN(&r, "hosts", "list");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "MAMORI_URL"));
	run_release(&r);
	RUN(&r, "--url", "https://127.0.0.1:1", "hosts", "list");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "MAMORI_TOKEN"));
	run_release(&r);
	RUN(&r, "--url", "https://127.0.0.1:1", "--token", "t", "--cacert", "/nonexistent/ca.pem",
	    "hosts", "list");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "/nonexistent/ca.pem"));
	run_release(&r);
	RUN(&r, "--url", "127.0.0.1:8443", "--token", "t", "stats");
	assert_int_equal(r.rc, 2);
	run_release(&r);
}

/* ---- round trips ---- */

static void test_search_count_roundtrip(void **state)
{
	struct fake f;
	struct run r;

	(void)state;
	fake_start(&f, 200, "{\"count\": 1234}");
	RUN(&r, "--url", f.url, "--token", "tok123", "events", "search",
	    "process.name:curl and user.name:\"root\"", "--count");
	fake_finish(&f);
	assert_request_line(&f, "GET /api/v1/events?q=process.name%3Acurl%20and%20user.name%3A"
				"%22root%22&since=24h&count=1 HTTP/1.1");
	assert_non_null(strstr(f.request, "\r\nAuthorization: Bearer tok123\r\n"));
	assert_non_null(strstr(f.request, "\r\nAccept: application/json\r\n"));
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "1234\n");
	assert_string_equal(r.err, "");
	run_release(&r);
}

static void test_search_query_error(void **state)
{
	struct fake f;
	struct run r;

	(void)state;
	fake_start(&f, 400, "{\"error\": \"unexpected 'and'\", \"position\": 20}");
	RUN(&r, "--url", f.url, "--token", "t", "events", "search", "process.name:sh and and x",
	    "--since", "2h", "--until", "1h", "--limit", "5");
	fake_finish(&f);
	assert_request_line(&f, "GET /api/v1/events?q=process.name%3Ash%20and%20and%20x&since=2h"
				"&until=1h&limit=5 HTTP/1.1");
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "mamori: unexpected 'and'\n"
				   "  process.name:sh and and x\n"
				   "                      ^\n");
	run_release(&r);
}

static void test_search_jsonl_and_table(void **state)
{
	static const char body[] =
	    "{\"events\":[{\"@timestamp\":\"2026-11-22T10:00:01Z\",\"host\":{\"name\":\"web-1\"},"
	    "\"event\":{\"action\":\"exec\"},\"process\":{\"pid\":42,\"executable\":"
	    "\"/usr/bin/curl\",\"command_line\":\"curl -s http://x/y.sh\"}},"
	    "{\"@timestamp\":\"2026-11-22T10:00:00Z\",\"host\":{\"name\":\"web-1\"},"
	    "\"event\":{\"action\":\"connect\"},\"process\":{\"pid\":42,\"executable\":"
	    "\"/usr/bin/curl\"},\"destination\":{\"ip\":\"2001:db8::1\",\"port\":443}}]}";
	struct fake f;
	struct run r;

	(void)state;
	fake_start(&f, 200, body);
	RUN(&r, "--url", f.url, "--token", "t", "events", "search", "x", "-o", "jsonl");
	fake_finish(&f);
	assert_int_equal(r.rc, 0);
	assert_string_equal(
	    r.out, "{\"@timestamp\":\"2026-11-22T10:00:01Z\",\"host\":{\"name\":\"web-1\"},"
		   "\"event\":{\"action\":\"exec\"},\"process\":{\"pid\":42,\"executable\":"
		   "\"/usr/bin/curl\",\"command_line\":\"curl -s http://x/y.sh\"}}\n"
		   "{\"@timestamp\":\"2026-11-22T10:00:00Z\",\"host\":{\"name\":\"web-1\"},"
		   "\"event\":{\"action\":\"connect\"},\"process\":{\"pid\":42,\"executable\":"
		   "\"/usr/bin/curl\"},\"destination\":{\"ip\":\"2001:db8::1\",\"port\":443}}\n");
	run_release(&r);

	fake_start(&f, 200, body);
	RUN(&r, "--url", f.url, "--token", "t", "events", "search", "x");
	fake_finish(&f);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out,
			    "TIME                  HOST   ACTION   PID  TARGET             "
			    "COMMAND\n"
			    "2026-11-22T10:00:01Z  web-1  exec     42   /usr/bin/curl      "
			    "curl -s http://x/y.sh\n"
			    "2026-11-22T10:00:00Z  web-1  connect  42   [2001:db8::1]:443\n");
	run_release(&r);
}

/* Integers past int64_t (u64 inode numbers) come back as strings instead of failing the reply. */
static void test_big_integers(void **state)
{
	struct fake f;
	struct run r;

	(void)state;
	fake_start(&f, 200,
		   "{\"events\":[{\"file\":{\"inode\":18446744073709551615,\"size\":12},"
		   "\"a\":-9223372036854775808,\"b\":-9223372036854775809,\"c\":1.5e3,"
		   "\"s\":\"x\\\"99999999999999999999\"}]}");
	RUN(&r, "--url", f.url, "--token", "t", "events", "search", "", "-o", "jsonl");
	fake_finish(&f);
	assert_request_line(&f, "GET /api/v1/events?q=&since=24h HTTP/1.1");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "{\"file\":{\"inode\":\"18446744073709551615\",\"size\":12},"
				   "\"a\":-9223372036854775808,\"b\":\"-9223372036854775809\","
				   "\"c\":1500.0,\"s\":\"x\\\"99999999999999999999\"}\n");
	run_release(&r);
}

static void test_hosts_list_env_config(void **state)
{
	struct fake f;
	struct run r;

	(void)state;
	fake_start(&f, 200,
		   "{\"hosts\":[{\"host\":{\"name\":\"web-1\"},\"agent\":{\"id\":\"a1\"},"
		   "\"status\":\"online\",\"group\":\"prod\",\"last_seen\":1795341600123,"
		   "\"os\":{\"name\":\"Debian GNU/Linux\",\"version\":\"12\"}}]}");
	setenv("MAMORI_URL", f.url, 1);
	setenv("MAMORI_TOKEN", "envtok", 1);
	RUN(&r, "hosts", "list");
	unsetenv("MAMORI_URL");
	unsetenv("MAMORI_TOKEN");
	fake_finish(&f);
	assert_request_line(&f, "GET /api/v1/hosts HTTP/1.1");
	assert_non_null(strstr(f.request, "\r\nAuthorization: Bearer envtok\r\n"));
	assert_int_equal(r.rc, 0);
	assert_string_equal(
	    r.out, "NAME   AGENT-ID  STATUS  GROUP  LAST-SEEN             OS\n"
		   "web-1  a1        online  prod   2026-11-22T10:00:00Z  Debian GNU/Linux 12\n");
	run_release(&r);
}

/* Flags override the environment. */
static void test_flags_override_env(void **state)
{
	char bad[64];
	struct fake f;
	struct run r;

	(void)state;
	(void)snprintf(bad, sizeof(bad), "http://127.0.0.1:%d", closed_port());
	fake_start(&f, 200, "{\"ingest\":5,\"rejected\":0}");
	setenv("MAMORI_URL", bad, 1);
	setenv("MAMORI_TOKEN", "envtok", 1);
	RUN(&r, "stats", "--url", f.url, "--token=flagtok", "--output", "jsonl");
	unsetenv("MAMORI_URL");
	unsetenv("MAMORI_TOKEN");
	fake_finish(&f);
	assert_non_null(strstr(f.request, "\r\nAuthorization: Bearer flagtok\r\n"));
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "{\"ingest\":5,\"rejected\":0}\n");
	run_release(&r);
}

static void test_unreachable_and_bad_replies(void **state)
{
	char url[64];
	struct fake f;
	struct run r;

	(void)state;
	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
	RUN(&r, "--url", url, "--token", "t", "stats");
	assert_int_equal(r.rc, 3);
	assert_non_null(strstr(r.err, "mamori: cannot reach"));
	run_release(&r);

	fake_start(&f, 502, "<html>bad gateway</html>");
	RUN(&r, "--url", f.url, "--token", "t", "stats");
	fake_finish(&f);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "mamori: server answered HTTP 502 to GET /stats\n");
	run_release(&r);

	fake_start(&f, 403, "{\"error\":\"forbidden: admin role needed\\u001b[2J\"}");
	RUN(&r, "--url", f.url, "--token", "t", "audit", "list");
	fake_finish(&f);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "mamori: forbidden: admin role needed\\x1b[2J\n");
	run_release(&r);

	fake_start(&f, 200, "{\"hosts\": 7}");
	RUN(&r, "--url", f.url, "--token", "t", "hosts", "list");
	fake_finish(&f);
	assert_int_equal(r.rc, 1);
	run_release(&r);

	fake_start(&f, 200, "not json");
	RUN(&r, "--url", f.url, "--token", "t", "groups", "list");
	fake_finish(&f);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "invalid JSON"));
	run_release(&r);
}

static void test_tree(void **state)
{
	/* Ancestors nearest first, descendants out of order: printed root first, depth-first. */
	static const char body[] =
	    "{\"process\":{\"process\":{\"pid\":100,\"executable\":\"/bin/bash\","
	    "\"command_line\":\"bash -i\",\"entity_id\":\"E2\",\"parent\":{\"entity_id\":\"E1\"}}},"
	    "\"ancestors\":["
	    "{\"process\":{\"pid\":50,\"executable\":\"/usr/sbin/sshd\",\"command_line\":"
	    "\"sshd: bob\",\"entity_id\":\"E1\",\"parent\":{\"entity_id\":\"E0\"}}},"
	    "{\"process\":{\"pid\":1,\"executable\":\"/sbin/init\",\"entity_id\":\"E0\"}}],"
	    "\"descendants\":["
	    "{\"depth\":1,\"process\":{\"process\":{\"pid\":101,\"executable\":\"/usr/bin/curl\","
	    "\"command_line\":\"curl x\",\"entity_id\":\"E3\",\"parent\":{\"entity_id\":\"E2\"}}}},"
	    "{\"depth\":2,\"process\":{\"process\":{\"pid\":103,\"executable\":\"/bin/sh\","
	    "\"command_line\":\"sh -c id\",\"entity_id\":\"E5\",\"parent\":{\"entity_id\":"
	    "\"E4\"}}}},"
	    "{\"depth\":1,\"process\":{\"process\":{\"pid\":102,\"executable\":"
	    "\"/usr/bin/python3\",\"command_line\":\"python3\",\"entity_id\":\"E4\","
	    "\"parent\":{\"entity_id\":\"E2\"}}}},"
	    /* Also accepted: the process fields directly under "process". */
	    "{\"depth\":2,\"process\":{\"pid\":109,\"executable\":\"/x\","
	    "\"entity_id\":\"E9\",\"parent\":{\"entity_id\":\"elsewhere\"}}}]}";
	struct fake f;
	struct run r;

	(void)state;
	fake_start(&f, 200, body);
	RUN(&r, "--url", f.url, "--token", "t", "events", "tree", "E2/x", "--since", "7d");
	fake_finish(&f);
	assert_request_line(&f, "GET /api/v1/events/tree/E2%2Fx?since=7d HTTP/1.1");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "1 /sbin/init\n"
				   "  50 /usr/sbin/sshd sshd: bob\n"
				   "    100 /bin/bash bash -i\n"
				   "      101 /usr/bin/curl curl x\n"
				   "      102 /usr/bin/python3 python3\n"
				   "        103 /bin/sh sh -c id\n"
				   "        109 /x\n");
	run_release(&r);
}

static int setup(void **state)
{
	(void)state;
	/* Keep a proxy in the environment from intercepting loopback requests. */
	setenv("NO_PROXY", "*", 1);
	unsetenv("MAMORI_URL");
	unsetenv("MAMORI_TOKEN");
	unsetenv("MAMORI_CACERT");
	return cli_http_global_init();
}

static int teardown(void **state)
{
	(void)state;
	cli_http_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_get),
	    cmocka_unit_test(test_json_format),
	    cmocka_unit_test(test_json_format_time),
	    cmocka_unit_test(test_table_alignment),
	    cmocka_unit_test(test_table_truncation),
	    cmocka_unit_test(test_kv),
	    cmocka_unit_test(test_url_encoding),
	    cmocka_unit_test(test_url_check),
	    cmocka_unit_test(test_args_parse),
	    cmocka_unit_test(test_times_and_numbers),
	    cmocka_unit_test(test_search_usage_errors),
	    cmocka_unit_test(test_missing_config),
	    cmocka_unit_test(test_search_count_roundtrip),
	    cmocka_unit_test(test_search_query_error),
	    cmocka_unit_test(test_search_jsonl_and_table),
	    cmocka_unit_test(test_big_integers),
	    cmocka_unit_test(test_hosts_list_env_config),
	    cmocka_unit_test(test_flags_override_env),
	    cmocka_unit_test(test_unreachable_and_bad_replies),
	    cmocka_unit_test(test_tree),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
