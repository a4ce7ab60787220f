#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/apt-packages.txt that are not installed yet.
# Runs as root on Debian 12; prints nothing and does nothing when everything is present.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
list=${1:-"$here/apt-packages.txt"}

missing=()
while read -r pkg; do
  case "$pkg" in '' | '#'*) continue ;; esac
  # npm may come from a non-Debian Node.js install; accept any working npm.
  if [ "$pkg" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$pkg")
  fi
done <"$list"

[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: not root; run: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/messenger-update-stamp
if [ ! -f "$stamp" ] || ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  apt-get update -q
  mkdir -p "$(dirname "$stamp")" && touch "$stamp"
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
