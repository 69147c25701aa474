// In-memory platform table for tests and hosts without persistent key storage.
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <sodium.h>

#include "waymark/platform.h"

namespace {

struct MemoryKeystore {
  std::mutex mu;
  std::map<std::string, std::vector<uint8_t>> keys;
  ~MemoryKeystore() {
    for (auto& [name, key] : keys) sodium_memzero(key.data(), key.size());
  }
};

MemoryKeystore& store() {
  static MemoryKeystore s;
  return s;
}

std::string full_name(const char* scope, const char* name) {
  return std::string(scope) + '\0' + name;
}

int32_t keystore_get(const char* scope, const char* name, uint8_t* out, size_t capacity, size_t* out_len, void*) {
  if (scope == nullptr || name == nullptr || out_len == nullptr) return WAYMARK_PLATFORM_ERROR;
  auto& s = store();
  std::lock_guard lock(s.mu);
  const auto it = s.keys.find(full_name(scope, name));
  if (it == s.keys.end()) return WAYMARK_PLATFORM_NOT_FOUND;
  *out_len = it->second.size();
  if (!it->second.empty()) std::memcpy(out, it->second.data(), std::min(capacity, it->second.size()));
  return WAYMARK_PLATFORM_OK;
}

int32_t keystore_put(const char* scope, const char* name, const uint8_t* key, size_t len, void*) {
  if (scope == nullptr || name == nullptr || (key == nullptr && len > 0)) return WAYMARK_PLATFORM_ERROR;
  auto& s = store();
  std::lock_guard lock(s.mu);
  auto& slot = s.keys[full_name(scope, name)];
  if (!slot.empty()) sodium_memzero(slot.data(), slot.size());
  slot.assign(key, key + len);
  return WAYMARK_PLATFORM_OK;
}

int32_t keystore_delete(const char* scope, const char* name, void*) {
  if (scope == nullptr || name == nullptr) return WAYMARK_PLATFORM_ERROR;
  auto& s = store();
  std::lock_guard lock(s.mu);
  const auto it = s.keys.find(full_name(scope, name));
  if (it != s.keys.end()) {
    sodium_memzero(it->second.data(), it->second.size());
    s.keys.erase(it);
  }
  return WAYMARK_PLATFORM_OK;
}

void log_discard(int32_t, const char*, size_t, void*) {}
int32_t reachable(void*) {
  return 1;
}

}  // namespace

extern "C" int32_t waymark_platform_null(waymark_platform_t* out) {
  if (out == nullptr) return -1;
  // Clocks and randomness are the real ones: only storage and logging differ.
  waymark_platform_posix(out);
  out->keystore_get = keystore_get;
  out->keystore_put = keystore_put;
  out->keystore_delete = keystore_delete;
  out->log = log_discard;
  out->network_reachable = reachable;
  return 0;
}
