/* mamori-server: the central server (agent endpoint, ingest, storage, REST API). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

#include "banned.h"

#define MAX_NAMES 16

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: mamori-server [--version] [--help] [options]\n"
	    "\n"
	    "The Mamori server: agent endpoint (mutual TLS), REST API under /api/v1.\n"
	    "\n"
	    "options:\n"
	    "  -d, --data DIR           data directory: CA, certificates, credentials, SQLite\n"
	    "                           database (default /var/lib/mamori-server)\n"
	    "  -L, --listen HOST:PORT   HTTPS address (default 127.0.0.1:8443)\n"
	    "  -S, --store URI          sqlite:PATH (default sqlite:DIR/mamori.db) or\n"
	    "                           postgresql://user@host:port/db\n"
	    "  -n, --name NAME          extra DNS name or IP for the server certificate\n"
	    "                           (repeatable)\n"
	    "  -t, --ingest-threads N   ingest worker threads (default 2)\n"
	    "  -r, --retention-days N   delete events older than N days (default 0: keep)\n"
	    "  -T, --heartbeat-timeout S  seconds without heartbeat before offline (default 30)\n"
	    "  -R, --rules PATH         Sigma rule file or directory to evaluate every event\n"
	    "                           against (repeatable; reloaded on SIGHUP)\n"
	    "  -I, --iocs PATH          indicator list file or directory (repeatable)\n"
	    "      --learning-hours N   fleet prevalence baseline: binaries and parent->child\n"
	    "                           pairs first seen later raise alerts (default 24)\n"
	    "      --command-ttl S      commands for offline hosts expire after S seconds\n"
	    "                           (default 3600)\n"
	    "      --notify-retry-base S  first retry of a failed notification after S\n"
	    "                           seconds, doubled each time up to 1 h (default 30)\n"
	    "  -l, --log-level LEVEL    debug, info, warn or error\n");
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v > max || s[0] == '-')
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"listen", required_argument, NULL, 'L'},
	    {"store", required_argument, NULL, 'S'},
	    {"name", required_argument, NULL, 'n'},
	    {"ingest-threads", required_argument, NULL, 't'},
	    {"retention-days", required_argument, NULL, 'r'},
	    {"heartbeat-timeout", required_argument, NULL, 'T'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"rules", required_argument, NULL, 'R'},
	    {"iocs", required_argument, NULL, 'I'},
	    {"learning-hours", required_argument, NULL, 'E'},
	    {"command-ttl", required_argument, NULL, 'C'},
	    {"notify-retry-base", required_argument, NULL, 'N'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *names[MAX_NAMES], *rules[MAX_NAMES], *iocs[MAX_NAMES];
	struct server_opts o = {.data_dir = "/var/lib/mamori-server",
				.listen = "127.0.0.1:8443",
				.names = names,
				.rule_paths = rules,
				.ioc_paths = iocs};
	struct server *s;
	char err[1024];
	int c, rc;

	if (argc >= 2 && !strcmp(argv[1], "serve")) {
		argv++;
		argc--;
	}
	while ((c = getopt_long(argc, argv, "d:L:S:n:t:r:T:l:R:I:E:C:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.data_dir = optarg;
			break;
		case 'L':
			o.listen = optarg;
			break;
		case 'S':
			o.store = optarg;
			break;
		case 'n':
			if (o.n_names == MAX_NAMES) {
				fprintf(stderr, "mamori-server: at most %d --name\n", MAX_NAMES);
				return 2;
			}
			names[o.n_names++] = optarg;
			break;
		case 'R':
		case 'I': {
			size_t *n = c == 'R' ? &o.n_rule_paths : &o.n_ioc_paths;

			if (*n == MAX_NAMES) {
				fprintf(stderr, "mamori-server: at most %d --%s\n", MAX_NAMES,
					c == 'R' ? "rules" : "iocs");
				return 2;
			}
			(c == 'R' ? rules : iocs)[(*n)++] = optarg;
			break;
		}
		case 'C':
			if (parse_uint(optarg, 30 * 86400, &o.command_ttl_s) || !o.command_ttl_s) {
				fprintf(stderr,
					"mamori-server: --command-ttl: 1-2592000 seconds\n");
				return 2;
			}
			break;
		case 'N':
			if (parse_uint(optarg, 3600, &o.notify_retry_base_s) ||
			    !o.notify_retry_base_s) {
				fprintf(stderr,
					"mamori-server: --notify-retry-base: 1-3600 seconds\n");
				return 2;
			}
			break;
		case 'E':
			if (parse_uint(optarg, 24 * 365, &o.learning_hours)) {
				fprintf(stderr, "mamori-server: --learning-hours: 0-8760\n");
				return 2;
			}
			o.learning_set = true;
			break;
		case 't':
			if (parse_uint(optarg, 16, &o.ingest_threads) || !o.ingest_threads) {
				fprintf(stderr, "mamori-server: --ingest-threads: 1-16\n");
				return 2;
			}
			break;
		case 'r':
			if (parse_uint(optarg, 36500, &o.retention_days)) {
				fprintf(stderr, "mamori-server: --retention-days: 0-36500\n");
				return 2;
			}
			break;
		case 'T':
			if (parse_uint(optarg, 86400, &o.heartbeat_timeout_s) ||
			    !o.heartbeat_timeout_s) {
				fprintf(stderr, "mamori-server: --heartbeat-timeout: 1-86400\n");
				return 2;
			}
			break;
		case 'l': {
			enum log_level lv;

			if (log_level_parse(optarg, &lv)) {
				fprintf(stderr, "mamori-server: unknown log level %s\n", optarg);
				return 2;
			}
			log_set_level(lv);
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mamori-server %s\n", MAMORI_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mamori-server: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	s = server_new(&o, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "mamori-server: %s\n", err);
		return 1;
	}
	rc = server_run(s);
	server_free(s);
	return rc ? 1 : 0;
}
