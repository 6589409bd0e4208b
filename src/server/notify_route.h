/* Notification routes as a document (docs/notifications.md): which alerts (host groups, minimum
 * severity, ATT&CK tags) go where (a webhook, e-mail over SMTP, syslog to a SIEM) in which
 * language. Validation fills every default so the stored form is complete; matching an alert
 * and masking secrets are here too. Pure: no store, no I/O. */
#ifndef MAMORI_NOTIFY_ROUTE_H
#define MAMORI_NOTIFY_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define NOTIFY_MAX_ROUTES 64
#define NOTIFY_MAX_LIST 100 /* groups, tags, recipients, headers: each list */
#define NOTIFY_NAME_MAX 64
#define NOTIFY_MASK "********"

/* What a route looks at in an alert. Strings borrowed; NULL or "" when absent. */
struct notify_alert_facts {
	const char *group;	/* the agent's host group */
	int severity;		/* enum detect_severity */
	const char *tactics;	/* comma-separated ATT&CK tactic names: "Execution,Impact" */
	const char *techniques; /* comma-separated technique ids: "T1059.004,T1105" */
};

/* Checks a routes document {"routes": [...]} and returns its complete form (new ref): defaults
 * filled, tags lowercased. NULL with "routes[i].key: problem" in err. */
json_t *notify_routes_normalize(json_t *doc, char *err, size_t errlen);

/* Secrets given back as NOTIFY_MASK (what a GET shows) take the stored value of the route of
 * the same name in old (may be NULL). 0, or -EINVAL with the problem in err. */
int notify_routes_unmask(json_t *doc, json_t *old, char *err, size_t errlen);

/* A copy of doc with e-mail passwords and webhook header values replaced by NOTIFY_MASK. New
 * ref, NULL when out of memory. */
json_t *notify_routes_masked(json_t *doc);

/* The route named name in doc, or NULL. Borrowed from doc. */
json_t *notify_routes_find(json_t *doc, const char *name);

bool notify_route_matches(json_t *route, const struct notify_alert_facts *f);

/* "webhook", "email" or "syslog": the route's destination kind, its object in *dest. NULL for
 * a route that has none (not normalized). */
const char *notify_route_kind(json_t *route, json_t **dest);

/* The syslog facility code (0-23) of a name ("local4", "auth") or -1. */
int notify_facility_code(const char *name);

#endif
