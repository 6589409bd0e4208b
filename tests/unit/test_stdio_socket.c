/* Reverse-shell evidence: which names are checked, the /proc/net table parser, and a live child
 * whose stdin is a loopback TCP socket (and one whose stdin is a Unix socket, which must not
 * count). */
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "stdio_socket.h"

static void test_names(void **state)
{
	(void)state;
	assert_true(stdio_socket_is_shell("bash"));
	assert_true(stdio_socket_is_shell("python3.11"));
	assert_true(stdio_socket_is_shell("perl5.36"));
	assert_true(stdio_socket_is_shell("sh"));
	assert_false(stdio_socket_is_shell("shred"));
	assert_false(stdio_socket_is_shell("bashful"));
	assert_false(stdio_socket_is_shell("sshd"));
	assert_false(stdio_socket_is_shell(""));
}

static void test_table(void **state)
{
	(void)state;
	static const char t[] =
	    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
	    "timeout inode\n"
	    "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0   "
	    "     0 12345 1 0000000000000000 100 0 0 10 0\n"
	    "   1: 0100007F:BB8F 0100007F:0016 01 00000000:00000000 00:00000000 00000000  1000   "
	    "     0 67890 1 0000000000000000 20 4 30 10 -1\n";
	assert_true(stdio_socket_table_has(t, 12345));
	assert_true(stdio_socket_table_has(t, 67890));
	assert_false(stdio_socket_table_has(t, 1));
	assert_false(stdio_socket_table_has(t, 1000)); /* the uid column is not the inode */
	assert_false(stdio_socket_table_has("", 5));
	assert_false(stdio_socket_table_has("header only", 5));
}

static pid_t child_with_stdin(int fd)
{
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd, 0);
		pause();
		_exit(0);
	}
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_live(void **state)
{
	(void)state;
	int lst = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	assert_int_equal(bind(lst, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lst, 1), 0);
	assert_int_equal(getsockname(lst, (struct sockaddr *)&a, &al), 0);
	int cl = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(cl, (struct sockaddr *)&a, sizeof(a)), 0);
	pid_t p = child_with_stdin(cl);
	usleep(50000);
	assert_true(stdio_socket_inet("/proc", p));
	stop(p);

	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p = child_with_stdin(sv[0]);
	usleep(50000);
	assert_false(stdio_socket_inet("/proc", p));
	stop(p);
	assert_false(stdio_socket_inet("/proc", 999999999));
	close(cl);
	close(lst);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_live),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
