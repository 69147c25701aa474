// Raw bytes as a sealed envelope, a receipt, and (sealed to a device) a segment list.
#include <vector>

#include "fuzz_support.hpp"
#include "common/wire/envelope.hpp"

namespace d = waymark::detail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static waymark::fuzz::CollectorFixture f;
  static const std::vector<std::pair<uint32_t, std::array<uint8_t, 32>>> trusted = {{1, f.public_key}};
  (void)d::envelope_key_id(data, size);
  (void)d::open_envelope(data, size, f.key.secret.data());
  (void)d::verify_receipt(data, size, trusted);
  // A segment list the device can open: the fuzz bytes sealed to it, then verified and decoded.
  static std::array<uint8_t, 32> device_pk{};
  static std::array<uint8_t, 64> device_sk{};
  static const bool keyed = (crypto_sign_keypair(device_pk.data(), device_sk.data()), true);
  (void)keyed;
  uint8_t x25519[crypto_box_PUBLICKEYBYTES];
  if (crypto_sign_ed25519_pk_to_curve25519(x25519, device_pk.data()) != 0) return 0;
  std::vector<uint8_t> sealed(size + crypto_box_SEALBYTES);
  crypto_box_seal(sealed.data(), data, size, x25519);
  d::SegmentRequest asked;
  asked.device_public_key = device_pk;
  (void)d::open_segment_list(sealed.data(), sealed.size(), asked, device_sk.data(), trusted);
  return 0;
}
