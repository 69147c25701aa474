# Cross build for aarch64 boards (Debian's aarch64-linux-gnu cross compiler; the :arm64 libraries installed with
# `dpkg --add-architecture arm64`, see scripts/install-cross-deps.sh). Tests run under qemu-aarch64 as a plain
# binary: `-L` with Debian's cross libc hangs on thread creation, so the loader comes from the
# multiarch libc6:arm64 instead.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
# Libraries and pkg-config files of the target only; headers are Debian's shared /usr/include.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
