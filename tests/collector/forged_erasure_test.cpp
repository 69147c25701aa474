// Devices cannot erase other customers (issue 19). With only what every install of the app holds, a
// fresh device identified a victim's email, called forget and synced: the collector deleted the
// victim's whole profile, and the victim's own device then lost every new event. A device's forget now
// erases what its own slot sent; the whole customer only with a token the brand's backend signed.
#include <catch2/catch.hpp>

#include "authority/erasure_token.hpp"
#include "support/trust_support.hpp"

using namespace waymark::test;
namespace wc = waymark::collector;

namespace {

constexpr const char* kVictimEmail = "victim@example.com";

// An erasure token for the victim's email, signed by `authority_sk`, valid for `valid_ms`.
std::vector<uint8_t> token_for(waymark_client_t* c, const uint8_t* authority_sk, int64_t valid_ms = 600000) {
  wc::ErasureToken t;
  t.expires_at_ms = wall_ms() + valid_ms;
  std::array<uint8_t, 32> p{};
  REQUIRE(waymark_client_pseudonymize(c, WAYMARK_ID_EMAIL, kVictimEmail, 18, p.data(), p.size()) == WAYMARK_OK);
  t.pseudonyms.emplace_back(WAYMARK_ID_EMAIL, p);
  return wc::sign_erasure_token(t, authority_sk).value();
}

}  // namespace

TEST_CASE("a fresh device that forgets a victim's email erases only itself, the victim keeps everything",
          "[collector][trust][store]") {
  Collector collector;
  TempDir victim_dir, attacker_dir;
  waymark_client_t* victim = consenting_device(collector, victim_dir);
  REQUIRE(identify(victim, WAYMARK_ID_EMAIL, kVictimEmail) == WAYMARK_OK);
  for (int i = 0; i < 3; ++i) REQUIRE(track(victim, "view") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(victim, 10000) == WAYMARK_OK);
  const auto [victim_profile, victim_events] = profile_of(collector, victim, WAYMARK_ID_EMAIL, kVictimEmail);
  REQUIRE(victim_events == 5);  // consent, identify, three views

  waymark_client_t* attacker =
      consenting_device(collector, attacker_dir);  // the brand key, the collector key, nothing else
  REQUIRE(identify(attacker, WAYMARK_ID_EMAIL, kVictimEmail) == WAYMARK_OK);
  REQUIRE(track(attacker, "view") == WAYMARK_OK);
  REQUIRE(waymark_client_forget(attacker) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(attacker, 10000) == WAYMARK_OK);

  const auto after = profile_of(collector, victim, WAYMARK_ID_EMAIL, kVictimEmail);
  CHECK(after.first == victim_profile);
  CHECK(after.second == victim_events);  // nothing of the victim's, and nothing of the attacker's left
  // The victim's later events are accepted, not refused as no_consent or tombstoned.
  const int64_t uploaded = client_stat(victim, WAYMARK_STAT_UPLOADED);
  REQUIRE(track(victim, "after_the_attack") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(victim, 10000) == WAYMARK_OK);
  CHECK(client_stat(victim, WAYMARK_STAT_UPLOADED) == uploaded + 1);
  CHECK(profile_of(collector, victim, WAYMARK_ID_EMAIL, kVictimEmail).second == victim_events + 1);
  const std::string metrics = request(collector.server->port(), http::verb::get, "/metrics").body;
  CHECK(metrics.find("reason=\"tombstoned\"") == std::string::npos);
  CHECK(metrics.find("reason=\"no_consent\"") == std::string::npos);
  for (auto* c : {victim, attacker}) waymark_client_free(c);
}

TEST_CASE("a forget with the brand's erasure token erases the customer on every device", "[collector][trust][store]") {
  Collector collector;
  Authority authority;
  collector.ingest->set_authority_keys({authority.pk});
  TempDir phone_dir, laptop_dir;
  waymark_client_t* phone = consenting_device(collector, phone_dir);
  waymark_client_t* laptop = consenting_device(collector, laptop_dir);
  for (auto* c : {phone, laptop}) {
    REQUIRE(identify(c, WAYMARK_ID_EMAIL, kVictimEmail) == WAYMARK_OK);
    REQUIRE(track(c, "view") == WAYMARK_OK);
    REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
  }
  REQUIRE(profile_of(collector, phone, WAYMARK_ID_EMAIL, kVictimEmail).second == 6);
  const auto token = token_for(phone, authority.sk.data());
  REQUIRE(waymark_client_forget_with_token(phone, token.data(), token.size()) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(phone, 10000) == WAYMARK_OK);
  CHECK(profile_of(collector, phone, WAYMARK_ID_EMAIL, kVictimEmail).first == 0);
  CHECK(collector.events() == 0);  // the laptop's events too
  // The laptop presenting the erased email later is the erased customer: refused.
  REQUIRE(track(laptop, "later") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(laptop, 10000) == WAYMARK_OK);
  CHECK(collector.events() == 0);
  CHECK(waymark_client_forget_with_token(phone, nullptr, 0) == WAYMARK_ERR_INVALID_ARGUMENT);
  for (auto* c : {phone, laptop}) waymark_client_free(c);
}

TEST_CASE("a token signed by another key, or expired, erases only the device's own data", "[collector][trust][store]") {
  Collector collector;
  Authority authority, forger;
  collector.ingest->set_authority_keys({authority.pk});
  TempDir victim_dir, attacker_dir;
  waymark_client_t* victim = consenting_device(collector, victim_dir);
  REQUIRE(identify(victim, WAYMARK_ID_EMAIL, kVictimEmail) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(victim, 10000) == WAYMARK_OK);
  waymark_client_t* attacker = consenting_device(collector, attacker_dir);
  for (const auto& token : {token_for(attacker, forger.sk.data()), token_for(attacker, authority.sk.data(), -1)}) {
    REQUIRE(grant(attacker, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);  // a fresh identity after each forget
    REQUIRE(identify(attacker, WAYMARK_ID_EMAIL, kVictimEmail) == WAYMARK_OK);
    REQUIRE(waymark_client_forget_with_token(attacker, token.data(), token.size()) == WAYMARK_OK);
    REQUIRE(waymark_client_flush(attacker, 10000) == WAYMARK_OK);
  }
  CHECK(profile_of(collector, victim, WAYMARK_ID_EMAIL, kVictimEmail).second == 2);
  const std::string metrics = request(collector.server->port(), http::verb::get, "/metrics").body;
  CHECK(metrics.find("waymark_rejected_total{reason=\"bad_erasure_token_signature\"} 1") != std::string::npos);
  CHECK(metrics.find("waymark_rejected_total{reason=\"expired_erasure_token\"} 1") != std::string::npos);
  for (auto* c : {victim, attacker}) waymark_client_free(c);
}

TEST_CASE("erasure tokens: malformed, tampered and oversized ones are refused", "[collector][trust][store]") {
  Authority authority;
  wc::ErasureToken t;
  t.expires_at_ms = 2'000'000'000'000;
  t.pseudonyms.resize(2);
  auto token = wc::sign_erasure_token(t, authority.sk.data()).value();
  CHECK(wc::verify_erasure_token(token, {authority.pk}, 1'000).ok());
  auto tampered = token;
  tampered[20] ^= 1;
  CHECK(wc::verify_erasure_token(tampered, {authority.pk}, 1'000).status().message == "bad_erasure_token_signature");
  CHECK(wc::verify_erasure_token({token.data(), 40}, {authority.pk}, 1'000).status().message ==
        "malformed_erasure_token");
  CHECK(wc::verify_erasure_token(token, {}, 1'000).status().message == "bad_erasure_token_signature");
  t.pseudonyms.resize(33);
  CHECK_FALSE(wc::sign_erasure_token(t, authority.sk.data()).ok());
}
