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


D="$BIN/iceboxd --config $DEMO/iceboxd.yaml"
M=(--manifest "$DEMO/out/manifest.json" --signer "$fp")
mkdir -p "$DEMO/keys" "$DEMO/gov" "$DEMO/out/gate" "$DEMO/out/responses" "$DEMO/out/qr"
printf 'demo passphrase, never use it for a real key\n' >"$DEMO/keys/passphrase"
chmod 600 "$DEMO/keys/passphrase"
P=(--passphrase-file "$DEMO/keys/passphrase")

echo
echo "== officers, admins and the hot wallet make their keys (icebox officer keygen)"
for who in alice bob carol hot-1; do
	"$BIN/icebox" officer keygen -o "$DEMO/keys/$who.key" "${P[@]}" >"$DEMO/keys/$who.txt"
	printf '  %-6s %s\n' "$who" "$(sed -n 's/^public key: *//p' "$DEMO/keys/$who.txt")"
done
key() { sed -n 's/^public key: *//p' "$DEMO/keys/$1.txt"; }

echo
echo "== founding roster and first policy, each signed by 2 of the 2 founding admins"
"$BIN/demofund" --manifest "$DEMO/out/manifest.json" --signer "$fp" --out "$DEMO/out" \
	--token 0x5FbDB2315678afecb367f032d93F642f64180aa3
field() { sed -n "/\"$1\"/,/}/s/.*\"$2\": \"\\(.*\\)\".*/\\1/p" "$DEMO/out/destinations.json"; }
vault_btc=$(field vault btc)
vault_eth=$(field vault eth)
outsider_btc=$(field outsider btc)
cat >"$DEMO/gov/roster.yaml" <<YAML
# Demo roster: three custody officers (alice and bob are also admins) and
# the hot wallet as requester.
version: 1
admin_quorum: 2
members:
  - id: alice
    key: $(key alice)
    roles: [officer, admin]
  - id: bob
    key: $(key bob)
    roles: [officer, admin]
  - id: carol
    key: $(key carol)
    roles: [officer]
  - id: hot-1
    key: $(key hot-1)
    roles: [requester]
YAML
cat >"$DEMO/gov/policy.yaml" <<YAML
# Demo withdrawal policy: sweeps to the treasury vault with 2 of 3
# officers; everything else is refused.
version: 1
name: Icebox demo policy
tokens:
  DEMO: {contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3", decimals: 6}
allowlists:
  treasury-vault: [$vault_btc, "$vault_eth"]
approver_groups:
  treasury: [alice, bob, carol]
requester_groups:
  hot-wallets: [hot-1]
rules:
  - name: no-contract-calls
    match: {kind: [contract-call, token-approve]}
    action: deny
    reason: contract calls and token approvals need a change of policy
  - name: btc-sweep-to-vault
    match:
      network: [btc-regtest]
      asset: BTC
      kind: [sweep]
      destination: [treasury-vault]
      requester_group: [hot-wallets]
    limits:
      per_batch: "50 BTC"
      velocity:
        - {per: rule, window: 24h, max: "100 BTC"}
      max_fee_rate: "50 sat/vB"
      max_transactions: 20
    action: allow
    approvals: {group: treasury, threshold: 2}
  - name: eth-sweep-to-vault
    match:
      network: [eth-1337]
      kind: [sweep]
      destination: [treasury-vault]
      requester_group: [hot-wallets]
    limits:
      max_transactions: 50
    action: allow
    approvals: {group: treasury, threshold: 2}
  - name: deny-everything-else
    action: deny
    reason: not covered by the withdrawal policy
YAML
for kind in roster policy; do
	"$BIN/icebox" admin propose --kind $kind --file "$DEMO/gov/$kind.yaml" -o "$DEMO/gov/$kind.change" >/dev/null
	for admin in alice bob; do
		"$BIN/icebox" admin sign "$DEMO/gov/$kind.change" --id $admin --key "$DEMO/keys/$admin.key" "${P[@]}" --yes >/dev/null
	done
	run $D $kind install "$DEMO/gov/$kind.change"
done

echo
echo "== the hot wallet asks: a batched BTC sweep and an ETH sweep (native + ERC-20) to the vault"
"$BIN/icebox" request sweep "${M[@]}" --utxos "$DEMO/out/utxos.json" --to "$vault_btc" --max-inputs 5 --fee-rate 5 \
	--id demo-btc-sweep --requester hot-1 --key "$DEMO/keys/hot-1.key" "${P[@]}" -o "$DEMO/out/btc-sweep.icebox"
"$BIN/icebox" request sweep "${M[@]}" --accounts "$DEMO/out/accounts.json" --to "$vault_eth" \
	--id demo-eth-sweep --requester hot-1 --key "$DEMO/keys/hot-1.key" "${P[@]}" -o "$DEMO/out/eth-sweep.icebox"

echo
echo "== officers review what the transactions do (decoded here, never taken from the request)"
"$BIN/icebox" inspect "${M[@]}" "$DEMO/out/btc-sweep.icebox"
echo
"$BIN/icebox" inspect "${M[@]}" "$DEMO/out/eth-sweep.icebox"

echo
echo "== alice and bob approve (2 of 3)"
for req in btc-sweep eth-sweep; do
	for officer in alice bob; do
		"$BIN/icebox" approve "$DEMO/out/$req.icebox" "${M[@]}" --id $officer --key "$DEMO/keys/$officer.key" "${P[@]}" \
			--policy "$DEMO/gov/policy.yaml" --roster "$DEMO/gov/roster.yaml" --yes | tail -n 1
	done
done

echo
echo "== the requests cross the air gap as animated QR codes (BC-UR)"
"$BIN/icebox" qr encode "$DEMO/out/btc-sweep.icebox" --png-dir "$DEMO/out/qr/btc-sweep" --gif "$DEMO/out/qr/btc-sweep.gif"
frames=("$DEMO"/out/qr/btc-sweep/frame-*.png)
echo "  btc-sweep: ${#frames[@]} PNG frames (and an animated GIF) in $DEMO/out/qr/; the signer's camera reads them back"
"$BIN/icebox" qr decode --quiet --out "$DEMO/out/gate/btc-sweep.icebox" "${frames[@]}"
"$BIN/icebox" qr encode "$DEMO/out/eth-sweep.icebox" --text >"$DEMO/out/qr/eth-sweep.parts"
echo "  eth-sweep: $(wc -l <"$DEMO/out/qr/eth-sweep.parts") UR text parts; shuffled, as a scanner delivers them"
shuf "$DEMO/out/qr/eth-sweep.parts" | "$BIN/icebox" qr decode --quiet --out "$DEMO/out/gate/eth-sweep.icebox"
for req in btc-sweep eth-sweep; do
	cmp "$DEMO/out/$req.icebox" "$DEMO/out/gate/$req.icebox"
done
echo "  both requests arrived byte-identical"

echo
echo "== iceboxd signs (offline: policy, quorum, durable reservation, HSM, audit)"
for req in btc-sweep eth-sweep; do
	run $D sign "$DEMO/out/gate/$req.icebox" -o "$DEMO/out/responses/$req.response.icebox"
done

echo
echo "== the responses cross back as QR text parts"
for req in btc-sweep eth-sweep; do
	"$BIN/icebox" qr encode "$DEMO/out/responses/$req.response.icebox" --text |
		shuf | "$BIN/icebox" qr decode --quiet --out "$DEMO/out/gate/$req.response.icebox"
	cmp "$DEMO/out/responses/$req.response.icebox" "$DEMO/out/gate/$req.response.icebox"
done

echo
echo "== the hot wallet finalizes: signer signature, same request, signed transactions"
for req in btc-sweep eth-sweep; do
	"$BIN/icebox" finalize "$DEMO/out/gate/$req.response.icebox" --request "$DEMO/out/$req.icebox" -o "$DEMO/out/signed" "${M[@]}"
done

echo
echo "== a withdrawal to an address on no allowlist is refused, even with two approvals"
"$BIN/icebox" request withdraw "${M[@]}" --utxos "$DEMO/out/utxos.json" --pay "$outsider_btc=150000" \
	--id demo-outsider --requester hot-1 --key "$DEMO/keys/hot-1.key" "${P[@]}" -o "$DEMO/out/outsider.icebox" >/dev/null
for officer in alice bob; do
	"$BIN/icebox" approve "$DEMO/out/outsider.icebox" "${M[@]}" --id $officer --key "$DEMO/keys/$officer.key" "${P[@]}" \
		--policy "$DEMO/gov/policy.yaml" --roster "$DEMO/gov/roster.yaml" --yes >/dev/null
done
if run $D sign "$DEMO/out/outsider.icebox" -o "$DEMO/out/responses/outsider.response.icebox"; then
	echo "demo: the outsider withdrawal was signed; it must be refused" >&2
	exit 1
fi

echo
echo "== audit log: exported on the signer, verified offline with nothing but the manifest"
run $D audit export -o "$DEMO/out/audit.jsonl"
"$BIN/icebox" audit verify "$DEMO/out/audit.jsonl" "${M[@]}"

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
