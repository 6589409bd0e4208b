/* The server's HTTP request handling in-process: routing, bearer authentication, the REST API
 * and the agent endpoints (refused without TLS) over a real SQLite store. The server runs
 * without TLS (plain_http) in a temp data dir removed at exit. Each input is the raw bytes a
 * client sends on one connection; "TOKEN" in it becomes the admin's bearer token.
 *
 * libevent 2.1 keeps evhttp_get_request() private, so connections come in through an AF_UNIX
 * listening socket handed to evhttp_accept_socket_with_handle(): no ports, no TIME_WAIT. */
#include <errno.h>
#include <stdbool.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "log.h"
#include "server.h"

#include "banned.h"

#define MAX_INPUT ((size_t)1 << 20)
#define DEADLINE_S 5
#define TOKEN_MARK "TOKEN"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct server *srv;
static char data_dir[64];
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static char token[128];
static size_t token_len;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void cleanup(void)
{
	server_free(srv);
	srv = NULL;
	if (data_dir[0])
		nftw(data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int read_token(void)
{
	char path[128];
	json_error_t e;
	json_t *j;
	const char *t;

	snprintf(path, sizeof(path), "%s/initial-admin.json", data_dir);
	j = json_load_file(path, 0, &e);
	t = json_string_value(json_object_get(j, "token"));
	if (t && strlen(t) < sizeof(token)) {
		snprintf(token, sizeof(token), "%s", t);
		token_len = strlen(token);
	}
	json_decref(j);
	return token_len ? 0 : -ENOENT;
}

static int listen_unix(void)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memcpy(addr.sun_path, sock_path, sizeof(sock_path));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 64) ||
	    !evhttp_accept_socket_with_handle(server_http(srv), fd)) {
		close(fd);
		return -1;
	}
	return 0;
}

static int setup(void)
{
	struct server_opts o = {.listen = "127.0.0.1:0", .plain_http = true, .ingest_threads = 1};
	char err[512];

	log_set_level(LOG_LEVEL_ERROR);
	snprintf(data_dir, sizeof(data_dir), "/tmp/mamori-fuzz-http-XXXXXX");
	if (!mkdtemp(data_dir)) {
		data_dir[0] = 0;
		return -1;
	}
	atexit(cleanup);
	snprintf(sock_path, sizeof(sock_path), "%s/http.sock", data_dir);
	o.data_dir = data_dir;
	srv = server_new(&o, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "fuzz_http_api: server_new: %s\n", err);
		return -1;
	}
	if (read_token() || listen_unix()) {
		fprintf(stderr, "fuzz_http_api: no admin token or listener\n");
		return -1;
	}
	return 0;
}

/* The input with every "TOKEN" replaced by the admin token. Caller frees. */
static char *expand(const uint8_t *data, size_t size, size_t *out_len)
{
	size_t mark = strlen(TOKEN_MARK), cap = size + (size / mark + 1) * token_len, n = 0;
	char *out = malloc(cap ? cap : 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < size;) {
		if (size - i >= mark && !memcmp(data + i, TOKEN_MARK, mark)) {
			memcpy(out + n, token, token_len);
			n += token_len;
			i += mark;
		} else {
			out[n++] = (char)data[i++];
		}
	}
	*out_len = n;
	return out;
}

/* The client's end of one connection, driven by the server's own loop. */
struct client {
	struct event_base *base;
	int fd;
	bool eof;
};

/* Reads and discards what the server sent; stops the loop at the end of the stream. */
static void on_client_read(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	char buf[16384];

	(void)what;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r > 0)
			continue;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		c->eof = true;
		event_base_loopbreak(c->base);
		return;
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(c->base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval deadline = {DEADLINE_S, 0};
	struct client c = {0};
	struct event *rd, *tm;
	size_t len, off = 0;
	char *req;

	if (!ready)
		ready = setup() == 0 ? 1 : -1;
	if (ready < 0)
		abort();
	if (size > MAX_INPUT)
		return 0;
	c.base = server_base(srv);
	req = expand(data, size, &len);
	if (!req)
		return 0;
	memcpy(addr.sun_path, sock_path, sizeof(sock_path));
	c.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c.fd < 0 || connect(c.fd, (struct sockaddr *)&addr, sizeof(addr))) {
		if (c.fd >= 0)
			close(c.fd);
		free(req);
		return 0;
	}
	/* Whatever fits in the socket buffer, then the end of the client's stream. */
	while (off < len) {
		ssize_t w = write(c.fd, req + off, len - off);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	shutdown(c.fd, SHUT_WR);
	free(req);
	/* Searches and trees are answered from API worker threads, so wait on the loop (the
	 * workers wake it) until the server has answered and closed its end, which frees its
	 * connection. The deadline only guards against a connection the server keeps open. */
	rd = event_new(c.base, c.fd, EV_READ | EV_PERSIST, on_client_read, &c);
	tm = evtimer_new(c.base, on_deadline, &c);
	if (rd && tm && !event_add(rd, NULL) && !event_add(tm, &deadline))
		event_base_loop(c.base, 0);
	if (rd)
		event_free(rd);
	if (tm)
		event_free(tm);
	close(c.fd);
	if (!c.eof) {
		/* Let the server see the reset and free the connection. */
		for (int i = 0; i < 8; i++)
			event_base_loop(c.base, EVLOOP_NONBLOCK);
	}
	return 0;
}
