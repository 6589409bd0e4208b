/* The server's own PKI (docs/protocol.md, "Server PKI"): a CA created on first start in the data
 * directory, the TLS server certificate it signs, and client certificates issued to agents from
 * their CSRs at enrollment. The pin given to agents is the SHA-256 of the CA's DER. */
#ifndef MAMORI_PKI_H
#define MAMORI_PKI_H

#include <stddef.h>

#include <openssl/x509.h>

struct pki;

/* Opens the PKI in dir, creating dir (0700), the CA and the server certificate on first use.
 * names are extra server names (an IP address or a DNS name each) added to the built-in SANs
 * (localhost, 127.0.0.1, ::1, the host name); the server certificate is re-issued by the same CA
 * when it lacks one, does not chain to the CA, or expires within 30 days. Returns NULL with errno
 * set and a message in err on failure. Caller owns the result (pki_free). */
struct pki *pki_open(const char *dir, const char *const *names, size_t n_names, char *err,
		     size_t errlen);
/* NULL is a no-op. */
void pki_free(struct pki *p);

/* Lowercase hex SHA-256 of the CA's DER. Borrowed until pki_free. */
const char *pki_pin(const struct pki *p);
/* The CA certificate in PEM. Borrowed until pki_free. */
const char *pki_ca_pem(const struct pki *p);
/* Paths of ca.crt, server.crt and server.key. Borrowed until pki_free. */
const char *pki_ca_path(const struct pki *p);
const char *pki_server_cert_path(const struct pki *p);
const char *pki_server_key_path(const struct pki *p);
/* The CA certificate, for the TLS verify store. Borrowed until pki_free (X509_up_ref to keep). */
X509 *pki_ca_cert(const struct pki *p);

/* Issues a client certificate for a CSR (len bytes of PEM, at most PKI_CSR_MAX): the CSR's
 * signature is checked and its key must be EC (P-256, P-384, P-521) or RSA >= 2048 bits; its
 * subject and extensions are ignored. The certificate has subject CN=cn, a random positive
 * 128-bit serial (written as 32 lowercase hex digits to serial_hex) and is valid for days (at
 * most until the CA expires), for TLS client authentication only. Caller frees *cert_pem with
 * free(). 0, -EINVAL (bad CSR, cn or days), -ENOMEM, -EIO. */
#define PKI_CSR_MAX ((size_t)16 * 1024)
int pki_sign_csr(struct pki *p, const char *csr_pem, size_t len, const char *cn, unsigned days,
		 char **cert_pem, char serial_hex[33]);

/* A certificate's serial as 32 lowercase hex digits (zero-padded). 0, -EINVAL, or -ERANGE when
 * the serial is negative or wider than 128 bits. cert is borrowed. */
int pki_cert_serial_hex(X509 *cert, char serial_hex[33]);
/* A certificate's subject CN as a C string. 0, -ENOENT (no CN), -EINVAL (several CNs or an
 * embedded NUL), -ENOSPC (buf too small), -ENOMEM. cert is borrowed. */
int pki_cert_cn(X509 *cert, char *buf, size_t size);

#endif
