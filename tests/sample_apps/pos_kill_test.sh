#!/usr/bin/env bash
# The C POS sample survives kill -9: every sale it answered "ok" for reaches the collector after a
# restart, over HTTPS. Usage: pos_kill_test.sh <waymark-sample-pos> <waymark-collector>
set -euo pipefail
pos=$1 collector=$2
# shellcheck source=collector.sh
source "$(dirname "$0")/collector.sh"
start_collector "$collector" --https
args=(--store "$dir/pos" --brand-key-file "$dir/brand.key" --collector-url "$url" "${device_tls[@]}"
      --collector-key "$key" --collector-key-id 1)

# Sales fed one by one; the terminal is killed while they are still coming.
mkfifo "$dir/in"
"$pos" "${args[@]}" < "$dir/in" > "$dir/out" &
ppid_=$!
exec 3>"$dir/in"
for i in $(seq 1 400); do
  echo "sale $((100 + i)) GBP LC$((6000000000 + i % 7))" >&3
  if [ "$(grep -c '^ok$' "$dir/out" || true)" -ge 25 ]; then break; fi
  sleep 0.01
done
kill -9 "$ppid_"
wait "$ppid_" 2>/dev/null || true
exec 3>&-
oks=$(grep -c '^ok$' "$dir/out" || true)
[ "$oks" -ge 25 ] || { echo "only $oks sales before the kill"; exit 1; }

# Restarted: everything on disk is uploaded.
printf 'sync\nstats\n' | "$pos" "${args[@]}" > "$dir/out2"
grep -q '^synced$' "$dir/out2" || { cat "$dir/out2"; exit 1; }
grep -q 'queued=0 ' "$dir/out2" || { cat "$dir/out2"; exit 1; }
# Each sale is a consent record, an identify record and the sale; the uploaded counter (persisted)
# counts events the collector acknowledged with a signed receipt.
uploaded=$(sed -n 's/.*uploaded=\([0-9]*\).*/\1/p' "$dir/out2")
[ "${uploaded:-0}" -ge $((3 * oks)) ] || { echo "collector acknowledged ${uploaded:-0} events for $oks ok'd sales"; exit 1; }
echo "pos kill -9: $oks ok'd sales, $uploaded events acknowledged"
