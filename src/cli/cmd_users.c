/* mamori users: create and list API and console users (POST and GET /users). A new user's
 * password comes from MAMORI_NEW_PASSWORD, never from argv (visible in ps), or is generated. */
#include "cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_json.h"
#include "cli_output.h"

#include "banned.h"

/* 24 characters of 62 symbols: about 142 bits. */
#define GEN_PASSWORD_LEN 24

static const char usage_users[] = "usage: mamori users create NAME --role ROLE\n"
				  "       mamori users list [--output jsonl|table]\n";

static const char usage_create[] =
    "usage: mamori users create NAME --role ROLE\n"
    "\n"
    "Creates a user (admin). ROLE is admin, analyst or viewer. The password is read\n"
    "from MAMORI_NEW_PASSWORD, or generated and printed when that is unset. Prints the\n"
    "new user's API token.\n"
    "  -r, --role ROLE   admin, analyst or viewer (required)\n";

static const char usage_list[] =
    "usage: mamori users list [--output jsonl|table]\n"
    "\n"
    "Lists users (admin). table (default): NAME ROLE; jsonl: one user\n"
    "per line as the server returns it.\n"
    "  -o, --output FORMAT   jsonl or table\n";

static bool role_is_valid(const char *r)
{
	return !strcmp(r, "admin") || !strcmp(r, "analyst") || !strcmp(r, "viewer");
}

/* Uniform over [A-Za-z0-9]: bytes past the largest multiple of 62 are drawn again. */
static int generate_password(char *out, size_t len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[64];
	size_t n = 0;

	while (n < len) {
		ssize_t got = getrandom(r, sizeof(r), 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (ssize_t i = 0; i < got && n < len; i++)
			if (r[i] < 248)
				out[n++] = alphabet[r[i] % 62];
	}
	out[len] = '\0';
	explicit_bzero(r, sizeof(r));
	return 0;
}

static int users_create(struct cli *cli, int argc, char **argv)
{
	const char *role = NULL;
	const struct cli_args_opt opts[] = {{"role", 'r', &role, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "POST", .path = "/users"};
	char generated[GEN_PASSWORD_LEN + 1];
	const char *password, *token, *name, *new_role;
	struct cli_args_pos pos;
	json_t *body, *reply;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_create);
	rc = cli_parse_args(cli, usage_create, opts, argc, argv, &pos, 1, 1);
	if (rc)
		return rc;
	if (!role)
		return cli_usage_error(cli, usage_create, "users create: --role is required");
	if (!role_is_valid(role))
		return cli_usage_error(cli, usage_create,
				       "--role must be admin, analyst or viewer, not '%s'", role);
	password = getenv("MAMORI_NEW_PASSWORD");
	if (!password || !password[0]) {
		rc = generate_password(generated, GEN_PASSWORD_LEN);
		if (rc) {
			cli_error(cli, "cannot generate a password: %s", strerror(-rc));
			return CLI_EXIT_SERVER;
		}
		password = generated;
	}
	body = json_pack("{s:s, s:s, s:s}", "name", pos.v[0], "role", role, "password", password);
	if (!body) {
		cli_error(cli, "out of memory");
		rc = CLI_EXIT_SERVER;
		goto out;
	}
	call.body = body;
	rc = cli_call(cli, &call, &reply);
	json_decref(body);
	if (rc)
		goto out;
	name = cli_json_get_string(reply, "name");
	new_role = cli_json_get_string(reply, "role");
	token = cli_json_get_string(reply, "token");
	fprintf(cli->out, "created user %s (%s)\n", name ? name : pos.v[0],
		new_role ? new_role : role);
	if (password == generated)
		fprintf(cli->out, "password: %s\n", generated);
	if (token)
		fprintf(cli->out, "token: %s\n", token);
	json_decref(reply);
out:
	explicit_bzero(generated, sizeof(generated));
	return rc;
}

static int users_list(struct cli *cli, int argc, char **argv)
{
	static const struct cli_output_col cols[] = {{"NAME", 0, "name", false},
						     {"ROLE", 0, "role", false}};
	const char *output = NULL;
	const struct cli_args_opt opts[] = {{"output", 'o', &output, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_call call = {.method = "GET", .path = "/users"};
	enum cli_output_format fmt;
	struct cli_args_pos pos;
	json_t *reply, *users;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_list);
	rc = cli_parse_args(cli, usage_list, opts, argc, argv, &pos, 0, 0);
	if (!rc)
		rc = cli_parse_output(cli, usage_list, output, &fmt);
	if (!rc)
		rc = cli_call(cli, &call, &reply);
	if (rc)
		return rc;
	users = cli_reply_array(cli, reply, "users");
	rc = users ? cli_finish(cli, cli_output_list(cli->out, fmt, users, cols, 2))
		   : CLI_EXIT_SERVER;
	json_decref(reply);
	return rc;
}

static const struct cli_cmd subs[] = {{"create", users_create}, {"list", users_list}};

int cmd_users_run(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, subs, sizeof(subs) / sizeof(subs[0]), usage_users, argc, argv);
}
