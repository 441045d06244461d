/*
 * kafkit-pcap: command line. Parsed into kx__opts without side effects so
 * tests can check every option and error.
 */
#ifndef KAFKIT_PCAP_TOOL_OPTS_H
#define KAFKIT_PCAP_TOOL_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkit/json.h"

/* Exit codes (documented in docs/pcaptools.md and --help). */
#define KX__EXIT_OK 0        /* the capture was read to its end */
#define KX__EXIT_USAGE 2     /* bad command line */
#define KX__EXIT_INPUT 3     /* the capture could not be opened or read:
			      * unreadable file, unknown link type, bad
			      * filter, read error */
#define KX__EXIT_TRUNCATED 4 /* the capture file ends inside a packet:
			      * everything before was decoded and printed */
#define KX__EXIT_NOMEM 5     /* out of memory */

#define KX__MAX_PORTS 64
#define KX__MAX_FILTERS 32

typedef struct kx__opts {
	const char *read;        /* -r FILE ("-": stdin), or NULL */
	const char *iface;       /* -i IFACE, or NULL */
	const char *bpf;         /* -f EXPR, or NULL */
	uint16_t ports[KX__MAX_PORTS];
	size_t nports;           /* 0: 9092 */
	bool any_port;
	bool verbose;            /* -v: records too */
	bool json;
	bool stats;
	bool help;
	bool quiet_warnings;     /* -q: no warnings on stderr */
	kc_json_bytes_mode bytes;
	bool bytes_set;          /* --bytes given (text default: text) */
	int16_t apis[KX__MAX_FILTERS];
	size_t napis;
	const char *topics[KX__MAX_FILTERS];
	size_t ntopics;
	const char *clients[KX__MAX_FILTERS];
	size_t nclients;
	uint64_t count;          /* -c N: stop after N requests+responses shown; 0 all */
} kx__opts;

/* Parse argv (argc entries, argv[0] the program) into *o. Returns 0, or
 * KX__EXIT_USAGE with a one-line reason in err (errlen bytes, always
 * NUL-terminated): unknown option, missing or bad value (port 1-65535,
 * api name or key the codec carries, bytes mode text|hex|base64), too
 * many of a repeated option, neither or both of -r and -i, stray
 * arguments. --help sets o->help and returns 0. Any thread. */
int kx__opts_parse(kx__opts *o, int argc, char **argv, char *err, size_t errlen);

/* The usage text. */
extern const char kx__usage[];

#endif
