/* Enrollment crypto: token format, CA pin, the server PKI (CA, server certificate, CSR signing)
 * and the agent's key and CSR. Every expectation is checked with the OpenSSL API directly. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
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

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "agent_csr.h"
#include "enroll_token.h"
#include "pki.h"

#include "banned.h"

#define ID "0123456789abcdef"
#define SECRET "00112233445566778899aabbccddeeff"
#define PIN "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define TOKEN "MMR1." ID "." SECRET "." PIN
#define AGENT_ID "5f2b9c0d4e8a71f3a6b0c9d8e7f61234"

/* Shared by the tests: a scratch directory and a PKI opened in it. */
struct fixture {
	char dir[64];
	char pki_dir[PATH_MAX];
	struct pki *pki;
};

static const char *const extra_names[] = {"edr.example.test", "10.1.2.3", "fd00::5"};

/* ---- helpers ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void path_in(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < size);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void write_all(const char *path, const char *data)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, strlen(data), f), strlen(data));
	assert_int_equal(fclose(f), 0);
}

static unsigned file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static X509 *cert_of_pem(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x;

	assert_non_null(bio);
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(x);
	return x;
}

static X509 *cert_of_file(const char *path)
{
	char *pem = read_all(path);
	X509 *x = cert_of_pem(pem);

	free(pem);
	return x;
}

static void to_hex(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* SHA-256 of the first PEM block's base64 body, decoded by hand: independent of X509 parsing. */
static void pem_body_sha256(const char *pem, char out[65])
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	const char *b = strstr(pem, begin), *e;
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	unsigned char der[8192], md[32];
	unsigned int md_len = 0;
	int n1 = 0, n2 = 0;

	assert_non_null(ctx);
	assert_non_null(b);
	b += sizeof(begin) - 1;
	e = strstr(b, "-----END CERTIFICATE-----");
	assert_non_null(e);
	assert_true((size_t)(e - b) < sizeof(der));
	EVP_DecodeInit(ctx);
	assert_true(EVP_DecodeUpdate(ctx, der, &n1, (const unsigned char *)b, (int)(e - b)) >= 0);
	assert_int_equal(EVP_DecodeFinal(ctx, der + n1, &n2), 1);
	EVP_ENCODE_CTX_free(ctx);
	assert_int_equal(EVP_Digest(der, (size_t)(n1 + n2), md, &md_len, EVP_sha256(), NULL), 1);
	to_hex(md, md_len, out);
}

/* SHA-256 of i2d_X509, the other independent route to the pin. */
static void der_sha256(X509 *x, char out[65])
{
	unsigned char *der = NULL, md[32];
	unsigned int md_len = 0;
	int n = i2d_X509(x, &der);

	assert_true(n > 0);
	assert_int_equal(EVP_Digest(der, (size_t)n, md, &md_len, EVP_sha256(), NULL), 1);
	OPENSSL_free(der);
	to_hex(md, md_len, out);
}

static bool is_lower_hex(const char *s, size_t n)
{
	size_t i;

	if (strlen(s) != n)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* 1 when x chains to the CA of p for the given purpose (X509_PURPOSE_SSL_*). */
static int verify_with(struct pki *p, X509 *x, int purpose)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store, pki_ca_cert(p)), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, x, NULL), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return ok;
}

static bool has_dns(X509 *x, const char *name)
{
	return X509_check_host(x, name, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL) == 1;
}

static EVP_PKEY *ec_key(const char *curve)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);

	assert_non_null(k);
	return k;
}

/* A CSR for pub signed by sign_key (a mismatch makes the signature invalid), optionally asking
 * for CA powers and a SAN that the server must ignore. Caller frees. */
static char *make_csr(EVP_PKEY *sign_key, EVP_PKEY *pub, const char *cn, bool greedy)
{
	X509_REQ *req = X509_REQ_new();
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *pem;
	long len;

	assert_non_null(req);
	assert_non_null(bio);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
						    MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
						    0),
			 1);
	assert_int_equal(X509_REQ_set_pubkey(req, pub), 1);
	if (greedy) {
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		X509_EXTENSION *bc =
		    X509V3_EXT_nconf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
		X509_EXTENSION *san =
		    X509V3_EXT_nconf_nid(NULL, NULL, NID_subject_alt_name, "DNS:evil.example.test");

		assert_non_null(exts);
		assert_non_null(bc);
		assert_non_null(san);
		sk_X509_EXTENSION_push(exts, bc);
		sk_X509_EXTENSION_push(exts, san);
		assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	assert_true(X509_REQ_sign(req, sign_key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509_REQ(bio, req), 1);
	len = BIO_get_mem_data(bio, &data);
	pem = strndup(data, (size_t)len);
	assert_non_null(pem);
	BIO_free(bio);
	X509_REQ_free(req);
	return pem;
}

static int sign(struct pki *p, const char *csr, const char *cn, unsigned days, char **cert,
		char serial[33])
{
	return pki_sign_csr(p, csr, strlen(csr), cn, days, cert, serial);
}

static bool no_temp_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool ok = true;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp."))
			ok = false;
	closedir(d);
	return ok;
}

static int group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mamori-test-pki.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->pki_dir, sizeof(f->pki_dir), "%s/shared", f->dir);
	f->pki = pki_open(f->pki_dir, NULL, 0, err, sizeof(err));
	if (!f->pki) {
		fprintf(stderr, "pki_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;

	pki_free(f->pki);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- tokens ---- */

static void test_token_round_trip(void **state)
{
	static const char upper[] =
	    "MMR1.0123456789ABCDEF.00112233445566778899AABBCCDDEEFF."
	    "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
	char framed[200], buf[ENROLL_TOKEN_MAX];
	struct enroll_token t, u;

	(void)state;
	assert_int_equal(ENROLL_TOKEN_MAX, sizeof(TOKEN));
	assert_int_equal(enroll_token_parse(TOKEN, strlen(TOKEN), &t), 0);
	assert_string_equal(t.id, ID);
	assert_string_equal(t.secret, SECRET);
	assert_string_equal(t.pin, PIN);
	assert_int_equal(enroll_token_format(&t, buf, sizeof(buf)), 0);
	assert_string_equal(buf, TOKEN);

	/* Uppercase hex is lowered. */
	assert_int_equal(enroll_token_parse(upper, strlen(upper), &u), 0);
	assert_memory_equal(&t, &u, sizeof(t));

	/* Surrounding whitespace, as pasted from a terminal or read from a file. */
	snprintf(framed, sizeof(framed), " \t%s\r\n\n", TOKEN);
	memset(&u, 0, sizeof(u));
	assert_int_equal(enroll_token_parse(framed, strlen(framed), &u), 0);
	assert_memory_equal(&t, &u, sizeof(t));

	/* Only n bytes are read: no NUL needed. */
	snprintf(framed, sizeof(framed), "%sXYZ", TOKEN);
	assert_int_equal(enroll_token_parse(framed, strlen(TOKEN), &u), 0);
	assert_memory_equal(&t, &u, sizeof(t));

	/* Too small a buffer. */
	assert_int_equal(enroll_token_format(&t, buf, sizeof(buf) - 1), -ENOSPC);
	assert_int_equal(enroll_token_format(&t, buf, 0), -ENOSPC);
	/* A hand-made token with a bad field is not formatted. */
	u = t;
	u.id[3] = 'G';
	assert_int_equal(enroll_token_format(&u, buf, sizeof(buf)), -EINVAL);
	u = t;
	u.pin[10] = '\0';
	assert_int_equal(enroll_token_format(&u, buf, sizeof(buf)), -EINVAL);
}

static void test_token_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    "   \n",
	    "MMR1",
	    "MMR1.",
	    "MMR1...",
	    /* wrong prefix */
	    "MMR2." ID "." SECRET "." PIN,
	    "mmr1." ID "." SECRET "." PIN,
	    "XMMR1." ID "." SECRET "." PIN,
	    "MMR1:" ID "." SECRET "." PIN,
	    "." ID "." SECRET "." PIN,
	    /* short and long fields */
	    "MMR1.0123456789abcde." SECRET "." PIN,
	    "MMR1.0123456789abcdef0." SECRET "." PIN,
	    "MMR1." ID ".00112233445566778899aabbccddeef." PIN,
	    "MMR1." ID ".00112233445566778899aabbccddeeff0." PIN,
	    "MMR1." ID "." SECRET
	    ".9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0",
	    "MMR1." ID "." SECRET "." PIN "0",
	    /* same total length, fields shifted */
	    "MMR1.0123456789abcde.f00112233445566778899aabbccddeeff." PIN,
	    /* non-hex */
	    "MMR1.0123456789abcdeg." SECRET "." PIN,
	    "MMR1." ID ".00112233445566778899aabbccddee-f." PIN,
	    "MMR1." ID "." SECRET
	    ".9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0 ",
	    "MMR1.0x23456789abcdef." SECRET "." PIN,
	    /* extra dots and separators */
	    "MMR1." ID "." SECRET "." PIN ".",
	    "MMR1.." ID "." SECRET "." PIN,
	    "MMR1." ID ".." SECRET "." PIN,
	    "MMR1." ID "." SECRET "." PIN ".00",
	    "MMR1." ID " " SECRET "." PIN,
	    /* inner whitespace */
	    "MMR1. " ID "." SECRET "." PIN,
	    "MMR1 ." ID "." SECRET "." PIN,
	};
	char nul[ENROLL_TOKEN_MAX];
	struct enroll_token t, saved;
	size_t i;

	(void)state;
	memset(&t, 'x', sizeof(t));
	saved = t;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (enroll_token_parse(bad[i], strlen(bad[i]), &t) != -EINVAL)
			fail_msg("accepted [%zu] '%s'", i, bad[i]);
		/* A rejected token leaves the output alone. */
		assert_memory_equal(&t, &saved, sizeof(t));
	}
	/* An embedded NUL. */
	memcpy(nul, TOKEN, sizeof(nul));
	nul[20] = '\0';
	assert_int_equal(enroll_token_parse(nul, sizeof(nul) - 1, &t), -EINVAL);
	/* n shorter than the token. */
	assert_int_equal(enroll_token_parse(TOKEN, strlen(TOKEN) - 1, &t), -EINVAL);
	assert_int_equal(enroll_token_parse(NULL, 10, &t), -EINVAL);
	assert_int_equal(enroll_token_parse(TOKEN, strlen(TOKEN), NULL), -EINVAL);
}

static void test_token_generate(void **state)
{
	static const char upper_pin[] =
	    "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
	struct enroll_token a, b, c;
	char buf[ENROLL_TOKEN_MAX], h[65];

	(void)state;
	assert_int_equal(enroll_token_generate(&a, PIN), 0);
	assert_int_equal(enroll_token_generate(&b, upper_pin), 0);
	assert_true(is_lower_hex(a.id, 16));
	assert_true(is_lower_hex(a.secret, 32));
	assert_string_equal(a.pin, PIN);
	assert_string_equal(b.pin, PIN);
	assert_string_not_equal(a.id, b.id);
	assert_string_not_equal(a.secret, b.secret);
	assert_int_equal(enroll_token_format(&a, buf, sizeof(buf)), 0);
	assert_int_equal(enroll_token_parse(buf, strlen(buf), &c), 0);
	assert_memory_equal(&a, &c, sizeof(a));

	assert_int_equal(enroll_token_generate(&a, "abc"), -EINVAL);
	assert_int_equal(enroll_token_generate(&a, PIN "0"), -EINVAL);
	assert_int_equal(
	    enroll_token_generate(
		&a, "zf86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
	    -EINVAL);
	assert_int_equal(enroll_token_generate(&a, NULL), -EINVAL);

	/* FIPS 180-2 test vectors. */
	enroll_token_secret_hash("abc", h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	enroll_token_secret_hash("", h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* ---- PKI ---- */

static void test_pin_of_pem(void **state)
{
	struct fixture *f = *state;
	char pin[65], expect[65], other[65], path[PATH_MAX];
	char *server_pem, *both;
	X509 *ca, *server;
	size_t n;

	ca = cert_of_pem(pki_ca_pem(f->pki));
	pem_body_sha256(pki_ca_pem(f->pki), expect);
	der_sha256(ca, other);
	assert_string_equal(expect, other);
	assert_int_equal(
	    enroll_token_pin_of_pem(pki_ca_pem(f->pki), strlen(pki_ca_pem(f->pki)), pin), 0);
	assert_string_equal(pin, expect);
	assert_string_equal(pki_pin(f->pki), expect);
	assert_true(is_lower_hex(pin, 64));

	/* The file on disk is the same certificate. */
	server_pem = read_all(pki_ca_path(f->pki));
	pem_body_sha256(server_pem, other);
	assert_string_equal(other, expect);
	free(server_pem);

	/* Only the first certificate counts. */
	path_in(path, sizeof(path), f->pki_dir, "server.crt");
	server_pem = read_all(path);
	n = strlen(server_pem) + strlen(pki_ca_pem(f->pki)) + 1;
	both = malloc(n);
	assert_non_null(both);
	snprintf(both, n, "%s%s", pki_ca_pem(f->pki), server_pem);
	assert_int_equal(enroll_token_pin_of_pem(both, strlen(both), pin), 0);
	assert_string_equal(pin, expect);
	snprintf(both, n, "%s%s", server_pem, pki_ca_pem(f->pki));
	assert_int_equal(enroll_token_pin_of_pem(both, strlen(both), pin), 0);
	server = cert_of_pem(server_pem);
	der_sha256(server, other);
	assert_string_equal(pin, other);
	assert_string_not_equal(pin, expect);

	/* Not a certificate. */
	assert_int_equal(enroll_token_pin_of_pem("hello", 5, pin), -EINVAL);
	assert_int_equal(enroll_token_pin_of_pem(server_pem, 40, pin), -EINVAL);
	assert_int_equal(enroll_token_pin_of_pem(server_pem, 0, pin), -EINVAL);
	free(both);
	free(server_pem);
	X509_free(server);
	X509_free(ca);
}

static void test_pki_open(void **state)
{
	struct fixture *f = *state;
	char dir[PATH_MAX], path[PATH_MAX], err[256], pin[65];
	char *ca_key, *server_crt, *again;
	const char *more[4];
	struct pki *p;
	X509 *ca;
	char cn[128];

	/* Nested directories are created, 0700. */
	path_in(dir, sizeof(dir), f->dir, "a/b/pki");
	p = pki_open(dir, extra_names, 3, err, sizeof(err));
	if (!p)
		fail_msg("pki_open: %s", err);
	path_in(path, sizeof(path), f->dir, "a/b/pki");
	assert_int_equal(file_mode(path), 0700);
	assert_true(is_lower_hex(pki_pin(p), 64));
	snprintf(pin, sizeof(pin), "%s", pki_pin(p));
	path_in(path, sizeof(path), dir, "ca.crt");
	assert_string_equal(pki_ca_path(p), path);
	path_in(path, sizeof(path), dir, "server.crt");
	assert_string_equal(pki_server_cert_path(p), path);
	path_in(path, sizeof(path), dir, "server.key");
	assert_string_equal(pki_server_key_path(p), path);

	/* Keys are private, certificates are not. */
	path_in(path, sizeof(path), dir, "ca.key");
	assert_int_equal(file_mode(path), 0600);
	assert_int_equal(file_mode(pki_server_key_path(p)), 0600);
	assert_int_equal(file_mode(pki_ca_path(p)), 0644);
	assert_true(no_temp_files(dir));

	/* The CA. */
	ca = pki_ca_cert(p);
	assert_true(X509_check_ca(ca) >= 1);
	assert_true(X509_get_extension_flags(ca) & EXFLAG_CA);
	assert_true(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
	assert_true(X509_get_key_usage(ca) & KU_CRL_SIGN);
	assert_int_equal(pki_cert_cn(ca, cn, sizeof(cn)), 0);
	assert_int_equal(strlen(cn), strlen("Mamori CA ") + 8);
	assert_memory_equal(cn, "Mamori CA ", 10);
	assert_true(is_lower_hex(cn + 10, 8));
	assert_true(X509_cmp_time(X509_get0_notAfter(ca), &(time_t){time(NULL) + 3640L * 86400}) >
		    0);
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(ca), "EC"));
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(ca)), 256);

	path_in(path, sizeof(path), dir, "ca.key");
	ca_key = read_all(path);
	server_crt = read_all(pki_server_cert_path(p));
	pki_free(p);

	/* Opened again: loaded, not regenerated. */
	p = pki_open(dir, extra_names, 3, err, sizeof(err));
	if (!p)
		fail_msg("pki_open again: %s", err);
	assert_string_equal(pki_pin(p), pin);
	again = read_all(path);
	assert_string_equal(again, ca_key);
	free(again);
	again = read_all(pki_server_cert_path(p));
	assert_string_equal(again, server_crt);
	free(again);
	pki_free(p);

	/* Names already present, in another spelling or order, keep the certificate. */
	more[0] = "fd00:0::5";
	more[1] = "EDR.example.test";
	p = pki_open(dir, more, 2, err, sizeof(err));
	assert_non_null(p);
	again = read_all(pki_server_cert_path(p));
	assert_string_equal(again, server_crt);
	free(again);
	pki_free(p);

	/* A new name re-issues the server certificate from the same CA. */
	more[0] = extra_names[0];
	more[1] = "new.example.test";
	more[2] = "192.0.2.7";
	p = pki_open(dir, more, 3, err, sizeof(err));
	if (!p)
		fail_msg("pki_open with a new name: %s", err);
	assert_string_equal(pki_pin(p), pin);
	again = read_all(pki_server_cert_path(p));
	assert_string_not_equal(again, server_crt);
	free(again);
	{
		X509 *x = cert_of_file(pki_server_cert_path(p));

		assert_int_equal(verify_with(p, x, X509_PURPOSE_SSL_SERVER), 1);
		assert_true(has_dns(x, "new.example.test"));
		assert_int_equal(X509_check_ip_asc(x, "192.0.2.7", 0), 1);
		assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
		X509_free(x);
	}
	assert_int_equal(file_mode(pki_server_key_path(p)), 0600);
	assert_true(no_temp_files(dir));

	/* A lost server certificate is issued again, the CA is kept. */
	assert_int_equal(unlink(pki_server_cert_path(p)), 0);
	pki_free(p);
	p = pki_open(dir, NULL, 0, err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(pki_pin(p), pin);
	assert_true(access(pki_server_cert_path(p), F_OK) == 0);
	pki_free(p);

	/* Bad names are refused. */
	more[0] = "bad name!";
	errno = 0;
	err[0] = '\0';
	assert_null(pki_open(dir, more, 1, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "bad name!"));
	more[0] = "fe80::1%eth0";
	assert_null(pki_open(dir, more, 1, err, sizeof(err)));
	more[0] = "";
	assert_null(pki_open(dir, more, 1, NULL, 0));

	/* A CA without its key is an error, never silently replaced. */
	path_in(path, sizeof(path), dir, "ca.key");
	assert_int_equal(unlink(path), 0);
	errno = 0;
	assert_null(pki_open(dir, NULL, 0, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_true(strlen(err) > 0);
	free(ca_key);
	free(server_crt);

	/* A path below a regular file cannot be created. */
	path_in(path, sizeof(path), dir, "ca.crt/x");
	assert_null(pki_open(path, NULL, 0, err, sizeof(err)));
	assert_int_equal(errno, ENOTDIR);
}

static void test_server_cert(void **state)
{
	struct fixture *f = *state;
	char host[HOST_NAME_MAX + 1] = "", err[256], dir[PATH_MAX];
	struct pki *p;
	X509 *x;
	size_t i;
	bool plain = true;

	path_in(dir, sizeof(dir), f->dir, "server");
	p = pki_open(dir, extra_names, 3, err, sizeof(err));
	if (!p)
		fail_msg("pki_open: %s", err);
	x = cert_of_file(pki_server_cert_path(p));
	assert_int_equal(verify_with(p, x, X509_PURPOSE_SSL_SERVER), 1);
	assert_int_equal(verify_with(p, x, X509_PURPOSE_SSL_CLIENT), 0);
	assert_int_equal(X509_check_ca(x), 0);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_false(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "10.1.2.3", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "fd00::5", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "10.1.2.4", 0), 0);
	assert_true(has_dns(x, "localhost"));
	assert_true(has_dns(x, "edr.example.test"));
	assert_false(has_dns(x, "other.example.test"));
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	for (i = 0; host[i]; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-",
			    host[i]))
			plain = false;
	if (plain && host[0])
		assert_true(has_dns(x, host));
	/* Two years, within a day. */
	assert_true(X509_cmp_time(X509_get0_notAfter(x), &(time_t){time(NULL) + 729L * 86400}) > 0);
	assert_true(X509_cmp_time(X509_get0_notAfter(x), &(time_t){time(NULL) + 731L * 86400}) < 0);
	/* The key file matches the certificate. */
	assert_int_equal(agent_csr_check_pair(pki_server_key_path(p), pki_server_cert_path(p)), 0);
	X509_free(x);
	pki_free(p);
}

static void test_sign_csr(void **state)
{
	struct fixture *f = *state;
	char serial[33], serial2[33], again[33], cn[128];
	char *csr, *pem = NULL, *pem2 = NULL;
	EVP_PKEY *k = ec_key("P-256");
	X509 *x;

	csr = make_csr(k, k, "whatever-the-agent-says", true);
	assert_int_equal(sign(f->pki, csr, AGENT_ID, 365, &pem, serial), 0);
	assert_non_null(pem);
	x = cert_of_pem(pem);

	/* Subject and extensions of the CSR are ignored. */
	assert_int_equal(pki_cert_cn(x, cn, sizeof(cn)), 0);
	assert_string_equal(cn, AGENT_ID);
	assert_int_equal(X509_check_ca(x), 0);
	assert_true(X509_get_ext_by_NID(x, NID_subject_alt_name, -1) < 0);
	assert_true(X509_get_extension_flags(x) & EXFLAG_XKUSAGE);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_false(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	assert_false(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), k), 1);

	/* Serial: 32 lowercase hex digits, positive, as read back from the certificate. */
	assert_true(is_lower_hex(serial, 32));
	assert_true(serial[0] <= '7');
	assert_int_equal(pki_cert_serial_hex(x, again), 0);
	assert_string_equal(again, serial);

	assert_int_equal(verify_with(f->pki, x, X509_PURPOSE_SSL_CLIENT), 1);
	assert_int_equal(verify_with(f->pki, x, X509_PURPOSE_SSL_SERVER), 0);
	assert_true(X509_cmp_time(X509_get0_notAfter(x), &(time_t){time(NULL) + 364L * 86400}) > 0);
	assert_true(X509_cmp_time(X509_get0_notAfter(x), &(time_t){time(NULL) + 366L * 86400}) < 0);
	assert_true(X509_cmp_time(X509_get0_notBefore(x), NULL) < 0);

	/* A second certificate for the same CSR gets another serial. */
	assert_int_equal(sign(f->pki, csr, AGENT_ID, 365, &pem2, serial2), 0);
	assert_string_not_equal(serial, serial2);
	free(pem2);

	/* Validity never outlives the CA. */
	pem2 = NULL;
	assert_int_equal(sign(f->pki, csr, AGENT_ID, 3650, &pem2, serial2), 0);
	{
		X509 *y = cert_of_pem(pem2);

		assert_true(ASN1_TIME_compare(X509_get0_notAfter(y),
					      X509_get0_notAfter(pki_ca_cert(f->pki))) <= 0);
		X509_free(y);
	}
	free(pem2);

	/* Other acceptable keys. */
	{
		EVP_PKEY *p384 = ec_key("P-384");
		EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		char *c;

		assert_non_null(rsa);
		c = make_csr(p384, p384, "x", false);
		pem2 = NULL;
		assert_int_equal(sign(f->pki, c, AGENT_ID, 1, &pem2, serial2), 0);
		free(pem2);
		free(c);
		c = make_csr(rsa, rsa, "x", false);
		pem2 = NULL;
		assert_int_equal(sign(f->pki, c, AGENT_ID, 1, &pem2, serial2), 0);
		free(pem2);
		free(c);
		EVP_PKEY_free(rsa);
		EVP_PKEY_free(p384);
	}
	X509_free(x);
	free(pem);
	free(csr);
	EVP_PKEY_free(k);
}

static void test_sign_csr_rejects(void **state)
{
	struct fixture *f = *state;
	char serial[33], long_cn[80];
	EVP_PKEY *k = ec_key("P-256"), *other = ec_key("P-256");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char *csr = make_csr(k, k, "x", false), *bad, *pem = (char *)"untouched";
	size_t n = strlen(csr);
	char *big;

	assert_non_null(rsa);
	assert_non_null(ed);

	/* Garbage, truncation, emptiness. */
	assert_int_equal(sign(f->pki, "garbage", AGENT_ID, 365, &pem, serial), -EINVAL);
	assert_null(pem);
	assert_int_equal(pki_sign_csr(f->pki, csr, n / 2, AGENT_ID, 365, &pem, serial), -EINVAL);
	assert_int_equal(pki_sign_csr(f->pki, csr, 0, AGENT_ID, 365, &pem, serial), -EINVAL);
	/* A certificate is not a CSR. */
	assert_int_equal(sign(f->pki, pki_ca_pem(f->pki), AGENT_ID, 365, &pem, serial), -EINVAL);

	/* Size cap: padding after the PEM is fine up to PKI_CSR_MAX, not beyond. */
	big = malloc(PKI_CSR_MAX + 2);
	assert_non_null(big);
	memset(big, '\n', PKI_CSR_MAX + 1);
	memcpy(big, csr, n);
	big[PKI_CSR_MAX + 1] = '\0';
	assert_int_equal(pki_sign_csr(f->pki, big, PKI_CSR_MAX, AGENT_ID, 365, &pem, serial), 0);
	free(pem);
	pem = NULL;
	assert_int_equal(pki_sign_csr(f->pki, big, PKI_CSR_MAX + 1, AGENT_ID, 365, &pem, serial),
			 -EINVAL);
	assert_null(pem);
	free(big);

	/* Signature by another key. */
	bad = make_csr(other, k, "x", false);
	assert_int_equal(sign(f->pki, bad, AGENT_ID, 365, &pem, serial), -EINVAL);
	free(bad);
	/* Weak or unsupported keys. */
	bad = make_csr(rsa, rsa, "x", false);
	assert_int_equal(sign(f->pki, bad, AGENT_ID, 365, &pem, serial), -EINVAL);
	free(bad);
	{
		X509_REQ *req = X509_REQ_new();
		BIO *bio = BIO_new(BIO_s_mem());
		char *data;
		long len;

		assert_int_equal(X509_REQ_set_pubkey(req, ed), 1);
		assert_true(X509_REQ_sign(req, ed, NULL) > 0);
		assert_int_equal(PEM_write_bio_X509_REQ(bio, req), 1);
		len = BIO_get_mem_data(bio, &data);
		assert_int_equal(
		    pki_sign_csr(f->pki, data, (size_t)len, AGENT_ID, 365, &pem, serial), -EINVAL);
		BIO_free(bio);
		X509_REQ_free(req);
	}

	/* Bad parameters. */
	assert_int_equal(sign(f->pki, csr, AGENT_ID, 0, &pem, serial), -EINVAL);
	assert_int_equal(sign(f->pki, csr, "", 365, &pem, serial), -EINVAL);
	assert_int_equal(sign(f->pki, csr, "a\nb", 365, &pem, serial), -EINVAL);
	memset(long_cn, 'a', sizeof(long_cn) - 1);
	long_cn[sizeof(long_cn) - 1] = '\0';
	assert_int_equal(sign(f->pki, csr, long_cn, 365, &pem, serial), -EINVAL);
	assert_int_equal(sign(f->pki, csr, AGENT_ID, 365, NULL, serial), -EINVAL);
	assert_null(pem);
	assert_int_equal(ERR_peek_error(), 0);

	free(csr);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(other);
	EVP_PKEY_free(k);
}

static void test_cert_helpers(void **state)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	ASN1_INTEGER *big = NULL;
	char buf[33], small[4];

	(void)state;
	assert_int_equal(pki_cert_cn(x, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)"agent", -1, -1, 0),
			 1);
	assert_int_equal(pki_cert_cn(x, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "agent");
	assert_int_equal(pki_cert_cn(x, small, sizeof(small)), -ENOSPC);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)"other", -1, -1, 0),
			 1);
	assert_int_equal(pki_cert_cn(x, buf, sizeof(buf)), -EINVAL);

	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_int_equal(pki_cert_serial_hex(x, buf), 0);
	assert_string_equal(buf, "00000000000000000000000000000001");
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), -5), 1);
	assert_int_equal(pki_cert_serial_hex(x, buf), -ERANGE);
	/* 17 bytes: wider than 128 bits. */
	big = s2i_ASN1_INTEGER(NULL, "0x0100000000000000000000000000000000");
	assert_non_null(big);
	assert_int_equal(X509_set_serialNumber(x, big), 1);
	assert_int_equal(pki_cert_serial_hex(x, buf), -ERANGE);
	ASN1_INTEGER_free(big);
	big = s2i_ASN1_INTEGER(NULL, "0xffffffffffffffffffffffffffffffff");
	assert_int_equal(X509_set_serialNumber(x, big), 1);
	assert_int_equal(pki_cert_serial_hex(x, buf), 0);
	assert_string_equal(buf, "ffffffffffffffffffffffffffffffff");
	ASN1_INTEGER_free(big);
	X509_free(x);
}

/* ---- agent key and CSR ---- */

static void test_agent_csr(void **state)
{
	struct fixture *f = *state;
	char dir[PATH_MAX], key[PATH_MAX], other[PATH_MAX], crt[PATH_MAX], missing[PATH_MAX];
	char serial[33], cn[128];
	char *csr = NULL, *csr2 = NULL, *pem = NULL;
	X509_REQ *req;
	BIO *bio;

	path_in(dir, sizeof(dir), f->dir, "agent");
	assert_int_equal(mkdir(dir, 0700), 0);
	path_in(key, sizeof(key), dir, "agent.key");
	path_in(other, sizeof(other), dir, "other.key");
	path_in(crt, sizeof(crt), dir, "agent.crt");
	path_in(missing, sizeof(missing), dir, "missing.crt");

	assert_int_equal(agent_csr_create(key, "host-1", &csr), 0);
	assert_non_null(csr);
	assert_int_equal(file_mode(key), 0600);
	assert_true(no_temp_files(dir));

	/* The CSR names the host and is signed by the key on disk. */
	bio = BIO_new_mem_buf(csr, -1);
	req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	assert_non_null(req);
	assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
	assert_true(EVP_PKEY_is_a(X509_REQ_get0_pubkey(req), "EC"));
	assert_int_equal(EVP_PKEY_get_bits(X509_REQ_get0_pubkey(req)), 256);
	assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, "host-1");
	X509_REQ_free(req);
	BIO_free(bio);

	assert_int_equal(sign(f->pki, csr, AGENT_ID, 365, &pem, serial), 0);
	write_all(crt, pem);
	assert_int_equal(agent_csr_check_pair(key, crt), 0);

	/* Another key does not match; a replaced key file does not either. */
	assert_int_equal(agent_csr_create(other, "host-1", &csr2), 0);
	assert_string_not_equal(csr, csr2);
	assert_int_equal(agent_csr_check_pair(other, crt), -EKEYREJECTED);
	free(csr2);
	csr2 = NULL;
	assert_int_equal(agent_csr_create(key, "host-1", &csr2), 0);
	assert_int_equal(file_mode(key), 0600);
	assert_int_equal(agent_csr_check_pair(key, crt), -EKEYREJECTED);

	/* Missing and unreadable files. */
	assert_int_equal(agent_csr_check_pair(key, missing), -ENOENT);
	assert_int_equal(agent_csr_check_pair(missing, crt), -ENOENT);
	write_all(missing, "not a certificate\n");
	assert_int_equal(agent_csr_check_pair(key, missing), -EINVAL);
	assert_int_equal(agent_csr_check_pair(crt, crt), -EINVAL);

	/* Bad arguments, and a directory that does not exist. */
	free(csr2);
	csr2 = (char *)"untouched";
	assert_int_equal(agent_csr_create(key, "", &csr2), -EINVAL);
	assert_null(csr2);
	path_in(missing, sizeof(missing), dir, "nope/agent.key");
	assert_int_equal(agent_csr_create(missing, "host-1", &csr2), -ENOENT);
	assert_null(csr2);
	assert_true(no_temp_files(dir));
	assert_int_equal(ERR_peek_error(), 0);

	free(pem);
	free(csr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_round_trip), cmocka_unit_test(test_token_rejects),
	    cmocka_unit_test(test_token_generate),   cmocka_unit_test(test_pin_of_pem),
	    cmocka_unit_test(test_pki_open),	     cmocka_unit_test(test_server_cert),
	    cmocka_unit_test(test_sign_csr),	     cmocka_unit_test(test_sign_csr_rejects),
	    cmocka_unit_test(test_cert_helpers),     cmocka_unit_test(test_agent_csr),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
