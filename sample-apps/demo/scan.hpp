// The raw-identifier scanner: reads every file under a directory and counts occurrences of any of the
// given strings (at least 8 bytes each). One pass per file with an 8-byte prefix index.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace demo {

struct ScanResult {
  int64_t files = 0, bytes = 0, hits = 0;
  std::vector<std::string> examples;  // "file: kind of value" for the first hits (never the value itself)
};

ScanResult scan_tree(const std::string& root, const std::vector<std::string>& needles);

}  // namespace demo
