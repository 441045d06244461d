/*
 * kafkit mock broker: recording the cluster's own traffic to a pcap file
 * (internal; km_options.pcap_path).
 *
 * Every request frame a broker receives and every response frame it queues
 * is written, Size field included, as TCP payload of a synthesized
 * Ethernet/IPv4 connection (kx_pcapw): one per client connection, client
 * 127.0.0.1:<its real port>, broker 127.0.0.1:<broker port>, with a
 * handshake when the connection is accepted and FINs when it closes, so
 * kafkit-pcap, tshark or Wireshark read the run without capture
 * privileges. Timestamps come from the wall clock; a delayed response is
 * stamped with the time it is due. A response cut by a close-after fault
 * is recorded whole, a swallowed one not at all.
 *
 * Errors while writing (disk full, ...) are logged once and turn the tap
 * off; the brokers go on. Buffered packets reach the file every second
 * and when the cluster is destroyed.
 *
 * Threading: the cluster's I/O thread once it is started; km__capture_start
 * and km__capture_free on the thread creating or destroying the cluster.
 */
#ifndef KAFKIT_MOCK_CAPTURE_H
#define KAFKIT_MOCK_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "kafkit/buf.h"
#include "server.h"

typedef struct km__capture km__capture;           /* km_cluster.capture */
typedef struct km__capture_conn km__capture_conn; /* km__session.capture */

/* Open path (created or truncated) for c's traffic and start the flush
 * timer. Precondition: c->loop exists, no connection was accepted yet.
 * Returns KM_OK, KM_ERR_NOMEM, or KM_ERR_IO (the file cannot be opened:
 * logged with the path and the reason); c->capture stays NULL on error. */
km_err km__capture_start(km_cluster *c, const char *path);

/* Flush and close the file (a write error is logged if none was before)
 * and free the tap. Precondition: every connection already closed (their
 * FINs written). NULL c->capture is a no-op. */
void km__capture_free(km_cluster *c);

/* The session was accepted: its handshake. No-op without a tap. */
void km__capture_conn_open(km__session *s);

/* A request frame of s (len bytes after its Size field) arrived. */
void km__capture_request(km__session *s, const uint8_t *frame, size_t len);

/* A response frame (Size included, contiguous or with referenced
 * segments) was queued on s, to go out delay_ms from now. */
void km__capture_response(km__session *s, const kc_writer *w,
			  uint32_t delay_ms);

/* s is closing: its FINs; the connection's record is freed. */
void km__capture_conn_close(km__session *s);

#endif
