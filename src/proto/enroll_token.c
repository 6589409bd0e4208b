#include "enroll_token.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "banned.h"

/* PEM inputs come from the network (GET /v1/enroll/ca) or a file: a CA is a few hundred bytes. */
#define PEM_MAX ((size_t)1024 * 1024)

static void hex_encode(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Copies exactly n hex digits of s into out, lowered and NUL-terminated. */
static int take_hex(const char *s, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int v = digit_value(s[i]);

		if (v < 0)
			return -EINVAL;
		out[i] = "0123456789abcdef"[v];
	}
	out[n] = '\0';
	return 0;
}

static bool is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

int enroll_token_parse(const char *s, size_t n, struct enroll_token *t)
{
	const size_t prefix_len = sizeof(ENROLL_TOKEN_PREFIX) - 1;
	struct enroll_token tmp;
	const char *p;
	int ret = -EINVAL;

	if (!s || !t)
		return -EINVAL;
	while (n > 0 && is_space(s[0])) {
		s++;
		n--;
	}
	while (n > 0 && is_space(s[n - 1]))
		n--;
	if (n != ENROLL_TOKEN_MAX - 1)
		return -EINVAL;
	p = s;
	if (memcmp(p, ENROLL_TOKEN_PREFIX, prefix_len) != 0 || p[prefix_len] != '.')
		return -EINVAL;
	p += prefix_len + 1;
	if (take_hex(p, ENROLL_TOKEN_ID_LEN, tmp.id) || p[ENROLL_TOKEN_ID_LEN] != '.')
		goto out;
	p += ENROLL_TOKEN_ID_LEN + 1;
	if (take_hex(p, ENROLL_TOKEN_SECRET_LEN, tmp.secret) || p[ENROLL_TOKEN_SECRET_LEN] != '.')
		goto out;
	p += ENROLL_TOKEN_SECRET_LEN + 1;
	/* The length check above makes the pin end exactly at the end of the input. */
	if (take_hex(p, ENROLL_TOKEN_PIN_LEN, tmp.pin))
		goto out;
	*t = tmp;
	ret = 0;
out:
	OPENSSL_cleanse(&tmp, sizeof(tmp));
	return ret;
}

int enroll_token_format(const struct enroll_token *t, char *buf, size_t size)
{
	int n;

	if (!t || !buf)
		return -EINVAL;
	if (!is_lower_hex(t->id, ENROLL_TOKEN_ID_LEN) ||
	    !is_lower_hex(t->secret, ENROLL_TOKEN_SECRET_LEN) ||
	    !is_lower_hex(t->pin, ENROLL_TOKEN_PIN_LEN))
		return -EINVAL;
	if (size < ENROLL_TOKEN_MAX)
		return -ENOSPC;
	n = snprintf(buf, size, "%s.%s.%s.%s", ENROLL_TOKEN_PREFIX, t->id, t->secret, t->pin);
	return n == (int)ENROLL_TOKEN_MAX - 1 ? 0 : -EINVAL;
}

int enroll_token_generate(struct enroll_token *t, const char *pin)
{
	unsigned char id[ENROLL_TOKEN_ID_LEN / 2];
	unsigned char secret[ENROLL_TOKEN_SECRET_LEN / 2];
	char lowered[ENROLL_TOKEN_PIN_LEN + 1];
	int ret = 0;

	if (!t || !pin || strnlen(pin, ENROLL_TOKEN_PIN_LEN + 1) != ENROLL_TOKEN_PIN_LEN ||
	    take_hex(pin, ENROLL_TOKEN_PIN_LEN, lowered))
		return -EINVAL;
	if (RAND_bytes(id, sizeof(id)) != 1 || RAND_bytes(secret, sizeof(secret)) != 1) {
		ERR_clear_error();
		ret = -EIO;
		goto out;
	}
	hex_encode(id, sizeof(id), t->id);
	hex_encode(secret, sizeof(secret), t->secret);
	memcpy(t->pin, lowered, sizeof(t->pin));
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	return ret;
}

int enroll_token_pin_of_pem(const char *pem, size_t len, char pin[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	X509 *cert = NULL;
	BIO *bio;
	int ret = 0;

	if (!pem || len == 0 || len > PEM_MAX)
		return -EINVAL;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return -ENOMEM;
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (!cert) {
		ret = -EINVAL;
		goto out;
	}
	if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1 || md_len != 32) {
		ret = -ENOMEM;
		goto out;
	}
	hex_encode(md, md_len, pin);
out:
	ERR_clear_error();
	X509_free(cert);
	BIO_free(bio);
	return ret;
}

void enroll_token_secret_hash(const char *secret, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	out[0] = '\0';
	if (!secret)
		return;
	if (EVP_Digest(secret, strlen(secret), md, &md_len, EVP_sha256(), NULL) != 1 ||
	    md_len != 32) {
		ERR_clear_error();
		return;
	}
	hex_encode(md, md_len, out);
}
