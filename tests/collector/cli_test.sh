#!/usr/bin/env bash
# waymark-collector's command line: --help, key generation (private files), serve + SIGTERM -> exit 0.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" --help | grep -q "serve | keys generate"
out=$("$bin" keys generate --data-dir "$dir" --key-id 4)
echo "$out" | grep -Eq '^key_id=4 public_key=[0-9a-f]{64}$'
[ "$(stat -c %a "$dir/keys/collector_key_4")" = 600 ]
[ "$(stat -c %a "$dir/keys/rekey_secret")" = 600 ]
if "$bin" serve --data-dir "$dir/missing" 2>/dev/null; then echo "serve without keys must fail"; exit 1; fi
if "$bin" serve --port notaport 2>/dev/null; then echo "a bad flag must fail"; exit 1; fi
printf 'threads = many\n' > "$dir/bad.conf"
set +e; "$bin" serve --config "$dir/bad.conf" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q threads "$dir/err"
printf 'port = 0\ndata-dir = %s\n' "$dir" > "$dir/good.conf"
"$bin" serve --config "$dir/good.conf" 2>"$dir/log" &
pid=$!
for _ in $(seq 50); do grep -q listening "$dir/log" && break; sleep 0.1; done
grep -q '"level":"info","msg":"listening on 127.0.0.1:' "$dir/log"
kill -TERM "$pid"
wait "$pid"  # set -e: a non-zero exit fails the test
grep -q '"msg":"stopped"' "$dir/log"
echo "collector cli: ok"
