/* Block filters of the SQLite store: any bytes read as a stored filter answer without crashing,
 * and a filter built from the input's keys holds every one of them (no false negative). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event_bloom.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_KEYS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_bloom b;
	struct dynbuf f;
	uint64_t probe = 0;
	size_t n = size / 8 < MAX_KEYS ? size / 8 : MAX_KEYS;

	/* The input as a stored filter, probed with its first 8 bytes. */
	if (size >= 8)
		memcpy(&probe, data, 8);
	(void)event_bloom_may_contain(data, size, probe);
	(void)event_bloom_may_contain(data, size, event_bloom_key("path", (const char *)data, size));

	/* The input as keys: each one is found in the filter built from them. */
	event_bloom_init(&b);
	dynbuf_init(&f, (size_t)1 << 20);
	for (size_t i = 0; i < n; i++) {
		uint64_t k;

		memcpy(&k, data + i * 8, 8);
		if (event_bloom_add(&b, k))
			abort();
	}
	if (event_bloom_write(&b, &f))
		abort();
	for (size_t i = 0; i < n; i++) {
		uint64_t k;

		memcpy(&k, data + i * 8, 8);
		if (!event_bloom_may_contain(f.data, f.len, k))
			abort();
	}
	event_bloom_release(&b);
	dynbuf_release(&f);
	return 0;
}
