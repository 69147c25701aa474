#include "common/crypto/secure.hpp"

#include <algorithm>
#include <cstring>

namespace waymark::detail {

Status RandomPool::fill(uint8_t* out, size_t len) {
  std::lock_guard lock(mu_);
  while (len > 0) {
    if (offset_ == buffer_.size()) {
      if (platform_.random_bytes(buffer_.data(), buffer_.size(), platform_.user_data) != 0) {
        return Error(WAYMARK_ERR_CRYPTO, "platform random source failed");
      }
      offset_ = 0;
    }
    const size_t n = std::min(len, buffer_.size() - offset_);
    std::memcpy(out, buffer_.data() + offset_, n);
    sodium_memzero(buffer_.data() + offset_, n);
    offset_ += n;
    out += n;
    len -= n;
  }
  return Status::Ok();
}

Result<Uuid> make_uuid_v7(RandomPool& pool, UuidClock& clock, int64_t unix_ms) {
  Uuid id{};
  if (Status s = pool.fill(id.data() + 8, 8); !s.ok()) return s;
  int64_t ms = std::max<int64_t>(unix_ms, 0);
  if (ms > clock.last_ms) {
    clock.last_ms = ms;
    clock.counter = 0;
  } else if (++clock.counter > 0x0FFF) {  // 4,096 ids in one millisecond: borrow the next one
    clock.last_ms += 1;
    clock.counter = 0;
  }
  ms = clock.last_ms;
  for (int i = 0; i < 6; ++i)
    id[static_cast<size_t>(i)] = static_cast<uint8_t>(static_cast<uint64_t>(ms) >> (40 - 8 * i));
  id[6] = static_cast<uint8_t>(0x70 | (clock.counter >> 8));
  id[7] = static_cast<uint8_t>(clock.counter & 0xFF);
  id[8] = static_cast<uint8_t>(0x80 | (id[8] & 0x3F));
  return id;
}

std::string to_hex(const uint8_t* p, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

bool from_hex(std::string_view hex, uint8_t* out, size_t len) {
  size_t got = 0;
  return hex.size() == len * 2 && sodium_hex2bin(out, len, hex.data(), hex.size(), nullptr, &got, nullptr) == 0 &&
         got == len;
}

}  // namespace waymark::detail
