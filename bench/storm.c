/* Load generator for bench/run-all.sh: serial exec, file-write and TCP-connect storms whose
 * count is known exactly, so the agent's output can be checked against it. Built by the bench
 * script with gcc -O2 into a temp dir; not part of the CMake build.
 *   storm exec N BIN       N serial fork+execve(BIN), waitpid each
 *   storm write N DIR      N open(O_CREAT|O_TRUNC)/write 4 KiB/close over 100 file names
 *   storm connect N PORT   N serial TCP connects to 127.0.0.1:PORT, each closed at once, against
 *                          a listener thread of its own that accepts and closes
 * Prints "elapsed_s=S ops=N cpu_s=C" on stdout, C being the user + system CPU time of the driver
 * and its children (work done in exec and syscall hooks is charged there); exits non-zero if any
 * operation failed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WRITE_NAMES 100
#define WRITE_BYTES 4096

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
			kids.ru_stime.tv_sec) +
	       (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
			kids.ru_stime.tv_usec) / 1e6;
}

static long parse_count(const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || !s[0] || *end || n <= 0) {
		fprintf(stderr, "storm: bad count '%s'\n", s);
		exit(2);
	}
	return n;
}

static int storm_exec(long n, const char *bin)
{
	char *const argv[] = {(char *)bin, NULL};
	char *const envp[] = {NULL};

	for (long i = 0; i < n; i++) {
		int status;
		pid_t pid = fork();

		if (pid < 0) {
			perror("storm: fork");
			return 1;
		}
		if (pid == 0) {
			execve(bin, argv, envp);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fprintf(stderr, "storm: exec %s failed (status %d)\n", bin, status);
			return 1;
		}
	}
	return 0;
}

static int storm_write(long n, const char *dir)
{
	static char buf[WRITE_BYTES];
	char path[4096];

	memset(buf, 'm', sizeof(buf));
	for (long i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%03ld", dir, i % WRITE_NAMES);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			perror(path);
			return 1;
		}
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
			perror("storm: write");
			close(fd);
			return 1;
		}
		close(fd);
	}
	return 0;
}

static void *acceptor(void *arg)
{
	int lfd = *(int *)arg;

	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0)
			close(c);
		else if (errno != EINTR && errno != ECONNABORTED)
			return NULL; /* listener shut down */
	}
}

static int storm_connect(long n, const char *port_s)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	long port = parse_count(port_s);
	int lfd, one = 1, rc = 0;
	pthread_t th;

	if (port > 65535) {
		fprintf(stderr, "storm: bad port %ld\n", port);
		return 2;
	}
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1024)) {
		perror("storm: listen");
		return 1;
	}
	if (pthread_create(&th, NULL, acceptor, &lfd)) {
		fprintf(stderr, "storm: cannot start the listener thread\n");
		return 1;
	}
	for (long i = 0; i < n && rc == 0; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			perror("storm: connect");
			rc = 1;
		}
		if (fd >= 0)
			close(fd);
	}
	shutdown(lfd, SHUT_RDWR); /* wakes the acceptor with an error */
	pthread_join(th, NULL);
	close(lfd);
	return rc;
}

int main(int argc, char **argv)
{
	long n;
	double t0, t1, c0;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: storm exec N BIN | write N DIR | connect N PORT\n");
		return 2;
	}
	n = parse_count(argv[2]);
	c0 = cpu_s();
	t0 = now_s();
	if (!strcmp(argv[1], "exec"))
		rc = storm_exec(n, argv[3]);
	else if (!strcmp(argv[1], "write"))
		rc = storm_write(n, argv[3]);
	else if (!strcmp(argv[1], "connect"))
		rc = storm_connect(n, argv[3]);
	else {
		fprintf(stderr, "storm: unknown mode '%s'\n", argv[1]);
		return 2;
	}
	t1 = now_s();
	if (rc == 0)
		printf("elapsed_s=%.6f ops=%ld cpu_s=%.6f\n", t1 - t0, n, cpu_s() - c0);
	return rc;
}
