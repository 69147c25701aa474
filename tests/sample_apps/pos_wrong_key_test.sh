#!/usr/bin/env bash
# A POS configured with a wrong collector key id (issue 18): it used to print "ok" and "synced" with
# uploaded=0 while the collector refused every batch in silence. Now `sync` says REJECTED and why, the
# stats count the refusals, and the collector logs and counts them by reason.
# Usage: pos_wrong_key_test.sh <waymark-sample-pos> <waymark-collector>
set -euo pipefail
pos=$1 collector=$2
# shellcheck source=collector.sh
source "$(dirname "$0")/collector.sh"
start_collector "$collector"
args=(--store "$dir/pos" --brand-key-file "$dir/brand.key" --collector-url "$url"
      --collector-key "$key" --collector-key-id 2)
# Two syncs: the four refusals before the dead letter take up to 15 s of backoff, one sync waits 10 s.
printf 'sale 1299 GBP LC6000000001\nsync\nsync\nstats\n' | "$pos" "${args[@]}" > "$dir/out" 2> "$dir/err"
fail() { echo "$1"; cat "$dir/out" "$dir/err"; exit 1; }
grep -q '^ok$' "$dir/out" || fail "the sale was not recorded"
grep -q '^WAYMARK_ERR_REJECTED$' "$dir/out" || fail "sync did not report the refusal"
grep -q 'HTTP 403 unknown_key_id' "$dir/err" || fail "the POS did not say why"
grep -q 'uploaded=0 ' "$dir/out" || fail "something was uploaded"
rejected=$(sed -n 's/.*rejected=\([0-9]*\).*/\1/p' "$dir/out")
[ "${rejected:-0}" -ge 4 ] || fail "rejected=${rejected:-0}"
grep -q '"level":"warning","msg":"refused a batch: unknown_key_id' "$dir/collector.log" || fail "the collector logged nothing"
metrics=$(exec 3<>"/dev/tcp/127.0.0.1/$port"; printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3; cat <&3)
echo "$metrics" | grep -q "waymark_rejected_total{reason=\"unknown_key_id\"} $rejected" || fail "metrics: $metrics"
echo "pos with a wrong key id: REJECTED, rejected=$rejected, logged and counted by the collector"
