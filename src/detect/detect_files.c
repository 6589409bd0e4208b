#include "detect_files.h"

#include <errno.h>
#include <string.h>

#include "detect.h"
#include "dynbuf.h"
#include "file_read.h"
#include "sigma_int.h"

struct load_ctx {
	struct detect_engine *e;
	struct dynbuf buf;
	int files;
};

static int load_one(void *ctx, const char *path)
{
	struct load_ctx *l = ctx;
	int rc = file_read(path, DETECT_FILES_MAX_BYTES, &l->buf);
	if (rc < 0) {
		detect_engine_diag(l->e, path, 0, NULL, true, "cannot read: %s",
				   rc == -EFBIG ? "file too large" : strerror(-rc));
		detect_engine_count_doc(l->e, false);
		return 0;
	}
	l->files++;
	detect_engine_add_yaml(l->e, path, l->buf.data, l->buf.len);
	return 0;
}

int detect_files_load(struct detect_engine *e, const char *path)
{
	static const char *const suffixes[] = {".yml", ".yaml", NULL};
	struct load_ctx l = {.e = e};
	dynbuf_init(&l.buf, DETECT_FILES_MAX_BYTES + 1);
	int rc = file_list(path, suffixes, DETECT_FILES_MAX, load_one, &l);
	dynbuf_release(&l.buf);
	return rc < 0 ? rc : l.files;
}
