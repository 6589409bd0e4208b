#include "mountinfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "event.h"

#include "banned.h"

/* Undoes mountinfo's octal escapes ("\\040" for a space) in place. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++, w++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w = *r;
		}
	}
	*w = '\0';
}

int mountinfo_parse_line(char *line, struct mountinfo_entry *m)
{
	unsigned maj, min;
	int root = 0, root_end = 0, point = 0, point_end = 0;
	char *type;

	/* NOLINTNEXTLINE(cert-err34-c): kernel-generated numbers */
	if (sscanf(line, "%lu %*u %u:%u %n%*s%n %n%*s%n", &m->id, &maj, &min, &root, &root_end,
		   &point, &point_end) != 3 ||
	    !point_end || !(type = strstr(line + point_end, " - ")))
		return -EINVAL;
	type += 3;
	type[strcspn(type, " \n")] = '\0';
	line[root_end] = line[point_end] = '\0';
	m->dev = makedev(maj, min);
	m->root = line + root;
	m->point = line + point;
	m->type = type;
	unescape_octal(m->root);
	unescape_octal(m->point);
	return 0;
}

int mountinfo_find_type(const char *type, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	struct mountinfo_entry m;
	char *line = NULL;
	size_t cap = 0;
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if (mountinfo_parse_line(line, &m) == 0 && strcmp(m.type, type) == 0) {
			event_copy_str(out, size, m.point, strlen(m.point));
			rc = 0;
			break;
		}
	}
	free(line);
	(void)fclose(f);
	return rc;
}
