/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What prescientctl's files share: the JSON accessors, number and age
 * formatting, aligned tables, usage and transport errors (prescientctl.c),
 * and the reservation commands (ctl_reservations.c).
 */
#ifndef PRESCIENT_CTL_CTL_H
#define PRESCIENT_CTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "cleanup.h"

#define EXIT_USAGE     2
#define TABLE_MAX_COLS 16

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);
#define _cleanup_json_ _cleanup_(json_object_putp)

extern const char *program;

/* Prints "prescientctl: <message>" and a pointer to --help; returns EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Explains a failed client_request(); returns EXIT_FAILURE. */
int request_error(int r, const char *path, uint64_t timeout_usec);

/* Members of an object, NULL/""/NAN/false when absent or of another type. */
struct json_object *jget(struct json_object *o, const char *key);
const char *jstr(struct json_object *o, const char *key);
double jnum(struct json_object *o, const char *key);
bool jbool(struct json_object *o, const char *key);
size_t jlen(struct json_object *a);

/* v / scale with decimals, or "-" when not measured. */
const char *fmt(char *buf, size_t size, double v, double scale, int decimals);
const char *fmt_age(char *buf, size_t size, double sec);

struct table {
	size_t n_cols, n_rows, cap_rows;
	bool right[TABLE_MAX_COLS];
	char **cells; /* n_rows * n_cols */
};

/* right_cols: one 'r' (right-aligned) or 'l' per column. */
void table_init(struct table *t, size_t n_cols, const char *right_cols);
int table_add(struct table *t, ...);
int table_add_row(struct table *t, const char *const *cells);
void table_print(struct table *t, const char *indent);
void table_fprint(FILE *f, struct table *t, const char *indent);
void table_free(struct table *t);

/* How prescientctl reaches the daemon, from its global options. */
struct ctl_target {
	const char *socket;
	uint64_t timeout_usec;
	bool json;
};

/* ctl_reservations.c: true when cmd is one of its commands. */
bool ctl_reservations_handles(const char *cmd);
/* Runs cmd with its arguments argv[0..argc) (argv[0] is the command); returns the exit code. */
int ctl_reservations_main(const struct ctl_target *t, int argc, char **argv);
/* The ledger part of 'pool' (data.ledger), if the daemon has one. */
void ctl_pool_ledger_show(struct json_object *ledger);
/* Help text of the reservation commands, for --help. */
void ctl_reservations_help(FILE *f);

#endif
