/* Enrollment token parser: any bytes parse or fail cleanly; a parsed token formats and parses
 * back to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enroll_token.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct enroll_token a, b;
	char buf[ENROLL_TOKEN_MAX];

	if (enroll_token_parse((const char *)data, size, &a) != 0)
		return 0;
	if (enroll_token_format(&a, buf, sizeof(buf)) != 0)
		abort();
	if (strlen(buf) != ENROLL_TOKEN_MAX - 1)
		abort();
	if (enroll_token_parse(buf, strlen(buf), &b) != 0)
		abort();
	if (strcmp(a.id, b.id) || strcmp(a.secret, b.secret) || strcmp(a.pin, b.pin))
		abort();
	return 0;
}
