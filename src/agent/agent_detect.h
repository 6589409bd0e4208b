/* Local detection on the agent: the same engine, rules and indicators as the server, run on each
 * event before it is queued, so a host cut off from the server still raises alerts. Alerts are
 * ECS alert documents (event.kind alert) written into the event stream, sealed into the spool at
 * once so they leave ahead of the batch timer, and stored once on the server (their id is the
 * same whichever side raised them). */
#ifndef MAMORI_AGENT_DETECT_H
#define MAMORI_AGENT_DETECT_H

#include <stddef.h>
#include <stdint.h>

struct agent_config_list;
struct agent_detect;
struct event;

struct agent_detect_stats {
	uint64_t evaluated, alerts;
	unsigned rules, failed, iocs;
	char version[17];
};

/* Loads every rule path and indicator path (files or directories). Caller owns the result. NULL
 * with err filled when a path cannot be read at all; rules that fail to load are logged. */
struct agent_detect *agent_detect_new(const struct agent_config_list *rules,
				      const struct agent_config_list *iocs, char *err,
				      size_t errlen);
void agent_detect_free(struct agent_detect *d);
/* Matches ev; each hit becomes one alert line given to emit (borrowed during the call).
 * Thread-safe. Returns the number of alerts. */
typedef void (*agent_detect_emit_fn)(void *ctx, const char *line, size_t len);
int agent_detect_event(struct agent_detect *d, const struct event *ev, agent_detect_emit_fn emit,
		       void *ctx);
void agent_detect_get_stats(struct agent_detect *d, struct agent_detect_stats *st);
/* Loads the paths again and swaps the new rules in (SIGHUP); on failure the current ones stay.
 * 0 or -EINVAL with err filled. */
int agent_detect_reload(struct agent_detect *d, const struct agent_config_list *rules,
			const struct agent_config_list *iocs, char *err, size_t errlen);

#endif
