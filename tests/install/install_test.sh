#!/bin/sh
# Install kafkit into a temporary prefix and build a small program against it
# with nothing but `pkg-config --cflags --libs kafkit-codec`.
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
