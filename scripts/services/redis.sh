#!/usr/bin/env bash
# Throwaway Redis for tests: `redis.sh start|restart|down|kill|up|stop|url DIR` (see lib.sh).
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

# No automatic snapshots (they would only cost time in tests). The append-only file keeps
# what Redis acknowledged across a `kill` (SIGKILL): Redis writes it before it replies, and
# with `appendfsync no` that write reaches the kernel, which outlives the process; the
# fsyncs, which only matter when the machine dies, are left to the kernel.
service_launch() {
  local dir=$1
  launch_detached "$dir" redis-server --port "$(<"$dir/port")" --bind 127.0.0.1 --dir "$dir" \
    --save '' --appendonly yes --appendfsync no --daemonize no
}

service_ready() { [[ $(cli "$1" ping 2>&1) == PONG ]]; }

# SHUTDOWN SAVE also flushes the append-only file, which the next launch loads from DIR.
service_halt() {
  local dir=$1
  pid_alive "$dir" || return 0
  cli "$dir" shutdown save >/dev/null 2>&1 || true
  stop_pid "$dir" 10
}

service_url() { echo "redis://127.0.0.1:$(<"$1/port")"; }

service_main "$@"
