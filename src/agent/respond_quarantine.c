#include "respond_quarantine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hex.h"

#include "banned.h"

#define CHUNK ((size_t)64 * 1024)
#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define SHA_LEN 32
#define ID_LEN 32
#define NAME_LEN 48		     /* "<id>.json.tmp" and the like */
#define META_MAX ((size_t)64 * 1024) /* a larger .json is not one of ours */
#define LIST_MAX 4096
#define FORMAT_VERSION 1

/* One vault entry: <id>.bin holds the ciphertext (as long as the plaintext), <id>.json this.
 *
 * The metadata is authenticated by GCM itself: the AAD is the entry's JSON without "tag",
 * serialized compact with sorted keys. Editing any field (path, mode, owner, even adding one)
 * or pairing a .json with another entry's .bin makes the tag check fail, so a restore can never
 * write a file somewhere else or with other permissions than it had. One primitive, one key, no
 * separate MAC to get wrong. It costs one extra read at quarantine time, since the SHA-256 in the
 * AAD must be known before encryption starts. This guards against the vault being edited,
 * corrupted or mixed up by anything that cannot read the key; whoever can read the key (root)
 * can forge entries, as they could write the file in place anyway. */
struct entry {
	char id[ID_LEN + 1];
	char path[PATH_MAX];
	uint64_t size;
	unsigned char sha[SHA_LEN];
	unsigned mode; /* st_mode & 07777: setuid, setgid and sticky included */
	uint32_t uid, gid;
	int64_t mtime, mtime_nsec, quarantined_at;
	unsigned char nonce[NONCE_LEN], tag[TAG_LEN];
	char *aad; /* owned */
};

struct vault {
	int fd; /* holds the vault's lock (flock) while open */
	struct stat st;
	unsigned char key[KEY_LEN];
};

/* The file's directory, opened without symlinks, and its last component. */
struct target {
	char dir[PATH_MAX];
	char path[PATH_MAX]; /* dir + "/" + name */
	const char *name;    /* in path */
	int dirfd;
};

__attribute__((format(printf, 3, 4))) static int fail(json_t **result, int rc, const char *fmt, ...)
{
	char msg[PATH_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(*result);
	*result = json_pack("{s:s}", "error", msg);
	if (!*result) /* cut inside a UTF-8 sequence */
		*result = json_pack("{s:s}", "error", strerror(-rc));
	return rc;
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool is_lower_hex(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

static int random_hex(char *out, size_t bytes)
{
	unsigned char r[32];

	if (bytes > sizeof(r) || RAND_bytes(r, (int)bytes) != 1)
		return -EIO;
	to_hex(r, bytes, out);
	return 0;
}

/* Reads up to n bytes, fewer only at end of file. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int write_full(int fd, const void *buf, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = write(fd, (const char *)buf + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		off += (size_t)w;
	}
	return 0;
}

static int sync_close(int fd)
{
	int rc = fsync(fd) ? -errno : 0;

	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

/* Renames without replacing: renameat2 where the filesystem has it, else link + unlink, which
 * is just as atomic about an existing target. */
static int rename_noreplace(int odir, const char *old, int ndir, const char *new)
{
	if (renameat2(odir, old, ndir, new, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (linkat(odir, old, ndir, new, 0) != 0)
		return -errno;
	unlinkat(odir, old, 0);
	return 0;
}

/* ---- the vault directory and its key ---- */

static bool owner_ok(const struct stat *st)
{
	return (st->st_uid == 0 || st->st_uid == geteuid()) && !(st->st_mode & 077);
}

/* Leftovers of an operation that died (every operation holds the vault's lock, so none is in
 * progress): temporary files, and a .bin without its .json (written before it at quarantine,
 * removed after it at restore, so the original was never removed on its strength). */
static void vault_sweep(int vfd)
{
	int dfd = fcntl(vfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;
	char json[NAME_LEN];
	bool removed = false;
	struct stat st;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	rewinddir(d); /* the offset is shared with vfd */
	while ((de = readdir(d))) {
		const char *n = de->d_name, *ext = n + ID_LEN;
		bool ours = strlen(n) > ID_LEN && strspn(n, "0123456789abcdef") == ID_LEN;
		bool gone = false;

		if (ours && !strcmp(ext, ".bin")) {
			snprintf(json, sizeof(json), "%.*s.json", ID_LEN, n);
			gone = fstatat(vfd, json, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT;
		}
		if ((ours && (!strcmp(ext, ".tmp") || !strcmp(ext, ".json.tmp") || gone)) ||
		    (!strncmp(n, "key.", 4) && strlen(n) == 4 + 16 + 4 &&
		     strspn(n + 4, "0123456789abcdef") == 16 && !strcmp(n + 20, ".tmp")))
			removed |= unlinkat(vfd, n, 0) == 0;
	}
	closedir(d);
	if (removed)
		fsync(vfd);
}

static int vault_open(struct vault *v, const char *dir, json_t **result)
{
	int rc;

	v->fd = -1;
	if (!dir || !*dir)
		return fail(result, -EINVAL, "no vault directory configured");
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		return fail(result, rc, "cannot create the vault %s: %s", dir, strerror(-rc));
	}
	v->fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (v->fd < 0 && errno == ENOTDIR && lstat(dir, &v->st) == 0 && S_ISLNK(v->st.st_mode))
		return fail(result, -ELOOP, "the vault %s is a symbolic link: not followed", dir);
	if (v->fd < 0 || fstat(v->fd, &v->st) != 0) {
		rc = -errno;
		return fail(result, rc, "cannot open the vault %s: %s", dir, strerror(-rc));
	}
	if (!owner_ok(&v->st))
		return fail(result, -EPERM,
			    "the vault %s must be owned by root and closed to group and others "
			    "(mode 0700)",
			    dir);
	if (flock(v->fd, LOCK_EX) != 0) {
		rc = -errno;
		return fail(result, rc, "cannot lock the vault %s: %s", dir, strerror(-rc));
	}
	vault_sweep(v->fd);
	return 0;
}

static void vault_close(struct vault *v)
{
	OPENSSL_cleanse(v->key, sizeof(v->key));
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

static int key_create(int vfd)
{
	unsigned char key[KEY_LEN];
	char tmp[NAME_LEN], rnd[17];
	int fd, rc;

	if (RAND_bytes(key, sizeof(key)) != 1 || random_hex(rnd, 8))
		return -EIO;
	snprintf(tmp, sizeof(tmp), "key.%s.tmp", rnd);
	fd = openat(vfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = write_full(fd, key, sizeof(key));
	if (rc)
		close(fd);
	else
		rc = sync_close(fd); /* linked in before it is durable, a crash could lose it */
	/* linkat, not renameat: a key made meanwhile by another process is kept, never replaced,
	 * or the entries made with it would be lost. */
	if (!rc && linkat(vfd, tmp, vfd, "key", 0) != 0 && errno != EEXIST)
		rc = -errno;
	unlinkat(vfd, tmp, 0);
	if (!rc && fsync(vfd) != 0)
		rc = -errno;
out:
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

static int key_read(int fd, unsigned char *key)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size != KEY_LEN || !owner_ok(&st))
		return -EPERM;
	n = read_full(fd, key, KEY_LEN);
	return n < 0 ? (int)n : n == KEY_LEN ? 0 : -EIO;
}

static int key_load(struct vault *v, bool create, json_t **result)
{
	for (int tries = 0; tries < 2; tries++) {
		int fd = openat(v->fd, "key", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		int rc;

		if (fd >= 0) {
			rc = key_read(fd, v->key);
			close(fd);
			if (rc == -EPERM)
				return fail(result, rc,
					    "the vault key must be a 32-byte file owned by root "
					    "with mode 0600");
			if (rc)
				return fail(result, rc, "cannot read the vault key: %s",
					    strerror(-rc));
			return 0;
		}
		rc = -errno;
		if (rc != -ENOENT || !create)
			return fail(result, rc, "cannot open the vault key: %s", strerror(-rc));
		rc = key_create(v->fd);
		if (rc && rc != -EEXIST)
			return fail(result, rc, "cannot create the vault key: %s", strerror(-rc));
	}
	return fail(result, -EIO, "cannot create the vault key");
}

/* ---- paths ---- */

/* Opens the absolute directory dir one component at a time, never following a symlink: the
 * directory reached is the one dir names, not one a swapped-in link points to. */
static int open_dir_nofollow(const char *dir)
{
	size_t len = strlen(dir);
	char buf[PATH_MAX], *p, *end;
	int fd, next;

	if (dir[0] != '/' || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, dir, len + 1);
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (p = buf + 1; *p; p = end) {
		end = strchrnul(p, '/');
		if (*end)
			*end++ = '\0';
		if (!*p || !strcmp(p, ".") || !strcmp(p, "..")) {
			close(fd);
			return -EINVAL;
		}
		next = openat(fd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (next < 0)
			return errno == ENOTDIR ? -ELOOP : -errno; /* a symlink, or a file */
		fd = next;
	}
	next = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* O_PATH cannot be fsync'd */
	close(fd);
	return next < 0 ? -errno : next;
}

/* Splits path and opens its directory. canonical: resolve the directory's symlinks first
 * (quarantine: /bin may be a link to /usr/bin); otherwise it must have none (restore). */
static int target_open(struct target *t, const char *path, bool canonical)
{
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : "";
	size_t dlen;
	int n;

	t->dirfd = -1;
	if (path[0] != '/' || strlen(path) >= PATH_MAX)
		return path[0] != '/' ? -EINVAL : -ENAMETOOLONG;
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	dlen = slash == path ? 1 : (size_t)(slash - path);
	memcpy(t->dir, path, dlen);
	t->dir[dlen] = '\0';
	if (canonical) {
		char real[PATH_MAX];

		if (!realpath(t->dir, real))
			return -errno;
		memcpy(t->dir, real, strlen(real) + 1);
	}
	n = snprintf(t->path, sizeof(t->path), "%s/%s", strcmp(t->dir, "/") ? t->dir : "", name);
	if (n < 0 || (size_t)n >= sizeof(t->path))
		return -ENAMETOOLONG;
	t->name = t->path + n - strlen(name);
	t->dirfd = open_dir_nofollow(t->dir);
	return t->dirfd < 0 ? t->dirfd : 0;
}

/* ---- entries ---- */

static const char *sha_hex(const struct entry *e, char *hex)
{
	to_hex(e->sha, SHA_LEN, hex);
	return hex;
}

static json_t *entry_json(const struct entry *e, bool with_tag)
{
	char sha[2 * SHA_LEN + 1], nonce[2 * NONCE_LEN + 1], tag[2 * TAG_LEN + 1];
	json_t *j;

	to_hex(e->sha, SHA_LEN, sha);
	to_hex(e->nonce, NONCE_LEN, nonce);
	to_hex(e->tag, TAG_LEN, tag);
	j = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
		      "version", FORMAT_VERSION, "cipher", "aes-256-gcm", "id", e->id, "path",
		      e->path, "size", (json_int_t)e->size, "sha256", sha, "mode",
		      (json_int_t)e->mode, "uid", (json_int_t)e->uid, "gid", (json_int_t)e->gid,
		      "mtime", (json_int_t)e->mtime, "mtime_nsec", (json_int_t)e->mtime_nsec,
		      "quarantined_at", (json_int_t)e->quarantined_at, "nonce", nonce);
	if (j && with_tag && json_object_set_new(j, "tag", json_string(tag))) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* What list shows: no nonce, no tag. */
static json_t *entry_public(const struct entry *e)
{
	char sha[2 * SHA_LEN + 1];

	to_hex(e->sha, SHA_LEN, sha);
	return json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "id", e->id, "path",
			 e->path, "size", (json_int_t)e->size, "sha256", sha, "mode",
			 (json_int_t)e->mode, "uid", (json_int_t)e->uid, "gid", (json_int_t)e->gid,
			 "mtime", (json_int_t)e->mtime, "mtime_nsec", (json_int_t)e->mtime_nsec,
			 "quarantined_at", (json_int_t)e->quarantined_at);
}

static char *canonical(json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

static bool get_int(json_t *o, const char *k, json_int_t lo, json_int_t hi, json_int_t *v)
{
	json_t *x = json_object_get(o, k);

	*v = json_integer_value(x);
	return json_is_integer(x) && *v >= lo && *v <= hi;
}

static bool get_hex(json_t *o, const char *k, unsigned char *out, size_t n)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && is_lower_hex(s, 2 * n) && hex_decode(s, 2 * n, out, n) == (int)n;
}

static bool entry_parse(struct entry *e, json_t *o)
{
	const char *path = json_string_value(json_object_get(o, "path"));
	const char *cipher = json_string_value(json_object_get(o, "cipher"));
	const char *id = json_string_value(json_object_get(o, "id"));
	json_int_t v[8];

	if (!path || path[0] != '/' || strlen(path) >= sizeof(e->path) || !cipher ||
	    strcmp(cipher, "aes-256-gcm") || !id || strcmp(id, e->id) ||
	    !get_int(o, "version", FORMAT_VERSION, FORMAT_VERSION, &v[0]) ||
	    !get_int(o, "size", 0, RESPOND_QUARANTINE_MAX, &v[1]) ||
	    !get_int(o, "mode", 0, 07777, &v[2]) ||
	    /* (uid_t)-1 would make fchown leave the owner as is */
	    !get_int(o, "uid", 0, (json_int_t)UINT32_MAX - 1, &v[3]) ||
	    !get_int(o, "gid", 0, (json_int_t)UINT32_MAX - 1, &v[4]) ||
	    !get_int(o, "mtime", INT64_MIN, INT64_MAX, &v[5]) ||
	    !get_int(o, "mtime_nsec", 0, 999999999, &v[6]) ||
	    !get_int(o, "quarantined_at", 0, INT64_MAX, &v[7]) ||
	    !get_hex(o, "sha256", e->sha, SHA_LEN) || !get_hex(o, "nonce", e->nonce, NONCE_LEN) ||
	    !get_hex(o, "tag", e->tag, TAG_LEN))
		return false;
	memcpy(e->path, path, strlen(path) + 1);
	e->size = (uint64_t)v[1];
	e->mode = (unsigned)v[2];
	e->uid = (uint32_t)v[3];
	e->gid = (uint32_t)v[4];
	e->mtime = v[5];
	e->mtime_nsec = v[6];
	e->quarantined_at = v[7];
	return true;
}

/* Reads <id>.json into e (e->id set by the caller). -ENOENT, -EINVAL (not an entry), or an
 * errno. The AAD is the stored object without its tag, so that any change to it shows. */
static int entry_load(int vfd, struct entry *e)
{
	char name[NAME_LEN], *buf = NULL;
	json_t *o = NULL;
	struct stat st;
	ssize_t n;
	int fd, rc = -EINVAL;

	snprintf(name, sizeof(name), "%s.json", e->id);
	fd = openat(vfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > META_MAX)
		goto out;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	n = read_full(fd, buf, (size_t)st.st_size + 1);
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	if (n != st.st_size)
		goto out;
	o = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o) || !entry_parse(e, o))
		goto out;
	json_object_del(o, "tag");
	free(e->aad);
	e->aad = canonical(o);
	rc = e->aad ? 0 : -ENOMEM;
out:
	json_decref(o);
	free(buf);
	close(fd);
	return rc;
}

/* Opens <id>.bin, which must be as long as the plaintext. */
static int entry_open_bin(int vfd, const struct entry *e)
{
	char name[NAME_LEN];
	struct stat st;
	int fd;

	snprintf(name, sizeof(name), "%s.bin", e->id);
	fd = openat(vfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != e->size) {
		close(fd);
		return -EBADMSG;
	}
	return fd;
}

/* Removes <id>.json then <id>.bin (a lone .bin is swept up later; a lone .json would be an
 * entry that cannot be restored). */
static int entry_remove(int vfd, const char *id)
{
	char name[NAME_LEN];
	int rc = 0;

	snprintf(name, sizeof(name), "%s.json", id);
	if (unlinkat(vfd, name, 0) != 0 && errno != ENOENT)
		rc = -errno;
	snprintf(name, sizeof(name), "%s.bin", id);
	if (unlinkat(vfd, name, 0) != 0 && errno != ENOENT && !rc)
		rc = -errno;
	if (fsync(vfd) != 0 && !rc)
		rc = -errno;
	return rc;
}

/* ---- streaming ---- */

/* Feeds exactly size bytes of in, which must end there, through c (when not NULL) into out
 * (when >= 0), and the plaintext through SHA-256 into sha. -EAGAIN when in is not size bytes
 * long (a file that changed while read). */
static int pump(int in, int out, EVP_CIPHER_CTX *c, bool enc, uint64_t size, unsigned char *sha)
{
	unsigned char *ibuf = malloc(CHUNK), *obuf = malloc(CHUNK);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = 0, n = 0;
	ssize_t got;

	if (!ibuf || !obuf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint64_t left = size; left;) {
		size_t want = left < CHUNK ? (size_t)left : CHUNK;

		got = read_full(in, ibuf, want);
		if (got < 0 || (size_t)got != want) {
			rc = got < 0 ? (int)got : -EAGAIN; /* shrank while read */
			goto out;
		}
		if ((c && EVP_CipherUpdate(c, obuf, &n, ibuf, (int)want) != 1) ||
		    (c && (size_t)n != want) ||
		    EVP_DigestUpdate(md, c && !enc ? obuf : ibuf, want) != 1) {
			rc = -EIO;
			goto out;
		}
		if (out >= 0 && (rc = write_full(out, c ? obuf : ibuf, want)))
			goto out;
		left -= want;
	}
	got = read_full(in, ibuf, 1);
	if (got != 0) {
		rc = got < 0 ? (int)got : -EAGAIN; /* grew while read */
		goto out;
	}
	if (EVP_DigestFinal_ex(md, sha, NULL) != 1)
		rc = -EIO;
out:
	if (ibuf)
		OPENSSL_cleanse(ibuf, CHUNK);
	if (obuf)
		OPENSSL_cleanse(obuf, CHUNK);
	free(ibuf);
	free(obuf);
	EVP_MD_CTX_free(md);
	return rc;
}

/* AES-256-GCM over in into out with e's nonce and AAD. Encrypting sets e->tag and the
 * plaintext's hash in sha; decrypting checks e->tag and e->sha (-EBADMSG). */
static int gcm(int in, int out, bool enc, const unsigned char *key, struct entry *e,
	       unsigned char *sha)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	unsigned char fin[32], got[SHA_LEN];
	int n, rc = -EIO;

	if (!c || EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, e->nonce, enc) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)e->aad, (int)strlen(e->aad)) != 1)
		goto out;
	rc = pump(in, out, c, enc, e->size, enc ? sha : got);
	if (rc)
		goto out;
	rc = -EIO;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, e->tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, fin, &n) != 1 || n != 0) {
		rc = enc ? -EIO : -EBADMSG;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, e->tag) != 1)
		goto out;
	rc = !enc && CRYPTO_memcmp(got, e->sha, SHA_LEN) ? -EBADMSG : 0;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/* Decrypts and checks the whole entry without writing anything. */
static int entry_verify(int vfd, const unsigned char *key, struct entry *e)
{
	int fd = entry_open_bin(vfd, e), rc;

	if (fd < 0)
		return fd == -ENOENT ? -EBADMSG : fd;
	rc = gcm(fd, -1, false, key, e, NULL);
	close(fd);
	return rc == -EAGAIN ? -EBADMSG : rc;
}

/* ---- quarantine ---- */

static bool same_content(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The file, opened without following it and only once it is known to be a regular file (opening
 * a device or a FIFO can have effects). O_NOATIME where allowed, to leave the evidence as is. */
static int open_original(const struct target *t, struct stat *st, json_t **result)
{
	struct stat lst;
	int fd, rc;

	if (fstatat(t->dirfd, t->name, &lst, AT_SYMLINK_NOFOLLOW) != 0) {
		rc = -errno;
		return fail(result, rc, "%s: %s", t->path, strerror(-rc));
	}
	if (S_ISLNK(lst.st_mode))
		return fail(result, -ELOOP, "%s is a symbolic link: not followed", t->path);
	if (!S_ISREG(lst.st_mode))
		return fail(result, -EINVAL, "%s is not a regular file", t->path);
	fd = openat(t->dirfd, t->name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(t->dirfd, t->name,
			    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return fail(result, rc, "%s: %s", t->path, strerror(-rc));
	}
	if (fstat(fd, st) != 0) {
		rc = -errno;
		close(fd);
		return fail(result, rc, "%s: %s", t->path, strerror(-rc));
	}
	if (!S_ISREG(st->st_mode) || st->st_dev != lst.st_dev || st->st_ino != lst.st_ino) {
		close(fd);
		return fail(result, -EAGAIN, "%s was replaced while opened: try again", t->path);
	}
	if ((uint64_t)st->st_size > RESPOND_QUARANTINE_MAX) {
		close(fd);
		return fail(result, -EFBIG, "%s is larger than the %u-byte cap (%lld bytes)",
			    t->path, RESPOND_QUARANTINE_MAX, (long long)st->st_size);
	}
	return fd;
}

/* Writes the encrypted copy to <id>.bin (via <id>.tmp, synced). */
static int write_bin(int vfd, int in, const unsigned char *key, struct entry *e, unsigned char *sha)
{
	char tmp[NAME_LEN], bin[NAME_LEN];
	int out, rc;

	snprintf(tmp, sizeof(tmp), "%s.tmp", e->id);
	snprintf(bin, sizeof(bin), "%s.bin", e->id);
	if (lseek(in, 0, SEEK_SET) != 0)
		return -errno;
	out = openat(vfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	rc = gcm(in, out, true, key, e, sha);
	if (rc) {
		close(out);
	} else {
		rc = sync_close(out);
		if (!rc)
			rc = rename_noreplace(vfd, tmp, vfd, bin);
	}
	if (rc)
		unlinkat(vfd, tmp, 0);
	return rc;
}

/* Writes <id>.json (via <id>.json.tmp, synced). */
static int write_meta(int vfd, const struct entry *e)
{
	char tmp[NAME_LEN], name[NAME_LEN], *text;
	json_t *j = entry_json(e, true);
	int fd, rc;

	text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!text)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s.json.tmp", e->id);
	snprintf(name, sizeof(name), "%s.json", e->id);
	fd = openat(vfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = write_full(fd, text, strlen(text));
	if (rc)
		close(fd);
	else
		rc = sync_close(fd);
	if (!rc)
		rc = rename_noreplace(vfd, tmp, vfd, name);
	if (rc)
		unlinkat(vfd, tmp, 0);
out:
	free(text);
	return rc;
}

/* Reads the entry back from disk as restore will, and decrypts it: the original goes only
 * when this copy is known to give it back. */
static int check_written(int vfd, const unsigned char *key, const struct entry *e)
{
	struct entry back = {0};
	int rc;

	memcpy(back.id, e->id, sizeof(back.id));
	rc = entry_load(vfd, &back);
	if (!rc && (strcmp(back.path, e->path) || back.size != e->size ||
		    memcmp(back.sha, e->sha, SHA_LEN) || strcmp(back.aad, e->aad)))
		rc = -EIO;
	if (!rc)
		rc = entry_verify(vfd, key, &back);
	free(back.aad);
	return rc;
}

int respond_quarantine(const char *vault_dir, const char *path, json_t **result)
{
	struct vault v = {.fd = -1};
	struct target t = {.dirfd = -1};
	struct entry e = {0};
	unsigned char sha[SHA_LEN];
	char hex[2 * SHA_LEN + 1];
	struct stat st, now, dst;
	struct timespec ts;
	bool made = false;
	json_t *j;
	int fd = -1, rc;

	*result = NULL;
	if (!path || path[0] != '/')
		return fail(result, -EINVAL, "path must be absolute");
	j = json_string(path);
	if (!j)
		return fail(result, -EINVAL, "path is not valid UTF-8");
	json_decref(j);
	if ((rc = vault_open(&v, vault_dir, result)) || (rc = key_load(&v, true, result)))
		goto out;
	rc = target_open(&t, path, true);
	if (rc) {
		fail(result, rc, "%s: %s", path, strerror(-rc));
		goto out;
	}
	if (fstat(t.dirfd, &dst) == 0 && dst.st_dev == v.st.st_dev && dst.st_ino == v.st.st_ino) {
		rc = fail(result, -EINVAL, "%s is inside the vault", t.path);
		goto out;
	}
	fd = open_original(&t, &st, result);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	/* The hash goes into the AAD, so it is taken first; encryption hashes again and the two
	 * must agree, as must fstat before and after. */
	rc = pump(fd, -1, NULL, true, (uint64_t)st.st_size, e.sha);
	if (!rc && (random_hex(e.id, ID_LEN / 2) || RAND_bytes(e.nonce, NONCE_LEN) != 1))
		rc = -EIO;
	if (rc)
		goto changed;
	memcpy(e.path, t.path, strlen(t.path) + 1);
	e.size = (uint64_t)st.st_size;
	e.mode = st.st_mode & 07777;
	e.uid = st.st_uid;
	e.gid = st.st_gid;
	e.mtime = st.st_mtim.tv_sec;
	e.mtime_nsec = st.st_mtim.tv_nsec;
	clock_gettime(CLOCK_REALTIME, &ts);
	e.quarantined_at = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	j = entry_json(&e, false);
	e.aad = j ? canonical(j) : NULL;
	json_decref(j);
	if (!e.aad) {
		rc = -ENOMEM;
		goto changed;
	}
	rc = write_bin(v.fd, fd, v.key, &e, sha);
	if (rc)
		goto changed;
	made = true;
	if (memcmp(sha, e.sha, SHA_LEN) || fstat(fd, &now) != 0 || !same_content(&st, &now)) {
		rc = -EAGAIN;
		goto changed;
	}
	rc = write_meta(v.fd, &e);
	if (!rc && fsync(v.fd) != 0)
		rc = -errno;
	if (!rc)
		rc = check_written(v.fd, v.key, &e);
	if (rc) {
		fail(result, rc, "cannot write %s to the vault: %s", t.path, strerror(-rc));
		goto out;
	}
	/* Still the file that was read, still at its name: only then is it removed. A write
	 * between this check and the unlink is the one window left. */
	if (fstat(fd, &now) != 0 || !same_content(&st, &now)) {
		rc = -EAGAIN;
		goto changed;
	}
	if (fstatat(t.dirfd, t.name, &now, AT_SYMLINK_NOFOLLOW) != 0 || now.st_dev != st.st_dev ||
	    now.st_ino != st.st_ino) {
		rc = fail(result, -ESTALE, "%s was replaced by another file: nothing removed",
			  t.path);
		goto out;
	}
	if (unlinkat(t.dirfd, t.name, 0) != 0) {
		rc = -errno;
		fail(result, rc, "cannot remove %s: %s (nothing quarantined)", t.path,
		     strerror(-rc));
		goto out;
	}
	made = false;
	fsync(t.dirfd); /* if a crash loses the unlink, the file is back beside its copy: no harm */
	*result = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I}", "id", e.id, "path", e.path,
			    "size", (json_int_t)e.size, "sha256", sha_hex(&e, hex), "mode",
			    (json_int_t)e.mode, "uid", (json_int_t)e.uid, "gid", (json_int_t)e.gid);
	if (*result && st.st_nlink > 1) {
		char warn[160];

		snprintf(warn, sizeof(warn),
			 "%ju other hard link(s) to this file remain: its content is still "
			 "reachable through them",
			 (uintmax_t)st.st_nlink - 1);
		json_object_set_new(*result, "warning", json_string(warn));
	}
	if (!*result)
		*result = json_pack("{s:s}", "id", e.id);
	goto out;
changed:
	if (rc == -EAGAIN)
		fail(result, rc, "%s changed while it was read: nothing quarantined, try again",
		     t.path);
	else
		fail(result, rc, "cannot quarantine %s: %s", t.path, strerror(-rc));
out:
	if (made)
		entry_remove(v.fd, e.id);
	if (fd >= 0)
		close(fd);
	if (t.dirfd >= 0)
		close(t.dirfd);
	free(e.aad);
	vault_close(&v);
	return rc;
}

/* ---- restore ---- */

static int restore_failed(json_t **result, int rc, const struct entry *e)
{
	if (rc == -EBADMSG)
		return fail(result, rc,
			    "entry %s does not authenticate (altered, or made with another vault "
			    "key): not restored",
			    e->id);
	return fail(result, rc, "cannot restore %s: %s", e->path, strerror(-rc));
}

static int target_failed(json_t **result, int rc, const struct target *t, const struct entry *e)
{
	if (rc == -ENOENT)
		return fail(result, rc,
			    "the directory %s no longer exists: recreate it to restore %s", t->dir,
			    e->path);
	if (rc == -ELOOP)
		return fail(result, rc,
			    "the path to %s now has a symbolic link or a file in it: not restored",
			    t->dir);
	return fail(result, rc, "cannot open the directory of %s: %s", e->path, strerror(-rc));
}

/* Decrypts the entry into a new file beside the target, with the original's owner, mode and
 * mtime, and renames it into place. The caller removes tmp when this fails after creating it. */
static int restore_file(const struct vault *v, struct entry *e, const struct target *t,
			const char *tmp, bool force, bool *made)
{
	const struct timespec times[2] = {{0, UTIME_OMIT}, {e->mtime, e->mtime_nsec}};
	int out, bin, rc;

	out = openat(t->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	*made = true;
	bin = entry_open_bin(v->fd, e);
	if (bin < 0) {
		close(out);
		return bin == -ENOENT ? -EBADMSG : bin;
	}
	rc = gcm(bin, out, false, v->key, e, NULL);
	close(bin);
	if (rc == -EAGAIN)
		rc = -EBADMSG;
	/* Owner first: chown clears setuid and setgid, which the chmod after it sets back. */
	if (!rc && (fchown(out, e->uid, e->gid) != 0 || fchmod(out, e->mode) != 0 ||
		    futimens(out, times) != 0))
		rc = -errno;
	if (rc) {
		close(out);
		return rc;
	}
	rc = sync_close(out);
	if (rc)
		return rc;
	if (force)
		rc = renameat(t->dirfd, tmp, t->dirfd, t->name) ? -errno : 0;
	else
		rc = rename_noreplace(t->dirfd, tmp, t->dirfd, t->name);
	if (!rc)
		*made = false;
	return rc;
}

int respond_restore(const char *vault_dir, const char *id, bool force, json_t **result)
{
	struct vault v = {.fd = -1};
	struct target t = {.dirfd = -1};
	struct entry e = {0};
	char tmp[NAME_LEN], rnd[17], hex[2 * SHA_LEN + 1];
	const char *warning = NULL;
	bool made = false;
	struct stat st;
	int rc;

	*result = NULL;
	if (!id || !is_lower_hex(id, ID_LEN))
		return fail(result, -EINVAL, "id must be 32 lowercase hex digits");
	memcpy(e.id, id, ID_LEN + 1);
	if ((rc = vault_open(&v, vault_dir, result)) || (rc = key_load(&v, false, result)))
		goto out;
	rc = entry_load(v.fd, &e);
	if (rc == -ENOENT)
		fail(result, rc, "no quarantined file with id %s", id);
	else if (rc == -EINVAL)
		fail(result, rc, "entry %s has malformed metadata: not restored", id);
	else if (rc)
		fail(result, rc, "cannot read entry %s: %s", id, strerror(-rc));
	if (rc)
		goto out;
	/* Nothing is written outside the vault before the whole entry authenticates. The pass that
	 * writes checks again (the file is read anew). */
	rc = entry_verify(v.fd, v.key, &e);
	if (rc) {
		restore_failed(result, rc, &e);
		goto out;
	}
	rc = target_open(&t, e.path, false);
	if (rc) {
		target_failed(result, rc, &t, &e);
		goto out;
	}
	if (!force && fstatat(t.dirfd, t.name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		rc = fail(result, -EEXIST,
			  "%s exists: not replaced (restore with force to replace)", t.path);
		goto out;
	}
	rc = random_hex(rnd, 8);
	if (!rc) {
		snprintf(tmp, sizeof(tmp), ".mamori-restore-%s", rnd);
		rc = restore_file(&v, &e, &t, tmp, force, &made);
	}
	if (rc == -EEXIST) {
		fail(result, rc, "%s exists: not replaced (restore with force to replace)", t.path);
		goto out;
	}
	if (rc) {
		restore_failed(result, rc, &e);
		goto out;
	}
	/* The entry goes only once the file is durably back. */
	if (fsync(t.dirfd) != 0)
		warning = "restored, but its directory could not be synced: the entry is kept";
	else if (entry_remove(v.fd, e.id) != 0)
		warning = "restored, but the entry could not be removed from the vault";
	*result = json_pack("{s:s, s:s, s:I, s:s}", "id", e.id, "path", e.path, "size",
			    (json_int_t)e.size, "sha256", sha_hex(&e, hex));
	if (*result && warning)
		json_object_set_new(*result, "warning", json_string(warning));
	if (!*result)
		*result = json_pack("{s:s}", "id", e.id);
out:
	if (made)
		unlinkat(t.dirfd, tmp, 0);
	if (t.dirfd >= 0)
		close(t.dirfd);
	free(e.aad);
	vault_close(&v);
	return rc;
}

/* ---- list ---- */

static int by_time(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t tx = json_integer_value(json_object_get(x, "quarantined_at"));
	json_int_t ty = json_integer_value(json_object_get(y, "quarantined_at"));

	if (tx != ty)
		return tx < ty ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "id")),
		      json_string_value(json_object_get(y, "id")));
}

static json_t *list_one(int vfd, const char *name)
{
	struct entry e = {0};
	char bin[NAME_LEN];
	struct stat st;
	json_t *x;
	int rc;

	memcpy(e.id, name, ID_LEN);
	rc = entry_load(vfd, &e);
	snprintf(bin, sizeof(bin), "%s.bin", e.id);
	if (!rc && (fstatat(vfd, bin, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
		    (uint64_t)st.st_size != e.size))
		rc = -EBADMSG;
	if (rc)
		x = json_pack("{s:s, s:s}", "id", e.id, "error",
			      rc == -EINVAL    ? "malformed metadata"
			      : rc == -EBADMSG ? "encrypted file missing or of the wrong size"
					       : strerror(-rc));
	else
		x = entry_public(&e);
	free(e.aad);
	return x;
}

int respond_quarantine_list(const char *vault_dir, json_t **result)
{
	struct vault v = {.fd = -1};
	json_t **items = NULL, *arr = NULL;
	bool truncated = false;
	struct dirent *de;
	DIR *d = NULL;
	size_t n = 0;
	int dfd, rc;

	*result = NULL;
	if ((rc = vault_open(&v, vault_dir, result)))
		goto out;
	items = calloc(LIST_MAX, sizeof(*items));
	dfd = fcntl(v.fd, F_DUPFD_CLOEXEC, 0);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d && dfd >= 0)
		close(dfd);
	if (!items || !d) {
		rc = fail(result, -ENOMEM, "cannot list the vault");
		goto out;
	}
	rewinddir(d); /* the offset is shared with v.fd, which vault_sweep read to the end */
	while ((de = readdir(d))) {
		const char *name = de->d_name;

		if (strlen(name) != ID_LEN + 5 || strspn(name, "0123456789abcdef") != ID_LEN ||
		    strcmp(name + ID_LEN, ".json"))
			continue;
		if (n == LIST_MAX) {
			truncated = true;
			break;
		}
		items[n] = list_one(v.fd, name);
		if (!items[n]) {
			rc = fail(result, -ENOMEM, "cannot list the vault");
			goto out;
		}
		n++;
	}
	qsort(items, n, sizeof(*items), by_time);
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		if (json_array_append_new(arr, items[i]))
			break;
		items[i] = NULL;
	}
	*result = json_pack("{s:o, s:I}", "entries", arr, "count", (json_int_t)n);
	arr = NULL; /* json_pack's "o" took it, even on failure */
	if (!*result) {
		rc = fail(result, -ENOMEM, "cannot list the vault");
		goto out;
	}
	if (truncated)
		json_object_set_new(*result, "truncated", json_true());
out:
	for (size_t i = 0; items && i < n; i++)
		json_decref(items[i]);
	free(items);
	if (d)
		closedir(d);
	vault_close(&v);
	return rc;
}
