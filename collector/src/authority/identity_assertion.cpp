#include "authority/identity_assertion.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "authority/signed.hpp"

namespace waymark::collector {

namespace {

constexpr uint8_t kMagic[4] = {'W', 'M', 'I', 'A'};
constexpr uint8_t kAssertionVersion = 1;
constexpr std::string_view kDomain = "waymark.identity-assertion.v1\n";
constexpr size_t kKindAt = 13, kPseudonymAt = 14, kDeviceAt = 46;

}  // namespace

std::vector<uint8_t> sign_identity_assertion(const IdentityAssertion& a, const uint8_t* authority_secret) {
  std::vector<uint8_t> out(kMagic, kMagic + 4);
  out.push_back(kAssertionVersion);
  authority::put_le64(out, a.expires_at_ms);
  out.push_back(a.kind);
  out.insert(out.end(), a.pseudonym.begin(), a.pseudonym.end());
  out.insert(out.end(), a.device_key.begin(), a.device_key.end());
  authority::sign_into(out, kDomain, authority_secret);
  return out;
}

bool assertion_proves(std::span<const uint8_t> assertion, const std::vector<std::array<uint8_t, 32>>& authority_keys,
                      uint8_t kind, std::span<const uint8_t> sdk_pseudonym, std::span<const uint8_t> device_key,
                      int64_t now_ms) {
  const uint8_t* a = assertion.data();
  return assertion.size() == kIdentityAssertionBytes && sdk_pseudonym.size() == 32 && device_key.size() == 32 &&
         std::memcmp(a, kMagic, 4) == 0 && a[4] == kAssertionVersion && now_ms < authority::get_le64(a + 5) &&
         a[kKindAt] == kind && std::equal(sdk_pseudonym.begin(), sdk_pseudonym.end(), a + kPseudonymAt) &&
         std::equal(device_key.begin(), device_key.end(), a + kDeviceAt) &&
         authority::signed_by_any(assertion, kDomain, authority_keys);
}

}  // namespace waymark::collector
