/* One spool record (a sealed event batch as stored in a segment file): its fixed little-endian
 * header, CRC-32C, and a decoder that is a pure function over a buffer so it can be fuzzed.
 * Layout: magic u32 | len u32 | epoch u64 | seq u64 | events u32 | crc32c u32 | payload. */
#ifndef MAMORI_SPOOL_RECORD_H
#define MAMORI_SPOOL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_RECORD_MAGIC 0x3150534du /* "MSP1" on disk */
#define SPOOL_RECORD_HEADER_LEN 32u
/* The CRC covers the header bytes before it, then the payload. */
#define SPOOL_RECORD_CRC_OFFSET 28u
#define SPOOL_RECORD_MAX_PAYLOAD (64u << 20)

struct spool_record {
	uint64_t epoch;
	uint64_t seq;
	uint32_t events;
	uint32_t len; /* payload bytes */
	uint32_t crc; /* as stored in the header */
	/* Borrowed from the decoded buffer; NULL after a header-only parse. */
	const uint8_t *payload;
};

/* CRC-32C (Castagnoli), chainable: crc32c(crc32c(0, a), b) == crc32c(0, a || b). */
uint32_t spool_record_crc32c(uint32_t crc, const void *buf, size_t len);

/* Writes the header of a record with r's epoch, seq, events and len into hdr, with the CRC over
 * it and payload (r->len bytes, borrowed for the call). r->crc and r->payload are ignored. */
void spool_record_encode_header(const struct spool_record *r, const void *payload,
				uint8_t hdr[SPOOL_RECORD_HEADER_LEN]);

/* Reads a header (avail bytes at hdr) without checking the CRC, which needs the payload.
 * 0, -ENODATA when avail is shorter than a header, -EBADMSG for a bad magic, -EMSGSIZE when
 * the length is over SPOOL_RECORD_MAX_PAYLOAD. */
int spool_record_parse_header(const uint8_t *hdr, size_t avail, struct spool_record *r);

/* Decodes the record at the start of buf: 0 with *consumed set and r->payload pointing into buf
 * (borrowed), or the errors of spool_record_parse_header, -ENODATA when the payload is cut short
 * and -EBADMSG on a CRC mismatch. */
int spool_record_decode(const uint8_t *buf, size_t len, struct spool_record *r, size_t *consumed);

#endif
