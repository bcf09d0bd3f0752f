// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Season detection: only the calendar periods a VM's demand follows (a day,
 * a week) are candidates, so one autocorrelation per candidate suffices and
 * spurious periods from bursts are never chosen.
 */
#include <math.h>

#include "season.h"

/* Below this autocorrelation a seasonal model mostly fits noise. */
#define SEASON_ACF_MIN 0.25

double forecast_season_acf(const double *y, size_t n, size_t lag)
{
	double mean = 0, den = 0, num = 0;

	if (lag == 0 || lag >= n)
		return 0;
	for (size_t i = 0; i < n; i++)
		mean += y[i];
	mean /= (double)n;
	for (size_t i = 0; i < n; i++)
		den += (y[i] - mean) * (y[i] - mean);
	if (!(den > 0))
		return 0;
	for (size_t i = lag; i < n; i++)
		num += (y[i] - mean) * (y[i - lag] - mean);
	return num / den;
}

uint32_t forecast_season_detect(const double *y, size_t n, double step_sec)
{
	static const double periods_sec[] = { 7 * 86400.0, 86400.0 };

	if (!(step_sec > 0))
		return 0;
	for (size_t i = 0; i < sizeof(periods_sec) / sizeof(periods_sec[0]); i++) {
		double m = round(periods_sec[i] / step_sec);

		if (m < 2 || m > FORECAST_SEASON_MAX || 2 * m > (double)n)
			continue;
		/* The period must be a whole number of steps to be a season. */
		if (fabs(m * step_sec - periods_sec[i]) > 0.01 * periods_sec[i])
			continue;
		if (forecast_season_acf(y, n, (size_t)m) >= SEASON_ACF_MIN)
			return (uint32_t)m;
	}
	return 0;
}
