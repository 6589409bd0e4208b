#include "spool_record.h"

#include <errno.h>
#include <pthread.h>

#include "le.h"

#include "banned.h"

#define CRC32C_POLY 0x82f63b78u /* Castagnoli, bit-reflected */

/* Slicing-by-8: crc_table[k][b] is the CRC register after byte b followed by k zero bytes, so
 * eight input bytes cost eight lookups and no per-bit work. Filled once, at first use. */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1u)));
		crc_table[0][i] = c;
	}
	for (int k = 1; k < 8; k++)
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = crc_table[k - 1][i];

			crc_table[k][i] = (c >> 8) ^ crc_table[0][c & 0xff];
		}
}


uint32_t spool_record_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (len >= 8) {
		uint32_t lo = crc ^ le32_get(p), hi = le32_get(p + 4);

		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		      crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		      crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

void spool_record_encode_header(const struct spool_record *r, const void *payload,
				uint8_t hdr[SPOOL_RECORD_HEADER_LEN])
{
	uint32_t crc;

	le32_put(hdr, SPOOL_RECORD_MAGIC);
	le32_put(hdr + 4, r->len);
	le64_put(hdr + 8, r->epoch);
	le64_put(hdr + 16, r->seq);
	le32_put(hdr + 24, r->events);
	crc = spool_record_crc32c(0, hdr, SPOOL_RECORD_CRC_OFFSET);
	if (r->len)
		crc = spool_record_crc32c(crc, payload, r->len);
	le32_put(hdr + SPOOL_RECORD_CRC_OFFSET, crc);
}

int spool_record_parse_header(const uint8_t *hdr, size_t avail, struct spool_record *r)
{
	if (avail < SPOOL_RECORD_HEADER_LEN)
		return -ENODATA;
	if (le32_get(hdr) != SPOOL_RECORD_MAGIC)
		return -EBADMSG;
	r->len = le32_get(hdr + 4);
	if (r->len > SPOOL_RECORD_MAX_PAYLOAD)
		return -EMSGSIZE;
	r->epoch = le64_get(hdr + 8);
	r->seq = le64_get(hdr + 16);
	r->events = le32_get(hdr + 24);
	r->crc = le32_get(hdr + SPOOL_RECORD_CRC_OFFSET);
	r->payload = NULL;
	return 0;
}

int spool_record_decode(const uint8_t *buf, size_t len, struct spool_record *r, size_t *consumed)
{
	uint32_t crc;
	int rc = spool_record_parse_header(buf, len, r);

	if (rc)
		return rc;
	if (len - SPOOL_RECORD_HEADER_LEN < r->len)
		return -ENODATA;
	crc = spool_record_crc32c(0, buf, SPOOL_RECORD_CRC_OFFSET);
	crc = spool_record_crc32c(crc, buf + SPOOL_RECORD_HEADER_LEN, r->len);
	if (crc != r->crc)
		return -EBADMSG;
	r->payload = buf + SPOOL_RECORD_HEADER_LEN;
	*consumed = SPOOL_RECORD_HEADER_LEN + (size_t)r->len;
	return 0;
}
