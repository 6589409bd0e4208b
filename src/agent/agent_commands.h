/* Commands the server sends to the agent (docs/protocol.md, "Commands"): one handler per type. */
#ifndef MAMORI_AGENT_COMMANDS_H
#define MAMORI_AGENT_COMMANDS_H

#include <jansson.h>

struct agent_identity;

/* What handlers need from the running agent: its enrolled identity (server URL, certificates)
 * and state directory. Both borrowed until agent_commands_configure(NULL, NULL). Set once before
 * the uplink starts (a saved isolation is re-applied then); without it, isolation is refused. */
void agent_commands_configure(const struct agent_identity *id, const char *state_dir);

/* Runs one command. Returns 0 with *result (new reference) for "ok", or a negative errno with
 * *result describing the error. */
int agent_command_run(const char *type, json_t *args, json_t **result);

/* Periodic duties of the command side (about every heartbeat): isolation kept in place. */
void agent_commands_tick(void);

#endif
