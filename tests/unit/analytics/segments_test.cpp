// Rule segments (parser, evaluation over a real store, the API listing) and Laplace noise on
// released counts.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <set>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "analytics/reports.hpp"
#include "analytics/segments.hpp"
#include "api/query_api.hpp"
#include "support/collector_fixture.hpp"
#include "support/direct_store.hpp"
#include "support/http_client.hpp"
#include "waymark/wire/v1/event_generated.h"

using namespace waymark::collector;
using waymark::test::commit_events;
namespace w = waymark::wire::v1;
using nlohmann::json;

namespace {

constexpr int64_t kDay = 24LL * 3600 * 1000;
constexpr int64_t kNow = 1'775'001'600'000;  // 2026-04-01

struct Touch {
  Touch(w::Channel c, int64_t days, std::string n = "open", int64_t rev = 0, std::string source = "",
        bool sdk_identify = false)
      : channel(c),
        days_ago(days),
        name(std::move(n)),
        revenue(rev),
        campaign_source(std::move(source)),
        identify(sdk_identify) {}
  w::Channel channel;
  int64_t days_ago;
  std::string name;
  int64_t revenue;  // > 0: a purchase
  std::string campaign_source;
  bool identify;  // the SDK's identify record: not something the customer did
};

// One customer (their own slot and email), committed as one batch.
void customer(Store& store, const std::vector<Touch>& touches) {
  Bytes slot(16);
  randombytes_buf(slot.data(), slot.size());
  Key32 email;
  randombytes_buf(email.data(), email.size());
  std::vector<StoredEvent> events;
  for (const Touch& t : touches) {
    StoredEvent e;
    e.event_id.resize(16);
    randombytes_buf(e.event_id.data(), 16);
    e.type = static_cast<uint8_t>(t.revenue > 0 ? w::EventType::Purchase
                                  : t.identify  ? w::EventType::Identify
                                                : w::EventType::Track);
    e.channel = static_cast<uint8_t>(t.channel);
    e.purpose = 1;
    e.name = t.name;
    e.occurred_ms = e.corrected_ms = kNow - t.days_ago * kDay;
    e.slot = slot;
    e.identifiers.push_back({1, email, true});
    if (t.revenue > 0) {
      e.revenue_minor = t.revenue;
      e.currency = "EUR";
    }
    e.campaign_source = t.campaign_source;
    events.push_back(std::move(e));
  }
  REQUIRE(commit_events(store, std::move(events)).ok());
}

analytics::RuleSegment rule(const std::string& spec) {
  auto r = analytics::parse_rule_segment(spec);
  INFO(spec << ": " << r.status().message);
  REQUIRE(r.ok());
  return r.value();
}

std::string parse_error(const std::string& spec) {
  auto r = analytics::parse_rule_segment(spec);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code == Errc::invalid);
  return r.status().message;
}

}  // namespace

TEST_CASE("rule segments: bad specs are refused with what and where", "[analytics][segments]") {
  using Catch::Matchers::Contains;
  CHECK_THAT(parse_error("no colon here"), Contains("name: expression"));
  CHECK_THAT(parse_error("Big Ones: events > 1"), Contains("a-z, 0-9"));
  CHECK_THAT(parse_error("loyal: events > 1"), Contains("RFM"));
  CHECK_THAT(parse_error("x: clicks > 1"), Contains("unknown metric 'clicks'") && Contains("character 1"));
  CHECK_THAT(parse_error("x: channel.fax >= 1"), Contains("unknown channel 'fax'"));
  CHECK_THAT(parse_error("x: events >"), Contains("expected a number"));
  CHECK_THAT(parse_error("x: events 3"), Contains("expected a comparison"));
  CHECK_THAT(parse_error("x: (events > 1"), Contains("expected ')'"));
  CHECK_THAT(parse_error("x: events > 1 purchases > 2"), Contains("unexpected 'purchases"));
  CHECK_THAT(parse_error("x: r[30d] > 1"), Contains("counts and revenue only"));
  CHECK_THAT(parse_error("x: events[0d] > 1"), Contains("[Nd]"));
  CHECK_THAT(parse_error("x: event.\"open > 1"), Contains("unterminated"));
  CHECK_THAT(parse_error("x: "), Contains("expected a metric"));
  // Deep nesting is refused, not a stack overflow (a fuzz_segment_rule find).
  CHECK_THAT(parse_error("x: " + std::string(100000, '(') + "events > 1"), Contains("nested deeper than 32"));
  std::string nots;
  for (int i = 0; i < 10000; ++i) nots += "not ";
  CHECK_THAT(parse_error("x: " + nots + "events > 1"), Contains("nested deeper than 32"));
  CHECK(rule("x: " + std::string(31, '(') + "events > 1" + std::string(31, ')')).name == "x");
  const auto ok = rule("  spaced-name_1 :  channel.POS[90d] >= 3 and not (f >= 4) or event.\"viewed product\" = 2");
  CHECK(ok.name == "spaced-name_1");
  CHECK(ok.expression == "channel.POS[90d] >= 3 and not (f >= 4) or event.\"viewed product\" = 2");
}

TEST_CASE("rule segments: every metric, windows, precedence, over a real store and the API", "[analytics][segments]") {
  waymark::test::Collector c;
  Store& store = *c.store;
  // Profiles are numbered in commit order, 1..7.
  customer(store, {{w::Channel::Pos, 100, "sale", 2000},
                   {w::Channel::Pos, 50, "sale", 3000},
                   {w::Channel::Pos, 5, "sale", 1000}});                                              // 1: POS regular
  customer(store, {{w::Channel::App, 2, "viewed product"}, {w::Channel::App, 1, "viewed product"}});  // 2: browser
  customer(store, {{w::Channel::Email, 40, "open", 0, "newsletter"}, {w::Channel::Web, 39, "sale", 9000}});  // 3
  customer(store, {{w::Channel::Kiosk, 200, "open"}});                                             // 4: long gone
  customer(store, {{w::Channel::App, 20, "viewed product"}, {w::Channel::Pos, 19, "sale", 500}});  // 5
  customer(store, {{w::Channel::Sms, 3, "open", 0, "spring-sale"}});
  customer(store, {{w::Channel::App, 100}, {w::Channel::Kiosk, 1, "scan", 0, "", true}});  // 7: a card scan only // 6
  const std::vector<analytics::RuleSegment> rules = {
      rule("pos_regulars: channel.pos >= 3"),
      rule("pos_recent: channel.pos[30d] >= 1"),
      rule("browsers: event.\"viewed product\" >= 2 and purchases = 0"),
      rule("newsletter_or_big: campaign.newsletter >= 1 or revenue >= 60"),
      rule("lapsed: days_since_last_event > 90"),
      rule("recent_buyers: days_since_last_purchase <= 30"),
      rule("never_bought: days_since_last_purchase > 100000"),
      rule("precedence: channel.kiosk >= 1 or channel.sms >= 1 and events > 5"),
      rule("grouped: (channel.kiosk >= 1 or channel.sms >= 1) and events > 5"),
      rule("spend_window: revenue[60d] > 30"),
      rule("top_spend: m = 5 and not (r < 1)"),
      rule("everyone: events >= 1"),
  };
  auto set = analytics::compute_segments(store, kNow, "", rules);
  REQUIRE(set.ok());
  const auto members = [&](const std::string& name) {
    const auto& v = set.value().members.at(name);
    return std::set<int64_t>(v.begin(), v.end());
  };
  CHECK(members("pos_regulars") == std::set<int64_t>{1});
  CHECK(members("pos_recent") == std::set<int64_t>{1, 5});
  CHECK(members("browsers") == std::set<int64_t>{2});
  CHECK(members("newsletter_or_big") == std::set<int64_t>{1, 3});  // 1 spent 6000 in total
  CHECK(members("lapsed") == std::set<int64_t>{4, 7});             // 7's scan is the SDK's identify record
  CHECK(members("recent_buyers") == std::set<int64_t>{1, 5});
  CHECK(members("never_bought") == std::set<int64_t>{2, 4, 6, 7});
  CHECK(members("precedence") == std::set<int64_t>{4});  // and binds tighter than or; 7's kiosk event is bookkeeping
  CHECK(members("grouped").empty());
  CHECK(members("spend_window") == std::set<int64_t>{1, 3});  // 1: 3000 + 1000 in 60 days; 3: 9000
  CHECK(members("everyone") == std::set<int64_t>{1, 2, 3, 4, 5, 6, 7});
  CHECK(set.value().customers == 3);  // purchasers 1, 3 and 5 are RFM-scored
  CHECK(members("top_spend") == members("big_spenders"));
  CHECK(set.value().rules.at("lapsed") == "days_since_last_event > 90");

  // The API lists rule segments with their rules beside the RFM ones, and pages their members.
  ReportSettings settings;
  settings.segments = rules;
  c.api->set_reports(settings);
  const uint16_t port = c.server->port();
  const auto list = waymark::test::api_get(port, "/v1/segments?as_of=" + std::to_string(kNow), c.kAdminToken);
  REQUIRE(list.status == 200);
  std::map<std::string, json> by_name;
  const json listed = json::parse(list.body);
  for (const auto& s : listed.at("segments")) by_name[s.at("name")] = s;
  CHECK(by_name.size() == 5 + rules.size());
  CHECK(by_name.at("lapsed").at("kind") == "rule");
  CHECK(by_name.at("lapsed").at("rule") == "days_since_last_event > 90");
  CHECK(by_name.at("loyal").at("kind") == "rfm");
  CHECK(by_name.at("everyone").at("size") == 7);
  const auto page =
      waymark::test::api_get(port, "/v1/segments/pos_recent?as_of=" + std::to_string(kNow), c.kAdminToken);
  REQUIRE(page.status == 200);
  CHECK(json::parse(page.body).at("profiles") == json::array({1, 5}));
}

TEST_CASE("rule segments on the lifetime-value forecast: clv, p_alive and expected_purchases",
          "[analytics][segments]") {
  waymark::test::Collector c;
  Store& store = *c.store;
  // 60 customers still buying every fortnight; 60 who bought three times early on and stopped.
  for (int i = 0; i < 60; ++i) {
    std::vector<Touch> active, gone;
    for (int64_t d = 180 - i % 7; d > 0; d -= 14) active.emplace_back(w::Channel::Pos, d, "sale", 2000 + 10 * i);
    for (int64_t d : {300 - i, 290 - i, 280 - i}) gone.emplace_back(w::Channel::Pos, d, "sale", 2000 + 10 * i);
    customer(store, active);
    customer(store, gone);
  }
  const std::vector<analytics::RuleSegment> rules = {rule("about_to_churn: p_alive < 0.3"),
                                                     rule("future_spenders: clv >= 100"),
                                                     rule("busy: expected_purchases > 5 and not (p_alive < 0.3)")};
  auto set = analytics::compute_segments(store, kNow, "", rules);
  REQUIRE(set.ok());
  // Exactly the report's own predictions, as of the same day, CLV in pounds.
  analytics::ClvQuery q;
  q.as_of_day = analytics::Calendar().day_of(kNow);
  auto report = analytics::clv_report(store, q);
  REQUIRE(report.ok());
  const auto& bg = *report.value().bgnbd;
  INFO(report.value().no_forecast << ": r " << bg.r << " alpha " << bg.alpha << " a " << bg.a << " b " << bg.b);
  REQUIRE(report.value().no_forecast.empty());
  std::set<int64_t> churning, spenders, busy;
  for (const auto& r : report.value().ranked) {
    if (r.p_alive < 0.3) churning.insert(r.profile);
    if (r.clv_minor / 100 >= 100) spenders.insert(r.profile);
    if (r.expected_purchases > 5 && r.p_alive >= 0.3) busy.insert(r.profile);
  }
  const auto members = [&](const std::string& name) {
    const auto& v = set.value().members.at(name);
    return std::set<int64_t>(v.begin(), v.end());
  };
  CHECK(members("about_to_churn") == churning);
  CHECK(members("future_spenders") == spenders);
  CHECK(members("busy") == busy);
  // And they mean something here: the lapsed customers (even profile ids) are the ones about to churn.
  CHECK(churning.size() >= 50);
  CHECK(std::all_of(churning.begin(), churning.end(), [](int64_t p) { return p % 2 == 0; }));
  CHECK(std::none_of(spenders.begin(), spenders.end(), [](int64_t p) { return p % 2 == 0; }));
  const auto windowed = analytics::parse_rule_segment("x: clv[30d] > 1");
  REQUIRE_FALSE(windowed.ok());
}

TEST_CASE("Laplace noise on released counts: unbiased, scale 1/epsilon, never negative", "[analytics][privacy]") {
  REQUIRE(sodium_init() >= 0);
  ReportPrivacy off{10, 0, {}};
  CHECK(released_count(42, off, "s") == 42);  // off by default
  const double epsilon = 0.5;
  ReportPrivacy on{10, epsilon, {}};
  randombytes_buf(on.noise_key.data(), on.noise_key.size());
  const int n = 20000;
  double sum = 0, abs_dev = 0;
  for (int i = 0; i < n; ++i) {  // many statistics of one true value: independent draws
    const int64_t v = released_count(1000, on, "segment.size.s" + std::to_string(i));
    sum += static_cast<double>(v);
    abs_dev += std::fabs(static_cast<double>(v) - 1000);
  }
  // Mean 1000 (standard error ~0.02); mean absolute deviation 1/epsilon = 2 (rounding adds a
  // little), with a tolerance of many standard errors.
  CHECK(std::fabs(sum / n - 1000) < 0.15);
  CHECK(abs_dev / n == Approx(1 / epsilon).epsilon(0.08));
  for (int i = 0; i < 1000; ++i) CHECK(released_count(0, on, std::to_string(i)) >= 0);
}

// Found (issue 22): noise was drawn afresh on every request, so asking the same question 1,000 times and
// averaging gave the true count back. The same statistic with the same true value is now always released
// with the same noise, whatever the query around it; only a different count or key draws anew.
TEST_CASE("repeating a query averages no noise away", "[analytics][privacy]") {
  ReportPrivacy on{10, 0.1, {}};
  randombytes_buf(on.noise_key.data(), on.noise_key.size());
  const int64_t first = released_count(1000, on, "segment.size.vip");
  double sum = 0;
  for (int i = 0; i < 1000; ++i) {
    const int64_t again = released_count(1000, on, "segment.size.vip");
    CHECK(again == first);
    sum += static_cast<double>(again);
  }
  CHECK(sum / 1000 == static_cast<double>(first));  // the average is the first answer, noise and all
  int differ = 0;
  ReportPrivacy other = on;
  other.noise_key[0] ^= 1;
  for (int64_t count = 1000; count < 1020; ++count) {
    differ += released_count(count, on, "segment.size.vip") != released_count(count, other, "segment.size.vip");
  }
  CHECK(differ >= 15);  // another collector's key draws other noise (equal by chance at most a few times)
}
