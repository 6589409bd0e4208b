/* mountinfo line parser: any bytes split cleanly or are refused; fields stay inside the line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mountinfo.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mountinfo_entry m;
	char *line = malloc(size + 1);

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (mountinfo_parse_line(line, &m) == 0 &&
	    (m.point < line || m.point > line + size || m.type < line || m.type > line + size))
		abort();
	free(line);
	return 0;
}
