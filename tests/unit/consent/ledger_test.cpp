#include <catch2/catch.hpp>

#include <sodium.h>

#include "common/consent/ledger.hpp"

using namespace waymark::detail;

TEST_CASE("the consent ledger is hash-chained and signed - tampering fails closed", "[consent]") {
  REQUIRE(sodium_init() >= 0);
  uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  std::array<uint8_t, 16> slot{9};
  ConsentState state;
  std::vector<ConsentRecord> records;
  records.push_back(append_consent(state, slot, WAYMARK_PURPOSE_ANALYTICS, true, 1000, "v1", sk));
  records.push_back(append_consent(state, slot, WAYMARK_PURPOSE_ADVERTISING, true, 2000, "v1", sk));
  records.push_back(append_consent(state, slot, WAYMARK_PURPOSE_ADVERTISING, false, 3000, "v2", sk));
  CHECK(records[1].prev_hash == records[0].hash);
  CHECK(state.granted[WAYMARK_PURPOSE_ANALYTICS]);
  CHECK_FALSE(state.granted[WAYMARK_PURPOSE_ADVERTISING]);

  ConsentState replayed;
  REQUIRE(replay_consent(records, pk, replayed));
  CHECK(replayed.head == state.head);
  CHECK(replayed.granted == state.granted);

  SECTION("a flipped grant breaks the hash") {
    records[2].granted = true;
    CHECK_FALSE(replay_consent(records, pk, replayed));
    CHECK_FALSE(replayed.granted[WAYMARK_PURPOSE_ANALYTICS]);
    CHECK(replayed.seq == 3);
  }
  SECTION("a removed record breaks the chain") {
    records.erase(records.begin() + 1);
    CHECK_FALSE(replay_consent(records, pk, replayed));
  }
  SECTION("another device's key does not verify") {
    uint8_t pk2[crypto_sign_PUBLICKEYBYTES], sk2[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk2, sk2);
    CHECK_FALSE(replay_consent(records, pk2, replayed));
  }
}
