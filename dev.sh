#!/bin/sh
# kafkit developer entry point (the README's Quick start).
#   ./dev.sh main   install dependencies, build, run the main job
#   ./dev.sh test   install dependencies, build, run the whole test suite
#   ./dev.sh deps   install dependencies only
# Build directory: $BUILD (default: build). Extra meson options: $MESON_OPTS.
set -eu
cd "$(dirname "$0")"
BUILD=${BUILD:-build}

# Debian packages: build tools and libraries, then the real peers the tests
# talk to (kafka-python and its codec modules, kcat, librdkafka, tshark).
DEB_PACKAGES="meson ninja-build ragel gcc clang libclang-rt-14-dev pkg-config check
zlib1g-dev libzstd-dev liblz4-dev libsnappy-dev libpcap-dev
python3 python3-kafka python3-lz4 python3-snappy python3-zstandard python3-xxhash
kcat librdkafka-dev tshark"

deps() {
	missing=""
	for p in $DEB_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "installing:$missing"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -q
	# tshark asks whether non-root users may capture; answer no, unattended.
	echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
}

build() {
	if [ ! -f "$BUILD/build.ninja" ]; then
		# shellcheck disable=SC2086
		meson setup "$BUILD" ${MESON_OPTS:-}
	fi
	ninja -C "$BUILD"
}

case "${1:-}" in
deps) deps ;;
main)
	deps
	build
	# 200000 records through the producer into the embedded mock cluster
	# with leader changes, delays and swallowed responses, then the logs
	# are verified: no loss, no duplicate, order kept per partition.
	"$BUILD/producer/tools/kafkit-produce" -n 200000 -s 100 --chaos
	;;
test)
	deps
	build
	meson test -C "$BUILD" --print-errorlogs --num-processes 2
	;;
*)
	echo "usage: $0 main|test|deps" >&2
	exit 2
	;;
esac
