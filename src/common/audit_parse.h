/* Parser for one Linux audit record, either as the kernel multicasts it ("audit(ts:serial): k=v")
 * or as auditd logs it ("type=NAME msg=audit(ts:serial): k=v"). Pure and bounded: fields point
 * into the caller's text and are produced one at a time, so no record, however long or hostile,
 * makes it allocate, and it can be fuzzed and unit-tested without a kernel. Shared by the agent's
 * audit source and the detection engine's auditd adapter (src/detect/detect_doc_auditd.c). */
#ifndef MAMORI_AUDIT_PARSE_H
#define MAMORI_AUDIT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest record accepted; the kernel's own limit (MAX_AUDIT_MESSAGE_LENGTH) is under 9 KiB. */
#define AUDIT_PARSE_MAX_TEXT 65536
/* Longest key accepted ("a1234[567]" fits); longer tokens are skipped as junk. */
#define AUDIT_PARSE_MAX_KEY 32

/* Record types the agent reads (linux/audit.h), repeated so the parser needs no kernel header. */
#define AUDIT_PARSE_SYSCALL 1300
#define AUDIT_PARSE_PATH 1302
#define AUDIT_PARSE_CWD 1307
#define AUDIT_PARSE_EXECVE 1309
#define AUDIT_PARSE_EOE 1320
#define AUDIT_PARSE_PROCTITLE 1327

struct audit_parse_header {
	uint32_t type;	 /* record type; 0 when neither given nor parsable */
	uint64_t ts_ns;	 /* wall clock of the event, millisecond precision */
	uint64_t serial; /* with ts_ns, identifies the event all its records belong to */
	size_t body;	 /* offset of the first key=value after "): " */
};

struct audit_parse_field {
	const char *key; /* borrowed from the record text, not NUL-terminated */
	size_t key_len;
	const char *val; /* without its quotes */
	size_t val_len;
	char quote; /* '"' or '\'' when the value was quoted, 0 when bare */
};

struct audit_parse_iter {
	const char *p, *end; /* borrowed */
	unsigned skipped;    /* tokens that were not key=value (counted, not fatal) */
	bool malformed;	     /* an unterminated quote ran to the end of the record */
};

/* Parses the "[node=N ][type=NAME ]msg=audit(sec.ms:serial): " prefix, or the bare
 * "audit(sec.ms:serial): " prefix of a netlink payload. type_hint (the netlink message type, or
 * 0) is kept unless the text names its own type. 0; -E2BIG when len exceeds
 * AUDIT_PARSE_MAX_TEXT; -EINVAL when the prefix is missing or malformed. */
int audit_parse_header(const char *text, size_t len, uint32_t type_hint,
		       struct audit_parse_header *h);

/* Starts iterating over the fields of text[h->body, len). text is borrowed for the iteration;
 * a NUL byte ends the record (netlink payloads may carry one). */
void audit_parse_iter_init(struct audit_parse_iter *it, const char *text, size_t len,
			   const struct audit_parse_header *h);
/* The next key=value field; false at the end of the record. */
bool audit_parse_next(struct audit_parse_iter *it, struct audit_parse_field *f);

bool audit_parse_key_is(const struct audit_parse_field *f, const char *key);

/* Unquoted unsigned number in base 10 or 16 (audit prints a0..a3 and arch in hex without 0x).
 * 0, or -EINVAL (quoted, empty, junk) or -ERANGE. */
int audit_parse_u64(const struct audit_parse_field *f, unsigned base, uint64_t *out);
/* Unquoted decimal with an optional '-' (exit=-2). 0, -EINVAL or -ERANGE. */
int audit_parse_i64(const struct audit_parse_field *f, int64_t *out);

/* Decodes hex pairs s[0..n) into out[0..size). 0, 1 when out was too small (the decoded prefix
 * is kept), -EINVAL when n is odd or a digit is not hex. *outlen gets the bytes written; out is
 * not NUL-terminated and may hold NUL bytes (proctitle separates arguments with them). */
int audit_parse_hex(const char *s, size_t n, char *out, size_t size, size_t *outlen);

/* The value of an untrusted-string field (exe, comm, cwd, name, a<N>, proctitle): the kernel
 * writes it quoted when it is plain text and as bare hex otherwise. Writes the decoded bytes and
 * a NUL to out[size] (size >= 1). 0; 1 when truncated; -ENOENT for an absent value ("(null)",
 * "(none)", "?"); -EINVAL for a bare value that is not hex. */
int audit_parse_string(const struct audit_parse_field *f, char *out, size_t size, size_t *outlen);

/* The number of a type name as auditd logs it ("SYSCALL", "UNKNOWN[1334]"); 0 when unknown. */
uint32_t audit_parse_type_name(const char *s, size_t n);

/* How an EXECVE record names an argument: "a3" (whole), "a3_len" (total length of an argument
 * that follows in chunks), "a3[0]" (one chunk). */
enum audit_parse_arg {
	AUDIT_PARSE_ARG_NONE,
	AUDIT_PARSE_ARG_WHOLE,
	AUDIT_PARSE_ARG_LEN,
	AUDIT_PARSE_ARG_CHUNK,
};
/* Classifies an EXECVE key; *index gets the argument number, *chunk the chunk number. */
enum audit_parse_arg audit_parse_arg_key(const struct audit_parse_field *f, uint32_t *index,
					 uint32_t *chunk);

#endif
