/* Alerts raised by agents (their own detection, also while offline) arrive in event batches as
 * ECS alert documents (event.kind alert). This checks each one, binds it to the agent that sent
 * it (agent.id from its certificate, whatever the document claims) and turns it into a row of
 * the alerts table, where the id makes the agent's and the server's copy of one alert one row. */
#ifndef MAMORI_ALERT_INTAKE_H
#define MAMORI_ALERT_INTAKE_H

#include <stddef.h>

#include "store.h"

struct alert_intake {
	struct store_alert_row *rows;
	size_t n, cap;
	char **strings; /* owned by rows until the next reset */
	size_t nstrings, capstrings;
};

void alert_intake_init(struct alert_intake *ai);
void alert_intake_release(struct alert_intake *ai);
/* Forgets the rows of the previous batch. */
void alert_intake_reset(struct alert_intake *ai);
/* Adds the alert in row (an event.kind alert line) from agent_id. 0; -EINVAL with a reason in
 * err when it is not a usable alert (the line is then rejected like a malformed event). */
int alert_intake_add(struct alert_intake *ai, const char *agent_id,
		     const struct store_event_row *row, char *err, size_t errlen);
/* Keeps s (heap) until the next reset and returns it; NULL (s freed) when out of memory. */
const char *alert_intake_keep(struct alert_intake *ai, char *s);
/* A zeroed row past the last; the caller fills it and counts it (ai->n++). NULL: no memory. */
struct store_alert_row *alert_intake_grow(struct alert_intake *ai);
/* Appends rows (borrowed) after the intake's own. 0 or -ENOMEM. */
int alert_intake_append(struct alert_intake *ai, const struct store_alert_row *rows, size_t n);

#endif
