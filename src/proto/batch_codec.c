#include "batch_codec.h"

#include <errno.h>
#include <string.h>

#include <zstd.h>

#include "banned.h"

int batch_compress(const void *in, size_t len, int level, struct dynbuf *out)
{
	size_t bound = ZSTD_compressBound(len), start = out->len, n;
	int rc;

	rc = dynbuf_reserve(out, bound);
	if (rc)
		return rc;
	n = ZSTD_compress(out->data + start, bound, in, len, level);
	if (ZSTD_isError(n)) {
		out->data[start] = 0;
		return -EIO;
	}
	out->len = start + n;
	out->data[out->len] = 0;
	return 0;
}

int batch_decompress(const void *in, size_t len, size_t max_out, struct dynbuf *out)
{
	ZSTD_inBuffer ib = {in, len, 0};
	static __thread char chunk[65536];
	size_t start = out->len, total = 0, ret = 1;
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	int rc = 0;

	if (!dctx)
		return -ENOMEM;
	/* Refuse frames that would need a large window (a tiny frame could otherwise make us
	 * allocate it): 16 MiB is far above what the agent's level-3 frames use. */
	ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 24);
	while (ib.pos < ib.size || ret != 0) {
		ZSTD_outBuffer ob = {chunk, sizeof(chunk), 0};
		size_t before = ib.pos;

		ret = ZSTD_decompressStream(dctx, &ob, &ib);
		if (ZSTD_isError(ret)) {
			rc = -EINVAL;
			goto out;
		}
		total += ob.pos;
		if (total > max_out) {
			rc = -E2BIG;
			goto out;
		}
		if (ob.pos && dynbuf_add(out, chunk, ob.pos)) {
			rc = -E2BIG;
			goto out;
		}
		if (ib.pos == ib.size && ob.pos < sizeof(chunk) && ret != 0) {
			/* Input exhausted mid-frame. */
			rc = -EINVAL;
			goto out;
		}
		if (ib.pos == before && ob.pos == 0 && ret != 0) {
			rc = -EINVAL;
			goto out;
		}
	}
out:
	if (rc)
		dynbuf_truncate(out, start);
	ZSTD_freeDCtx(dctx);
	return rc;
}
