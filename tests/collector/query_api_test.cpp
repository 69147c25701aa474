// The query API of the real collector on 127.0.0.1, fed by real SDK clients: one customer across a
// phone, a laptop and a shared kiosk; tokens and scopes; journey paging; explain, unmerge, export,
// erasure with a signed receipt.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "support/collector_fixture.hpp"
#include "support/http_client.hpp"
#include "support/test_support.hpp"

using namespace waymark::test;
using nlohmann::json;

namespace {

json get_json(uint16_t port, const std::string& target, const std::string& token, int want = 200) {
  const Reply r = api_get(port, target, token);
  INFO(target << " -> " << r.body);
  REQUIRE(r.status == want);
  return json::parse(r.body);
}

// A customer on her phone and laptop (personal devices) who also scans her loyalty card at a shared
// kiosk, where another customer is served next.
struct Shop {
  Collector collector;
  TempDir phone_dir, laptop_dir, kiosk_dir;
  waymark_client_t *phone = nullptr, *laptop = nullptr, *kiosk = nullptr;
  uint16_t port = collector.server->port();

  Shop() {
    ClientConfig personal = collector.client();
    ClientConfig shared = collector.client();
    shared.mode = WAYMARK_DEVICE_SHARED;
    REQUIRE(open_client(phone_dir.store(), personal, &phone) == WAYMARK_OK);
    REQUIRE(open_client(laptop_dir.store(), personal, &laptop) == WAYMARK_OK);
    REQUIRE(open_client(kiosk_dir.store(), shared, &kiosk) == WAYMARK_OK);
    for (auto* c : {phone, laptop}) REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
    REQUIRE(track(phone, "browse") == WAYMARK_OK);  // anonymous first
    REQUIRE(identify(phone, WAYMARK_ID_EMAIL, "ann.query@example.com") == WAYMARK_OK);
    REQUIRE(identify(phone, WAYMARK_ID_LOYALTY_ID, "LOY-1001") == WAYMARK_OK);
    REQUIRE(track(phone, "view") == WAYMARK_OK);
    REQUIRE(identify(laptop, WAYMARK_ID_EMAIL, "ann.query@example.com") == WAYMARK_OK);
    REQUIRE(track(laptop, "cart") == WAYMARK_OK);
    // Ann's own devices upload first, so the kiosk visit is the last merge into her profile.
    for (auto* c : {phone, laptop}) REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
    REQUIRE(waymark_client_begin_customer(kiosk) == WAYMARK_OK);
    REQUIRE(grant(kiosk, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
    REQUIRE(identify(kiosk, WAYMARK_ID_DEVICE_ID, "kiosk-7-serial") == WAYMARK_OK);  // on a shared device: never links
    REQUIRE(identify(kiosk, WAYMARK_ID_LOYALTY_ID, "LOY-1001") == WAYMARK_OK);
    REQUIRE(track(kiosk, "kiosk_scan") == WAYMARK_OK);
    REQUIRE(waymark_client_end_customer(kiosk) == WAYMARK_OK);
    REQUIRE(waymark_client_begin_customer(kiosk) == WAYMARK_OK);
    REQUIRE(grant(kiosk, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
    REQUIRE(identify(kiosk, WAYMARK_ID_DEVICE_ID, "kiosk-7-serial") == WAYMARK_OK);
    REQUIRE(identify(kiosk, WAYMARK_ID_LOYALTY_ID, "LOY-2002") == WAYMARK_OK);
    REQUIRE(track(kiosk, "kiosk_scan") == WAYMARK_OK);
    REQUIRE(waymark_client_flush(kiosk, 10000) == WAYMARK_OK);
    // Identity resolution follows ingest in the background: wait until it has caught up (on a loaded
    // machine it lagged the first queries, and unmerge then saw fewer profiles).
    for (int i = 0; i < 500 && collector.store->pending_events().value() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(collector.store->pending_events().value() == 0);
  }
  ~Shop() {
    for (auto* c : {phone, laptop, kiosk}) {
      waymark_client_close(c);
      waymark_client_free(c);
    }
  }
  int64_t profile_of(waymark_client_t* c, waymark_id_kind_t kind, const std::string& raw) {
    return get_json(port, "/v1/profiles?pseudonym=" + pseudonym_hex(c, kind, raw), Collector::kReadToken)
        .at("profile_id")
        .get<int64_t>();
  }
};

}  // namespace

TEST_CASE("query API: one customer across phone, laptop and kiosk is one profile with one journey", "[api][store]") {
  Shop shop;
  const int64_t ann = shop.profile_of(shop.phone, WAYMARK_ID_EMAIL, "ann.query@example.com");
  CHECK(shop.profile_of(shop.kiosk, WAYMARK_ID_LOYALTY_ID, "LOY-1001") == ann);
  const int64_t other = shop.profile_of(shop.kiosk, WAYMARK_ID_LOYALTY_ID, "LOY-2002");
  CHECK(other != ann);  // the next kiosk customer is not Ann, although the kiosk's device id was on both

  const json p = get_json(shop.port, "/v1/profiles/" + std::to_string(ann), Collector::kReadToken);
  std::map<std::string, int> kinds;
  for (const auto& n : p.at("identifiers")) ++kinds[n.at("kind").get<std::string>()];
  CHECK(kinds["email"] == 1);
  CHECK(kinds["loyalty_id"] == 1);
  CHECK(kinds["device_id"] == 2);  // phone and laptop; never the shared kiosk's
  CHECK(kinds["slot"] == 3);
  const int64_t events = p.at("events").get<int64_t>();
  CHECK(events >= 6);  // browse, identify x2, view, identify, cart, identify, kiosk_scan (consent records too)

  // The journey, two touchpoints a page: every event once, in corrected time order.
  std::vector<json> all;
  std::string next;
  do {
    const json page = get_json(
        shop.port, "/v1/profiles/" + std::to_string(ann) + "/journey?limit=2" + (next.empty() ? "" : "&after=" + next),
        Collector::kReadToken);
    CHECK(page.at("touchpoints").size() <= 2);
    for (const auto& t : page.at("touchpoints")) all.push_back(t);
    next = page.value("next", "");
  } while (!next.empty());
  CHECK(static_cast<int64_t>(all.size()) == events);
  std::set<std::string> names, ids;
  for (size_t i = 0; i < all.size(); ++i) {
    names.insert(all[i].at("name").get<std::string>());
    ids.insert(all[i].at("event_id").get<std::string>());
    if (i > 0) CHECK(all[i - 1].at("corrected_ms").get<int64_t>() <= all[i].at("corrected_ms").get<int64_t>());
  }
  CHECK(ids.size() == all.size());
  CHECK(names.count("browse") == 1);
  CHECK(names.count("cart") == 1);
  CHECK(names.count("kiosk_scan") == 1);

  // Why: merges with their provenance, and the kiosk's id refused as a shared device.
  const json x = get_json(shop.port, "/v1/profiles/" + std::to_string(ann) + "/explain", Collector::kReadToken);
  std::set<std::string> rules;
  for (const auto& l : x.at("links"))
    rules.insert(l.at("rule").get<std::string>() + "/" + l.at("outcome").get<std::string>());
  CHECK(rules.count("co_occurrence/merged") == 1);
  CHECK(rules.count("shared_device/refused") == 1);

  // Paging of the profile list, and bad requests.
  const json list = get_json(shop.port, "/v1/profiles?limit=1", Collector::kReadToken);
  CHECK(list.at("profiles").size() == 1);
  CHECK(list.contains("next"));
  get_json(shop.port, "/v1/profiles?limit=0", Collector::kReadToken, 400);
  get_json(shop.port, "/v1/profiles?pseudonym=zz", Collector::kReadToken, 400);
  get_json(shop.port, "/v1/profiles/999999", Collector::kReadToken, 404);
  get_json(shop.port, "/v1/profiles/" + std::to_string(ann) + "/journey?after=nonsense", Collector::kReadToken, 400);
  get_json(shop.port, "/v1/profiles?pseudonym=" + std::string(64, 'a'), Collector::kReadToken, 404);
}

TEST_CASE("query API: 401 without a valid token, 403 without the scope", "[api][store]") {
  Collector collector;
  const uint16_t port = collector.server->port();
  CHECK(api_get(port, "/v1/profiles", "").status == 401);
  CHECK(api_get(port, "/v1/profiles", "not-a-token").status == 401);
  CHECK(api_get(port, "/v1/profiles", Collector::kReadToken).status == 200);
  CHECK(api_get(port, "/v1/profiles/1/export", Collector::kReadToken).status == 403);
  CHECK(api_post(port, "/v1/erasure", R"({"profile_id": 1})", Collector::kReadToken).status == 403);
  CHECK(api_post(port, "/v1/unmerge", R"({"event_id": "00"})", Collector::kReadToken).status == 403);
  CHECK(api_post(port, "/v1/erasure", "not json", Collector::kAdminToken).status == 400);
  CHECK(api_post(port, "/v1/erasure", R"({"profile_id": 424242})", Collector::kAdminToken).status == 404);
  CHECK(api_post(port, "/v1/unmerge", R"({"event_id": "xyz"})", Collector::kAdminToken).status == 400);
  CHECK(api_get(port, "/v1/erasure", Collector::kAdminToken).status == 405);
  // Traversal in paths reaches nothing else: an export (a scope the token lacks) or another route.
  for (const char* path :
       {"/v1/profiles/1/../1/export", "/v1/profiles/../profiles/1/export", "/v1/profiles/1/..%2Fexport",
        "/v1/profiles/%2e%2e/metrics", "/v1/../metrics", "/v1/profiles/1/export/..", "//v1/profiles/1/export"}) {
    CAPTURE(path);
    const int status = api_get(port, path, Collector::kReadToken).status;
    CHECK((status == 400 || status == 403 || status == 404));
  }
  std::string error;
  CHECK_FALSE(waymark::collector::parse_api_token("a:short:profiles:read", &error));
  CHECK_FALSE(waymark::collector::parse_api_token("a:0123456789abcdef:root", &error));
  CHECK(error.find("unknown scope") != std::string::npos);
  CHECK(waymark::collector::parse_api_token("a:0123456789abcdef:profiles:read,erasure:write", &error));
}

TEST_CASE("query API: unmerge a wrong link, export, then erase with a signed receipt", "[api][store]") {
  Shop shop;
  const int64_t ann = shop.profile_of(shop.phone, WAYMARK_ID_EMAIL, "ann.query@example.com");

  // The kiosk visit joined Ann through her loyalty card (the last merge). Unmerging the one event
  // that logged the merge changes nothing: the visit's next event carries the same card. Unmerging
  // the kiosk's whole batch takes the visit out of her profile.
  const json x = get_json(shop.port, "/v1/profiles/" + std::to_string(ann) + "/explain", Collector::kReadToken);
  const json p = get_json(shop.port, "/v1/profiles/" + std::to_string(ann), Collector::kReadToken);
  std::string kiosk_event, kiosk_batch;
  for (const auto& l : x.at("links")) {
    if (l.at("outcome") == "merged" && l.at("rule") == "co_occurrence") {
      kiosk_event = l.at("event_id");
      kiosk_batch = l.at("batch_id");
    }
  }
  REQUIRE(!kiosk_event.empty());
  // Did the kiosk's uploader send both visits in one batch, or the first alone while the second
  // was being recorded?
  const int64_t other = shop.profile_of(shop.kiosk, WAYMARK_ID_LOYALTY_ID, "LOY-2002");
  bool both_visits = false;
  const json other_links =
      get_json(shop.port, "/v1/profiles/" + std::to_string(other) + "/explain", Collector::kReadToken);
  for (const auto& l : other_links.at("links")) both_visits = both_visits || l.at("batch_id") == kiosk_batch;
  const Reply by_event =
      api_post(shop.port, "/v1/unmerge", json{{"event_id", kiosk_event}}.dump(), Collector::kAdminToken);
  REQUIRE(by_event.status == 200);
  CHECK(json::parse(by_event.body).at("profiles").size() == 1);
  CHECK(get_json(shop.port, "/v1/profiles/" + std::to_string(ann), Collector::kReadToken).at("identifiers").size() ==
        p.at("identifiers").size());
  const Reply by_batch =
      api_post(shop.port, "/v1/unmerge", json{{"batch_id", kiosk_batch}}.dump(), Collector::kAdminToken);
  REQUIRE(by_batch.status == 200);
  CHECK(json::parse(by_batch.body).at("links_revoked").get<int>() >= 1);
  // Ann and her kiosk visit; and the next customer apart from his visit when the batch carried both.
  CHECK(json::parse(by_batch.body).at("profiles").size() == (both_visits ? 4u : 2u));
  const json after = get_json(shop.port, "/v1/profiles/" + std::to_string(ann), Collector::kReadToken);
  CHECK(after.at("identifiers").size() == p.at("identifiers").size() - 1);  // the kiosk visit's slot

  const json exported = get_json(shop.port, "/v1/profiles/" + std::to_string(ann) + "/export", Collector::kAdminToken);
  CHECK(exported.at("touchpoints").size() == exported.at("events").get<size_t>());
  CHECK(exported.contains("links"));

  // Erase Ann by her email's pseudonym.
  const std::string email = pseudonym_hex(shop.phone, WAYMARK_ID_EMAIL, "ann.query@example.com");
  const Reply e = api_post(shop.port, "/v1/erasure", json{{"pseudonym", email}}.dump(), Collector::kAdminToken);
  REQUIRE(e.status == 200);
  const json receipt = json::parse(e.body);
  const std::string signed_bytes = "waymark.erasure-receipt.v1\n" + receipt.at("receipt").get<std::string>();
  uint8_t sig[64];
  REQUIRE(sodium_hex2bin(sig, sizeof sig, receipt.at("signature").get<std::string>().c_str(), 128, nullptr, nullptr,
                         nullptr) == 0);
  CHECK(crypto_sign_verify_detached(sig, reinterpret_cast<const uint8_t*>(signed_bytes.data()), signed_bytes.size(),
                                    shop.collector.public_key.data()) == 0);
  CHECK(receipt.at("key_id") == shop.collector.key.key_id);
  CHECK(json::parse(receipt.at("receipt").get<std::string>()).at("events_deleted").get<int>() > 0);
  get_json(shop.port, "/v1/profiles?pseudonym=" + email, Collector::kReadToken, 404);

  // Tombstoned: her phone keeps sending as her, and nothing of it is stored again.
  const int64_t stored = shop.collector.events();
  REQUIRE(track(shop.phone, "after_erasure") == WAYMARK_OK);
  REQUIRE(waymark_client_flush(shop.phone, 10000) == WAYMARK_OK);
  CHECK(shop.collector.events() == stored);
  get_json(shop.port, "/v1/profiles?pseudonym=" + email, Collector::kReadToken, 404);
  CHECK_FALSE(shop.collector.holds("ann.query@example.com"));
  CHECK_FALSE(shop.collector.holds("LOY-1001"));
}

TEST_CASE("the OpenAPI document describes every endpoint the collector serves", "[api]") {
  std::ifstream in(std::string(WAYMARK_TEST_DATA) + "/../../docs/api/openapi.yaml");
  REQUIRE(in);
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* path : {"/v1/batches:", "/healthz:", "/metrics:", "/v1/profiles:", "/v1/profiles/{id}:",
                           "/v1/profiles/{id}/journey:", "/v1/profiles/{id}/explain:", "/v1/profiles/{id}/export:",
                           "/v1/unmerge:", "/v1/erasure:", "/v1/reports/attribution:", "/v1/reports/clv:",
                           "/v1/reports/totals:", "/v1/segments:", "/v1/segments/{name}:", "/v1/devices/segments:"}) {
    INFO(path);
    CHECK(doc.find(std::string("  ") + path + "\n") != std::string::npos);
  }
}
