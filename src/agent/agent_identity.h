/* The agent's enrolled identity in its state directory: agent.key, agent.crt, ca.crt and
 * agent.json ({"agent.id", "server.url"}). Written once by enrollment, read at every start. */
#ifndef MAMORI_AGENT_IDENTITY_H
#define MAMORI_AGENT_IDENTITY_H

#include <stddef.h>

struct agent_identity {
	char agent_id[33];
	char url[512]; /* https://host:port, no trailing slash */
	char key_path[1024], cert_path[1024], ca_path[1024], json_path[1024], spool_dir[1024];
};

/* Fills the paths for state_dir. -ENAMETOOLONG when they do not fit. */
int agent_identity_paths(const char *state_dir, struct agent_identity *id);
/* Loads agent.json; -ENOENT (not enrolled) or -EINVAL with a reason in err. */
int agent_identity_load(const char *state_dir, struct agent_identity *id, char *err, size_t errlen);
/* Writes agent.json atomically. */
int agent_identity_save(const struct agent_identity *id);

#endif
