#include "respond_isolate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <nftables/libnftables.h>

#include "atomic_file.h"
#include "dynbuf.h"
#include "file_read.h"
#include "isolate_rules.h"
#include "log.h"

#include "banned.h"

#define ISO_LOG "isolate"
#define STATE_FILE "isolation.json"
#define NAME_MAX_LEN 253

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool active;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(json_t **result, int rc, const char *msg)
{
	*result = json_pack("{s:s}", "error", msg);
	return rc;
}

/* Runs an nft script; 0, or -EIO with nft's own message in err. */
static int nft_run(const char *script, char *err, size_t errlen)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int rc;

	if (!nft) {
		snprintf(err, errlen, "libnftables: out of memory");
		return -ENOMEM;
	}
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	rc = nft_run_cmd_from_buffer(nft, script);
	if (rc) {
		const char *e = nft_ctx_get_error_buffer(nft);
		size_t n;

		snprintf(err, errlen, "nftables: %s", e && *e ? e : "command failed");
		n = strlen(err);
		while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = 0;
	}
	nft_ctx_free(nft);
	return rc ? -EIO : 0;
}

static int table_delete(char *err, size_t errlen)
{
	return nft_run("add table inet " ISOLATE_TABLE "\ndelete table inet " ISOLATE_TABLE "\n",
		       err, errlen);
}

static bool table_exists(void)
{
	char err[256];

	return nft_run("list table inet " ISOLATE_TABLE "\n", err, sizeof(err)) == 0;
}

static int apply(const struct isolate_spec *sp, char *err, size_t errlen)
{
	struct dynbuf b;
	int rc;

	dynbuf_init(&b, 256 * 1024);
	rc = isolate_rules_build(sp, &b);
	if (rc)
		snprintf(err, errlen, "cannot build the ruleset: %s", strerror(-rc));
	else
		rc = nft_run(b.data, err, errlen);
	dynbuf_release(&b);
	return rc;
}

static void state_path(const struct respond_isolate_ctx *c, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", c->state_dir, STATE_FILE);
}

/* The saved spec; -ENOENT when the host is not isolated. */
static int state_load(const struct respond_isolate_ctx *c, struct isolate_spec *sp, char *err,
		      size_t errlen)
{
	char path[1100];
	json_t *j;
	json_error_t je;
	int rc;

	state_path(c, path, sizeof(path));
	if (access(path, F_OK) != 0)
		return -errno;
	j = json_load_file(path, 0, &je);
	if (!j) {
		snprintf(err, errlen, "%.300s: %s", path, je.text);
		return -EINVAL;
	}
	rc = isolate_spec_from_json(json_object_get(j, "spec"), sp, err, errlen);
	json_decref(j);
	return rc;
}

static int state_save(const struct respond_isolate_ctx *c, const struct isolate_spec *sp)
{
	char path[1100], *text;
	json_t *j =
	    json_pack("{s:o,s:I}", "spec", isolate_spec_to_json(sp), "since", (json_int_t)now_ms());
	int rc;

	state_path(c, path, sizeof(path));
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return -ENOMEM;
	rc = atomic_file_write(path, text, strlen(text), 0600);
	free(text);
	return rc;
}

static bool is_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > NAME_MAX_LEN || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

/* Every address of a name (or a literal) into list. 0 or a negative errno. */
static int resolve_into(const char *name, struct isolate_addr *list, size_t *n)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	int rc = -ENOENT;

	if (getaddrinfo(name, NULL, &hints, &res))
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		char ip[INET6_ADDRSTRLEN];
		struct isolate_addr a;
		const void *bin =
		    ai->ai_family == AF_INET
			? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
			: (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    !inet_ntop(ai->ai_family, bin, ip, sizeof(ip)) ||
		    isolate_addr_parse(ip, false, &a))
			continue;
		rc = isolate_addr_add(list, n, &a);
		if (rc)
			break;
	}
	freeaddrinfo(res);
	return rc;
}

/* The nameservers of resolv.conf that are IP literals. */
static void resolvers_into(const char *path, struct isolate_spec *sp)
{
	struct dynbuf b;
	char *line, *save = NULL;

	dynbuf_init(&b, 64 * 1024);
	if (!path || file_read(path, 64 * 1024, &b) || !b.data) {
		dynbuf_release(&b);
		return;
	}
	for (line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char ip[64];
		struct isolate_addr a;

		if (sscanf(line, " nameserver %63s", ip) == 1 && !isolate_addr_parse(ip, false, &a))
			isolate_addr_add(sp->dns, &sp->ndns, &a);
	}
	dynbuf_release(&b);
}

/* Host and port of the server URL; *numeric when the host is an address. */
static int url_host(const char *url, char *host, size_t hostlen, uint16_t *port, bool *numeric)
{
	CURLU *u = curl_url();
	char *h = NULL, *p = NULL;
	struct isolate_addr a;
	int rc = -EINVAL;

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		size_t n = strlen(h);
		unsigned long v = strtoul(p, NULL, 10);

		/* IPv6 literals come back in brackets. */
		if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
			memmove(h, h + 1, n - 2);
			h[n - 2] = 0;
		}
		if (strlen(h) < hostlen && v > 0 && v < 65536) {
			memcpy(host, h, strlen(h) + 1);
			*port = (uint16_t)v;
			*numeric = isolate_addr_parse(h, false, &a) == 0;
			rc = 0;
		}
	}
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}

/* Builds the spec from the command's arguments and the server URL. */
static int spec_build(const struct respond_isolate_ctx *c, json_t *args, struct isolate_spec *sp,
		      json_t *names, char *err, size_t errlen)
{
	json_t *servers = json_object_get(args, "servers"), *allow = json_object_get(args, "allow");
	json_t *dns = json_object_get(args, "dns"), *v;
	char host[300];
	bool numeric = false;
	size_t i;
	int rc;

	memset(sp, 0, sizeof(*sp));
	if (!c->server_url ||
	    url_host(c->server_url, host, sizeof(host), &sp->server_port, &numeric)) {
		snprintf(err, errlen, "the agent's server URL cannot be parsed");
		return -EINVAL;
	}
	if ((servers && !json_is_array(servers)) || (allow && !json_is_array(allow)) ||
	    (dns && !json_is_array(dns))) {
		snprintf(err, errlen, "args: servers, allow and dns are lists");
		return -EINVAL;
	}
	json_array_foreach(servers, i, v)
	{
		struct isolate_addr a;

		if (!json_is_string(v) || isolate_addr_parse(json_string_value(v), false, &a) ||
		    isolate_addr_add(sp->servers, &sp->nservers, &a)) {
			snprintf(err, errlen, "servers[%zu]: not an IP address (or too many)", i);
			return -EINVAL;
		}
	}
	if (!sp->nservers) {
		rc = resolve_into(host, sp->servers, &sp->nservers);
		if (rc) {
			snprintf(err, errlen, "cannot resolve the server %s: %s", host,
				 strerror(-rc));
			return rc;
		}
	}
	json_array_foreach(dns, i, v)
	{
		struct isolate_addr a;

		if (!json_is_string(v) || isolate_addr_parse(json_string_value(v), false, &a) ||
		    isolate_addr_add(sp->dns, &sp->ndns, &a)) {
			snprintf(err, errlen, "dns[%zu]: not an IP address (or too many)", i);
			return -EINVAL;
		}
	}
	/* A server known by name needs DNS when the uplink reconnects. */
	if (!numeric && !sp->ndns)
		resolvers_into(c->resolv_conf, sp);
	json_array_foreach(allow, i, v)
	{
		const char *s = json_string_value(v);
		struct isolate_addr a;

		if (s && !isolate_addr_parse(s, true, &a)) {
			rc = isolate_addr_add(sp->allow, &sp->nallow, &a);
		} else if (s && is_name(s)) {
			/* Names are resolved now: the rules hold addresses. */
			size_t before = sp->nallow;

			rc = resolve_into(s, sp->allow, &sp->nallow);
			if (!rc) {
				json_t *addrs = json_array();

				for (size_t k = before; k < sp->nallow; k++)
					json_array_append_new(addrs,
							      json_string(sp->allow[k].text));
				json_object_set_new(names, s, addrs);
			}
		} else {
			snprintf(err, errlen, "allow[%zu]: not an IP address, network or name", i);
			return -EINVAL;
		}
		if (rc) {
			snprintf(err, errlen, "allow[%zu] %s: %s", i, s,
				 rc == -E2BIG ? "too many addresses" : "cannot be resolved");
			return -EINVAL;
		}
	}
	return 0;
}

int respond_isolate(const struct respond_isolate_ctx *c, json_t *args, json_t **result)
{
	struct isolate_spec *sp = calloc(1, sizeof(*sp)), *prev = calloc(1, sizeof(*prev));
	json_t *names = json_object(), *st = json_object_get(args, "selftest");
	char err[1024], terr[512];
	int64_t t0, t_applied, t_tested = 0;
	bool had_prev;
	int rc;

	*result = NULL;
	if (!sp || !prev || !names) {
		rc = fail(result, -ENOMEM, "out of memory");
		goto out;
	}
	if (st && !json_is_boolean(st)) {
		rc = fail(result, -EINVAL, "args: selftest is a boolean");
		goto out;
	}
	rc = spec_build(c, args, sp, names, err, sizeof(err));
	if (rc) {
		rc = fail(result, rc, err);
		goto out;
	}
	pthread_mutex_lock(&lock);
	had_prev = state_load(c, prev, terr, sizeof(terr)) == 0;
	t0 = mono_ms();
	rc = apply(sp, err, sizeof(err));
	t_applied = mono_ms();
	if (rc) {
		pthread_mutex_unlock(&lock);
		rc = fail(result, rc, err);
		goto out;
	}
	if (c->selftest && !json_is_false(st)) {
		rc = c->selftest(c->selftest_ctx, terr, sizeof(terr));
		t_tested = mono_ms();
		if (rc) {
			/* Back to how the host was: isolated as before, or not at all. */
			int rrc = had_prev ? apply(prev, err, sizeof(err))
					   : table_delete(err, sizeof(err));

			pthread_mutex_unlock(&lock);
			log_warn(ISO_LOG, "self-test failed, isolation reverted err=%s", terr);
			if (rrc)
				log_error(ISO_LOG, "revert failed err=%s", err);
			snprintf(err, sizeof(err),
				 "self-test failed: the server is not reachable through the "
				 "isolation rules (%s); %s",
				 terr,
				 rrc ? "REVERT FAILED, the host may be cut off"
				     : (had_prev ? "the previous isolation was restored"
						 : "isolation reverted"));
			rc = fail(result, -EHOSTUNREACH, err);
			/* What the host enforces now, so the server holds the same. */
			json_object_set_new(*result, "isolated", json_boolean(had_prev && !rrc));
			if (had_prev && !rrc)
				json_object_set_new(*result, "spec", isolate_spec_to_json(prev));
			goto out;
		}
	}
	rc = state_save(c, sp);
	if (rc)
		log_warn(ISO_LOG,
			 "cannot save the isolation state err=%s: it will not survive "
			 "a restart",
			 strerror(-rc));
	atomic_store(&active, true);
	pthread_mutex_unlock(&lock);
	log_info(ISO_LOG, "host isolated servers=%zu allow=%zu dns=%zu apply_ms=%lld", sp->nservers,
		 sp->nallow, sp->ndns, (long long)(t_applied - t0));
	*result = isolate_spec_to_json(sp);
	json_object_set_new(*result, "isolated", json_true());
	json_object_set_new(*result, "apply_ms", json_integer(t_applied - t0));
	if (t_tested)
		json_object_set_new(*result, "selftest_ms", json_integer(t_tested - t_applied));
	json_object_set_new(*result, "resolved", names);
	names = NULL;
	rc = 0;
out:
	json_decref(names);
	free(sp);
	free(prev);
	return rc;
}

int respond_release(const struct respond_isolate_ctx *c, json_t **result)
{
	char path[1100], err[1024];
	bool was;
	int rc;

	pthread_mutex_lock(&lock);
	was = table_exists();
	rc = table_delete(err, sizeof(err));
	if (!rc) {
		state_path(c, path, sizeof(path));
		if (unlink(path) && errno != ENOENT)
			log_warn(ISO_LOG, "cannot remove %s err=%s", path, strerror(errno));
		atomic_store(&active, false);
	}
	pthread_mutex_unlock(&lock);
	if (rc)
		return fail(result, rc, err);
	log_info(ISO_LOG, "isolation released was_isolated=%d", was);
	*result = json_pack("{s:b,s:b}", "isolated", 0, "was_isolated", was);
	return 0;
}

int respond_isolate_resume(const struct respond_isolate_ctx *c)
{
	struct isolate_spec *sp = calloc(1, sizeof(*sp));
	char err[1024];
	int rc;

	if (!sp)
		return -ENOMEM;
	pthread_mutex_lock(&lock);
	rc = state_load(c, sp, err, sizeof(err));
	if (rc == -ENOENT) {
		rc = 0;
	} else if (rc) {
		log_error(ISO_LOG, "saved isolation unreadable, not applied err=%s", err);
	} else {
		rc = apply(sp, err, sizeof(err));
		if (rc) {
			log_error(ISO_LOG, "cannot re-apply the saved isolation err=%s", err);
		} else {
			atomic_store(&active, true);
			log_info(ISO_LOG, "host isolated again from the saved state servers=%zu",
				 sp->nservers);
		}
	}
	pthread_mutex_unlock(&lock);
	free(sp);
	return rc;
}

int respond_isolate_check(const struct respond_isolate_ctx *c)
{
	struct isolate_spec *sp;
	char err[1024];
	int rc = 0;

	if (!atomic_load(&active))
		return 0;
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	pthread_mutex_lock(&lock);
	if (atomic_load(&active) && !table_exists() && state_load(c, sp, err, sizeof(err)) == 0) {
		rc = apply(sp, err, sizeof(err));
		if (rc)
			log_error(ISO_LOG, "isolation table gone and cannot be re-applied err=%s",
				  err);
		else
			log_warn(ISO_LOG,
				 "isolation table was removed by someone else: re-applied");
		rc = rc ? rc : 1;
	}
	pthread_mutex_unlock(&lock);
	free(sp);
	return rc;
}

bool respond_isolate_active(void)
{
	return atomic_load(&active);
}
