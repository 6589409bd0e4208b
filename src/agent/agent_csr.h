/* The agent's side of enrollment (docs/protocol.md, "Enrollment"): a P-256 key generated on the
 * host and kept there (agent.key, 0600), the CSR sent to the server, and the check that the
 * certificate the server returns belongs to that key. */
#ifndef MAMORI_AGENT_CSR_H
#define MAMORI_AGENT_CSR_H

/* Generates an EC P-256 key, writes it in PEM to key_path (0600, atomically: temp + rename) and
 * returns a CSR in PEM with subject CN=cn signed by it. Caller frees *csr_pem with free().
 * 0, -EINVAL, -ENOMEM, -EIO, or the negative errno of the write. */
int agent_csr_create(const char *key_path, const char *cn, char **csr_pem);
/* 0 when the certificate in cert_path (PEM) holds the public half of the key in key_path;
 * -EKEYREJECTED when it does not, -EINVAL when a file does not parse, or the negative errno of
 * opening a file. */
int agent_csr_check_pair(const char *key_path, const char *cert_path);

#endif
