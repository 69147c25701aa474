# Shared by the toolchain files here: Debian's cross compiler for WAYMARK_CROSS_TRIPLET, the target's
# libraries from dpkg's multiarch directories (scripts/install-cross-deps.sh), tests under qemu as a
# plain binary (`-L` with Debian's cross libc hangs on thread creation; the loader comes from libc6:<arch>).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${WAYMARK_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${WAYMARK_CROSS_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${WAYMARK_CROSS_TRIPLET})
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-${CMAKE_SYSTEM_PROCESSOR})
# Libraries and pkg-config files of the target only; headers are Debian's shared /usr/include.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${WAYMARK_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
