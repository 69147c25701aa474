// Marketing spend through the API: imported as CSV or JSON, a day imported again replaces itself, and
// attribution by channel group and by campaign reports cost, ROAS, ROMI and cost per acquisition.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "support/collector_fixture.hpp"
#include "support/direct_store.hpp"
#include "support/http_client.hpp"
#include "waymark/wire/v1/event_generated.h"

using namespace waymark::test;
using namespace waymark::collector;
namespace w = waymark::wire::v1;
using nlohmann::json;

namespace {

constexpr int64_t kDay = 24LL * 3600 * 1000;
constexpr int64_t kStart = 1'767'225'600'000;  // 2026-01-01

// A customer who opens an email from the spring campaign and buys for `pence` a day later.
void emailed_buyer(Store& store, int64_t at, int64_t pence) {
  Bytes slot(16);
  randombytes_buf(slot.data(), slot.size());
  std::vector<StoredEvent> events(2);
  for (size_t i = 0; i < 2; ++i) {
    StoredEvent& e = events[i];
    e.event_id = ordered_event_id(static_cast<uint64_t>(at) + i);
    e.type = static_cast<uint8_t>(i == 0 ? w::EventType::Track : w::EventType::Purchase);
    e.channel = static_cast<uint8_t>(i == 0 ? w::Channel::Email : w::Channel::Web);
    e.purpose = 1;
    e.name = i == 0 ? "open" : "order";
    e.occurred_ms = e.corrected_ms = at + static_cast<int64_t>(i) * kDay;
    e.slot = slot;
    if (i == 0) {
      e.campaign_source = "newsletter";
      e.campaign_medium = "email";
      e.campaign_name = "spring";
    } else {
      e.revenue_minor = pence;
      e.currency = "GBP";
    }
  }
  REQUIRE(commit_events(store, std::move(events)).ok());
}

json get_json(uint16_t port, const std::string& target) {
  const Reply r = api_get(port, target, Collector::kAdminToken);
  INFO(target << ": " << r.body);
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

}  // namespace

// Found (issue 22): there was no way to bring in what marketing cost, so no ROAS, ROMI or cost per
// acquisition.
TEST_CASE("spend: imported as CSV and JSON, replaced by day, costed in attribution", "[analytics][spend][store]") {
  Collector c;
  const uint16_t port = c.server->port();
  for (int i = 0; i < 20; ++i) emailed_buyer(*c.store, kStart + i * kDay, 5000);  // £1,000 of sales

  const std::string csv =
      "day,channel_group,campaign,amount,currency\n"
      "2026-01-02,Email,,150.00,GBP\n"
      "2026-01-03,Email,,50,GBP\n"
      "2026-01-03,Display,,300,GBP\n"
      "2026-01-03,,newsletter / email / spring,120.50,GBP\n";
  const Reply imported = api_post(port, "/v1/spend", csv, Collector::kAdminToken);
  INFO(imported.body);
  REQUIRE(imported.status == 200);
  CHECK(json::parse(imported.body).at("rows") == 4);
  CHECK(json::parse(imported.body).at("days_replaced") == 3);
  // The same file again changes nothing.
  REQUIRE(api_post(port, "/v1/spend", csv, Collector::kAdminToken).status == 200);

  const std::string window = "/v1/reports/attribution?from=2026-01-01&to=2026-02-01&model=last_touch";
  const json groups = get_json(port, window + "&by=channel_group");
  CHECK(groups.at("cost_currency") == "GBP");
  CHECK(groups.at("totals").at("cost") == 500.0);
  CHECK(groups.at("totals").at("revenue") == 1000.0);
  CHECK(groups.at("totals").at("roas").get<double>() == Approx(2.0));
  CHECK(groups.at("totals").at("romi").get<double>() == Approx(1.0));
  CHECK(groups.at("totals").at("cpa") == 25.0);
  std::map<std::string, json> row;
  for (const auto& r : groups.at("rows")) row[r.at("key").get<std::string>()] = r;
  CHECK(row.at("Email").at("cost") == 200.0);
  CHECK(row.at("Email").at("roas").get<double>() == Approx(5.0));
  CHECK(row.at("Email").at("romi").get<double>() == Approx(4.0));
  CHECK(row.at("Email").at("cpa") == 10.0);
  CHECK(row.at("Display").at("conversions") == 0);  // spent on, converted nothing
  CHECK(row.at("Display").at("cost") == 300.0);
  CHECK(row.at("Display").at("romi").get<double>() == Approx(-1.0));
  CHECK(row.at("Display").at("cpa").is_null());

  const json campaigns = get_json(port, window + "&by=campaign");
  CHECK(campaigns.at("rows").at(0).at("key") == "newsletter / email / spring");
  CHECK(campaigns.at("rows").at(0).at("cost") == 120.5);
  CHECK_FALSE(get_json(port, window + "&by=channel").contains("cost"));  // spend is not per channel
  CHECK(get_json(port, window + "&by=channel").at("cost_currency").is_null());

  // A corrected day replaces that day's rows of its level, whole: Display is gone from 3 January.
  const Reply corrected = api_post(port, "/v1/spend",
                                   R"({"rows": [{"day": "2026-01-03", "channel_group": "Email", "amount": 80,
                                                 "currency": "GBP"}]})",
                                   Collector::kAdminToken);
  REQUIRE(corrected.status == 200);
  const json after = get_json(port, window + "&by=channel_group");
  CHECK(after.at("totals").at("cost") == 230.0);
  CHECK(get_json(port, window + "&by=campaign").at("totals").at("cost") == 120.5);  // the other level stays
  // Outside the window: not counted.
  CHECK(get_json(port, "/v1/reports/attribution?from=2026-01-03&to=2026-02-01&by=channel_group")
            .at("totals")
            .at("cost") == 80.0);

  const json listed = get_json(port, "/v1/spend?from=2026-01-01&to=2026-01-04");
  REQUIRE(listed.at("rows").size() == 3);
  CHECK(listed.at("rows").at(0) ==
        json{{"day", "2026-01-02"}, {"channel_group", "Email"}, {"amount", 150.0}, {"currency", "GBP"}});
}

TEST_CASE("spend: bad imports lose nothing and say why, scopes and roles are checked", "[analytics][spend]") {
  Collector c;
  const uint16_t port = c.server->port();
  const std::string good = "day,channel_group,amount,currency\n2026-01-02,Email,10,GBP\n";
  REQUIRE(api_post(port, "/v1/spend", good, Collector::kAdminToken).status == 200);
  // The second row is bad: nothing of this import is applied, and the answer names its line.
  const Reply bad = api_post(port, "/v1/spend",
                             "day,channel_group,amount,currency\n2026-01-02,Email,99,GBP\n2026-01-02,Emial,1,GBP\n",
                             Collector::kAdminToken);
  CHECK(bad.status == 400);
  CHECK(bad.body.find("line 3: unknown channel_group 'Emial'") != std::string::npos);
  const json listed = get_json(port, "/v1/spend?from=2026-01-01&to=2026-01-04");
  REQUIRE(listed.at("rows").size() == 1);
  CHECK(listed.at("rows").at(0).at("amount") == 10.0);
  CHECK(api_post(port, "/v1/spend", "day,channel_group,amount,currency\n", Collector::kAdminToken).status == 400);
  CHECK(api_post(port, "/v1/spend?dry_run=1", good, Collector::kAdminToken).status == 400);
  CHECK(api_get(port, "/v1/spend?from=2026-01-04&to=2026-01-01", Collector::kAdminToken).status == 400);
  CHECK(api_get(port, "/v1/spend?from=yesterday", Collector::kAdminToken).status == 400);
  CHECK(api_post(port, "/v1/spend", good, Collector::kReadToken).status == 403);
  CHECK(api_get(port, "/v1/spend", Collector::kReadToken).status == 403);
  c.api->set_read_only();
  CHECK(api_post(port, "/v1/spend", good, Collector::kAdminToken).status == 421);
}
