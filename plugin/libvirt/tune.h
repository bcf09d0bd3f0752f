/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to the libvirt backend: what tune.c (pinning, memory, block I/O
 * limits and weight, interface tuning) needs from libvirt.c's connection
 * handling, and the tuning ops libvirt.c puts in hv_libvirt_ops.
 */
#ifndef PRESCIENT_PLUGIN_LIBVIRT_TUNE_H
#define PRESCIENT_PLUGIN_LIBVIRT_TUNE_H

#include <stdbool.h>

#include <libvirt/libvirt.h>

#include "hv.h"

/*
 * The live connection (a reference) and the domain of uuid, both to be
 * released by the caller (virConnectClose, virDomainFree). write refuses
 * with -EPERM in read-only mode.
 */
int hv_libvirt_dom_get(struct hv *hv, const char *uuid, bool write, virConnectPtr *ret_conn,
		       virDomainPtr *ret_dom);
/* This thread's libvirt error of a call on conn as -errno (-ENOTCONN when it died). */
int hv_libvirt_call_error(struct hv *hv, virConnectPtr conn, const char *what);

int hv_libvirt_get_pinning(struct hv *hv, const char *uuid, struct hv_pinning *ret);
int hv_libvirt_pin_vcpu(struct hv *hv, const char *uuid, uint32_t vcpu,
			const struct hv_cpumap *map);
int hv_libvirt_pin_emulator(struct hv *hv, const char *uuid, const struct hv_cpumap *map);
int hv_libvirt_get_mem_tune(struct hv *hv, const char *uuid, struct hv_mem_tune *ret);
int hv_libvirt_set_mem_tune(struct hv *hv, const char *uuid, const struct hv_mem_tune *tune);
int hv_libvirt_get_block_tune(struct hv *hv, const char *uuid, const char *disk,
			      struct hv_block_tune *ret);
int hv_libvirt_set_block_tune(struct hv *hv, const char *uuid, const char *disk,
			      const struct hv_block_tune *tune);
int hv_libvirt_get_net_tune(struct hv *hv, const char *uuid, const char *ifname,
			    struct hv_net_tune *ret);
int hv_libvirt_set_net_tune(struct hv *hv, const char *uuid, const char *ifname,
			    const struct hv_net_tune *tune);
int hv_libvirt_get_blkio_weight(struct hv *hv, const char *uuid, uint32_t *ret);
int hv_libvirt_set_blkio_weight(struct hv *hv, const char *uuid, uint32_t weight);

#endif
