/* fanotify info records: whatever bytes follow the metadata, decoding stays inside the event
 * and every name it returns is NUL-terminated within it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanotify_parse.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const struct fan_fid *f, const char *raw, size_t len)
{
	if (f->name && (f->name < raw || f->name >= raw + len ||
			!memchr(f->name, '\0', (size_t)(raw + len - f->name))))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fanotify_event_metadata m;
	struct fan_info fi;
	char *raw;

	if (size < sizeof(m) || size > 65536)
		return 0;
	memcpy(&m, data, sizeof(m));
	/* As the reader does: an event never claims more than was read. */
	if (m.event_len > size)
		m.event_len = (uint32_t)size;
	raw = malloc(m.event_len ? m.event_len : 1);
	if (!raw)
		return 0;
	memcpy(raw, data, m.event_len);
	if (fanotify_parse_info(raw, &m, &fi) == 0) {
		check_name(&fi.dfid_name, raw, m.event_len);
		check_name(&fi.old_name, raw, m.event_len);
		check_name(&fi.new_name, raw, m.event_len);
	}
	free(raw);
	return 0;
}
