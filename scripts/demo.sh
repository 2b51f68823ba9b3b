#!/usr/bin/env bash
# make demo: a fresh SoftHSM2 token under ./demo, iceboxd init, 3 BTC
# (regtest) + 3 ETH (chain 1337) keys, a signed manifest, and its
# verification with icebox. All state lives in ./demo and is recreated on
# every run. The PINs are demo values: never use them for a real token.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin}
DEMO=demo
rm -rf "$DEMO"
mkdir -p "$DEMO/out" "$DEMO/store"

# Throwaway token: demo/softhsm2.conf + demo/tokens.
eval "$(softhsm-test/token.sh "$DEMO" icebox-demo 87654321 12345678 2>/dev/null)"
export SOFTHSM2_CONF
printf '12345678\n' >"$DEMO/user.pin"
chmod 600 "$DEMO/user.pin"

cat >"$DEMO/iceboxd.yaml" <<YAML
hsm:
  module: $ICEBOX_HSM_MODULE
  token_label: icebox-demo
  pin_file: user.pin
  sessions: 2
  max_pin_failures: 5
store:
  dir: store
networks:
  btc: btc-regtest
  eth: eth-1337
inbox_dir: inbox
outbox_dir: out
archive_dir: archive
clock_tolerance: 5m
audit_checkpoint_every: 100
YAML

log="$DEMO/out/iceboxd.log"
run() { "$@" 2>>"$log"; }

echo "== iceboxd init"
run "$BIN/iceboxd" --config "$DEMO/iceboxd.yaml" init | tee "$DEMO/out/init.txt"
fp=$(sed -n 's/^signer fingerprint: *//p' "$DEMO/out/init.txt")

echo
echo "== iceboxd keys generate (3 BTC regtest, 3 ETH chain 1337)"
run "$BIN/iceboxd" --config "$DEMO/iceboxd.yaml" keys generate --chain btc --count 3
run "$BIN/iceboxd" --config "$DEMO/iceboxd.yaml" keys generate --chain eth --count 3

echo
echo "== iceboxd keys manifest"
run "$BIN/iceboxd" --config "$DEMO/iceboxd.yaml" keys manifest -o "$DEMO/out/manifest.json"

echo
echo "== icebox manifest verify (online side, pinned fingerprint)"
"$BIN/icebox" manifest verify "$DEMO/out/manifest.json" --signer "$fp"

cat <<SUMMARY

Demo done. The six signing keys and the identity key were generated inside
the SoftHSM2 token in $DEMO/tokens and never left it.
  signer fingerprint: $fp
  manifest:           $DEMO/out/manifest.json
  daemon log:         $log
Check the keys with an independent PKCS#11 tool:
  SOFTHSM2_CONF=$DEMO/softhsm2.conf pkcs11-tool --module $ICEBOX_HSM_MODULE \\
    --token-label icebox-demo --login --pin "\$(cat $DEMO/user.pin)" --list-objects --type privkey
SUMMARY
