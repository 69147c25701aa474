# Sourced by the sample-app tests: a real collector on 127.0.0.1 in a temp dir, stopped (and the dir
# removed) on exit. `start_collector <waymark-collector> [--https] [serve options]` sets dir, key, port,
# cpid, url (the devices' collector URL) and device_tls (the devices' TLS flags). --https: the collector
# serves a self-signed certificate for 127.0.0.1, which the devices trust with --tls-ca-file.
start_collector() {
  local collector=$1
  shift
  dir=$(mktemp -d)
  cpid=""
  trap '[ -n "$cpid" ] && kill "$cpid" 2>/dev/null; rm -rf "$dir"' EXIT
  local scheme=http
  device_tls=()
  if [ "${1:-}" = --https ]; then
    shift
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=collector \
      -addext subjectAltName=IP:127.0.0.1 -keyout "$dir/tls.key" -out "$dir/tls.pem" 2>/dev/null
    set -- --tls-cert-file "$dir/tls.pem" --tls-key-file "$dir/tls.key" "$@"
    scheme=https
    device_tls=(--tls-ca-file "$dir/tls.pem")
  fi
  key=$("$collector" keys generate --data-dir "$dir/collector" --key-id 1 | sed -n 's/.*public_key=//p')
  "$collector" serve --data-dir "$dir/collector" --port 0 "$@" 2>"$dir/collector.log" &
  cpid=$!
  for _ in $(seq 100); do grep -q listening "$dir/collector.log" && break; sleep 0.1; done
  port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$dir/collector.log")
  url="$scheme://127.0.0.1:$port/v1/batches"
  head -c 32 /dev/urandom > "$dir/brand.key"
}
