/* Replays every file of a fuzz corpus directory through a fuzz target's entry point, so the
 * corpora (seeds and past crashers) run in every normal build and under ASan in CI. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int main(int argc, char **argv);

int main(int argc, char **argv)
{
	DIR *d;
	struct dirent *de;
	unsigned files = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	d = opendir(argv[1]);
	if (!d) {
		perror(argv[1]);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		FILE *f;
		uint8_t *buf;
		long n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf = malloc(n > 0 ? (size_t)n : 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n)
			LLVMFuzzerTestOneInput(buf, (size_t)n);
		free(buf);
		fclose(f);
		files++;
	}
	closedir(d);
	printf("%u passed, 0 failed\n", files);
	return files ? 0 : 1;
}
