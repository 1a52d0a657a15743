#!/usr/bin/env bash
# Throwaway PostgreSQL 15 for tests: `postgres.sh start|restart|down|kill|up|stop|url DIR` (see lib.sh).
# URL: postgres://postgres@127.0.0.1:PORT/postgres (trust auth, loopback only).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICE=postgres
READY_TIMEOUT=30
LOG_FILE=postgres.log
PG_VERSION=15
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin

# Postgres refuses to run as root, so when we are root its commands run as the `postgres`
# user that the Debian package creates.
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

service_install() {
  [[ -x $PG_BIN/pg_ctl ]] && return 0
  # postgresql-15 brings initdb/pg_ctl/postgres; the client package brings pg_isready and psql.
  apt_install "$1" "$PG_BIN/pg_ctl" "postgresql-$PG_VERSION" "postgresql-client-$PG_VERSION"
}

service_init() {
  local dir=$1
  reserve_port "$dir" port
  # The server writes its log and socket into DIR, so DIR must be its own.
  if [[ $EUID -eq 0 ]]; then chown postgres: "$dir"; fi
  as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    --no-sync >>"$dir/initdb.log" 2>&1 || fail "$dir" "initdb failed" "$dir/initdb.log"
  # Test data is throwaway: durability settings are traded for speed. max_connections is
  # raised because every test file may open its own pool against its own database.
  cat >>"$dir/data/postgresql.conf" <<EOF

# --- streamgate test server ---
listen_addresses = '127.0.0.1'
port = $(<"$dir/port")
unix_socket_directories = '$dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

# pg_ctl daemonizes postgres itself and, with -w, waits until it accepts connections.
# `3>&-`: postgres outlives us and must not hold our caller's stdout (see service_main).
service_launch() {
  local dir=$1
  as_pg setsid "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/$LOG_FILE" -w -t "$READY_TIMEOUT" start \
    >>"$dir/ready-check.log" 2>&1 3>&- || fail "$dir" "pg_ctl start failed" "$dir/ready-check.log"
  head -n 1 "$dir/data/postmaster.pid" >"$dir/pid"
}

service_ready() {
  local dir=$1
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$(<"$dir/port")" -U postgres -d postgres
}

service_halt() {
  local dir=$1
  pid_alive "$dir" || return 0
  # Fast mode: disconnect clients and shut down cleanly, so `up` finds consistent data.
  as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 20 stop >>"$dir/ready-check.log" 2>&1 || stop_pid "$dir" 5
  rm -f "$dir/pid"
}

# A crash: immediate mode quits without a checkpoint, so `up` runs crash recovery.
service_crash() {
  local dir=$1
  pid_alive "$dir" || return 0
  as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 20 stop >>"$dir/ready-check.log" 2>&1 || kill_pid "$dir"
  rm -f "$dir/pid"
}

service_url() { echo "postgres://postgres@127.0.0.1:$(<"$1/port")/postgres"; }

service_main "$@"
