#!/usr/bin/env bash
# Installs the Debian packages the native build and its tests need, only those missing, so
# `make demo` and `make test` work on a fresh Debian 12 machine. Needs root (or sudo).
set -euo pipefail

packages=(cmake g++ make pkg-config
          nlohmann-json3-dev libutf8proc-dev libcli11-dev libstb-dev libgtest-dev
          gcovr cppcheck)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
