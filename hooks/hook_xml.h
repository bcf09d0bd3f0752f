/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reads the domain's <name> and <uuid> from the domain XML libvirt passes to
 * the hook on stdin, without an XML library: only direct children of the
 * top <domain> element count, comments, CDATA, processing instructions and
 * attributes are skipped. Anything unexpected yields "not found", never a
 * guess: the daemon matches VMs by the name from argv anyway.
 */
#ifndef PRESCIENT_HOOK_XML_H
#define PRESCIENT_HOOK_XML_H

#include <stddef.h>

#define HOOK_UUID_LEN 36
#define HOOK_NAME_MAX 128

struct hook_domain_id {
	char uuid[HOOK_UUID_LEN + 1]; /* "" when absent or malformed */
	char name[HOOK_NAME_MAX];     /* "" when absent or too long */
};

/* 0 when a <domain> element was found (fields may still be empty); -EINVAL otherwise. */
int hook_xml_domain_id(const char *xml, size_t len, struct hook_domain_id *ret);

#endif
