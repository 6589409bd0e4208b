/* Users, roles, password hashes (PBKDF2-SHA256) and API bearer tokens (stored hashed). */
#ifndef MAMORI_SERVER_AUTH_H
#define MAMORI_SERVER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "server_int.h"
#include "store.h"

const char *auth_role_name(enum role r);
/* ROLE_NONE when unknown. */
enum role auth_role_parse(const char *s);

/* -EEXIST when the user exists. */
int auth_user_create(struct store *st, const char *name, enum role role, const char *password);
/* 0 with *role when the password matches; -EACCES otherwise. */
int auth_user_check(struct store *st, const char *name, const char *password, enum role *role);
/* New random token for user into buf ("mmt_" + 48 hex); ttl_ns 0 = no expiry. */
int auth_token_create(struct store *st, const char *user, int64_t ttl_ns, char *buf, size_t size);
/* Resolves a bearer token. 0 with user and role, -EACCES otherwise. */
int auth_token_check(struct store *st, const char *token, char *user, size_t usize,
		     enum role *role);

#endif
