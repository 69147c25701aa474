// The trust attacks of issue 19, run against a real `waymark-collector` process configured as a brand
// would run it (verified account ids, the brand's authority key): a fresh device with only what every
// install holds claims a victim's account id, pulls segments and calls forget. None of it harms the
// victim or reads them.
#include <catch2/catch.hpp>

#include <sodium.h>

#include "authority/identity_assertion.hpp"
#include "collector_process.hpp"
#include "support/trust_support.hpp"
#include "common/crypto/secure.hpp"

using namespace waymark::test;
namespace wc = waymark::collector;

namespace {

constexpr const char* kAccount = "A-1001";
constexpr const char* kToken = "admin-token-0123456789";

std::string hex(const uint8_t* p, size_t n) {
  return waymark::detail::to_hex(p, n);
}

waymark_client_t* device(const ClientConfig& config, const TempDir& dir) {
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_PERSONALISATION) == WAYMARK_OK);
  return c;
}

// The events of the profile holding the account, through the real process's query API.
int64_t account_events(uint16_t port, waymark_client_t* c) {
  const Reply r = api_get(port, "/v1/profiles?pseudonym=" + pseudonym_hex(c, WAYMARK_ID_ACCOUNT_ID, kAccount), kToken);
  REQUIRE(r.status == 200);
  const auto id = nlohmann::json::parse(r.body).at("profile_id").get<int64_t>();
  const Reply p = api_get(port, "/v1/profiles/" + std::to_string(id), kToken);
  REQUIRE(p.status == 200);
  return nlohmann::json::parse(p.body).at("events").get<int64_t>();
}

std::vector<std::string> pull(waymark_client_t* c, waymark_status_t expect = WAYMARK_OK) {
  waymark_segments_t* list = nullptr;
  REQUIRE(waymark_client_fetch_segments(c, 5000, &list) == expect);
  std::vector<std::string> names;
  for (size_t i = 0; i < waymark_segments_count(list); ++i) names.emplace_back(waymark_segments_name(list, i));
  waymark_segments_free(list);
  return names;
}

}  // namespace

TEST_CASE("against a real collector process, a fresh device cannot join, read or erase a verified customer",
          "[collector][trust]") {
  TempDir dir;
  Authority authority;
  const std::string bin = WAYMARK_COLLECTOR_BIN;
  const auto collector_key = demo::CollectorProcess::generate_keys(bin, dir.path());
  demo::CollectorProcess server(
      bin,
      {"serve", "--data-dir", dir.path(), "--port", "0", "--api-token",
       std::string("admin:") + kToken + ":profiles:read", "--brand-authority-key", hex(authority.pk.data(), 32),
       "--verified-kinds", "account_id", "--segment", "app_fans: channel.app >= 3"},
      dir.path() + "/collector.log");
  ClientConfig config;
  config.collector_url = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1/batches";
  config.collector_keys = {{1, collector_key}};

  TempDir victim_dir, attacker_dir;
  waymark_client_t* victim = device(config, victim_dir);
  std::array<uint8_t, 32> key{};
  REQUIRE(waymark_client_device_key(victim, key.data(), 32) == WAYMARK_OK);
  wc::IdentityAssertion a{wall_ms() + 600000, WAYMARK_ID_ACCOUNT_ID, {}, key};
  REQUIRE(waymark_client_pseudonymize(victim, WAYMARK_ID_ACCOUNT_ID, kAccount, 6, a.pseudonym.data(), 32) ==
          WAYMARK_OK);
  const auto assertion = wc::sign_identity_assertion(a, authority.sk.data());
  REQUIRE(waymark_client_identify_verified(victim, WAYMARK_ID_ACCOUNT_ID, kAccount, 6, assertion.data(),
                                           assertion.size()) == WAYMARK_OK);
  for (int i = 0; i < 3; ++i) REQUIRE(track(victim, "open") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(victim, 10000) == WAYMARK_OK);
  const int64_t victim_events = account_events(server.port(), victim);
  CHECK(victim_events == 6);  // two consent records, identify, three opens
  CHECK(pull(victim) == std::vector<std::string>{"app_fans"});

  // The attacker: the victim's account id claimed, then the victim's own assertion replayed.
  waymark_client_t* attacker = device(config, attacker_dir);
  REQUIRE(identify(attacker, WAYMARK_ID_ACCOUNT_ID, kAccount) == WAYMARK_OK);
  REQUIRE(waymark_client_identify_verified(attacker, WAYMARK_ID_ACCOUNT_ID, kAccount, 6, assertion.data(),
                                           assertion.size()) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(attacker, 10000) == WAYMARK_OK);
  CHECK(account_events(server.port(), victim) == victim_events);  // nothing merged
  CHECK(pull(attacker).empty());                                  // the victim's app_fans is not theirs
  REQUIRE(waymark_client_forget(attacker) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(attacker, 10000) == WAYMARK_OK);
  CHECK(account_events(server.port(), victim) == victim_events);  // nothing erased
  REQUIRE(track(victim, "after") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(victim, 10000) == WAYMARK_OK);
  CHECK(account_events(server.port(), victim) == victim_events + 1);  // and the victim's device goes on
  for (auto* c : {victim, attacker}) waymark_client_free(c);
  CHECK(server.stop() == 0);
}
