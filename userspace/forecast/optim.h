/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small derivative-free minimiser for the model fits: Nelder-Mead on a box.
 * Parameters live in [lo, hi]; the simplex is projected back into the box so
 * the objective never sees an out-of-range value (the models' recursions can
 * diverge outside their admissible region).
 */
#ifndef PRESCIENT_FORECAST_OPTIM_H
#define PRESCIENT_FORECAST_OPTIM_H

#include <stddef.h>

#define OPTIM_MAX_DIM 6

typedef double (*optim_fn_t)(const double *x, void *userdata);

/*
 * Minimises fn from x (updated in place); returns the best value found.
 * Stops after max_evals evaluations or when the simplex values agree to tol
 * (relative).
 */
double optim_nelder_mead(optim_fn_t fn, void *userdata, size_t dim, double *x, const double *lo,
			 const double *hi, unsigned max_evals, double tol);

#endif
