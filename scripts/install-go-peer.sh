#!/usr/bin/env bash
# Installs what the bench's Go peer (bench/go-mutex, etcd's clientv3 concurrency.Mutex) needs to be
# built offline in GOPATH mode: Debian's Go toolchain (golang-go) and etcd's Go sources
# (golang-etcd-server-dev, which puts go.etcd.io/etcd/clientv3/concurrency and everything it
# imports under /usr/share/gocode/src). Idempotent and silent when both are there. On failure it
# prints why on stderr and exits non-zero; the bench then skips the Go rows.
#
# Note: golang-etcd-server-dev depends (via golang-github-coreos-go-systemd-dev) on
# libsystemd-dev, so apt may bring libsystemd0/systemd up to the archive's current point release.
set -euo pipefail

gocode=/usr/share/gocode
mutex_src="${gocode}/src/go.etcd.io/etcd/clientv3/concurrency/mutex.go"
packages=(golang-go golang-etcd-server-dev)

have_all() {
  command -v go >/dev/null 2>&1 && [[ -f "${mutex_src}" ]]
}

if have_all; then exit 0; fi

if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-go-peer: Go or etcd's Go sources are missing; install them with:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${packages[*]}" >&2
  exit 1
fi

log="$(mktemp)"
trap 'rm -f "${log}"' EXIT

# Runs a command with its output captured; shows the output only if the command fails.
quietly() {
  if ! "$@" >"${log}" 2>&1; then
    echo "install-go-peer: '$*' failed:" >&2
    tail -n 40 "${log}" >&2
    return 1
  fi
}

apt_install() {
  # dpkg's lock may be held by another apt run for a while: wait for it instead of failing.
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "${packages[@]}"
}

# The package lists may be missing or stale on a fresh machine: refresh once and retry.
if ! apt_install >"${log}" 2>&1; then
  quietly apt-get update -qq
  quietly apt_install
fi

if ! have_all; then
  echo "install-go-peer: installed ${packages[*]} but 'go' or ${mutex_src} is still missing" >&2
  exit 1
fi
