#!/usr/bin/env bash
# Debian's chromium for the GraphiQL browser test: `chromium.sh install DIR` (see lib.sh).
# Not a server: it is only installed (with apt, like the real servers), never downloaded by
# Playwright, which cannot reach its CDN here. Prints `PATH=/usr/bin/chromium`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICE=chromium
LOG_FILE=install.log

main() {
  local cmd=${1:-} dir=${2:-}
  if [[ $cmd != install || -z $dir ]]; then
    echo "usage: $0 install DIR" >&2
    exit 2
  fi
  mkdir -p "$dir"
  exec 3>&1 1>&2
  command -v chromium >/dev/null || apt_install "$dir" chromium chromium
  echo "PATH=$(command -v chromium)" >&3
}

main "$@"
