/* Event JSON decoder and encoder: any input decodes or fails cleanly, and whatever decodes
 * re-encodes to JSON that decodes again to the same encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event_json.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event a, b;
	static struct dynbuf e1, e2;
	char err[128];

	if (event_json_decode((const char *)data, size, &a, err, sizeof(err), NULL) != 0)
		return 0;
	dynbuf_init(&e1, EVENT_JSON_MAX_LINE);
	dynbuf_init(&e2, EVENT_JSON_MAX_LINE);
	if (event_json_encode(&a, &e1) == 0) {
		if (event_json_decode(e1.data, e1.len, &b, err, sizeof(err), NULL) != 0)
			abort();
		if (event_json_encode(&b, &e2) != 0 || e1.len != e2.len ||
		    memcmp(e1.data, e2.data, e1.len) != 0)
			abort();
	}
	dynbuf_release(&e1);
	dynbuf_release(&e2);
	return 0;
}
