/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libnl reports failures as its own NLE_* codes; the project speaks -errno.
 * This is the one place that translates (style.md, convention 3).
 */
#ifndef PRESCIENT_LIB_NETLINK_ERRNO_H
#define PRESCIENT_LIB_NETLINK_ERRNO_H

/* NLE_* (either sign) to -errno; 0 stays 0, unknown codes become -EIO. */
int netlink_errno_from_nle(int nle);

#endif
