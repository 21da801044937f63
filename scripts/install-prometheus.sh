#!/usr/bin/env bash
# Make a Prometheus server binary available for the end-to-end test, without installing or
# starting a system service. Prints the path of a usable `prometheus` on stdout (everything else
# goes to stderr). Idempotent: uses $PROMETHEUS_BIN, prometheus from PATH, or
# .data/tools/prometheus, before downloading anything. Otherwise it runs `apt-get download
# prometheus` (after `apt-get update` if needed), unpacks the .deb with `dpkg-deb -x` and copies
# only usr/bin/prometheus to .data/tools/prometheus.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${repo_root}/.data/tools/prometheus"

find_prometheus() {
  if [[ -n "${PROMETHEUS_BIN:-}" && -x "${PROMETHEUS_BIN}" ]]; then
    echo "${PROMETHEUS_BIN}"
    return 0
  fi
  if command -v prometheus >/dev/null 2>&1; then
    command -v prometheus
    return 0
  fi
  if [[ -x "${target}" ]]; then
    echo "${target}"
    return 0
  fi
  return 1
}

if find_prometheus; then exit 0; fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "install-prometheus: apt-get/dpkg-deb not found; install prometheus by hand" >&2
  echo "  (or set PROMETHEUS_BIN to a prometheus binary)" >&2
  exit 1
fi

mkdir -p "$(dirname "${target}")"
# Two test workers may get here at once: serialise on a lock file, then look again.
exec 9>"$(dirname "${target}")/.install-prometheus.lock"
if command -v flock >/dev/null 2>&1; then flock -w 300 9; fi
if find_prometheus; then exit 0; fi

tmp="$(mktemp -d)"
# As root, apt downloads as the _apt user: let it write here so it need not fall back (and warn).
if [[ "$(id -u)" -eq 0 ]] && id _apt >/dev/null 2>&1; then
  chown _apt "${tmp}"
fi
trap 'rm -rf "${tmp}"' EXIT

# apt-get download needs no root, but the package lists may be missing on a fresh machine:
# refresh them once (that needs root) and retry.
if ! (cd "${tmp}" && apt-get download -qq prometheus >&2); then
  echo "install-prometheus: refreshing apt package lists" >&2
  apt-get update -qq >&2
  (cd "${tmp}" && apt-get download -qq prometheus >&2)
fi

deb="$(find "${tmp}" -maxdepth 1 -name 'prometheus_*.deb' | head -n 1)"
if [[ -z "${deb}" ]]; then
  echo "install-prometheus: apt-get download produced no prometheus_*.deb" >&2
  exit 1
fi
dpkg-deb -x "${deb}" "${tmp}/root"
if [[ ! -f "${tmp}/root/usr/bin/prometheus" ]]; then
  echo "install-prometheus: the package has no usr/bin/prometheus" >&2
  exit 1
fi

# Copy to a temporary name first so a concurrent run never sees a half-written binary.
cp "${tmp}/root/usr/bin/prometheus" "${target}.tmp.$$"
chmod 0755 "${target}.tmp.$$"
mv -f "${target}.tmp.$$" "${target}"
if ! "${target}" --version >/dev/null 2>&1; then
  echo "install-prometheus: ${target} does not run (missing shared libraries?)" >&2
  rm -f "${target}"
  exit 1
fi
echo "${target}"
