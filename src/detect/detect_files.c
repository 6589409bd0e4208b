#include "detect_files.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "detect.h"
#include "dynbuf.h"
#include "file_read.h"
#include "ioc.h"
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

struct ioc_ctx {
	struct ioc_set *s;
	detect_diag_fn diag;
	void *ctx;
	struct dynbuf buf;
	int files;
};

static int ioc_one(void *ctx, const char *path)
{
	struct ioc_ctx *l = ctx;
	int rc = file_read(path, DETECT_FILES_MAX_IOC_BYTES, &l->buf);
	if (rc == 0) {
		l->files++;
		rc = ioc_set_add_text(l->s, path, l->buf.data, l->buf.len, l->diag, l->ctx);
	}
	if (rc < 0 && l->diag) {
		char msg[160];
		snprintf(msg, sizeof(msg), "indicators not loaded: %s",
			 rc == -EFBIG ? "file too large" : strerror(-rc));
		struct detect_diag d = {.path = path, .message = msg, .fatal = true};
		l->diag(l->ctx, &d);
	}
	return 0;
}

int detect_files_load_iocs(struct ioc_set *s, const char *path, detect_diag_fn diag, void *ctx)
{
	struct ioc_ctx l = {.s = s, .diag = diag, .ctx = ctx};
	dynbuf_init(&l.buf, DETECT_FILES_MAX_IOC_BYTES + 1);
	int rc = file_list(path, NULL, 10000, ioc_one, &l);
	dynbuf_release(&l.buf);
	return rc < 0 ? rc : l.files;
}

struct hash_ctx {
	uint64_t h;
	struct dynbuf buf;
};

static int hash_one(void *ctx, const char *path)
{
	struct hash_ctx *hc = ctx;
	for (const char *p = path; *p; p++)
		hc->h = (hc->h ^ (unsigned char)*p) * 1099511628211ull;
	if (file_read(path, DETECT_FILES_MAX_IOC_BYTES, &hc->buf) == 0)
		for (size_t i = 0; i < hc->buf.len; i++)
			hc->h = (hc->h ^ (unsigned char)hc->buf.data[i]) * 1099511628211ull;
	return 0;
}

int detect_files_hash(const char *path, const char *const *suffixes, uint64_t *h)
{
	struct hash_ctx hc = {.h = *h};
	dynbuf_init(&hc.buf, DETECT_FILES_MAX_IOC_BYTES + 1);
	int rc = file_list(path, suffixes, 100000, hash_one, &hc);
	dynbuf_release(&hc.buf);
	*h = hc.h;
	return rc < 0 ? rc : 0;
}
