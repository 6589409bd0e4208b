/* Is a host fully supported? Checks the kernel version and distribution reported in the
 * agent's inventory (and the sources it runs) against the list in docs/support.md. Pure. */
#ifndef MAMORI_SUPPORT_H
#define MAMORI_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>

/* platform/version as in host.os (e.g. "debian", "12"); kernel as in host.os.kernel;
 * ebpf_active: whether the agent reports the ebpf source active (-1 unknown). Returns true
 * when fully supported; reason always gets one line. */
bool support_check(const char *platform, const char *version, const char *kernel, int ebpf_active,
		   char *reason, size_t size);

#endif
