/* Logging for every Mamori binary: one line per record, "ts level component message key=value",
 * to stderr (or a file). log_ratelimited() keeps the event path from flooding the log. */
#ifndef MAMORI_LOG_H
#define MAMORI_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

void log_set_level(enum log_level level);
/* Parses "debug", "info", "warn" or "error"; returns -EINVAL otherwise. */
int log_level_parse(const char *s, enum log_level *out);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* At most `per_minute` records for this call site per minute; the rest are counted and the count
 * is reported with the next record that gets through. `state` is a static per call site. */
struct log_rate {
	long window;
	unsigned count;
	unsigned suppressed;
};
void log_ratelimited(struct log_rate *state, unsigned per_minute, enum log_level level,
		     const char *component, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define log_debug(c, ...)                                                                          \
	do {                                                                                       \
		if (log_enabled(LOG_LEVEL_DEBUG))                                                  \
			log_msg(LOG_LEVEL_DEBUG, c, __VA_ARGS__);                                  \
	} while (0)
#define log_info(c, ...) log_msg(LOG_LEVEL_INFO, c, __VA_ARGS__)
#define log_warn(c, ...) log_msg(LOG_LEVEL_WARN, c, __VA_ARGS__)
#define log_error(c, ...) log_msg(LOG_LEVEL_ERROR, c, __VA_ARGS__)

#endif
