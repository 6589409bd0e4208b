#include "yara_scan.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yara.h>

#include "sigma_int.h"

struct yara_rules {
	YR_COMPILER *compiler;
	YR_RULES *rules;
	struct arena arena;
	struct detect_rule_meta *metas; /* by rule index */
	size_t nrules, failed_files;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void yr_init(void)
{
	init_rc = yr_initialize();
}

struct yara_rules *yara_rules_new(void)
{
	pthread_once(&init_once, yr_init);
	if (init_rc != ERROR_SUCCESS) {
		errno = ENOMEM;
		return NULL;
	}
	struct yara_rules *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	arena_init(&r->arena);
	if (yr_compiler_create(&r->compiler) != ERROR_SUCCESS) {
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	return r;
}

void yara_rules_free(struct yara_rules *r)
{
	if (!r)
		return;
	if (r->compiler)
		yr_compiler_destroy(r->compiler);
	if (r->rules)
		yr_rules_destroy(r->rules);
	arena_release(&r->arena);
	free(r);
}

struct compile_diag {
	detect_diag_fn fn;
	void *ctx;
	const char *path;
	int errors;
};

static void on_compile(int level, const char *file, int line, const YR_RULE *rule,
		       const char *message, void *user)
{
	struct compile_diag *d = user;
	(void)file;
	if (level == YARA_ERROR_LEVEL_ERROR)
		d->errors++;
	if (!d->fn)
		return;
	struct detect_diag dd = {.path = d->path, .line = (unsigned)(line > 0 ? line : 0),
				 .rule = rule ? rule->identifier : NULL, .message = message,
				 .fatal = level == YARA_ERROR_LEVEL_ERROR};
	d->fn(d->ctx, &dd);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

int yara_rules_add(struct yara_rules *r, const char *path, const char *text, size_t len,
		   detect_diag_fn diag, void *diag_ctx)
{
	if (r->rules)
		return -EBUSY;
	char *src = malloc(len + 1);
	if (!src)
		return -ENOMEM;
	memcpy(src, text, len);
	src[len] = 0;
	/* A failed add poisons a libyara compiler: try the file alone first. */
	YR_COMPILER *probe;
	struct compile_diag d = {.fn = diag, .ctx = diag_ctx, .path = path};
	if (yr_compiler_create(&probe) != ERROR_SUCCESS) {
		free(src);
		return -ENOMEM;
	}
	yr_compiler_set_callback(probe, on_compile, &d);
	int errs = yr_compiler_add_string(probe, src, base_name(path));
	yr_compiler_destroy(probe);
	if (errs || d.errors) {
		r->failed_files++;
		free(src);
		return -EINVAL;
	}
	struct compile_diag quiet = {.path = path};
	yr_compiler_set_callback(r->compiler, on_compile, &quiet);
	errs = yr_compiler_add_string(r->compiler, src, base_name(path));
	free(src);
	if (errs) {
		/* Same text compiled alone: only a clash with an earlier file (duplicate rule
		 * names in one namespace) gets here, and the compiler is now unusable. */
		r->failed_files++;
		return -EINVAL;
	}
	return 0;
}

static enum detect_severity sev_of(int64_t v)
{
	return v >= 90 ? DETECT_SEV_CRITICAL : v >= 70 ? DETECT_SEV_HIGH : v >= 40 ? DETECT_SEV_MEDIUM
	       : v >= 10 ? DETECT_SEV_LOW : DETECT_SEV_INFORMATIONAL;
}

/* Family from an Elastic-style threat name "Linux.Ransomware.Agenda". */
static void family(const char *threat, const char **tactic, const char **technique)
{
	static const struct {
		const char *fam, *tactic, *technique;
	} MAP[] = {
	    {"Ransomware", "Impact", "T1486"},	    {"Cryptominer", "Impact", "T1496"},
	    {"Rootkit", "Defense Evasion", "T1014"}, {"Exploit", "Privilege Escalation", "T1068"},
	    {"Webshell", "Persistence", "T1505.003"}, {"Shellcode", "Defense Evasion", "T1055"},
	    {"Proxy", "Command and Control", "T1090"}, {"Packer", "Defense Evasion", "T1027.002"},
	    {"Downloader", "Command and Control", "T1105"}, {"Backdoor", "Persistence", "T1543"},
	    {"Hacktool", "Execution", "T1059"},
	};
	*tactic = "Execution";
	*technique = "T1204.002";
	for (size_t i = 0; threat && i < sizeof(MAP) / sizeof(MAP[0]); i++)
		if (strstr(threat, MAP[i].fam)) {
			*tactic = MAP[i].tactic;
			*technique = MAP[i].technique;
			return;
		}
}

int yara_rules_finish(struct yara_rules *r)
{
	if (r->rules)
		return -EBUSY;
	if (yr_compiler_get_rules(r->compiler, &r->rules) != ERROR_SUCCESS)
		return -ENOMEM;
	yr_compiler_destroy(r->compiler);
	r->compiler = NULL;
	YR_RULE *rule;
	size_t n = 0;
	yr_rules_foreach(r->rules, rule) n++;
	r->nrules = n;
	r->metas = arena_alloc(&r->arena, (n ? n : 1) * sizeof(*r->metas));
	if (!r->metas)
		return -ENOMEM;
	size_t i = 0;
	yr_rules_foreach(r->rules, rule)
	{
		struct detect_rule_meta *m = &r->metas[i++];
		const char *desc = NULL, *threat = NULL, *tech = NULL;
		int64_t sev = 75;
		YR_META *meta;
		yr_rule_metas_foreach(rule, meta)
		{
			if (!strcmp(meta->identifier, "description") && meta->type == META_TYPE_STRING)
				desc = meta->string;
			else if (!strcmp(meta->identifier, "threat_name") &&
				 meta->type == META_TYPE_STRING)
				threat = meta->string;
			else if ((!strcmp(meta->identifier, "mitre_attack") ||
				  !strcmp(meta->identifier, "technique")) &&
				 meta->type == META_TYPE_STRING)
				tech = meta->string;
			else if (!strcmp(meta->identifier, "severity") &&
				 meta->type == META_TYPE_INTEGER)
				sev = meta->integer;
		}
		const char *tactic, *ftech;
		family(threat, &tactic, &ftech);
		char buf[512];
		snprintf(buf, sizeof(buf), "yara:%s:%s", rule->ns->name, rule->identifier);
		m->id = arena_strndup(&r->arena, buf, strlen(buf));
		snprintf(buf, sizeof(buf), "YARA %s%s%s", threat ? threat : rule->identifier,
			 desc ? ": " : "", desc ? desc : "");
		m->title = arena_strndup(&r->arena, buf, strlen(buf));
		m->description = desc;
		m->path = rule->ns->name;
		m->status = "stable";
		m->kind = "yara";
		m->severity = sev_of(sev);
		static const int RISK[] = {10, 21, 47, 73, 99};
		m->risk_score = RISK[m->severity];
		m->advice = "A file matching a malware signature ran or was written. Quarantine the "
			    "file, kill its processes, isolate the host and find how it arrived "
			    "(process tree, downloads).";
		const char **tac = arena_alloc(&r->arena, sizeof(*tac));
		const char **tec = arena_alloc(&r->arena, sizeof(*tec));
		if (!m->id || !m->title || !tac || !tec)
			return -ENOMEM;
		tac[0] = tactic;
		tec[0] = tech ? tech : ftech;
		m->tactics = tac;
		m->ntactics = 1;
		m->techniques = tec;
		m->ntechniques = 1;
		m->generate = true;
	}
	return 0;
}

size_t yara_rules_count(const struct yara_rules *r)
{
	return r->nrules;
}

size_t yara_rules_failed_files(const struct yara_rules *r)
{
	return r->failed_files;
}

struct scan_ctx {
	const struct yara_rules *r;
	yara_hit_fn fn;
	void *ctx;
	int hits;
	int stop;
};

static int on_scan(YR_SCAN_CONTEXT *sc, int message, void *data, void *user)
{
	(void)sc;
	struct scan_ctx *s = user;
	if (message != CALLBACK_MSG_RULE_MATCHING)
		return CALLBACK_CONTINUE;
	YR_RULE *rule = data;
	size_t idx = (size_t)(rule - s->r->rules->rules_table);
	if (idx >= s->r->nrules)
		return CALLBACK_CONTINUE;
	s->hits++;
	if (s->fn && (s->stop = s->fn(s->ctx, &s->r->metas[idx])))
		return CALLBACK_ABORT;
	return CALLBACK_CONTINUE;
}

int yara_rules_scan(const struct yara_rules *r, const void *buf, size_t len, int timeout_s,
		    yara_hit_fn fn, void *ctx)
{
	if (!r->rules)
		return -EINVAL;
	struct scan_ctx s = {.r = r, .fn = fn, .ctx = ctx};
	int rc = yr_rules_scan_mem(r->rules, buf, len, SCAN_FLAGS_FAST_MODE, on_scan, &s,
				   timeout_s);
	if (rc == ERROR_SCAN_TIMEOUT)
		return -ETIMEDOUT;
	if (rc != ERROR_SUCCESS && rc != ERROR_CALLBACK_ERROR)
		return -ENOMEM;
	return s.hits;
}
