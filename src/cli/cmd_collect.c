/* mamori collect HOST PATH --save FILE: a file from a host through the command channel ("collect"),
 * checked against the SHA-256 the agent computed and written with mode 0600 (it may be malware).
 * docs/response.md. */
#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_http.h"
#include "cli_json.h"
#include "dynbuf.h"

#include "banned.h"

#define WAIT_DEFAULT_S 60
#define WAIT_MAX_S 300
#define COLLECT_MAX 524288

static const char usage_collect[] =
    "usage: mamori collect HOST PATH --save FILE [--max-bytes N] [--force] [--reason TEXT]\n"
    "                      [--timeout SECONDS]\n"
    "\n"
    "Fetches the regular file PATH (absolute; a symlink is not followed) from HOST, checks\n"
    "its SHA-256 and writes it to FILE with mode 0600. Prints 'collected PATH from HOST:\n"
    "N bytes, sha256 HEX, mode M, uid U, gid G'. Exits 1 when the agent refused (no such\n"
    "file, not a regular file, larger than the cap) or the content does not match.\n"
    "  -s, --save FILE        where to write the file (refuses to replace one without --force)\n"
    "  -m, --max-bytes N      refuse files larger than N bytes (1-524288, the default)\n"
    "  -f, --force            replace FILE if it exists\n"
    "  -r, --reason TEXT      why, kept with the action and in the audit log\n"
    "  -t, --timeout SECONDS  how long to wait for the agent (1-300, default 60)\n";

/* Decodes the agent's base64 and checks it against its SHA-256; *out is malloc'd. */
static int decode(const char *b64, size_t want, const char *sha_hex, unsigned char **out)
{
	size_t n = strlen(b64), pad = 0;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[65];
	int got;

	*out = malloc(n / 4 * 3 + 3);
	if (!*out)
		return -ENOMEM;
	if (n % 4)
		return -EINVAL;
	got = n ? EVP_DecodeBlock(*out, (const unsigned char *)b64, (int)n) : 0;
	if (got < 0)
		return -EINVAL;
	while (pad < 2 && n > pad && b64[n - 1 - pad] == '=')
		pad++;
	if ((size_t)got < pad || (size_t)got - pad != want)
		return -EINVAL;
	if (!EVP_Digest(*out, want, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -EIO;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return sha_hex && !strcmp(hex, sha_hex) ? 0 : -EBADMSG;
}

static int save(const char *file, const unsigned char *data, size_t n, bool force)
{
	int fd = open(
	    file, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL), 0600);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off < n) {
		ssize_t w = write(fd, data + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int rc = -errno;

			close(fd);
			return rc;
		}
		off += (size_t)w;
	}
	return close(fd) ? -errno : 0;
}

int cmd_collect_run(struct cli *cli, int argc, char **argv)
{
	const char *file = NULL, *max = NULL, *reason = NULL, *timeout = NULL;
	bool force = false;
	const struct cli_args_opt opts[] = {
	    {"save", 's', &file, NULL},	      {"max-bytes", 'm', &max, NULL},
	    {"force", 'f', NULL, &force},     {"reason", 'r', &reason, NULL},
	    {"timeout", 't', &timeout, NULL}, {NULL, 0, NULL, NULL}};
	struct cli_args_pos pos;
	long wait_s = WAIT_DEFAULT_S, max_bytes = COLLECT_MAX;
	unsigned char *data = NULL;
	json_t *reply;
	const char *status, *b64;
	int rc;

	if (cli->help)
		return cli_help(cli, usage_collect);
	rc = cli_parse_args(cli, usage_collect, opts, argc, argv, &pos, 2, 2);
	if (rc)
		return rc;
	if (!file)
		return cli_usage_error(cli, usage_collect, "--save FILE is required");
	if (pos.v[1][0] != '/')
		return cli_usage_error(cli, usage_collect, "PATH must be absolute");
	if (max && cli_args_parse_long(max, 1, COLLECT_MAX, &max_bytes))
		return cli_usage_error(cli, usage_collect, "--max-bytes must be 1 to %d",
				       COLLECT_MAX);
	rc = cli_parse_timeout(cli, usage_collect, timeout, WAIT_MAX_S, &wait_s);
	if (rc)
		return rc;
	if (!force && access(file, F_OK) == 0)
		return cli_usage_error(cli, usage_collect, "%s exists (--force replaces it)", file);
	rc = cli_host_command(
	    cli, pos.v[0], "collect",
	    json_pack("{s:s,s:I}", "path", pos.v[1], "max_bytes", (json_int_t)max_bytes), reason,
	    wait_s, &reply);
	if (rc)
		return rc;
	status = cli_json_get_string(reply, "status");
	b64 = cli_json_get_string(reply, "result.content_base64");
	if (!status || strcmp(status, "ok") || !b64) {
		const char *err = cli_json_get_string(reply, "result.error");

		cli_error(cli, "collect %s on %s: %s%s%s", pos.v[1], pos.v[0],
			  cli_command_pending(reply) ? "no answer in time" : status,
			  err ? ": " : "", err ? err : "");
		json_decref(reply);
		return CLI_EXIT_SERVER;
	}
	{
		json_int_t size = json_integer_value(cli_json_get(reply, "result.size"));
		const char *sha = cli_json_get_string(reply, "result.sha256");

		rc = size >= 0 ? decode(b64, (size_t)size, sha, &data) : -EINVAL;
		if (rc) {
			cli_error(cli, "collect %s on %s: %s", pos.v[1], pos.v[0],
				  rc == -EBADMSG ? "the content does not match its SHA-256"
						 : "the content is malformed");
		} else if ((rc = save(file, data, (size_t)size, force))) {
			cli_error(cli, "cannot write %s: %s", file, strerror(-rc));
		} else {
			fprintf(
			    cli->out,
			    "collected %s from %s: %lld bytes, sha256 %s, mode %04llo, uid %lld, "
			    "gid %lld\n",
			    pos.v[1], pos.v[0], (long long)size, sha,
			    (unsigned long long)json_integer_value(
				cli_json_get(reply, "result.mode")),
			    (long long)json_integer_value(cli_json_get(reply, "result.uid")),
			    (long long)json_integer_value(cli_json_get(reply, "result.gid")));
		}
	}
	free(data);
	json_decref(reply);
	return rc ? CLI_EXIT_SERVER : CLI_EXIT_OK;
}
