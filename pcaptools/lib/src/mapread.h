/*
 * kafkit pcap internals: offline captures read from memory (a file mapped
 * with mmap, or a caller's buffer) without libpcap's copying reader.
 *
 * The mapped reader parses the common, well-formed subset of pcap (both
 * byte orders, micro- and nanosecond magics, version 2.4) and pcapng
 * (sections in one byte order, IDBs with if_tsresol as a power of ten, EPB,
 * SPB, other blocks skipped) and hands packets to kx_reader_packet as
 * slices of the memory. Results must equal libpcap's to the last warning
 * and exit code, so anything outside that subset is left to libpcap: a
 * header it does not take makes the open fall back to libpcap, and a
 * record it does not take (a length that is short, odd, past the end of
 * the input or over the snapshot length, an obsolete Packet Block, a
 * binary time resolution, a section in the other byte order, ...) ends the
 * mapped run with a hand-off: libpcap reopens the same input, skips the
 * packets already delivered and reads on, so its own error messages (for a
 * truncated file, say) reach the caller unchanged. Every length is checked
 * against the bytes left before it is used: no read past the input.
 *
 * Everything here runs on the thread that owns the reader, except the
 * paging of a mapped file (pager.h).
 */
#ifndef KAFKIT_MAPREAD_H
#define KAFKIT_MAPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkit/pcap.h"
#include "pager.h"

/* An input being read from memory. */
typedef struct kx__map {
	const uint8_t *base;
	size_t len;
	bool mapped;        /* base came from mmap: munmap at close */
	bool paging;        /* mapped, and pager's thread runs */
	kx__pager pager;
	char *path;         /* the file (for the hand-off), NULL for a buffer */
	size_t off;         /* next record or block */
	size_t released;    /* pages below this were given back (RSS) */
	size_t ahead;       /* pages below this were made resident */
	uint64_t records;   /* packet records consumed: the hand-off skips
			     * this many */
	bool ng;            /* pcapng, else pcap */
	bool swap;          /* the file's byte order is not ours */
	bool nano;          /* pcap: nanosecond magic */
	int dlt;            /* libpcap's DLT_ value of the file's link type */
	int linktype;       /* its LINKTYPE_ value (KX_LINK_) */
	uint32_t snapshot;  /* libpcap's adjusted snapshot length */
	size_t first_idb;   /* pcapng: offset of the file's first IDB */
	uint64_t *tsresol;  /* pcapng: units per second, per interface of
			     * the current section */
	size_t nifs, ifcap;
	void *prog;         /* struct bpf_program *, NULL without a filter */
} kx__map;

/* Open path for a mapped read by r (r->opts.filter compiled for it, r->map
 * and r->linktype set). Returns 0 when mapped; 1 when the input is to be
 * read through libpcap instead (not a regular file, mmap failed, empty,
 * a header outside the subset above, an unsupported link type or a filter
 * that does not compile: libpcap then reports the same errors as ever);
 * KX_ERR_NOMEM. Precondition: r has no capture open. */
int kx__map_open_file(kx_reader *r, const char *path);

/* As kx__map_open_file over n bytes at p, which the caller keeps valid and
 * unchanged until kx_reader_free. Returns 0, 1 (use libpcap) or
 * KX_ERR_NOMEM. */
int kx__map_open_buf(kx_reader *r, const uint8_t *p, size_t n);

/* Deliver the packets of r->map through kx_reader_packet until the end of
 * the input, kx_reader_stop, a stop value, or a record outside the subset
 * (*handoff set true: r->map->records packets were consumed and libpcap is
 * to read the rest). Returns 0 or kx_reader_packet's nonzero value. Does
 * not call kx_reader_finish. */
int kx__map_run(kx_reader *r, bool *handoff);

/* Unmap and free m (NULL: no-op). */
void kx__map_free(kx__map *m);

#endif
