/* The public reader: options, libpcap input, packets to connections. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "buf_int.h"
#include "mapread.h"
#include "pcap_int.h"

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = kc__malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

kx_reader *kx_reader_new(const kx_reader_opts *opts, kx_event_cb cb,
			 void *opaque)
{
	if (!cb)
		return NULL;
	kx_reader *r = kc__malloc(sizeof *r);
	if (!r)
		return NULL;
	memset(r, 0, sizeof *r);
	if (opts)
		r->opts = *opts;
	size_t np = r->opts.nbroker_ports && r->opts.broker_ports
			    ? r->opts.nbroker_ports
			    : 1;
	r->ports = kc__malloc(np * sizeof *r->ports);
	if (!r->ports)
		goto nomem;
	if (np == 1 && !(r->opts.nbroker_ports && r->opts.broker_ports))
		r->ports[0] = KX__DEFAULT_PORT;
	else
		memcpy(r->ports, opts->broker_ports, np * sizeof *r->ports);
	r->opts.broker_ports = r->ports;
	r->opts.nbroker_ports = np;
	if (r->opts.filter) {
		r->filter = dup_str(r->opts.filter);
		if (!r->filter)
			goto nomem;
		r->opts.filter = r->filter;
	}
	if (!r->opts.max_frame)
		r->opts.max_frame = KX__DEFAULT_MAX_FRAME;
	if (!r->opts.max_ooo_bytes)
		r->opts.max_ooo_bytes = KX__DEFAULT_MAX_OOO;
	if (!r->opts.max_conns)
		r->opts.max_conns = KX__DEFAULT_MAX_CONNS;
	if (r->opts.snaplen <= 0)
		r->opts.snaplen = 262144;
	if (r->opts.timeout_ms <= 0)
		r->opts.timeout_ms = 100;
	r->cb = cb;
	r->opaque = opaque;
	r->linktype = -1;
	return r;
nomem:
	kc__free(r->ports);
	kc__free(r);
	return NULL;
}

void kx_reader_free(kx_reader *r)
{
	if (!r)
		return;
	if (r->pcap)
		pcap_close(r->pcap);
	kx__map_free(r->map);
	kx__conn_free_all(r);
	kc__free(r->ports);
	kc__free(r->filter);
	kc__free(r);
}

/* Apply r->opts.filter (if any) to pc. Returns 0, or KX_ERR_FILTER with
 * libpcap's message recorded; pc is left open either way. */
static int set_filter(kx_reader *r, pcap_t *pc)
{
	if (!r->opts.filter)
		return 0;
	struct bpf_program prog = {0};
	if (pcap_compile(pc, &prog, r->opts.filter, 1, PCAP_NETMASK_UNKNOWN) !=
		    0 ||
	    pcap_setfilter(pc, &prog) != 0) {
		int rc = kx__fail(r, KX_ERR_FILTER, "filter \"%s\": %s",
				  r->opts.filter, pcap_geterr(pc));
		if (prog.bf_insns)
			pcap_freecode(&prog);
		return rc;
	}
	pcap_freecode(&prog);
	return 0;
}

/* The capture is open: filter, link type. */
static int opened(kx_reader *r, pcap_t *pc, const char *what)
{
	r->pcap = pc;
	/* Files store LINKTYPE_ values; libpcap reports DLT_ values, which
	 * differ only for raw IP (DLT_RAW is 12 or 14 by platform). */
	int dlt = pcap_datalink(pc);
	r->linktype = dlt == DLT_RAW ? KX_LINK_RAW : dlt;
	if (!kx__linktype_known(r->linktype)) {
		const char *name = pcap_datalink_val_to_name(dlt);
		int rc = kx__fail(r, KX_ERR_LINKTYPE,
				  "%s: link type %d (%s) is not supported",
				  what,
				  r->linktype, name ? name : "unknown");
		pcap_close(pc);
		r->pcap = NULL;
		r->linktype = -1;
		return rc;
	}
	int rc = set_filter(r, pc);
	if (rc) {
		pcap_close(pc);
		r->pcap = NULL;
		r->linktype = -1;
	}
	return rc;
}

int kx_reader_open_file(kx_reader *r, const char *path)
{
	if (!path)
		return kx__fail(r, KX_ERR_ARG, "no capture file named");
	if (r->pcap || r->map)
		return kx__fail(r, KX_ERR_STATE, "a capture is already open");
	if (strcmp(path, "-") && !r->opts.use_libpcap) {
		int m = kx__map_open_file(r, path);
		if (m == KX_ERR_NOMEM)
			return kx__fail(r, m, "out of memory");
		if (m == 0)
			return 0;
	}
	char eb[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(
		path, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!pc)
		return kx__fail(r, KX_ERR_IO, "%s: %s",
				strcmp(path, "-") ? path : "standard input",
				eb);
	return opened(r, pc, path);
}

/* libpcap over n bytes at p, nanosecond timestamps; NULL with eb set. */
static pcap_t *pcap_open_mem(const uint8_t *p, size_t n, char *eb)
{
	FILE *f = fmemopen((void *)p, n, "rb");
	if (!f) {
		snprintf(eb, PCAP_ERRBUF_SIZE, "fmemopen failed");
		return NULL;
	}
	pcap_t *pc = pcap_fopen_offline_with_tstamp_precision(
		f, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!pc)
		fclose(f);
	return pc;
}

int kx__reader_open_buf(kx_reader *r, const uint8_t *p, size_t n)
{
	if (!p)
		return kx__fail(r, KX_ERR_ARG, "no capture given");
	if (r->pcap || r->map)
		return kx__fail(r, KX_ERR_STATE, "a capture is already open");
	if (!r->opts.use_libpcap) {
		int m = kx__map_open_buf(r, p, n);
		if (m == KX_ERR_NOMEM)
			return kx__fail(r, m, "out of memory");
		if (m == 0)
			return 0;
	}
	char eb[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pc = pcap_open_mem(p, n, eb);
	if (!pc)
		return kx__fail(r, KX_ERR_IO, "buffer: %s", eb);
	return opened(r, pc, "buffer");
}

/* The mapped reader met a record it leaves to libpcap: reopen the same
 * input with libpcap, skip the packets already delivered (unfiltered, so
 * every record counts), then filter as kx_reader_open_file would. The
 * errors libpcap reports from here on are the ones a libpcap read gives. */
static int hand_off(kx_reader *r)
{
	kx__map *m = r->map;
	char eb[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pc = m->path ? pcap_open_offline_with_tstamp_precision(
				       m->path, PCAP_TSTAMP_PRECISION_NANO, eb)
			     : pcap_open_mem(m->base, m->len, eb);
	if (!pc)
		return kx__fail(r, KX_ERR_IO, "%s: %s",
				m->path ? m->path : "buffer", eb);
	for (uint64_t i = 0; i < m->records; i++) {
		struct pcap_pkthdr *h;
		const u_char *d;
		if (pcap_next_ex(pc, &h, &d) != 1) {
			int rc = kx__fail(r, KX_ERR_IO, "packet %llu: %s",
					  (unsigned long long)i + 1,
					  pcap_geterr(pc));
			pcap_close(pc);
			return rc;
		}
	}
	int rc = set_filter(r, pc);
	if (rc) {
		pcap_close(pc);
		return rc;
	}
	r->pcap = pc;
	kx__map_free(m);
	r->map = NULL;
	return 0;
}

int kx_reader_open_live(kx_reader *r, const char *iface)
{
	if (!iface)
		return kx__fail(r, KX_ERR_ARG, "no interface named");
	if (r->pcap || r->map)
		return kx__fail(r, KX_ERR_STATE, "a capture is already open");
	char eb[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pc = pcap_create(iface, eb);
	if (!pc)
		return kx__fail(r, KX_ERR_IO, "%s: %s", iface, eb);
	pcap_set_snaplen(pc, r->opts.snaplen);
	pcap_set_promisc(pc, r->opts.promisc);
	pcap_set_timeout(pc, r->opts.timeout_ms);
	/* Nanoseconds where the platform has them; microseconds are
	 * scaled. */
	pcap_set_tstamp_precision(pc, PCAP_TSTAMP_PRECISION_NANO);
	int a = pcap_activate(pc);
	if (a < 0) {
		int rc = kx__fail(r, KX_ERR_IO, "%s: %s", iface,
				  a == PCAP_ERROR ? pcap_geterr(pc)
						  : pcap_statustostr(a));
		pcap_close(pc);
		return rc;
	}
	return opened(r, pc, iface);
}

int kx_reader_run(kx_reader *r)
{
	if (r->map) {
		bool handoff;
		int rc = kx__map_run(r, &handoff);
		if (rc)
			return rc;
		if (!handoff)
			return kx_reader_finish(r);
		rc = hand_off(r);
		if (rc) {
			int frc = kx_reader_finish(r);
			return frc ? frc : rc;
		}
	}
	if (!r->pcap)
		return kx__fail(r, KX_ERR_STATE, "no capture open");
	bool nano = pcap_get_tstamp_precision(r->pcap) ==
		    PCAP_TSTAMP_PRECISION_NANO;
	while (!atomic_load(&r->stop_req)) {
		struct pcap_pkthdr *h;
		const u_char *data;
		int got = pcap_next_ex(r->pcap, &h, &data);
		if (got == 0)
			continue; /* live read timeout */
		if (got == PCAP_ERROR_BREAK)
			break; /* end of file, or kx_reader_stop */
		if (got != 1) {
			/* A truncated file ends here: what came before was
			 * delivered; connections are closed as at the end. */
			int rc = kx__fail(r, KX_ERR_IO, "packet %llu: %s",
					  (unsigned long long)r->packet + 1,
					  pcap_geterr(r->pcap));
			int frc = kx_reader_finish(r);
			return frc ? frc : rc;
		}
		int64_t ts = (int64_t)h->ts.tv_sec * 1000000000 +
			     (int64_t)h->ts.tv_usec * (nano ? 1 : 1000);
		int rc = kx_reader_packet(r, r->linktype, ts, data, h->caplen,
					  h->len);
		if (rc)
			return rc;
	}
	return kx_reader_finish(r);
}

void kx_reader_stop(kx_reader *r)
{
	atomic_store(&r->stop_req, 1);
	if (r->pcap)
		pcap_breakloop(r->pcap);
}

int kx_reader_packet(kx_reader *r, int linktype, int64_t ts_ns,
		     const uint8_t *p, size_t caplen, size_t wirelen)
{
	if (r->stop_rc)
		return r->stop_rc;
	r->packet++;
	r->ts_ns = ts_ns;
	r->st.packets++;
	r->st.bytes += caplen;
	if (wirelen < caplen)
		wirelen = caplen;
	kx__seg s;
	char why[160];
	int pr = kx__packet_parse(linktype, p, caplen, wirelen, &s, why,
				  sizeof why);
	if (pr == 0) {
		r->st.skipped_packets++;
		return 0;
	}
	if (pr < 0) {
		kx_warning w = (kx_warning)-pr;
		if (w == KX_WARN_FRAGMENT)
			r->st.fragments++;
		else if (w == KX_WARN_MALFORMED)
			r->st.malformed_packets++;
		else
			r->st.skipped_packets++;
		return kx__warn_once(r, w,
				     "packet %llu: %s (later packets like it "
				     "are counted, not warned about)",
				     (unsigned long long)r->packet, why);
	}
	return kx__conn_segment(r, &s);
}

int kx_reader_finish(kx_reader *r)
{
	if (r->finished || r->stop_rc)
		return r->stop_rc;
	r->finished = true;
	r->packet = 0;
	return kx__conn_finish_all(r);
}

const kx_stats *kx_reader_stats(const kx_reader *r)
{
	return &r->st;
}

const char *kx_reader_error(const kx_reader *r)
{
	return r->err;
}

int kx_reader_linktype(const kx_reader *r)
{
	return r->linktype;
}
