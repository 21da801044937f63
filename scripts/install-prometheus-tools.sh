#!/usr/bin/env bash
# Makes `prometheus` or `promtool` (the first argument) available without installing or starting
# a system service, and prints the path of a usable binary on stdout (everything else goes to
# stderr). Idempotent: uses $PROMETHEUS_BIN / $PROMTOOL_BIN, the tool on PATH, or
# .data/tools/<tool>, before downloading anything. Otherwise it runs `apt-get download prometheus`
# (after `apt-get update` if needed), unpacks the .deb with `dpkg-deb -x` and copies both
# usr/bin/prometheus and usr/bin/promtool to .data/tools/, so one download serves both.
set -euo pipefail

tool="${1:-}"
case "${tool}" in
  prometheus) override="${PROMETHEUS_BIN:-}" ;;
  promtool) override="${PROMTOOL_BIN:-}" ;;
  *)
    echo "usage: install-prometheus-tools.sh prometheus|promtool" >&2
    exit 2
    ;;
esac

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${repo_root}/.data/tools"
target="${tools}/${tool}"

find_tool() {
  if [[ -n "${override}" && -x "${override}" ]]; then
    echo "${override}"
    return 0
  fi
  if command -v "${tool}" >/dev/null 2>&1; then
    command -v "${tool}"
    return 0
  fi
  if [[ -x "${target}" ]]; then
    echo "${target}"
    return 0
  fi
  return 1
}

if find_tool; then exit 0; fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "install-prometheus-tools: apt-get/dpkg-deb not found; install Debian's prometheus by hand" >&2
  exit 1
fi

mkdir -p "${tools}"
# Two test workers may get here at once: serialise on a lock file, then look again.
exec 9>"${tools}/.install-prometheus.lock"
if command -v flock >/dev/null 2>&1; then flock -w 300 9; fi
if find_tool; then exit 0; fi

tmp="$(mktemp -d)"
# As root, apt downloads as the _apt user: let it write here so it need not fall back (and warn).
if [[ "$(id -u)" -eq 0 ]] && id _apt >/dev/null 2>&1; then
  chown _apt "${tmp}"
fi
trap 'rm -rf "${tmp}"' EXIT

# apt-get download needs no root, but the package lists may be missing on a fresh machine:
# refresh them once (that needs root) and retry.
if ! (cd "${tmp}" && apt-get download -qq prometheus >&2); then
  echo "install-prometheus-tools: refreshing apt package lists" >&2
  apt-get update -qq >&2
  (cd "${tmp}" && apt-get download -qq prometheus >&2)
fi

deb="$(find "${tmp}" -maxdepth 1 -name 'prometheus_*.deb' | head -n 1)"
if [[ -z "${deb}" ]]; then
  echo "install-prometheus-tools: apt-get download produced no prometheus_*.deb" >&2
  exit 1
fi
dpkg-deb -x "${deb}" "${tmp}/root"

for name in prometheus promtool; do
  if [[ ! -f "${tmp}/root/usr/bin/${name}" ]]; then
    echo "install-prometheus-tools: the package has no usr/bin/${name}" >&2
    exit 1
  fi
  # Copy to a temporary name first so a concurrent run never sees a half-written binary.
  cp "${tmp}/root/usr/bin/${name}" "${tools}/${name}.tmp.$$"
  chmod 0755 "${tools}/${name}.tmp.$$"
  mv -f "${tools}/${name}.tmp.$$" "${tools}/${name}"
done
if ! "${target}" --version >/dev/null 2>&1; then
  echo "install-prometheus-tools: ${target} does not run (missing shared libraries?)" >&2
  rm -f "${target}"
  exit 1
fi
echo "${target}"
