/* Live views of a host for an analyst: its processes and its network connections, as the
 * "processes" and "connections" commands return them. docs/response.md. */
#ifndef MAMORI_RESPOND_LIVE_H
#define MAMORI_RESPOND_LIVE_H

#include <jansson.h>

/* At most this many processes or sockets per answer, and at most this many bytes of them: a
 * command result must fit the server's 1 MiB limit on JSON bodies (WIRE_MAX_JSON_BODY). Beyond
 * either, "truncated" is true. */
#define RESPOND_LIVE_MAX 20000
#define RESPOND_LIVE_MAX_BYTES (768u * 1024)

/* *result = {"processes": [{"pid", "ppid", "name", "executable", "command_line",
 * "working_directory", "user": {"id", "effective_id"}, "state", "entity_id", "start_ticks"}],
 * "count", "truncated"} from proc_root ("/proc"), sorted by pid. 0 or a negative errno. */
int respond_processes(const char *proc_root, json_t **result);

/* *result = {"connections": [{"transport", "state", "local": {"ip", "port"}, "remote": {"ip",
 * "port"}, "pid", "process"}], "count", "truncated"}: every TCP socket and every bound UDP
 * socket of the host, with the owning process where one holds it. 0 or a negative errno. */
int respond_connections(json_t **result);

#endif
