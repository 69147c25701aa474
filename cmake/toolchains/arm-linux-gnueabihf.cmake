# Cross build for armhf boards (Debian's arm-linux-gnueabihf cross compiler; the :armhf libraries installed with
# `dpkg --add-architecture armhf`, see scripts/install-cross-deps.sh). Tests run under qemu-arm as a plain
# binary: `-L` with Debian's cross libc hangs on thread creation, so the loader comes from the
# multiarch libc6:armhf instead.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm)
# Libraries and pkg-config files of the target only; headers are Debian's shared /usr/include.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/arm-linux-gnueabihf/pkgconfig:/usr/share/pkgconfig)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
