/* The quarantine vault against real files in a temporary directory: round trips of several sizes
 * with mode, owner and mtime, tampering with either vault file or the key, the refusals, listing
 * and the vault's own permission checks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "respond_quarantine.h"

/* Planted in the content: it must never show in the vault. */
#define MARKER "MAMORI-PLAINTEXT-MARKER-7f3a91"

struct fx {
	char root[PATH_MAX];
	char vault[PATH_MAX];
	char data[PATH_MAX];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char tmpl[] = "/tmp/mamori-quarantine-XXXXXX";

	*state = f;
	if (!f || !mkdtemp(tmpl) || !realpath(tmpl, f->root) ||
	    snprintf(f->vault, sizeof(f->vault), "%s/vault", f->root) >= (int)sizeof(f->vault) ||
	    snprintf(f->data, sizeof(f->data), "%s/data", f->root) >= (int)sizeof(f->data) ||
	    mkdir(f->data, 0755) != 0) {
		free(f);
		*state = NULL;
		return -1;
	}
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* out has PATH_MAX bytes; the test fails rather than run on a cut path. */
__attribute__((format(printf, 2, 3))) static void fmt_path(char *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && n < PATH_MAX);
}

static void path_in(char *out, const char *dir, const char *name)
{
	fmt_path(out, "%s/%s", dir, name);
}

static void vault_file(char *out, const struct fx *f, const char *id, const char *ext)
{
	fmt_path(out, "%s/%s%s", f->vault, id, ext);
}

static void write_bytes(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static unsigned char *read_bytes(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* Random content with the marker planted at the start, middle and end when it fits. */
static unsigned char *content(size_t len)
{
	unsigned char *buf = malloc(len + 1);
	size_t m = strlen(MARKER);

	assert_non_null(buf);
	assert_int_equal(RAND_bytes(buf, (int)len + 1), 1);
	if (len >= m) {
		memcpy(buf, MARKER, m);
		memcpy(buf + (len - m) / 2, MARKER, m);
		memcpy(buf + len - m, MARKER, m);
	}
	return buf;
}

static void sha_hex(const void *buf, size_t len, char *out)
{
	unsigned char md[32];
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static json_int_t jint(json_t *o, const char *k)
{
	json_t *x = json_object_get(o, k);

	assert_true(json_is_integer(x));
	return json_integer_value(x);
}

/* Entries in dir whose name ends with suffix ("" for all). */
static size_t count(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0, sl = strlen(suffix);

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && l >= sl &&
		    !strcmp(de->d_name + l - sl, suffix))
			n++;
	}
	closedir(d);
	return n;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void set_mtime(const char *path, time_t sec, long nsec)
{
	struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};

	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* Quarantines path and returns the id (caller frees). */
static char *quarantine(const struct fx *f, const char *path)
{
	json_t *r = NULL;
	char *id;
	int rc = respond_quarantine(f->vault, path, &r);

	if (rc)
		print_message("quarantine %s: %s\n", path, jstr(r, "error"));
	assert_int_equal(rc, 0);
	assert_non_null(jstr(r, "id"));
	id = strdup(jstr(r, "id"));
	json_decref(r);
	return id;
}

static int restore(const struct fx *f, const char *id, bool force)
{
	json_t *r = NULL;
	int rc = respond_restore(f->vault, id, force, &r);

	assert_non_null(r);
	if (rc)
		assert_non_null(jstr(r, "error"));
	json_decref(r);
	return rc;
}

static void assert_same_file(const char *path, const unsigned char *buf, size_t len)
{
	size_t got;
	unsigned char *back = read_bytes(path, &got);

	assert_int_equal(got, len);
	if (len)
		assert_memory_equal(back, buf, len);
	free(back);
}

/* Quarantine then restore, byte for byte, with mode and mtime, for sizes around the 64 KiB
 * buffer; the vault holds ciphertext only, and nothing is left over either way. */
static void test_round_trip(void **state)
{
	struct fx *f = *state;
	const size_t sizes[] = {0, 1, 29, 4096, 65535, 65536, 65537, 300001};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i], vlen;
		unsigned char *buf = content(len), *vbuf;
		char path[PATH_MAX], bin[PATH_MAX], json[PATH_MAX], hex[65];
		struct stat st0, st;
		json_t *r = NULL;
		const char *id;

		fmt_path(path, "%s/file-%zu", f->data, len);
		write_bytes(path, buf, len);
		assert_int_equal(chmod(path, 0640), 0);
		set_mtime(path, 1600000000 + (time_t)i, 123456789);
		assert_int_equal(stat(path, &st0), 0);
		sha_hex(buf, len, hex);

		assert_int_equal(respond_quarantine(f->vault, path, &r), 0);
		id = jstr(r, "id");
		assert_non_null(id);
		assert_int_equal(strlen(id), 32);
		assert_int_equal(strspn(id, "0123456789abcdef"), 32);
		assert_string_equal(jstr(r, "path"), path);
		assert_int_equal(jint(r, "size"), len);
		assert_string_equal(jstr(r, "sha256"), hex);
		assert_int_equal(jint(r, "mode"), 0640);
		assert_int_equal(jint(r, "uid"), st0.st_uid);
		assert_int_equal(jint(r, "gid"), st0.st_gid);
		assert_null(json_object_get(r, "warning"));
		assert_false(exists(path));

		vault_file(bin, f, id, ".bin");
		vault_file(json, f, id, ".json");
		assert_int_equal(stat(bin, &st), 0);
		assert_int_equal(st.st_size, len);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(stat(json, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(count(f->vault, ".tmp"), 0);
		vbuf = read_bytes(bin, &vlen);
		assert_null(memmem(vbuf, vlen, MARKER, strlen(MARKER)));
		if (len >= 16)
			assert_memory_not_equal(vbuf, buf, len);
		free(vbuf);

		assert_int_equal(restore(f, id, false), 0);
		assert_same_file(path, buf, len);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0640);
		assert_int_equal(st.st_uid, st0.st_uid);
		assert_int_equal(st.st_gid, st0.st_gid);
		assert_int_equal(st.st_mtim.tv_sec, 1600000000 + (time_t)i);
		assert_int_equal(st.st_mtim.tv_nsec, 123456789);
		assert_false(exists(bin));
		assert_false(exists(json));
		assert_int_equal(count(f->data, ""), i + 1); /* no temporary file left */
		json_decref(r);
		free(buf);
	}
	assert_int_equal(count(f->vault, ""), 1); /* the key */
}

/* setuid and setgid survive, and so does the owner (chown clears setuid: the test sets it after,
 * as restore must). */
static void test_mode_and_owner(void **state)
{
	struct fx *f = *state;
	const unsigned modes[] = {04755, 06711, 02750};
	bool root = geteuid() == 0;

	if (!root)
		print_message("not root: owner preservation not tested (needs chown)\n");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		unsigned char *buf = content(5000);
		char path[PATH_MAX], *id;
		struct stat st0, st;
		json_t *r = NULL;

		fmt_path(path, "%s/suid-%zu", f->data, i);
		write_bytes(path, buf, 5000);
		if (root)
			assert_int_equal(chown(path, 1234, 5678), 0);
		assert_int_equal(chmod(path, modes[i]), 0);
		set_mtime(path, 1234567890, 42);
		assert_int_equal(stat(path, &st0), 0);
		assert_int_equal(st0.st_mode & 07777, modes[i]);

		assert_int_equal(respond_quarantine(f->vault, path, &r), 0);
		assert_int_equal(jint(r, "mode"), modes[i]);
		assert_int_equal(jint(r, "uid"), root ? 1234 : st0.st_uid);
		assert_int_equal(jint(r, "gid"), root ? 5678 : st0.st_gid);
		id = strdup(jstr(r, "id"));
		json_decref(r);
		assert_false(exists(path));

		assert_int_equal(restore(f, id, false), 0);
		assert_same_file(path, buf, 5000);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, modes[i]);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_uid, root ? 1234u : st0.st_uid);
		assert_int_equal(st.st_gid, root ? 5678u : st0.st_gid);
		assert_int_equal(st.st_mtim.tv_sec, 1234567890);
		assert_int_equal(st.st_mtim.tv_nsec, 42);
		free(id);
		free(buf);
	}
}

/* A restore that fails leaves nothing at the path, and a tampered entry writes nothing at all
 * outside the vault, not even a temporary file removed at once: the directory's mtime (set to a
 * past time first) would show it. */
static void assert_refused(const struct fx *f, const char *id, const char *path)
{
	struct stat st;

	set_mtime(f->data, 1000000000, 5);
	assert_true(restore(f, id, false) < 0);
	assert_false(exists(path));
	assert_int_equal(count(f->data, ""), 0);
	assert_int_equal(stat(f->data, &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, 1000000000);
	assert_int_equal(st.st_mtim.tv_nsec, 5);
}

/* Any change to the ciphertext, its length included, fails the tag; the untouched entry still
 * restores afterwards, so the failures are the tampering's. */
static void test_tamper_bin(void **state)
{
	struct fx *f = *state;
	const size_t len = 100000;
	unsigned char *buf = content(len), *orig, *bad;
	char path[PATH_MAX], bin[PATH_MAX], *id;
	const size_t flips[] = {0, len / 2, len - 1};
	size_t olen;

	path_in(path, f->data, "victim");
	write_bytes(path, buf, len);
	id = quarantine(f, path);
	vault_file(bin, f, id, ".bin");
	orig = read_bytes(bin, &olen);
	bad = malloc(olen + 1);
	assert_non_null(bad);

	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		memcpy(bad, orig, olen);
		bad[flips[i]] ^= 0x01;
		write_bytes(bin, bad, olen);
		assert_int_equal(restore(f, id, false), -EBADMSG);
		assert_refused(f, id, path);
	}
	write_bytes(bin, orig, olen - 1); /* truncated */
	assert_refused(f, id, path);
	memcpy(bad, orig, olen);
	bad[olen] = 'x'; /* one byte longer */
	write_bytes(bin, bad, olen + 1);
	assert_refused(f, id, path);
	assert_int_equal(unlink(bin), 0);
	assert_refused(f, id, path);

	write_bytes(bin, orig, olen);
	assert_int_equal(restore(f, id, false), 0);
	assert_same_file(path, buf, len);
	free(bad);
	free(orig);
	free(buf);
	free(id);
}

static void edit_json(const char *json, const char *key, json_t *value)
{
	json_t *j = json_load_file(json, 0, NULL);
	char *text;

	assert_non_null(j);
	if (value)
		assert_int_equal(json_object_set_new(j, key, value), 0);
	else
		assert_int_equal(json_object_del(j, key), 0);
	text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	assert_non_null(text);
	write_bytes(json, text, strlen(text));
	free(text);
	json_decref(j);
}

/* Every field of the metadata is authenticated: changing where, with which mode or owner, or
 * anything else fails, and nothing is written anywhere. */
static void test_tamper_json(void **state)
{
	struct fx *f = *state;
	unsigned char *buf = content(3000), *orig;
	char path[PATH_MAX], other[PATH_MAX], json[PATH_MAX], *id, *text;
	size_t olen;
	json_t *j;

	path_in(path, f->data, "victim");
	path_in(other, f->data, "elsewhere");
	write_bytes(path, buf, 3000);
	assert_int_equal(chmod(path, 0644), 0);
	id = quarantine(f, path);
	vault_file(json, f, id, ".json");
	orig = read_bytes(json, &olen);
	j = json_loadb((const char *)orig, olen, 0, NULL);
	assert_non_null(j);

	struct {
		const char *key;
		json_t *value; /* NULL: delete the key */
	} edits[] = {
	    {"mode", json_integer(04777)},
	    {"path", json_string(other)},
	    {"uid", json_integer(jint(j, "uid") + 1)},
	    {"mtime", json_integer(jint(j, "mtime") + 1)},
	    {"quarantined_at", json_integer(jint(j, "quarantined_at") + 1)},
	    {"size", json_integer(2999)},
	    {"extra", json_true()},
	    {"tag", json_string("00000000000000000000000000000000")},
	    {"nonce", json_string("000000000000000000000000")},
	    {"sha256",
	     json_string("0000000000000000000000000000000000000000000000000000000000000000")},
	    {"id", json_string("00000000000000000000000000000000")},
	    {"tag", NULL},
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		write_bytes(json, orig, olen);
		edit_json(json, edits[i].key, edits[i].value);
		assert_refused(f, id, path);
		assert_false(exists(other));
	}
	write_bytes(json, "not json", 8);
	assert_int_equal(restore(f, id, false), -EINVAL);
	assert_refused(f, id, path);
	/* What is authenticated is the content, not the bytes: the same object written another way
	 * (key order, spacing) is still the entry. */
	text = json_dumps(j, JSON_COMPACT);
	assert_non_null(text);
	write_bytes(json, text, strlen(text));
	free(text);
	assert_int_equal(restore(f, id, false), 0);
	assert_same_file(path, buf, 3000);
	json_decref(j);
	free(orig);
	free(buf);
	free(id);
}

/* A key that is not the one the entry was made with cannot restore it. */
static void test_other_key(void **state)
{
	struct fx *f = *state;
	unsigned char *buf = content(1000), *key, other[32];
	char path[PATH_MAX], kpath[PATH_MAX], *id;
	size_t klen;

	path_in(path, f->data, "victim");
	path_in(kpath, f->vault, "key");
	write_bytes(path, buf, 1000);
	id = quarantine(f, path);
	key = read_bytes(kpath, &klen);
	assert_int_equal(klen, 32);
	assert_int_equal(RAND_bytes(other, sizeof(other)), 1);
	write_bytes(kpath, other, sizeof(other));
	assert_int_equal(restore(f, id, false), -EBADMSG);
	assert_refused(f, id, path);
	assert_int_equal(unlink(kpath), 0); /* no key: refused, and not made anew */
	assert_refused(f, id, path);
	assert_false(exists(kpath));
	write_bytes(kpath, key, klen);
	assert_int_equal(restore(f, id, false), 0);
	assert_same_file(path, buf, 1000);
	free(key);
	free(buf);
	free(id);
}

/* A file (or a symlink) now at the path is replaced only with force. */
static void test_exists_and_force(void **state)
{
	struct fx *f = *state;
	unsigned char *buf = content(2000);
	char path[PATH_MAX], json[PATH_MAX], *id;
	json_t *r = NULL;

	path_in(path, f->data, "victim");
	write_bytes(path, buf, 2000);
	id = quarantine(f, path);
	vault_file(json, f, id, ".json");
	write_bytes(path, "other content", 13);
	assert_int_equal(respond_restore(f->vault, id, false, &r), -EEXIST);
	assert_non_null(strstr(jstr(r, "error"), "exists"));
	json_decref(r);
	assert_same_file(path, (const unsigned char *)"other content", 13);
	assert_int_equal(count(f->data, ""), 1);
	assert_true(exists(json));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/nonexistent", path), 0); /* dangling: still something */
	assert_int_equal(restore(f, id, false), -EEXIST);
	assert_int_equal(count(f->data, ""), 1);
	/* force cannot put a file over a directory; the decrypted temporary file is removed */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(restore(f, id, true), -EISDIR);
	assert_int_equal(count(f->data, ""), 1);
	assert_true(exists(json));
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(symlink("/nonexistent", path), 0);

	assert_int_equal(restore(f, id, true), 0);
	assert_same_file(path, buf, 2000);
	assert_int_equal(count(f->data, ""), 1);
	assert_false(exists(json));
	assert_int_equal(restore(f, id, true), -ENOENT); /* gone from the vault */
	free(buf);
	free(id);
}

/* The directory must still exist, and be reached without symlinks. */
static void test_directory_gone(void **state)
{
	struct fx *f = *state;
	char sub[PATH_MAX], path[PATH_MAX], away[PATH_MAX], *id;
	unsigned char *buf = content(700);
	json_t *r = NULL;

	path_in(sub, f->data, "sub");
	path_in(away, f->data, "away");
	fmt_path(path, "%s/file", sub);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(mkdir(away, 0755), 0);
	write_bytes(path, buf, 700);
	id = quarantine(f, path);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(respond_restore(f->vault, id, false, &r), -ENOENT);
	assert_non_null(strstr(jstr(r, "error"), "no longer exists"));
	json_decref(r);
	assert_false(exists(sub));

	assert_int_equal(symlink(away, sub), 0); /* a link swapped in for the directory */
	assert_int_equal(restore(f, id, true), -ELOOP);
	assert_int_equal(count(away, ""), 0);
	assert_int_equal(unlink(sub), 0);

	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(restore(f, id, false), 0);
	assert_same_file(path, buf, 700);
	free(buf);
	free(id);
}

struct writer {
	int fd;
	volatile bool stop;
	volatile unsigned long writes;
};

static void *keep_writing(void *arg)
{
	struct writer *w = arg;

	for (unsigned char b = 0; !w->stop; b++) {
		struct timespec ts;

		if (pwrite(w->fd, &b, 1, 0) == 1)
			w->writes++;
		clock_gettime(CLOCK_REALTIME, &ts); /* a new mtime each time, whatever the clock */
		ts.tv_nsec = (long)(w->writes % 1000000000);
		futimens(w->fd, (struct timespec[2]){{0, UTIME_OMIT}, ts});
	}
	return NULL;
}

/* A file written to all along is never quarantined, and so never removed. */
static void test_changed_while_read(void **state)
{
	struct fx *f = *state;
	const size_t len = (size_t)32 << 20;
	unsigned char *buf = content(len);
	struct writer w = {0};
	char path[PATH_MAX];
	pthread_t th;
	json_t *r = NULL;
	struct stat st;

	path_in(path, f->data, "busy");
	write_bytes(path, buf, len);
	w.fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(w.fd >= 0);
	assert_int_equal(pthread_create(&th, NULL, keep_writing, &w), 0);
	while (w.writes < 100)
		sched_yield();
	assert_int_equal(respond_quarantine(f->vault, path, &r), -EAGAIN);
	assert_non_null(strstr(jstr(r, "error"), "changed"));
	w.stop = true;
	pthread_join(th, NULL);
	close(w.fd);
	json_decref(r);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, len);
	assert_int_equal(count(f->vault, ""), 1); /* the key: no entry, no temporary file */
	free(buf);
}

static void test_bad_ids(void **state)
{
	struct fx *f = *state;
	const char *bad[] = {
	    "../x",
	    "",
	    "abc",
	    "0123456789ABCDEF0123456789ABCDEF",
	    "0123456789abcdef0123456789abcde",
	    "0123456789abcdef0123456789abcdef0",
	    "0123456789abcdef0123456789abcde/",
	    "../../../../../../../../../etc/x",
	    "0123456789abcdef0123456789abcdeg",
	    " 123456789abcdef0123456789abcdef",
	    NULL,
	};
	json_t *r = NULL;

	assert_int_equal(strlen(bad[7]), 32);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(respond_restore(f->vault, bad[i], true, &r), -EINVAL);
		assert_non_null(jstr(r, "error"));
		json_decref(r);
	}
	assert_int_equal(restore(f, "0123456789abcdef0123456789abcdef", false), -ENOENT);
}

static void assert_quarantine_fails(const struct fx *f, const char *path, int want)
{
	json_t *r = NULL;

	assert_int_equal(respond_quarantine(f->vault, path, &r), want);
	assert_non_null(jstr(r, "error"));
	json_decref(r);
}

/* Symlinks, FIFOs, directories, relative paths, files over the cap and the vault's own files
 * are refused and left alone; nothing is left in the vault. */
static void test_refusals(void **state)
{
	struct fx *f = *state;
	char target[PATH_MAX], link[PATH_MAX], fifo[PATH_MAX], dir[PATH_MAX], big[PATH_MAX];
	char key[PATH_MAX], missing[PATH_MAX];
	int fd;

	path_in(target, f->data, "target");
	path_in(link, f->data, "link");
	path_in(fifo, f->data, "fifo");
	path_in(dir, f->data, "dir");
	path_in(big, f->data, "big");
	path_in(key, f->vault, "key");
	path_in(missing, f->data, "missing");
	write_bytes(target, "target", 6);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)RESPOND_QUARANTINE_MAX + 1), 0);
	close(fd);

	assert_quarantine_fails(f, link, -ELOOP);
	assert_quarantine_fails(f, fifo, -EINVAL);
	assert_quarantine_fails(f, dir, -EINVAL);
	assert_quarantine_fails(f, "data/target", -EINVAL);
	assert_quarantine_fails(f, NULL, -EINVAL);
	assert_quarantine_fails(f, missing, -ENOENT);
	assert_quarantine_fails(f, big, -EFBIG);
	assert_quarantine_fails(f, key, -EINVAL);
	assert_quarantine_fails(f, f->vault, -EINVAL);
	assert_quarantine_fails(f, "/tmp/not-utf8-\xff", -EINVAL);
	assert_quarantine_fails(f, "/", -EINVAL);

	assert_true(exists(link));
	assert_same_file(target, (const unsigned char *)"target", 6);
	assert_true(exists(fifo));
	assert_true(exists(dir));
	assert_true(exists(big));
	assert_true(exists(key));
	assert_int_equal(count(f->vault, ""), 1);
}

/* The file is quarantined through a symlinked directory, and recorded (and restored) under the
 * real one. A second hard link is reported: its content stays reachable. */
static void test_canonical_path_and_links(void **state)
{
	struct fx *f = *state;
	char real[PATH_MAX], alias[PATH_MAX], via[PATH_MAX], file[PATH_MAX], twin[PATH_MAX];
	json_t *r = NULL;
	char *id;

	path_in(real, f->data, "real");
	path_in(alias, f->data, "alias");
	fmt_path(via, "%s/x", alias);
	fmt_path(file, "%s/x", real);
	fmt_path(twin, "%s/twin", real);
	assert_int_equal(mkdir(real, 0755), 0);
	assert_int_equal(symlink("real", alias), 0);
	write_bytes(file, "linked", 6);
	assert_int_equal(link(file, twin), 0);

	assert_int_equal(respond_quarantine(f->vault, via, &r), 0);
	assert_string_equal(jstr(r, "path"), file);
	assert_non_null(strstr(jstr(r, "warning"), "hard link"));
	id = strdup(jstr(r, "id"));
	json_decref(r);
	assert_false(exists(file));
	assert_same_file(twin, (const unsigned char *)"linked", 6);
	assert_int_equal(restore(f, id, false), 0);
	assert_same_file(file, (const unsigned char *)"linked", 6);
	free(id);
}

static void test_list(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], *ids[3], khex[65], kpath[PATH_MAX], *text;
	unsigned char *key;
	json_t *r = NULL, *e;
	size_t klen;

	assert_int_equal(respond_quarantine_list(f->vault, &r), 0);
	assert_int_equal(jint(r, "count"), 0);
	assert_int_equal(json_array_size(json_object_get(r, "entries")), 0);
	json_decref(r);
	for (int i = 0; i < 3; i++) {
		fmt_path(path, "%s/f%d", f->data, i);
		write_bytes(path, "abc", 3);
		ids[i] = quarantine(f, path);
		nanosleep(&(struct timespec){0, 3 * 1000 * 1000}, NULL);
	}
	assert_int_equal(respond_quarantine_list(f->vault, &r), 0);
	assert_int_equal(jint(r, "count"), 3);
	assert_int_equal(json_array_size(json_object_get(r, "entries")), 3);
	for (int i = 0; i < 3; i++) {
		e = json_array_get(json_object_get(r, "entries"), (size_t)i);
		fmt_path(path, "%s/f%d", f->data, i);
		assert_string_equal(jstr(e, "id"), ids[i]);
		assert_string_equal(jstr(e, "path"), path);
		assert_int_equal(jint(e, "size"), 3);
		assert_string_equal(jstr(e, "sha256"),
				    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9"
				    "cb410ff61f20015ad");
		jint(e, "mode");
		jint(e, "uid");
		jint(e, "gid");
		jint(e, "mtime");
		assert_true(jint(e, "quarantined_at") > 1600000000000LL);
		if (i)
			assert_true(
			    jint(e, "quarantined_at") >
			    jint(json_array_get(json_object_get(r, "entries"), (size_t)i - 1),
				 "quarantined_at"));
		assert_null(json_object_get(e, "nonce"));
		assert_null(json_object_get(e, "tag"));
	}
	path_in(kpath, f->vault, "key");
	key = read_bytes(kpath, &klen);
	for (size_t i = 0; i < klen; i++)
		snprintf(khex + 2 * i, 3, "%02x", key[i]);
	text = json_dumps(r, 0);
	assert_null(strstr(text, khex));
	assert_null(strstr(text, "nonce"));
	free(text);
	free(key);
	json_decref(r);

	assert_int_equal(restore(f, ids[1], false), 0);
	assert_int_equal(respond_quarantine_list(f->vault, &r), 0);
	assert_int_equal(jint(r, "count"), 2);
	assert_string_equal(jstr(json_array_get(json_object_get(r, "entries"), 1), "id"), ids[2]);
	json_decref(r);
	for (int i = 0; i < 3; i++)
		free(ids[i]);
}

/* What a crashed operation leaves in the vault goes at the next one; entries and files that
 * are not the vault's own stay. */
static void test_sweep(void **state)
{
	struct fx *f = *state;
	const char *junk[] = {"0123456789abcdef0123456789abcdef.tmp",
			      "0123456789abcdef0123456789abcdef.json.tmp",
			      "0123456789abcdef0123456789abcdef.bin", "key.0123456789abcdef.tmp"};
	char path[PATH_MAX], p[PATH_MAX], *id;
	json_t *r = NULL;

	path_in(path, f->data, "keep");
	write_bytes(path, "keep", 4);
	id = quarantine(f, path);
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		path_in(p, f->vault, junk[i]);
		write_bytes(p, "junk", 4);
	}
	path_in(p, f->vault, "notes.txt");
	write_bytes(p, "notes", 5);
	assert_int_equal(count(f->vault, ""), 3 + 4 + 1);
	assert_int_equal(respond_quarantine_list(f->vault, &r), 0);
	assert_int_equal(jint(r, "count"), 1);
	json_decref(r);
	assert_int_equal(count(f->vault, ""), 3 + 1);
	assert_true(exists(p));
	assert_int_equal(restore(f, id, false), 0);
	assert_same_file(path, (const unsigned char *)"keep", 4);
	free(id);
}

/* Vault directory and key: made 0700 and 0600, and refused when others could reach them. */
static void test_vault_permissions(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], key[PATH_MAX], alias[PATH_MAX], *id;
	struct stat st;
	json_t *r = NULL;

	path_in(path, f->data, "victim");
	path_in(key, f->vault, "key");
	path_in(alias, f->root, "vault-link");
	write_bytes(path, "data", 4);

	assert_int_equal(mkdir(f->vault, 0755), 0);
	assert_int_equal(chmod(f->vault, 0755), 0);
	assert_quarantine_fails(f, path, -EPERM);
	assert_true(exists(path));
	assert_false(exists(key));
	assert_int_equal(respond_quarantine_list(f->vault, &r), -EPERM);
	json_decref(r);
	assert_int_equal(restore(f, "0123456789abcdef0123456789abcdef", false), -EPERM);
	assert_int_equal(chmod(f->vault, 0750), 0);
	assert_quarantine_fails(f, path, -EPERM);
	assert_int_equal(chmod(f->vault, 0701), 0);
	assert_quarantine_fails(f, path, -EPERM);
	if (geteuid() == 0) {
		assert_int_equal(chmod(f->vault, 0700), 0);
		assert_int_equal(chown(f->vault, 1234, 0), 0);
		assert_quarantine_fails(f, path, -EPERM);
		assert_int_equal(chown(f->vault, 0, 0), 0);
	} else {
		print_message("not root: vault ownership check not tested\n");
	}
	assert_int_equal(symlink(f->vault, alias), 0);
	assert_int_equal(chmod(f->vault, 0700), 0);
	assert_int_equal(respond_quarantine(alias, path, &r), -ELOOP);
	json_decref(r);
	assert_true(exists(path));

	id = quarantine(f, path);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_int_equal(chmod(key, 0640), 0);
	assert_int_equal(restore(f, id, false), -EPERM);
	assert_false(exists(path));
	write_bytes(path, "next", 4);
	assert_quarantine_fails(f, path, -EPERM);
	assert_true(exists(path));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(restore(f, id, false), 0);
	assert_same_file(path, (const unsigned char *)"data", 4);
	free(id);

	/* A missing vault is made 0700, with a new key. */
	assert_int_equal(unlink(key), 0);
	assert_int_equal(rmdir(f->vault), 0);
	id = quarantine(f, path);
	assert_int_equal(stat(f->vault, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode_and_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_bin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exists_and_force, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_directory_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changed_while_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_canonical_path_and_links, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vault_permissions, setup, teardown),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
