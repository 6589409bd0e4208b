/* `mamori-agent enroll URL TOKEN`: fetches the server CA and checks it against the token's pin,
 * sends a CSR for a key generated here, and stores the identity in the state directory. */
#ifndef MAMORI_ENROLL_H
#define MAMORI_ENROLL_H

#include <stddef.h>

/* 0, or a negative errno with a one-line reason in err. */
int agent_enroll(const char *state_dir, const char *url, const char *token, const char *host_name,
		 char *err, size_t errlen);

#endif
