#include "respond_collect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "banned.h"

static int fail(json_t **result, int rc, const char *what)
{
	char msg[300];

	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(-rc));
	*result = json_pack("{s:s}", "error", msg);
	return rc;
}

/* Reads exactly size bytes (the file may not grow past what fstat said: a longer read fails). */
static int read_all(int fd, unsigned char *buf, size_t size)
{
	size_t got = 0;
	unsigned char extra;

	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* shrank while read */
		got += (size_t)n;
	}
	return read(fd, &extra, 1) == 0 ? 0 : -EFBIG; /* grew while read */
}

int respond_collect(const char *path, size_t max_bytes, json_t **result)
{
	unsigned char *buf = NULL, md[EVP_MAX_MD_SIZE];
	char hex[2 * 32 + 1], *b64 = NULL;
	unsigned int mdlen = 0;
	struct stat st;
	int fd, rc;

	*result = NULL;
	if (!path || path[0] != '/')
		return fail(result, -EINVAL, "path must be absolute");
	if (!max_bytes || max_bytes > RESPOND_COLLECT_MAX)
		max_bytes = RESPOND_COLLECT_MAX;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return fail(result, -errno, path);
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return fail(result, rc, path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(result, -EINVAL, "not a regular file");
	}
	if ((size_t)st.st_size > max_bytes) {
		char what[96];

		close(fd);
		snprintf(what, sizeof(what), "larger than the %zu-byte cap (%lld bytes)", max_bytes,
			 (long long)st.st_size);
		return fail(result, -EFBIG, what);
	}
	buf = malloc((size_t)st.st_size + 1);
	b64 = malloc(4 * (((size_t)st.st_size + 2) / 3) + 1);
	rc = buf && b64 ? read_all(fd, buf, (size_t)st.st_size) : -ENOMEM;
	close(fd);
	if (!rc && !EVP_Digest(buf, (size_t)st.st_size, md, &mdlen, EVP_sha256(), NULL))
		rc = -EIO;
	if (rc) {
		free(buf);
		free(b64);
		return fail(result, rc, path);
	}
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	EVP_EncodeBlock((unsigned char *)b64, buf, (int)st.st_size);
	*result = json_pack("{s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:s}", "path", path, "size",
			    (json_int_t)st.st_size, "sha256", hex, "mode",
			    (json_int_t)(st.st_mode & 07777), "uid", (json_int_t)st.st_uid, "gid",
			    (json_int_t)st.st_gid, "mtime", (json_int_t)st.st_mtime,
			    "content_base64", b64);
	free(buf);
	free(b64);
	if (!*result) /* a path that is not UTF-8 */
		return fail(result, -EINVAL, "path is not valid UTF-8");
	return 0;
}
