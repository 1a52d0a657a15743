#!/usr/bin/env bash
# Helm for the chart test (test/deploy/helm-chart.test.ts): `helm.sh install DIR` (see lib.sh).
# Not a server: helm is a Go module, built once per version with `go install` from the Go module
# proxy into ~/.cache/streamgate/helm-VERSION/ (like Kafka's jars), then reused.
# Prints `PATH=<helm binary>`. Environment: STREAMGATE_HELM_VERSION (default below).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICE=helm
LOG_FILE=install.log
HELM_VERSION=${STREAMGATE_HELM_VERSION:-v3.22.0}
HELM_HOME="$STREAMGATE_CACHE/helm-$HELM_VERSION"

main() {
  local cmd=${1:-} dir=${2:-}
  if [[ $cmd != install || -z $dir ]]; then
    echo "usage: $0 install DIR" >&2
    exit 2
  fi
  mkdir -p "$dir" "$HELM_HOME"
  exec 3>&1 1>&2
  if [[ ! -x $HELM_HOME/bin/helm ]]; then
    command -v go >/dev/null || apt_install "$dir" go golang-go
    say "building helm $HELM_VERSION with go install into $HELM_HOME (log: $dir/$LOG_FILE)"
    # One build at a time: parallel test runs share the cache.
    (
      flock -w 2400 9 || fail "$dir" "timed out waiting for another helm build"
      [[ -x $HELM_HOME/bin/helm ]] ||
        GOBIN="$HELM_HOME/bin" GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
          >>"$dir/$LOG_FILE" 2>&1 ||
        fail "$dir" "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed"
    ) 9>"$HELM_HOME/.lock"
  fi
  "$HELM_HOME/bin/helm" version --short >/dev/null || fail "$dir" "$HELM_HOME/bin/helm does not run"
  echo "PATH=$HELM_HOME/bin/helm" >&3
}

main "$@"
