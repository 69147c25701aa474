#include "authority/erasure_token.hpp"

#include <cstring>
#include <string_view>

#include "authority/signed.hpp"

namespace waymark::collector {

namespace {

constexpr uint8_t kMagic[4] = {'W', 'M', 'E', 'T'};
constexpr uint8_t kTokenVersion = 1;
constexpr std::string_view kDomain = "waymark.erasure-token.v1\n";
constexpr size_t kHeaderBytes = 4 + 1 + 8 + 1, kEntryBytes = 1 + 32;

}  // namespace

Result<std::vector<uint8_t>> sign_erasure_token(const ErasureToken& token, const uint8_t* authority_secret) {
  if (token.pseudonyms.empty() || token.pseudonyms.size() > kMaxErasureTokenIdentifiers) {
    return Error(Errc::invalid, "an erasure token names 1 to 32 identifiers");
  }
  std::vector<uint8_t> out(kMagic, kMagic + 4);
  out.push_back(kTokenVersion);
  authority::put_le64(out, token.expires_at_ms);
  out.push_back(static_cast<uint8_t>(token.pseudonyms.size()));
  for (const auto& [kind, pseudonym] : token.pseudonyms) {
    out.push_back(kind);
    out.insert(out.end(), pseudonym.begin(), pseudonym.end());
  }
  authority::sign_into(out, kDomain, authority_secret);
  return out;
}

Result<ErasureToken> verify_erasure_token(std::span<const uint8_t> token,
                                          const std::vector<std::array<uint8_t, 32>>& authority_keys, int64_t now_ms) {
  const auto malformed = [] { return Error(Errc::invalid, "malformed_erasure_token"); };
  if (token.size() < kHeaderBytes + authority::kSignatureBytes || std::memcmp(token.data(), kMagic, 4) != 0 ||
      token[4] != kTokenVersion) {
    return malformed();
  }
  const size_t count = token[13];
  if (count == 0 || count > kMaxErasureTokenIdentifiers ||
      token.size() != kHeaderBytes + count * kEntryBytes + authority::kSignatureBytes) {
    return malformed();
  }
  if (!authority::signed_by_any(token, kDomain, authority_keys)) {
    return Error(Errc::unauthenticated, "bad_erasure_token_signature");
  }
  ErasureToken out;
  out.expires_at_ms = authority::get_le64(token.data() + 5);
  if (now_ms >= out.expires_at_ms) return Error(Errc::invalid, "expired_erasure_token");
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* entry = token.data() + kHeaderBytes + i * kEntryBytes;
    std::array<uint8_t, 32> pseudonym{};
    std::memcpy(pseudonym.data(), entry + 1, 32);
    out.pseudonyms.emplace_back(entry[0], pseudonym);
  }
  return out;
}

}  // namespace waymark::collector
