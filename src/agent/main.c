/* mamori-agent: the endpoint sensor. Subcommands: capture (standalone, ECS JSON lines on stdout)
 * and check-config. Enrollment and the server uplink come with the pipeline. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent_commands.h"
#include "agent_config.h"
#include "agent_identity.h"
#include "agent_policy.h"
#include "agent_run.h"
#include "enroll.h"
#include "log.h"
#include "output.h"
#include "spool.h"
#include "uplink.h"

#include "banned.h"

#define DEFAULT_CONFIG "/etc/mamori/agent.yml"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: mamori-agent [--version] [--help] <command> [options]\n"
	    "\n"
	    "commands:\n"
	    "  enroll URL TOKEN  enroll with a server (token from `mamori tokens create`)\n"
	    "  run            capture and send events to the server (durable spool)\n"
	    "  capture        print ECS JSON events to stdout, without a server\n"
	    "  check-config   validate a configuration file and exit\n"
	    "\n"
	    "capture options:\n"
	    "  -c, --config FILE      configuration (default " DEFAULT_CONFIG " if present)\n"
	    "  -s, --seconds N        stop after N seconds (default: until SIGINT/SIGTERM)\n"
	    "  -r, --replay FILE      read ECS JSON lines from FILE ('-' for stdin) instead\n"
	    "                         of the kernel (no root or BPF needed)\n"
	    "  -l, --log-level LEVEL  debug, info, warn or error (logs go to stderr)\n"
	    "  -H, --host-name NAME   override host.name\n"
	    "  -R, --rules PATH       Sigma rules to evaluate locally (repeatable; adds to\n"
	    "                         detect.rules): alerts go out with the events\n"
	    "  -I, --iocs PATH        indicator lists to match locally (repeatable)\n"
	    "  -Y, --yara PATH        YARA rules for executed and written executables\n"
	    "                         (repeatable; adds to detect.yara)\n"
	    "\n"
	    "run takes the capture options plus:\n"
	    "  -S, --state DIR        enrollment identity and spool (default /var/lib/mamori)\n"
	    "  -D, --drain N          at stop, wait up to N s for the spool to empty (default 3)\n"
	    "enroll options: --state DIR, --host-name NAME, --config FILE\n");
}

static int parse_seconds(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!s[0] || *end || errno || v > 365ul * 86400 || s[0] == '-')
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int load_config(struct agent_config *c, const char *path, bool explicit_path)
{
	char err[512];

	if (!explicit_path && access(path, F_OK) != 0)
		return 0;
	if (agent_config_load(c, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "mamori-agent: configuration error: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

static int spool_sink(void *ctx, const char *data, size_t len, uint32_t lines)
{
	static struct log_rate rl;
	int rc = spool_append(ctx, data, len, lines, NULL);

	if (rc)
		log_ratelimited(&rl, 6, LOG_LEVEL_ERROR, "spool", "batch lost events=%u err=%s",
				lines, strerror(-rc));
	return rc;
}

/* Sends what the sensor captures to the server through the spool. */
static unsigned drain_seconds = 3;

static int run_uplinked(struct agent_config *c, struct agent_run_opts *o)
{
	struct agent_identity id;
	struct agent_health health = {0};
	struct spool_opts so = {0};
	struct uplink_opts uo = {0};
	struct spool *sp = NULL;
	struct uplink *up = NULL;
	char err[512];
	int rc = 1;

	if (agent_identity_load(c->state_dir, &id, err, sizeof(err))) {
		fprintf(stderr, "mamori-agent: %s\n", err);
		return 2;
	}
	so.dir = id.spool_dir;
	so.max_bytes = (uint64_t)c->spool_max_mb << 20;
	/* Dropping works on whole segments: keep them small next to the cap. */
	so.segment_bytes = so.max_bytes / 8;
	if (so.segment_bytes > SPOOL_DEFAULT_SEGMENT_BYTES)
		so.segment_bytes = SPOOL_DEFAULT_SEGMENT_BYTES;
	so.sync = c->spool_sync;
	sp = spool_open(&so, err, sizeof(err));
	if (!sp) {
		fprintf(stderr, "mamori-agent: spool %s: %s\n", so.dir, err);
		return 1;
	}
	pthread_mutex_init(&health.lock, NULL);
	o->health = &health;
	o->enforce = true;
	o->out = output_new_sink(spool_sink, sp, (size_t)c->batch_kb * 1024, c->batch_events,
				 (uint64_t)c->batch_ms * 1000000ull);
	uo.id = &id;
	uo.spool = sp;
	uo.health = &health;
	uo.heartbeat_s = c->heartbeat_s;
	agent_commands_configure(&id, c->state_dir);
	agent_policy_open(c->state_dir, NULL);
	/* The uplink's threads (sending, commands) inherit the nice of the thread that starts
	 * them. */
	agent_set_nice(c);
	up = o->out ? uplink_start(&uo, err, sizeof(err)) : NULL;
	if (!up) {
		fprintf(stderr, "mamori-agent: %s\n", o->out ? err : "out of memory");
		goto out;
	}
	rc = agent_run(c, o);
	output_flush_all(o->out);
	/* A grace period to deliver the last batches; the rest stays spooled. */
	uplink_stop(up, drain_seconds);
	{
		struct spool_stats ss;

		spool_stats(sp, &ss);
		log_info("agent", "uplink stopped spooled_batches=%llu dropped_events=%llu",
			 (unsigned long long)ss.batches, (unsigned long long)ss.dropped_events);
	}
out:
	agent_commands_configure(NULL, NULL);
	agent_policy_close();
	output_free(o->out);
	spool_close(sp);
	pthread_mutex_destroy(&health.lock);
	return rc;
}

static int cmd_capture_or_run(int argc, char **argv, bool uplinked)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"seconds", required_argument, NULL, 's'},
	    {"replay", required_argument, NULL, 'r'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"host-name", required_argument, NULL, 'H'},
	    {"state", required_argument, NULL, 'S'},
	    {"drain", required_argument, NULL, 'D'},
	    {"rules", required_argument, NULL, 'R'},
	    {"iocs", required_argument, NULL, 'I'},
	    {"yara", required_argument, NULL, 'Y'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct agent_config c;
	struct agent_run_opts o = {.seconds = 0, .out_fd = STDOUT_FILENO};
	const char *config = DEFAULT_CONFIG, *replay = NULL, *level = NULL, *host = NULL,
		   *state = NULL, *rules[AGENT_CONFIG_LIST_MAX], *iocs[AGENT_CONFIG_LIST_MAX],
		   *yara[AGENT_CONFIG_LIST_MAX];
	size_t nrules = 0, niocs = 0, nyara = 0;
	bool explicit_config = false;
	enum log_level lv;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:s:r:l:H:S:D:R:I:Y:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'Y':
			if (nyara == AGENT_CONFIG_LIST_MAX) {
				fprintf(stderr, "mamori-agent: too many --yara\n");
				return 2;
			}
			yara[nyara++] = optarg;
			break;
		case 'R':
		case 'I':
			if ((opt == 'R' ? nrules : niocs) == AGENT_CONFIG_LIST_MAX) {
				fprintf(stderr, "mamori-agent: too many --%s\n",
					opt == 'R' ? "rules" : "iocs");
				return 2;
			}
			if (opt == 'R')
				rules[nrules++] = optarg;
			else
				iocs[niocs++] = optarg;
			break;
		case 'D':
			if (parse_seconds(optarg, &drain_seconds)) {
				fprintf(stderr,
					"mamori-agent: --drain: not a number of seconds: %s\n",
					optarg);
				return 2;
			}
			break;
		case 'S':
			state = optarg;
			break;
		case 'c':
			config = optarg;
			explicit_config = true;
			break;
		case 's':
			if (parse_seconds(optarg, &o.seconds)) {
				fprintf(stderr,
					"mamori-agent: --seconds: not a number of seconds: %s\n",
					optarg);
				return 2;
			}
			break;
		case 'r':
			replay = optarg;
			break;
		case 'l':
			level = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mamori-agent: unexpected argument: %s\n", argv[optind]);
		return 2;
	}
	agent_config_init(&c);
	if (load_config(&c, config, explicit_config)) {
		agent_config_release(&c);
		return 2;
	}
	if (replay) {
		free(c.replay_path);
		c.replay_path = strdup(replay);
	}
	if (host) {
		free(c.host_name);
		c.host_name = strdup(host);
	}
	for (size_t i = 0; i < nyara; i++) {
		if (c.detect_yara.n == AGENT_CONFIG_LIST_MAX ||
		    !(c.detect_yara.items[c.detect_yara.n] = strdup(yara[i]))) {
			fprintf(stderr, "mamori-agent: too many detection paths\n");
			agent_config_release(&c);
			return 2;
		}
		c.detect_yara.n++;
	}
	for (size_t i = 0; i < nrules + niocs; i++) {
		struct agent_config_list *l = i < nrules ? &c.detect_rules : &c.detect_iocs;
		const char *v = i < nrules ? rules[i] : iocs[i - nrules];

		if (l->n == AGENT_CONFIG_LIST_MAX || !(l->items[l->n] = strdup(v))) {
			fprintf(stderr, "mamori-agent: too many detection paths\n");
			agent_config_release(&c);
			return 2;
		}
		l->n++;
	}
	if (state) {
		free(c.state_dir);
		c.state_dir = strdup(state);
	}
	if (!c.replay_path || !c.host_name || !c.state_dir) {
		agent_config_release(&c);
		return 1;
	}
	if (log_level_parse(level ? level : c.log_level, &lv) != 0) {
		fprintf(stderr, "mamori-agent: --log-level: expected debug, info, warn or error\n");
		agent_config_release(&c);
		return 2;
	}
	log_set_level(lv);
	rc = uplinked ? run_uplinked(&c, &o) : agent_run(&c, &o);
	agent_config_release(&c);
	return rc;
}

static int cmd_enroll(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"state", required_argument, NULL, 'S'},
	    {"host-name", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = DEFAULT_CONFIG, *state = NULL, *host = NULL;
	bool explicit_config = false;
	struct agent_config c;
	char err[1024], hn[256];
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:S:H:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			explicit_config = true;
			break;
		case 'S':
			state = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: mamori-agent enroll [--state DIR] URL TOKEN\n");
		return 2;
	}
	agent_config_init(&c);
	if (load_config(&c, config, explicit_config)) {
		agent_config_release(&c);
		return 2;
	}
	if (!host && c.host_name[0])
		host = c.host_name;
	if (!host) {
		if (gethostname(hn, sizeof(hn)))
			snprintf(hn, sizeof(hn), "localhost");
		hn[sizeof(hn) - 1] = 0;
		host = hn;
	}
	rc = agent_enroll(state ? state : c.state_dir, argv[optind], argv[optind + 1], host, err,
			  sizeof(err));
	agent_config_release(&c);
	if (rc) {
		fprintf(stderr, "mamori-agent: enrollment failed: %s\n", err);
		return 1;
	}
	printf("enrolled\n");
	return 0;
}

static int cmd_check_config(int argc, char **argv)
{
	struct agent_config c;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: mamori-agent check-config FILE\n");
		return 2;
	}
	agent_config_init(&c);
	rc = load_config(&c, argv[1], true);
	agent_config_release(&c);
	if (rc)
		return 2;
	printf("%s: ok\n", argv[1]);
	return 0;
}

int main(int argc, char **argv)
{
	/* Before any thread starts: libcurl's global state (OpenSSL). */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("mamori-agent %s\n", MAMORI_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "capture"))
		return cmd_capture_or_run(argc - 1, argv + 1, false);
	if (!strcmp(argv[1], "run"))
		return cmd_capture_or_run(argc - 1, argv + 1, true);
	if (!strcmp(argv[1], "enroll"))
		return cmd_enroll(argc - 1, argv + 1);
	if (!strcmp(argv[1], "check-config"))
		return cmd_check_config(argc - 1, argv + 1);
	fprintf(stderr, "mamori-agent: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
