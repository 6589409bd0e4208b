/* Agent configuration loader: any YAML loads or fails with a message, never crashes or leaks. */
#include <stdint.h>
#include <stdlib.h>

#include "agent_config.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config c;
	char err[256];

	agent_config_init(&c);
	agent_config_load_string(&c, (const char *)data, size, "fuzz.yml", err, sizeof(err));
	agent_config_release(&c);
	return 0;
}
