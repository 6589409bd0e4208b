#include "batch_codec.h"

#include <errno.h>
#include <string.h>

#include <zstd.h>

#include "banned.h"

/* Whole lines of at most BATCH_FRAME_MAX bytes per frame (a longer line is cut): the server can
 * then inflate one frame to read one event back from a stored batch. */
int batch_compress(const void *in, size_t len, int level, struct dynbuf *out)
{
	const char *p = in;
	size_t start = out->len, done = 0;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	int rc = 0;

	if (!cctx)
		return -ENOMEM;
	do {
		size_t take = len - done, bound, n;

		if (take > BATCH_FRAME_MAX) {
			const char *nl = memrchr(p + done, '\n', BATCH_FRAME_MAX);

			take = nl ? (size_t)(nl - (p + done)) + 1 : BATCH_FRAME_MAX;
		}
		bound = ZSTD_compressBound(take);
		rc = dynbuf_reserve(out, bound);
		if (rc)
			break;
		n = ZSTD_compressCCtx(cctx, out->data + out->len, bound, p + done, take, level);
		if (ZSTD_isError(n)) {
			rc = -EIO;
			break;
		}
		out->len += n;
		done += take;
	} while (done < len);
	ZSTD_freeCCtx(cctx);
	if (rc)
		dynbuf_truncate(out, start);
	else
		out->data[out->len] = 0;
	return rc;
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
