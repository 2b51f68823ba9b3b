#!/usr/bin/env bash
# token.sh — create a throwaway SoftHSM2 token for tests and demos.
#
# Usage: softhsm-test/token.sh DIR [LABEL] [SO_PIN] [USER_PIN]
#        softhsm-test/token.sh --module      (print the path of libsofthsm2.so)
#        softhsm-test/token.sh --install     (install softhsm2 when missing)
#
# Writes DIR/softhsm2.conf and DIR/tokens/, initialises a token with LABEL
# (default "icebox-test"), SO_PIN (default 87654321) and USER_PIN (default
# 12345678) and prints, on stdout, shell assignments for SOFTHSM2_CONF and
# ICEBOX_HSM_MODULE. When softhsm2 is missing it is installed with apt-get
# if we are root; otherwise the exact command to run is printed and the
# script fails. These PINs are for throwaway tokens only.
set -euo pipefail

module_path() {
	local c
	for c in "${SOFTHSM2_MODULE:-}" \
		/usr/lib/softhsm/libsofthsm2.so \
		/usr/lib/*-linux-gnu/softhsm/libsofthsm2.so \
		/usr/lib64/pkcs11/libsofthsm2.so \
		/usr/lib64/softhsm/libsofthsm2.so \
		/usr/lib/pkcs11/libsofthsm2.so \
		/usr/local/lib/softhsm/libsofthsm2.so \
		/opt/homebrew/lib/softhsm/libsofthsm2.so; do
		if [[ -n "$c" && -f "$c" ]]; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

ensure_softhsm() {
	if command -v softhsm2-util >/dev/null 2>&1 && module_path >/dev/null; then
		return 0
	fi
	if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
		echo "token.sh: softhsm2 missing, installing it with apt-get" >&2
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >&2
		return 0
	fi
	echo "token.sh: softhsm2 is not installed. Run:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y softhsm2" >&2
	exit 1
}

case "${1:-}" in
--module)
	ensure_softhsm
	module_path
	exit 0
	;;
--install)
	ensure_softhsm
	exit 0
	;;
"" | -h | --help)
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac

dir=$1
label=${2:-icebox-test}
so_pin=${3:-87654321}
user_pin=${4:-12345678}

ensure_softhsm
module=$(module_path)

mkdir -p "$dir/tokens"
chmod 700 "$dir/tokens"
dir=$(cd "$dir" && pwd)
conf="$dir/softhsm2.conf"
cat >"$conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF

SOFTHSM2_CONF="$conf" softhsm2-util --init-token --free --label "$label" \
	--so-pin "$so_pin" --pin "$user_pin" >&2

printf 'export SOFTHSM2_CONF=%q\n' "$conf"
printf 'export ICEBOX_HSM_MODULE=%q\n' "$module"
