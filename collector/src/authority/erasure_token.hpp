// Erasure tokens: what the brand's backend signs, after the customer authenticated, so that a
// device's forget may erase the whole customer (docs/security.md). A device alone can only erase
// what its own slot sent: anyone can install the app, so holding the brand key proves nothing.
//
// Layout (all integers little-endian):
//   "WMET" | version (1) = 1 | expires_at_ms (8) | count (1, 1..32) | count x (kind (1) | SDK pseudonym (32))
//   | Ed25519 signature (64) by a brand authority key over "waymark.erasure-token.v1\n" and every byte before it.
// The pseudonyms are the SDK's (BLAKE2b with the brand key, as `blocklist` computes them), so the
// backend never sends a raw identifier anywhere.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "status.hpp"

namespace waymark::collector {

struct ErasureToken {
  int64_t expires_at_ms = 0;
  std::vector<std::pair<uint8_t, std::array<uint8_t, 32>>> pseudonyms;  // identifier kind, SDK pseudonym
};

inline constexpr size_t kMaxErasureTokenIdentifiers = 32;

// `authority_secret`: an Ed25519 secret key (64 bytes). Errc::invalid without 1..32 pseudonyms.
Result<std::vector<uint8_t>> sign_erasure_token(const ErasureToken& token, const uint8_t* authority_secret);

// The token when one of `authority_keys` (Ed25519 public keys) signed it and it has not expired.
// Errors carry the reason: "malformed_erasure_token", "bad_erasure_token_signature", "expired_erasure_token".
Result<ErasureToken> verify_erasure_token(std::span<const uint8_t> token,
                                          const std::vector<std::array<uint8_t, 32>>& authority_keys, int64_t now_ms);

}  // namespace waymark::collector
