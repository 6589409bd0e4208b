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

#include "atomic_file.h"

#include "banned.h"

#define CN_MAX 64 /* ub-common-name */

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
	ret = len > 0 ? atomic_file_write(path, data, (size_t)len, 0600) : -EIO;
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
