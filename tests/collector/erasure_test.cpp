// Exact erasure (issue 18, finding 3), through the real collector and real SDK clients: an erased
// customer does not come back through a later visit, and nobody else loses anything.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "support/collector_fixture.hpp"
#include "support/http_client.hpp"
#include "support/test_support.hpp"

using namespace waymark::test;
using nlohmann::json;

namespace {

// The profile holding an identifier, or 0 when none does.
int64_t profile_of(const Collector& collector, waymark_client_t* c, waymark_id_kind_t kind, const std::string& raw) {
  const Reply r = api_get(collector.server->port(), "/v1/profiles?pseudonym=" + pseudonym_hex(c, kind, raw),
                          Collector::kAdminToken);
  REQUIRE((r.status == 200 || r.status == 404));
  return r.status == 200 ? json::parse(r.body).at("profile_id").get<int64_t>() : 0;
}

json profile(const Collector& collector, int64_t id) {
  const Reply r = api_get(collector.server->port(), "/v1/profiles/" + std::to_string(id), Collector::kAdminToken);
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

// Erases the profile holding an identifier through the API; returns the receipt's fields.
json erase(const Collector& collector, waymark_client_t* c, waymark_id_kind_t kind, const std::string& raw) {
  const Reply r = api_post(collector.server->port(), "/v1/erasure",
                           json{{"pseudonym", pseudonym_hex(c, kind, raw)}}.dump(), Collector::kAdminToken);
  INFO(r.body);
  REQUIRE(r.status == 200);
  return json::parse(json::parse(r.body).at("receipt").get<std::string>());
}

waymark_client_t* open(const Collector& collector, const TempDir& dir, bool shared = false) {
  ClientConfig config = collector.client();
  if (shared) config.mode = WAYMARK_DEVICE_SHARED;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), config, &c) == WAYMARK_OK);
  return c;
}

}  // namespace

TEST_CASE("a visit that carries an erased identifier is erased whole, even what came before it", "[collector][store]") {
  Collector collector;
  TempDir phone_dir, kiosk_dir, later_dir;
  waymark_client_t* phone = open(collector, phone_dir);
  REQUIRE(grant(phone, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(identify(phone, WAYMARK_ID_ACCOUNT_ID, "acct-erased-1") == WAYMARK_OK);
  REQUIRE(track(phone, "view") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(phone, 10000) == WAYMARK_OK);
  CHECK(erase(collector, phone, WAYMARK_ID_ACCOUNT_ID, "acct-erased-1").at("events_deleted") == 3);
  const int64_t after_erasure = collector.events();

  // At a kiosk, later: the customer gives a phone number first, then the erased account.
  waymark_client_t* kiosk = open(collector, kiosk_dir, true);
  REQUIRE(waymark_client_begin_customer(kiosk) == WAYMARK_OK);
  REQUIRE(grant(kiosk, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(identify(kiosk, WAYMARK_ID_PHONE, "+44 20 7946 0123") == WAYMARK_OK);
  REQUIRE(track(kiosk, "kiosk_scan") == WAYMARK_OK);
  REQUIRE(identify(kiosk, WAYMARK_ID_ACCOUNT_ID, "acct-erased-1") == WAYMARK_OK);
  REQUIRE(track(kiosk, "kiosk_buy") == WAYMARK_OK);
  REQUIRE(waymark_client_end_customer(kiosk) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(kiosk, 10000) == WAYMARK_OK);
  CHECK(collector.events() == after_erasure);  // nothing of the visit, not even its phone-only events
  CHECK(profile_of(collector, kiosk, WAYMARK_ID_PHONE, "+44 20 7946 0123") == 0);

  // The visit's phone number was the erased customer's too: a device that presents it later is
  // theirs, and is erased whole (its consent record, sent before, included).
  waymark_client_t* later = open(collector, later_dir);
  REQUIRE(grant(later, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(waymark_client_flush(later, 10000) == WAYMARK_OK);
  REQUIRE(collector.events() == after_erasure + 1);
  REQUIRE(identify(later, WAYMARK_ID_PHONE, "+44 20 7946 0123") == WAYMARK_OK);
  REQUIRE(track(later, "view") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(later, 10000) == WAYMARK_OK);
  CHECK(collector.events() == after_erasure);
  CHECK(profile_of(collector, later, WAYMARK_ID_PHONE, "+44 20 7946 0123") == 0);
  for (auto* c : {phone, kiosk, later}) waymark_client_free(c);
}

TEST_CASE("a visit erased in a later batch takes its earlier batches' events with it", "[collector][store]") {
  Collector collector;
  TempDir erased_dir, phone_dir;
  waymark_client_t* erased = open(collector, erased_dir);
  REQUIRE(grant(erased, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(identify(erased, WAYMARK_ID_EMAIL, "gone@example.com") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(erased, 10000) == WAYMARK_OK);
  erase(collector, erased, WAYMARK_ID_EMAIL, "gone@example.com");
  const int64_t base = collector.events();

  waymark_client_t* phone = open(collector, phone_dir);  // a new phone: anonymous browsing first
  REQUIRE(grant(phone, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(identify(phone, WAYMARK_ID_COOKIE_ID, "cookie-77") == WAYMARK_OK);
  REQUIRE(track(phone, "browse") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(phone, 10000) == WAYMARK_OK);
  REQUIRE(collector.events() == base + 3);
  REQUIRE(identify(phone, WAYMARK_ID_EMAIL, "gone@example.com") == WAYMARK_OK);  // then the erased customer signs in
  REQUIRE(waymark_client_flush(phone, 10000) == WAYMARK_OK);
  CHECK(collector.events() == base);
  CHECK(profile_of(collector, phone, WAYMARK_ID_COOKIE_ID, "cookie-77") == 0);
  for (auto* c : {erased, phone}) waymark_client_free(c);
}

TEST_CASE("erasing one of a family deletes nothing of the partner who shares the loyalty card", "[collector][store]") {
  Collector collector;
  TempDir ann_dir, bob_dir;
  waymark_client_t* ann = open(collector, ann_dir);
  waymark_client_t* bob = open(collector, bob_dir);
  for (auto* c : {ann, bob}) REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(identify(ann, WAYMARK_ID_ACCOUNT_ID, "acct-ann") == WAYMARK_OK);
  REQUIRE(identify(ann, WAYMARK_ID_LOYALTY_ID, "FAMILY-CARD-9") == WAYMARK_OK);
  REQUIRE(track(ann, "view") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(ann, 10000) == WAYMARK_OK);
  REQUIRE(identify(bob, WAYMARK_ID_ACCOUNT_ID, "acct-bob") ==
          WAYMARK_OK);  // a login, then nine app views with the card
  REQUIRE(identify(bob, WAYMARK_ID_LOYALTY_ID, "FAMILY-CARD-9") == WAYMARK_OK);
  for (int i = 0; i < 9; ++i) REQUIRE(track(bob, "app_view") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(bob, 10000) == WAYMARK_OK);
  const int64_t bob_profile = profile_of(collector, bob, WAYMARK_ID_ACCOUNT_ID, "acct-bob");
  const int64_t ann_profile = profile_of(collector, ann, WAYMARK_ID_ACCOUNT_ID, "acct-ann");
  REQUIRE(bob_profile != ann_profile);  // two account ids: never one profile
  const int64_t bob_events = profile(collector, bob_profile).at("events").get<int64_t>();
  REQUIRE(bob_events == 12);  // consent, two identifies, nine views

  const json receipt = erase(collector, ann, WAYMARK_ID_ACCOUNT_ID, "acct-ann");
  CHECK(receipt.at("events_deleted") == 4);
  CHECK(receipt.at("events_stripped") == 10);  // Bob's events that carried the card
  CHECK(profile(collector, bob_profile).at("events") == bob_events);
  CHECK(profile_of(collector, ann, WAYMARK_ID_ACCOUNT_ID, "acct-ann") == 0);

  // The card's tombstone is shared: Bob's next visits keep everything but the card.
  REQUIRE(track(bob, "app_view") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(bob, 10000) == WAYMARK_OK);
  CHECK(profile(collector, bob_profile).at("events") == bob_events + 1);
  CHECK(profile_of(collector, bob, WAYMARK_ID_LOYALTY_ID, "FAMILY-CARD-9") == 0);
  for (auto* c : {ann, bob}) waymark_client_free(c);
}
