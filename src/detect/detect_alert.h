/* The alert document (ECS names) built from an engine hit and the event that triggered it, the
 * same on the server, the agent and in `mamori scan`, with an id derived from the rule and the
 * event so an alert raised twice (agent offline, then server) is stored once. */
#ifndef MAMORI_DETECT_ALERT_H
#define MAMORI_DETECT_ALERT_H

#include <jansson.h>
#include <stdint.h>

#include "detect.h"

/* A new alert object (caller owns the reference): @timestamp of the event, event.kind alert,
 * event.id, event.created (created_ns), rule.*, risk_score, threat.*, host.name, agent.id,
 * process.{entity_id,pid,executable,command_line}, mamori.advice and mamori.events (a copy of
 * event, borrowed, which may be NULL), and for correlations mamori.correlation.{group,count}.
 * NULL when out of memory. */
json_t *detect_alert_new(const struct detect_hit *hit, json_t *event, uint64_t created_ns);

struct ioc_hit;
/* mamori.indicator of an indicator alert: {type, list, field, value}. Caller owns it; NULL when
 * out of memory. */
json_t *detect_alert_indicator(const struct ioc_hit *ih);

/* Value at a dotted ECS path in a nested (or dotted-key) JSON object, or NULL. Borrowed. */
json_t *detect_json_path(json_t *obj, const char *path);

/* Sets the value at a dotted path of an alert, making the objects on the way; takes val's
 * reference (also on failure). 0, or -1. */
int detect_alert_set(json_t *alert, const char *path, json_t *val);

#endif
