#!/usr/bin/env bash
# The kiosk sample personalises for the shopper at the screen: after a sync it pulls the shopper's
# segments from a real collector (a rule segment from its config), and gets none for a shopper who
# declined personalisation. Usage: kiosk_segments_test.sh <waymark-sample-kiosk> <waymark-collector>
set -euo pipefail
kiosk=$1 collector=$2
dir=$(mktemp -d)
cpid=""
trap '[ -n "$cpid" ] && kill "$cpid" 2>/dev/null; rm -rf "$dir"' EXIT
key=$("$collector" keys generate --data-dir "$dir/collector" --key-id 1 | sed -n 's/.*public_key=//p')
"$collector" serve --data-dir "$dir/collector" --port 0 --segment "kiosk_browsers: channel.kiosk >= 2" \
  2>"$dir/collector.log" &
cpid=$!
for _ in $(seq 100); do grep -q listening "$dir/collector.log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$dir/collector.log")
head -c 32 /dev/urandom > "$dir/brand.key"
printf '%s\n' "scan 6012345678" "consent yes yes" "view SKU-1" "view SKU-2" "sync" "segments" "done" \
  "scan 6098765432" "consent yes no" "view SKU-1" "view SKU-2" "sync" "segments" "done" |
  "$kiosk" --store "$dir/kiosk" --brand-key-file "$dir/brand.key" --collector-url "http://127.0.0.1:$port/v1/batches" \
    --collector-key "$key" --collector-key-id 1 > "$dir/out"
mapfile -t lists < <(grep '^segments=' "$dir/out")
[ "${#lists[@]}" = 2 ] || { cat "$dir/out"; exit 1; }
[ "${lists[0]}" = "segments=kiosk_browsers" ] || { echo "first shopper: ${lists[0]}"; exit 1; }
[ "${lists[1]}" = "segments=" ] || { echo "second shopper (no personalisation): ${lists[1]}"; exit 1; }
echo "kiosk segments: ok"
