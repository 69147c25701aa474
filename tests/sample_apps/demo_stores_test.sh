#!/usr/bin/env bash
# The demo on SQLite and on PostgreSQL (or, with `cluster`, on the cluster of `--cluster`: NATS,
# ingest nodes behind haproxy, merger, query node; with `cluster-faults`, that cluster taken through the
# fault matrix of `--faults` while the devices upload), same seed: the same stored event count,
# identity scores, attribution table and segments, line for line; the same lifetime-value customers
# (purchases, historic value) with predictions within 0.5 %. One upload thread: the devices then upload
# in one order, so both stores resolve the same batches in the same order (with two, a run's order
# depends on timing, and the identity rules that let the first claim win can decide differently on
# either store). Profile ids are left out. Runs print the same fit in practice: the demo puts simulated
# midnights on UTC midnights and the report counts days (runs on either side of a midnight shift every
# day alike). DEMO_CUSTOMERS, DEMO_DAYS, FAULT_GAP_MS and FAULT_KINDS shape the run (`make soak-cluster`
# makes it long).
set -euo pipefail
demo=$1
other=${2:-postgresql}
out=$(mktemp -d)
# Kept when a check fails: the roles' logs are in it.
trap 'rc=$?; if [ $rc -eq 0 ]; then rm -rf "$out"; else echo "work directories kept in $out"; fi; exit $rc' EXIT
for store in sqlite "$other"; do
  case "$store" in
    cluster) mode=(--cluster) ;;
    cluster-faults)
      mode=(--cluster --faults --fault-gap-ms "${FAULT_GAP_MS:-300}")
      [ -n "${FAULT_KINDS:-}" ] && mode+=(--fault-kinds "$FAULT_KINDS") ;;
    *) mode=(--store "$store") ;;
  esac
  "$demo" --customers "${DEMO_CUSTOMERS:-200}" --days "${DEMO_DAYS:-30}" --seed 11 --threads 1 --no-progress "${mode[@]}" \
    --workdir "$out/$store" >"$out/$store.txt" 2>&1 || { cat "$out/$store.txt"; exit 1; }
  sed -n '/^identity:/,/^lifetime value/p' "$out/$store.txt" | grep -v '^lifetime value' >"$out/$store.exact"
  grep '^segments:' "$out/$store.txt" >>"$out/$store.exact"
  grep -o '^lifetime value ([0-9]* purchasing profiles' "$out/$store.txt" >>"$out/$store.exact"
  # Sorted by purchases and historic value: two customers whose predictions are close may swap places.
  grep '^  profile ' "$out/$store.txt" | awk '{print $4, $6, $NF}' | sed 's/£//g' | sort >"$out/$store.clv"
done
if ! diff "$out/sqlite.exact" "$out/$other.exact"; then
  echo "FAIL: the runs disagree (< sqlite, > $other)"
  cat "$out/sqlite.txt" "$out/$other.txt"
  exit 1
fi
[ "$(wc -l <"$out/sqlite.exact")" -ge 14 ] || { echo "FAIL: the demo printed no results"; exit 1; }
paste -d' ' "$out/sqlite.clv" "$out/$other.clv" | awk '
  NF != 6 || $1 != $4 || $2 != $5 { print "FAIL: lifetime value customers differ: " $0; bad = 1 }
  { d = $3 - $6; if (d < 0) d = -d; if (d > 0.005 * $3) { print "FAIL: CLV differs by more than 0.5 %: " $0; bad = 1 } }
  END { if (NR != 10) { print "FAIL: expected 10 lifetime value rows, got " NR; bad = 1 }; exit bad }' ||
  { cat "$out/sqlite.txt" "$out/$other.txt"; exit 1; }
grep -q "raw identifiers in PostgreSQL's files ([1-9][0-9]* files" "$out/$other.txt" ||
  { echo "FAIL: the $other run scanned no database files"; exit 1; }
if [[ "$other" = cluster* ]]; then
  grep -q "raw identifiers in the queue's files (NATS JetStream) ([1-9][0-9]* files" "$out/$other.txt" ||
    { echo "FAIL: the cluster run scanned no queue files"; exit 1; }
fi
grep -E '^  (devices:|faults while|events stored:)' "$out/$other.txt"
echo "ok: SQLite and $other agree ($(wc -l <"$out/sqlite.exact") result lines, 10 lifetime values)"
