// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reads what the daemon needs from a live domain XML (virDomainGetXMLDesc):
 * vCPU counts, memory sizes, host-side tap names with the guest's MAC address
 * of each, and disk targets. The XML comes from outside (libvirtd, or a
 * hook's stdin through the same parser), so libxml2 runs without network,
 * DTDs or entity expansion, the input size is capped, and anything
 * unexpected is skipped rather than trusted.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "hv-libvirt.h"
#include "util.h"

static void xml_freep(xmlChar **p)
{
	if (*p)
		xmlFree(*p);
}

static void xml_doc_freep(xmlDocPtr *p)
{
	if (*p)
		xmlFreeDoc(*p);
}

#define _cleanup_xml_ __attribute__((cleanup(xml_freep)))

static bool node_is(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, (const xmlChar *)name);
}

static const xmlNode *child_find(const xmlNode *parent, const char *name)
{
	for (const xmlNode *c = parent->children; c; c = c->next)
		if (node_is(c, name))
			return c;
	return NULL;
}

/* Unsigned decimal with surrounding blanks; -EINVAL otherwise. */
static int text_parse_u64(const xmlChar *s, uint64_t *ret)
{
	const char *p = (const char *)s;

	if (!p)
		return -EINVAL;
	while (isspace((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	return util_parse_u64(p, ret);
}

static int node_u64(const xmlNode *n, uint64_t *ret)
{
	_cleanup_xml_ xmlChar *s = xmlNodeGetContent(n);

	return text_parse_u64(s, ret);
}

/* libvirt's scaled integers: value plus unit attribute, default KiB. */
static int node_kib(const xmlNode *n, uint64_t *ret)
{
	static const struct {
		const char *unit;
		uint64_t mul, div;
	} units[] = {
		{ "b", 1, 1024 },
		{ "bytes", 1, 1024 },
		{ "KB", 1000, 1024 },
		{ "k", 1, 1 },
		{ "KiB", 1, 1 },
		{ "MB", 1000000, 1024 },
		{ "M", 1024, 1 },
		{ "MiB", 1024, 1 },
		{ "GB", 1000000000, 1024 },
		{ "G", 1024 * 1024, 1 },
		{ "GiB", 1024 * 1024, 1 },
		{ "TB", 1000000000000ULL, 1024 },
		{ "T", 1024ULL * 1024 * 1024, 1 },
		{ "TiB", 1024ULL * 1024 * 1024, 1 },
	};
	_cleanup_xml_ xmlChar *unit = xmlGetProp(n, (const xmlChar *)"unit");
	uint64_t v;
	int r;

	r = node_u64(n, &v);
	if (r < 0)
		return r;
	if (!unit) {
		*ret = v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp((const char *)unit, units[i].unit) != 0)
			continue;
		if (v > UINT64_MAX / units[i].mul)
			return -ERANGE;
		*ret = v * units[i].mul / units[i].div;
		return 0;
	}
	return -EINVAL;
}

/* Copies the "dev" attribute of n's <target> child when it fits. */
static bool target_dev_copy(const xmlNode *n, char *dst, size_t size)
{
	const xmlNode *t = child_find(n, "target");
	_cleanup_xml_ xmlChar *dev = NULL;

	if (!t)
		return false;
	dev = xmlGetProp(t, (const xmlChar *)"dev");
	if (!dev || !dev[0])
		return false;
	return util_strlcpy(dst, (const char *)dev, size) == 0;
}

static bool disk_is_block(const xmlNode *n)
{
	_cleanup_xml_ xmlChar *device = xmlGetProp(n, (const xmlChar *)"device");

	/* cdrom and floppy have no guest I/O worth forecasting */
	return !device || xmlStrEqual(device, (const xmlChar *)"disk") ||
	       xmlStrEqual(device, (const xmlChar *)"lun");
}

/*
 * The <mac address=.../> of an interface as "xx:xx:xx:xx:xx:xx" in lower
 * case; "" when absent or not six hex pairs (the tap stays usable, only
 * what matches on the address is lost).
 */
static void mac_copy(const xmlNode *n, char dst[18])
{
	const xmlNode *m = child_find(n, "mac");
	_cleanup_xml_ xmlChar *addr = NULL;
	const char *s;

	dst[0] = '\0';
	if (!m)
		return;
	addr = xmlGetProp(m, (const xmlChar *)"address");
	s = (const char *)addr;
	if (!s || strlen(s) != 17)
		return;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return;
	}
	for (int i = 0; i < 17; i++)
		dst[i] = (char)tolower((unsigned char)s[i]);
	dst[17] = '\0';
}

struct domxml {
	char uuid[HV_UUID_LEN + 1];
	char name[HV_NAME_MAX];
	uint64_t vcpus_max, vcpus_cur;
	bool have_vcpus_cur;
	uint64_t memory_kib, current_kib;
	bool have_current;
	uint32_t nr_taps;
	char taps[HV_MAX_NICS][HV_IFNAME_MAX];
	char macs[HV_MAX_NICS][18];
	uint32_t nr_disks;
	char disks[HV_MAX_DISKS][32];
};

static void devices_parse(const xmlNode *devices, struct domxml *d)
{
	for (const xmlNode *c = devices->children; c; c = c->next) {
		if (node_is(c, "interface") && d->nr_taps < HV_MAX_NICS) {
			if (target_dev_copy(c, d->taps[d->nr_taps], HV_IFNAME_MAX)) {
				mac_copy(c, d->macs[d->nr_taps]);
				d->nr_taps++;
			}
		} else if (node_is(c, "disk") && d->nr_disks < HV_MAX_DISKS && disk_is_block(c)) {
			if (target_dev_copy(c, d->disks[d->nr_disks], sizeof(d->disks[0])))
				d->nr_disks++;
		}
	}
}

static void vcpu_parse(const xmlNode *n, struct domxml *d)
{
	_cleanup_xml_ xmlChar *cur = xmlGetProp(n, (const xmlChar *)"current");

	if (node_u64(n, &d->vcpus_max) < 0)
		d->vcpus_max = 0;
	if (cur && text_parse_u64(cur, &d->vcpus_cur) == 0)
		d->have_vcpus_cur = true;
}

static void text_copy(const xmlNode *n, char *dst, size_t size)
{
	_cleanup_xml_ xmlChar *s = xmlNodeGetContent(n);
	size_t len;

	if (!s)
		return;
	/* names are for humans: a long one is cut, the UUID identifies the VM */
	len = strnlen((const char *)s, size - 1);
	memcpy(dst, s, len);
	dst[len] = '\0';
}

int hv_domxml_parse(const char *xml, size_t len, struct hv_vm *ret)
{
	__attribute__((cleanup(xml_doc_freep))) xmlDocPtr doc = NULL;
	struct domxml d = { 0 };
	const xmlNode *root;

	if (len > HV_DOMXML_MAX_BYTES)
		return -EFBIG;
	/*
	 * libvirt never writes a DOCTYPE: refuse one before libxml2 sees its
	 * entities (billion laughs, external entities). The encoding is forced
	 * to UTF-8 so that this byte scan sees what the parser sees.
	 */
	if (memmem(xml, len, "<!DOCTYPE", 9) || memmem(xml, len, "<!ENTITY", 8))
		return -EINVAL;
	/* and no NOENT (entity substitution), no DTD loading, no network */
	doc = xmlReadMemory(xml, (int)len, "domain.xml", "UTF-8",
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
				    XML_PARSE_NOBLANKS);
	if (!doc)
		return -EINVAL;
	if (doc->intSubset || doc->extSubset)
		return -EINVAL;
	root = xmlDocGetRootElement(doc);
	if (!root || !node_is(root, "domain"))
		return -EINVAL;

	for (const xmlNode *c = root->children; c; c = c->next) {
		if (node_is(c, "name")) {
			text_copy(c, d.name, sizeof(d.name));
		} else if (node_is(c, "uuid")) {
			char u[HV_UUID_LEN + 2] = "";

			text_copy(c, u, sizeof(u));
			if (strlen(u) == HV_UUID_LEN)
				memcpy(d.uuid, u, sizeof(d.uuid));
		} else if (node_is(c, "vcpu")) {
			vcpu_parse(c, &d);
		} else if (node_is(c, "memory")) {
			if (node_kib(c, &d.memory_kib) < 0)
				d.memory_kib = 0;
		} else if (node_is(c, "currentMemory")) {
			d.have_current = node_kib(c, &d.current_kib) == 0;
		} else if (node_is(c, "devices")) {
			devices_parse(c, &d);
		}
	}

	if (d.vcpus_max > HV_MAX_VCPUS * 16)
		d.vcpus_max = 0;
	if (!d.have_vcpus_cur || d.vcpus_cur > d.vcpus_max)
		d.vcpus_cur = d.vcpus_max;

	memcpy(ret->uuid, d.uuid, sizeof(ret->uuid));
	memcpy(ret->name, d.name, sizeof(ret->name));
	ret->max_vcpus = (uint32_t)d.vcpus_max;
	ret->nr_vcpus = (uint32_t)d.vcpus_cur;
	ret->max_memory_kib = d.memory_kib;
	ret->memory_kib = d.have_current ? d.current_kib : d.memory_kib;
	ret->nr_taps = d.nr_taps;
	memcpy(ret->taps, d.taps, sizeof(ret->taps));
	memcpy(ret->macs, d.macs, sizeof(ret->macs));
	ret->nr_disks = d.nr_disks;
	memcpy(ret->disks, d.disks, sizeof(ret->disks));
	return 0;
}
