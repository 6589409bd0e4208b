#include "server_auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hex.h"

#include "banned.h"

#define PBKDF2_ITER 100000

static const char *const role_names[] = {"none", "viewer", "analyst", "admin"};

const char *auth_role_name(enum role r)
{
	return (unsigned)r < 4 ? role_names[r] : "none";
}

enum role auth_role_parse(const char *s)
{
	for (int i = 1; i < 4; i++)
		if (s && !strcmp(s, role_names[i]))
			return (enum role)i;
	return ROLE_NONE;
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = 0;
}

static int pbkdf2(const char *pw, const unsigned char *salt, size_t slen, unsigned iter,
		  unsigned char out[32])
{
	return PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, (int)slen, (int)iter, EVP_sha256(), 32,
				 out) == 1
		   ? 0
		   : -EIO;
}

static void sha256_hex(const char *s, char out[65])
{
	unsigned char d[32];
	unsigned int n = 0;

	EVP_Digest(s, strlen(s), d, &n, EVP_sha256(), NULL);
	to_hex(d, 32, out);
}

int auth_user_create(struct store *st, const char *name, enum role role, const char *password)
{
	unsigned char salt[16], dk[32];
	char saltx[33], dkx[65], rec[160];
	struct store_val p[4];
	int64_t rc;

	if (RAND_bytes(salt, sizeof(salt)) != 1 || pbkdf2(password, salt, 16, PBKDF2_ITER, dk))
		return -EIO;
	to_hex(salt, 16, saltx);
	to_hex(dk, 32, dkx);
	snprintf(rec, sizeof(rec), "pbkdf2-sha256$%d$%s$%s", PBKDF2_ITER, saltx, dkx);
	p[0] = store_text(name);
	p[1] = store_text(auth_role_name(role));
	p[2] = store_text(rec);
	p[3] = store_int((int64_t)time(NULL));
	rc = store_exec(st, "INSERT INTO users (name, role, pw_hash, created_at) VALUES (?,?,?,?)",
			p, 4, NULL, NULL);
	return rc < 0 ? (int)rc : 0;
}

int auth_user_check(struct store *st, const char *name, const char *password, enum role *role)
{
	char rec[256], rolebuf[32], *iter_s, *salt_s, *dk_s;
	struct store_val p[] = {store_text(name)};
	unsigned char salt[16], dk[32], want[32];
	unsigned long iter;

	if (store_query_text(st, "SELECT pw_hash FROM users WHERE name = ?", p, 1, rec,
			     sizeof(rec)) ||
	    store_query_text(st, "SELECT role FROM users WHERE name = ?", p, 1, rolebuf,
			     sizeof(rolebuf)))
		return -EACCES;
	if (strncmp(rec, "pbkdf2-sha256$", 14))
		return -EACCES;
	iter_s = rec + 14;
	salt_s = strchr(iter_s, '$');
	if (!salt_s)
		return -EACCES;
	*salt_s++ = 0;
	dk_s = strchr(salt_s, '$');
	if (!dk_s)
		return -EACCES;
	*dk_s++ = 0;
	iter = strtoul(iter_s, NULL, 10);
	if (iter < 1000 || iter > 10000000 || strlen(salt_s) != 32 || strlen(dk_s) != 64 ||
	    hex_decode(salt_s, 32, salt, sizeof(salt)) != 16 ||
	    hex_decode(dk_s, 64, want, sizeof(want)) != 32)
		return -EACCES;
	if (pbkdf2(password, salt, 16, (unsigned)iter, dk))
		return -EIO;
	if (CRYPTO_memcmp(dk, want, 32))
		return -EACCES;
	*role = auth_role_parse(rolebuf);
	return *role == ROLE_NONE ? -EACCES : 0;
}

int auth_token_create(struct store *st, const char *user, int64_t ttl_ns, char *buf, size_t size)
{
	unsigned char raw[24];
	char hx[49], h[65];
	struct store_val p[4];
	int64_t now = (int64_t)time(NULL), rc;

	if (size < 53 || RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	to_hex(raw, sizeof(raw), hx);
	snprintf(buf, size, "mmt_%s", hx);
	sha256_hex(buf, h);
	p[0] = store_text(h);
	p[1] = store_text(user);
	p[2] = store_int(now);
	p[3] = store_int(ttl_ns ? now + ttl_ns / 1000000000ll : 0);
	rc = store_exec(st,
			"INSERT INTO api_tokens (hash, user_name, created_at, expires_at) VALUES "
			"(?,?,?,?)",
			p, 4, NULL, NULL);
	return rc < 0 ? (int)rc : 0;
}

struct tok_row {
	char user[64];
	char role[32];
	int64_t expires;
	int found;
};

static int tok_cb(void *ctx, const struct store_val *c, size_t n)
{
	struct tok_row *t = ctx;

	if (n < 3 || c[0].type != STORE_TEXT || c[1].type != STORE_TEXT)
		return 0;
	snprintf(t->user, sizeof(t->user), "%.*s", (int)c[0].n, c[0].s);
	snprintf(t->role, sizeof(t->role), "%.*s", (int)c[1].n, c[1].s);
	t->expires = c[2].type == STORE_INT ? c[2].i : 0;
	t->found = 1;
	return 0;
}

int auth_token_check(struct store *st, const char *token, char *user, size_t usize, enum role *role)
{
	char h[65];
	struct tok_row t = {0};
	struct store_val p[1];

	if (!token || strncmp(token, "mmt_", 4) || strlen(token) != 52)
		return -EACCES;
	sha256_hex(token, h);
	p[0] = store_text(h);
	if (store_exec(st,
		       "SELECT t.user_name, u.role, t.expires_at FROM api_tokens t JOIN users u ON "
		       "u.name = t.user_name WHERE t.hash = ?",
		       p, 1, tok_cb, &t) < 0 ||
	    !t.found)
		return -EACCES;
	if (t.expires && t.expires < (int64_t)time(NULL))
		return -EACCES;
	snprintf(user, usize, "%s", t.user);
	*role = auth_role_parse(t.role);
	return *role == ROLE_NONE ? -EACCES : 0;
}
