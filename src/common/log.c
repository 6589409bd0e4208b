#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <pthread.h>

#include "banned.h"

static enum log_level current_level = LOG_LEVEL_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
	current_level = level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool log_enabled(enum log_level level)
{
	return level >= current_level;
}

__attribute__((format(printf, 3, 0))) static void log_vmsg(enum log_level level,
								const char *component,
								const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ldZ %-5s %-9s ", when, ts.tv_nsec / 1000000, level_names[level],
		component);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
}

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vmsg(level, component, fmt, ap);
	va_end(ap);
}

void log_ratelimited(struct log_rate *state, unsigned per_minute, enum log_level level,
		     const char *component, const char *fmt, ...)
{
	va_list ap;
	long window = (long)(time(NULL) / 60);

	if (!log_enabled(level))
		return;
	if (state->window != window) {
		if (state->suppressed)
			log_msg(level, component, "suppressed=%u similar messages in the last minute",
				state->suppressed);
		state->window = window;
		state->count = 0;
		state->suppressed = 0;
	}
	if (state->count >= per_minute) {
		state->suppressed++;
		return;
	}
	state->count++;
	va_start(ap, fmt);
	log_vmsg(level, component, fmt, ap);
	va_end(ap);
}
