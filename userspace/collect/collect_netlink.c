// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rtnetlink link statistics through libnl-route's link cache. The cache is
 * refilled once a tick and copied into a name-sorted array so that each VM's
 * taps are found by binary search instead of libnl's linear name lookup.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "cleanup.h"
#include "collect_netlink.h"
#include "netlink-errno.h"

struct collect_nl {
	struct nl_sock *sk;
	struct nl_cache *cache;
	struct collect_nl_link *links;
	size_t n_links;
	size_t cap_links;
};

void collect_nl_close(struct collect_nl *nl)
{
	if (!nl)
		return;
	if (nl->cache)
		nl_cache_free(nl->cache);
	if (nl->sk)
		nl_socket_free(nl->sk);
	free(nl->links);
	free(nl);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct collect_nl *, collect_nl_close);

int collect_nl_open(struct collect_nl **ret)
{
	_cleanup_(collect_nl_closep) struct collect_nl *nl = NULL;
	int r;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->sk = nl_socket_alloc();
	if (!nl->sk)
		return -ENOMEM;
	r = nl_connect(nl->sk, NETLINK_ROUTE);
	if (r < 0)
		return netlink_errno_from_nle(r);
	/* Allocating the cache dumps it once, which also proves we may. */
	r = rtnl_link_alloc_cache(nl->sk, AF_UNSPEC, &nl->cache);
	if (r < 0)
		return netlink_errno_from_nle(r);
	*ret = TAKE_PTR(nl);
	return 0;
}

static int link_cmp(const void *a, const void *b)
{
	return strcmp(((const struct collect_nl_link *)a)->name,
		      ((const struct collect_nl_link *)b)->name);
}

int collect_nl_refresh(struct collect_nl *nl)
{
	struct nl_object *obj;
	size_t n = 0;
	int r;

	r = nl_cache_refill(nl->sk, nl->cache);
	if (r < 0) {
		nl->n_links = 0;
		return netlink_errno_from_nle(r);
	}
	for (obj = nl_cache_get_first(nl->cache); obj; obj = nl_cache_get_next(obj)) {
		struct rtnl_link *link = (struct rtnl_link *)obj;
		struct collect_nl_link *l;
		const char *name = rtnl_link_get_name(link);

		if (!name || strlen(name) >= sizeof(l->name))
			continue;
		if (n == nl->cap_links) {
			size_t cap = nl->cap_links ? nl->cap_links * 2 : 64;
			struct collect_nl_link *nb = realloc(nl->links, cap * sizeof(*nb));

			if (!nb) {
				nl->n_links = 0;
				return -ENOMEM;
			}
			nl->links = nb;
			nl->cap_links = cap;
		}
		l = &nl->links[n++];
		strcpy(l->name, name);
		l->ifindex = rtnl_link_get_ifindex(link);
		l->rx_bytes = rtnl_link_get_stat(link, RTNL_LINK_RX_BYTES);
		l->tx_bytes = rtnl_link_get_stat(link, RTNL_LINK_TX_BYTES);
		l->rx_packets = rtnl_link_get_stat(link, RTNL_LINK_RX_PACKETS);
		l->tx_packets = rtnl_link_get_stat(link, RTNL_LINK_TX_PACKETS);
	}
	qsort(nl->links, n, sizeof(*nl->links), link_cmp);
	nl->n_links = n;
	return 0;
}

int collect_nl_lookup(const struct collect_nl *nl, const char *name,
		      const struct collect_nl_link **ret)
{
	struct collect_nl_link key;
	const struct collect_nl_link *l;

	if (strlen(name) >= sizeof(key.name))
		return -ENOENT;
	strcpy(key.name, name);
	l = bsearch(&key, nl->links, nl->n_links, sizeof(*nl->links), link_cmp);
	if (!l)
		return -ENOENT;
	*ret = l;
	return 0;
}
