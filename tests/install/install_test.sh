#!/bin/sh
# Install kafkit into a temporary prefix and build small programs against it
# with nothing but pkg-config: a codec round trip (kafkit-codec), an
# in-process mock cluster answered over a real socket (kafkit-mock), and the
# producer delivering to that cluster (kafkit-producer with kafkit-mock).
set -eu
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson setup "$tmp/build" "$src" --prefix="$tmp/prefix" -Dtests=false -Dbench=false >"$tmp/setup.log" 2>&1 ||
	{ cat "$tmp/setup.log"; exit 1; }
meson install -C "$tmp/build" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
pc=$(dirname "$(find "$tmp/prefix" -name kafkit-codec.pc | head -n 1)")
[ -n "$pc" ] || { echo "kafkit-codec.pc not installed"; exit 1; }
cat >"$tmp/prog.c" <<'PROG'
#include <kafkit/codec.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	/* CRC-32C check value, and an ApiVersions v0 request body round trip. */
	if (kc_crc32c(0, "123456789", 9) != 0xE3069283u)
		return 1;
	const kc_api *api = kc_api_find(18);
	if (!api || strcmp(api->name, "ApiVersions") != 0)
		return 2;
	uint8_t *out;
	size_t n;
	if (kc_compress(KC_CODEC_ZSTD, KC_LEVEL_DEFAULT, 0, "abcabcabc", 9, &out, &n) != KC_OK)
		return 3;
	kc_free(out);
	puts("installed kafkit-codec works");
	return 0;
}
PROG
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror -o "$tmp/prog" "$tmp/prog.c" \
	$(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs kafkit-codec)
"$tmp/prog"
test -x "$tmp/prefix/bin/kafkit-selfcheck"
test -f "$tmp/prefix/include/kafkit/messages.h"

# The mock cluster: libkafkit-mock.a (the net library folded in), mock.h and
# kafkit-mock.pc. The program starts a cluster, creates a topic, and reads
# an ApiVersions answer from a broker over TCP.
test -f "$tmp/prefix/include/kafkit/mock.h"
[ -n "$(find "$tmp/prefix" -name kafkit-mock.pc)" ] || { echo "kafkit-mock.pc not installed"; exit 1; }
cat >"$tmp/mock.c" <<'PROG'
#include <arpa/inet.h>
#include <kafkit/codec.h>
#include <kafkit/mock.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	km_options o;
	km_options_init(&o);
	km_cluster *c;
	if (km_cluster_new(&c, 3, &o) != KM_OK ||
	    km_cluster_create_topic(c, "installed", 4, NULL) != KM_OK ||
	    km_cluster_start(c) != KM_OK)
		return 1;
	km_partition_info pi;
	if (km_cluster_partition_info(c, "installed", 3, &pi) != KM_OK ||
	    pi.high_watermark != 0)
		return 2;
	/* ApiVersions v0 by hand: Size, api key 18, version 0, correlation
	 * id 7, client id "x" */
	static const unsigned char req[] = {0, 0, 0, 11, 0, 18, 0, 0, 0, 0,
					    0, 7, 0, 1, 'x'};
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(km_cluster_broker_port(c, 2)),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned char resp[12];
	size_t got = 0;
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) ||
	    write(fd, req, sizeof req) != (ssize_t)sizeof req)
		return 3;
	while (got < sizeof resp) {
		ssize_t n = read(fd, resp + got, sizeof resp - got);
		if (n <= 0)
			return 4;
		got += (size_t)n;
	}
	/* correlation id 7, error_code 0 */
	if (resp[7] != 7 || resp[8] != 0 || resp[9] != 0)
		return 5;
	close(fd);
	km_counters k;
	if (km_cluster_counters(c, 2, &k) != KM_OK || k.requests != 1)
		return 6;
	printf("installed kafkit-mock works: %s\n", km_cluster_bootstraps(c));
	km_cluster_destroy(c);
	return 0;
}
PROG
mpc=$(dirname "$(find "$tmp/prefix" -name kafkit-mock.pc | head -n 1)")
# shellcheck disable=SC2046
cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Werror -o "$tmp/mock" "$tmp/mock.c" \
	$(PKG_CONFIG_PATH="$mpc" pkg-config --cflags --libs kafkit-mock)
"$tmp/mock"
# The producer with the mock cluster in one program: libkafkit-producer.a
# and libkafkit-mock.a both carry the event loop, and a program linking both
# with plain pkg-config must build and deliver a record.
test -f "$tmp/prefix/include/kafkit/producer.h"
test -x "$tmp/prefix/bin/kafkit-produce"
test -x "$tmp/prefix/bin/kafkit-pcap"
cat >"$tmp/producer.c" <<'PROG'
#include <kafkit/mock.h>
#include <kafkit/producer.h>
#include <stdio.h>
int main(void)
{
	km_cluster *c;
	if (km_cluster_new(&c, 1, NULL) != KM_OK ||
	    km_cluster_create_topic(c, "installed", 1, NULL) != KM_OK ||
	    km_cluster_start(c) != KM_OK)
		return 1;
	kp_conf *conf = kp_conf_new();
	char err[256];
	kp_producer *p;
	if (!conf ||
	    kp_conf_set(conf, "bootstrap.servers", km_cluster_bootstraps(c),
			err, sizeof err) != KP_OK ||
	    kp_producer_new(conf, &p, err, sizeof err) != KP_OK)
		return 2;
	kp_conf_destroy(conf);
	kp_record r = {.topic = "installed", .partition = 0, .value = "v",
		       .value_len = 1, .timestamp = KP_TIMESTAMP_NOW};
	kp_delivery_report dr;
	if (kp_send_sync(p, &r, &dr) != KP_OK || dr.offset != 0)
		return 3;
	if (kp_close(p, 5000) != KP_OK)
		return 4;
	km_cluster_destroy(c);
	puts("installed kafkit-producer works");
	return 0;
}
PROG
ppc=$(dirname "$(find "$tmp/prefix" -name kafkit-producer.pc | head -n 1)")
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror -o "$tmp/producer" "$tmp/producer.c" \
	$(PKG_CONFIG_PATH="$ppc:$mpc" pkg-config --cflags --libs kafkit-producer kafkit-mock)
"$tmp/producer"
