#!/usr/bin/env bash
# Installs exactly the Debian 12 packages the build needs. Idempotent: when every
# package is already installed it does no apt work at all (no `apt-get update`).
set -euo pipefail

packages=(
  libboost-dev libboost-program-options-dev libboost-system-dev
  nlohmann-json3-dev libsodium-dev flatbuffers-compiler libflatbuffers-dev
  libsqlite3-dev libpq-dev postgresql-15 libnats-dev nats-server haproxy catch2 libzstd-dev libphonenumber-dev libicu-dev
  libnlopt-cxx-dev libeigen3-dev libcsv-dev
  libbenchmark-dev libssl-dev openssl ninja-build pkg-config cmake g++ clang-format
  clang libclang-rt-14-dev valgrind
  python3 python3-pip python3-setuptools python3-wheel default-jdk-headless junit5
)

# Node.js for the Node binding: the machine's own when it has one (its headers come with it),
# else Debian's, with the headers in libnode-dev.
if ! command -v node >/dev/null 2>&1 || [ ! -f /usr/include/node/node_api.h ]; then
  if ! command -v node >/dev/null 2>&1; then packages+=(nodejs libnode-dev); fi
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
