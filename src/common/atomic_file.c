#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

static void sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!dir)
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/* Writes a temporary file next to path and renames it over path, so that a crash leaves either
 * the old file or the new one, never a torn key. */
int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode)
{
	size_t tlen = strlen(path) + sizeof(".tmp.XXXXXX");
	const char *p = data;
	size_t off = 0;
	char *tmp;
	int fd, ret = 0;

	tmp = malloc(tlen);
	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, tlen, "%s.tmp.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out_free;
	}
	if (fchmod(fd, mode) != 0) {
		ret = -errno;
		goto out_unlink;
	}
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out_unlink;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		ret = -errno;
		goto out_unlink;
	}
	ret = close(fd) != 0 ? -errno : 0;
	fd = -1;
	if (ret == 0 && rename(tmp, path) != 0)
		ret = -errno;
	if (ret == 0) {
		sync_parent(path);
		goto out_free;
	}
out_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out_free:
	free(tmp);
	return ret;
}
