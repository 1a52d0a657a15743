# shellcheck shell=bash
# Shared by scripts/services/<name>.sh: throwaway servers for tests.
#
# Every service script supports the same commands, all taking the service's own DIR:
#   start DIR    install the server if missing, reserve free loopback ports, start it with
#                its data in DIR, wait until it accepts connections, print `URL=<url>`
#   restart DIR  stop the process (data kept), start it again on the same ports, print `URL=<url>`
#   down DIR     stop the process only (data and ports kept): the server is "unavailable"
#   kill DIR     like down, but as a crash: SIGKILL, no shutdown work (what a fault test wants)
#   up DIR       start a downed server again on the same ports, print `URL=<url>`
#   stop DIR     stop the process and remove DIR
#   url DIR      print `URL=<url>` of a started DIR
# stdout carries only the URL line; everything else goes to stderr or to logs in DIR.
#
# A service script sets SERVICE, READY_TIMEOUT and LOG_FILE (relative to DIR) and defines:
#   service_install DIR   make the binaries available (idempotent)
#   service_init DIR      first start only: reserve ports (reserve_port), create data and config
#   service_launch DIR    start the process in the background; record its pid (launch_detached)
#   service_ready DIR     succeed once the server really serves requests
#   service_url DIR       print the URL (without `URL=`)
# and may override service_halt DIR (default: SIGTERM the pid, SIGKILL after a grace period),
# service_crash DIR (default: SIGKILL the pid's process group, as `kill -9` would)
# and service_alive DIR (default: the recorded pid exists).
#
# Environment:
#   STREAMGATE_SERVICES_OWNER_PID  when set at `start`, a watchdog stops the server once that
#                                  process is gone, so a killed test run leaves no servers behind.

# shellcheck disable=SC2034 # used by kafka.sh for downloads kept between runs
STREAMGATE_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/streamgate"
# Reservations live outside any one DIR, at a fixed place (not $TMPDIR, which may differ
# between runs), so that concurrent test runs see each other's ports.
PORT_REGISTRY=/tmp/streamgate-ports
MARKER=.streamgate-service

say() { echo "[$SERVICE] $*" >&2; }

now_ms() { date +%s%3N; }

# Print the last lines of a log in DIR, framed, to stderr.
tail_log() {
  local file=$1 lines=${2:-40}
  [[ -s $file ]] || return 0
  echo "----- last $lines lines of $file -----" >&2
  tail -n "$lines" "$file" >&2
  echo "----- end of $file -----" >&2
}

# Exit with a message that names the server and shows why (its log tail).
# Usage: fail DIR "why" [extra log file...]
fail() {
  local dir=$1 why=$2
  shift 2
  echo "[$SERVICE] FAILED: $why" >&2
  local f
  for f in "$@" "$dir/$LOG_FILE"; do
    [[ -n $f ]] && tail_log "$f"
  done
  exit 1
}

# Run a command as root: directly when we are root (CI), else through passwordless sudo.
as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 1
  fi
}

# Install Debian packages. Parallel service scripts all want apt at once, so they take
# turns on a lock; the package lists are refreshed once, not once per script.
# Usage: apt_install DIR CHECK_COMMAND PACKAGE...   (CHECK_COMMAND: present once installed)
apt_install() {
  local dir=$1 check=$2
  shift 2
  local log="$dir/install.log" lock=/var/lock/streamgate-apt.lock stamp=/var/lock/streamgate-apt-updated
  say "installing $* with apt-get (log: $log)"
  if ! as_root true; then
    fail "$dir" "'$check' is missing and installing '$*' needs root (or passwordless sudo)"
  fi
  if ! (
    flock -w 900 9 || { echo "timed out waiting for another apt-get" >>"$log"; exit 1; }
    # Another script may have installed it while we waited for the lock.
    command -v "$check" >/dev/null && exit 0
    export DEBIAN_FRONTEND=noninteractive
    local opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=600)
    # Debian starts a package's daemon on install (e.g. redis on 6379); tests want none of
    # them. policy-rc.d exit 101 forbids that, as in Docker images that already ship one.
    local policy=/usr/sbin/policy-rc.d made_policy=
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null && as_root chmod +x "$policy" && made_policy=1
    fi
    local status=0
    if [[ -z $(find "$stamp" -mmin -30 2>/dev/null) ]]; then
      as_root apt-get update -q >>"$log" 2>&1 && as_root touch "$stamp" || status=$?
    fi
    ((status == 0)) && { as_root apt-get install "${opts[@]}" "$@" >>"$log" 2>&1 || status=$?; }
    [[ -n $made_policy ]] && as_root rm -f "$policy"
    exit "$status"
  ) 9>"$lock"; then
    fail "$dir" "apt-get install $* failed" "$log"
  fi
  command -v "$check" >/dev/null || fail "$dir" "apt-get installed $* but '$check' is still missing" "$log"
}

# True when something on this machine already uses PORT (listening or connected).
port_busy() {
  local port=$1
  if command -v ss >/dev/null; then
    [[ -n $(ss -Htan "( sport = :$port )" 2>/dev/null) ]]
  else
    (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

# Reserve a free loopback port for DIR and save it as DIR/NAME.
# Ports come from below the kernel's ephemeral range, so an outgoing connection cannot take
# a port while its server is down for a `restart`. A reservation is a symlink PORT -> DIR in
# PORT_REGISTRY, so concurrent runs never pick the same port even before their servers bind;
# it lapses when DIR is removed.
reserve_port() {
  local dir=$1 name=$2
  local low high
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
  high=$((low - 1))
  ((high > 32767)) && high=32767
  # Shared by every user's runs, like /tmp itself.
  if mkdir -p "$PORT_REGISTRY"; then chmod 1777 "$PORT_REGISTRY" 2>/dev/null || true; fi
  local port found=
  exec 8>>"$PORT_REGISTRY/.lock"
  chmod 666 "$PORT_REGISTRY/.lock" 2>/dev/null || true
  flock -w 30 8 || fail "$dir" "timed out waiting for the port registry lock"
  for _ in $(seq 1 200); do
    port=$((10000 + (RANDOM * 32768 + RANDOM) % (high - 10000 + 1)))
    local link="$PORT_REGISTRY/$port"
    if [[ -L $link && ! -e $link ]]; then rm -f "$link"; fi
    [[ -L $link ]] && continue
    port_busy "$port" && continue
    ln -s "$dir" "$link" && found=$port && break
  done
  flock -u 8
  exec 8>&-
  [[ -n $found ]] || fail "$dir" "found no free loopback port"
  echo "$found" >"$dir/$name"
}

release_ports() {
  local dir=$1 f port
  for f in "$dir"/*port; do
    [[ -f $f ]] || continue
    port=$(<"$f")
    [[ $(readlink "$PORT_REGISTRY/$port" 2>/dev/null) == "$dir" ]] && rm -f "$PORT_REGISTRY/$port"
  done
  return 0
}

# Start a server in the background, detached from our stdout (so callers reading our output
# see EOF) and in its own session (so a Ctrl-C aimed at the test runner does not hit it
# half-way; the teardown or the watchdog stops it). Records the pid in DIR/pid.
# Usage: launch_detached DIR command...
launch_detached() {
  local dir=$1
  shift
  setsid "$@" >>"$dir/$LOG_FILE" 2>&1 </dev/null 3>&- &
  echo $! >"$dir/pid"
}

# True while PID runs. A zombie counts as gone: our servers are orphans once the script that
# launched them exits, and init may take a second or two to reap them.
proc_running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

pid_alive() {
  local pid
  pid=$(cat "$1/pid" 2>/dev/null) || return 1
  [[ -n $pid ]] && proc_running "$pid"
}

# SIGTERM the recorded pid (and its process group), SIGKILL after GRACE seconds.
stop_pid() {
  local dir=$1 grace=${2:-15} pid
  pid=$(cat "$dir/pid" 2>/dev/null) || return 0
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
  local deadline=$(($(now_ms) + grace * 1000))
  while proc_running "$pid"; do
    if (($(now_ms) > deadline)); then
      say "pid $pid ignored SIGTERM for ${grace}s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  rm -f "$dir/pid"
}

# Pid of the process listening on loopback PORT, empty if none or if ss cannot tell.
port_owner() {
  local listing
  listing=$(ss -Htlnp "( sport = :$1 )" 2>/dev/null) || return 0
  [[ $listing =~ pid=([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
  return 0
}

# SIGKILL the recorded pid and its process group (the server runs in a session of its own),
# and wait until it is gone, so that `up` finds the port free.
kill_pid() {
  local dir=$1 pid
  pid=$(cat "$dir/pid" 2>/dev/null) || return 0
  [[ -n $pid ]] || return 0
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  local deadline=$(($(now_ms) + 10000))
  while proc_running "$pid" && (($(now_ms) < deadline)); do sleep 0.05; done
  rm -f "$dir/pid"
}

service_alive() { pid_alive "$1"; }
service_halt() { stop_pid "$1" 15; }
service_crash() { kill_pid "$1"; }

# Poll service_ready until it succeeds, the process dies, or READY_TIMEOUT passes.
wait_until_ready() {
  local dir=$1 started=$2
  local deadline=$((started + READY_TIMEOUT * 1000))
  until service_ready "$dir" 2>>"$dir/ready-check.log"; do
    service_alive "$dir" || fail "$dir" "the server process exited during start-up" "$dir/ready-check.log"
    if (($(now_ms) > deadline)); then
      service_halt "$dir" || true
      fail "$dir" "not ready within ${READY_TIMEOUT}s" "$dir/ready-check.log"
    fi
    sleep 0.1
  done
  # A readiness check only talks to whatever answers on the port. If another process holds
  # it (say, something took the port while the server was down for a restart), our server
  # failed to bind and the check was answered by a stranger.
  local port owner
  port=$(<"$dir/port")
  owner=$(port_owner "$port")
  if [[ -n $owner && $owner != "$(cat "$dir/pid" 2>/dev/null)" ]]; then
    service_halt "$dir" || true
    fail "$dir" "port $port is held by another process (pid $owner: $(ps -o args= -p "$owner" 2>/dev/null))"
  fi
  local ms=$(($(now_ms) - started))
  say "ready at $(service_url "$dir") in $((ms / 1000)).$(printf '%03d' $((ms % 1000)))s (dir $dir)"
}

# Stop the server when the test runner that started it is gone (killed, crashed).
start_watchdog() {
  local dir=$1 owner=${STREAMGATE_SERVICES_OWNER_PID:-}
  [[ -n $owner ]] || return 0
  local script
  script=$(readlink -f "$0")
  # shellcheck disable=SC2016 # $1..$4 are the inner script's arguments
  setsid bash -c '
    while kill -0 "$1" 2>/dev/null && [[ -e $2/$4 ]]; do sleep 2; done
    [[ -e $2/$4 ]] && exec bash "$3" stop "$2"
  ' watchdog "$owner" "$dir" "$script" "$MARKER" >/dev/null 2>&1 </dev/null 3>&- &
  echo $! >"$dir/watchdog.pid"
}

emit_url() { echo "URL=$(service_url "$1")" >&3; }

cmd_start() {
  local dir=$1
  mkdir -p "$dir"
  if [[ -e $dir/$MARKER ]]; then
    fail "$dir" "$dir is already in use by $(<"$dir/$MARKER"); use restart, or stop it first"
  fi
  echo "$SERVICE" >"$dir/$MARKER"
  service_install "$dir"
  service_init "$dir"
  cmd_up "$dir"
  start_watchdog "$dir"
}

cmd_up() {
  local dir=$1
  [[ -f $dir/port ]] || fail "$dir" "$dir was never started (no $dir/port)"
  service_alive "$dir" && fail "$dir" "already running (pid $(cat "$dir/pid" 2>/dev/null))"
  local started
  started=$(now_ms)
  # Each launch gets a fresh readiness log, so a failure shows only this attempt.
  : >"$dir/ready-check.log"
  service_launch "$dir"
  wait_until_ready "$dir" "$started"
  emit_url "$dir"
}

cmd_down() {
  local dir=$1
  [[ -f $dir/port ]] || fail "$dir" "$dir was never started (no $dir/port)"
  service_halt "$dir"
  say "stopped (data kept in $dir)"
}

cmd_kill() {
  local dir=$1
  [[ -f $dir/port ]] || fail "$dir" "$dir was never started (no $dir/port)"
  service_crash "$dir"
  say "killed (SIGKILL; data kept in $dir)"
}

cmd_stop() {
  local dir=$1
  [[ -e $dir ]] || return 0
  if [[ ! -e $dir/$MARKER ]]; then
    # Never rm -rf a directory we did not set up (a wrong argument must not wipe anything).
    rmdir "$dir" 2>/dev/null && return 0
    fail "$dir" "$dir is not a $SERVICE service dir (no $MARKER); not removing it"
  fi
  [[ $(<"$dir/$MARKER") == "$SERVICE" ]] || fail "$dir" "$dir belongs to $(<"$dir/$MARKER"), not $SERVICE"
  local watchdog
  watchdog=$(cat "$dir/watchdog.pid" 2>/dev/null || true)
  # The watchdog itself ends by exec'ing `stop`: do not kill ourselves then.
  if [[ -n $watchdog && $watchdog != "$$" ]]; then kill "$watchdog" 2>/dev/null || true; fi
  service_halt "$dir" || true
  release_ports "$dir"
  rm -rf "$dir"
  say "stopped and removed $dir"
}

service_main() {
  local cmd=${1:-} dir=${2:-}
  if [[ -z $cmd || -z $dir || $# -ne 2 ]]; then
    echo "usage: $0 start|restart|down|kill|up|stop|url DIR" >&2
    exit 2
  fi
  dir=$(realpath -m "$dir")
  # Keep stdout for the URL line only: anything a tool prints goes to stderr. Whatever
  # outlives this script (servers, watchdog) must be started with `3>&-`: a process that
  # keeps the caller's stdout open makes the caller wait for EOF forever.
  exec 3>&1 1>&2
  case $cmd in
    start) cmd_start "$dir" ;;
    restart) cmd_down "$dir" && cmd_up "$dir" ;;
    down) cmd_down "$dir" ;;
    kill) cmd_kill "$dir" ;;
    up) cmd_up "$dir" ;;
    stop) cmd_stop "$dir" ;;
    url) emit_url "$dir" ;;
    *)
      echo "unknown command '$cmd'; usage: $0 start|restart|down|kill|up|stop|url DIR" >&2
      exit 2
      ;;
  esac
}
