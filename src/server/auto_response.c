#include "auto_response.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "detect.h"
#include "log.h"
#include "policy.h"
#include "policy_doc.h"
#include "server_int.h"

#include "banned.h"

/* The agent's copy of an alert and the server's arrive apart; several rules may fire on one
 * process. One response per (alert or process, action) is enough: remember the recent ones. */
#define SEEN 4096
static char seen[SEEN][80];
static unsigned seen_next;

static bool seen_before(const char *agent_id, const char *what, const char *key)
{
	char k[80];

	snprintf(k, sizeof(k), "%.32s/%.10s/%.32s", agent_id, what, key);
	for (unsigned i = 0; i < SEEN; i++)
		if (seen[i][0] && !strcmp(seen[i], k))
			return true;
	snprintf(seen[seen_next++ % SEEN], sizeof(seen[0]), "%s", k);
	return false;
}

/* Files the policy never quarantines by itself: the system's own. A rule that fires on a
 * shell or an interpreter names it as the process, and taking /usr/bin/bash away would do more
 * harm than the attack. An analyst can still quarantine them by hand. */
static bool system_path(const char *p)
{
	static const char *const prefixes[] = {"/usr/", "/bin/",  "/sbin/", "/lib", "/boot/",
					       "/etc/", "/proc/", "/sys/",  "/dev/"};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(p, prefixes[i], strlen(prefixes[i])))
			return true;
	return p[0] != '/';
}

static const char *str(json_t *a, const char *k)
{
	return json_string_value(json_object_get(a, k));
}

static void queue(struct server *s, const char *agent_id, const char *type, json_t *args,
		  const char *reason)
{
	char id[33];

	if (commands_queue(s, agent_id, type, args, "policy", reason, id))
		log_warn("policy", "automatic %s not queued agent=%s err=%s", type, agent_id,
			 store_error(s->store));
	else
		log_info("policy", "automatic %s queued agent=%s command=%s (%s)", type, agent_id,
			 id, reason);
	json_decref(args);
}

static void respond(struct server *s, const char *agent_id, json_t *pol, json_t *a, unsigned acts,
		    const char *reason)
{
	const char *eid = str(a, "entity_id"), *path = str(a, "file_path");
	json_t *pid = json_object_get(a, "pid");

	if (acts & (POLICY_ACT_KILL | POLICY_ACT_KILL_TREE)) {
		bool tree = acts & POLICY_ACT_KILL_TREE;

		if (!json_is_integer(pid) || json_integer_value(pid) <= 1)
			log_warn("policy", "automatic kill skipped: alert %s names no process",
				 str(a, "id"));
		else if (!seen_before(agent_id, tree ? "kill_tree" : "kill",
				      eid ? eid : str(a, "id"))) {
			json_t *args =
			    json_pack("{s:I,s:b}", "pid", json_integer_value(pid), "tree", tree);

			if (eid && strlen(eid) == 32)
				json_object_set_new(args, "entity_id", json_string(eid));
			queue(s, agent_id, "kill", args, reason);
		}
	}
	if (acts & POLICY_ACT_QUARANTINE) {
		if (!path)
			path = str(a, "executable");
		if (!path)
			log_warn("policy", "automatic quarantine skipped: alert %s names no file",
				 str(a, "id"));
		else if (system_path(path))
			log_warn("policy", "automatic quarantine skipped: %s is a system file",
				 path);
		else if (!seen_before(agent_id, "quarantine", path))
			queue(s, agent_id, "quarantine", json_pack("{s:s}", "path", path), reason);
	}
	if (acts & POLICY_ACT_ISOLATE) {
		struct store_val p[] = {store_text(agent_id)};
		int64_t held = 0;
		json_t *iso = json_object_get(pol, "isolation");

		store_query_int(
		    s->store, "SELECT count(*) FROM agents WHERE id = ? AND isolation IS NOT NULL",
		    p, 1, &held);
		if (!held && !seen_before(agent_id, "isolate", str(a, "id")))
			queue(s, agent_id, "isolate",
			      json_pack("{s:O,s:O}", "allow", json_object_get(iso, "allow"), "dns",
					json_object_get(iso, "dns")),
			      reason);
	}
}

void auto_response_alerts(struct server *s, const char *agent_id, json_t *alerts)
{
	int64_t now = server_now_ms(), version = 0;
	json_t *pol = json_incref(policy_of_agent(s, agent_id, &version)), *a;
	size_t i;

	json_array_foreach(alerts, i, a)
	{
		struct policy_alert pa = {
		    .rule_id = str(a, "rule_id"),
		    .severity = (int)json_integer_value(json_object_get(a, "severity")),
		    .executable = str(a, "executable"),
		    .command_line = str(a, "command_line"),
		    .file_path = str(a, "file_path"),
		    .process_sha256 = str(a, "process_sha256"),
		    .file_sha256 = str(a, "file_sha256"),
		};
		const char *id = str(a, "id");
		char reason[400];
		unsigned acts;
		int ex;

		if (!id)
			continue;
		ex = policy_match_excluded(pol, &pa, now);
		if (ex != -1) {
			struct store_val p[] = {store_text(id)};

			/* Only an open alert: every alert is stored open and nothing else sets
			 * a status yet, so this changes nothing today; it keeps a status that a
			 * future edit sets from being overwritten when the alert is sent again (a
			 * re-sent batch, an agent's alert the server also raised). */
			store_exec(s->store,
				   "UPDATE alerts SET status = 'excluded' WHERE id = ? AND status = 'open'",
				   p, 1, NULL, NULL);
			s->c.alerts_excluded++;
			/* Not notified either (notify_alerts). */
			json_object_set_new(a, "excluded", json_true());
			log_debug("policy", "alert %s excluded (%s)", id,
				  ex == -2 ? "rule disabled" : "exclusion");
			continue;
		}
		acts = policy_doc_actions(pol, &pa);
		if (!acts || seen_before(agent_id, "alert", id))
			continue;
		snprintf(reason, sizeof(reason), "auto-response (policy v%lld): %s, %s, alert %s",
			 (long long)version, pa.rule_id ? pa.rule_id : "?",
			 detect_severity_name((enum detect_severity)pa.severity), id);
		respond(s, agent_id, pol, a, acts, reason);
	}
	json_decref(pol);
}
