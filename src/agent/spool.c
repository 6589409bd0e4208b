#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "log.h"
#include "spool_record.h"

#include "banned.h"

#define HDR_LEN SPOOL_RECORD_HEADER_LEN
#define SEG_NAME_SIZE 21 /* 16 hex digits, ".seg", NUL */
/* Sequence numbers are leased in blocks: the "seq" file always holds a value that no handed-out
 * seq exceeds, so even a crash that tears the newest records never lets a seq be reused (the
 * server would take the new batch for a duplicate). A clean close writes the exact last seq. */
#define SEQ_LEASE 1024
#define SCAN_CHUNK (64u << 10)

struct spool_rec {
	uint64_t seq;
	uint64_t off;
	uint32_t len;
	uint32_t events;
};

struct spool_seg {
	uint64_t first;		/* from the file name; no record in it has a lower seq */
	uint64_t size;		/* bytes on disk */
	struct spool_rec *recs; /* in seq order: not acked at open, or appended since */
	size_t nrecs, cap;
	size_t head; /* recs[head..nrecs) still wait for an ack */
	int fd;	     /* open while appended to, or while the uplink reads it */
};

struct spool {
	pthread_mutex_t lock;
	int dirfd; /* holds the flock that keeps a second agent out */
	char *dir;
	uint64_t max_bytes, segment_bytes;
	bool sync;
	uint64_t epoch;
	uint64_t next_seq;	 /* 0 once the sequence space is exhausted */
	uint64_t acked;		 /* durable in "acked": every seq <= it is done */
	uint64_t seq_lease;	 /* durable in "seq" */
	struct spool_seg **segs; /* oldest first */
	size_t nsegs, segs_cap;
	struct spool_seg *wseg; /* appended to; NULL: the next append creates a segment */
	struct spool_seg *rseg; /* an older segment whose fd is open for peeks, or NULL */
	uint8_t *buf;		/* peeked record, or scan chunks */
	size_t buf_cap;
	struct spool_stats st;
	struct log_rate drop_rate, corrupt_rate;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Exactly 16 lowercase hex digits: names and state files have one spelling each. */
static bool parse_hex16(const char *p, uint64_t *out)
{
	uint64_t v = 0;

	for (int i = 0; i < 16; i++) {
		int d;

		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if (p[i] >= 'a' && p[i] <= 'f')
			d = p[i] - 'a' + 10;
		else
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return true;
}

static void seg_name(uint64_t first, char name[SEG_NAME_SIZE])
{
	snprintf(name, SEG_NAME_SIZE, "%016" PRIx64 ".seg", first);
}

static bool seg_name_parse(const char *name, uint64_t *first)
{
	return parse_hex16(name, first) && strcmp(name + 16, ".seg") == 0;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Header and payload in one system call; a short write (disk full, signal) finishes piecewise. */
static int write_record(int fd, const uint8_t *hdr, const void *payload, size_t len, uint64_t off)
{
	struct iovec iov[2] = {{(void *)hdr, HDR_LEN}, {(void *)payload, len}};
	ssize_t n;
	size_t done;

	do
		n = pwritev(fd, iov, len ? 2 : 1, (off_t)off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	done = (size_t)n;
	if (done == HDR_LEN + len)
		return 0;
	if (done < HDR_LEN) {
		int rc = pwrite_full(fd, hdr + done, HDR_LEN - done, off + done);

		if (rc)
			return rc;
		done = HDR_LEN;
	}
	return pwrite_full(fd, (const uint8_t *)payload + (done - HDR_LEN), HDR_LEN + len - done,
			   off + done);
}

/* Small state files ("epoch", "seq", "acked"): 16 hex digits and a newline. */
static int state_read(int dirfd, const char *name, uint64_t *out)
{
	char line[32];
	ssize_t n;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	do
		n = read(fd, line, sizeof(line));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	if (n != 17 || line[16] != '\n' || !parse_hex16(line, out))
		return -EINVAL;
	return 0;
}

/* Replaces name atomically (temp file and rename), so a crash leaves the old or the new value. */
static int state_write(struct spool *s, const char *name, uint64_t v, bool sync)
{
	char tmp[32], line[24];
	int fd, rc;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	snprintf(line, sizeof(line), "%016" PRIx64 "\n", v);
	fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	rc = pwrite_full(fd, line, 17, 0);
	if (!rc && sync && fdatasync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && renameat(s->dirfd, tmp, s->dirfd, name))
		rc = -errno;
	if (!rc && sync && fsync(s->dirfd))
		rc = -errno;
	if (rc) {
		unlinkat(s->dirfd, tmp, 0);
		log_warn("spool", "cannot write state file dir=%s file=%s error=\"%s\"", s->dir,
			 name, strerror(-rc));
	}
	return rc;
}

static int buf_reserve(struct spool *s, size_t need)
{
	uint8_t *p;

	if (need <= s->buf_cap)
		return 0;
	if (need < SCAN_CHUNK)
		need = SCAN_CHUNK;
	p = realloc(s->buf, need);
	if (!p)
		return -ENOMEM;
	s->buf = p;
	s->buf_cap = need;
	return 0;
}

static struct spool_seg *seg_new(uint64_t first)
{
	struct spool_seg *seg = calloc(1, sizeof(*seg));

	if (!seg)
		return NULL;
	seg->first = first;
	seg->fd = -1;
	return seg;
}

static void seg_free(struct spool_seg *seg)
{
	if (!seg)
		return;
	if (seg->fd >= 0)
		close(seg->fd);
	free(seg->recs);
	free(seg);
}

/* Room for one more record, taken before the record is written so indexing cannot fail. */
static int seg_reserve(struct spool_seg *seg)
{
	struct spool_rec *r;
	size_t cap;

	if (seg->nrecs < seg->cap)
		return 0;
	cap = seg->cap ? seg->cap * 2 : 64;
	r = realloc(seg->recs, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	seg->recs = r;
	seg->cap = cap;
	return 0;
}

static int segs_reserve(struct spool *s)
{
	struct spool_seg **p;
	size_t cap;

	if (s->nsegs < s->segs_cap)
		return 0;
	cap = s->segs_cap ? s->segs_cap * 2 : 16;
	p = realloc(s->segs, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->segs = p;
	s->segs_cap = cap;
	return 0;
}

/* Deletes segment i, file and memory. Its unacked records must already be accounted for. */
static void seg_remove(struct spool *s, size_t i)
{
	struct spool_seg *seg = s->segs[i];
	char name[SEG_NAME_SIZE];

	seg_name(seg->first, name);
	if (unlinkat(s->dirfd, name, 0) && errno != ENOENT)
		log_warn("spool", "cannot delete segment dir=%s file=%s error=\"%s\"", s->dir, name,
			 strerror(errno));
	s->st.bytes -= seg->size;
	if (s->wseg == seg)
		s->wseg = NULL;
	if (s->rseg == seg)
		s->rseg = NULL;
	seg_free(seg);
	memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - i - 1) * sizeof(*s->segs));
	s->nsegs--;
}

/* Counts the next n unacked records of seg as lost. */
static void seg_lose(struct spool *s, struct spool_seg *seg, size_t n)
{
	for (; n && seg->head < seg->nrecs; n--, seg->head++) {
		s->st.dropped_batches++;
		s->st.dropped_events += seg->recs[seg->head].events;
		s->st.batches--;
		s->st.events -= seg->recs[seg->head].events;
	}
}

/* Deletes the segments with nothing left to send, except the one being appended to: its acked
 * records are dead space until it is rotated, which saves a file per batch when the uplink keeps
 * up. */
static void remove_finished(struct spool *s)
{
	for (size_t i = 0; i < s->nsegs;) {
		struct spool_seg *seg = s->segs[i];

		if (seg != s->wseg && seg->head == seg->nrecs)
			seg_remove(s, i);
		else
			i++;
	}
}

static void rotate(struct spool *s)
{
	struct spool_seg *seg = s->wseg;

	s->wseg = NULL;
	if (seg->fd >= 0) {
		close(seg->fd);
		seg->fd = -1;
	}
	remove_finished(s);
}

static void drop_oldest(struct spool *s)
{
	struct spool_seg *seg = s->segs[0];
	uint64_t batches = seg->nrecs - seg->head, before = s->st.dropped_events;

	seg_lose(s, seg, seg->nrecs);
	log_ratelimited(&s->drop_rate, 6, LOG_LEVEL_WARN, "spool",
			"spool full, oldest segment dropped dir=%s first=%016" PRIx64
			" batches=%" PRIu64 " events=%" PRIu64,
			s->dir, seg->first, batches, s->st.dropped_events - before);
	seg_remove(s, 0);
}

static int seg_create(struct spool *s)
{
	char name[SEG_NAME_SIZE];
	struct spool_seg *seg;
	int rc = segs_reserve(s);

	if (rc)
		return rc;
	seg = seg_new(s->next_seq);
	if (!seg)
		return -ENOMEM;
	seg_name(seg->first, name);
	seg->fd = openat(s->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (seg->fd < 0) {
		rc = -errno;
		log_warn("spool", "cannot create segment dir=%s file=%s error=\"%s\"", s->dir, name,
			 strerror(-rc));
		seg_free(seg);
		return rc;
	}
	if (s->sync && fsync(s->dirfd)) {
		rc = -errno;
		unlinkat(s->dirfd, name, 0);
		seg_free(seg);
		return rc;
	}
	s->segs[s->nsegs++] = seg;
	s->wseg = seg;
	return 0;
}

/* The fd to read seg with: the writer's, or one opened on demand (at most one at a time). */
static int seg_fd(struct spool *s, struct spool_seg *seg)
{
	char name[SEG_NAME_SIZE];

	if (seg->fd >= 0)
		return seg->fd;
	if (s->rseg && s->rseg->fd >= 0) {
		close(s->rseg->fd);
		s->rseg->fd = -1;
	}
	s->rseg = NULL;
	seg_name(seg->first, name);
	seg->fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (seg->fd < 0)
		return -errno;
	s->rseg = seg;
	return seg->fd;
}

/* Indexes the records of one segment. A torn or corrupt record ends the segment: the newest is
 * cut back to its last good record (a crash mid-append), an older one keeps its bytes but nothing
 * after the bad record is trusted. *max_seq is the highest good seq so far: seqs must increase
 * across the segments, in name order, which keeps the index sorted whatever the files hold.
 * -ENOTSUP when the name is not a regular file. */
static int seg_scan(struct spool *s, struct spool_seg *seg, bool newest, uint64_t *max_seq)
{
	char name[SEG_NAME_SIZE];
	const char *why = NULL;
	struct stat st;
	uint64_t off = 0, size;
	int fd, rc = 0;

	seg_name(seg->first, name);
	fd = openat(s->dirfd, name,
		    (newest ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOTSUP;
	}
	size = (uint64_t)st.st_size;
	while (off < size) {
		uint8_t hdr[HDR_LEN];
		struct spool_record r;
		uint32_t crc;

		if (size - off < HDR_LEN) {
			why = "torn header";
			break;
		}
		if (pread_full(fd, hdr, HDR_LEN, off)) {
			why = "read error";
			break;
		}
		if (spool_record_parse_header(hdr, HDR_LEN, &r)) {
			why = "bad header";
			break;
		}
		if (r.len > size - off - HDR_LEN) {
			why = "torn payload";
			break;
		}
		crc = spool_record_crc32c(0, hdr, SPOOL_RECORD_CRC_OFFSET);
		for (uint32_t pos = 0; pos < r.len;) {
			uint32_t n = r.len - pos < SCAN_CHUNK ? r.len - pos : SCAN_CHUNK;

			if (pread_full(fd, s->buf, n, off + HDR_LEN + pos)) {
				why = "read error";
				break;
			}
			crc = spool_record_crc32c(crc, s->buf, n);
			pos += n;
		}
		if (why)
			break;
		if (crc != r.crc) {
			why = "crc mismatch";
			break;
		}
		if (r.seq < seg->first || r.seq <= *max_seq) {
			why = "sequence out of order";
			break;
		}
		*max_seq = r.seq;
		if (r.seq > s->acked) {
			rc = seg_reserve(seg);
			if (rc)
				break;
			seg->recs[seg->nrecs++] = (struct spool_rec){r.seq, off, r.len, r.events};
			s->st.batches++;
			s->st.events += r.events;
		}
		off += HDR_LEN + r.len;
	}
	if (why) {
		s->st.corrupt_records++;
		log_warn("spool",
			 "corrupt record, rest of segment skipped dir=%s file=%s offset=%" PRIu64
			 " reason=\"%s\"",
			 s->dir, name, off, why);
		if (newest && strcmp(why, "read error") != 0) {
			if (ftruncate(fd, (off_t)off) == 0 && (!s->sync || fdatasync(fd) == 0))
				size = off;
			else
				log_warn("spool", "cannot truncate segment dir=%s file=%s", s->dir,
					 name);
		}
	}
	close(fd);
	seg->size = size;
	s->st.bytes += size;
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Scans every segment, oldest first; returns the highest good seq in *max_seq. */
static int load_segments(struct spool *s, uint64_t *max_seq, char *err, size_t errlen)
{
	uint64_t *firsts = NULL, first;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	*max_seq = 0;
	fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		set_err(err, errlen, "spool: cannot list %s: %s", s->dir, strerror(-rc));
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		if (!seg_name_parse(de->d_name, &first))
			continue;
		if (n == cap) {
			uint64_t *p = realloc(firsts, (cap ? cap * 2 : 64) * sizeof(*p));

			if (!p) {
				rc = -ENOMEM;
				goto out;
			}
			firsts = p;
			cap = cap ? cap * 2 : 64;
		}
		firsts[n++] = first;
	}
	if (n)
		qsort(firsts, n, sizeof(*firsts), cmp_u64);
	rc = buf_reserve(s, SCAN_CHUNK);
	for (size_t i = 0; i < n && !rc; i++) {
		struct spool_seg *seg = seg_new(firsts[i]);

		rc = seg && !segs_reserve(s) ? seg_scan(s, seg, i == n - 1, max_seq) : -ENOMEM;
		if (rc && rc != -ENOMEM) {
			char name[SEG_NAME_SIZE];

			seg_name(firsts[i], name);
			log_warn("spool", "segment ignored dir=%s file=%s error=\"%s\"", s->dir,
				 name, strerror(-rc));
			seg_free(seg);
			rc = 0;
			continue;
		}
		if (rc) {
			seg_free(seg);
			break;
		}
		s->segs[s->nsegs++] = seg;
	}
out:
	if (rc)
		set_err(err, errlen, "spool: cannot load %s: %s", s->dir, strerror(-rc));
	free(firsts);
	closedir(d);
	return rc;
}

static int open_dir(struct spool *s, char *err, size_t errlen)
{
	int rc;

	if (mkdir(s->dir, 0700) && errno != EEXIST) {
		rc = -errno;
		set_err(err, errlen, "spool: cannot create %s: %s", s->dir, strerror(-rc));
		return rc;
	}
	s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		rc = -errno;
		set_err(err, errlen, "spool: cannot open %s: %s", s->dir, strerror(-rc));
		return rc;
	}
	if (flock(s->dirfd, LOCK_EX | LOCK_NB)) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		set_err(err, errlen, "spool: %s is in use by another process", s->dir);
		return rc;
	}
	return 0;
}

static int new_epoch(struct spool *s)
{
	do {
		ssize_t n = getrandom(&s->epoch, sizeof(s->epoch), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(s->epoch))
			return n < 0 ? -errno : -EIO;
	} while (s->epoch == 0);
	return 0;
}

/* The sequence and epoch state. A spool whose seq file is lost cannot know which seqs the server
 * has seen under its epoch, so it takes a new epoch (the server then starts afresh). */
static int load_state(struct spool *s, char *err, size_t errlen)
{
	uint64_t max_seq, lease = 0;
	int seq_rc, epoch_rc, rc;

	rc = state_read(s->dirfd, "acked", &s->acked);
	if (rc && rc != -ENOENT)
		log_warn("spool", "unreadable ack state, unacked batches may be resent dir=%s",
			 s->dir);
	if (rc)
		s->acked = 0;
	seq_rc = state_read(s->dirfd, "seq", &lease);
	epoch_rc = state_read(s->dirfd, "epoch", &s->epoch);
	rc = load_segments(s, &max_seq, err, errlen);
	if (rc)
		return rc;
	if (!seq_rc && lease > max_seq)
		max_seq = lease;
	if (s->acked > max_seq)
		max_seq = s->acked;
	s->next_seq = max_seq + 1;
	s->seq_lease = seq_rc ? 0 : lease;
	if (epoch_rc || seq_rc || s->epoch == 0) {
		if (epoch_rc != -ENOENT)
			log_warn("spool", "epoch or sequence state lost, new epoch dir=%s", s->dir);
		rc = new_epoch(s);
		if (!rc)
			rc = state_write(s, "seq", max_seq, true);
		if (!rc)
			s->seq_lease = max_seq;
		if (!rc)
			rc = state_write(s, "epoch", s->epoch, true);
		if (rc) {
			set_err(err, errlen, "spool: cannot write state in %s: %s", s->dir,
				strerror(-rc));
			return rc;
		}
	}
	/* Fully acked before a crash, or nothing but garbage: nothing left to send. */
	remove_finished(s);
	return 0;
}

static void spool_free(struct spool *s)
{
	for (size_t i = 0; i < s->nsegs; i++)
		seg_free(s->segs[i]);
	free(s->segs);
	free(s->buf);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->dir);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

struct spool *spool_open(const struct spool_opts *o, char *err, size_t errlen)
{
	struct spool *s;
	int rc;

	if (!o || !o->dir || !o->dir[0]) {
		set_err(err, errlen, "spool: no directory");
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->dir = strdup(o->dir))) {
		free(s);
		set_err(err, errlen, "spool: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->dirfd = -1;
	s->max_bytes = o->max_bytes ? o->max_bytes : SPOOL_DEFAULT_MAX_BYTES;
	s->segment_bytes = o->segment_bytes ? o->segment_bytes : SPOOL_DEFAULT_SEGMENT_BYTES;
	s->sync = o->sync;
	rc = open_dir(s, err, errlen);
	if (!rc)
		rc = load_state(s, err, errlen);
	if (rc) {
		spool_free(s);
		errno = -rc;
		return NULL;
	}
	log_info("spool",
		 "opened dir=%s epoch=%016" PRIx64 " next_seq=%" PRIu64 " batches=%" PRIu64
		 " bytes=%" PRIu64 " corrupt=%" PRIu64,
		 s->dir, s->epoch, s->next_seq, s->st.batches, s->st.bytes, s->st.corrupt_records);
	return s;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->wseg && s->wseg->fd >= 0 && !s->sync)
		fdatasync(s->wseg->fd);
	if (s->next_seq && s->seq_lease != s->next_seq - 1)
		state_write(s, "seq", s->next_seq - 1, true);
	pthread_mutex_unlock(&s->lock);
	spool_free(s);
}

uint64_t spool_epoch(const struct spool *s)
{
	return s->epoch;
}

int spool_append(struct spool *s, const void *payload, size_t len, uint32_t events, uint64_t *seq)
{
	uint8_t hdr[HDR_LEN];
	struct spool_record r;
	struct spool_seg *seg;
	uint64_t need;
	int rc;

	if (!s || (!payload && len))
		return -EINVAL;
	if (len > SPOOL_RECORD_MAX_PAYLOAD)
		return -EMSGSIZE;
	need = HDR_LEN + (uint64_t)len;
	if (need > s->max_bytes)
		return -E2BIG;
	pthread_mutex_lock(&s->lock);
	if (s->next_seq == 0 || s->next_seq == UINT64_MAX) {
		rc = -EOVERFLOW;
		goto out;
	}
	if (s->next_seq > s->seq_lease) {
		uint64_t lease = s->next_seq < UINT64_MAX - SEQ_LEASE ? s->next_seq + SEQ_LEASE - 1
								      : UINT64_MAX - 1;

		rc = state_write(s, "seq", lease, true);
		if (rc)
			goto out;
		s->seq_lease = lease;
	}
	while (s->nsegs && s->st.bytes + need > s->max_bytes)
		drop_oldest(s);
	if (s->wseg && s->wseg->size && s->wseg->size + need > s->segment_bytes)
		rotate(s);
	if (!s->wseg) {
		rc = seg_create(s);
		if (rc)
			goto out;
	}
	seg = s->wseg;
	rc = seg_reserve(seg);
	if (rc)
		goto out;
	r = (struct spool_record){
	    .epoch = s->epoch, .seq = s->next_seq, .events = events, .len = (uint32_t)len};
	spool_record_encode_header(&r, payload, hdr);
	rc = write_record(seg->fd, hdr, payload, len, seg->size);
	if (!rc && s->sync && fdatasync(seg->fd))
		rc = -errno;
	if (rc) {
		/* A partial record would read as a torn tail after a restart; the next append
		 * overwrites it anyway, as it writes at seg->size. */
		if (ftruncate(seg->fd, (off_t)seg->size))
			log_warn("spool", "cannot cut a failed append dir=%s", s->dir);
		log_ratelimited(&s->corrupt_rate, 6, LOG_LEVEL_WARN, "spool",
				"append failed dir=%s error=\"%s\"", s->dir, strerror(-rc));
		goto out;
	}
	seg->recs[seg->nrecs++] = (struct spool_rec){r.seq, seg->size, r.len, events};
	seg->size += need;
	s->st.bytes += need;
	s->st.batches++;
	s->st.events += events;
	s->st.appended_batches++;
	if (seq)
		*seq = r.seq;
	s->next_seq++;
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int spool_peek(struct spool *s, struct spool_batch *out)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct spool_seg *seg = NULL;
		struct spool_record r;
		struct spool_rec *rec;
		size_t used;
		int fd;

		for (size_t i = 0; i < s->nsegs && !seg; i++)
			if (s->segs[i]->head < s->segs[i]->nrecs)
				seg = s->segs[i];
		if (!seg) {
			rc = -ENOENT;
			break;
		}
		rec = &seg->recs[seg->head];
		rc = buf_reserve(s, HDR_LEN + (size_t)rec->len);
		if (rc)
			break;
		fd = seg_fd(s, seg);
		if (fd == -ENOENT) {
			/* Deleted behind our back: whatever it held is gone. */
			log_ratelimited(&s->corrupt_rate, 6, LOG_LEVEL_WARN, "spool",
					"segment vanished dir=%s first=%016" PRIx64 " batches=%zu",
					s->dir, seg->first, seg->nrecs - seg->head);
			s->st.corrupt_records++;
			seg_lose(s, seg, seg->nrecs);
			continue;
		}
		if (fd < 0) {
			rc = fd;
			break;
		}
		rc = pread_full(fd, s->buf, HDR_LEN + (size_t)rec->len, rec->off);
		if (!rc)
			rc = spool_record_decode(s->buf, HDR_LEN + (size_t)rec->len, &r, &used);
		if (!rc && r.seq == rec->seq && r.events == rec->events) {
			*out = (struct spool_batch){.epoch = r.epoch,
						    .seq = r.seq,
						    .payload = (const char *)r.payload,
						    .len = r.len,
						    .events = r.events};
			break;
		}
		/* Changed on disk since it was indexed, or unreadable: skip it rather than block
		 * the uplink on it forever. */
		log_ratelimited(&s->corrupt_rate, 6, LOG_LEVEL_WARN, "spool",
				"unreadable record skipped dir=%s seq=%" PRIu64 " error=\"%s\"",
				s->dir, rec->seq, rc ? strerror(-rc) : "changed on disk");
		s->st.corrupt_records++;
		seg_lose(s, seg, 1);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int spool_ack(struct spool *s, uint64_t seq)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (s->next_seq && seq >= s->next_seq) {
		rc = -ERANGE;
		goto out;
	}
	if (seq <= s->acked)
		goto out;
	/* Durable before any segment goes, so a restart never resends what the server has. */
	rc = state_write(s, "acked", seq, s->sync);
	if (rc)
		goto out;
	s->acked = seq;
	for (size_t i = 0; i < s->nsegs; i++) {
		struct spool_seg *seg = s->segs[i];

		for (; seg->head < seg->nrecs && seg->recs[seg->head].seq <= seq; seg->head++) {
			s->st.batches--;
			s->st.events -= seg->recs[seg->head].events;
			s->st.acked_batches++;
		}
		if (seg->head < seg->nrecs)
			break;
	}
	remove_finished(s);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void spool_stats(struct spool *s, struct spool_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	pthread_mutex_unlock(&s->lock);
}
