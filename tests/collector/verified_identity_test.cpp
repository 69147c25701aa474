// Devices cannot merge into or read other customers (issue 19). With only what every install of the
// app holds, a fresh device identified a victim's email: its events merged into the victim's profile,
// and its segment pull answered with the victim's segments. Kinds listed in `verified-kinds` now link
// only with an identity assertion the brand's backend signed for that device, and a segment pull
// answers only for a profile the device proved, or one that holds nothing but its own events.
#include <catch2/catch.hpp>

#include "analytics/segments.hpp"
#include "authority/identity_assertion.hpp"
#include "support/raw_device.hpp"
#include "support/trust_support.hpp"

using namespace waymark::test;
using nlohmann::json;
namespace wc = waymark::collector;

namespace {

constexpr const char* kAccount = "A-1001";

std::array<uint8_t, 32> device_key(waymark_client_t* c) {
  std::array<uint8_t, 32> key{};
  REQUIRE(waymark_client_device_key(c, key.data(), key.size()) == WAYMARK_OK);
  return key;
}

// What the brand's backend signs at login: `raw` of `kind` is the customer's on the device `device`.
std::vector<uint8_t> assertion(waymark_client_t* c, const std::array<uint8_t, 32>& device, const uint8_t* sk,
                               int64_t valid_ms = 600000, waymark_id_kind_t kind = WAYMARK_ID_ACCOUNT_ID,
                               const std::string& raw = kAccount) {
  wc::IdentityAssertion a{wall_ms() + valid_ms, static_cast<uint8_t>(kind), {}, device};
  REQUIRE(waymark_client_pseudonymize(c, kind, raw.data(), raw.size(), a.pseudonym.data(), 32) == WAYMARK_OK);
  return wc::sign_identity_assertion(a, sk);
}

waymark_status_t identify_verified(waymark_client_t* c, const std::vector<uint8_t>& a,
                                   waymark_id_kind_t kind = WAYMARK_ID_ACCOUNT_ID, const std::string& raw = kAccount) {
  return waymark_client_identify_verified(c, kind, raw.data(), raw.size(), a.data(), a.size());
}

// The segments a device pulls for its customer, and the pull's status.
std::pair<waymark_status_t, std::vector<std::string>> pull(waymark_client_t* c) {
  waymark_segments_t* list = nullptr;
  const waymark_status_t s = waymark_client_fetch_segments(c, 5000, &list);
  std::vector<std::string> names;
  for (size_t i = 0; i < waymark_segments_count(list); ++i) names.emplace_back(waymark_segments_name(list, i));
  waymark_segments_free(list);
  return {s, names};
}

// The rules of every refused link in the profile's identity explanation.
std::vector<std::string> refusals(const Collector& collector, int64_t profile) {
  const Reply r =
      api_get(collector.server->port(), "/v1/profiles/" + std::to_string(profile) + "/explain", Collector::kAdminToken);
  REQUIRE(r.status == 200);
  const json explanation = json::parse(r.body);
  std::vector<std::string> out;
  for (const auto& l : explanation.at("links")) {
    if (l.at("outcome") == "refused") out.push_back(l.at("rule").get<std::string>());
  }
  return out;
}

void fans_segment(Collector& collector) {
  auto rule = wc::analytics::parse_rule_segment("app_fans: channel.app >= 3");
  REQUIRE(rule.ok());
  waymark::collector::ReportSettings settings;
  settings.segments = {rule.value()};
  collector.api->set_reports(settings);
}

// A customer who uses the app: analytics and personalisation granted, three app events.
void use_app(waymark_client_t* c) {
  REQUIRE(grant(c, WAYMARK_PURPOSE_PERSONALISATION) == WAYMARK_OK);
  for (int i = 0; i < 3; ++i) REQUIRE(track(c, "open") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
}

std::string metric(const Collector& collector, const std::string& name) {
  const std::string body = request(collector.server->port(), http::verb::get, "/metrics").body;
  const size_t at = body.find("\nwaymark_" + name + " ");
  REQUIRE(at != std::string::npos);
  return body.substr(at + name.size() + 10, body.find('\n', at + 1) - at - name.size() - 10);
}

}  // namespace

TEST_CASE("an account id claimed without the brand's assertion is kept but never joins the victim",
          "[collector][trust]") {
  Collector collector;
  Authority authority, forger;
  collector.ingest->set_authority_keys({authority.pk});
  collector.ingest->set_verified_kinds({WAYMARK_ID_ACCOUNT_ID});
  fans_segment(collector);
  TempDir phone_dir, laptop_dir, attacker_dir;
  waymark_client_t* phone = consenting_device(collector, phone_dir);
  REQUIRE(identify_verified(phone, assertion(phone, device_key(phone), authority.sk.data())) == WAYMARK_OK);
  use_app(phone);
  const auto [victim, victim_events] = profile_of(collector, phone, WAYMARK_ID_ACCOUNT_ID, kAccount);
  REQUIRE(victim_events == 6);  // analytics and personalisation consent, identify, three opens

  // The attacker: a plain claim, the victim's own assertion copied, one signed by another key, an
  // expired one, and one for another account.
  waymark_client_t* attacker = consenting_device(collector, attacker_dir);
  const auto mine = device_key(attacker);
  REQUIRE(identify(attacker, WAYMARK_ID_ACCOUNT_ID, kAccount) == WAYMARK_OK);
  REQUIRE(identify_verified(attacker, assertion(phone, device_key(phone), authority.sk.data())) == WAYMARK_OK);
  REQUIRE(identify_verified(attacker, assertion(attacker, mine, forger.sk.data())) == WAYMARK_OK);
  REQUIRE(identify_verified(attacker, assertion(attacker, mine, authority.sk.data(), -1)) == WAYMARK_OK);
  const auto other = assertion(attacker, mine, authority.sk.data(), 600000, WAYMARK_ID_ACCOUNT_ID, "A-2002");
  REQUIRE(identify_verified(attacker, other) == WAYMARK_OK);
  use_app(attacker);
  CHECK(profile_of(collector, phone, WAYMARK_ID_ACCOUNT_ID, kAccount) == std::make_pair(victim, victim_events));
  CHECK(collector.events() == victim_events + 10);  // the attacker's events are kept, apart
  const auto kept_apart = refusals(collector, victim);
  CHECK(std::count(kept_apart.begin(), kept_apart.end(), "unverified_identifier") >= 1);
  CHECK(metric(collector, "identity_assertions_verified_total") == "1");
  CHECK(metric(collector, "identity_assertions_refused_total") == "4");
  // The attacker's pull answers for its own events only (they make app_fans too), never the victim's.
  CHECK(pull(attacker) == std::make_pair(WAYMARK_OK, std::vector<std::string>{"app_fans"}));

  // The customer's laptop, with an assertion for its own key, joins the profile and may read it; so
  // may the phone, though the profile now holds the laptop's events.
  waymark_client_t* laptop = consenting_device(collector, laptop_dir);
  REQUIRE(identify_verified(laptop, assertion(laptop, device_key(laptop), authority.sk.data())) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(laptop, 10000) == WAYMARK_OK);
  CHECK(profile_of(collector, phone, WAYMARK_ID_ACCOUNT_ID, kAccount) == std::make_pair(victim, victim_events + 2));
  CHECK(pull(phone) == std::make_pair(WAYMARK_OK, std::vector<std::string>{"app_fans"}));
  CHECK(pull(laptop).first == WAYMARK_OK);

  // Erasing the customer deletes their events and strips the claimed account from the attacker's
  // (every one after the claim carried it), which are kept.
  const Reply erased =
      api_post(collector.server->port(), "/v1/erasure", json{{"profile_id", victim}}.dump(), Collector::kAdminToken);
  REQUIRE(erased.status == 200);
  const json receipt = json::parse(json::parse(erased.body).at("receipt").get<std::string>());
  CHECK(receipt.at("events_stripped") == 9);
  CHECK(collector.events() == 10);
  for (auto* c : {phone, laptop, attacker}) waymark_client_free(c);
}

TEST_CASE("by default a claimed email still merges, but the claimant cannot read the merged customer",
          "[collector][trust]") {
  Collector collector;  // no verified kinds: every kind links on the brand key alone (documented)
  fans_segment(collector);
  TempDir victim_dir, attacker_dir;
  waymark_client_t* victim = consenting_device(collector, victim_dir);
  REQUIRE(identify(victim, WAYMARK_ID_EMAIL, "victim@example.com") == WAYMARK_OK);
  use_app(victim);
  REQUIRE(pull(victim) == std::make_pair(WAYMARK_OK, std::vector<std::string>{"app_fans"}));

  waymark_client_t* attacker = consenting_device(collector, attacker_dir);
  REQUIRE(identify(attacker, WAYMARK_ID_EMAIL, "victim@example.com") == WAYMARK_OK);
  REQUIRE(grant(attacker, WAYMARK_PURPOSE_PERSONALISATION) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(attacker, 10000) == WAYMARK_OK);
  CHECK(profile_of(collector, victim, WAYMARK_ID_EMAIL, "victim@example.com").second == 6 + 3);  // merged
  // Found: the attacker's pull answered with the victim's segments. Now neither device may read a
  // profile that holds another device's events without a verified identifier.
  const auto [status, names] = pull(attacker);
  CHECK(status == WAYMARK_ERR_NOT_ALLOWED);
  CHECK(names.empty());
  CHECK(std::string(waymark_last_error_message()).find("waymark_client_identify_verified") != std::string::npos);
  CHECK(pull(victim).first == WAYMARK_ERR_NOT_ALLOWED);
  CHECK(metric(collector, "device_segment_refusals_total") == "2");
  for (auto* c : {victim, attacker}) waymark_client_free(c);
}

TEST_CASE("a crafted batch cannot make the collector check assertions by the thousand", "[collector][trust][store]") {
  Collector collector;
  Authority authority;
  collector.ingest->set_authority_keys({authority.pk});
  RawDevice device;
  std::vector<std::vector<uint8_t>> events = {device.grant()};
  waymark::detail::IdentifierRef id{WAYMARK_ID_ACCOUNT_ID, 0, {}, true};
  waymark::detail::EventDraft identify;
  identify.type = waymark::detail::kEventTypeIdentify;
  identify.identity_assertion.assign(wc::kIdentityAssertionBytes, 7);  // 142 bytes that prove nothing
  for (int i = 0; i < 100; ++i) {
    randombytes_buf(id.pseudonym.data(), 32);
    events.push_back(device.event("identify", {id}, identify));
  }
  waymark::detail::EventDraft track;  // only identify events carry an assertion the collector checks
  track.identity_assertion = identify.identity_assertion;
  events.push_back(device.event("view", {id}, track));
  REQUIRE(device.send(collector, events).status == 200);
  CHECK(metric(collector, "identity_assertions_refused_total") == std::to_string(wc::Ingest::kMaxAssertionsPerBatch));
  CHECK(collector.events() == 102);  // all kept, none of them proven
}

TEST_CASE("identity assertions: bound to one identifier, one device, one signer and a lifetime", "[trust][store]") {
  Authority authority, other;
  std::array<uint8_t, 32> device{}, pseudonym{};
  randombytes_buf(device.data(), device.size());
  randombytes_buf(pseudonym.data(), pseudonym.size());
  const auto a = wc::sign_identity_assertion({2'000'000'000'000, 8, pseudonym, device}, authority.sk.data());
  REQUIRE(a.size() == wc::kIdentityAssertionBytes);
  const std::vector<std::array<uint8_t, 32>> keys{other.pk, authority.pk};
  CHECK(wc::assertion_proves(a, keys, 8, pseudonym, device, 1'000));
  CHECK_FALSE(wc::assertion_proves(a, {other.pk}, 8, pseudonym, device, 1'000));
  CHECK_FALSE(wc::assertion_proves(a, keys, 7, pseudonym, device, 1'000));              // another kind
  CHECK_FALSE(wc::assertion_proves(a, keys, 8, device, device, 1'000));                 // another identifier
  CHECK_FALSE(wc::assertion_proves(a, keys, 8, pseudonym, pseudonym, 1'000));           // another device
  CHECK_FALSE(wc::assertion_proves(a, keys, 8, pseudonym, device, 2'000'000'000'000));  // expired
  CHECK_FALSE(wc::assertion_proves({a.data(), a.size() - 1}, keys, 8, pseudonym, device, 1'000));
  for (size_t i : {size_t{0}, size_t{4}, size_t{6}, size_t{20}, a.size() - 1}) {
    auto tampered = a;
    tampered[i] ^= 1;
    CHECK_FALSE(wc::assertion_proves(tampered, keys, 8, pseudonym, device, 1'000));
  }
}

TEST_CASE("identify_verified and device_key: arguments checked, the key stable for the store's life",
          "[trust][store]") {
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), ClientConfig{}, &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  const std::vector<uint8_t> big(WAYMARK_MAX_ASSERTION_BYTES + 1, 1);
  CHECK(waymark_client_identify_verified(c, WAYMARK_ID_EMAIL, "a@b.example", 11, nullptr, 0) ==
        WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(identify_verified(c, big, WAYMARK_ID_EMAIL, "a@b.example") == WAYMARK_ERR_INVALID_ARGUMENT);
  CHECK(identify_verified(c, {1, 2, 3}, WAYMARK_ID_EMAIL, "a@b.example") == WAYMARK_OK);
  uint8_t short_out[31];
  CHECK(waymark_client_device_key(c, short_out, sizeof short_out) == WAYMARK_ERR_INVALID_ARGUMENT);
  const auto key = device_key(c);
  REQUIRE(waymark_client_close(c) == WAYMARK_OK);
  CHECK(waymark_client_device_key(c, short_out, 32) == WAYMARK_ERR_CLOSED);
  waymark_client_free(c);
  REQUIRE(open_client(dir.store(), ClientConfig{}, &c) == WAYMARK_OK);
  CHECK(device_key(c) == key);
  waymark_client_free(c);
}
