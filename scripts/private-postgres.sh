#!/usr/bin/env bash
# A private PostgreSQL for the tests (CTest fixture `postgres`) and for `waymark-demo --store postgresql`.
# `start DIR` runs initdb into DIR as the postgres system user (runuser, when run as root; DIR's parents
# must let it through) and starts a server that listens only on a Unix socket in DIR, on a random port;
# `halt DIR` stops it; `restart DIR` restarts it on its files and port; `stop DIR` stops it and removes DIR.
# No system cluster is touched.
set -euo pipefail
cmd=${1:?start|halt|restart|stop} dir=$(realpath -m "${2:?directory}")  # the server runs in its data directory
bindir=$(pg_config --bindir)
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true; fi
}
case $cmd in
  start)
    stop  # a server an interrupted run left behind
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    as_pg "$bindir/initdb" -D "$dir/data" -U waymark -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log"
    port=$((20000 + RANDOM % 20000))
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
      "-k $dir -p $port -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c max_connections=300" \
      start >/dev/null
    echo "host=$dir port=$port user=waymark" >"$dir/conninfo"
    echo "postgres: started on $dir port $port"
    ;;
  halt) stop ;;  # the files kept
  restart)  # as a crash-free restart would: same files, port and options (postmaster.opts)
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w restart >/dev/null
    ;;
  stop)
    stop
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|halt|restart|stop DIR" >&2; exit 2 ;;
esac
