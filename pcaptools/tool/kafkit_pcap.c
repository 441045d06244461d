/*
 * kafkit-pcap: decode Kafka traffic from a capture file or interface.
 * See docs/pcaptools.md and --help; the work is in src/tool.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "tool.h"

static void on_signal(int sig)
{
	(void)sig;
	kx__tool_stop();
}

int main(int argc, char **argv)
{
	kx__opts o;
	char why[256];
	if (kx__opts_parse(&o, argc, argv, why, sizeof why) != 0) {
		fprintf(stderr, "kafkit-pcap: %s\n%s", why, kx__usage);
		return KX__EXIT_USAGE;
	}
	if (o.help) {
		fputs(kx__usage, stdout);
		return KX__EXIT_OK;
	}
	/* whole blocks to stdout: a large capture is many lines. NDJSON from
	 * a file comes in large chunks already (tool.c): unbuffered, each is
	 * one write(2) without a copy into the stdio buffer. */
	static char obuf[1 << 16];
	if (o.json && o.read)
		setvbuf(stdout, NULL, _IONBF, 0);
	else
		setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int code = kx__tool_run(&o, stdout, stderr);
	if (fflush(stdout) != 0 && code == KX__EXIT_OK) {
		fprintf(stderr, "kafkit-pcap: writing the output failed\n");
		code = KX__EXIT_INPUT;
	}
	return code;
}
