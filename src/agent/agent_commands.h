/* Commands the server sends to the agent (docs/protocol.md, "Commands"): one handler per type. */
#ifndef MAMORI_AGENT_COMMANDS_H
#define MAMORI_AGENT_COMMANDS_H

#include <jansson.h>

/* Runs one command. Returns 0 with *result (new reference) for "ok", or a negative errno with
 * *result describing the error. */
int agent_command_run(const char *type, json_t *args, json_t **result);

#endif
