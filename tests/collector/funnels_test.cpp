// Funnels and top paths over the real store and API: steps in sequence, strictly or in any order, within
// a window, drop-off and time per step, the entry's channel group, and the journeys that convert.
#include <catch2/catch.hpp>

#include <map>

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

constexpr int64_t kHour = 3600 * 1000, kDay = 24 * kHour;
constexpr int64_t kStart = 1'767'225'600'000;  // 2026-01-01

// One customer's actions on one channel: (event name, hours after `at`); "purchase" is a Purchase.
void actions(Store& store, w::Channel channel, int64_t at, const std::vector<std::pair<std::string, double>>& steps) {
  Bytes slot(16);
  randombytes_buf(slot.data(), slot.size());
  std::vector<StoredEvent> events;
  for (const auto& [name, hours] : steps) {
    StoredEvent e;
    e.event_id = ordered_event_id(static_cast<uint64_t>(at) + events.size());
    e.type = static_cast<uint8_t>(name == "purchase" ? w::EventType::Purchase : w::EventType::Track);
    e.channel = static_cast<uint8_t>(channel);
    e.purpose = 1;
    e.name = name;
    e.occurred_ms = e.corrected_ms = at + static_cast<int64_t>(hours * kHour);
    e.slot = slot;
    if (name == "purchase") {
      e.revenue_minor = 2500;
      e.currency = "GBP";
    }
    events.push_back(std::move(e));
  }
  REQUIRE(commit_events(store, std::move(events)).ok());
}

struct Brand {
  Collector c;
  Brand() {
    for (int i = 0; i < 12; ++i)  // emailed: view, cart an hour later, purchase two hours after that
      actions(*c.store, w::Channel::Email, kStart + i * kDay, {{"viewed product", 0}, {"cart", 1}, {"purchase", 3}});
    for (int i = 0; i < 11; ++i)  // direct visitors: view, cart, gone
      actions(*c.store, w::Channel::Web, kStart + i * kDay, {{"viewed product", 0}, {"cart", 2}});
    for (int i = 0; i < 10; ++i)  // app users: view, a search, a purchase without a cart
      actions(*c.store, w::Channel::App, kStart + i * kDay, {{"viewed product", 0}, {"search", 1}, {"purchase", 2}});
    for (int i = 0; i < 5; ++i)  // cart first, then view and buy
      actions(*c.store, w::Channel::Web, kStart + i * kDay, {{"cart", 0}, {"viewed product", 1}, {"purchase", 2}});
    // A purchase ten days after the view: outside a 7-day funnel.
    actions(*c.store, w::Channel::Kiosk, kStart, {{"viewed product", 0}, {"cart", 1}, {"purchase", 240}});
  }
  json get(const std::string& target) {
    const Reply r = api_get(c.server->port(), target, Collector::kAdminToken);
    INFO(target << ": " << r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
};

std::vector<int64_t> customers(const json& steps) {
  std::vector<int64_t> out;
  for (const auto& s : steps) out.push_back(s.at("customers").get<int64_t>());
  return out;
}

}  // namespace

// Found (issue 22): there was no funnel, no drop-off per step and no way to see where customers stop.
TEST_CASE("funnel: in sequence, strictly, in any order, with drop-off, time and the entry's channel group",
          "[analytics][funnels]") {
  Brand b;
  const std::string base = "/v1/reports/funnel?from=2026-01-01&to=2026-02-01&steps=viewed%20product,cart,purchase";
  const json seq = b.get(base);
  CHECK(customers(seq.at("steps")) == std::vector<int64_t>{39, 24, 12});
  CHECK(seq.at("steps")[1].at("dropped") == 15);
  CHECK(seq.at("steps")[2].at("conversion_from_previous").get<double>() == Approx(12.0 / 24));
  CHECK(seq.at("steps")[2].at("conversion_from_entry").get<double>() == Approx(12.0 / 39));
  CHECK(seq.at("steps")[0].at("step") == "viewed product");
  std::map<std::string, json> group;
  for (const auto& g : seq.at("by_channel_group")) group[g.at("channel_group").get<std::string>()] = g.at("steps");
  CHECK(customers(group.at("Email")) == std::vector<int64_t>{12, 12, 12});
  CHECK(group.at("Email")[1].at("median_hours_from_entry") == 1.0);
  CHECK(group.at("Email")[2].at("median_hours_from_entry") == 3.0);
  CHECK(customers(group.at("Direct")) == std::vector<int64_t>{16, 11, 0});
  CHECK(group.at("Direct")[2].at("median_hours_from_entry").is_null());
  CHECK(customers(group.at("App")) == std::vector<int64_t>{10, 0, 0});
  CHECK(customers(group.at("other")) == std::vector<int64_t>{1, 1, 0});  // the kiosk customer: under k
  CHECK(seq.at("suppressed_groups") == 1);

  CHECK(customers(b.get(base + "&order=strict").at("steps")) == std::vector<int64_t>{39, 24, 12});
  CHECK(customers(b.get("/v1/reports/funnel?from=2026-01-01&to=2026-02-01&order=strict&steps=viewed%20product,"
                        "purchase")
                      .at("steps")) == std::vector<int64_t>{39, 5});  // the app's search stands between
  // Any order: the five who put something in the cart before viewing count too.
  CHECK(customers(b.get(base + "&order=any").at("steps")) == std::vector<int64_t>{39, 29, 17});
  // Ten days to buy: inside a 14-day window.
  CHECK(customers(b.get(base + "&within_days=14").at("steps")) == std::vector<int64_t>{39, 24, 13});

  const auto status = [&](const std::string& target) {
    return api_get(b.c.server->port(), target, Collector::kAdminToken).status;
  };
  CHECK(status("/v1/reports/funnel") == 400);  // no steps
  CHECK(status("/v1/reports/funnel?steps=a,,b") == 400);
  CHECK(status("/v1/reports/funnel?steps=a,b,c,d,e,f,g,h,i,j,k") == 400);
  CHECK(status("/v1/reports/funnel?steps=a&order=random") == 400);
  CHECK(status("/v1/reports/funnel?steps=a&model=markov") == 400);
  CHECK(api_get(b.c.server->port(), "/v1/reports/funnel?steps=a", Collector::kReadToken).status == 403);
}

TEST_CASE("top paths: the channel-group journeys to a conversion, with their conversion rates",
          "[analytics][funnels]") {
  Brand b;
  const json paths = b.get("/v1/reports/paths?from=2026-01-01&to=2026-02-01");
  CHECK(paths.at("goal") == "purchase");
  CHECK(paths.at("totals").at("conversions") == 28);  // the ten-day purchase is in the window too
  std::map<std::string, json> row;
  for (const auto& p : paths.at("paths")) row[p.at("sequence").get<std::string>()] = p;
  CHECK(row.at("Email").at("conversions") == 12);
  CHECK(row.at("Email").at("conversion_rate") == 1.0);
  CHECK(row.at("App").at("conversions") == 10);
  CHECK(row.at("Direct").at("conversions") == 5);  // five bought, eleven stopped
  CHECK(row.at("Direct").at("conversion_rate").get<double>() == Approx(5.0 / 16));
  CHECK(row.count("In-store") == 0);  // one customer: under k
  CHECK(paths.at("suppressed_paths") == 1);
  CHECK(b.get("/v1/reports/paths?from=2026-01-01&to=2026-02-01&top=1").at("paths").size() == 1);
  CHECK(api_get(b.c.server->port(), "/v1/reports/paths?by=channel", Collector::kAdminToken).status == 400);
}
