#!/usr/bin/env bash
# Make promtool available for the rule tests without installing the Prometheus server.
# Prints the path of a usable promtool on stdout (everything else goes to stderr).
# Idempotent: uses promtool from PATH, or .data/tools/promtool, before downloading anything.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${repo_root}/.data/tools/promtool"

if command -v promtool >/dev/null 2>&1; then
  command -v promtool
  exit 0
fi
if [[ -x "${target}" ]]; then
  echo "${target}"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "install-promtool: apt-get/dpkg-deb not found; install promtool by hand" >&2
  exit 1
fi

tmp="$(mktemp -d)"
# As root, apt downloads as the _apt user: let it write here so it need not fall back (and warn).
if [[ "$(id -u)" -eq 0 ]] && id _apt >/dev/null 2>&1; then
  chown _apt "${tmp}"
fi
trap 'rm -rf "${tmp}"' EXIT

# apt-get download writes into the current directory and needs no root for that, but the
# package lists may be missing on a fresh machine: refresh them once and retry.
if ! (cd "${tmp}" && apt-get download -qq prometheus >&2); then
  echo "install-promtool: refreshing apt package lists" >&2
  apt-get update -qq >&2
  (cd "${tmp}" && apt-get download -qq prometheus >&2)
fi

deb="$(find "${tmp}" -maxdepth 1 -name 'prometheus_*.deb' | head -n 1)"
if [[ -z "${deb}" ]]; then
  echo "install-promtool: apt-get download produced no prometheus_*.deb" >&2
  exit 1
fi
dpkg-deb -x "${deb}" "${tmp}/root"

mkdir -p "$(dirname "${target}")"
# Copy to a temporary name first so a concurrent run never sees a half-written binary.
cp "${tmp}/root/usr/bin/promtool" "${target}.tmp.$$"
chmod 0755 "${target}.tmp.$$"
mv -f "${target}.tmp.$$" "${target}"
echo "${target}"
