#include "pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "atomic_file.h"
#include "enroll_token.h"
#include "log.h"

#include "banned.h"

#define CA_DAYS 3650
#define SERVER_DAYS 730
#define SERVER_RENEW_DAYS 30
#define CLIENT_MAX_DAYS 3650
/* Certificates start a little in the past so that agents whose clock lags still accept them. */
#define BACKDATE_S 300
#define CN_MAX 64 /* ub-common-name */
#define DNS_NAME_MAX 253
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192

struct pki {
	char *ca_path;
	char *ca_key_path;
	char *cert_path;
	char *key_path;
	X509 *ca;
	EVP_PKEY *ca_key;
	char *ca_pem;
	char pin[65];
};

/* One subject alternative name of the server certificate. */
struct san {
	bool is_ip;
	unsigned char ip[16];
	size_t ip_len;
	const char *dns;
};

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
							  ...)
{
	unsigned long e = ERR_peek_last_error();
	va_list ap;
	int n;

	if (err && errlen) {
		va_start(ap, fmt);
		n = vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		if (e && n >= 0 && (size_t)n < errlen && ERR_reason_error_string(e))
			snprintf(err + n, errlen - (size_t)n, ": %s", ERR_reason_error_string(e));
	}
	ERR_clear_error();
}

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

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + 1 + strlen(name) + 1;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s/%s", dir, name);
	return s;
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* mkdir -p, new components 0700. */
static int make_dirs(const char *dir)
{
	struct stat st;
	char *tmp, *s;
	int ret = 0;

	tmp = strdup(dir);
	if (!tmp)
		return -ENOMEM;
	for (s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
			ret = -errno;
			goto out;
		}
		*s = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
		ret = -errno;
		goto out;
	}
	if (stat(tmp, &st) != 0)
		ret = -errno;
	else if (!S_ISDIR(st.st_mode))
		ret = -ENOTDIR;
out:
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
	ret = len > 0 ? atomic_file_write(path, data, (size_t)len, 0600) : -EIO;
out:
	BIO_free(bio);
	return ret;
}

/* The certificate in PEM as a NUL-terminated malloc'd string, or NULL. */
static char *cert_to_pem(X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *s = NULL;
	long len;

	if (!bio)
		return NULL;
	if (PEM_write_bio_X509(bio, x) == 1) {
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

static int write_cert(const char *path, X509 *x)
{
	char *pem = cert_to_pem(x);
	int ret;

	if (!pem)
		return -ENOMEM;
	ret = atomic_file_write(path, pem, strlen(pem), 0644);
	free(pem);
	return ret;
}

static X509 *load_cert(const char *path)
{
	BIO *bio = BIO_new_file(path, "r");
	X509 *x;

	if (!bio)
		return NULL;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return x;
}

static EVP_PKEY *load_key(const char *path)
{
	BIO *bio = BIO_new_file(path, "r");
	EVP_PKEY *k;

	if (!bio)
		return NULL;
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return k;
}

/* Sets a random positive 127-bit serial and returns it as 32 hex digits. */
static int set_random_serial(X509 *x, char serial_hex[33])
{
	unsigned char b[16];
	BIGNUM *bn = NULL;
	int ret = 0;

	do {
		if (RAND_bytes(b, sizeof(b)) != 1)
			return -EIO;
		b[0] &= 0x7f;
		BN_free(bn);
		bn = BN_bin2bn(b, sizeof(b), NULL);
		if (!bn)
			return -ENOMEM;
	} while (BN_is_zero(bn));
	if (!BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		ret = -ENOMEM;
	else if (serial_hex)
		hex_encode(b, sizeof(b), serial_hex);
	BN_free(bn);
	return ret;
}

/* A v3 certificate for pub with subject CN=cn, issued by issuer (NULL: self-issued), valid from
 * a little before now for days, but never past the issuer's own expiry. Extensions and the
 * signature are up to the caller. */
static X509 *new_cert(EVP_PKEY *pub, const char *cn, X509 *issuer, unsigned days,
		      char serial_hex[33])
{
	X509 *x = X509_new();
	X509_NAME *name;

	if (!x)
		return NULL;
	if (X509_set_version(x, X509_VERSION_3) != 1 || set_random_serial(x, serial_hex) != 0)
		goto fail;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
				       0) != 1)
		goto fail;
	if (X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) != 1)
		goto fail;
	if (!X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_S) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL))
		goto fail;
	if (issuer && ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(issuer)) > 0 &&
	    X509_set1_notAfter(x, X509_get0_notAfter(issuer)) != 1)
		goto fail;
	if (X509_set_pubkey(x, pub) != 1)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

static int add_ext(X509 *issuer, X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EIO;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -ENOMEM;
}

static int add_sans(X509 *x, const struct san *sans, size_t n)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	int ret = -ENOMEM;
	size_t i;

	if (!gens)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_STRING *s;

		if (!g)
			goto out;
		if (sans[i].is_ip) {
			s = ASN1_OCTET_STRING_new();
			if (s && ASN1_OCTET_STRING_set(s, sans[i].ip, (int)sans[i].ip_len) != 1) {
				ASN1_OCTET_STRING_free(s);
				s = NULL;
			}
		} else {
			s = ASN1_IA5STRING_new();
			if (s && ASN1_STRING_set(s, sans[i].dns, -1) != 1) {
				ASN1_IA5STRING_free(s);
				s = NULL;
			}
		}
		if (!s) {
			GENERAL_NAME_free(g);
			goto out;
		}
		GENERAL_NAME_set0_value(g, sans[i].is_ip ? GEN_IPADD : GEN_DNS, s);
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1)
		ret = 0;
out:
	GENERAL_NAMES_free(gens);
	return ret;
}

static bool dns_name_is_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > DNS_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	/* A wildcard is allowed only as the whole first label. */
	if (s[0] == '*') {
		if (s[1] != '.' || s[2] == '\0')
			return false;
		s += 2;
	}
	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return false;
		if (c == '.' && s[i + 1] == '.')
			return false;
	}
	return true;
}

/* Adds name to the list unless it is already there. -EINVAL if it is neither an IP address nor
 * a plausible DNS name. */
static int san_add(struct san *sans, size_t *n, const char *name)
{
	struct san s = {0};
	size_t i;

	if (inet_pton(AF_INET, name, s.ip) == 1) {
		s.is_ip = true;
		s.ip_len = 4;
	} else if (inet_pton(AF_INET6, name, s.ip) == 1) {
		s.is_ip = true;
		s.ip_len = 16;
	} else if (dns_name_is_valid(name)) {
		s.dns = name;
	} else {
		return -EINVAL;
	}
	for (i = 0; i < *n; i++) {
		if (sans[i].is_ip != s.is_ip)
			continue;
		if (s.is_ip ? sans[i].ip_len == s.ip_len && !memcmp(sans[i].ip, s.ip, s.ip_len)
			    : !strcasecmp(sans[i].dns, s.dns))
			return 0;
	}
	sans[(*n)++] = s;
	return 0;
}

static bool cert_has_san(X509 *x, const struct san *s)
{
	if (s->is_ip)
		return X509_check_ip(x, s->ip, s->ip_len, 0) == 1;
	return X509_check_host(x, s->dns, strlen(s->dns),
			       X509_CHECK_FLAG_NO_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
			       NULL) == 1;
}

static int create_ca(struct pki *p, char *err, size_t errlen)
{
	unsigned char r[4];
	char rhex[9], cn[32];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int ret;

	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!key || RAND_bytes(r, sizeof(r)) != 1) {
		ret = -EIO;
		set_err(err, errlen, "cannot generate the CA key");
		goto out;
	}
	hex_encode(r, sizeof(r), rhex);
	snprintf(cn, sizeof(cn), "Mamori CA %s", rhex);
	ret = -EIO;
	x = new_cert(key, cn, NULL, CA_DAYS, NULL);
	if (!x || add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") ||
	    X509_sign(x, key, EVP_sha256()) <= 0) {
		set_err(err, errlen, "cannot build the CA certificate");
		goto out;
	}
	/* Key first: a crash in between leaves no ca.crt, and the next start makes a new CA. */
	ret = write_key(p->ca_key_path, key);
	if (ret) {
		set_err(err, errlen, "cannot write %s: %s", p->ca_key_path, strerror(-ret));
		goto out;
	}
	ret = write_cert(p->ca_path, x);
	if (ret) {
		set_err(err, errlen, "cannot write %s: %s", p->ca_path, strerror(-ret));
		goto out;
	}
	p->ca = x;
	p->ca_key = key;
	return 0;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}

static int load_ca(struct pki *p, char *err, size_t errlen)
{
	if (!file_exists(p->ca_key_path)) {
		set_err(err, errlen, "%s exists without %s", p->ca_path, p->ca_key_path);
		return -ENOENT;
	}
	p->ca = load_cert(p->ca_path);
	if (!p->ca) {
		set_err(err, errlen, "cannot load %s", p->ca_path);
		return -EINVAL;
	}
	p->ca_key = load_key(p->ca_key_path);
	if (!p->ca_key) {
		set_err(err, errlen, "cannot load %s", p->ca_key_path);
		return -EINVAL;
	}
	if (X509_check_ca(p->ca) < 1 || X509_check_private_key(p->ca, p->ca_key) != 1) {
		set_err(err, errlen, "%s is not a CA matching %s", p->ca_path, p->ca_key_path);
		return -EINVAL;
	}
	return 0;
}

/* Whether the existing server certificate and key can be kept. */
static bool server_is_usable(const struct pki *p, const struct san *sans, size_t n)
{
	time_t limit = time(NULL) + (time_t)SERVER_RENEW_DAYS * 86400;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	bool ok = false;
	size_t i;

	if (!file_exists(p->cert_path) || !file_exists(p->key_path))
		return false;
	x = load_cert(p->cert_path);
	key = load_key(p->key_path);
	if (!x || !key || X509_check_private_key(x, key) != 1 ||
	    X509_verify(x, X509_get0_pubkey(p->ca)) != 1 ||
	    X509_cmp_time(X509_get0_notAfter(x), &limit) <= 0)
		goto out;
	for (i = 0; i < n; i++)
		if (!cert_has_san(x, &sans[i]))
			goto out;
	ok = true;
out:
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(key);
	return ok;
}

static int issue_server(struct pki *p, const char *cn, const struct san *sans, size_t n, char *err,
			size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int ret = -EIO;

	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!key) {
		set_err(err, errlen, "cannot generate the server key");
		goto out;
	}
	x = new_cert(key, cn, p->ca, SERVER_DAYS, NULL);
	if (!x || add_ext(p->ca, x, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(p->ca, x, NID_key_usage, "critical,digitalSignature") ||
	    add_ext(p->ca, x, NID_ext_key_usage, "serverAuth") ||
	    add_ext(p->ca, x, NID_subject_key_identifier, "hash") ||
	    add_ext(p->ca, x, NID_authority_key_identifier, "keyid:always") ||
	    add_sans(x, sans, n) || X509_sign(x, p->ca_key, EVP_sha256()) <= 0) {
		set_err(err, errlen, "cannot build the server certificate");
		goto out;
	}
	ret = write_key(p->key_path, key);
	if (ret) {
		set_err(err, errlen, "cannot write %s: %s", p->key_path, strerror(-ret));
		goto out;
	}
	ret = write_cert(p->cert_path, x);
	if (ret) {
		set_err(err, errlen, "cannot write %s: %s", p->cert_path, strerror(-ret));
		goto out;
	}
	log_info("pki", "issued server certificate path=%s names=%zu", p->cert_path, n);
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}

struct pki *pki_open(const char *dir, const char *const *names, size_t n_names, char *err,
		     size_t errlen)
{
	char host[HOST_NAME_MAX + 1] = "";
	struct san *sans = NULL;
	const char *cn = "localhost";
	struct pki *p = NULL;
	bool fresh = false;
	size_t n = 0, i;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!dir || !*dir || (n_names && !names)) {
		set_err(err, errlen, "no PKI directory");
		ret = -EINVAL;
		goto fail;
	}
	sans = calloc(4 + n_names, sizeof(*sans));
	p = calloc(1, sizeof(*p));
	if (!sans || !p) {
		ret = -ENOMEM;
		set_err(err, errlen, "out of memory");
		goto fail;
	}
	san_add(sans, &n, "localhost");
	san_add(sans, &n, "127.0.0.1");
	san_add(sans, &n, "::1");
	/* A host name that is not a DNS name (rare) is left out rather than failing the start. */
	if (gethostname(host, sizeof(host) - 1) == 0 && host[0] && san_add(sans, &n, host) == 0 &&
	    strlen(host) <= CN_MAX)
		cn = host;
	for (i = 0; i < n_names; i++) {
		if (!names[i] || san_add(sans, &n, names[i]) != 0) {
			set_err(err, errlen, "bad server name '%s': not an IP address or DNS name",
				names[i] ? names[i] : "(null)");
			ret = -EINVAL;
			goto fail;
		}
	}
	p->ca_path = path_join(dir, "ca.crt");
	p->ca_key_path = path_join(dir, "ca.key");
	p->cert_path = path_join(dir, "server.crt");
	p->key_path = path_join(dir, "server.key");
	if (!p->ca_path || !p->ca_key_path || !p->cert_path || !p->key_path) {
		ret = -ENOMEM;
		set_err(err, errlen, "out of memory");
		goto fail;
	}
	ret = make_dirs(dir);
	if (ret) {
		set_err(err, errlen, "cannot create %s: %s", dir, strerror(-ret));
		goto fail;
	}
	if (file_exists(p->ca_path)) {
		ret = load_ca(p, err, errlen);
	} else {
		ret = create_ca(p, err, errlen);
		fresh = true;
	}
	if (ret)
		goto fail;
	p->ca_pem = cert_to_pem(p->ca);
	if (!p->ca_pem) {
		ret = -ENOMEM;
		set_err(err, errlen, "out of memory");
		goto fail;
	}
	ret = enroll_token_pin_of_pem(p->ca_pem, strlen(p->ca_pem), p->pin);
	if (ret) {
		set_err(err, errlen, "cannot hash the CA certificate");
		goto fail;
	}
	if (fresh)
		log_info("pki", "created CA path=%s pin=%s", p->ca_path, p->pin);
	if (fresh || !server_is_usable(p, sans, n)) {
		ret = issue_server(p, cn, sans, n, err, errlen);
		if (ret)
			goto fail;
	}
	free(sans);
	return p;
fail:
	free(sans);
	pki_free(p);
	errno = -ret;
	return NULL;
}

void pki_free(struct pki *p)
{
	if (!p)
		return;
	free(p->ca_pem);
	EVP_PKEY_free(p->ca_key);
	X509_free(p->ca);
	free(p->key_path);
	free(p->cert_path);
	free(p->ca_key_path);
	free(p->ca_path);
	free(p);
}

const char *pki_pin(const struct pki *p)
{
	return p->pin;
}

const char *pki_ca_pem(const struct pki *p)
{
	return p->ca_pem;
}

const char *pki_ca_path(const struct pki *p)
{
	return p->ca_path;
}

const char *pki_server_cert_path(const struct pki *p)
{
	return p->cert_path;
}

const char *pki_server_key_path(const struct pki *p)
{
	return p->key_path;
}

X509 *pki_ca_cert(const struct pki *p)
{
	return p->ca;
}

static bool cn_is_valid(const char *cn)
{
	size_t n = strnlen(cn, CN_MAX + 1), i;

	if (n == 0 || n > CN_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (cn[i] < 0x20 || cn[i] > 0x7e)
			return false;
	return true;
}

static bool csr_key_is_acceptable(const EVP_PKEY *pub)
{
	char group[64];
	size_t glen = 0;
	int bits = EVP_PKEY_get_bits(pub);

	if (EVP_PKEY_is_a(pub, "RSA"))
		return bits >= RSA_MIN_BITS && bits <= RSA_MAX_BITS;
	if (!EVP_PKEY_is_a(pub, "EC"))
		return false;
	/* Named NIST curves only: explicit parameters have no group name. */
	if (EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					   &glen) != 1)
		return false;
	return !strcmp(group, "prime256v1") || !strcmp(group, "P-256") ||
	       !strcmp(group, "secp384r1") || !strcmp(group, "P-384") ||
	       !strcmp(group, "secp521r1") || !strcmp(group, "P-521");
}

int pki_sign_csr(struct pki *p, const char *csr_pem, size_t len, const char *cn, unsigned days,
		 char **cert_pem, char serial_hex[33])
{
	X509_REQ *req = NULL;
	EVP_PKEY *pub;
	BIO *bio = NULL;
	X509 *x = NULL;
	char serial[33];
	int ret = -EINVAL;

	if (cert_pem)
		*cert_pem = NULL;
	if (!p || !csr_pem || !cn || !cert_pem || !serial_hex)
		return -EINVAL;
	if (len == 0 || len > PKI_CSR_MAX || days == 0 || days > CLIENT_MAX_DAYS ||
	    !cn_is_valid(cn))
		return -EINVAL;
	bio = BIO_new_mem_buf(csr_pem, (int)len);
	if (!bio)
		return -ENOMEM;
	req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	if (!req)
		goto out;
	pub = X509_REQ_get0_pubkey(req);
	/* Key policy before the signature check, so a hostile key costs no verification. */
	if (!pub || !csr_key_is_acceptable(pub) || X509_REQ_verify(req, pub) != 1)
		goto out;
	ret = -EIO;
	x = new_cert(pub, cn, p->ca, days, serial);
	if (!x || add_ext(p->ca, x, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(p->ca, x, NID_key_usage, "critical,digitalSignature") ||
	    add_ext(p->ca, x, NID_ext_key_usage, "clientAuth") ||
	    add_ext(p->ca, x, NID_subject_key_identifier, "hash") ||
	    add_ext(p->ca, x, NID_authority_key_identifier, "keyid:always") ||
	    X509_sign(x, p->ca_key, EVP_sha256()) <= 0)
		goto out;
	*cert_pem = cert_to_pem(x);
	if (!*cert_pem) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(serial_hex, serial, sizeof(serial));
	ret = 0;
out:
	ERR_clear_error();
	X509_free(x);
	X509_REQ_free(req);
	BIO_free(bio);
	return ret;
}

int pki_cert_serial_hex(X509 *cert, char serial_hex[33])
{
	unsigned char b[16];
	BIGNUM *bn;
	int ret = 0;

	if (!cert || !serial_hex)
		return -EINVAL;
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	if (!bn) {
		ERR_clear_error();
		return -ENOMEM;
	}
	if (BN_is_negative(bn) || BN_num_bytes(bn) > (int)sizeof(b) ||
	    BN_bn2binpad(bn, b, sizeof(b)) != (int)sizeof(b))
		ret = -ERANGE;
	else
		hex_encode(b, sizeof(b), serial_hex);
	BN_free(bn);
	return ret;
}

int pki_cert_cn(X509 *cert, char *buf, size_t size)
{
	const X509_NAME *name;
	unsigned char *utf8 = NULL;
	int i, n, ret = 0;

	if (!cert || !buf)
		return -EINVAL;
	name = X509_get_subject_name(cert);
	i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i < 0)
		return -ENOENT;
	/* Two CNs make "the" agent id ambiguous. */
	if (X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return -EINVAL;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (n < 0) {
		ERR_clear_error();
		return -EINVAL;
	}
	if (memchr(utf8, '\0', (size_t)n))
		ret = -EINVAL;
	else if ((size_t)n >= size)
		ret = -ENOSPC;
	else {
		memcpy(buf, utf8, (size_t)n);
		buf[n] = '\0';
	}
	OPENSSL_free(utf8);
	return ret;
}
