#!/usr/bin/env bash
# Throwaway Redis for tests: `redis.sh start|restart|down|up|stop|url DIR` (see lib.sh).
# URL: redis://127.0.0.1:PORT
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICE=redis
READY_TIMEOUT=30
LOG_FILE=redis.log

cli() { redis-cli -h 127.0.0.1 -p "$(<"$1/port")" "${@:2}"; }

service_install() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
  # redis-server depends on redis-tools, which brings redis-cli.
  apt_install "$1" redis-server redis-server redis-tools
}

service_init() { reserve_port "$1" port; }

# No automatic snapshots (they would only cost time in tests); the data survives a
# restart because service_halt saves it explicitly.
service_launch() {
  local dir=$1
  launch_detached "$dir" redis-server --port "$(<"$dir/port")" --bind 127.0.0.1 --dir "$dir" \
    --save '' --appendonly no --daemonize no
}

service_ready() { [[ $(cli "$1" ping 2>&1) == PONG ]]; }

# SHUTDOWN SAVE writes dump.rdb even with `--save ''`, and the next launch loads it from DIR:
# that is what keeps the data across `restart`.
service_halt() {
  local dir=$1
  pid_alive "$dir" || return 0
  cli "$dir" shutdown save >/dev/null 2>&1 || true
  stop_pid "$dir" 10
}

service_url() { echo "redis://127.0.0.1:$(<"$1/port")"; }

service_main "$@"
