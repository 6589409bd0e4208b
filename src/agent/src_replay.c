/* The replay source: ECS JSON lines from a file or stdin, for tests and for replaying captures
 * anywhere (no root, no BPF). Malformed lines are counted and reported with their line number;
 * they never stop the replay. */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "event_json.h"
#include "log.h"

#include "banned.h"

#define READ_CHUNK (64 * 1024)
#define LINES_PER_TICK 4096

struct replay {
	int fd;
	bool eof;
	char *buf; /* holds at most one maximal line plus a chunk */
	size_t len, cap;
	uint64_t line_no;
	uint64_t bad;
	bool skipping; /* inside an over-long line */
	bool pollable; /* a pipe, FIFO or socket: non-blocking, driven by epoll */
	struct event ev;
};

static int replay_open(struct source *src, unsigned want, char *why, size_t whylen)
{
	const char *path = src->agent->config->replay_path;
	struct replay *r;

	(void)want;
	if (!path[0]) {
		snprintf(why, whylen, "no replay input configured");
		return -ENOENT;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cap = EVENT_JSON_MAX_LINE + READ_CHUNK + 1;
	r->buf = malloc(r->cap);
	if (!r->buf) {
		free(r);
		return -ENOMEM;
	}
	r->fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		int rc = -errno;

		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		free(r->buf);
		free(r);
		return rc;
	}
	{
		struct stat st;

		/* A pipe that stays open (a feed) must not block the loop, or signals. */
		if (fstat(r->fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
			fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK);
			r->pollable = true;
		}
	}
	src->priv = r;
	return 0;
}

static unsigned replay_cover(struct source *src)
{
	(void)src;
	return SOURCE_COVER_PROCESS | SOURCE_COVER_FILE | SOURCE_COVER_NETWORK |
	       SOURCE_COVER_SYSCALLS | SOURCE_COVER_DNS;
}

static int replay_fd(struct source *src)
{
	struct replay *r = src->priv;

	/* Regular files cannot be polled: they are read on every tick. */
	return r->pollable ? r->fd : -1;
}

static void handle_line(struct source *src, struct replay *r, char *line, size_t n)
{
	static struct log_rate rate;
	char err[128];

	r->line_no++;
	while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	if (n == 0)
		return;
	if (event_json_decode(line, n, &r->ev, err, sizeof(err), NULL) != 0) {
		r->bad++;
		atomic_fetch_add(&src->agent->counters.malformed, 1);
		log_ratelimited(&rate, 20, LOG_LEVEL_WARN, "replay", "line %llu skipped: %s",
				(unsigned long long)r->line_no, err);
		return;
	}
	agent_emit(src->agent, &r->ev);
}

static int replay_poll(struct source *src)
{
	struct replay *r = src->priv;
	unsigned lines = 0;

	while (lines < LINES_PER_TICK) {
		char *nl = memchr(r->buf, '\n', r->len);

		if (nl) {
			size_t n = (size_t)(nl - r->buf);

			if (r->skipping)
				r->skipping = false;
			else
				handle_line(src, r, r->buf, n);
			memmove(r->buf, nl + 1, r->len - n - 1);
			r->len -= n + 1;
			lines++;
			continue;
		}
		if (r->len > EVENT_JSON_MAX_LINE) {
			/* Too long to be an event: count it once and skip to the next newline. */
			static struct log_rate rate;

			if (!r->skipping) {
				r->line_no++;
				r->bad++;
				atomic_fetch_add(&src->agent->counters.malformed, 1);
				log_ratelimited(&rate, 20, LOG_LEVEL_WARN, "replay",
						"line %llu skipped: longer than %zu bytes",
						(unsigned long long)r->line_no,
						EVENT_JSON_MAX_LINE);
			}
			r->skipping = true;
			r->len = 0;
		}
		if (r->eof) {
			if (r->len && !r->skipping)
				handle_line(src, r, r->buf, r->len);
			r->len = 0;
			return 1;
		}
		ssize_t got = read(r->fd, r->buf + r->len, r->cap - 1 - r->len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN)
			return 0;
		if (got <= 0) {
			r->eof = true;
			continue;
		}
		r->len += (size_t)got;
	}
	return 0;
}

static void replay_tick(struct source *src, uint64_t now_ns)
{
	struct replay *r = src->priv;

	(void)now_ns;
	/* epoll only says when the pipe has new bytes: lines already read but left by the
	 * per-tick cap are taken here. */
	if (r->pollable && r->len && memchr(r->buf, '\n', r->len))
		replay_poll(src);
}

static void replay_close(struct source *src)
{
	struct replay *r = src->priv;

	if (!r)
		return;
	if (r->bad)
		log_warn("replay", "finished lines=%llu malformed=%llu",
			 (unsigned long long)r->line_no, (unsigned long long)r->bad);
	close(r->fd);
	free(r->buf);
	free(r);
	src->priv = NULL;
}

const struct source_ops source_replay_ops = {
    .name = "replay",
    .open = replay_open,
    .cover = replay_cover,
    .fd = replay_fd,
    .poll = replay_poll,
    .tick = replay_tick,
    .close = replay_close,
};
