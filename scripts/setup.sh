#!/usr/bin/env bash
# Idempotent setup used by `npm start`, `npm test` and `npm run bench`: makes sure etcd is installed
# and node_modules matches package-lock.json. Silent when there is nothing to do; on failure it prints
# what went wrong (and, for etcd without root/apt, the exact command to run) and exits non-zero.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

log="$(mktemp)"
trap 'rm -f "${log}"' EXIT

# Runs a command with its output captured; shows the output only if the command fails.
quietly() {
  if ! "$@" >"${log}" 2>&1; then
    echo "setup: '$*' failed:" >&2
    tail -n 40 "${log}" >&2
    exit 1
  fi
}

have_etcd() {
  if [[ -n "${ETCD_BIN:-}" && -x "${ETCD_BIN}" ]]; then return 0; fi
  [[ -x /usr/bin/etcd ]] || command -v etcd >/dev/null 2>&1
}

if ! have_etcd; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    quietly apt-get update -qq
    quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server
  else
    echo "setup: etcd is not installed; install it with:" >&2
    echo "  sudo apt-get install -y etcd-server" >&2
    exit 1
  fi
fi

# The auth and etcd-credential tests make their certificates with openssl.
if ! command -v openssl >/dev/null 2>&1; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    quietly apt-get update -qq
    quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl
  else
    echo "setup: openssl is not installed (the TLS tests need it): sudo apt-get install -y openssl" >&2
  fi
fi

# etcdctl (Debian's etcd-client, same version as the server): the backup/restore test and runbook.
if ! command -v etcdctl >/dev/null 2>&1; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    quietly apt-get update -qq
    quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-client
  else
    echo "setup: etcdctl is not installed (the restore test needs it): sudo apt-get install -y etcd-client" >&2
  fi
fi

if [[ ! -x node_modules/.bin/vitest ]] ||
  [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  quietly npm ci --no-audit --no-fund
fi
