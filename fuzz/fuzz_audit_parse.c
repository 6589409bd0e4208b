/* libFuzzer target for audit_parse: one record per input, parsed the way src_audit.c does
 * (header, then every field as number, string and EXECVE argument key). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "audit_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct audit_parse_header h;
	struct audit_parse_iter it;
	struct audit_parse_field f;
	char out[256];
	size_t n;

	/* The first byte picks the netlink type hint, as the message type would. */
	uint32_t hint = size ? AUDIT_PARSE_SYSCALL + data[0] % 32 : 0;

	(void)audit_parse_hex(text, size, out, sizeof(out), &n);
	(void)audit_parse_type_name(text, size < 64 ? size : 64);
	if (audit_parse_header(text, size, hint, &h))
		return 0;
	if (h.body > size)
		__builtin_trap();
	audit_parse_iter_init(&it, text, size, &h);
	while (audit_parse_next(&it, &f)) {
		uint64_t u;
		int64_t s;
		uint32_t idx, chunk;

		if (f.key < text || f.key + f.key_len > text + size || f.val < text ||
		    f.val + f.val_len > text + size)
			__builtin_trap();
		(void)audit_parse_u64(&f, 10, &u);
		(void)audit_parse_u64(&f, 16, &u);
		(void)audit_parse_i64(&f, &s);
		if (audit_parse_string(&f, out, sizeof(out), &n) >= 0 &&
		    (n >= sizeof(out) || out[n] != '\0'))
			__builtin_trap();
		(void)audit_parse_arg_key(&f, &idx, &chunk);
		(void)audit_parse_key_is(&f, "exe");
	}
	return 0;
}
