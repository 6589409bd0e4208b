/* mamori: the command-line client. It talks to mamori-server only through the REST API; the
 * commands live in cmd_*.c and the dispatch in cli.c, so the tests can run them in-process. */
#include <stdio.h>

#include "cli.h"
#include "cli_http.h"

#include "banned.h"

int main(int argc, char **argv)
{
	int rc;

	if (cli_http_global_init()) {
		fputs("mamori: cannot initialise libcurl\n", stderr);
		return CLI_EXIT_SERVER;
	}
	rc = cli_run(argc, argv, stdin, stdout, stderr);
	cli_http_global_cleanup();
	return rc;
}
