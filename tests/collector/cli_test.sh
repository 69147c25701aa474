#!/usr/bin/env bash
# waymark-collector's command line: --help, key generation (private files), serve + SIGTERM -> exit 0.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
# A failed check must not leave a background serve holding CTest's pipes open.
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$dir"' EXIT
"$bin" --help > "$dir/help"
"$bin" --version | grep -Eq '^waymark-collector [0-9]+\.[0-9]+\.[0-9]+$'
# --help lists the commands and the options every command takes; help <command> (or <command> --help)
# that command's own options, and nothing internal.
for c in serve "keys generate" "keys rotate" blocklist "authority keygen" "authority erasure-token" \
  "authority identity-assertion" backup restore "report attribution" "report clv"; do
  grep -q "^  $c  " "$dir/help" || { echo "--help does not list $c"; exit 1; }
done
if grep -q -- "--command\|--tls-cert-file" "$dir/help"; then echo "--help shows a command's options"; exit 1; fi
"$bin" help serve > "$dir/help-serve"
grep -q -- "--tls-cert-file" "$dir/help-serve" && grep -q -- "--report-k" "$dir/help-serve"
if grep -q -- "--backup-file\|--model\|--command" "$dir/help-serve"; then echo "help serve: others' options"; exit 1; fi
"$bin" report attribution --help | grep -q -- "--conversion-touch"
if "$bin" help nope 2>/dev/null; then echo "help for an unknown command must fail"; exit 1; fi
out=$("$bin" keys generate --data-dir "$dir" --key-id 4)
echo "$out" | grep -Eq '^key_id=4 public_key=[0-9a-f]{64}$'
[ "$(stat -c %a "$dir/keys/collector_key_4")" = 600 ]
[ "$(stat -c %a "$dir/keys/rekey_secret")" = 600 ]
# Generating an existing key id again is refused and leaves the key as it was (devices use it).
sum=$(sha256sum < "$dir/keys/collector_key_4")
set +e; "$bin" keys generate --data-dir "$dir" --key-id 4 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 1 ] && grep -q "key id 4 exists already" "$dir/err"
[ "$(sha256sum < "$dir/keys/collector_key_4")" = "$sum" ]
if "$bin" serve --data-dir "$dir/missing" 2>/dev/null; then echo "serve without keys must fail"; exit 1; fi
if "$bin" serve --port notaport 2>/dev/null; then echo "a bad flag must fail"; exit 1; fi
# A malformed config line is named by its option only: it may hold a token's secret.
printf 'api-token ops:supersecretvalue123:profiles:read\n' > "$dir/secret.conf"
set +e; "$bin" serve --config "$dir/secret.conf" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "invalid line starting with 'api-token'" "$dir/err" && ! grep -q supersecretvalue123 "$dir/err"
printf 'threads = many\n' > "$dir/bad.conf"
set +e; "$bin" serve --config "$dir/bad.conf" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q threads "$dir/err"
printf 'port = 0\ndata-dir = %s\n' "$dir" > "$dir/good.conf"
"$bin" serve --config "$dir/good.conf" 2>"$dir/log" &
pid=$!
for _ in $(seq 50); do grep -q listening "$dir/log" && break; sleep 0.1; done
grep -Eq '^\{"ts":"20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z","level":"info","msg":"listening on 127.0.0.1:' "$dir/log"
# A port in use is named, with the address.
used=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$dir/log")
"$bin" keys generate --data-dir "$dir/second" --key-id 1 > /dev/null
set +e; "$bin" serve --data-dir "$dir/second" --port "$used" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 1 ] && grep -q "cannot listen on 127.0.0.1 port $used: Address already in use" "$dir/err"
# Private: the data directory 0700, the store's files 0600 (umask 077 at start).
[ "$(stat -c %a "$dir")" = 700 ] && [ "$(stat -c %a "$dir/collector.db")" = 600 ] && [ "$(stat -c %a "$dir/collector.db-wal")" = 600 ]
# A second serve on the same data directory exits at once with a clear message (tombstones and the
# identity graph live in one process's memory).
set +e; timeout 10 "$bin" serve --config "$dir/good.conf" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 1 ] && grep -q "another waymark-collector is serving" "$dir/err"
kill -TERM "$pid"
wait "$pid"  # set -e: a non-zero exit fails the test
grep -q '"msg":"stopped"' "$dir/log"
# Rotation: a new key, the old one keeps working until its retire date.
"$bin" keys rotate --data-dir "$dir" --key-id 5 --retire-after-days 7 | grep -Eq '^key_id=5 public_key=[0-9a-f]{64}$'
[ -s "$dir/keys/collector_key_4.retire_at" ] && [ ! -e "$dir/keys/collector_key_5.retire_at" ]
if "$bin" keys rotate --data-dir "$dir" --key-id 5 2>/dev/null; then echo "rotating onto an existing id must fail"; exit 1; fi
# Blocklist: SDK pseudonyms of the brand's junk values, computed with the brand key.
head -c 32 /dev/urandom > "$dir/brand.key"
printf 'email noemail@brand.example\nphone +44 20 7946 0000\n' | "$bin" blocklist --brand-key-file "$dir/brand.key" \
  --default-region GB > "$dir/blocked.txt"
[ "$(grep -Ec '^[0-9a-f]{64}$' "$dir/blocked.txt")" = 2 ]
if printf 'shoe 42\n' | "$bin" blocklist --brand-key-file "$dir/brand.key" >/dev/null 2>&1; then
  echo "an unknown kind must fail"; exit 1
fi
# The brand's authority key (kept by its backend) and an erasure token for a signed-in customer.
"$bin" authority keygen --key-file "$dir/authority.key" | grep -Eq '^authority_public_key=[0-9a-f]{64}$'
[ "$(stat -c %a "$dir/authority.key")" = 600 ]
if "$bin" authority keygen --key-file "$dir/authority.key" 2>/dev/null; then echo "keygen must not replace a key"; exit 1; fi
printf 'email ann@example.com\naccount_id A-1001\n' | "$bin" authority erasure-token --key-file "$dir/authority.key" \
  --brand-key-file "$dir/brand.key" | grep -Eq '^574d455401[0-9a-f]{16}02[0-9a-f]{260}$'
if printf 'email test@test.com\n' | "$bin" authority erasure-token --key-file "$dir/authority.key" \
  --brand-key-file "$dir/brand.key" >/dev/null 2>&1; then echo "a token naming nothing must fail"; exit 1; fi
# An identity assertion for a logged-in customer on one device: 142 bytes, "WMIA" version 1, the kind.
device=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf 'account_id A-1001\n' | "$bin" authority identity-assertion --key-file "$dir/authority.key" \
  --brand-key-file "$dir/brand.key" --device-key "$device" --valid-for-s 3600 > "$dir/assertion"
grep -Eq "^574d494101[0-9a-f]{16}08[0-9a-f]{64}${device}[0-9a-f]{128}$" "$dir/assertion"
set +e; printf 'account_id A-1001\n' | "$bin" authority identity-assertion --key-file "$dir/authority.key" \
  --brand-key-file "$dir/brand.key" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "needs --device-key" "$dir/err"
set +e; "$bin" serve --data-dir "$dir" --port 0 --verified-kinds account_id 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "verified-kinds needs brand-authority-key" "$dir/err"
set +e; "$bin" serve --data-dir "$dir" --port 0 --verified-kinds first_name 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "verified-kinds lists identifier kinds that link" "$dir/err"
set +e; "$bin" serve --data-dir "$dir" --port 0 --brand-authority-key nothex 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "brand-authority-key must be 64 hex" "$dir/err"
# Bad query API tokens and identity limits are refused at start with exit code 2.
set +e; "$bin" serve --data-dir "$dir" --port 0 --api-token "ops:short:profiles:read" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "at least 16" "$dir/err"
set +e; "$bin" serve --data-dir "$dir" --port 0 --identity-limit "email=lots" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "identity-limit" "$dir/err"
# So are bad rule segments (with where the problem is) and a negative noise epsilon.
set +e; "$bin" serve --data-dir "$dir" --port 0 --segment "fans: channel.fax >= 1" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "segment fans: unknown channel 'fax'.*at character 12" "$dir/err"
# A conversion goal holds for one event: a window is refused, and so is a goal named twice.
set +e; "$bin" serve --data-dir "$dir" --port 0 --conversion-goal "signup: event.sign_up[7d] >= 1" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "conversion goal signup: a goal holds for one event: no \[Nd\] windows" "$dir/err"
set +e; "$bin" serve --data-dir "$dir" --port 0 --conversion-goal "lead: event.form >= 1" \
  --conversion-goal "lead: event.call >= 1" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "conversion-goal lead is defined twice" "$dir/err"
set +e; "$bin" serve --data-dir "$dir" --port 0 --report-epsilon -1 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "report-epsilon" "$dir/err"
set +e; "$bin" serve --data-dir "$dir" --port 0 --report-time-zone Europe/Londn 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "unknown time zone Europe/Londn" "$dir/err"
set +e; "$bin" serve --data-dir "$dir" --port 0070000 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "port must be between 0 and 65535" "$dir/err"
set +e; "$bin" serve --data-dir "$dir" --port 0 --threads 0 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "threads must be between 1 and 256" "$dir/err"
# A value holding a Boost placeholder made Program_options' error message loop forever (fuzz_config).
set +e; timeout 10 "$bin" serve --port '%value%x' 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "port" "$dir/err"
printf 'port = 0\nno-such-option = 1\n' > "$dir/unknown.conf"
set +e; "$bin" serve --config "$dir/unknown.conf" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "unknown.conf:2: unrecognised option 'no-such-option'" "$dir/err"
[ "$(wc -l < "$dir/err")" -le 2 ]  # the error and a pointer to --help, not the whole help
printf 'port = 0\ndata-dir = %s\napi-token = ops:0123456789abcdef:profiles:read\nblocked-pseudonyms = %s\n' \
  "$dir" "$dir/blocked.txt" > "$dir/api.conf"
printf 'segment = pos_regulars: channel.pos[90d] >= 3\nsegment = lapsed: days_since_last_event > 60\n' >> "$dir/api.conf"
printf 'report-epsilon = 0.5\n' >> "$dir/api.conf"
"$bin" serve --config "$dir/api.conf" 2>"$dir/log2" &
pid=$!
for _ in $(seq 50); do grep -q listening "$dir/log2" && break; sleep 0.1; done
grep -q '"msg":"blocked pseudonyms: 2"' "$dir/log2"
kill -TERM "$pid"
wait "$pid"
# HTTPS: certificate files from the config, read again on SIGHUP (a renewal); unusable ones keep the
# certificate in use, and are a configuration error (exit 2) at start.
cert() {  # <name>: a self-signed certificate for 127.0.0.1 with CN=<name>
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$1" \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$dir/$1.key" -out "$dir/$1.pem" 2>/dev/null
}
served_cn() {  # <port>: the CN of the certificate the collector presents
  openssl s_client -connect "127.0.0.1:$1" </dev/null 2>/dev/null | openssl x509 -noout -subject
}
cert first; cert renewed
cp "$dir/first.pem" "$dir/tls.pem"; cp "$dir/first.key" "$dir/tls.key"
printf 'port = 0\ndata-dir = %s\ntls-cert-file = %s/tls.pem\ntls-key-file = %s/tls.key\n' "$dir" "$dir" "$dir" \
  > "$dir/tls.conf"
"$bin" serve --config "$dir/tls.conf" 2>"$dir/log3" &
pid=$!
for _ in $(seq 50); do grep -q listening "$dir/log3" && break; sleep 0.1; done
grep -q '"msg":"listening on 127.0.0.1:[0-9]* (HTTPS, ' "$dir/log3"
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$dir/log3")
served_cn "$port" | grep -q "CN = first"
cp "$dir/renewed.pem" "$dir/tls.pem"; cp "$dir/renewed.key" "$dir/tls.key"
kill -HUP "$pid"
for _ in $(seq 50); do grep -q "TLS certificate reloaded" "$dir/log3" && break; sleep 0.1; done
served_cn "$port" | grep -q "CN = renewed"
echo "not a key" > "$dir/tls.key"
kill -HUP "$pid"
for _ in $(seq 50); do grep -q "TLS reload failed" "$dir/log3" && break; sleep 0.1; done
grep -q "TLS reload failed, the certificate in use stays: cannot use tls-key-file" "$dir/log3"
served_cn "$port" | grep -q "CN = renewed"
kill -TERM "$pid"
wait "$pid"
set +e; "$bin" serve --config "$dir/tls.conf" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "cannot use tls-key-file" "$dir/err"
set +e; "$bin" serve --data-dir "$dir" --port 0 --tls-cert-file "$dir/first.pem" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "tls-cert-file and tls-key-file go together" "$dir/err"
set +e; "$bin" serve --data-dir "$dir" --port 0 --tls-client-ca-file "$dir/first.pem" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "tls-client-ca-file needs" "$dir/err"
# Backup while serving; restore only once it is stopped, and the restored store serves.
"$bin" serve --config "$dir/good.conf" 2>"$dir/log4" &
pid=$!
for _ in $(seq 50); do grep -q listening "$dir/log4" && break; sleep 0.1; done
"$bin" backup --data-dir "$dir" --backup-file "$dir/backup.db" 2>"$dir/err"
[ "$(stat -c %a "$dir/backup.db")" = 600 ] && grep -q "back up keys/ separately" "$dir/err"
set +e; "$bin" backup --data-dir "$dir" --backup-file "$dir/backup.db" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "exists" "$dir/err"
set +e; "$bin" restore --data-dir "$dir" --backup-file "$dir/backup.db" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 1 ] && grep -q "another waymark-collector is serving" "$dir/err"
kill -TERM "$pid"
wait "$pid"
"$bin" restore --data-dir "$dir" --backup-file "$dir/backup.db" 2>"$dir/err"
grep -q "restored" "$dir/err"
set +e; "$bin" restore --data-dir "$dir" --backup-file "$dir/help" 2>"$dir/err"; rc=$?; set -e
[ "$rc" = 2 ] && grep -q "not an intact Waymark collector store" "$dir/err"
# Reports from the command line (an empty store: no rows, no fit).
"$bin" report attribution --data-dir "$dir" --model linear --from 2026-01-01 --to 2026-02-01 | grep -q '"rows":\[\]'
"$bin" report attribution --data-dir "$dir" --format csv | grep -q '^channel,conversions,revenue,profiles$'
"$bin" report clv --data-dir "$dir" | grep -q '"bgnbd":null'
if "$bin" report attribution --data-dir "$dir" --model shapley 2>/dev/null; then echo "an unknown model must fail"; exit 1; fi
echo "collector cli: ok"
