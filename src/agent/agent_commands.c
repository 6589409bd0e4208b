#include "agent_commands.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

static int cmd_ping(json_t *args, json_t **result)
{
	struct timespec ts;

	(void)args;
	clock_gettime(CLOCK_REALTIME, &ts);
	*result =
	    json_pack("{s:b,s:I,s:i}", "pong", 1, "agent_time_ms",
		      (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, "pid", (int)getpid());
	return 0;
}

static const struct {
	const char *type;
	int (*run)(json_t *args, json_t **result);
} handlers[] = {
    {"ping", cmd_ping},
};

int agent_command_run(const char *type, json_t *args, json_t **result)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (type && !strcmp(handlers[i].type, type))
			return handlers[i].run(args, result);
	*result = json_pack("{s:s}", "error", "unsupported command type");
	return -ENOTSUP;
}
