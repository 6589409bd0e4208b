#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static const struct {
	const char *platform;
	const char *versions[6]; /* major versions; NULL-terminated */
} distros[] = {
    {"debian", {"11", "12", "13", NULL}},
    {"ubuntu", {"20.04", "22.04", "24.04", NULL}},
    {"rhel", {"8", "9", "10", NULL}},
    {"rocky", {"8", "9", "10", NULL}},
    {"almalinux", {"8", "9", "10", NULL}},
    {"centos", {"9", "10", NULL}},
    {"amzn", {"2023", NULL}},
    {"fedora", {"40", "41", "42", "43", NULL}},
    {"sles", {"15", NULL}},
};

static bool parse_kernel(const char *k, unsigned *maj, unsigned *min)
{
	char *end;

	if (!k)
		return false;
	*maj = (unsigned)strtoul(k, &end, 10);
	if (end == k || *end != '.')
		return false;
	k = end + 1;
	*min = (unsigned)strtoul(k, &end, 10);
	return end != k;
}

static bool version_matches(const char *want, const char *have)
{
	size_t n = strlen(want);

	/* "9.4" matches "9"; "22.04" must match exactly up to its length. */
	return !strncmp(want, have, n) && (have[n] == 0 || have[n] == '.');
}

bool support_check(const char *platform, const char *version, const char *kernel, int ebpf_active,
		   char *reason, size_t size)
{
	unsigned maj = 0, min = 0;
	bool distro_ok = false, known = false;

	if (!parse_kernel(kernel, &maj, &min)) {
		snprintf(reason, size, "no inventory yet: kernel version unknown");
		return false;
	}
	if (maj < 4 || (maj == 4 && min < 18)) {
		snprintf(reason, size, "kernel %u.%u is older than 4.18: not supported", maj, min);
		return false;
	}
	for (size_t i = 0; platform && version && i < sizeof(distros) / sizeof(distros[0]); i++) {
		if (strcmp(distros[i].platform, platform))
			continue;
		known = true;
		for (size_t j = 0; distros[i].versions[j]; j++)
			if (version_matches(distros[i].versions[j], version))
				distro_ok = true;
	}
	if (maj < 5 || (maj == 5 && min < 8)) {
		snprintf(reason, size,
			 "kernel %u.%u lacks BPF ring buffers (5.8+): running on netlink/audit "
			 "fallbacks",
			 maj, min);
		return false;
	}
	if (ebpf_active == 0) {
		snprintf(reason, size,
			 "the ebpf source is not active (no BTF or not permitted): "
			 "running on fallbacks");
		return false;
	}
	if (!distro_ok) {
		snprintf(reason, size, "%s %s is %s: kernel telemetry works, packaging untested",
			 platform ? platform : "unknown distribution", version ? version : "",
			 known ? "a version outside the tested list" : "not in the tested list");
		return false;
	}
	snprintf(reason, size, "%s %s, kernel %u.%u", platform, version, maj, min);
	return true;
}
