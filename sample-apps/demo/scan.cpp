#include "scan.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>

namespace demo {

ScanResult scan_tree(const std::string& root, const std::vector<std::string>& needles) {
  std::unordered_map<uint64_t, std::vector<size_t>> by_prefix;
  for (size_t i = 0; i < needles.size(); ++i) {
    if (needles[i].size() < 8) continue;
    uint64_t key = 0;
    std::memcpy(&key, needles[i].data(), 8);
    by_prefix[key].push_back(i);
  }
  ScanResult r;
  namespace fs = std::filesystem;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::ifstream in(it->path(), std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ++r.files;
    r.bytes += static_cast<int64_t>(data.size());
    for (size_t pos = 0; pos + 8 <= data.size(); ++pos) {
      uint64_t key = 0;
      std::memcpy(&key, data.data() + pos, 8);
      auto found = by_prefix.find(key);
      if (found == by_prefix.end()) continue;
      for (size_t i : found->second) {
        if (data.compare(pos, needles[i].size(), needles[i]) != 0) continue;
        ++r.hits;
        if (r.examples.size() < 5)
          r.examples.push_back(it->path().string() + " (identifier #" + std::to_string(i) + ")");
      }
    }
  }
  return r;
}

}  // namespace demo
