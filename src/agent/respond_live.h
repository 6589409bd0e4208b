/* Live views of a host for an analyst: its processes and its network connections, as the
 * "processes" and "connections" commands return them. docs/response.md. */
#ifndef MAMORI_RESPOND_LIVE_H
#define MAMORI_RESPOND_LIVE_H

#include <jansson.h>

/* At most this many processes or sockets per answer (the rest is counted in "truncated"). */
#define RESPOND_LIVE_MAX 20000

/* *result = {"processes": [{"pid", "ppid", "name", "executable", "command_line",
 * "working_directory", "user": {"id", "effective_id"}, "state", "entity_id", "start_ticks"}],
 * "count", "truncated"} from proc_root ("/proc"), sorted by pid. 0 or a negative errno. */
int respond_processes(const char *proc_root, json_t **result);

/* *result = {"connections": [{"transport", "state", "local": {"ip", "port"}, "remote": {"ip",
 * "port"}, "pid", "process"}], "count", "truncated"}: every TCP socket and every bound UDP
 * socket of the host, with the owning process where one holds it. 0 or a negative errno. */
int respond_connections(json_t **result);

#endif
