// Identity assertions: what the brand's backend signs when a customer logs in, so that one device's
// identifier may join profiles (docs/security.md, "Verified identity"). Anyone can install the app and
// identify a victim's account id; only the brand's backend knows who logged in, and on which device.
//
// Layout (all integers little-endian), 142 bytes:
//   "WMIA" | version (1) = 1 | expires_at_ms (8) | kind (1) | SDK pseudonym (32) | device public key (32)
//   | Ed25519 signature (64) by a brand authority key over "waymark.identity-assertion.v1\n" and every
//   byte before it.
// The pseudonym is the SDK's (BLAKE2b with the brand key), the device key the one
// `waymark_client_device_key` reports: an assertion copied to another device proves nothing there.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "status.hpp"

namespace waymark::collector {

struct IdentityAssertion {
  int64_t expires_at_ms = 0;
  uint8_t kind = 0;                     // IdKind
  std::array<uint8_t, 32> pseudonym{};  // the SDK's
  std::array<uint8_t, 32> device_key{};
};

inline constexpr size_t kIdentityAssertionBytes = 4 + 1 + 8 + 1 + 32 + 32 + 64;

// `authority_secret`: an Ed25519 secret key (64 bytes).
std::vector<uint8_t> sign_identity_assertion(const IdentityAssertion& assertion, const uint8_t* authority_secret);

// Whether `assertion` proves that the device `device_key` holds the identifier (`kind`, `sdk_pseudonym`):
// shaped right, signed by one of `authority_keys`, for that identifier and that device, not expired.
bool assertion_proves(std::span<const uint8_t> assertion, const std::vector<std::array<uint8_t, 32>>& authority_keys,
                      uint8_t kind, std::span<const uint8_t> sdk_pseudonym, std::span<const uint8_t> device_key,
                      int64_t now_ms);

}  // namespace waymark::collector
