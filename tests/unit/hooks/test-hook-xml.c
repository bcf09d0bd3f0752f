// SPDX-License-Identifier: GPL-2.0-or-later
/* hook_xml_domain_id(): the domain's own <name> and <uuid>, from a table of XML shapes. */
#include <stdio.h>
#include <string.h>

#include "hook_xml.h"
#include "cleanup.h"
#include "tap.h"

#define U1 "6f1c1a3e-0c1b-4f5e-9d2a-2b7f0b9e4c11"
#define U2 "00000000-0000-0000-0000-000000000002"

struct xml_case {
	const char *xml;
	int r;
	const char *name, *uuid;
};

static const struct xml_case cases[] = {
	{ "<domain type='kvm'><name>web1</name><uuid>" U1 "</uuid></domain>", 0, "web1", U1 },
	{ "<?xml version='1.0'?>\n<!DOCTYPE x>\n<domain>\n  <name> db 2 </name>\n  <uuid>\n" U1
	  "\n</uuid>\n</domain>",
	  0, "db 2", U1 },
	/* the first direct child wins; nested, commented and CDATA ones never count */
	{ "<domain><!-- <uuid>" U2 "</uuid> --><devices><disk><uuid>" U2 "</uuid></disk>"
	  "</devices><![CDATA[<uuid>" U2 "</uuid>]]><uuid>" U1 "</uuid><uuid>" U2 "</uuid>"
	  "</domain>",
	  0, "", U1 },
	/* attributes with '>' inside quotes do not end the tag */
	{ "<domain a='x>y' b=\"<uuid>\"><name>n</name><uuid>" U1 "</uuid></domain>", 0, "n", U1 },
	/* self-closing siblings keep the depth right */
	{ "<domain><features><acpi/><apic/></features><vcpu/><uuid>" U1 "</uuid></domain>", 0, "",
	  U1 },
	/* malformed UUIDs and mixed content are dropped, not guessed */
	{ "<domain><uuid>not-a-uuid</uuid></domain>", 0, "", "" },
	{ "<domain><uuid>" U1 "<b/></uuid></domain>", 0, "", "" },
	{ "<domain><uuid>" U1 "</uuidx></domain>", 0, "", "" },
	{ "<domain><uuid/></domain>", 0, "", "" },
	/* truncated documents: what was complete still counts */
	{ "<domain><name>w</name><uuid>" U1 "</uuid><devi", 0, "w", U1 },
	{ "<domain><uuid>" U1, 0, "", "" },
	/* not a domain */
	{ "<network><uuid>" U1 "</uuid></network>", -22, NULL, NULL },
	{ "", -22, NULL, NULL },
	{ "just text", -22, NULL, NULL },
	{ "<", -22, NULL, NULL },
	{ "</domain>", -22, NULL, NULL },
	{ "<!-- unterminated", -22, NULL, NULL },
};

int main(void)
{
	char longname[300];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct hook_domain_id id = { .name = "untouched" };
		int r = hook_xml_domain_id(cases[i].xml, strlen(cases[i].xml), &id);

		if (r != cases[i].r) {
			fprintf(stderr, "case %zu: r=%d, expected %d\n", i, r, cases[i].r);
			test_failures++;
			continue;
		}
		if (r < 0) {
			check_str_eq(id.name, "untouched");
			continue;
		}
		if (strcmp(id.name, cases[i].name) || strcmp(id.uuid, cases[i].uuid)) {
			fprintf(stderr, "case %zu: name='%s' uuid='%s'\n", i, id.name, id.uuid);
			test_failures++;
		}
	}

	/* never reads past len: the UUID after the cut is not seen */
	{
		const char *x = "<domain><uuid>" U1 "</uuid></domain>";
		struct hook_domain_id id;

		check_int_eq(hook_xml_domain_id(x, 20, &id), 0);
		check_str_eq(id.uuid, "");
	}
	/* a name longer than libvirt allows is dropped */
	{
		struct hook_domain_id id;
		char *p = longname;

		p += sprintf(p, "<domain><name>");
		memset(p, 'n', 200);
		p += 200;
		sprintf(p, "</name></domain>");
		check_int_eq(hook_xml_domain_id(longname, strlen(longname), &id), 0);
		check_str_eq(id.name, "");
	}
	return test_result();
}
