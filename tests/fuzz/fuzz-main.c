// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Stand-in driver for fuzzers when libFuzzer is not linked: feeds every file
 * of the corpus folders given on the command line to LLVMFuzzerTestOneInput,
 * then a bounded number of deterministic mutations of each (bit flips,
 * truncations, duplicated and inserted bytes), so a fuzzer is also a
 * regression test in every build and under the sanitizers.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MUTATIONS_PER_INPUT 200

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void run_mutations(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size * 2 + 16);

	if (!buf)
		abort();
	for (int i = 0; i < MUTATIONS_PER_INPUT; i++) {
		size_t n = size;

		memcpy(buf, data, size);
		switch (rng_next() % 4) {
		case 0: /* flip a few bits */
			for (int k = 0; n && k < 4; k++)
				buf[rng_next() % n] ^= (uint8_t)(1u << (rng_next() % 8));
			break;
		case 1: /* truncate */
			n = n ? rng_next() % n : 0;
			break;
		case 2: /* duplicate the tail */
			if (n) {
				size_t at = rng_next() % n;

				memcpy(buf + n, buf + at, n - at);
				n += n - at;
			}
			break;
		default: /* insert a random byte sequence */
			for (int k = 0; k < 16; k++)
				buf[n++] = (uint8_t)rng_next();
			break;
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	free(buf);
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data;
	long size;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	data = malloc(size > 0 ? (size_t)size : 1);
	if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		free(data);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, (size_t)size);
	run_mutations(data, (size_t)size);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *de;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "fuzz: cannot read '%s'\n", argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			n += run_file(argv[i]) == 0;
			continue;
		}
		d = opendir(argv[i]);
		while (d && (de = readdir(d))) {
			char path[4096];

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
			n += run_file(path) == 0;
		}
		if (d)
			closedir(d);
	}
	if (n == 0) {
		fprintf(stderr, "fuzz: empty corpus\n");
		return 1;
	}
	printf("fuzz: %d inputs, %d mutations each, no crash\n", n, MUTATIONS_PER_INPUT);
	return 0;
}
