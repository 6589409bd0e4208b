/* Exec blocking's hashing: SHA-256 of an exec'd file through an fd the caller holds (pread, so
 * the file position is untouched), cached by device, inode, mtime, ctime and size, and whether
 * the file is a dynamic loader by its ELF shape. Worker thread only: no locks. */
#include "block_exec_int.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "banned.h"

#define BE_CACHE_ENTRIES 4096 /* four ways per set */
#define BE_CHUNK ((size_t)256 * 1024)
/* A file changed this recently may be rewritten within the same timestamp tick, unseen by a
 * ctime comparison: it is neither cached nor given an ignore mark (git's "racily clean"). */
#define BE_RACY_NS 1000000000LL

struct be_key {
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns, ctime_ns;
	off_t size;
};

struct be_cache_entry {
	struct be_key key;
	struct be_digest d;
	uint64_t used; /* 0: empty */
};

uint64_t block_exec_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* ---- the cache: worker only ---- */

static struct be_key key_of(const struct stat *sb)
{
	return (struct be_key){.dev = sb->st_dev,
			       .ino = sb->st_ino,
			       .mtime_ns = ts_ns(&sb->st_mtim),
			       .ctime_ns = ts_ns(&sb->st_ctim),
			       .size = sb->st_size};
}

static bool key_eq(const struct be_key *a, const struct be_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->mtime_ns == b->mtime_ns &&
	       a->ctime_ns == b->ctime_ns && a->size == b->size;
}

bool block_exec_same_file(const struct stat *a, const struct stat *b)
{
	struct be_key ka = key_of(a), kb = key_of(b);

	return key_eq(&ka, &kb);
}

/* Set-associative, least recently used way replaced. */
static struct be_cache_entry *cache_find(struct block_exec *b, const struct be_key *k, bool insert)
{
	uint64_t x = (uint64_t)k->ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)k->dev ^
		     (uint64_t)k->ctime_ns * 31 ^ (uint64_t)k->size;
	struct be_cache_entry *set = &b->cache[((x ^ (x >> 29)) % BE_CACHE_ENTRIES) & ~3ull];
	struct be_cache_entry *victim = &set[0];

	for (unsigned w = 0; w < 4; w++) {
		if (set[w].used && key_eq(&set[w].key, k)) {
			set[w].used = ++b->clock;
			return &set[w];
		}
		if (set[w].used < victim->used)
			victim = &set[w];
	}
	if (!insert)
		return NULL;
	victim->key = *k;
	victim->used = ++b->clock;
	return victim;
}

void block_exec_forget(struct block_exec *b, const struct stat *sb)
{
	struct be_key k = key_of(sb);
	struct be_cache_entry *e = cache_find(b, &k, false);

	if (e)
		e->used = 0;
}

/* ---- hashing ---- */

static int hash_fd(struct block_exec *b, int fd, uint64_t deadline_ns, uint8_t out[32])
{
	EVP_MD_CTX *md = b->md;
	unsigned len = 0;
	uint64_t off = 0;
	ssize_t n;

	if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		return -ENOMEM;
	for (;;) {
		if (deadline_ns && block_exec_now_ns() > deadline_ns)
			return -ETIMEDOUT;
		n = pread(fd, b->buf, BE_CHUNK, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		off += (uint64_t)n;
		if (off > b->opts.max_hash_bytes)
			return -EFBIG;
		if (!EVP_DigestUpdate(md, b->buf, (size_t)n))
			return -EIO;
	}
	if (!EVP_DigestFinal_ex(md, out, &len) || len != 32)
		return -EIO;
	return 0;
}

static bool pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	return pread(fd, buf, len, (off_t)off) == (ssize_t)len;
}

/* What lets ld.so run as a program and load another: a shared object (ET_DYN) with no
 * interpreter of its own (no PT_INTERP) that names itself (DT_SONAME) and needs nothing (no
 * DT_NEEDED). Static PIEs have no SONAME; ordinary libraries need libc or have an interpreter.
 * A renamed copy of a loader is found this way, by content rather than by name. */
static bool elf_is_loader(struct block_exec *b, int fd)
{
	unsigned char *p = b->buf;
	uint64_t phoff, dyn_off = 0, dyn_size = 0;
	unsigned phnum, phent;
	bool is64, soname = false;

	if (!pread_all(fd, p, sizeof(Elf64_Ehdr), 0) || memcmp(p, ELFMAG, SELFMAG) != 0)
		return false;
	is64 = p[EI_CLASS] == ELFCLASS64;
	if (is64) {
		Elf64_Ehdr e;

		memcpy(&e, p, sizeof(e));
		if (e.e_type != ET_DYN)
			return false;
		phoff = e.e_phoff;
		phnum = e.e_phnum;
		phent = e.e_phentsize;
	} else {
		Elf32_Ehdr e;

		memcpy(&e, p, sizeof(e));
		if (p[EI_CLASS] != ELFCLASS32 || e.e_type != ET_DYN)
			return false;
		phoff = e.e_phoff;
		phnum = e.e_phnum;
		phent = e.e_phentsize;
	}
	if (phnum == 0 || phnum > 64 || phent != (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) ||
	    !pread_all(fd, p, (size_t)phnum * phent, phoff))
		return false;
	for (unsigned i = 0; i < phnum; i++) {
		uint32_t type;
		uint64_t off, size;

		if (is64) {
			Elf64_Phdr ph;

			memcpy(&ph, p + (size_t)i * phent, sizeof(ph));
			type = ph.p_type, off = ph.p_offset, size = ph.p_filesz;
		} else {
			Elf32_Phdr ph;

			memcpy(&ph, p + (size_t)i * phent, sizeof(ph));
			type = ph.p_type, off = ph.p_offset, size = ph.p_filesz;
		}
		if (type == PT_INTERP)
			return false;
		if (type == PT_DYNAMIC)
			dyn_off = off, dyn_size = size < 4096 ? size : 4096;
	}
	if (!dyn_size || !pread_all(fd, p, (size_t)dyn_size, dyn_off))
		return false;
	for (uint64_t o = 0; o + (is64 ? 16 : 8) <= dyn_size; o += is64 ? 16 : 8) {
		int64_t tag;

		if (is64) {
			Elf64_Dyn d;

			memcpy(&d, p + o, sizeof(d));
			tag = d.d_tag;
		} else {
			Elf32_Dyn d;

			memcpy(&d, p + o, sizeof(d));
			tag = d.d_tag;
		}
		if (tag == DT_NULL)
			break;
		if (tag == DT_NEEDED)
			return false;
		soname |= tag == DT_SONAME;
	}
	return soname;
}

int block_exec_digest(struct block_exec *b, int fd, uint64_t deadline_ns, struct be_digest *d,
		      struct stat *sb)
{
	struct be_cache_entry *e;
	struct timespec now;
	struct be_key k;
	struct stat after;
	int rc;

	if (fstat(fd, sb) < 0)
		return -errno;
	if (!S_ISREG(sb->st_mode))
		return -EINVAL;
	k = key_of(sb);
	e = cache_find(b, &k, false);
	if (e) {
		*d = e->d;
		return 0;
	}
	if ((uint64_t)sb->st_size > b->opts.max_hash_bytes)
		return -EFBIG;
	rc = hash_fd(b, fd, deadline_ns, d->sha);
	if (rc)
		return rc;
	d->loader = elf_is_loader(b, fd);
	/* Multigrain timestamps: the fstat above marked the ctime as seen, so a later write gets a
	 * distinct one. Elsewhere the racy rule below covers a write within the same tick. */
	if (fstat(fd, &after) < 0 || !block_exec_same_file(sb, &after))
		return -EAGAIN;
	clock_gettime(CLOCK_REALTIME, &now);
	d->racy = ts_ns(&now) - ts_ns(&sb->st_ctim) < BE_RACY_NS;
	if (!d->racy)
		cache_find(b, &k, true)->d = *d;
	return 0;
}

int block_exec_hash_init(struct block_exec *b)
{
	b->cache = calloc(BE_CACHE_ENTRIES, sizeof(*b->cache));
	b->buf = malloc(BE_CHUNK);
	b->md = EVP_MD_CTX_new();
	return b->cache && b->buf && b->md ? 0 : -ENOMEM;
}

void block_exec_hash_release(struct block_exec *b)
{
	EVP_MD_CTX_free(b->md);
	free(b->buf);
	free(b->cache);
}
