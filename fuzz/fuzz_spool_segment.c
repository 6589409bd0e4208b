/* Spool segment records: any bytes decode or fail cleanly, record by record as the spool reads a
 * segment; a decoded record stays inside the input and re-encodes to the same header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool_record.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		struct spool_record r;
		uint8_t hdr[SPOOL_RECORD_HEADER_LEN];
		size_t used = 0;

		if (spool_record_decode(data + off, size - off, &r, &used))
			break;
		if (used != SPOOL_RECORD_HEADER_LEN + (size_t)r.len || used > size - off ||
		    r.payload != data + off + SPOOL_RECORD_HEADER_LEN)
			abort();
		spool_record_encode_header(&r, r.payload, hdr);
		if (memcmp(hdr, data + off, sizeof(hdr)) != 0)
			abort();
		off += used;
	}
	return 0;
}
