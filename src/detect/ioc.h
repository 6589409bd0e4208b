/* Indicator lists (IOCs): SHA-256/SHA-1/MD5 hashes, IP addresses and networks, domains (with
 * their subdomains) and file paths, loaded from simple text files (docs/indicators.md) into an
 * immutable set matched against every event in O(fields) with exact-match tables. A reload
 * builds a new set; owners swap it in (ioc_set_ref/unref make that safe across threads). */
#ifndef MAMORI_IOC_H
#define MAMORI_IOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"

struct ioc_set;

enum ioc_type { IOC_SHA256, IOC_SHA1, IOC_MD5, IOC_IP, IOC_CIDR, IOC_DOMAIN, IOC_PATH };

/* One indicator as loaded; strings owned by the set. */
struct ioc_entry {
	enum ioc_type type;
	const char *value;	 /* normalised: lowercase hex, canonical IP/CIDR, lowercase domain */
	const char *list;	 /* list name (@name, or the file name) */
	const char *description; /* "" when none */
	enum detect_severity severity;
	const char *technique;	 /* "T1105" or "" */
};

struct ioc_hit {
	const struct ioc_entry *ioc;
	const char *field;    /* ECS field that matched, "process.hash.sha256" */
	const char *value;    /* the event's value (borrowed from the doc, not NUL-terminated) */
	size_t value_len;
	/* A rule-like description so alerts can be built like Sigma hits: id "ioc:<list>:<value>". */
	const struct detect_rule_meta *rule;
};
typedef int (*ioc_hit_fn)(void *ctx, const struct ioc_hit *hit, struct detect_doc *doc);

/* Caller owns the result (one reference; ioc_set_unref). NULL + errno. */
struct ioc_set *ioc_set_new(void);
void ioc_set_ref(struct ioc_set *s);
void ioc_set_unref(struct ioc_set *s); /* frees on the last reference; NULL is a no-op */
/* Parses one indicator file (text need not be NUL-terminated). Bad lines are reported to diag
 * (fatal = false: the line is skipped) and counted. Returns the number of indicators added, or a
 * negative errno (-E2BIG past IOC_MAX_ENTRIES). */
#define IOC_MAX_ENTRIES (10u * 1000 * 1000)
int ioc_set_add_text(struct ioc_set *s, const char *path, const char *text, size_t len,
		     detect_diag_fn diag, void *diag_ctx); /* -EBUSY after ioc_set_finish */
/* Freezes the set for matching (after the last add). 0 or -ENOMEM. */
int ioc_set_finish(struct ioc_set *s);
size_t ioc_set_count(const struct ioc_set *s);
size_t ioc_set_bad_lines(const struct ioc_set *s);
/* Indicators skipped because the same one (same type and normalised value; ip a == cidr a/32)
 * was already loaded: the first keeps its list, severity and description. */
size_t ioc_set_duplicates(const struct ioc_set *s);
/* Indicator i (0 <= i < ioc_set_count) in load order, for listings; NULL past the end. Borrowed
 * from the set. */
const struct ioc_entry *ioc_set_entry(const struct ioc_set *s, size_t i);
/* The ECS fields indicators are looked up in; engines intern them so docs keep their values. */
extern const char *const IOC_FIELDS[];
/* Checks every IOC_FIELDS value of doc; calls fn per match. Thread-safe, no allocation. Returns
 * the number of hits, or what fn returned when it stopped early. */
int ioc_set_match(const struct ioc_set *s, struct detect_doc *doc, ioc_hit_fn fn, void *ctx);

#endif
