#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include <sodium.h>

#include "waymark/wire/v1/batch_generated.h"
#include "common/wire/envelope.hpp"

using namespace waymark::detail;
namespace w = waymark::wire::v1;

TEST_CASE("v1 batches written by 0.1.0 stay readable", "[wire]") {
  std::ifstream in(WAYMARK_TEST_DATA "/wire/v1/batch-0.1.0.bin", std::ios::binary);
  REQUIRE(in);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  flatbuffers::Verifier v(bytes.data(), bytes.size());
  REQUIRE(w::VerifyBatchBuffer(v));  // also verifies the nested Event
  const w::Batch* b = w::GetBatch(bytes.data());
  CHECK(b->batch_id()->Get(0) == 0xF0);
  CHECK(b->sequence() == 9);
  CHECK(b->app_id()->str() == "pos-firmware");
  CHECK(b->sdk_version()->str() == "0.1.0");
  CHECK(b->sent_monotonic_ms() == 124000);
  CHECK(b->evicted() == 3);
  REQUIRE(b->events()->size() == 1);
  const auto* e = b->events()->Get(0)->bytes_nested_root();
  CHECK(e->type() == w::EventType::Purchase);
  CHECK(e->name()->str() == "order");
  CHECK(e->sequence() == 41);
  CHECK(e->revenue()->amount_minor() == 1999);
  CHECK(e->identifiers()->Get(0)->kind() == w::IdKind::LoyaltyId);
  CHECK(e->identifiers()->Get(0)->pseudonym()->Get(31) == 0xAB);
}

TEST_CASE("envelopes: sign-then-seal round trip - tampering, wrong keys and junk are refused by name", "[wire]") {
  REQUIRE(sodium_init() >= 0);
  uint8_t device_pk[32], device_sk[64], collector_pk[32], collector_sk[64], other_pk[32], other_sk[64];
  crypto_sign_keypair(device_pk, device_sk);
  crypto_sign_keypair(collector_pk, collector_sk);
  crypto_sign_keypair(other_pk, other_sk);
  BatchHeader h;
  h.batch_id[0] = 1;
  h.app_id = "app";
  const std::vector<std::vector<uint8_t>> none;
  const auto batch = encode_batch(h, none);
  auto sealed = seal_envelope(batch, device_sk, collector_pk, 5);
  REQUIRE(sealed.ok());
  auto& env = sealed.value();
  CHECK(envelope_key_id(env.data(), env.size()).value() == 5);
  auto opened = open_envelope(env.data(), env.size(), collector_sk);
  REQUIRE(opened.ok());
  CHECK(opened->batch == batch);
  CHECK(std::equal(device_pk, device_pk + 32, opened->device_public_key.begin()));

  CHECK(open_envelope(env.data(), env.size(), other_sk).status().message == "unsealable");
  auto tampered = env;
  tampered[tampered.size() - 5] ^= 1;
  CHECK(open_envelope(tampered.data(), tampered.size(), collector_sk).status().message == "unsealable");
  auto bad_magic = env;
  bad_magic[0] = 'X';
  CHECK(open_envelope(bad_magic.data(), bad_magic.size(), collector_sk).status().message == "bad_magic");
  auto bad_version = env;
  bad_version[4] = 9;
  CHECK(open_envelope(bad_version.data(), bad_version.size(), collector_sk).status().message == "unknown_version");
  CHECK(open_envelope(env.data(), 12, collector_sk).status().message == "truncated");

  // A receipt verifies only with the right key id and key, and only unmodified.
  ReceiptFields f;
  f.batch_id = h.batch_id;
  f.accepted = 3;
  auto receipt = sign_receipt(f, 5, collector_sk);
  std::array<uint8_t, 32> ck{};
  std::copy(collector_pk, collector_pk + 32, ck.begin());
  std::array<uint8_t, 32> ok{};
  std::copy(other_pk, other_pk + 32, ok.begin());
  CHECK(verify_receipt(receipt.data(), receipt.size(), {{5, ck}}).ok());
  CHECK_FALSE(verify_receipt(receipt.data(), receipt.size(), {{6, ck}}).ok());
  CHECK_FALSE(verify_receipt(receipt.data(), receipt.size(), {{5, ok}}).ok());
  for (size_t i = 0; i < receipt.size(); i += 7) {
    auto bad = receipt;
    bad[i] ^= 0x40;
    CHECK_FALSE(verify_receipt(bad.data(), bad.size(), {{5, ck}}).ok());
  }
}
