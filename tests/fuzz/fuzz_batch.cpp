// The collector's batch path behind valid crypto: the fuzz input is the batch a device signs and
// seals, so the FlatBuffers verifier, event decoding, consent and identity code see arbitrary bytes.
#include <vector>

#include "fuzz_support.hpp"
#include "common/wire/envelope.hpp"

namespace {
waymark::fuzz::CollectorFixture& fixture() {
  static waymark::fuzz::CollectorFixture f;
  return f;
}
std::array<uint8_t, 64> device_secret() {
  std::array<uint8_t, 32> pk{};
  std::array<uint8_t, 64> sk{};
  const uint8_t seed[32] = {7};
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed);
  return sk;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& f = fixture();
  static const std::array<uint8_t, 64> sk = device_secret();
  static waymark::collector::Ingest ingest(*f.store, {f.key}, f.rekey.data(), f.metrics);
  auto sealed = waymark::detail::seal_envelope(std::vector<uint8_t>(data, data + size), sk.data(), f.public_key.data(),
                                               f.key.key_id);
  if (!sealed.ok()) return 0;
  (void)ingest.handle(sealed.value().data(), sealed.value().size(), 1'775'001'600'000);
  return 0;
}
