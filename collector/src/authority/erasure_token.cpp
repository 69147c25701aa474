#include "authority/erasure_token.hpp"

#include <cstring>
#include <string_view>

#include <sodium.h>

namespace waymark::collector {

using detail::Error;

namespace {

constexpr uint8_t kMagic[4] = {'W', 'M', 'E', 'T'};
constexpr uint8_t kVersion = 1;
constexpr std::string_view kDomain = "waymark.erasure-token.v1\n";
constexpr size_t kHeaderBytes = 4 + 1 + 8 + 1, kEntryBytes = 1 + 32, kSignatureBytes = 64;

std::vector<uint8_t> signed_message(std::span<const uint8_t> body) {
  std::vector<uint8_t> m(kDomain.size() + body.size());
  std::memcpy(m.data(), kDomain.data(), kDomain.size());
  if (!body.empty()) std::memcpy(m.data() + kDomain.size(), body.data(), body.size());
  return m;
}

}  // namespace

detail::Result<std::vector<uint8_t>> sign_erasure_token(const ErasureToken& token, const uint8_t* authority_secret) {
  if (token.pseudonyms.empty() || token.pseudonyms.size() > kMaxErasureTokenIdentifiers) {
    return Error(WAYMARK_ERR_INVALID_ARGUMENT, "an erasure token names 1 to 32 identifiers");
  }
  std::vector<uint8_t> out(kMagic, kMagic + 4);
  out.push_back(kVersion);
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(token.expires_at_ms) >> (8 * i)));
  out.push_back(static_cast<uint8_t>(token.pseudonyms.size()));
  for (const auto& [kind, pseudonym] : token.pseudonyms) {
    out.push_back(kind);
    out.insert(out.end(), pseudonym.begin(), pseudonym.end());
  }
  const std::vector<uint8_t> message = signed_message(out);
  uint8_t sig[kSignatureBytes];
  crypto_sign_detached(sig, nullptr, message.data(), message.size(), authority_secret);
  out.insert(out.end(), sig, sig + kSignatureBytes);
  return out;
}

detail::Result<ErasureToken> verify_erasure_token(std::span<const uint8_t> token,
                                                  const std::vector<std::array<uint8_t, 32>>& authority_keys,
                                                  int64_t now_ms) {
  const auto malformed = [] { return Error(WAYMARK_ERR_INVALID_VALUE, "malformed_erasure_token"); };
  if (token.size() < kHeaderBytes + kSignatureBytes || std::memcmp(token.data(), kMagic, 4) != 0 ||
      token[4] != kVersion) {
    return malformed();
  }
  const size_t count = token[13];
  if (count == 0 || count > kMaxErasureTokenIdentifiers ||
      token.size() != kHeaderBytes + count * kEntryBytes + kSignatureBytes) {
    return malformed();
  }
  const auto body = token.first(token.size() - kSignatureBytes);
  const std::vector<uint8_t> message = signed_message(body);
  bool signed_by_authority = false;
  for (const auto& key : authority_keys) {
    signed_by_authority = signed_by_authority || crypto_sign_verify_detached(token.data() + body.size(), message.data(),
                                                                             message.size(), key.data()) == 0;
  }
  if (!signed_by_authority) return Error(WAYMARK_ERR_CRYPTO, "bad_erasure_token_signature");
  ErasureToken out;
  for (int i = 0; i < 8; ++i) out.expires_at_ms |= static_cast<int64_t>(static_cast<uint64_t>(token[5 + i]) << (8 * i));
  if (now_ms >= out.expires_at_ms) return Error(WAYMARK_ERR_INVALID_VALUE, "expired_erasure_token");
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* entry = token.data() + kHeaderBytes + i * kEntryBytes;
    std::array<uint8_t, 32> pseudonym{};
    std::memcpy(pseudonym.data(), entry + 1, 32);
    out.pseudonyms.emplace_back(entry[0], pseudonym);
  }
  return out;
}

}  // namespace waymark::collector
