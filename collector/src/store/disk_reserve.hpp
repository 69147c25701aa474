// Space kept back on the store's file system for the moment it fills up: releasing it lets the
// store fold its write-ahead log into the database and truncate it, so that it stays consistent,
// answers queries and recovers by itself once the operator frees space.
#pragma once

#include <cstdint>
#include <string>

namespace waymark::collector {

class DiskReserve {
 public:
  // `bytes` 0: no reserve (recovery then only waits for the disk to accept writes again). To be sure
  // the WAL can always be folded into the database, hold at least the WAL's checkpoint interval.
  DiskReserve(std::string path, uint64_t bytes) : path_(std::move(path)), bytes_(bytes) {}

  // Holds the reserve: creates the file (its blocks allocated) when missing, if the file system has
  // room for it and kHeadroom more. False when it cannot.
  bool ensure();
  static constexpr uint64_t kHeadroom = 8u << 20;
  // Deletes the file and frees its space.
  void release();
  // Bytes the file system can still give to the store.
  static uint64_t free_bytes(const std::string& path);

 private:
  std::string path_;
  uint64_t bytes_;
};

}  // namespace waymark::collector
