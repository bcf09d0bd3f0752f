// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ledger's checkpoint file, so reservations survive a restart.
 *
 * Layout (little-endian, version 1):
 *   "PRSCLDGR" | u32 version | u32 n_leases | u64 generation | u64 next_id |
 *   u64 changed_usec | n_leases records | u32 CRC-32 of everything before
 * A record: u64 id, start, end, offered, changed, generation | u8 state,
 *   holder kind, class, n_items | u8 holder length, holder | u16 pinned
 *   length, pinned cpuset list | per item: u8 name length, dimension name,
 *   f64 mean, sd, upper, loading.
 * Dimensions are stored by name, since their order in the pool comes from
 * whatever sysfs listed first after the restart. The file is replaced
 * atomically (temporary file, fsync, rename, fsync of the directory); a file
 * that fails any check is renamed aside, never half-loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "lease_internal.h"
#include "util.h"

#define CKPT_MAGIC	"PRSCLDGR"
#define CKPT_MAGIC_LEN	8
#define CKPT_VERSION	1
#define CKPT_HEADER_LEN (CKPT_MAGIC_LEN + 4 + 4 + 8 + 8 + 8)
#define CKPT_MAX_BYTES	(64u << 20)
#define CKPT_PINNED_MAX 4096

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	/* Bitwise: checkpoints are small and written once a tick; no table to keep. */
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

struct wbuf {
	uint8_t *data;
	size_t len, cap;
	int err;
};

static void w_bytes(struct wbuf *b, const void *p, size_t n)
{
	if (b->err)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *nd;

		while (cap < b->len + n)
			cap *= 2;
		nd = realloc(b->data, cap);
		if (!nd) {
			b->err = -ENOMEM;
			return;
		}
		b->data = nd;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void w_u64(struct wbuf *b, uint64_t v)
{
	uint8_t x[8];

	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	w_bytes(b, x, 8);
}

static void w_u32(struct wbuf *b, uint32_t v)
{
	uint8_t x[4];

	for (int i = 0; i < 4; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	w_bytes(b, x, 4);
}

static void w_u16(struct wbuf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	w_bytes(b, x, 2);
}

static void w_u8(struct wbuf *b, uint8_t v)
{
	w_bytes(b, &v, 1);
}

static void w_f64(struct wbuf *b, double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	w_u64(b, u);
}

static void serialize_locked(const struct ledger *l, struct wbuf *b)
{
	w_bytes(b, CKPT_MAGIC, CKPT_MAGIC_LEN);
	w_u32(b, CKPT_VERSION);
	w_u32(b, (uint32_t)l->n_leases);
	w_u64(b, l->generation);
	w_u64(b, l->next_id);
	w_u64(b, l->changed_usec);
	for (size_t i = 0; i < l->n_leases; i++) {
		const struct lease *ls = &l->leases[i];
		char pinned[CKPT_PINNED_MAX];
		size_t hl = strnlen(ls->holder, sizeof(ls->holder) - 1);

		if (pool_cpuset_format(&ls->admit.pinned, pinned, sizeof(pinned)) < 0) {
			b->err = -ENOBUFS;
			return;
		}
		w_u64(b, ls->id);
		w_u64(b, ls->start_usec);
		w_u64(b, ls->end_usec);
		w_u64(b, ls->offered_usec);
		w_u64(b, ls->changed_usec);
		w_u64(b, ls->generation);
		w_u8(b, (uint8_t)ls->state);
		w_u8(b, (uint8_t)ls->holder_kind);
		w_u8(b, (uint8_t)ls->admit.cls);
		w_u8(b, (uint8_t)ls->admit.n_items);
		w_u8(b, (uint8_t)hl);
		w_bytes(b, ls->holder, hl);
		w_u16(b, (uint16_t)strlen(pinned));
		w_bytes(b, pinned, strlen(pinned));
		for (uint32_t k = 0; k < ls->admit.n_items; k++) {
			const struct admit_item *it = &ls->admit.items[k];
			const char *name = l->pool.dims[it->dim].name;
			size_t nl = strnlen(name, POOL_NAME_MAX - 1);

			w_u8(b, (uint8_t)nl);
			w_bytes(b, name, nl);
			w_f64(b, it->demand.mean);
			w_f64(b, it->demand.sd);
			w_f64(b, it->demand.upper);
			w_f64(b, it->demand.loading);
		}
	}
	w_u32(b, crc32_ieee(b->data, b->len));
}

int ledger_checkpoint_save(struct ledger *l, const char *path)
{
	struct wbuf b = { 0 };
	int r;

	if (!path)
		return -EINVAL;
	pthread_mutex_lock(&l->lock);
	serialize_locked(l, &b);
	pthread_mutex_unlock(&l->lock);
	if (b.err) {
		free(b.data);
		return b.err;
	}

	/* One writer at a time: two saves must not interleave their renames. */
	pthread_mutex_lock(&l->ckpt_lock);
	r = util_file_write_atomic(path, b.data, b.len);
	pthread_mutex_unlock(&l->ckpt_lock);
	free(b.data);
	return r;
}

struct rbuf {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static const uint8_t *r_take(struct rbuf *b, size_t n)
{
	const uint8_t *p = b->p;

	if (b->bad || n > b->left) {
		b->bad = true;
		return NULL;
	}
	b->p += n;
	b->left -= n;
	return p;
}

static uint64_t r_uint(struct rbuf *b, unsigned bytes)
{
	const uint8_t *p = r_take(b, bytes);
	uint64_t v = 0;

	if (!p)
		return 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static double r_f64(struct rbuf *b)
{
	uint64_t u = r_uint(b, 8);
	double v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

/* A length-prefixed string without NULs, into dst of size (length < size). */
static void r_string(struct rbuf *b, size_t len, char *dst, size_t size)
{
	const uint8_t *p;

	if (len >= size) {
		b->bad = true;
		return;
	}
	p = r_take(b, len);
	if (!p)
		return;
	if (memchr(p, '\0', len)) {
		b->bad = true;
		return;
	}
	memcpy(dst, p, len);
	dst[len] = '\0';
}

static bool parse_lease(struct rbuf *b, struct ledger_checkpoint_lease *cl)
{
	struct lease *ls = &cl->lease;
	char pinned[CKPT_PINNED_MAX];
	unsigned state, kind, cls, n_items;

	memset(cl, 0, sizeof(*cl));
	ls->id = r_uint(b, 8);
	ls->start_usec = r_uint(b, 8);
	ls->end_usec = r_uint(b, 8);
	ls->offered_usec = r_uint(b, 8);
	ls->changed_usec = r_uint(b, 8);
	ls->generation = r_uint(b, 8);
	state = (unsigned)r_uint(b, 1);
	kind = (unsigned)r_uint(b, 1);
	cls = (unsigned)r_uint(b, 1);
	n_items = (unsigned)r_uint(b, 1);
	r_string(b, (size_t)r_uint(b, 1), ls->holder, sizeof(ls->holder));
	r_string(b, (size_t)r_uint(b, 2), pinned, sizeof(pinned));
	if (b->bad || ls->id == 0 || state >= LEASE_NR_STATES || kind >= LEASE_NR_HOLDER_KINDS ||
	    cls >= POOL_NR_CLASSES || n_items > ADMIT_MAX_ITEMS || !ls->holder[0] ||
	    (ls->end_usec && ls->end_usec <= ls->start_usec))
		return false;
	if (pool_cpuset_parse(pinned, &ls->admit.pinned) < 0)
		return false;
	ls->state = (enum lease_state)state;
	ls->holder_kind = (enum lease_holder_kind)kind;
	ls->admit.cls = (enum pool_class)cls;
	ls->admit.n_items = n_items;
	for (unsigned k = 0; k < n_items; k++) {
		struct ledger_checkpoint_item *it = &cl->items[k];
		struct risk_dist *d = &it->demand;

		r_string(b, (size_t)r_uint(b, 1), it->dim, sizeof(it->dim));
		d->mean = r_f64(b);
		d->sd = r_f64(b);
		d->upper = r_f64(b);
		d->loading = r_f64(b);
		if (b->bad || !it->dim[0] || !isfinite(d->mean) || d->mean < 0 ||
		    !isfinite(d->sd) || d->sd < 0 || !isfinite(d->upper) ||
		    !(d->loading >= -1 && d->loading <= 1))
			return false;
		for (unsigned j = 0; j < k; j++)
			if (strcmp(cl->items[j].dim, it->dim) == 0)
				return false;
	}
	return true;
}

void ledger_checkpoint_done(struct ledger_checkpoint *c)
{
	if (!c)
		return;
	free(c->leases);
	c->leases = NULL;
	c->n_leases = 0;
}

int ledger_checkpoint_parse(const void *buf, size_t len, struct ledger_checkpoint *ret)
{
	struct ledger_checkpoint c = { 0 };
	struct rbuf b = { .p = buf, .left = len };
	uint32_t crc, n;

	if (!buf || len < CKPT_HEADER_LEN + 4 || len > CKPT_MAX_BYTES)
		return -EBADMSG;
	if (memcmp(buf, CKPT_MAGIC, CKPT_MAGIC_LEN) != 0)
		return -EBADMSG;
	b.left -= 4; /* the CRC trails */
	crc = (uint32_t)((const uint8_t *)buf)[len - 4] |
	      (uint32_t)((const uint8_t *)buf)[len - 3] << 8 |
	      (uint32_t)((const uint8_t *)buf)[len - 2] << 16 |
	      (uint32_t)((const uint8_t *)buf)[len - 1] << 24;
	if (crc != crc32_ieee(buf, len - 4))
		return -EBADMSG;
	r_take(&b, CKPT_MAGIC_LEN);
	c.version = (uint32_t)r_uint(&b, 4);
	/* A newer daemon's file may mean things this one cannot honour: refuse, do not guess. */
	if (c.version != CKPT_VERSION)
		return -EBADMSG;
	n = (uint32_t)r_uint(&b, 4);
	c.generation = r_uint(&b, 8);
	c.next_id = r_uint(&b, 8);
	c.changed_usec = r_uint(&b, 8);
	if (n > LEASE_MAX)
		return -EBADMSG;
	/* A record is at least 52 bytes: bound the allocation by what the file can hold. */
	if ((size_t)n * 52 > b.left)
		return -EBADMSG;
	c.leases = calloc(n ? n : 1, sizeof(*c.leases));
	if (!c.leases)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		if (!parse_lease(&b, &c.leases[i]) || c.leases[i].lease.id >= c.next_id) {
			free(c.leases);
			return -EBADMSG;
		}
		for (uint32_t j = 0; j < i; j++)
			if (c.leases[j].lease.id == c.leases[i].lease.id) {
				free(c.leases);
				return -EBADMSG;
			}
	}
	if (b.bad || b.left != 0) {
		free(c.leases);
		return -EBADMSG;
	}
	c.n_leases = n;
	*ret = c;
	return 0;
}

static int read_file(const char *path, uint8_t **ret_buf, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	struct stat st;
	size_t len = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	if ((uint64_t)st.st_size > CKPT_MAX_BYTES)
		return -EBADMSG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (len < (size_t)st.st_size + 1) {
		ssize_t k = read(fd, buf + len, (size_t)st.st_size + 1 - len);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	if (len > (size_t)st.st_size)
		return -EBADMSG; /* grew while read: not a finished checkpoint */
	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static void quarantine(const char *path)
{
	_cleanup_free_ char *aside = NULL;

	if (asprintf(&aside, "%s.corrupt", path) < 0)
		return;
	/* Best effort: the caller goes on either way, and the bad file is never loaded. */
	(void)rename(path, aside);
}

int ledger_checkpoint_load(struct ledger *l, const char *path, size_t *ret_n_loaded)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct ledger_checkpoint c;
	struct lease *leases = NULL;
	size_t len = 0, n = 0;
	int r;

	if (!path)
		return -EINVAL;
	r = read_file(path, &buf, &len);
	if (r == -EBADMSG) {
		quarantine(path);
		return r;
	}
	if (r < 0)
		return r;
	r = ledger_checkpoint_parse(buf, len, &c);
	if (r == -EBADMSG) {
		quarantine(path);
		return r;
	}
	if (r < 0)
		return r;

	pthread_mutex_lock(&l->lock);
	if (c.n_leases > l->params.max_leases) {
		pthread_mutex_unlock(&l->lock);
		ledger_checkpoint_done(&c);
		return -E2BIG;
	}
	leases = calloc(c.n_leases ? c.n_leases : 1, sizeof(*leases));
	if (!leases) {
		pthread_mutex_unlock(&l->lock);
		ledger_checkpoint_done(&c);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c.n_leases; i++) {
		struct lease *ls = &leases[n];
		uint32_t k = 0;

		*ls = c.leases[i].lease;
		for (uint32_t j = 0; j < ls->admit.n_items; j++) {
			int d = pool_dim_find(&l->pool, c.leases[i].items[j].dim);

			/* A dimension the host no longer has (a tap gone) holds nothing. */
			if (d < 0)
				continue;
			ls->admit.items[k].dim = (uint32_t)d;
			ls->admit.items[k].demand = c.leases[i].items[j].demand;
			k++;
		}
		ls->admit.n_items = k;
		for (unsigned w = 0; w < POOL_CPUSET_WORDS; w++)
			ls->admit.pinned.bits[w] &= l->pool.machine_cpus.bits[w];
		if (pool_dim_find(&l->pool, "cpu") < 0)
			memset(&ls->admit.pinned, 0, sizeof(ls->admit.pinned));
		ls->explain =
			(struct admit_explanation){ .verdict = ADMIT_ACCEPT, .cls = ls->admit.cls };
		snprintf(ls->explain.reason, sizeof(ls->explain.reason),
			 "restored from checkpoint (granted at generation %llu)",
			 (unsigned long long)ls->generation);
		n++;
	}
	free(l->leases);
	l->leases = leases;
	l->n_leases = n;
	l->cap = c.n_leases ? c.n_leases : 1;
	if (c.next_id > l->next_id)
		l->next_id = c.next_id;
	/* Never hand out a generation a peer may still hold from before the restart. */
	if (c.generation >= l->generation)
		l->generation = c.generation;
	if (c.changed_usec > l->changed_usec)
		l->changed_usec = c.changed_usec;
	ledger_state_rebuild_locked(l);
	l->generation++;
	pthread_mutex_unlock(&l->lock);
	ledger_checkpoint_done(&c);
	if (ret_n_loaded)
		*ret_n_loaded = n;
	return 0;
}
