# 32-bit ARM boards with hardware floating point (dpkg architecture armhf).
set(WAYMARK_CROSS_TRIPLET arm-linux-gnueabihf)
set(CMAKE_SYSTEM_PROCESSOR arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
