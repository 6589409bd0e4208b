/* DNS query parser: any bytes parse or fail cleanly; a parsed name is a bounded C string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_parse.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_question q;

	if (dns_parse_query(data, size, &q) == 0 && strnlen(q.name, sizeof(q.name)) >= sizeof(q.name))
		abort();
	return 0;
}
