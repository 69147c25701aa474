#!/usr/bin/env bash
# Cross toolchain, qemu and the target's libraries for `make test-aarch64` / `make test-armhf`.
# Usage: install-cross-deps.sh arm64|armhf. Idempotent: no apt work when everything is installed.
set -euo pipefail
arch=$1
case "$arch" in
  arm64) triplet=aarch64-linux-gnu ;;
  armhf) triplet=arm-linux-gnueabihf ;;
  *) echo "install-cross-deps: unknown architecture $arch (arm64 or armhf)" >&2; exit 2 ;;
esac
packages=("g++-$triplet" qemu-user)
for lib in libsodium-dev libsqlite3-dev libicu-dev libssl-dev libzstd-dev libflatbuffers-dev; do
  packages+=("$lib:$arch")
done
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-cross-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
dpkg --print-foreign-architectures | grep -qx "$arch" || $sudo dpkg --add-architecture "$arch"
# A mirror mid-sync fails an index now and then: try again, then install with what was fetched.
for attempt in 1 2 3; do
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq && break
  echo "install-cross-deps: apt-get update failed (attempt $attempt)" >&2
  sleep 20
done
$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
