// Everything a device sends is kept (issue 18, finding 1): typed properties, the campaign's content,
// and the batch's app id, platform, SDK version, device model and OS reached no storage, so journeys,
// exports and segment rules could not see a kiosk's sku, a store's region or a return's reason.
#include <catch2/catch.hpp>

#include <cstring>

#include <nlohmann/json.hpp>

#include "analytics/segments.hpp"
#include "support/collector_fixture.hpp"
#include "support/http_client.hpp"
#include "support/raw_device.hpp"
#include "support/test_support.hpp"

using namespace waymark::test;
using nlohmann::json;

namespace {

waymark_event_t* new_event(waymark_event_type_t type, const std::string& name) {
  waymark_event_t* e = nullptr;
  REQUIRE(waymark_event_new(type, name.data(), name.size(), &e) == WAYMARK_OK);
  return e;
}

void set(waymark_event_t* e, const std::string& key, const std::string& value) {
  REQUIRE(waymark_event_set_string(e, key.data(), key.size(), value.data(), value.size()) == WAYMARK_OK);
}

void record(waymark_client_t* c, waymark_event_t* e) {
  REQUIRE(waymark_client_record(c, e) == WAYMARK_OK);
  waymark_event_free(e);
}

// The journey of the profile holding `email`, through the API.
json journey_of(const Collector& collector, waymark_client_t* c, const std::string& email) {
  const uint16_t port = collector.server->port();
  const Reply found =
      api_get(port, "/v1/profiles?pseudonym=" + pseudonym_hex(c, WAYMARK_ID_EMAIL, email), Collector::kAdminToken);
  REQUIRE(found.status == 200);
  const int64_t id = json::parse(found.body).at("profile_id").get<int64_t>();
  const Reply j = api_get(port, "/v1/profiles/" + std::to_string(id) + "/journey", Collector::kAdminToken);
  REQUIRE(j.status == 200);
  return json::parse(j.body).at("touchpoints");
}

}  // namespace

TEST_CASE("typed properties, campaign content and the batch's source reach journeys and exports",
          "[collector][store]") {
  Collector collector;
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), collector.client(), &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(waymark_client_identify(c, WAYMARK_ID_EMAIL, "props@example.com", 17) == WAYMARK_OK);
  waymark_event_t* scan = new_event(WAYMARK_EVENT_TRACK, "kiosk_scan");
  set(scan, "sku", "SKU-4411");
  set(scan, "region", "north");
  REQUIRE(waymark_event_set_int(scan, "qty", 3, 2) == WAYMARK_OK);
  REQUIRE(waymark_event_set_double(scan, "weight_kg", 9, 1.25) == WAYMARK_OK);
  REQUIRE(waymark_event_set_bool(scan, "gift", 4, 1) == WAYMARK_OK);
  REQUIRE(waymark_event_set_campaign(scan, "newsletter", 10, "email", 5, "spring", 6, "hero-banner", 11) == WAYMARK_OK);
  record(c, scan);
  REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);

  const json touchpoints = journey_of(collector, c, "props@example.com");
  const auto it =
      std::find_if(touchpoints.begin(), touchpoints.end(), [](const json& t) { return t.at("name") == "kiosk_scan"; });
  REQUIRE(it != touchpoints.end());
  const json& t = *it;
  CHECK(t.at("properties") ==
        json{{"sku", "SKU-4411"}, {"region", "north"}, {"qty", 2}, {"weight_kg", 1.25}, {"gift", true}});
  CHECK(t.at("properties").at("qty").is_number_integer());
  CHECK(t.at("campaign").at("content") == "hero-banner");
  const json& source = t.at("source");
  CHECK(source.at("app_id") == "test-app");
  CHECK(source.at("platform") == "linux");  // the platform table's OS name, no longer a fixed "posix"
  CHECK(source.at("sdk_version") == waymark_version());
  CHECK_FALSE(source.at("os_version").get<std::string>().empty());
  CHECK_FALSE(source.at("device_model").get<std::string>().empty());
  waymark_client_free(c);
}

TEST_CASE("segment rules test properties", "[collector][store]") {
  Collector collector;
  std::vector<waymark::collector::analytics::RuleSegment> rules;
  for (const char* spec : {"north: property.region = \"north\"",
                           "damaged_returns: event.\"return\"[30d] >= 1 and property.reason = \"damaged\"",
                           "big_baskets: property.qty >= 3", "gifts: property.gift = true"}) {
    auto rule = waymark::collector::analytics::parse_rule_segment(spec);
    REQUIRE(rule.ok());
    rules.push_back(std::move(rule.value()));
  }
  waymark::collector::ReportSettings settings;
  settings.segments = std::move(rules);
  collector.api->set_reports(settings);
  struct Shopper {
    const char* email;
    const char* event;
    std::vector<std::pair<std::string, std::string>> strings;
    int64_t qty;
  };
  const Shopper shoppers[] = {{"north.damaged@example.com", "return", {{"region", "north"}, {"reason", "damaged"}}, 1},
                              {"south.damaged@example.com", "return", {{"region", "south"}, {"reason", "damaged"}}, 5},
                              {"north.sizing@example.com", "return", {{"region", "north"}, {"reason", "too_small"}}, 1},
                              {"south.buyer@example.com", "purchase_note", {{"reason", "damaged"}}, 3}};
  std::vector<TempDir> dirs(std::size(shoppers));
  for (size_t i = 0; i < std::size(shoppers); ++i) {
    waymark_client_t* c = nullptr;
    REQUIRE(open_client(dirs[i].store(), collector.client(), &c) == WAYMARK_OK);
    REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
    REQUIRE(identify(c, WAYMARK_ID_EMAIL, shoppers[i].email) == WAYMARK_OK);
    waymark_event_t* e = new_event(WAYMARK_EVENT_CUSTOM, shoppers[i].event);
    for (const auto& [k, v] : shoppers[i].strings) set(e, k, v);
    REQUIRE(waymark_event_set_int(e, "qty", 3, shoppers[i].qty) == WAYMARK_OK);
    record(c, e);
    REQUIRE(waymark_client_flush(c, 10000) == WAYMARK_OK);
    waymark_client_free(c);
  }
  const auto size = [&](const std::string& name) {
    const Reply r = api_get(collector.server->port(), "/v1/segments/" + name, Collector::kAdminToken);
    REQUIRE(r.status == 200);
    return json::parse(r.body).at("size").get<int64_t>();
  };
  CHECK(size("north") == 2);
  CHECK(size("damaged_returns") == 2);  // a purchase note with reason "damaged" is no return
  CHECK(size("big_baskets") == 2);
  CHECK(size("gifts") == 0);
}

TEST_CASE("a property rule refuses comparisons that cannot mean anything", "[collector][store]") {
  using waymark::collector::analytics::parse_rule_segment;
  CHECK(parse_rule_segment("a: property.region < \"north\"").status().message.find("= or != only") !=
        std::string::npos);
  CHECK(parse_rule_segment("a: property.gift > true").status().message.find("= or != only") != std::string::npos);
  CHECK(parse_rule_segment("a: property.region = \"north").status().message.find("unterminated") != std::string::npos);
  CHECK(parse_rule_segment("a: property.\"store id\"[7d] = 12").ok());
}

TEST_CASE("oversized properties and batch sources are refused with their reason", "[collector][store]") {
  Collector collector;
  RawDevice device;
  waymark::detail::EventDraft long_key, long_value;
  long_key.properties.resize(1);
  long_key.properties[0].key.assign(257, 'k');
  long_value.properties.resize(1);
  long_value.properties[0].key = "note";
  long_value.properties[0].s.assign(4097, 'v');
  REQUIRE(device.send(collector, {device.grant(), device.event("a", {}, long_key), device.event("b", {}, long_value)})
              .status == 200);
  CHECK(collector.events() == 1);
  CHECK(request(collector.server->port(), http::verb::get, "/metrics")
            .body.find("waymark_rejected_total{reason=\"property_too_large\"} 2") != std::string::npos);
}
