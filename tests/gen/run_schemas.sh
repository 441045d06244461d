#!/bin/sh
# kafkit-gen against the schema files in DIR:
#   every bad_*.kdef must exit 1, write nothing, and print exactly the
#   message on its first line ("# expect: file:line:col: message");
#   the good_*.kdef files together must generate all six files;
#   a missing argument must be a usage error.
# usage: run_schemas.sh KAFKIT_GEN DIR
gen=$1
dir=$2
case $gen in /*) ;; *) gen=$PWD/$gen ;; esac
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$dir" || exit 1
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

for f in bad_*.kdef; do
	want=$(sed -n '1s/^# expect: //p' "$f")
	got=$("$gen" --out-dir "$tmp" "$f" 2>&1 >/dev/null)
	rc=$?
	if [ -z "$want" ]; then
		bad "$f has no '# expect:' line"
	elif [ "$rc" != 1 ]; then
		bad "$f: exit status $rc, want 1"
	elif [ "$got" != "$want" ]; then
		bad "$f: got '$got', want '$want'"
	elif [ -n "$(ls "$tmp")" ]; then
		bad "$f: wrote files despite the error"
	else
		ok
	fi
done

if "$gen" --out-dir "$tmp" good_*.kdef; then
	missing=
	for o in messages.h messages.c messages_test.h messages_test.c \
		messages_json.h messages_json.c; do
		[ -s "$tmp/$o" ] || missing="$missing $o"
	done
	if [ -n "$missing" ]; then bad "good schemas: missing$missing"; else ok; fi
else
	bad "good schemas: kafkit-gen failed"
fi

if "$gen" --out-dir "$tmp" 2>/dev/null; then
	bad "no schema files: exit status 0"
else
	ok
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
