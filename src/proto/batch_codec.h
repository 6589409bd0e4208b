/* zstd framing of event batches (docs/protocol.md): the agent compresses NDJSON, the server
 * decompresses with a hard cap on the output so a small hostile frame cannot expand unbounded. */
#ifndef MAMORI_BATCH_CODEC_H
#define MAMORI_BATCH_CODEC_H

#include <stddef.h>

#include "dynbuf.h"

/* Appends the zstd frame of in[0..len) to out. 0 or a negative errno. */
int batch_compress(const void *in, size_t len, int level, struct dynbuf *out);
/* Appends the decompressed content of the zstd frame(s) in in[0..len) to out, failing with
 * -E2BIG beyond max_out bytes and -EINVAL on a malformed or truncated frame. */
int batch_decompress(const void *in, size_t len, size_t max_out, struct dynbuf *out);

#endif
