#!/usr/bin/env bash
# Throwaway NATS server with JetStream for tests: `nats.sh start|restart|down|kill|up|stop|url DIR`
# (see lib.sh). URL: nats://127.0.0.1:PORT; the HTTP monitor listens on DIR/monitor_port.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICE=nats
READY_TIMEOUT=30
LOG_FILE=nats.log

service_install() {
  local dir=$1
  command -v curl >/dev/null || apt_install "$dir" curl curl
  command -v nats-server >/dev/null || apt_install "$dir" nats-server nats-server
}

service_init() {
  reserve_port "$1" port
  # The monitor port serves /healthz, which tells when JetStream is up, not just the socket.
  reserve_port "$1" monitor_port
}

# JetStream state lives in DIR/jetstream (nats-server appends "jetstream"), so streams and KV buckets survive `restart`.
# DIR/server.conf, when a test wrote one before `start` (users, permissions), is read too; the flags win over it.
service_launch() {
  local dir=$1 config=()
  [[ -f $dir/server.conf ]] && config=(--config "$dir/server.conf")
  launch_detached "$dir" nats-server "${config[@]}" --addr 127.0.0.1 --port "$(<"$dir/port")" \
    --http_port "$(<"$dir/monitor_port")" --name streamgate-test --jetstream --store_dir "$dir"
}

# /healthz answers ok once the server and JetStream are up; /jsz shows a JetStream config
# only when JetStream really is enabled (it says "disabled" otherwise).
service_ready() {
  local monitor
  monitor="http://127.0.0.1:$(<"$1/monitor_port")"
  curl -fsS --max-time 2 "$monitor/healthz" >/dev/null &&
    [[ $(curl -fsS --max-time 2 "$monitor/jsz") == *'"store_dir"'* ]]
}

service_url() { echo "nats://127.0.0.1:$(<"$1/port")"; }

service_main "$@"
