// Pseudonym = BLAKE2b-256(normalised value) keyed with a per-kind subkey derived with
// crypto_kdf from the brand identity key at an epoch (subkey id = epoch << 8 | kind).
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "common/status.hpp"
#include "common/crypto/secure.hpp"
#include "common/identity/normalizer.hpp"

namespace waymark::detail {

using Pseudonym = std::array<uint8_t, 32>;

class Pseudonymizer {
 public:
  // Derives the subkeys of every kind once; `brand_key` is 32 bytes.
  static Result<std::unique_ptr<Pseudonymizer>> create(const uint8_t* brand_key, uint32_t epoch);
  uint32_t epoch() const noexcept { return epoch_; }
  Pseudonym pseudonymize(waymark_id_kind_t kind, const NormalizedId& id) const;

 private:
  explicit Pseudonymizer(uint32_t epoch) : epoch_(epoch) {}
  uint32_t epoch_;
  Secret<32 * (WAYMARK_ID_CUSTOM + 1)> subkeys_;
};

}  // namespace waymark::detail
