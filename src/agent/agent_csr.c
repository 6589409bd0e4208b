#include "agent_csr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "banned.h"

#define CN_MAX 64 /* ub-common-name */

static void sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!dir)
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/* Writes a temporary 0600 file next to path and renames it over path: a crash leaves the old key
 * or the new one, never a torn or world-readable one. */
static int write_private(const char *path, const char *data, size_t len)
{
	size_t tlen = strlen(path) + sizeof(".tmp.XXXXXX");
	size_t off = 0;
	char *tmp;
	int fd, ret = 0;

	tmp = malloc(tlen);
	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, tlen, "%s.tmp.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out_free;
	}
	if (fchmod(fd, 0600) != 0) {
		ret = -errno;
		goto out_unlink;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out_unlink;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		ret = -errno;
		goto out_unlink;
	}
	ret = close(fd) != 0 ? -errno : 0;
	fd = -1;
	if (ret == 0 && rename(tmp, path) != 0)
		ret = -errno;
	if (ret == 0) {
		sync_parent(path);
		goto out_free;
	}
out_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out_free:
	free(tmp);
	return ret;
}

static int write_key(const char *path, EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data;
	long len;
	int ret;

	if (!bio)
		return -ENOMEM;
	if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
		ret = -ENOMEM;
		goto out;
	}
	len = BIO_get_mem_data(bio, &data);
	ret = len > 0 ? write_private(path, data, (size_t)len) : -EIO;
out:
	BIO_free(bio);
	return ret;
}

static char *req_to_pem(X509_REQ *req)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *s = NULL;
	long len;

	if (!bio)
		return NULL;
	if (PEM_write_bio_X509_REQ(bio, req) == 1) {
		len = BIO_get_mem_data(bio, &data);
		if (len > 0) {
			s = malloc((size_t)len + 1);
			if (s) {
				memcpy(s, data, (size_t)len);
				s[len] = '\0';
			}
		}
	}
	BIO_free(bio);
	return s;
}

int agent_csr_create(const char *key_path, const char *cn, char **csr_pem)
{
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	X509_NAME *name;
	size_t cn_len;
	int ret = -EIO;

	if (csr_pem)
		*csr_pem = NULL;
	if (!key_path || !*key_path || !cn || !csr_pem)
		return -EINVAL;
	cn_len = strnlen(cn, CN_MAX + 1);
	if (cn_len == 0 || cn_len > CN_MAX)
		return -EINVAL;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	req = X509_REQ_new();
	if (!key || !req)
		goto out;
	name = X509_REQ_get_subject_name(req);
	if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
				       0) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0)
		goto out;
	*csr_pem = req_to_pem(req);
	if (!*csr_pem) {
		ret = -ENOMEM;
		goto out;
	}
	ret = write_key(key_path, key);
	if (ret) {
		free(*csr_pem);
		*csr_pem = NULL;
	}
out:
	ERR_clear_error();
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return ret;
}

int agent_csr_check_pair(const char *key_path, const char *cert_path)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	FILE *f;
	int ret = -EINVAL;

	if (!key_path || !cert_path)
		return -EINVAL;
	f = fopen(key_path, "re");
	if (!f)
		return -errno;
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	f = fopen(cert_path, "re");
	if (!f) {
		ret = -errno;
		goto out;
	}
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!key || !cert)
		goto out;
	ret = X509_check_private_key(cert, key) == 1 ? 0 : -EKEYREJECTED;
out:
	ERR_clear_error();
	X509_free(cert);
	EVP_PKEY_free(key);
	return ret;
}
