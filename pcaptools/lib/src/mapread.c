/* Offline captures parsed in place from a mapping or a buffer. */
#include <fcntl.h>
#include <pcap/pcap.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf_int.h"
#include "mapread.h"
#include "pcap_int.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define NG_SHB 0x0a0d0d0au
#define NG_IDB 1u
#define NG_PB 2u   /* obsolete Packet Block: left to libpcap */
#define NG_SPB 3u
#define NG_EPB 6u
#define NG_BOM 0x1a2b3c4du
/* libpcap's largest packet for the link types kafkit reads, and its
 * largest pcapng block: anything bigger is its error to report. */
#define MAX_SNAPLEN 262144u
#define MAX_BLOCK ((uint32_t)16 << 20)
/* The mapping is made resident a window at a time, ahead of the reader
 * (one madvise instead of a page fault per few pages), and consumed pages
 * are given back behind it, so a mapped file never stays resident (peak
 * RSS stays small). */
#define WINDOW ((size_t)256 << 10)
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; older kernels: EINVAL, harmless */
#endif

static inline uint32_t rd32(const uint8_t *p, bool swap)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

static inline uint16_t rd16(const uint8_t *p, bool swap)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return swap ? __builtin_bswap16(v) : v;
}

/* libpcap's snapshot length for a header's value (0 or too big: the
 * maximum). */
static uint32_t adjust_snapshot(uint32_t snaplen)
{
	return snaplen == 0 || snaplen > MAX_SNAPLEN ? MAX_SNAPLEN : snaplen;
}

/* The length of a clean pcapng block at off (>= 12, a multiple of 4,
 * within the input and MAX_BLOCK, trailer equal to header), else 0. */
static uint32_t ng_block(const kx__map *m, size_t off)
{
	size_t left = m->len - off;
	if (left < 12)
		return 0;
	uint32_t n = rd32(m->base + off + 4, m->swap);
	if (n < 12 || n % 4 || n > left || n > MAX_BLOCK ||
	    rd32(m->base + off + n - 4, m->swap) != n)
		return 0;
	return n;
}

/* Units per second of an IDB body (len bytes at b): 10^6 unless an
 * if_tsresol option says otherwise. Returns 0 when the options are not
 * clean (overrun, odd lengths, duplicates, a binary or finer than
 * nanosecond resolution, an if_tsoffset): libpcap takes over. */
static uint64_t idb_tsresol(const uint8_t *b, size_t len, bool swap)
{
	uint64_t res = 1000000;
	bool seen = false;
	size_t o = 8;
	while (o < len) {
		if (len - o < 4)
			return 0;
		uint16_t code = rd16(b + o, swap), olen = rd16(b + o + 2, swap);
		size_t padded = ((size_t)olen + 3) & ~(size_t)3;
		if (padded > len - o - 4)
			return 0;
		if (code == 0) /* opt_endofopt */
			return olen ? 0 : res;
		if (code == 14) /* if_tsoffset */
			return 0;
		if (code == 9) { /* if_tsresol */
			if (olen != 1 || seen || b[o + 4] > 9)
				return 0;
			seen = true;
			res = 1;
			for (unsigned i = 0; i < b[o + 4]; i++)
				res *= 10;
		}
		o += 4 + padded;
	}
	return res;
}

/* Compile r's filter for m's link type as libpcap would for the file.
 * Returns 0, 1 when it does not compile (libpcap will say why), or
 * KX_ERR_NOMEM. */
static int compile(kx_reader *r, kx__map *m)
{
	if (!r->opts.filter)
		return 0;
	pcap_t *dead = pcap_open_dead_with_tstamp_precision(
		m->dlt, (int)m->snapshot, PCAP_TSTAMP_PRECISION_NANO);
	if (!dead)
		return KX_ERR_NOMEM;
	struct bpf_program *prog = kc__malloc(sizeof *prog);
	if (!prog) {
		pcap_close(dead);
		return KX_ERR_NOMEM;
	}
	memset(prog, 0, sizeof *prog);
	int c = pcap_compile(dead, prog, r->opts.filter, 1,
			     PCAP_NETMASK_UNKNOWN);
	pcap_close(dead);
	if (c != 0) {
		kc__free(prog);
		return 1;
	}
	m->prog = prog;
	return 0;
}

/* The pcap file header: version 2.4, a link type kafkit reads. */
static bool pcap_header(kx__map *m)
{
	if (m->len < 24)
		return false;
	uint32_t magic;
	memcpy(&magic, m->base, 4);
	m->swap = magic == __builtin_bswap32(PCAP_MAGIC_US) ||
		  magic == __builtin_bswap32(PCAP_MAGIC_NS);
	if (m->swap)
		magic = __builtin_bswap32(magic);
	if (magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS)
		return false;
	m->nano = magic == PCAP_MAGIC_NS;
	if (rd16(m->base + 4, m->swap) != 2 || rd16(m->base + 6, m->swap) != 4)
		return false;
	uint32_t lt = rd32(m->base + 20, m->swap);
	if (!kx__linktype_known(lt)) /* extension bits (FCS) included */
		return false;
	m->linktype = (int)lt;
	m->snapshot = adjust_snapshot(rd32(m->base + 16, m->swap));
	m->off = 24;
	return true;
}

/* The first SHB (version 1.0; 1.2 is left to libpcap) and the blocks up to the first IDB,
 * which must come before any packet. */
static bool pcapng_header(kx__map *m)
{
	if (m->len < 28 || rd32(m->base, false) != NG_SHB)
		return false;
	uint32_t bom;
	memcpy(&bom, m->base + 8, 4);
	if (bom != NG_BOM && bom != __builtin_bswap32(NG_BOM))
		return false;
	m->swap = bom != NG_BOM;
	uint32_t n = ng_block(m, 0);
	uint16_t minor = rd16(m->base + 14, m->swap);
	if (n < 28 || n > ((uint32_t)1 << 20) ||
	    rd16(m->base + 12, m->swap) != 1 || minor != 0)
		return false;
	m->ng = true;
	m->off = n;
	for (size_t o = n; o < m->len;) {
		uint32_t bn = ng_block(m, o);
		if (!bn)
			return false;
		uint32_t type = rd32(m->base + o, m->swap);
		if (type == NG_IDB) {
			if (bn < 20 || !idb_tsresol(m->base + o + 8, bn - 12,
						    m->swap))
				return false;
			uint32_t lt = rd16(m->base + o + 8, m->swap);
			if (!kx__linktype_known(lt))
				return false;
			m->linktype = (int)lt;
			m->snapshot = adjust_snapshot(
				rd32(m->base + o + 12, m->swap));
			m->first_idb = o;
			return true;
		}
		if (type == NG_SHB || type == NG_EPB || type == NG_SPB ||
		    type == NG_PB)
			return false;
		o += bn;
	}
	return false;
}

/* Take over m (already holding base/len) for r if its headers are clean.
 * Returns 0, 1 (libpcap instead; m freed) or KX_ERR_NOMEM (m freed). */
static int adopt(kx_reader *r, kx__map *m)
{
	if (!pcap_header(m) && !pcapng_header(m)) {
		kx__map_free(m);
		return 1;
	}
	m->dlt = m->linktype == KX_LINK_RAW ? DLT_RAW : m->linktype;
	int rc = compile(r, m);
	if (rc) {
		kx__map_free(m);
		return rc;
	}
	r->map = m;
	r->linktype = m->linktype;
	return 0;
}

static kx__map *map_new(void)
{
	kx__map *m = kc__malloc(sizeof *m);
	if (m)
		memset(m, 0, sizeof *m);
	return m;
}

/* Slow path of window(): give back the pages before off (the reader
 * keeps no pointer into a packet once kx_reader_packet returned) and make
 * the next window resident. */
static void slide(kx__map *m, size_t off)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t end = off / pg * pg;
	if (end > m->released) {
		madvise((void *)(m->base + m->released), end - m->released,
			MADV_DONTNEED);
		m->released = end;
	}
	size_t from = m->ahead / pg * pg;
	size_t to = m->ahead + 2 * WINDOW < m->len ? m->ahead + 2 * WINDOW
						   : m->len;
	if (to > from)
		madvise((void *)(m->base + from), to - from, MADV_POPULATE_READ);
	m->ahead = to;
}

/* Keep the resident part of a mapping to a few windows around off: on
 * the pager's thread, or here when it could not be started. */
static inline void window(kx__map *m, size_t off)
{
	if (m->paging)
		kx__pager_advance(&m->pager, off);
	else if (m->mapped && off + WINDOW > m->ahead && m->ahead < m->len)
		slide(m, off);
}

int kx__map_open_file(kx_reader *r, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
	    (uintmax_t)sb.st_size > SIZE_MAX) {
		close(fd);
		return 1;
	}
	size_t len = (size_t)sb.st_size;
	void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return 1;
	madvise(p, len, MADV_SEQUENTIAL);
	kx__map *m = map_new();
	size_t pn = strlen(path) + 1;
	char *pd = m ? kc__malloc(pn) : NULL;
	if (!pd) {
		kc__free(m);
		munmap(p, len);
		return KX_ERR_NOMEM;
	}
	memcpy(pd, path, pn);
	m->base = p;
	m->len = len;
	m->mapped = true;
	m->path = pd;
	m->paging = kx__pager_start(&m->pager, p, len) == 0;
	window(m, 0);
	return adopt(r, m);
}

int kx__map_open_buf(kx_reader *r, const uint8_t *p, size_t n)
{
	if (!n)
		return 1;
	kx__map *m = map_new();
	if (!m)
		return KX_ERR_NOMEM;
	m->base = p;
	m->len = n;
	return adopt(r, m);
}

void kx__map_free(kx__map *m)
{
	if (!m)
		return;
	if (m->paging)
		kx__pager_stop(&m->pager);
	if (m->mapped)
		munmap((void *)m->base, m->len);
	if (m->prog) {
		pcap_freecode(m->prog);
		kc__free(m->prog);
	}
	kc__free(m->tsresol);
	kc__free(m->path);
	kc__free(m);
}

/* One packet: filter, then the reader. */
static inline int deliver(kx_reader *r, kx__map *m, int64_t ts,
			  const uint8_t *p, uint32_t caplen, uint32_t len)
{
	if (m->prog) {
		struct pcap_pkthdr h = {.caplen = caplen, .len = len};
		if (!pcap_offline_filter(m->prog, &h, p))
			return 0;
	}
	return kx_reader_packet(r, m->linktype, ts, p, caplen, len);
}

static int run_pcap(kx_reader *r, kx__map *m, bool *handoff)
{
	const uint8_t *b = m->base;
	while (!atomic_load_explicit(&r->stop_req, memory_order_relaxed)) {
		size_t left = m->len - m->off;
		if (!left)
			return 0;
		if (left < 16)
			break;
		const uint8_t *h = b + m->off;
		uint32_t caplen = rd32(h + 8, m->swap);
		if (caplen > m->snapshot || caplen > left - 16)
			break;
		/* libpcap reads both as signed 32-bit, scales the fraction,
		 * and reader.c combines them (in 64 bits, wrapping) */
		int32_t sec = (int32_t)rd32(h, m->swap);
		int32_t frac = (int32_t)rd32(h + 4, m->swap);
		int64_t ts = (int64_t)((uint64_t)(int64_t)sec * 1000000000u +
				       (uint64_t)(int64_t)frac *
					       (m->nano ? 1u : 1000u));
		m->off += 16 + (size_t)caplen;
		m->records++;
		int rc = deliver(r, m, ts, h + 16, caplen, rd32(h + 12, m->swap));
		if (rc)
			return rc;
		window(m, m->off);
	}
	if (atomic_load_explicit(&r->stop_req, memory_order_relaxed))
		return 0;
	*handoff = true;
	return 0;
}

/* An IDB of the current section; false when libpcap is to take over. */
static bool ng_idb(kx_reader *r, kx__map *m, size_t o, uint32_t bn)
{
	const uint8_t *b = m->base + o;
	if (bn < 20)
		return false;
	if (o != m->first_idb) {
		/* libpcap holds every interface to the first one's link type
		 * (as a DLT_ value) and snapshot length */
		if (rd16(b + 8, m->swap) != (uint32_t)m->dlt ||
		    adjust_snapshot(rd32(b + 12, m->swap)) != m->snapshot)
			return false;
	}
	uint64_t res = idb_tsresol(b + 8, bn - 12, m->swap);
	if (!res)
		return false;
	if (m->nifs == m->ifcap) {
		size_t cap = m->ifcap ? m->ifcap * 2 : 4;
		uint64_t *v = kc__realloc(m->tsresol, cap * sizeof *v);
		if (!v) {
			kx__fail(r, KX_ERR_NOMEM, "out of memory");
			r->stop_rc = KX_ERR_NOMEM;
			return false;
		}
		m->tsresol = v;
		m->ifcap = cap;
	}
	m->tsresol[m->nifs++] = res;
	return true;
}

/* Nanoseconds of a pcapng timestamp t in units of res per second, as
 * libpcap computes it (seconds, then the fraction scaled). */
static inline int64_t ng_ts(uint64_t t, uint64_t res)
{
	uint64_t sec = t / res, frac = t % res;
	frac = res <= 1000000000u ? frac * (1000000000u / res)
				  : frac / (res / 1000000000u);
	return (int64_t)(sec * 1000000000u + frac);
}

static int run_pcapng(kx_reader *r, kx__map *m, bool *handoff)
{
	while (!atomic_load_explicit(&r->stop_req, memory_order_relaxed)) {
		if (m->off == m->len)
			return 0;
		uint32_t bn = ng_block(m, m->off);
		if (!bn)
			break;
		const uint8_t *b = m->base + m->off;
		size_t o = m->off;
		uint32_t body = bn - 12;
		switch (rd32(b, m->swap)) {
		case NG_SHB:
			/* a new section: same byte order, version 1.0 */
			if (body < 16 || rd32(b + 8, m->swap) != NG_BOM ||
			    rd16(b + 12, m->swap) != 1 ||
			    rd16(b + 14, m->swap) != 0)
				goto out;
			m->nifs = 0;
			break;
		case NG_IDB:
			if (!ng_idb(r, m, o, bn))
				goto out;
			break;
		case NG_EPB: {
			if (body < 20)
				goto out;
			uint32_t ifc = rd32(b + 8, m->swap);
			uint32_t caplen = rd32(b + 20, m->swap);
			if (ifc >= m->nifs || caplen > body - 20 ||
			    caplen > m->snapshot)
				goto out;
			uint64_t t = (uint64_t)rd32(b + 12, m->swap) << 32 |
				     rd32(b + 16, m->swap);
			m->off += bn;
			m->records++;
			int rc = deliver(r, m, ng_ts(t, m->tsresol[ifc]),
					 b + 28, caplen, rd32(b + 24, m->swap));
			if (rc)
				return rc;
			window(m, m->off);
			continue;
		}
		case NG_SPB: {
			if (body < 4 || !m->nifs)
				goto out;
			uint32_t len = rd32(b + 8, m->swap);
			uint32_t caplen = len < m->snapshot ? len : m->snapshot;
			if (caplen > body - 4)
				goto out;
			m->off += bn;
			m->records++;
			int rc = deliver(r, m, 0, b + 12, caplen, len);
			if (rc)
				return rc;
			window(m, m->off);
			continue;
		}
		case NG_PB:
			goto out;
		default:
			break;
		}
		m->off += bn;
	}
out:
	if (r->stop_rc)
		return r->stop_rc;
	if (atomic_load_explicit(&r->stop_req, memory_order_relaxed))
		return 0;
	*handoff = true;
	return 0;
}

int kx__map_run(kx_reader *r, bool *handoff)
{
	*handoff = false;
	kx__map *m = r->map;
	return m->ng ? run_pcapng(r, m, handoff) : run_pcap(r, m, handoff);
}
