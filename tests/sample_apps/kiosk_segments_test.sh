#!/usr/bin/env bash
# The kiosk sample personalises for the shopper at the screen: after a sync it pulls the shopper's
# segments from a real collector (a rule segment from its config), and gets none for a shopper who
# declined personalisation. Over HTTPS, as a brand runs it. Usage: kiosk_segments_test.sh <waymark-sample-kiosk> <waymark-collector>
set -euo pipefail
kiosk=$1 collector=$2
# shellcheck source=collector.sh
source "$(dirname "$0")/collector.sh"
start_collector "$collector" --https --segment "kiosk_browsers: channel.kiosk >= 2"
printf '%s\n' "scan 6012345678" "consent yes yes" "view SKU-1" "view SKU-2" "sync" "segments" "done" \
  "scan 6098765432" "consent yes no" "view SKU-1" "view SKU-2" "sync" "segments" "done" |
  "$kiosk" --store "$dir/kiosk" --brand-key-file "$dir/brand.key" --collector-url "$url" "${device_tls[@]}" \
    --collector-key "$key" --collector-key-id 1 > "$dir/out"
mapfile -t lists < <(grep '^segments=' "$dir/out")
[ "${#lists[@]}" = 2 ] || { cat "$dir/out"; exit 1; }
[ "${lists[0]}" = "segments=kiosk_browsers" ] || { echo "first shopper: ${lists[0]}"; exit 1; }
[ "${lists[1]}" = "segments=" ] || { echo "second shopper (no personalisation): ${lists[1]}"; exit 1; }
echo "kiosk segments: ok"
