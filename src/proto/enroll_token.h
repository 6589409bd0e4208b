/* Enrollment tokens (docs/protocol.md, "Enrollment"): MMR1.<id>.<secret>.<pin>, printed by
 * `mamori tokens create` and given to `mamori-agent enroll`. The pin is the SHA-256 of the server
 * CA's DER, which the agent checks before it trusts the CA it downloads. */
#ifndef MAMORI_ENROLL_TOKEN_H
#define MAMORI_ENROLL_TOKEN_H

#include <stddef.h>

#define ENROLL_TOKEN_PREFIX "MMR1"
#define ENROLL_TOKEN_ID_LEN 16
#define ENROLL_TOKEN_SECRET_LEN 32
#define ENROLL_TOKEN_PIN_LEN 64
/* Buffer size that holds any formatted token and its NUL. */
#define ENROLL_TOKEN_MAX                                                                           \
	(sizeof(ENROLL_TOKEN_PREFIX) + ENROLL_TOKEN_ID_LEN + 1 + ENROLL_TOKEN_SECRET_LEN + 1 +     \
	 ENROLL_TOKEN_PIN_LEN + 1)

/* Every field is lowercase hex of exactly its length, NUL-terminated. */
struct enroll_token {
	char id[ENROLL_TOKEN_ID_LEN + 1];
	char secret[ENROLL_TOKEN_SECRET_LEN + 1];
	char pin[ENROLL_TOKEN_PIN_LEN + 1];
};

/* Parses n bytes of s (no NUL needed); surrounding whitespace is ignored and uppercase hex is
 * lowered. 0, or -EINVAL with *t unchanged. */
int enroll_token_parse(const char *s, size_t n, struct enroll_token *t);
/* Writes the token and a NUL into buf. 0, -EINVAL when a field is not lowercase hex of its
 * length, -ENOSPC when size < ENROLL_TOKEN_MAX. */
int enroll_token_format(const struct enroll_token *t, char *buf, size_t size);
/* Fills a fresh random id and secret, and pin (64 hex digits, lowered). 0, -EINVAL for a bad
 * pin, -EIO when the random generator fails. */
int enroll_token_generate(struct enroll_token *t, const char *pin);
/* The pin of the first certificate in pem (len bytes, no NUL needed): lowercase hex SHA-256 of
 * its DER, NUL-terminated. 0, -EINVAL when there is no certificate, -ENOMEM. */
int enroll_token_pin_of_pem(const char *pem, size_t len, char pin[65]);
/* Lowercase hex SHA-256 of the secret string: what the server stores instead of the secret.
 * out is "" if hashing fails, which matches no stored hash. */
void enroll_token_secret_hash(const char *secret, char out[65]);

#endif
