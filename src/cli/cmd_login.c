/* mamori login: trades a user name and password for a new API token (POST /login, the one call
 * made without a token). The password comes from MAMORI_PASSWORD or stdin, never from argv. */
#include "cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_json.h"

#include "banned.h"

#define PASSWORD_MAX 1024

static const char usage_login[] =
    "usage: mamori login --user USER\n"
    "\n"
    "Logs in and prints a new API token, for MAMORI_TOKEN:\n"
    "  export MAMORI_TOKEN=$(mamori login --user admin)\n"
    "The password is read from MAMORI_PASSWORD, else from the first line of stdin\n"
    "(prompted for, without echo, on a terminal). Needs MAMORI_URL but no token.\n"
    "  -u, --user USER   user name (required)\n";

/* Reads one line into buf without its newline; echo is off while a terminal is read. */
static int read_password(struct cli *cli, const char *user, char *buf, size_t size)
{
	int fd = fileno(cli->in);
	struct termios old, quiet;
	bool tty = fd >= 0 && isatty(fd) && !tcgetattr(fd, &old);
	size_t n;
	int rc = 0;

	if (tty) {
		fprintf(cli->err, "Password for %s: ", user);
		fflush(cli->err);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	if (!fgets(buf, (int)size, cli->in))
		rc = -ENODATA;
	if (tty) {
		(void)tcsetattr(fd, TCSAFLUSH, &old);
		fputc('\n', cli->err);
	}
	if (rc)
		return rc;
	n = strlen(buf);
	if (n && buf[n - 1] != '\n' && !feof(cli->in))
		return -E2BIG;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return n ? 0 : -ENODATA;
}

int cmd_login_run(struct cli *cli, int argc, char **argv)
{
	const char *user = NULL, *password, *token;
	const struct cli_args_opt opts[] = {{"user", 'u', &user, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "POST", .path = "/login", .anonymous = true};
	char buf[PASSWORD_MAX + 2];
	struct cli_args_pos pos;
	json_t *body = NULL, *reply = NULL;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_login);
	rc = cli_parse_args(cli, usage_login, opts, argc, argv, &pos, 0, 0);
	if (rc)
		return rc;
	if (!user || !user[0])
		return cli_usage_error(cli, usage_login, "login: --user is required");
	password = getenv("MAMORI_PASSWORD");
	if (!password || !password[0]) {
		rc = read_password(cli, user, buf, sizeof(buf));
		if (rc) {
			cli_error(cli, "login: %s",
				  rc == -E2BIG
				      ? "password longer than 1024 bytes"
				      : "no password: set MAMORI_PASSWORD or write it on stdin");
			rc = CLI_EXIT_USAGE;
			goto out;
		}
		password = buf;
	}
	body = json_pack("{s:s, s:s}", "user", user, "password", password);
	if (!body) {
		cli_error(cli, "login: cannot encode the request (is the password valid UTF-8?)");
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	call.body = body;
	rc = cli_call(cli, &call, &reply);
	if (rc)
		goto out;
	token = cli_json_get_string(reply, "token");
	if (!token) {
		cli_error(cli, "unusable reply from the server: no token");
		rc = CLI_EXIT_SERVER;
		goto out;
	}
	fprintf(cli->out, "%s\n", token);
out:
	json_decref(reply);
	json_decref(body);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}
