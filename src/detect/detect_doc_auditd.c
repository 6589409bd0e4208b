#include "detect_doc_auditd.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "audit_parse.h"
#include "detect_doc.h"
#include "detect_fields.h"
#include "hex.h"
#include "syscalls_x86_64.h"

#include "banned.h"

/* Where "audit(" may start: audit_parse_header searches the same span. */
#define PREFIX_MAX 512
#define ARCH_X86_64 "c000003e"

/* Key comparison against a literal without strlen: it runs for every field of every line. */
#define KEY_IS(f, lit)                                                                             \
	((f)->key_len == sizeof(lit) - 1 && memcmp((f)->key, lit, sizeof(lit) - 1) == 0)

struct rec {
	struct detect_doc *doc;
	bool keep_other;
	bool execve;
	bool has_syscall_name; /* the enriched format's SYSCALL= translation */
	struct audit_parse_field arch, sysno;
};

/* Keys the kernel and auditd write as bare hex when the text holds a space, a quote, a control
 * character or non-ASCII (audit_log_untrustedstring and friends). */
static bool is_hex_key(const struct audit_parse_field *f, bool execve)
{
	uint32_t idx, chunk;
	enum audit_parse_arg a;

	if (KEY_IS(f, "proctitle") || KEY_IS(f, "exe") || KEY_IS(f, "comm") || KEY_IS(f, "cwd") ||
	    KEY_IS(f, "name") || KEY_IS(f, "key") || KEY_IS(f, "cmd") || KEY_IS(f, "data") ||
	    KEY_IS(f, "acct"))
		return true;
	/* a0.. are argument strings only in EXECVE records; in SYSCALL ones they are numbers. */
	if (!execve)
		return false;
	a = audit_parse_arg_key(f, &idx, &chunk);
	return a == AUDIT_PARSE_ARG_WHOLE || a == AUDIT_PARSE_ARG_CHUNK;
}

static bool is_hex_text(const char *s, size_t n)
{
	if (n == 0 || n % 2)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (hex_value(s[i]) < 0)
			return false;
	}
	return true;
}

/* Decodes a hex value into the arena and adds it: proctitle's NUL separators become spaces (as
 * `ausearch -i` shows them), and a key holding several rule keys (joined by 0x01) gives one
 * value per key. */
static void add_hex(struct rec *r, uint32_t id, const struct audit_parse_field *f)
{
	struct detect_doc *doc = r->doc;
	size_t n = f->val_len / 2, got;
	char *p;

	if (doc->nvalues >= DETECT_DOC_MAX_VALUES) {
		doc->overflow++;
		return;
	}
	p = detect_doc_alloc(doc, n);
	if (!p) {
		doc->overflow++;
		return;
	}
	if (audit_parse_hex(f->val, f->val_len, p, n, &got) != 0)
		got = 0;
	while (got > 0 && p[got - 1] == '\0')
		got--;
	p[got] = '\0';
	if (KEY_IS(f, "key")) {
		size_t start = 0;

		for (size_t i = 0; i <= got; i++) {
			if (i == got || p[i] == '\x01') {
				if (i > start)
					(void)detect_doc_add_id(doc, id, p + start, i - start);
				start = i + 1;
			}
		}
		return;
	}
	for (size_t i = 0; i < got; i++) {
		if (p[i] == '\0')
			p[i] = ' ';
	}
	(void)detect_doc_add_id(doc, id, p, got);
}

static void add_field(struct rec *r, const struct audit_parse_field *f, bool execve)
{
	uint32_t id;

	if (KEY_IS(f, "SYSCALL"))
		r->has_syscall_name = true;
	else if (KEY_IS(f, "arch"))
		r->arch = *f;
	else if (KEY_IS(f, "syscall"))
		r->sysno = *f;
	id = detect_doc_field(r->doc, f->key, f->key_len);
	if (id == DETECT_FIELD_NONE) {
		if (!r->keep_other)
			return;
		id = DETECT_FIELD_OTHER;
	}
	if (!f->quote && is_hex_key(f, execve) && is_hex_text(f->val, f->val_len))
		add_hex(r, id, f);
	else
		(void)detect_doc_add_id(r->doc, id, f->val, f->val_len);
}

/* User-space records (USER_CMD, SERVICE_STOP, USER_LOGIN...) carry their own fields inside
 * msg='...'; rules name them directly (unit: firewalld). */
static void add_inner(struct rec *r, const struct audit_parse_field *msg)
{
	struct audit_parse_header h = {0};
	struct audit_parse_iter it;
	struct audit_parse_field f;

	audit_parse_iter_init(&it, msg->val, msg->val_len, &h);
	while (audit_parse_next(&it, &f))
		add_field(r, &f, false);
}

/* "node=" and "type=" come before msg=audit(...). */
static void add_prefix(struct rec *r, const char *line, size_t len)
{
	size_t search = len < PREFIX_MAX ? len : PREFIX_MAX;
	const char *at = memmem(line, search, "audit(", 6);
	struct audit_parse_header h = {0};
	struct audit_parse_iter it;
	struct audit_parse_field f;

	if (!at)
		return;
	audit_parse_iter_init(&it, line, (size_t)(at - line), &h);
	while (audit_parse_next(&it, &f)) {
		if (KEY_IS(&f, "type") || KEY_IS(&f, "node"))
			add_field(r, &f, false);
	}
}

static void add_syscall_name(struct rec *r)
{
	uint64_t nr;
	const char *name;

	if (r->has_syscall_name || !r->arch.key || !r->sysno.key)
		return;
	/* The kernel prints arch with %x: lowercase. */
	if (r->arch.quote || r->arch.val_len != strlen(ARCH_X86_64) ||
	    memcmp(r->arch.val, ARCH_X86_64, r->arch.val_len) != 0)
		return;
	if (audit_parse_u64(&r->sysno, 10, &nr) != 0)
		return;
	name = syscalls_x86_64_name(nr);
	if (name)
		(void)detect_doc_add(r->doc, "SYSCALL", 7, name, strlen(name));
}

int detect_doc_from_auditd(struct detect_doc *doc, const char *line, size_t len, char *err,
			   size_t errlen)
{
	struct rec r = {0};
	struct audit_parse_header h;
	struct audit_parse_iter it;
	struct audit_parse_field f;
	int rc;

	detect_doc_reset(doc);
	if (err && errlen)
		err[0] = '\0';
	rc = audit_parse_header(line, len, 0, &h);
	if (rc) {
		if (err && errlen)
			(void)snprintf(
			    err, errlen, "%s",
			    rc == -E2BIG ? "record too long"
					 : "missing or malformed msg=audit(sec.ms:serial) prefix");
		return rc;
	}
	r.doc = doc;
	r.keep_other = detect_fields_keep_other(doc->fields);
	r.execve = h.type == AUDIT_PARSE_EXECVE;
	add_prefix(&r, line, len);
	audit_parse_iter_init(&it, line, len, &h);
	while (audit_parse_next(&it, &f)) {
		add_field(&r, &f, r.execve);
		if (f.quote == '\'' && KEY_IS(&f, "msg"))
			add_inner(&r, &f);
	}
	add_syscall_name(&r);
	doc->time_ns = h.ts_ns;
	doc->src.product = "linux";
	doc->src.service = "auditd";
	return 0;
}
