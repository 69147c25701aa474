# Sourced by the sample-app tests: a real collector on 127.0.0.1 in a temp dir, stopped (and the dir
# removed) on exit. `start_collector <waymark-collector> [serve options]` sets dir, key, port and cpid.
start_collector() {
  local collector=$1
  shift
  dir=$(mktemp -d)
  cpid=""
  trap '[ -n "$cpid" ] && kill "$cpid" 2>/dev/null; rm -rf "$dir"' EXIT
  key=$("$collector" keys generate --data-dir "$dir/collector" --key-id 1 | sed -n 's/.*public_key=//p')
  "$collector" serve --data-dir "$dir/collector" --port 0 "$@" 2>"$dir/collector.log" &
  cpid=$!
  for _ in $(seq 100); do grep -q listening "$dir/collector.log" && break; sleep 0.1; done
  port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$dir/collector.log")
  head -c 32 /dev/urandom > "$dir/brand.key"
}
