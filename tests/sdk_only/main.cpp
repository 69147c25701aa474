// Catch2's main, compiled for the target: Debian's prebuilt Catch2WithMain is amd64 only.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
