// Secret memory and randomness: keys in guarded sodium memory, random bytes drawn in bulk.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include <sodium.h>

#include "common/status.hpp"
#include "waymark/platform.h"

namespace waymark::detail {

// A fixed-size secret in sodium_malloc memory (guard pages, mlock, wiped on free).
template <size_t N>
class Secret {
 public:
  // sodium_init() is idempotent and thread-safe; guarded memory needs it first.
  Secret() : data_(sodium_init() < 0 ? nullptr : static_cast<uint8_t*>(sodium_malloc(N))) {
    if (data_ != nullptr) sodium_memzero(data_, N);
  }
  ~Secret() { sodium_free(data_); }
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  bool valid() const noexcept { return data_ != nullptr; }
  uint8_t* data() noexcept { return data_; }
  const uint8_t* data() const noexcept { return data_; }
  static constexpr size_t size() noexcept { return N; }

 private:
  uint8_t* data_;
};

// Wipes a trivially copyable object when leaving scope (raw identifier buffers).
template <class T>
class WipeOnExit {
 public:
  explicit WipeOnExit(T& object) : object_(object) {}
  ~WipeOnExit() { sodium_memzero(&object_, sizeof(T)); }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  T& object_;
};

// Random bytes drawn from the platform in 4 KiB refills: one OS call serves ~100 rows
// (nonce + event id). Bytes are handed out once and wiped from the pool as they go, so a
// value can never be handed out twice; nonces are 192-bit random, so they cannot repeat
// after a crash, a restore or a clock change the way a counter could.
class RandomPool {
 public:
  explicit RandomPool(const waymark_platform_t& platform) : platform_(platform) {}
  ~RandomPool() { sodium_memzero(buffer_.data(), buffer_.size()); }
  Status fill(uint8_t* out, size_t len);

 private:
  const waymark_platform_t& platform_;
  std::mutex mu_;
  std::array<uint8_t, 4096> buffer_{};
  size_t offset_ = 4096;
};

using Uuid = std::array<uint8_t, 16>;

// Keeps UUIDv7s from one generator strictly increasing (RFC 9562, method 1): within one
// millisecond the 12-bit rand_a field is a counter; a clock that goes back is held at the last
// value used. Not thread-safe: the caller serialises.
struct UuidClock {
  int64_t last_ms = -1;
  uint16_t counter = 0;
};

// UUIDv7: 48-bit Unix milliseconds, version 7, 12-bit counter, variant 10, 62 random bits.
// Time-ordered keys keep SQLite's b-trees appending instead of thrashing.
Result<Uuid> make_uuid_v7(RandomPool& pool, UuidClock& clock, int64_t unix_ms);

// Lowercase hex of `n` bytes.
std::string to_hex(const uint8_t* p, size_t n);
// Exactly `len` bytes from exactly 2*len hex digits; false otherwise.
bool from_hex(std::string_view hex, uint8_t* out, size_t len);

}  // namespace waymark::detail
