/* mamori-server: the central server (ingest, detection, storage, API, console). This build
 * answers --help and --version; the server itself arrives with the pipeline issue. */
#include <stdio.h>
#include <string.h>

#include "banned.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: mamori-server [--version] [--help]\n"
		   "\n"
		   "The Mamori server: agent endpoint, REST API and console.\n"
		   "Not yet implemented in this version: see the project README.\n");
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
		printf("mamori-server %s\n", MAMORI_VERSION);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
