#!/usr/bin/env bash
# Installs the build into a temp prefix, then builds and runs a tiny C program against
# the installed package twice: with CMake find_package(Waymark) and with pkg-config.
set -euo pipefail
build=$1 work=$2 src=$3 cc=$4
rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null

# 1. CMake package: shared and static targets.
cmake -S "$src" -B "$work/cmake-build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
LD_LIBRARY_PATH="$prefix/lib" "$work/cmake-build/consumer_shared" "$work/store-shared"
"$work/cmake-build/consumer_static" "$work/store-static"

# 2. pkg-config.
pcdir=$(dirname "$(find "$prefix" -name waymark.pc | head -n1)")
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs waymark)
"$cc" -std=c11 -Wall -Werror "$src/main.c" $flags -o "$work/consumer_pc"
LD_LIBRARY_PATH="$prefix/lib" "$work/consumer_pc" "$work/store-pc"
echo "install_and_consume: ok"
