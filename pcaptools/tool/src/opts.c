/* kafkit-pcap's command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kafkit/messages.h"
#include "opts.h"

const char kx__usage[] =
	"usage: kafkit-pcap -r FILE|- [options]\n"
	"       kafkit-pcap -i IFACE [options]\n"
	"Decode Kafka requests and responses from a capture.\n"
	"  -r FILE          read a pcap/pcapng file ('-': stdin)\n"
	"  -i IFACE         capture live on an interface (needs privileges)\n"
	"  -f EXPR          BPF filter applied by libpcap\n"
	"  -p PORT          broker port (repeatable; default 9092)\n"
	"  --any-port       also detect Kafka on any other port\n"
	"  -v               text: print the records under each request/response\n"
	"  --json           NDJSON: one object per event, every decoded field\n"
	"  --stats          summary per topic/partition, client id and connection\n"
	"                   (with --json: one JSON object)\n"
	"  --api NAME       only this api (name like Produce, or key; repeatable)\n"
	"  --topic T        only requests/responses naming topic T (repeatable)\n"
	"  --client-id C    only this client id (repeatable)\n"
	"  --bytes MODE     keys/values as text, hex or base64 (default: text for\n"
	"                   text output, base64 for --json)\n"
	"  -c N             stop after N requests and responses printed\n"
	"  -q               no warnings on stderr\n"
	"  -h, --help       this text\n"
	"Exit status: 0 read to the end; 2 usage; 3 capture unreadable (open,\n"
	"link type, filter, read error); 4 capture truncated (decoded up to the\n"
	"cut); 5 out of memory.\n";

static int bad(char *err, size_t n, const char *fmt, const char *arg)
{
	snprintf(err, n, fmt, arg);
	return KX__EXIT_USAGE;
}

/* An api by name (any case) or number. */
static int api_of(const char *s, int16_t *key)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s && !*end) {
		if (v < 0 || v > INT16_MAX || !kc_api_find((int16_t)v))
			return -1;
		*key = (int16_t)v;
		return 0;
	}
	for (size_t i = 0; kc_api_at(i); i++)
		if (strcasecmp(kc_api_at(i)->name, s) == 0) {
			*key = kc_api_at(i)->key;
			return 0;
		}
	return -1;
}

int kx__opts_parse(kx__opts *o, int argc, char **argv, char *err, size_t errlen)
{
	memset(o, 0, sizeof *o);
	if (errlen)
		err[0] = '\0';
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = !strcmp(a, "-r") || !strcmp(a, "-i") || !strcmp(a, "-f") ||
			     !strcmp(a, "-p") || !strcmp(a, "--api") || !strcmp(a, "--topic") ||
			     !strcmp(a, "--client-id") || !strcmp(a, "--bytes") ||
			     !strcmp(a, "-c");
		if (takes && !v)
			return bad(err, errlen, "option %s needs a value", a);
		if (takes)
			i++;
		if (!strcmp(a, "-r")) {
			o->read = v;
		} else if (!strcmp(a, "-i")) {
			o->iface = v;
		} else if (!strcmp(a, "-f")) {
			o->bpf = v;
		} else if (!strcmp(a, "-p")) {
			char *end;
			long p = strtol(v, &end, 10);
			if (!*v || *end || p < 1 || p > 65535)
				return bad(err, errlen, "bad port '%s' (1-65535)", v);
			if (o->nports == KX__MAX_PORTS)
				return bad(err, errlen, "too many ports (%s)", "-p");
			o->ports[o->nports++] = (uint16_t)p;
		} else if (!strcmp(a, "--any-port")) {
			o->any_port = true;
		} else if (!strcmp(a, "-v")) {
			o->verbose = true;
		} else if (!strcmp(a, "-q")) {
			o->quiet_warnings = true;
		} else if (!strcmp(a, "--json")) {
			o->json = true;
		} else if (!strcmp(a, "--stats")) {
			o->stats = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			o->help = true;
			return 0;
		} else if (!strcmp(a, "--api")) {
			if (o->napis == KX__MAX_FILTERS)
				return bad(err, errlen, "too many %s filters", "--api");
			if (api_of(v, &o->apis[o->napis]) != 0)
				return bad(err, errlen, "unknown api '%s'", v);
			o->napis++;
		} else if (!strcmp(a, "--topic")) {
			if (o->ntopics == KX__MAX_FILTERS)
				return bad(err, errlen, "too many %s filters", "--topic");
			o->topics[o->ntopics++] = v;
		} else if (!strcmp(a, "--client-id")) {
			if (o->nclients == KX__MAX_FILTERS)
				return bad(err, errlen, "too many %s filters", "--client-id");
			o->clients[o->nclients++] = v;
		} else if (!strcmp(a, "--bytes")) {
			if (!strcmp(v, "text"))
				o->bytes = KC_JSON_BYTES_TEXT;
			else if (!strcmp(v, "hex"))
				o->bytes = KC_JSON_BYTES_HEX;
			else if (!strcmp(v, "base64"))
				o->bytes = KC_JSON_BYTES_BASE64;
			else
				return bad(err, errlen, "bad --bytes '%s' (text, hex or base64)", v);
			o->bytes_set = true;
		} else if (!strcmp(a, "-c")) {
			char *end;
			unsigned long long n = strtoull(v, &end, 10);
			if (!*v || *end || n == 0 || v[0] == '-')
				return bad(err, errlen, "bad count '%s'", v);
			o->count = n;
		} else if (a[0] == '-' && a[1]) {
			return bad(err, errlen, "unknown option %s", a);
		} else {
			return bad(err, errlen, "unexpected argument '%s'", a);
		}
	}
	if (!o->read == !o->iface)
		return bad(err, errlen, "%s", "give exactly one of -r FILE and -i IFACE");
	if (!o->bytes_set)
		o->bytes = o->json ? KC_JSON_BYTES_BASE64 : KC_JSON_BYTES_TEXT;
	return 0;
}
