/* libFuzzer target for procnet_parse: each input line as a /proc/net/tcp{,6} row, the parsed
 * addresses formatted back, and the input as an fd link target. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "procnet_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *end = text + size;
	struct procnet_sock s;
	char ip[PROCNET_PARSE_IP_LEN];
	uint64_t inode;

	(void)procnet_parse_socket_link(text, size, &inode);
	/* Lines as src_procfs.c feeds them: without the newline, not NUL-terminated. */
	while (text < end) {
		const char *nl = memchr(text, '\n', (size_t)(end - text));
		size_t len = nl ? (size_t)(nl - text) : (size_t)(end - text);

		if (procnet_parse_line(text, len, &s) == 0) {
			if (procnet_parse_format_ip(s.family, s.local, ip, sizeof(ip)) < 0 ||
			    procnet_parse_format_ip(s.family, s.remote, ip, sizeof(ip)) < 0)
				__builtin_trap();
		}
		text += len + 1;
	}
	return 0;
}
