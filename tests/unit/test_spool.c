/* The agent spool: order, acks, persistence, rotation, the cap, recovery from torn and corrupt
 * segments, concurrent append and peek/ack, and the record codec with its CRC-32C. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "spool.h"
#include "spool_record.h"

#include "banned.h"

#define REC(len) (SPOOL_RECORD_HEADER_LEN + (len))

struct fixture {
	char root[64]; /* mkdtemp */
	char dir[96];  /* root/spool */
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->root, sizeof(f->root), "/tmp/mamori-spool-XXXXXX");
	if (!mkdtemp(f->root)) {
		free(f);
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/spool", f->root);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct spool *open_spool(const struct fixture *f, uint64_t max_bytes, uint64_t seg_bytes)
{
	struct spool_opts o = {.dir = f->dir, .max_bytes = max_bytes, .segment_bytes = seg_bytes};
	char err[256] = "";
	struct spool *s = spool_open(&o, err, sizeof(err));

	if (!s)
		fail_msg("spool_open: %s", err);
	return s;
}

/* A payload that names its seq, padded to len bytes (len >= 24). */
static void fill(char *buf, uint64_t seq, size_t len)
{
	int n = snprintf(buf, len, "seq=%" PRIu64 ";", seq);

	for (size_t i = (size_t)n; i < len; i++)
		buf[i] = (char)('a' + (seq + i) % 26);
}

static uint64_t put(struct spool *s, uint64_t want, size_t len, uint32_t events)
{
	char buf[4096];
	uint64_t seq = 0;

	fill(buf, want, len);
	assert_int_equal(spool_append(s, buf, len, events, &seq), 0);
	assert_int_equal(seq, want);
	return seq;
}

static void expect_peek(struct spool *s, uint64_t seq, size_t len, uint32_t events)
{
	struct spool_batch b;
	char buf[4096];

	assert_int_equal(spool_peek(s, &b), 0);
	assert_int_equal(b.seq, seq);
	assert_int_equal(b.len, len);
	assert_int_equal(b.events, events);
	assert_int_equal(b.epoch, spool_epoch(s));
	fill(buf, seq, len);
	assert_memory_equal(b.payload, buf, len);
}

static void expect_empty(struct spool *s)
{
	struct spool_batch b;

	assert_int_equal(spool_peek(s, &b), -ENOENT);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* The segment file names in dir, sorted, into names[max][32]; returns how many. */
static size_t list_segs(const struct fixture *f, char names[][32], size_t max)
{
	DIR *d = opendir(f->dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l > 4 && l < 32 && strcmp(de->d_name + l - 4, ".seg") == 0 && n < max)
			memcpy(names[n++], de->d_name, l + 1);
	}
	closedir(d);
	qsort(names, n, 32, cmp_names);
	return n;
}

static void seg_path(const struct fixture *f, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", f->dir, name);
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	unsigned char c;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x20;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Bit by bit, straight from the definition: the reference for the table-driven code. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

static void test_crc32c(void **state)
{
	uint8_t buf[1100];
	uint32_t x = 12345;

	(void)state;
	assert_int_equal(spool_record_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(spool_record_crc32c(0, "", 0), 0);
	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t start = 0; start < 9; start++)
		for (size_t len = 0; len + start <= sizeof(buf); len += len < 40 ? 1 : 97) {
			uint32_t want = crc32c_bitwise(buf + start, len);
			size_t cut = len / 3;

			assert_int_equal(spool_record_crc32c(0, buf + start, len), want);
			assert_int_equal(
			    spool_record_crc32c(spool_record_crc32c(0, buf + start, cut),
						buf + start + cut, len - cut),
			    want);
		}
}

static void test_record_codec(void **state)
{
	struct spool_record r = {.epoch = 0x1122334455667788ull, .seq = 42, .events = 7, .len = 11};
	struct spool_record d;
	uint8_t rec[REC(11)];
	size_t used = 0;

	(void)state;
	memcpy(rec + SPOOL_RECORD_HEADER_LEN, "hello world", 11);
	spool_record_encode_header(&r, rec + SPOOL_RECORD_HEADER_LEN, rec);
	assert_memory_equal(rec, "MSP1", 4);
	assert_int_equal(spool_record_decode(rec, sizeof(rec), &d, &used), 0);
	assert_int_equal(used, sizeof(rec));
	assert_int_equal(d.epoch, r.epoch);
	assert_int_equal(d.seq, 42);
	assert_int_equal(d.events, 7);
	assert_int_equal(d.len, 11);
	assert_ptr_equal(d.payload, rec + SPOOL_RECORD_HEADER_LEN);
	for (size_t n = 0; n < sizeof(rec); n++)
		assert_int_equal(spool_record_decode(rec, n, &d, &used), -ENODATA);
	/* Every single-byte change is caught, by the magic, the length or the CRC. */
	for (size_t i = 0; i < sizeof(rec); i++) {
		rec[i] ^= 0x01;
		assert_int_not_equal(spool_record_decode(rec, sizeof(rec), &d, &used), 0);
		rec[i] ^= 0x01;
	}
	/* The length is checked before anything is read: 64 MiB + 1, little-endian. */
	memcpy(rec + 4, "\x01\x00\x00\x04", 4);
	assert_int_equal(spool_record_parse_header(rec, sizeof(rec), &d), -EMSGSIZE);
	rec[0] = 'X';
	assert_int_equal(spool_record_parse_header(rec, sizeof(rec), &d), -EBADMSG);
}

static void test_order(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_spool(f, 0, 0);
	struct spool_stats st;

	assert_int_not_equal(spool_epoch(s), 0);
	expect_empty(s);
	for (uint64_t i = 1; i <= 5; i++)
		put(s, i, 30 + i, (uint32_t)i);
	expect_peek(s, 1, 31, 1);
	expect_peek(s, 1, 31, 1);
	assert_int_equal(spool_ack(s, 2), 0);
	expect_peek(s, 3, 33, 3);
	spool_stats(s, &st);
	assert_int_equal(st.batches, 3);
	assert_int_equal(st.events, 3 + 4 + 5);
	assert_int_equal(st.appended_batches, 5);
	assert_int_equal(st.acked_batches, 2);
	assert_int_equal(st.bytes, 5 * SPOOL_RECORD_HEADER_LEN + 31 + 32 + 33 + 34 + 35);
	assert_int_equal(spool_ack(s, 6), -ERANGE);
	assert_int_equal(spool_ack(s, 1), 0);
	expect_peek(s, 3, 33, 3);
	assert_int_equal(spool_ack(s, 5), 0);
	expect_empty(s);
	spool_stats(s, &st);
	assert_int_equal(st.batches, 0);
	assert_int_equal(st.events, 0);
	assert_int_equal(st.acked_batches, 5);
	assert_int_equal(spool_append(s, NULL, 0, 0, NULL), 0);
	expect_peek(s, 6, 0, 0);
	spool_close(s);
	spool_close(NULL);
}

static void test_persistence(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_spool(f, 0, 0);
	struct spool_stats st;
	char names[8][32];
	uint64_t epoch = spool_epoch(s);
	struct stat sb;

	assert_int_equal(stat(f->dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	for (uint64_t i = 1; i <= 5; i++)
		put(s, i, 40, 2);
	assert_int_equal(spool_ack(s, 2), 0);
	spool_close(s);

	s = open_spool(f, 0, 0);
	assert_int_equal(spool_epoch(s), epoch);
	spool_stats(s, &st);
	assert_int_equal(st.batches, 3);
	assert_int_equal(st.events, 6);
	assert_int_equal(st.corrupt_records, 0);
	expect_peek(s, 3, 40, 2);
	put(s, 6, 40, 1);
	assert_int_equal(spool_ack(s, 6), 0);
	expect_empty(s);
	spool_close(s);

	/* Fully acked: the segment goes at open, and the seq still continues. */
	s = open_spool(f, 0, 0);
	assert_int_equal(spool_epoch(s), epoch);
	expect_empty(s);
	assert_int_equal(list_segs(f, names, 8), 0);
	put(s, 7, 40, 1);
	spool_close(s);
	s = open_spool(f, 0, 0);
	expect_peek(s, 7, 40, 1);
	spool_close(s);
}

static void test_busy(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_spool(f, 0, 0);
	struct spool_opts o = {.dir = f->dir};
	char err[128] = "";

	errno = 0;
	assert_null(spool_open(&o, err, sizeof(err)));
	assert_int_equal(errno, EBUSY);
	assert_true(strlen(err) > 0);
	spool_close(s);
	o.dir = "";
	assert_null(spool_open(&o, NULL, 0));
	assert_int_equal(errno, EINVAL);
}

/* A process that dies without closing never gets a seq reused, even if its newest records are
 * lost: seqs are leased ahead in the "seq" file. */
static void test_crash_keeps_seq(void **state)
{
	struct fixture *f = *state;
	struct spool *s;
	uint64_t epoch, seq = 0;
	char names[8][32], path[192];
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct spool_opts o = {.dir = f->dir};
		struct spool *c = spool_open(&o, NULL, 0);

		for (int i = 0; c && i < 3; i++)
			if (spool_append(c, "crash", 5, 1, NULL))
				_exit(2);
		_exit(c ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* The crash also tore the newest record. */
	assert_int_equal(list_segs(f, names, 8), 1);
	seg_path(f, names[0], path, sizeof(path));
	assert_int_equal(truncate(path, file_size(path) - 1), 0);
	s = open_spool(f, 0, 0);
	epoch = spool_epoch(s);
	assert_int_equal(spool_append(s, "after", 5, 1, &seq), 0);
	assert_true(seq > 3);
	spool_close(s);
	s = open_spool(f, 0, 0);
	assert_int_equal(spool_epoch(s), epoch);
	assert_int_equal(spool_append(s, "clean", 5, 1, &seq), 0);
	spool_close(s);
	s = open_spool(f, 0, 0);
	put(s, seq + 1, 30, 1);
	spool_close(s);
}

static void test_lost_seq_state(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_spool(f, 0, 0);
	uint64_t epoch = spool_epoch(s), seq = 0;
	char path[192];

	put(s, 1, 30, 1);
	assert_int_equal(spool_ack(s, 1), 0);
	spool_close(s);
	snprintf(path, sizeof(path), "%s/seq", f->dir);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/acked", f->dir);
	write_file(path, "zz\n", 3);
	/* The server may hold seq 1 of the old epoch: a new epoch makes a reused seq harmless. */
	s = open_spool(f, 0, 0);
	assert_int_not_equal(spool_epoch(s), epoch);
	assert_int_equal(spool_append(s, "x", 1, 1, &seq), 0);
	assert_true(seq >= 1);
	spool_close(s);
}

static void test_rotation(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_spool(f, 0, 3 * REC(100));
	struct spool_stats st;
	char names[8][32];

	for (uint64_t i = 1; i <= 10; i++)
		put(s, i, 100, 1);
	assert_int_equal(list_segs(f, names, 8), 4);
	assert_string_equal(names[0], "0000000000000001.seg");
	assert_string_equal(names[1], "0000000000000004.seg");
	assert_string_equal(names[2], "0000000000000007.seg");
	assert_string_equal(names[3], "000000000000000a.seg");
	assert_int_equal(spool_ack(s, 5), 0);
	assert_int_equal(list_segs(f, names, 8), 3);
	assert_string_equal(names[0], "0000000000000004.seg");
	expect_peek(s, 6, 100, 1);
	assert_int_equal(spool_ack(s, 9), 0);
	assert_int_equal(list_segs(f, names, 8), 1);
	/* The segment being written to stays, acked, until it is rotated. */
	assert_int_equal(spool_ack(s, 10), 0);
	assert_int_equal(list_segs(f, names, 8), 1);
	spool_stats(s, &st);
	assert_int_equal(st.batches, 0);
	assert_int_equal(st.bytes, REC(100));
	put(s, 11, 100, 1);
	put(s, 12, 100, 1);
	put(s, 13, 100, 1);
	assert_int_equal(list_segs(f, names, 8), 2);
	assert_string_equal(names[1], "000000000000000d.seg");
	assert_int_equal(spool_ack(s, 12), 0);
	assert_int_equal(list_segs(f, names, 8), 1);
	expect_peek(s, 13, 100, 1);
	spool_close(s);

	/* Restart: the records come back in order from several segments. */
	s = open_spool(f, 0, 3 * REC(100));
	for (uint64_t i = 14; i <= 20; i++)
		put(s, i, 100, 1);
	spool_close(s);
	s = open_spool(f, 0, 3 * REC(100));
	for (uint64_t i = 13; i <= 20; i++) {
		expect_peek(s, i, 100, 1);
		assert_int_equal(spool_ack(s, i), 0);
	}
	expect_empty(s);
	spool_close(s);
}

static void test_cap(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_spool(f, 800, 2 * REC(100));
	struct spool_stats st;
	char *big;

	/* 2 records a segment, 6 under the cap: the 7th and the 9th drop a segment each. */
	for (uint64_t i = 1; i <= 10; i++)
		put(s, i, 100, (uint32_t)(10 * i));
	spool_stats(s, &st);
	assert_int_equal(st.dropped_batches, 4);
	assert_int_equal(st.dropped_events, 10 + 20 + 30 + 40);
	assert_int_equal(st.batches, 6);
	assert_int_equal(st.events, 50 + 60 + 70 + 80 + 90 + 100);
	assert_int_equal(st.bytes, 6 * REC(100));
	expect_peek(s, 5, 100, 50);
	assert_int_equal(spool_ack(s, 5), 0);

	big = calloc(1, 800);
	assert_non_null(big);
	assert_int_equal(spool_append(s, big, 800 - SPOOL_RECORD_HEADER_LEN + 1, 1, NULL), -E2BIG);
	spool_stats(s, &st);
	assert_int_equal(st.dropped_batches, 4);
	/* Exactly the cap: everything else goes, the segment being written included. */
	assert_int_equal(spool_append(s, big, 800 - SPOOL_RECORD_HEADER_LEN, 3, NULL), 0);
	spool_stats(s, &st);
	assert_int_equal(st.dropped_batches, 9);
	assert_int_equal(st.dropped_events, 100 + 60 + 70 + 80 + 90 + 100);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.events, 3);
	assert_int_equal(st.bytes, 800);
	free(big);
	{
		struct spool_batch b;

		assert_int_equal(spool_peek(s, &b), 0);
		assert_int_equal(b.seq, 11);
		assert_int_equal(b.len, 800 - SPOOL_RECORD_HEADER_LEN);
	}
	spool_close(s);

	s = open_spool(f, 0, 0);
	big = malloc((size_t)SPOOL_RECORD_MAX_PAYLOAD + 1);
	assert_non_null(big);
	assert_int_equal(spool_append(s, big, (size_t)SPOOL_RECORD_MAX_PAYLOAD + 1, 1, NULL),
			 -EMSGSIZE);
	free(big);
	spool_close(s);
}

static void test_torn_tail(void **state)
{
	struct fixture *f = *state;
	struct spool_opts o = {.dir = f->dir, .sync = true};
	struct spool *s = spool_open(&o, NULL, 0);
	struct spool_stats st;
	char names[8][32], path[192];

	assert_non_null(s);
	for (uint64_t i = 1; i <= 3; i++)
		put(s, i, 50, 1);
	spool_close(s);
	assert_int_equal(list_segs(f, names, 8), 1);
	seg_path(f, names[0], path, sizeof(path));
	assert_int_equal(truncate(path, 3 * REC(50) - 10), 0);

	s = open_spool(f, 0, 0);
	spool_stats(s, &st);
	assert_int_equal(st.corrupt_records, 1);
	assert_int_equal(st.batches, 2);
	assert_int_equal(file_size(path), 2 * REC(50));
	expect_peek(s, 1, 50, 1);
	assert_int_equal(spool_ack(s, 1), 0);
	expect_peek(s, 2, 50, 1);
	assert_int_equal(spool_ack(s, 2), 0);
	put(s, 4, 50, 1);
	expect_peek(s, 4, 50, 1);
	spool_close(s);

	s = open_spool(f, 0, 0);
	spool_stats(s, &st);
	assert_int_equal(st.corrupt_records, 0);
	expect_peek(s, 4, 50, 1);
	spool_close(s);
}

static void test_flipped_newest(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_spool(f, 0, 0);
	struct spool_stats st;
	char names[8][32], path[192];

	for (uint64_t i = 1; i <= 3; i++)
		put(s, i, 50, 1);
	spool_close(s);
	assert_int_equal(list_segs(f, names, 8), 1);
	seg_path(f, names[0], path, sizeof(path));
	flip_byte(path, REC(50) + SPOOL_RECORD_HEADER_LEN + 20);

	s = open_spool(f, 0, 0);
	spool_stats(s, &st);
	assert_int_equal(st.corrupt_records, 1);
	assert_int_equal(st.batches, 1);
	assert_int_equal(file_size(path), REC(50));
	expect_peek(s, 1, 50, 1);
	assert_int_equal(spool_ack(s, 1), 0);
	expect_empty(s);
	put(s, 4, 50, 1);
	expect_peek(s, 4, 50, 1);
	spool_close(s);
}

static void test_flipped_older(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_spool(f, 0, 2 * REC(60));
	struct spool_stats st;
	char names[8][32], path[192];
	off_t size;

	for (uint64_t i = 1; i <= 7; i++)
		put(s, i, 60, 1);
	spool_close(s);
	/* [1 2] [3 4] [5 6] [7]: corrupt 1 (the whole segment goes) and 4 (3 is kept). */
	assert_int_equal(list_segs(f, names, 8), 4);
	seg_path(f, names[0], path, sizeof(path));
	flip_byte(path, SPOOL_RECORD_HEADER_LEN + 5);
	seg_path(f, names[1], path, sizeof(path));
	flip_byte(path, REC(60) + 17); /* seq field of 4 */
	size = file_size(path);

	s = open_spool(f, 0, 2 * REC(60));
	spool_stats(s, &st);
	assert_int_equal(st.corrupt_records, 2);
	assert_int_equal(st.batches, 4);
	assert_int_equal(file_size(path), size);
	assert_int_equal(list_segs(f, names, 8), 3);
	expect_peek(s, 3, 60, 1);
	assert_int_equal(spool_ack(s, 3), 0);
	expect_peek(s, 5, 60, 1);
	assert_int_equal(spool_ack(s, 5), 0);
	expect_peek(s, 6, 60, 1);
	assert_int_equal(spool_ack(s, 7), 0);
	expect_empty(s);
	put(s, 8, 60, 1);
	spool_close(s);
}

static void test_garbage_segments(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_spool(f, 0, 0);
	struct spool_stats st;
	uint8_t junk[1000], hdr[40];
	char names[8][32], path[192];
	struct spool_record r = {.epoch = 1, .seq = 0x300, .events = 1, .len = 1000};

	put(s, 1, 30, 1);
	put(s, 2, 30, 1);
	spool_close(s);
	memset(junk, 0xa5, sizeof(junk));
	snprintf(path, sizeof(path), "%s/00000000000000ff.seg", f->dir);
	write_file(path, junk, sizeof(junk));
	snprintf(path, sizeof(path), "%s/0000000000000100.seg", f->dir);
	write_file(path, junk, 10);
	/* A good header whose payload is not there. */
	spool_record_encode_header(&r, junk, hdr);
	snprintf(path, sizeof(path), "%s/0000000000000300.seg", f->dir);
	write_file(path, hdr, sizeof(hdr));
	/* Not segments: left alone. */
	snprintf(path, sizeof(path), "%s/00000000000000AB.seg", f->dir);
	write_file(path, junk, 10);
	snprintf(path, sizeof(path), "%s/0000000000000400.seg", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);

	s = open_spool(f, 0, 0);
	spool_stats(s, &st);
	assert_int_equal(st.corrupt_records, 3);
	assert_int_equal(st.batches, 2);
	expect_peek(s, 1, 30, 1);
	assert_int_equal(spool_ack(s, 1), 0);
	expect_peek(s, 2, 30, 1);
	assert_int_equal(spool_ack(s, 2), 0);
	expect_empty(s);
	put(s, 3, 30, 1);
	expect_peek(s, 3, 30, 1);
	spool_close(s);
	assert_int_equal(list_segs(f, names, 8), 3);
	assert_string_equal(names[0], "0000000000000003.seg");
	assert_string_equal(names[1], "00000000000000AB.seg");
	assert_string_equal(names[2], "0000000000000400.seg");
}

/* Damage after open is found when the batch is peeked: skipped and counted, never blocking. */
static void test_changed_on_disk(void **state)
{
	struct fixture *f = *state;
	struct spool *s = open_spool(f, 0, 2 * REC(40));
	struct spool_stats st;
	char names[8][32], path[192];

	for (uint64_t i = 1; i <= 5; i++)
		put(s, i, 40, 2);
	/* [1 2] [3 4] [5] */
	assert_int_equal(list_segs(f, names, 8), 3);
	seg_path(f, names[0], path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	seg_path(f, names[1], path, sizeof(path));
	flip_byte(path, REC(40) + SPOOL_RECORD_HEADER_LEN + 3);
	expect_peek(s, 3, 40, 2);
	assert_int_equal(spool_ack(s, 3), 0);
	expect_peek(s, 5, 40, 2);
	spool_stats(s, &st);
	assert_int_equal(st.corrupt_records, 2);
	assert_int_equal(st.dropped_batches, 3);
	assert_int_equal(st.dropped_events, 6);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.events, 2);
	assert_int_equal(spool_ack(s, 5), 0);
	assert_int_equal(list_segs(f, names, 8), 1);
	spool_close(s);
}

#define CONCURRENT_N 4000

struct race {
	struct spool *s;
	int append_errors, order_errors;
	uint64_t delivered;
};

static void *appender(void *arg)
{
	struct race *r = arg;
	char buf[128];

	for (uint64_t i = 1; i <= CONCURRENT_N; i++) {
		uint64_t seq = 0;
		size_t len = 24 + (size_t)(i % 97);

		fill(buf, i, len);
		if (spool_append(r->s, buf, len, 1, &seq) || seq != i)
			r->append_errors++;
	}
	return NULL;
}

static void *uplink(void *arg)
{
	struct race *r = arg;
	char buf[128];
	unsigned idle = 0;

	while (r->delivered < CONCURRENT_N && idle < 5000000) {
		struct spool_batch b;
		int rc = spool_peek(r->s, &b);

		if (rc == -ENOENT) {
			idle++;
			sched_yield();
			continue;
		}
		idle = 0;
		if (rc) {
			r->order_errors++;
			break;
		}
		fill(buf, b.seq, b.len);
		if (b.seq != r->delivered + 1 || b.len != 24 + b.seq % 97 ||
		    memcmp(b.payload, buf, b.len) != 0 || spool_ack(r->s, b.seq))
			r->order_errors++;
		r->delivered = b.seq;
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct fixture *f = *state;
	struct race r = {.s = open_spool(f, 0, 4096)};
	struct spool_stats st;
	pthread_t a, u;
	char names[8][32];

	assert_int_equal(pthread_create(&u, NULL, uplink, &r), 0);
	assert_int_equal(pthread_create(&a, NULL, appender, &r), 0);
	pthread_join(a, NULL);
	pthread_join(u, NULL);
	assert_int_equal(r.append_errors, 0);
	assert_int_equal(r.order_errors, 0);
	assert_int_equal(r.delivered, CONCURRENT_N);
	spool_stats(r.s, &st);
	assert_int_equal(st.appended_batches, CONCURRENT_N);
	assert_int_equal(st.acked_batches, CONCURRENT_N);
	assert_int_equal(st.batches, 0);
	assert_int_equal(st.dropped_batches, 0);
	assert_true(list_segs(f, names, 8) <= 1);
	spool_close(r.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32c),
	    cmocka_unit_test(test_record_codec),
	    cmocka_unit_test_setup_teardown(test_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash_keeps_seq, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lost_seq_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flipped_newest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flipped_older, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_segments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changed_on_disk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
