#include "file_read.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dynbuf.h"

#include "banned.h"

int file_read(const char *path, size_t cap, struct dynbuf *out)
{
	dynbuf_reset(out);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	int rc = 0;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if ((size_t)st.st_size > cap) {
		rc = -EFBIG;
		goto out;
	}
	for (;;) {
		if (out->len >= cap) {
			char c;
			ssize_t extra = read(fd, &c, 1);
			rc = extra > 0 ? -EFBIG : 0;
			break;
		}
		size_t want = cap - out->len < 65536 ? cap - out->len : 65536;
		if ((rc = dynbuf_reserve(out, want)) < 0)
			break;
		ssize_t n = read(fd, out->data + out->len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->data[out->len] = 0;
	}
	if (rc == 0 && !out->data)
		rc = dynbuf_reserve(out, 0);
out:
	close(fd);
	return rc;
}

static bool has_suffix(const char *name, const char *const *suffixes)
{
	if (!suffixes)
		return true;
	size_t n = strlen(name);
	for (const char *const *s = suffixes; *s; s++) {
		size_t k = strlen(*s);
		if (n >= k && strcmp(name + n - k, *s) == 0)
			return true;
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct walk {
	const char *const *suffixes;
	size_t max, count;
	file_list_fn fn;
	void *ctx;
};

static int walk_dir(struct walk *w, const char *dir, unsigned depth)
{
	if (depth > 16)
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*nn));
			if (!nn) {
				rc = -ENOMEM;
				goto out;
			}
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = -ENOMEM;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[4096];
		int k = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (k < 0 || (size_t)k >= sizeof(path))
			continue;
		struct stat st;
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			rc = walk_dir(w, path, depth + 1);
		} else if (S_ISREG(st.st_mode) && has_suffix(names[i], w->suffixes)) {
			if (++w->count > w->max) {
				rc = -E2BIG;
				break;
			}
			rc = w->fn(w->ctx, path);
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

int file_list(const char *root, const char *const *suffixes, size_t max_files, file_list_fn fn,
	      void *ctx)
{
	struct stat st;
	if (stat(root, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode))
		return fn(ctx, root);
	if (!S_ISDIR(st.st_mode))
		return -EINVAL;
	struct walk w = {.suffixes = suffixes, .max = max_files, .fn = fn, .ctx = ctx};
	return walk_dir(&w, root, 0);
}
