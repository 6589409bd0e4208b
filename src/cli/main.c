/* mamori: the command-line client; it talks to the server only through the REST API. This build
 * answers --help and --version; the verbs arrive with the pipeline issue. */
#include <stdio.h>
#include <string.h>

#include "banned.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: mamori [--version] [--help]\n"
		   "\n"
		   "The Mamori command-line client (talks to mamori-server over its REST API).\n"
		   "Not yet implemented in this version: see the project README.\n");
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
		printf("mamori %s\n", MAMORI_VERSION);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
