/* zstd framing of event batches (docs/protocol.md): the agent compresses NDJSON, the server
 * decompresses with a hard cap on the output so a small hostile frame cannot expand unbounded. */
#ifndef MAMORI_BATCH_CODEC_H
#define MAMORI_BATCH_CODEC_H

#include <stddef.h>

#include "dynbuf.h"

/* The most bytes of text in one frame: batch_compress cuts its input into frames of whole
 * lines up to this size, so a reader can inflate one frame to reach one line. */
#define BATCH_FRAME_MAX 65536

/* Appends zstd frames of in[0..len) to out, one per run of whole lines of at most
 * BATCH_FRAME_MAX bytes (each frame records its content size). 0 or a negative errno. */
int batch_compress(const void *in, size_t len, int level, struct dynbuf *out);
/* Appends the decompressed content of the zstd frame(s) in in[0..len) to out, failing with
 * -E2BIG beyond max_out bytes and -EINVAL on a malformed or truncated frame. */
int batch_decompress(const void *in, size_t len, size_t max_out, struct dynbuf *out);

#endif
