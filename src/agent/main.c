/* mamori-agent: the endpoint sensor. Subcommands: capture (standalone, ECS JSON lines on stdout)
 * and check-config. Enrollment and the server uplink come with the pipeline. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_config.h"
#include "agent_run.h"
#include "log.h"

#include "banned.h"

#define DEFAULT_CONFIG "/etc/mamori/agent.yml"

static void usage(FILE *f)
{
	fprintf(f, "usage: mamori-agent [--version] [--help] <command> [options]\n"
		   "\n"
		   "commands:\n"
		   "  capture        print ECS JSON events to stdout, without a server\n"
		   "  check-config   validate a configuration file and exit\n"
		   "\n"
		   "capture options:\n"
		   "  -c, --config FILE      configuration (default " DEFAULT_CONFIG
		   " if present)\n"
		   "  -s, --seconds N        stop after N seconds (default: until SIGINT/SIGTERM)\n"
		   "  -r, --replay FILE      read ECS JSON lines from FILE ('-' for stdin) instead\n"
		   "                         of the kernel (no root or BPF needed)\n"
		   "  -l, --log-level LEVEL  debug, info, warn or error (logs go to stderr)\n"
		   "  -H, --host-name NAME   override host.name\n");
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

static int cmd_capture(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"seconds", required_argument, NULL, 's'},
		{"replay", required_argument, NULL, 'r'},
		{"log-level", required_argument, NULL, 'l'},
		{"host-name", required_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct agent_config c;
	struct agent_run_opts o = {.seconds = 0, .out_fd = STDOUT_FILENO};
	const char *config = DEFAULT_CONFIG, *replay = NULL, *level = NULL, *host = NULL;
	bool explicit_config = false;
	enum log_level lv;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:s:r:l:H:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			explicit_config = true;
			break;
		case 's':
			if (parse_seconds(optarg, &o.seconds)) {
				fprintf(stderr, "mamori-agent: --seconds: not a number of seconds: %s\n",
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
	if (!c.replay_path || !c.host_name) {
		agent_config_release(&c);
		return 1;
	}
	if (log_level_parse(level ? level : c.log_level, &lv) != 0) {
		fprintf(stderr, "mamori-agent: --log-level: expected debug, info, warn or error\n");
		agent_config_release(&c);
		return 2;
	}
	log_set_level(lv);
	rc = agent_run(&c, &o);
	agent_config_release(&c);
	return rc;
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
		return cmd_capture(argc - 1, argv + 1);
	if (!strcmp(argv[1], "check-config"))
		return cmd_check_config(argc - 1, argv + 1);
	fprintf(stderr, "mamori-agent: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
