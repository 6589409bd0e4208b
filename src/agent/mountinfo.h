/* Reading /proc/self/mountinfo: one line into its fields (escapes undone), and finding the mount
 * point of a filesystem type. Shared by the fanotify source (marks) and the eBPF source (the
 * cgroup v2 root for the DNS hooks). */
#ifndef MAMORI_MOUNTINFO_H
#define MAMORI_MOUNTINFO_H

#include <stddef.h>
#include <sys/types.h>

struct mountinfo_entry {
	unsigned long id;
	dev_t dev;
	char *root, *point, *type; /* point into the parsed line */
};

/* "id parent maj:min root point opts [optional...] - type source superopts", split in place.
 * 0, or -EINVAL for a malformed line. */
int mountinfo_parse_line(char *line, struct mountinfo_entry *m);

/* The first mount point of a filesystem of this type into out[size]. 0, -ENOENT when there is
 * none, or a negative errno when mountinfo cannot be read. */
int mountinfo_find_type(const char *type, char *out, size_t size);

#endif
