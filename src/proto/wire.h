/* Constants and small pure helpers of the agent <-> server protocol (docs/protocol.md): header
 * names, size limits, and parsing of the batch epoch and sequence headers. */
#ifndef MAMORI_WIRE_H
#define MAMORI_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_HDR_EPOCH "X-Mamori-Epoch"
#define WIRE_HDR_SEQ "X-Mamori-Seq"

#define WIRE_MAX_BODY ((size_t)8 * 1024 * 1024)	      /* compressed batch */
#define WIRE_MAX_BATCH ((size_t)64 * 1024 * 1024)     /* after decompression */
#define WIRE_MAX_JSON_BODY ((size_t)1024 * 1024)     /* enroll, heartbeat, results, API */
#define WIRE_MAX_LONGPOLL_S 55

/* Parses exactly 16 hex digits. 0 or -EINVAL. */
int wire_parse_epoch(const char *s, uint64_t *out);
/* Formats an epoch as 16 lowercase hex digits plus NUL into buf (>= 17 bytes). */
void wire_format_epoch(uint64_t epoch, char *buf, size_t size);
/* Parses a decimal u64 without sign, spaces or leading zeros (except "0"). 0 or -EINVAL. */
int wire_parse_seq(const char *s, uint64_t *out);

#endif
