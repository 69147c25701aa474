#!/usr/bin/env bash
# The deployment kit's example configs (deploy/config) parse and validate as shipped: each is started
# with only its addresses pointed at this machine (TLS files made here, NATS and PostgreSQL at closed
# ports), and each fails for the reason a real deployment would see first, never as a configuration
# error (exit 2). all.conf serves.
# Usage: deploy_configs_test.sh <waymark-collector> <source dir>
set -euo pipefail
bin=$1
src=$2
dir=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$dir"' EXIT
"$bin" keys generate --data-dir "$dir" >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" >/dev/null 2>&1
here=(--data-dir "$dir" --listen-address 127.0.0.1 --port 0)
tls=(--tls-cert-file "$dir/tls.crt" --tls-key-file "$dir/tls.key")

expect_exit() {  # <code> <message> <config> <overrides...>
  local code=$1 message=$2 config=$3
  shift 3
  set +e
  "$bin" serve --config "$src/deploy/config/$config" "${here[@]}" "$@" 2>"$dir/err"
  local rc=$?
  set -e
  if [ "$rc" != "$code" ] || ! grep -q "$message" "$dir/err"; then
    echo "$config: exit $rc (expected $code with '$message'):"
    cat "$dir/err"
    exit 1
  fi
}
expect_exit 1 "cannot connect to NATS" ingest.conf "${tls[@]}" --nats nats://127.0.0.1:1
expect_exit 1 "cannot connect to PostgreSQL" merger.conf --nats nats://127.0.0.1:1 \
  --store postgresql://waymark@127.0.0.1:1/waymark
expect_exit 1 "cannot connect to PostgreSQL" query.conf --store postgresql://waymark@127.0.0.1:1/waymark

"$bin" serve --config "$src/deploy/config/all.conf" "${here[@]}" "${tls[@]}" 2>"$dir/all.log" &
for _ in $(seq 100); do grep -q listening "$dir/all.log" && break; sleep 0.1; done
grep -q '"listening on 127.0.0.1:[0-9]* (HTTPS, .*role all)' "$dir/all.log" || { cat "$dir/all.log"; exit 1; }
kill %1
wait %1
# The unit names the config by instance and treats exit 2 as final.
unit="$src/deploy/systemd/waymark-collector@.service"
grep -q '^ExecStart=/usr/bin/waymark-collector serve --config /etc/waymark/%i.conf$' "$unit"
grep -q '^RestartPreventExitStatus=2$' "$unit"
echo "deploy configs: ok"
