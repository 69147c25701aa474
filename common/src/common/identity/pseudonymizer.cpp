#include "common/identity/pseudonymizer.hpp"

#include <memory>

namespace waymark::detail {

namespace {
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES] = {'W', 'M', 'i', 'd', 'v', '0', '0', '1'};
}

Result<std::unique_ptr<Pseudonymizer>> Pseudonymizer::create(const uint8_t* brand_key, uint32_t epoch) {
  std::unique_ptr<Pseudonymizer> p(new Pseudonymizer(epoch));
  if (!p->subkeys_.valid()) return Error(WAYMARK_ERR_NO_MEMORY, "cannot allocate protected memory");
  for (int kind = WAYMARK_ID_EMAIL; kind <= WAYMARK_ID_CUSTOM; ++kind) {
    const uint64_t subkey_id = (static_cast<uint64_t>(epoch) << 8) | static_cast<uint64_t>(kind);
    if (crypto_kdf_derive_from_key(p->subkeys_.data() + 32 * kind, 32, subkey_id, kKdfContext, brand_key) != 0) {
      return Error(WAYMARK_ERR_CRYPTO, "subkey derivation failed");
    }
  }
  return p;
}

Pseudonym Pseudonymizer::pseudonymize(waymark_id_kind_t kind, const NormalizedId& id) const {
  Pseudonym out{};
  // Cannot fail with these fixed, valid sizes.
  crypto_generichash(out.data(), out.size(), id.data(), id.size(), subkeys_.data() + 32 * static_cast<int>(kind), 32);
  return out;
}

}  // namespace waymark::detail
