#include "authority/signed.hpp"

#include <cstring>

#include <sodium.h>

namespace waymark::collector::authority {

namespace {

std::vector<uint8_t> domain_message(std::string_view domain, std::span<const uint8_t> body) {
  std::vector<uint8_t> m(domain.size() + body.size());
  std::memcpy(m.data(), domain.data(), domain.size());
  if (!body.empty()) std::memcpy(m.data() + domain.size(), body.data(), body.size());
  return m;
}

}  // namespace

void put_le64(std::vector<uint8_t>& out, int64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i)));
}

int64_t get_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return static_cast<int64_t>(v);
}

void sign_into(std::vector<uint8_t>& body, std::string_view domain, const uint8_t* secret) {
  const std::vector<uint8_t> message = domain_message(domain, body);
  uint8_t sig[kSignatureBytes];
  crypto_sign_detached(sig, nullptr, message.data(), message.size(), secret);
  body.insert(body.end(), sig, sig + kSignatureBytes);
}

bool signed_by_any(std::span<const uint8_t> statement, std::string_view domain,
                   const std::vector<std::array<uint8_t, 32>>& keys) {
  if (statement.size() < kSignatureBytes) return false;
  const auto body = statement.first(statement.size() - kSignatureBytes);
  const std::vector<uint8_t> message = domain_message(domain, body);
  for (const auto& key : keys) {
    if (crypto_sign_verify_detached(statement.data() + body.size(), message.data(), message.size(), key.data()) == 0)
      return true;
  }
  return false;
}

}  // namespace waymark::collector::authority
