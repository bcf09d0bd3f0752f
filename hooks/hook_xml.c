// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A deliberately small scanner over the domain XML (see hook_xml.h). The
 * hook must stay tiny and must not depend on libvirt or libxml2, and it only
 * needs two leaf elements, so it walks tags and tracks depth. It never reads
 * past len and gives up ("not found") on anything it does not understand.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "hook_xml.h"
#include "util.h"

static const char *find(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	for (; p + n <= end; p++)
		if (*p == needle[0] && !memcmp(p, needle, n))
			return p;
	return NULL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The end of a start or end tag: the '>' not inside a quoted attribute value. */
static const char *tag_end(const char *p, const char *end)
{
	char quote = 0;

	for (; p < end; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (*p == '>') {
			return p;
		}
	}
	return NULL;
}

/* Copies the text of a leaf element <tag>text</tag> (trimmed) if it fits and is plain. */
static void leaf_text(const char *p, const char *end, const char *tag, char *dst, size_t size)
{
	const char *lt = memchr(p, '<', (size_t)(end - p));
	size_t tl = strlen(tag), n;

	if (!lt || lt + 2 + tl + 1 > end || lt[1] != '/' || memcmp(lt + 2, tag, tl) ||
	    (lt[2 + tl] != '>' && !is_space(lt[2 + tl])))
		return;
	while (p < lt && is_space(*p))
		p++;
	while (lt > p && is_space(lt[-1]))
		lt--;
	n = (size_t)(lt - p);
	if (n == 0 || n >= size || memchr(p, '\0', n))
		return;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

int hook_xml_domain_id(const char *xml, size_t len, struct hook_domain_id *ret)
{
	const char *p = xml, *end = xml + len;
	struct hook_domain_id id = { 0 };
	bool in_domain = false;
	int depth = 0;

	if (!xml)
		return -EINVAL;
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p)), *gt, *name;
		size_t name_len;
		bool closing, self_closing;

		if (!lt)
			break;
		if (end - lt >= 4 && !memcmp(lt, "<!--", 4)) {
			gt = find(lt + 4, end, "-->");
			if (!gt)
				break;
			p = gt + 3;
			continue;
		}
		if (end - lt >= 9 && !memcmp(lt, "<![CDATA[", 9)) {
			gt = find(lt + 9, end, "]]>");
			if (!gt)
				break;
			p = gt + 3;
			continue;
		}
		if (end - lt >= 2 && (lt[1] == '?' || lt[1] == '!')) {
			gt = find(lt + 2, end, lt[1] == '?' ? "?>" : ">");
			if (!gt)
				break;
			p = gt + (lt[1] == '?' ? 2 : 1);
			continue;
		}
		closing = end - lt >= 2 && lt[1] == '/';
		name = lt + (closing ? 2 : 1);
		gt = tag_end(name, end);
		if (!gt)
			break;
		for (name_len = 0;
		     name + name_len < gt && !is_space(name[name_len]) && name[name_len] != '/';
		     name_len++)
			;
		self_closing = !closing && gt[-1] == '/' && gt - 1 >= name;
		p = gt + 1;

		if (closing) {
			if (--depth < 0)
				break;
			if (depth == 0 && in_domain)
				break; /* </domain>: done */
			continue;
		}
		if (depth == 0) {
			if (name_len != 6 || memcmp(name, "domain", 6))
				break; /* not a domain document */
			in_domain = true;
		} else if (depth == 1 && !self_closing) {
			if (name_len == 4 && !memcmp(name, "uuid", 4) && !id.uuid[0])
				leaf_text(p, end, "uuid", id.uuid, sizeof(id.uuid));
			else if (name_len == 4 && !memcmp(name, "name", 4) && !id.name[0])
				leaf_text(p, end, "name", id.name, sizeof(id.name));
		}
		if (!self_closing)
			depth++;
	}
	if (!in_domain)
		return -EINVAL;
	if (id.uuid[0] && !util_uuid_valid(id.uuid))
		id.uuid[0] = '\0';
	*ret = id;
	return 0;
}
