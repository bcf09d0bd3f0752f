// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Trace readers for the offline evaluation: each source's file format (see
 * ../shared/data/<source>/README.md) becomes one series on a regular grid.
 * Bitbrains samples jitter around 300 s and have gaps: they are averaged
 * into 300-s bins from midnight UTC of the first sample, and empty bins are
 * forward-filled, as the evaluation protocol says.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "sim.h"

#define SIM_LINE_MAX 4096

static const char *const source_names[SIM_NR_SOURCES] = {
	[SIM_SOURCE_AZURE] = "azure",
	[SIM_SOURCE_BITBRAINS] = "bitbrains",
	[SIM_SOURCE_PLANETLAB] = "planetlab",
};

static const char *const resource_names[SIM_NR_RESOURCES] = {
	[SIM_RESOURCE_CPU] = "cpu",
	[SIM_RESOURCE_MEM] = "mem",
	[SIM_RESOURCE_DISK_READ] = "disk-read",
	[SIM_RESOURCE_DISK_WRITE] = "disk-write",
	[SIM_RESOURCE_NET_RX] = "net-rx",
	[SIM_RESOURCE_NET_TX] = "net-tx",
};

int sim_source_from_string(const char *s, enum sim_source *ret)
{
	for (int i = 0; i < SIM_NR_SOURCES; i++)
		if (!strcmp(s, source_names[i])) {
			*ret = (enum sim_source)i;
			return 0;
		}
	return -EINVAL;
}

int sim_resource_from_string(const char *s, enum sim_resource *ret)
{
	for (int i = 0; i < SIM_NR_RESOURCES; i++)
		if (!strcmp(s, resource_names[i])) {
			*ret = (enum sim_resource)i;
			return 0;
		}
	return -EINVAL;
}

const char *sim_resource_to_string(enum sim_resource r)
{
	return (unsigned)r < SIM_NR_RESOURCES ? resource_names[r] : "?";
}

struct series_buf {
	double *v;
	size_t n, cap;
};

static int series_push(struct series_buf *s, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		double *p = realloc(s->v, cap * sizeof(double));

		if (!p)
			return -ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = v;
	return 0;
}

/* Splits a CSV line in place into at most max fields; returns the count. */
static int csv_split(char *line, char **fields, int max)
{
	int n = 0;
	char *p = line;

	while (n < max) {
		fields[n++] = p;
		p = strchr(p, ',');
		if (!p)
			break;
		*p++ = '\0';
	}
	return n;
}

static int parse_num(const char *s, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno)
		return -EINVAL;
	while (*end == ' ' || *end == '\r' || *end == '\n')
		end++;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int read_azure(FILE *fp, enum sim_resource res, struct series_buf *s)
{
	char line[SIM_LINE_MAX];
	int col = -1;

	if (res != SIM_RESOURCE_CPU)
		return -EOPNOTSUPP;
	if (!fgets(line, sizeof(line), fp))
		return -EBADMSG;
	{
		char *fields[8];
		int n = csv_split(line, fields, 8);

		for (int i = 0; i < n; i++)
			if (!strncmp(fields[i], "avg_cpu_pct", 11))
				col = i;
	}
	if (col < 0)
		return -EBADMSG;
	while (fgets(line, sizeof(line), fp)) {
		char *fields[8];
		int n = csv_split(line, fields, 8);
		double v;

		if (n <= col)
			continue;
		if (parse_num(fields[col], &v) < 0)
			v = NAN;
		if (series_push(s, v) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int read_bitbrains(FILE *fp, enum sim_resource res, struct series_buf *s)
{
	static const char *const cols[SIM_NR_RESOURCES] = {
		[SIM_RESOURCE_CPU] = "cpu_usage_pct",
		[SIM_RESOURCE_MEM] = "mem_usage_kb",
		[SIM_RESOURCE_DISK_READ] = "disk_read_kbps",
		[SIM_RESOURCE_DISK_WRITE] = "disk_write_kbps",
		[SIM_RESOURCE_NET_RX] = "net_rx_kbps",
		[SIM_RESOURCE_NET_TX] = "net_tx_kbps",
	};
	char line[SIM_LINE_MAX];
	char *fields[16];
	int col = -1, tcol = -1, n;
	double start = NAN;
	_cleanup_free_ double *sum = NULL;
	_cleanup_free_ uint32_t *cnt = NULL;
	size_t nbins = 0, capbins = 0;

	if (!fgets(line, sizeof(line), fp))
		return -EBADMSG;
	line[strcspn(line, "\r\n")] = '\0';
	n = csv_split(line, fields, 16);
	for (int i = 0; i < n; i++) {
		if (!strcmp(fields[i], cols[res]))
			col = i;
		if (!strcmp(fields[i], "timestamp_s"))
			tcol = i;
	}
	if (col < 0 || tcol < 0)
		return -EBADMSG;
	while (fgets(line, sizeof(line), fp)) {
		double t, v;
		size_t bin;

		n = csv_split(line, fields, 16);
		if (n <= col || n <= tcol || parse_num(fields[tcol], &t) < 0 ||
		    parse_num(fields[col], &v) < 0 || !isfinite(v) || !isfinite(t))
			continue;
		if (isnan(start))
			start = floor(t / 86400) * 86400;
		if (t < start || t - start > 400 * 86400.0)
			continue;
		bin = (size_t)((t - start) / SIM_STEP_SEC);
		if (bin >= capbins) {
			size_t cap = capbins ? capbins : 4096;
			double *ps;
			uint32_t *pc;

			while (cap <= bin)
				cap *= 2;
			ps = realloc(sum, cap * sizeof(double));
			if (!ps)
				return -ENOMEM;
			sum = ps;
			pc = realloc(cnt, cap * sizeof(uint32_t));
			if (!pc)
				return -ENOMEM;
			cnt = pc;
			memset(sum + capbins, 0, (cap - capbins) * sizeof(double));
			memset(cnt + capbins, 0, (cap - capbins) * sizeof(uint32_t));
			capbins = cap;
		}
		sum[bin] += v;
		cnt[bin]++;
		if (bin + 1 > nbins)
			nbins = bin + 1;
	}
	double last = NAN;

	for (size_t i = 0; i < nbins; i++) {
		if (cnt[i])
			last = sum[i] / cnt[i];
		/* Leading empty bins stay gaps; later ones carry the last value. */
		if (series_push(s, last) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int read_planetlab(FILE *fp, enum sim_resource res, struct series_buf *s)
{
	char line[SIM_LINE_MAX];

	if (res != SIM_RESOURCE_CPU)
		return -EOPNOTSUPP;
	while (fgets(line, sizeof(line), fp)) {
		double v;

		if (parse_num(line, &v) < 0)
			v = NAN;
		if (series_push(s, v) < 0)
			return -ENOMEM;
	}
	return 0;
}

int sim_trace_read(const char *path, enum sim_source src, enum sim_resource res, double **ret_y,
		   size_t *ret_n)
{
	_cleanup_fclose_ FILE *fp = fopen(path, "re");
	struct series_buf s = {};
	int r;

	if (!fp)
		return -errno;
	switch (src) {
	case SIM_SOURCE_AZURE:
		r = read_azure(fp, res, &s);
		break;
	case SIM_SOURCE_BITBRAINS:
		r = read_bitbrains(fp, res, &s);
		break;
	case SIM_SOURCE_PLANETLAB:
		r = read_planetlab(fp, res, &s);
		break;
	default:
		r = -EINVAL;
	}
	if (r < 0 || s.n == 0) {
		free(s.v);
		return r < 0 ? r : -ENODATA;
	}
	*ret_y = s.v;
	*ret_n = s.n;
	return 0;
}
