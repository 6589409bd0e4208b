#include "behaviour.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detect_fields.h"
#include "hash64.h"

/* ---- the built-in rules ---- */
static const char *const T_C2[] = {"Command and Control"};
static const char *const T_DISC[] = {"Discovery"};
static const char *const T_IMPACT[] = {"Impact"};
static const char *const T_EXEC_C2[] = {"Execution", "Command and Control"};
static const char *const T_EVASION[] = {"Defense Evasion", "Execution"};
static const char *const X_BEACON[] = {"T1071", "T1573"};
static const char *const X_DISC[] = {"T1082", "T1033", "T1057", "T1016"};
static const char *const X_RANSOM[] = {"T1486"};
static const char *const X_REVSHELL[] = {"T1059.004", "T1071"};
static const char *const X_FILELESS[] = {"T1620", "T1106"};

enum { R_BEACON, R_DISCOVERY, R_RANSOM_RENAME, R_RANSOM_ENTROPY, R_REVSHELL, R_FILELESS, R_N };

static const struct detect_rule_meta RULES[R_N] = {
    [R_BEACON] = {.id = "mamori-behaviour-beaconing",
		  .title = "Beaconing: periodic connections to one endpoint",
		  .description = "A process connected to the same address and port at regular "
				 "intervals, as command-and-control implants check in.",
		  .path = "builtin", .status = "stable", .kind = "behaviour",
		  .severity = DETECT_SEV_MEDIUM, .risk_score = 55,
		  .advice = "Identify the process and the destination (reputation, owner). If it is "
			    "not a known updater or monitoring agent, block the destination, isolate "
			    "the host and examine how the process started (process tree).",
		  .tactics = T_C2, .ntactics = 1, .techniques = X_BEACON, .ntechniques = 2,
		  .generate = true},
    [R_DISCOVERY] = {.id = "mamori-behaviour-discovery-burst",
		     .title = "Discovery burst: many reconnaissance commands from one shell",
		     .description = "One parent process ran many distinct system, user, process "
				    "and network discovery commands within a minute, as an "
				    "intruder does after gaining a shell.",
		     .path = "builtin", .status = "stable", .kind = "behaviour",
		     /* Administrators do the same: low on its own, it weighs in incidents. */
		     .severity = DETECT_SEV_LOW, .risk_score = 35,
		     .advice = "Check who owns the session (user, source of the login) and whether an "
			       "administrator was working. If not, treat the host as compromised: "
			       "isolate it and review the parent's process tree.",
		     .tactics = T_DISC, .ntactics = 1, .techniques = X_DISC, .ntechniques = 4,
		     .generate = true},
    [R_RANSOM_RENAME] = {.id = "mamori-behaviour-ransomware-rename",
			 .title = "Ransomware: mass rename to one new extension",
			 .description = "One process renamed many files within seconds, changing "
					"their extension to the same new one.",
			 .path = "builtin", .status = "stable", .kind = "behaviour",
			 .severity = DETECT_SEV_CRITICAL, .risk_score = 99,
			 .advice = "Kill the process tree and isolate the host now; do not reboot. "
				   "Preserve the binary, then restore the affected files from "
				   "backup.",
			 .tactics = T_IMPACT, .ntactics = 1, .techniques = X_RANSOM,
			 .ntechniques = 1, .generate = true},
    [R_RANSOM_ENTROPY] = {.id = "mamori-behaviour-ransomware-entropy",
			  .title = "Ransomware: many files rewritten with random-looking content",
			  .description = "One process rewrote many files within seconds and their "
					 "new content has the entropy of encrypted data.",
			  .path = "builtin", .status = "stable", .kind = "behaviour",
			  .severity = DETECT_SEV_CRITICAL, .risk_score = 99,
			  .advice = "Kill the process tree and isolate the host now; do not "
				    "reboot. Preserve the binary, then restore the affected files "
				    "from backup.",
			  .tactics = T_IMPACT, .ntactics = 1, .techniques = X_RANSOM,
			  .ntechniques = 1, .generate = true},
    [R_REVSHELL] = {.id = "mamori-behaviour-reverse-shell",
		    .title = "Reverse shell: a shell whose standard streams are a network socket",
		    .description = "A shell or interpreter started with its standard input or "
				   "output connected to a TCP or UDP socket.",
		    .path = "builtin", .status = "stable", .kind = "behaviour",
		    .severity = DETECT_SEV_CRITICAL, .risk_score = 95,
		    .advice = "Kill the shell and its parent, block the remote address and isolate "
			      "the host; find the exploited service from the parent process.",
		    .tactics = T_EXEC_C2, .ntactics = 2, .techniques = X_REVSHELL,
		    .ntechniques = 2, .generate = true},
    [R_FILELESS] = {.id = "mamori-behaviour-fileless-exec",
		    .title = "Fileless execution: a program ran from memory or a deleted file",
		    .description = "A process executed an anonymous memory file (memfd) or a "
				   "file deleted after it started, which leaves nothing on disk.",
		    .path = "builtin", .status = "stable", .kind = "behaviour",
		    .severity = DETECT_SEV_HIGH, .risk_score = 80,
		    .advice = "Dump the process memory (/proc/PID/exe is still readable), then kill "
			      "it and review its parent; fileless loaders are rarely legitimate.",
		    .tactics = T_EVASION, .ntactics = 2, .techniques = X_FILELESS,
		    .ntechniques = 2, .generate = true},
};

size_t behaviour_rule_count(void)
{
	return R_N;
}

const struct detect_rule_meta *behaviour_rule(size_t i)
{
	return i < R_N ? &RULES[i] : NULL;
}

enum bf {
	F_ACTION,
	F_HOST,
	F_ENTITY,
	F_PARENT_ENTITY,
	F_NAME,
	F_EXE,
	F_ARGS,
	F_CMDLINE,
	F_DST_IP,
	F_DST_PORT,
	F_FILE_NAME,
	F_ORIG_NAME,
	F_ENTROPY,
	F_TAGS,
	F_MEMFD,
	F_DELETED,
	F_N
};

const char *const BEHAVIOUR_FIELDS[] = {
    "event.action", "host.name", "process.entity_id", "process.parent.entity_id",
    "process.name", "process.executable", "process.args", "process.command_line",
    "destination.ip", "destination.port", "file.name", "file.Ext.original.name",
    "file.Ext.entropy", "tags", "process.Ext.memfd", "process.Ext.deleted_executable",
    /* not read here: the server's fleet prevalence keys use them */
    "process.parent.name", "process.parent.executable", "process.hash.sha256", NULL};

/* ---- bounded keyed state ---- */
#define BEACON_N 16
#define DISC_N 32
#define RANSOM_N 24 /* the largest rename and write thresholds (behaviour_new clamps them) */
#define RANSOM_EXT 16

/* The latest times (ms) of one kind of counting event of a process, a ring of RANSOM_N. */
struct burst {
	uint32_t t[RANSOM_N];
	uint32_t n;	/* counted; the ring index is n % RANSOM_N */
	uint32_t quiet; /* ms: no second alert of a burst before */
};

struct slot {
	struct slot *next;
	uint64_t hash;
	uint64_t last_ns;
	char key[200];
	union {
		struct {
			uint64_t t[BEACON_N];
			unsigned n;
			uint64_t quiet_until;
		} beacon;
		struct {
			uint64_t start;
			unsigned n;
			uint32_t cmd[DISC_N];
		} disc;
		struct {
			uint64_t base;	     /* ns; the times below are ms after it */
			uint32_t last;	     /* ms: the latest time in the rings (they never go back) */
			struct burst ren, wr; /* counting renames (to ext) and writes */
			char ext[RANSOM_EXT];
		} ransom;
	} u;
};

struct table {
	struct slot **buckets;
	unsigned nbuckets, count, max;
	struct slot *spare; /* slots forgotten by table_trim, reused before allocating */
};

#define RECON_CAP 64	 /* reconnaissance commands (RECON) */
#define RECON_MAX_LEN 15 /* bytes of the longest of their names */

struct behaviour {
	struct behaviour_opts o;
	pthread_mutex_t lock;
	struct table beacon, disc, ransom;
	const struct detect_fields *fields; /* cached ids for this table */
	uint32_t id[F_N];
	/* The reconnaissance commands by name length (recon_index): an exec's name is compared
	 * only with the names of its length. */
	uint8_t recon_order[RECON_CAP];
	uint8_t recon_from[RECON_MAX_LEN + 2];
};

static int table_init(struct table *t, unsigned max)
{
	t->nbuckets = 1024; /* grows with the keys (table_grow) */
	t->max = max;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	return t->buckets ? 0 : -ENOMEM;
}

static void table_release(struct table *t)
{
	for (unsigned i = 0; t->buckets && i < t->nbuckets; i++) {
		struct slot *s = t->buckets[i];
		while (s) {
			struct slot *n = s->next;
			free(s);
			s = n;
		}
	}
	for (struct slot *s = t->spare, *n; s; s = n) {
		n = s->next;
		free(s);
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

/* Full: forget the older half of the keys (by last sight) in one sweep, so the cost stays
 * constant per insertion instead of a search for the oldest key each time. */
static void table_trim(struct table *t)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	for (unsigned i = 0; i < t->nbuckets; i++)
		for (struct slot *s = t->buckets[i]; s; s = s->next) {
			lo = s->last_ns < lo ? s->last_ns : lo;
			hi = s->last_ns > hi ? s->last_ns : hi;
		}
	uint64_t cut = lo + (hi - lo) / 2;
	for (unsigned i = 0; i < t->nbuckets; i++)
		for (struct slot **p = &t->buckets[i]; *p;) {
			if ((*p)->last_ns <= cut) {
				struct slot *s = *p;
				*p = s->next;
				s->next = t->spare;
				t->spare = s;
				t->count--;
			} else {
				p = &(*p)->next;
			}
		}
}

/* Twice the buckets, once there are as many keys as buckets, so chains stay about one slot
 * long (a full table of 65,536 keys in the first 4,096 buckets walked 16 slots per event).
 * Out of memory: the table keeps working with longer chains. */
static int table_grow(struct table *t)
{
	unsigned n = t->nbuckets * 2;
	struct slot **nb = n > t->nbuckets ? calloc(n, sizeof(*nb)) : NULL;

	if (!nb)
		return -ENOMEM;
	for (unsigned i = 0; i < t->nbuckets; i++)
		for (struct slot *s = t->buckets[i], *next; s; s = next) {
			next = s->next;
			s->next = nb[s->hash % n];
			nb[s->hash % n] = s;
		}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
	return 0;
}

/* The slot for key, created when new; the older half is forgotten when the table is full. */
static struct slot *table_get(struct table *t, const char *key, size_t klen, uint64_t now)
{
	if (klen >= sizeof(((struct slot *)0)->key))
		klen = sizeof(((struct slot *)0)->key) - 1;
	uint64_t h = hash64_bytes(key, klen, 0);
	struct slot **b = &t->buckets[h % t->nbuckets];
	for (struct slot *s = *b; s; s = s->next)
		if (s->hash == h && strncmp(s->key, key, klen) == 0 && !s->key[klen]) {
			s->last_ns = now;
			return s;
		}
	if (t->count >= t->max)
		table_trim(t);
	else if (t->count >= t->nbuckets && table_grow(t) == 0)
		b = &t->buckets[h % t->nbuckets];
	struct slot *s = t->spare;
	if (s) {
		t->spare = s->next;
		memset(s, 0, sizeof(*s));
	} else if (!(s = calloc(1, sizeof(*s)))) {
		return NULL;
	}
	s->hash = h;
	memcpy(s->key, key, klen);
	s->last_ns = now;
	s->next = *b;
	*b = s;
	t->count++;
	return s;
}

void behaviour_opts_default(struct behaviour_opts *o)
{
	o->beacon_min_events = 8;
	o->beacon_max_jitter = 0.1;
	o->beacon_min_interval_s = 5;
	o->beacon_max_interval_s = 3600;
	o->discovery_window_s = 60;
	o->discovery_distinct = 10;
	o->ransom_window_s = 10;
	o->ransom_renames = 20;
	o->ransom_entropy_writes = 20;
	o->max_keys = 65536;
}

static void recon_index(struct behaviour *b);

/* A burst threshold the rings can check: 2..RANSOM_N. */
static unsigned clamp_burst(unsigned need)
{
	return need < 2 ? 2 : need > RANSOM_N ? RANSOM_N : need;
}

struct behaviour *behaviour_new(const struct behaviour_opts *o)
{
	struct behaviour *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	if (o)
		b->o = *o;
	else
		behaviour_opts_default(&b->o);
	if (b->o.beacon_min_events < 3 || b->o.beacon_min_events > BEACON_N)
		b->o.beacon_min_events = 8;
	if (b->o.discovery_distinct > DISC_N)
		b->o.discovery_distinct = DISC_N;
	b->o.ransom_renames = clamp_burst(b->o.ransom_renames);
	b->o.ransom_entropy_writes = clamp_burst(b->o.ransom_entropy_writes);
	pthread_mutex_init(&b->lock, NULL);
	recon_index(b);
	if (table_init(&b->beacon, b->o.max_keys) || table_init(&b->disc, b->o.max_keys) ||
	    table_init(&b->ransom, b->o.max_keys)) {
		behaviour_free(b);
		errno = ENOMEM;
		return NULL;
	}
	return b;
}

void behaviour_free(struct behaviour *b)
{
	if (!b)
		return;
	table_release(&b->beacon);
	table_release(&b->disc);
	table_release(&b->ransom);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* ---- helpers over the doc ---- */
static const struct detect_value *val(struct behaviour *b, struct detect_doc *doc, enum bf f)
{
	return b->id[f] == DETECT_FIELD_NONE ? NULL : detect_doc_first(doc, b->id[f]);
}

/* s is lower case (every caller passes a literal or a table entry): ASCII folding inline, as
 * strncasecmp would in the C locale, without a call for each of the dozens of names an exec is
 * compared with. */
static bool val_is_n(const struct detect_value *v, const char *s, size_t n)
{
	if (!v || v->len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v->str[i];
		if ((unsigned)(c - 'A') < 26u)
			c += 'a' - 'A';
		if (c != (unsigned char)s[i])
			return false;
	}
	return true;
}
/* Against a string literal: its length is known at compile time, so most values are told apart
 * by length alone (this runs for every event). */
#define val_is(v, lit) val_is_n((v), "" lit, sizeof(lit) - 1) /* "" lit: literals only */

static size_t key_of(char *out, size_t size, const struct detect_value *const *parts, size_t n)
{
	/* "a|b|c", each part up to its first NUL and at most 80 bytes; cut at size - 1. */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct detect_value *v = parts[i];
		size_t len = v ? strnlen(v->str, v->len > 80 ? 80 : v->len) : 0;
		if (k + (i ? 1 : 0) + len >= size) {
			size_t room = size - 1 - k;
			if (i && room) {
				out[k++] = '|';
				room--;
			}
			memcpy(out + k, v ? v->str : "", room < len ? room : len);
			out[size - 1] = '\0';
			return size - 1;
		}
		if (i)
			out[k++] = '|';
		if (len)
			memcpy(out + k, v->str, len);
		k += len;
	}
	out[k] = '\0';
	return k;
}

static int emit(detect_hit_fn fn, void *ctx, int rule, struct detect_doc *doc, uint64_t count,
		uint64_t first, uint64_t last, const char *group, int *hits)
{
	struct detect_hit h = {.rule = &RULES[rule], .doc = doc, .count = count,
			       .first_ns = first, .last_ns = last, .group = group};
	(*hits)++;
	return fn ? fn(ctx, &h) : 0;
}

static bool is_loopback(const struct detect_value *ip)
{
	return ip && ((ip->len >= 4 && memcmp(ip->str, "127.", 4) == 0) || val_is(ip, "::1") ||
		      (ip->len >= 11 && memcmp(ip->str, "::ffff:127.", 11) == 0));
}

/* The event's action, told once per event for every detection below. */
enum act { A_OTHER, A_EXEC, A_CONNECT, A_RENAME, A_MODIFY };

static enum act action_of(struct behaviour *b, struct detect_doc *doc)
{
	const struct detect_value *v = val(b, doc, F_ACTION);
	return val_is(v, "exec")		   ? A_EXEC
	       : val_is(v, "connection_attempted") ? A_CONNECT
	       : val_is(v, "rename")		   ? A_RENAME
	       : val_is(v, "modification")	   ? A_MODIFY
						   : A_OTHER;
}

/* ---- beaconing ---- */
static int beacon(struct behaviour *b, struct detect_doc *doc, enum act act, uint64_t now,
		  detect_hit_fn fn, void *ctx, int *hits)
{
	const struct detect_value *ip = val(b, doc, F_DST_IP);
	if (act != A_CONNECT || !ip || is_loopback(ip))
		return 0;
	const struct detect_value *parts[] = {val(b, doc, F_HOST), val(b, doc, F_EXE), ip,
					      val(b, doc, F_DST_PORT)};
	char key[200];
	size_t kl = key_of(key, sizeof(key), parts, 4);
	struct slot *s = table_get(&b->beacon, key, kl, now);
	if (!s)
		return 0;
	if (s->u.beacon.n && now <= s->u.beacon.t[(s->u.beacon.n - 1) % BEACON_N])
		return 0; /* out of order or same instant: not an interval */
	s->u.beacon.t[s->u.beacon.n % BEACON_N] = now;
	s->u.beacon.n++;
	unsigned n = s->u.beacon.n < BEACON_N ? s->u.beacon.n : BEACON_N;
	if (n < b->o.beacon_min_events || now < s->u.beacon.quiet_until)
		return 0;
	/* Intervals between the last n connections, in time order. */
	double sum = 0, sq = 0;
	unsigned k = 0;
	for (unsigned i = 1; i < n; i++) {
		uint64_t a = s->u.beacon.t[(s->u.beacon.n - n + i - 1) % BEACON_N];
		uint64_t c = s->u.beacon.t[(s->u.beacon.n - n + i) % BEACON_N];
		double d = (double)(c - a) / 1e9;
		sum += d;
		sq += d * d;
		k++;
	}
	double mean = sum / k, var = sq / k - mean * mean;
	double sd = var > 0 ? sqrt(var) : 0;
	if (mean < b->o.beacon_min_interval_s || mean > b->o.beacon_max_interval_s ||
	    sd / mean > b->o.beacon_max_jitter)
		return 0;
	/* One alert per endpoint per day of beaconing. */
	s->u.beacon.quiet_until = now + 86400ull * 1000000000ull;
	char group[256];
	snprintf(group, sizeof(group), "%s interval=%.1fs jitter=%.1f%%", key, mean,
		 100.0 * sd / mean);
	return emit(fn, ctx, R_BEACON, doc, n,
		    s->u.beacon.t[(s->u.beacon.n - n) % BEACON_N], now, group, hits);
}

/* ---- discovery bursts ---- */
/* What intruders run to learn a host; everyday inventory commands (df, free, uptime, mount)
 * are left out so an administrator's routine checks stay below the threshold. */
/* A name longer than RECON_MAX_LEN would not be found (recon_index): it does not compile. */
#define CMD(s) {s, sizeof(s) - 1 + 0 * sizeof(char[sizeof(s) - 1 <= RECON_MAX_LEN ? 1 : -1])}
static const struct {
	const char *name;
	size_t len; /* names are told apart by length first: this runs for every exec */
} RECON[] = {
    CMD("whoami"),  CMD("id"),	    CMD("uname"),     CMD("hostname"), CMD("hostnamectl"),
    CMD("ifconfig"), CMD("ip"),	    CMD("netstat"),   CMD("ss"),       CMD("ps"),
    CMD("w"),	    CMD("who"),	    CMD("last"),      CMD("lastlog"),  CMD("getent"),
    CMD("arp"),	    CMD("route"),   CMD("lsmod"),     CMD("lscpu"),    CMD("env"),
    CMD("printenv"), CMD("groups"), CMD("dmidecode"), CMD("lsof"),     CMD("nmap"),
    CMD("crontab"), CMD("sudo"),    CMD("find"),      CMD("cat"),      CMD("ls"),
    CMD("systemctl"), CMD("iptables"), CMD("getcap"), CMD("capsh"),    CMD("arp-scan"),
};
#undef CMD

#define RECON_N (sizeof(RECON) / sizeof(RECON[0]))
_Static_assert(RECON_N <= RECON_CAP, "RECON_CAP too small");

static void recon_index(struct behaviour *b)
{
	unsigned k = 0;
	for (unsigned len = 0; len <= RECON_MAX_LEN; len++) {
		b->recon_from[len] = (uint8_t)k;
		for (unsigned i = 0; i < RECON_N; i++)
			if (RECON[i].len == len)
				b->recon_order[k++] = (uint8_t)i;
	}
	b->recon_from[RECON_MAX_LEN + 1] = (uint8_t)k;
}

/* Index+1 of a recon command (by name; "cat", "ls", "find", "sudo", "ip", "systemctl" only with
 * arguments typical of reconnaissance), 0 otherwise. */
static unsigned recon_id(struct behaviour *b, struct detect_doc *doc)
{
	const struct detect_value *name = val(b, doc, F_NAME), *cmd = val(b, doc, F_CMDLINE);
	if (!name || name->len > RECON_MAX_LEN)
		return 0;
	for (unsigned j = b->recon_from[name->len]; j < b->recon_from[name->len + 1]; j++) {
		unsigned i = b->recon_order[j];
		if (!val_is_n(name, RECON[i].name, RECON[i].len))
			continue;
		const char *c = cmd ? cmd->str : "";
		size_t cl = cmd ? cmd->len : 0;
		if (!strcmp(RECON[i].name, "cat") &&
		    !(memmem(c, cl, "/etc/passwd", 11) || memmem(c, cl, "/etc/group", 10) ||
		      memmem(c, cl, "/etc/shadow", 11) || memmem(c, cl, "/proc/version", 13) ||
		      memmem(c, cl, "/etc/sudoers", 12)))
			return 0;
		if (!strcmp(RECON[i].name, "ls") &&
		    !(memmem(c, cl, "/home", 5) || memmem(c, cl, "/root", 5) ||
		      memmem(c, cl, ".ssh", 4) || memmem(c, cl, "/etc/cron", 9)))
			return 0;
		if (!strcmp(RECON[i].name, "find") && !memmem(c, cl, "-perm", 5))
			return 0;
		if (!strcmp(RECON[i].name, "sudo") && !memmem(c, cl, " -l", 3))
			return 0;
		if (!strcmp(RECON[i].name, "crontab") && !memmem(c, cl, " -l", 3))
			return 0;
		if (!strcmp(RECON[i].name, "systemctl") && !memmem(c, cl, "list-", 5) &&
		    !memmem(c, cl, "--type", 6))
			return 0;
		return (unsigned)i + 1;
	}
	return 0;
}

/* id: the event's recon_id, 0 unless it is the exec of a reconnaissance command. */
static int discovery(struct behaviour *b, struct detect_doc *doc, unsigned id, uint64_t now,
		     detect_hit_fn fn, void *ctx, int *hits)
{
	if (!id)
		return 0;
	const struct detect_value *parts[] = {val(b, doc, F_HOST), val(b, doc, F_PARENT_ENTITY)};
	if (!parts[1])
		return 0;
	char key[200];
	size_t kl = key_of(key, sizeof(key), parts, 2);
	struct slot *s = table_get(&b->disc, key, kl, now);
	if (!s)
		return 0;
	uint64_t win = (uint64_t)b->o.discovery_window_s * 1000000000ull;
	if (!s->u.disc.start || now - s->u.disc.start > win) {
		s->u.disc.start = now;
		s->u.disc.n = 0;
	}
	for (unsigned i = 0; i < s->u.disc.n; i++)
		if (s->u.disc.cmd[i] == id)
			return 0;
	if (s->u.disc.n < DISC_N)
		s->u.disc.cmd[s->u.disc.n++] = id;
	if (s->u.disc.n != b->o.discovery_distinct)
		return 0;
	char group[256];
	int k = snprintf(group, sizeof(group), "%s commands=", key);
	for (unsigned i = 0; i < s->u.disc.n && k > 0 && (size_t)k < sizeof(group); i++)
		k += snprintf(group + k, sizeof(group) - (size_t)k, "%s%s", i ? "," : "",
			      RECON[s->u.disc.cmd[i] - 1].name);
	return emit(fn, ctx, R_DISCOVERY, doc, s->u.disc.n, s->u.disc.start, now, group, hits);
}

/* ---- ransomware ---- */
static size_t ext_of(const struct detect_value *name, char *out, size_t size)
{
	out[0] = 0;
	if (!name)
		return 0;
	const char *dot = NULL;
	for (uint32_t i = 0; i < name->len; i++)
		if (name->str[i] == '.')
			dot = name->str + i;
	if (!dot || dot == name->str)
		return 0;
	size_t n = (size_t)(name->str + name->len - dot);
	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)((dot[i] >= 'A' && dot[i] <= 'Z') ? dot[i] | 0x20 : dot[i]);
	out[n] = 0;
	return n;
}

static bool is_common_ext(const char *ext)
{
	static const char *const COMMON[] = {
	    ".o",    ".so",   ".a",	".tmp", ".bak", ".old",	 ".new", ".orig", ".part",
	    ".swp",  ".lock", ".pyc", ".log", ".gz",  ".xz",	 ".zst", ".bz2",  ".tar",
	    ".json", ".txt",  ".conf", ".db", ".py",  ".c",	 ".h",	 ".js",	  ".html",
	    ".css",  ".map",  ".pack", ".idx", ".deb", ".rpm", ".jar", ".class", ".sqlite"};
	for (size_t i = 0; i < sizeof(COMMON) / sizeof(COMMON[0]); i++)
		if (!strcmp(ext, COMMON[i]))
			return true;
	return false;
}

/* Whether a rename or a write is one an encryptor makes: a rename to a new, uncommon extension
 * (in ext), or a write of high-entropy content. Decided before the process's window is looked
 * up, so the file activity of everyday processes costs no table lookup. */
static bool ransom_counts(struct behaviour *b, struct detect_doc *doc, bool rename,
			  char ext[RANSOM_EXT])
{
	if (rename) {
		char old[RANSOM_EXT];
		const struct detect_value *on = val(b, doc, F_ORIG_NAME), *nn = val(b, doc, F_FILE_NAME);
		ext_of(on, old, sizeof(old));
		if (!ext_of(nn, ext, RANSOM_EXT) || !strcmp(old, ext))
			return false;
		/* Encryptors append an extension (report.pdf -> report.pdf.locked) or swap in one
		 * of their own; tools swap temporary names for ordinary ones (x.tmp -> x.o). */
		bool appended = on && nn->len > on->len && memcmp(nn->str, on->str, on->len) == 0;
		return appended || !is_common_ext(ext);
	}
	const struct detect_value *e = val(b, doc, F_ENTROPY);
	if (!e)
		return false;
	char buf[32];
	size_t n = e->len < sizeof(buf) - 1 ? e->len : sizeof(buf) - 1;
	memcpy(buf, e->str, n);
	buf[n] = 0;
	return strtod(buf, NULL) >= 7.5;
}

/* Adds time t (ms) to the ring; true when its latest `need` times fall within win ms, which is
 * a burst whatever time it started at. */
static bool burst_add(struct burst *w, uint32_t t, uint32_t need, uint32_t win)
{
	w->t[w->n % RANSOM_N] = t;
	w->n++;
	return w->n >= need && t - w->t[(w->n - need) % RANSOM_N] <= win;
}

/* A sliding window per process: the latest counting renames (to one extension) and writes are
 * kept, and a detection fires when the threshold's worth of them fall within the window,
 * wherever the window starts. One alert per burst: another needs a full window later. */
static int ransom(struct behaviour *b, struct detect_doc *doc, enum act act, uint64_t now,
		  detect_hit_fn fn, void *ctx, int *hits)
{
	bool rename = act == A_RENAME, write = act == A_MODIFY;
	if (!rename && !write)
		return 0;
	const struct detect_value *parts[] = {val(b, doc, F_HOST), val(b, doc, F_ENTITY)};
	char new[RANSOM_EXT] = "";
	if (!parts[1] || !ransom_counts(b, doc, rename, new))
		return 0;
	char key[200];
	size_t kl = key_of(key, sizeof(key), parts, 2);
	struct slot *s = table_get(&b->ransom, key, kl, now);
	if (!s)
		return 0;
	const uint32_t win = b->o.ransom_window_s * 1000u;
	/* Times are ms after base; after about 24 days of one process its window starts over. An
	 * event older than the latest one counts at the latest one's time, so the rings stay in
	 * order and their differences never wrap. */
	if (!s->u.ransom.base ||
	    (now > s->u.ransom.base && (now - s->u.ransom.base) / 1000000u > INT32_MAX)) {
		memset(&s->u.ransom, 0, sizeof(s->u.ransom));
		s->u.ransom.base = now;
	}
	uint32_t t = now > s->u.ransom.base ? (uint32_t)((now - s->u.ransom.base) / 1000000u) : 0;
	if (t < s->u.ransom.last)
		t = s->u.ransom.last;
	s->u.ransom.last = t;
	if (rename && strcmp(new, s->u.ransom.ext)) {
		/* A new extension replaces the tracked one only while that has no burst going (at
		 * most one rename to it within the window). */
		const struct burst *r = &s->u.ransom.ren;
		if (r->n >= 2 && t - r->t[(r->n - 2) % RANSOM_N] <= win)
			return 0;
		memcpy(s->u.ransom.ext, new, sizeof(new));
		s->u.ransom.ren.n = 0;
	}
	struct burst *w = rename ? &s->u.ransom.ren : &s->u.ransom.wr;
	uint32_t need = rename ? b->o.ransom_renames : b->o.ransom_entropy_writes;
	if (!burst_add(w, t, need, win) || t < w->quiet)
		return 0;
	w->quiet = t + win;
	uint64_t first = s->u.ransom.base + (uint64_t)w->t[(w->n - need) % RANSOM_N] * 1000000u;
	if (rename) {
		char group[256];
		snprintf(group, sizeof(group), "%s extension=%s", key, s->u.ransom.ext);
		return emit(fn, ctx, R_RANSOM_RENAME, doc, need, first, now, group, hits);
	}
	return emit(fn, ctx, R_RANSOM_ENTROPY, doc, need, first, now, key, hits);
}

/* ---- single-event behaviour ---- */
static int single(struct behaviour *b, struct detect_doc *doc, enum act act, detect_hit_fn fn,
		  void *ctx, int *hits)
{
	if (act != A_EXEC)
		return 0;
	int rc = 0;
	for (const struct detect_value *t = val(b, doc, F_TAGS); t; t = detect_doc_next(doc, t))
		if (val_is(t, "stdio-socket")) {
			rc = emit(fn, ctx, R_REVSHELL, doc, 1, doc->time_ns, doc->time_ns, NULL, hits);
			break;
		}
	if (rc)
		return rc;
	const struct detect_value *exe = val(b, doc, F_EXE);
	bool fileless = val_is(val(b, doc, F_MEMFD), "true") ||
			val_is(val(b, doc, F_DELETED), "true") ||
			(exe && exe->len >= 7 && memcmp(exe->str, "/memfd:", 7) == 0) ||
			(exe && exe->len >= 10 &&
			 memcmp(exe->str + exe->len - 10, " (deleted)", 10) == 0);
	if (!fileless)
		return 0;
	/* Container runtimes re-execute themselves from a sealed memfd (CVE-2019-5736 fix). */
	if (exe && (memmem(exe->str, exe->len, "runc", 4) || memmem(exe->str, exe->len, "crun", 4)))
		return 0;
	return emit(fn, ctx, R_FILELESS, doc, 1, doc->time_ns, doc->time_ns, NULL, hits);
}

int behaviour_match(struct behaviour *b, struct detect_doc *doc, detect_hit_fn fn, void *ctx,
		    int *hitsp)
{
	int hits = 0, rc = 0;
	/* The field ids are looked up once per field table; scanning threads share b and take its
	 * lock only for events that touch the shared windows (most do not). */
	if (__atomic_load_n(&b->fields, __ATOMIC_ACQUIRE) != doc->fields) {
		pthread_mutex_lock(&b->lock);
		if (b->fields != doc->fields) {
			for (int i = 0; i < F_N; i++)
				b->id[i] = detect_fields_find(doc->fields, BEHAVIOUR_FIELDS[i],
							      strlen(BEHAVIOUR_FIELDS[i]));
			__atomic_store_n(&b->fields, doc->fields, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&b->lock);
	}
	uint64_t now = doc->time_ns;
	if (!now)
		return 0; /* windows need event time */
	const enum act act = action_of(b, doc);
	unsigned recon = act == A_EXEC ? recon_id(b, doc) : 0;
	bool windows = recon || act == A_CONNECT || act == A_RENAME || act == A_MODIFY;
	rc = single(b, doc, act, fn, ctx, &hits);
	if (!rc && windows) {
		pthread_mutex_lock(&b->lock);
		if (!(rc = beacon(b, doc, act, now, fn, ctx, &hits)) &&
		    !(rc = discovery(b, doc, recon, now, fn, ctx, &hits)))
			rc = ransom(b, doc, act, now, fn, ctx, &hits);
		pthread_mutex_unlock(&b->lock);
	}
	*hitsp += hits;
	return rc;
}
