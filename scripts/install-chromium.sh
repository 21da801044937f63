#!/usr/bin/env bash
# Make a headless-capable Chromium available for the status-page e2e test.
# Prints the path of a usable browser on stdout (everything else goes to stderr).
# Idempotent: uses $CHROMIUM_BIN, then chromium / chromium-browser from PATH, before installing.
# Installing needs root and apt-get (Debian package `chromium`); without them it exits 1 and says
# what to run.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

find_browser() {
  if [[ -n "${CHROMIUM_BIN:-}" && -x "${CHROMIUM_BIN}" ]]; then
    echo "${CHROMIUM_BIN}"
    return 0
  fi
  local name
  for name in chromium chromium-browser; do
    if command -v "${name}" >/dev/null 2>&1; then
      command -v "${name}"
      return 0
    fi
  done
  return 1
}

if find_browser; then exit 0; fi

if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: chromium is not installed and this is not root with apt-get;" >&2
  echo "  install it with: sudo apt-get install -y chromium   (or set CHROMIUM_BIN)" >&2
  exit 1
fi

# Two test workers may get here at once: serialise on a lock file, then look again.
lock_dir="${repo_root}/.data/tools"
mkdir -p "${lock_dir}"
exec 9>"${lock_dir}/.install-chromium.lock"
if command -v flock >/dev/null 2>&1; then flock -w 600 9; fi
if find_browser; then exit 0; fi

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=300 chromium >&2
}

echo "install-chromium: installing the Debian package chromium" >&2
# The package lists may be missing or stale on a fresh machine: refresh once and retry.
if ! apt_install; then
  echo "install-chromium: refreshing apt package lists" >&2
  apt-get update -qq -o DPkg::Lock::Timeout=300 >&2
  apt_install
fi

if ! find_browser; then
  echo "install-chromium: apt-get finished but no chromium binary is on PATH" >&2
  exit 1
fi
