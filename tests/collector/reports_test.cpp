// Reports over the real store and API: attribution by channel with k-anonymity and consent, CLV.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "analytics/reports.hpp"
#include "analytics/segments.hpp"
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

struct Planned {
  w::Channel channel;
  int64_t at;
  bool purchase = false;
  int64_t revenue = 0;
  bool identify = false;                  // the SDK's identify record: bookkeeping, not a touch
  const char *source = "", *medium = "";  // the campaign's
};

// One customer's events (each customer its own device slot and email), committed as one batch.
void customer(Store& store, const std::vector<Planned>& events, bool withdrawn = false) {
  Bytes slot(16);
  randombytes_buf(slot.data(), slot.size());
  Key32 email;
  randombytes_buf(email.data(), email.size());
  std::vector<StoredEvent> stored;
  for (const Planned& p : events) {
    StoredEvent e;
    e.event_id.resize(16);
    randombytes_buf(e.event_id.data(), 16);
    e.type = static_cast<uint8_t>(p.purchase   ? w::EventType::Purchase
                                  : p.identify ? w::EventType::Identify
                                               : w::EventType::Track);
    e.channel = static_cast<uint8_t>(p.channel);
    e.purpose = 1;
    e.name = p.purchase ? "purchase" : "open";
    e.occurred_ms = e.corrected_ms = p.at;
    e.slot = slot;
    e.identifiers.push_back({1, email, true});
    e.campaign_source = p.source;
    e.campaign_medium = p.medium;
    if (p.purchase) {
      e.revenue_minor = p.revenue;
      e.currency = "GBP";
    }
    stored.push_back(std::move(e));
  }
  std::vector<ConsentUpdate> consent;
  if (withdrawn) consent.push_back({slot, 1, false, 5});
  REQUIRE(commit_events(store, std::move(stored), std::move(consent)).ok());
}

}  // namespace

// Found (issue 22): last touch gave every POS purchase to POS itself, because the converting event
// counted as its own touch. The touches before it get the credit now; the old convention is an option.
TEST_CASE("attribution report: email drives POS purchases, small channels merge into other, withdrawn consent is out",
          "[analytics][reports]") {
  Collector c;
  for (int i = 0; i < 12; ++i) {  // email two days before a POS purchase
    const int64_t t = kStart + i * kDay;
    customer(*c.store, {{w::Channel::Unknown, t - 1000, false, 0, true},
                        {w::Channel::Email, t},
                        {w::Channel::Pos, t + 2 * kDay, true, 2500}});
  }
  for (int i = 0; i < 3; ++i) {  // too few SMS customers to be shown on their own
    const int64_t t = kStart + i * kDay;
    customer(*c.store, {{w::Channel::Sms, t}, {w::Channel::Pos, t + kDay, true, 1000}});
  }
  customer(*c.store, {{w::Channel::Web, kStart}, {w::Channel::Web, kStart + kDay, true, 99999}}, true);

  analytics::AttributionQuery q;
  q.from_ms = kStart;
  q.to_ms = kStart + 60 * kDay;
  for (analytics::Model m : analytics::kModels) {
    q.model = m;
    auto r = analytics::attribution_report(*c.store, q);
    REQUIRE(r.ok());
    INFO(analytics::model_name(m));
    CHECK(r.value().conversions == 15);  // the withdrawn customer's purchase is not counted
    CHECK(r.value().revenue_minor == 12 * 2500 + 3 * 1000);
    double conversions = 0, revenue = 0;
    std::map<std::string, analytics::AttributionRow> by;
    for (const auto& row : r.value().rows) {
      conversions += row.conversions;
      revenue += row.revenue_minor;
      by[row.key] = row;
    }
    CHECK(conversions == Approx(15));
    CHECK(revenue == Approx(33000));
    CHECK(by.count("Sms") == 0);
    CHECK(by.count("Web") == 0);
    CHECK(by.count("Unknown") == 0);  // identify records are not touches
    REQUIRE(by.count("other") == 1);
    CHECK(by["other"].profiles == 3);
    CHECK(by["Email"].profiles == 12);
    CHECK(by.count("Pos") == 0);  // the purchase is not its own touch
    CHECK(by["Email"].conversions == Approx(12));
  }
  q.conversion_is_touch = true;
  q.model = analytics::Model::LastTouch;
  auto with_purchase = analytics::attribution_report(*c.store, q);
  REQUIRE(with_purchase.ok());
  REQUIRE_FALSE(with_purchase.value().rows.empty());
  CHECK(with_purchase.value().rows[0].key == "Pos");  // the others touched paths but get no credit
  CHECK(with_purchase.value().rows[0].conversions == Approx(15));

  // Through the API: JSON and CSV, scope checked.
  const uint16_t port = c.server->port();
  const std::string target = "/v1/reports/attribution?model=markov&from=2026-01-01&to=2026-03-01";
  CHECK(api_get(port, target, Collector::kReadToken).status == 403);
  const Reply j = api_get(port, target, Collector::kAdminToken);
  REQUIRE(j.status == 200);
  const json body = json::parse(j.body);
  CHECK(body.at("totals").at("conversions").get<double>() == Approx(15));
  CHECK(body.at("currency") == "GBP");
  CHECK(body.at("totals").at("revenue").get<double>() == 330.0);  // major units: £330.00
  CHECK(body.at("goal") == "purchase");
  CHECK(body.at("suppressed_rows").get<int>() == 1);
  const Reply csv = api_get(port, target + "&format=csv", Collector::kAdminToken);
  REQUIRE(csv.status == 200);
  CHECK(csv.body.rfind("channel,conversions,revenue,profiles\n", 0) == 0);
  CHECK(csv.body.find("\nother,") != std::string::npos);
  CHECK(api_get(port, "/v1/reports/attribution?model=shapley", Collector::kAdminToken).status == 400);
  CHECK(api_get(port, "/v1/reports/attribution?from=2026-02-01&to=2026-01-01", Collector::kAdminToken).status == 400);
  CHECK(api_get(port, "/v1/reports/nope", Collector::kAdminToken).status == 404);
  CHECK(api_get(port, target + "&session_minutes=-1", Collector::kAdminToken).status == 400);
  // A typo is a 400 that names it, not a silently ignored parameter.
  const Reply typo = api_get(port, target + "&modle=linear", Collector::kAdminToken);
  CHECK(typo.status == 400);
  CHECK(typo.body.find("unknown parameter modle") != std::string::npos);
  CHECK(api_get(port, target + "&conversion_touch=maybe", Collector::kAdminToken).status == 400);
  CHECK(api_get(port, target + "&by=planet", Collector::kAdminToken).status == 400);
  // By channel group, and with the purchase as a touch (last touch: In-store takes every purchase).
  const Reply groups = api_get(port, target + "&by=channel_group&model=last_touch", Collector::kAdminToken);
  REQUIRE(groups.status == 200);
  CHECK(json::parse(groups.body).at("rows").at(0).at("key") == "Email");
  const Reply in_store =
      api_get(port, target + "&by=channel_group&model=last_touch&conversion_touch=include", Collector::kAdminToken);
  REQUIRE(in_store.status == 200);
  CHECK(json::parse(in_store.body).at("rows").at(0).at("key") == "In-store");
  CHECK(json::parse(in_store.body).at("rows").at(0).at("conversions").get<double>() == Approx(15));
  CHECK(body.at("privacy") == json{{"k", 10}});

  // With noise on: profile counts are released noisy and say so; conversions stay exact.
  ReportSettings settings;
  settings.privacy = {10, 1.0, {}};
  c.api->set_reports(settings);
  const Reply noisy = api_get(port, target + "&session_minutes=0", Collector::kAdminToken);
  REQUIRE(noisy.status == 200);
  const json n = json::parse(noisy.body);
  CHECK(n.at("privacy").at("noise").at("mechanism") == "laplace");
  CHECK(n.at("privacy").at("noise").at("epsilon") == 1.0);
  CHECK(n.at("totals").at("conversions").get<double>() == Approx(15));
  double credited = 0;
  for (const auto& row : n.at("rows")) credited += row.at("conversions").get<double>();
  CHECK(credited == Approx(15));
  // Asked again, or with another model over the same people, the noisy counts are the same.
  for (const char* again : {"&session_minutes=0", "&session_minutes=0&model=linear"}) {
    const json n2 = json::parse(api_get(port, target + again, Collector::kAdminToken).body);
    CHECK(n2.at("totals").at("profiles") == n.at("totals").at("profiles"));
    for (size_t i = 0; i < n.at("rows").size(); ++i) {
      for (const auto& row : n2.at("rows")) {
        if (row.at("key") == n.at("rows")[i].at("key")) CHECK(row.at("profiles") == n.at("rows")[i].at("profiles"));
      }
    }
  }
}

namespace {

// One customer on a device of `platform`: a touch on `channel`, then a sign-up on the plan (none: no
// sign-up) a day later.
void signs_up(Store& store, const std::string& platform, w::Channel channel, const std::string& plan, int64_t at) {
  Bytes slot(16);
  randombytes_buf(slot.data(), slot.size());
  std::vector<StoredEvent> events(plan.empty() ? 1 : 2);
  for (size_t i = 0; i < events.size(); ++i) {
    StoredEvent& e = events[i];
    e.event_id = ordered_event_id(static_cast<uint64_t>(at) + i);
    e.type = static_cast<uint8_t>(w::EventType::Track);
    e.channel = static_cast<uint8_t>(i == 0 ? channel : w::Channel::Web);
    e.purpose = 1;
    e.name = i == 0 ? "open" : "sign_up";
    e.occurred_ms = e.corrected_ms = at + static_cast<int64_t>(i) * kDay;
    e.slot = slot;
    if (i == 1) e.properties = json{{"plan", plan}}.dump();
  }
  REQUIRE(commit_events(store, std::move(events), {}, nullptr, 0, platform).ok());
}

}  // namespace

// Found (issue 22): a conversion was always a Purchase (a sign-up or a lead could not be the goal), and
// attribution could not be broken down by device type or by segment ("target group").
TEST_CASE("attribution report: conversion goals from config, by device type, by segment and within one",
          "[analytics][reports]") {
  Collector c;
  for (int i = 0; i < 12; ++i) signs_up(*c.store, "android", w::Channel::Email, "pro", kStart + i * kDay);
  for (int i = 0; i < 11; ++i) signs_up(*c.store, "linux", w::Channel::Push, "free", kStart + i * kDay);
  for (int i = 0; i < 10; ++i) signs_up(*c.store, "linux", w::Channel::Sms, "", kStart + i * kDay);
  ReportSettings settings;
  for (const char* spec : {"signup: event.sign_up >= 1", "pro_signup: event.sign_up >= 1 and property.plan = \"pro\""})
    settings.goals.push_back(analytics::parse_conversion_goal(spec).value());
  settings.segments.push_back(analytics::parse_rule_segment("emailed: channel.email >= 1").value());
  c.api->set_reports(settings);
  const uint16_t port = c.server->port();
  const auto report = [&](const std::string& params) {
    const Reply r = api_get(port, "/v1/reports/attribution?from=2026-01-01&to=2026-03-01&model=last_touch" + params,
                            Collector::kAdminToken);
    INFO(params << ": " << r.body);
    REQUIRE(r.status == 200);
    const json body = json::parse(r.body);
    std::map<std::string, double> rows;
    for (const auto& row : body.at("rows")) rows[row.at("key").get<std::string>()] = row.at("conversions");
    rows["(total)"] = body.at("totals").at("conversions");
    return rows;
  };
  CHECK(report("")["(total)"] == 0);  // nobody purchased
  auto all = report("&goal=signup");
  CHECK(all["(total)"] == 23);
  CHECK(all["Email"] == 12);
  CHECK(all["Push"] == 11);
  auto pro = report("&goal=pro_signup");
  CHECK(pro["(total)"] == 12);
  CHECK(pro["Email"] == 12);
  CHECK(pro.count("Push") == 0);
  auto devices = report("&goal=signup&by=device_type");
  CHECK(devices["android"] == 12);
  CHECK(devices["linux"] == 11);
  auto segments = report("&goal=signup&by=segment&model=markov");  // credited outright, whatever the model
  CHECK(segments["emailed"] == 12);
  CHECK(segments["(none)"] == 11);
  CHECK(segments["new"] == 0);  // RFM segments have no members without purchases
  auto within = report("&goal=signup&segment=emailed");
  CHECK(within["(total)"] == 12);
  CHECK(within.count("Push") == 0);

  const auto status = [&](const std::string& params) {
    return api_get(port, "/v1/reports/attribution?" + params, Collector::kAdminToken);
  };
  const Reply unknown = status("goal=lead");
  CHECK(unknown.status == 400);
  CHECK(unknown.body.find("purchase, signup, pro_signup") != std::string::npos);
  CHECK(status("segment=nobody").status == 400);
  // A goal asks of one event: no windows, no per-profile metrics.
  CHECK_FALSE(analytics::parse_conversion_goal("x: event.sign_up[7d] >= 1").ok());
  CHECK_FALSE(analytics::parse_conversion_goal("x: clv > 10").ok());
  CHECK_FALSE(analytics::parse_conversion_goal("no colon").ok());
  CHECK(analytics::parse_conversion_goal("visit: channel.pos >= 1 and not (purchases >= 1)").ok());
}

// Found in the demo (issue 22): paid search sold on the web in the ad's session, yet last touch gave it
// nothing, because the pages viewed between the ad and the order carry no campaign and counted as Direct.
TEST_CASE("attribution report: a campaign lasts its session, as web analytics count a visit's source",
          "[analytics][reports]") {
  Collector c;
  const int64_t minute = 60'000;
  for (int i = 0; i < 10; ++i) {  // from the ad, two pages, the order: all the ad's session
    const int64_t t = kStart + i * kDay;
    customer(*c.store, {{w::Channel::Web, t, false, 0, false, "google", "cpc"},
                        {w::Channel::Web, t + 5 * minute},
                        {w::Channel::Web, t + 20 * minute},
                        {w::Channel::Web, t + 30 * minute, true, 1000}});
  }
  for (int i = 0; i < 10; ++i) {  // the ad, then a visit of their own hours later, and the order then
    const int64_t t = kStart + i * kDay;
    customer(*c.store, {{w::Channel::Web, t, false, 0, false, "google", "cpc"},
                        {w::Channel::Web, t + 3 * 60 * minute},
                        {w::Channel::Web, t + 3 * 60 * minute + 5 * minute, true, 1000}});
  }
  for (int i = 0; i < 10; ++i) {  // the ad in the app, then the web: another channel, another session
    const int64_t t = kStart + i * kDay;
    customer(*c.store, {{w::Channel::App, t, false, 0, false, "google", "cpc"},
                        {w::Channel::Web, t + minute},
                        {w::Channel::Web, t + 2 * minute, true, 1000}});
  }
  analytics::AttributionQuery q;
  q.from_ms = kStart;
  q.to_ms = kStart + 60 * kDay;
  q.model = analytics::Model::LastTouch;
  q.by = analytics::AttributeBy::ChannelGroup;
  const auto credit = [&] {
    auto r = analytics::attribution_report(*c.store, q);
    REQUIRE(r.ok());
    std::map<std::string, double> by;
    for (const auto& row : r.value().rows) by[row.key] = row.conversions;
    return by;
  };
  auto by = credit();
  CHECK(by["Paid Search"] == 10);
  CHECK(by["Direct"] == 20);
  q.session_gap_ms = 0;  // no sessions: every page is a touch of its own, in no campaign
  by = credit();
  CHECK(by["Paid Search"] == 0);
  CHECK(by["Direct"] == 30);
}

TEST_CASE("totals report: the stored events, counted, scope checked", "[analytics][reports]") {
  Collector c;
  const uint16_t port = c.server->port();
  const auto events = [&] {
    const Reply r = api_get(port, "/v1/reports/totals", Collector::kAdminToken);
    REQUIRE(r.status == 200);
    return json::parse(r.body).at("events").get<int64_t>();
  };
  CHECK(events() == 0);
  customer(*c.store, {{w::Channel::Email, kStart}, {w::Channel::Pos, kStart + kDay, true, 2500}});
  customer(*c.store, {{w::Channel::Web, kStart}});
  CHECK(events() == 3);
  CHECK(api_get(port, "/v1/reports/totals", Collector::kReadToken).status == 403);
  CHECK(api_get(port, "/v1/reports/totals?from=2026-01-01", Collector::kAdminToken).status == 400);
}

TEST_CASE("CLV report: repeat buyers fitted, the best customers listed first", "[analytics][reports][store]") {
  Collector c;
  std::mt19937 rng(5);
  for (int i = 0; i < 300; ++i) {
    std::vector<Planned> events;
    const int64_t first = kStart + static_cast<int64_t>(rng() % 60) * kDay;
    const int purchases = 1 + static_cast<int>(rng() % 6);
    for (int p = 0; p < purchases; ++p) {
      events.push_back({w::Channel::Pos, first + p * static_cast<int64_t>(1 + rng() % 20) * kDay, true,
                        1000 + static_cast<int64_t>(rng() % 5000)});
    }
    customer(*c.store, events);
  }
  analytics::ClvQuery q;
  q.as_of_day = (kStart + 200 * kDay) / kDay;
  auto r = analytics::clv_report(*c.store, q);
  REQUIRE(r.ok());
  CHECK(r.value().customers == 300);
  REQUIRE(r.value().bgnbd);
  REQUIRE(r.value().gamma_gamma);
  INFO(r.value().no_forecast << " r=" << r.value().bgnbd->r << " alpha=" << r.value().bgnbd->alpha
                             << " a=" << r.value().bgnbd->a << " b=" << r.value().bgnbd->b
                             << " ll=" << r.value().bgnbd->log_likelihood);
  REQUIRE(r.value().no_forecast.empty());
  CHECK(r.value().bgnbd->check.converged);
  const auto& ranked = r.value().ranked;  // every customer
  REQUIRE(ranked.size() == 300);
  double clv = 0, expected = 0;
  for (size_t i = 0; i < ranked.size(); ++i) {
    const auto& t = ranked[i];
    if (i > 0) CHECK(ranked[i - 1].clv_minor >= t.clv_minor);
    CHECK(t.predicted);
    CHECK(t.p_alive > 0);
    CHECK(t.p_alive <= 1);
    CHECK(t.clv_minor > 0);
    clv += t.clv_minor;
    expected += t.expected_purchases;
  }
  CHECK(r.value().clv_minor == Approx(clv));
  CHECK(r.value().expected_purchases == Approx(expected));

  // The API: the top five, money in pounds rounded to the penny; every customer, paged by profile id.
  const Reply top = api_get(c.server->port(), "/v1/reports/clv?as_of=2026-07-20&top=5", Collector::kAdminToken);
  REQUIRE(top.status == 200);
  const json j = json::parse(top.body);
  CHECK(j.at("forecast") == true);
  CHECK(j.at("bgnbd").at("fit").at("converged") == true);
  REQUIRE(j.at("top").size() == 5);
  const double best = j.at("top")[0].at("clv").get<double>();
  CHECK(std::round(best * 100) == Approx(best * 100).margin(1e-6));
  std::set<int64_t> seen;
  double paged_clv = 0;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    const Reply p =
        api_get(c.server->port(),
                "/v1/reports/clv/customers?as_of=2026-07-20&limit=120" + (after.empty() ? "" : "&after=" + after),
                Collector::kAdminToken);
    REQUIRE(p.status == 200);
    const json pj = json::parse(p.body);
    int64_t last = 0;
    for (const auto& row : pj.at("profiles")) {
      CHECK(row.at("profile_id").get<int64_t>() > last);  // in profile order
      last = row.at("profile_id").get<int64_t>();
      CHECK(seen.insert(last).second);
      paged_clv += row.at("clv").get<double>();
    }
    if (!pj.contains("next")) {
      CHECK(pj.at("totals").at("clv").get<double>() == Approx(paged_clv).margin(300 * 0.005));
      break;
    }
    after = pj.at("next").get<std::string>();
  }
  CHECK(seen.size() == 300);
  CHECK(api_get(c.server->port(), "/v1/reports/clv/customers?top=5", Collector::kAdminToken).status == 400);
}

TEST_CASE("CLV report: customer quality by acquisition channel, small groups merged into other",
          "[analytics][reports][store]") {
  Collector c;
  std::mt19937 rng(9);
  // Customers first reached by email spend four times what those first reached by SMS spend; five
  // first reached by push are too few to show on their own.
  const auto shopper = [&](w::Channel first, int64_t spend) {
    const int64_t start = kStart + static_cast<int64_t>(rng() % 40) * kDay;
    std::vector<Planned> events = {{first, start}};
    const int purchases = 2 + static_cast<int>(rng() % 5);
    for (int p = 0; p < purchases; ++p) {
      events.push_back({w::Channel::Pos, start + (p + 1) * static_cast<int64_t>(3 + rng() % 15) * kDay, true,
                        spend + static_cast<int64_t>(rng() % 500)});
    }
    customer(*c.store, events);
  };
  for (int i = 0; i < 40; ++i) shopper(w::Channel::Email, 8000);
  for (int i = 0; i < 40; ++i) shopper(w::Channel::Sms, 2000);
  for (int i = 0; i < 5; ++i) shopper(w::Channel::Push, 5000);
  const Reply r = api_get(c.server->port(), "/v1/reports/clv?as_of=2026-06-30&top=0", Collector::kAdminToken);
  REQUIRE(r.status == 200);
  const json j = json::parse(r.body);
  REQUIRE(j.at("forecast") == true);
  const json& groups = j.at("by_acquisition");
  REQUIRE(groups.size() == 3);
  CHECK(groups[0].at("channel_group") == "Email");
  CHECK(groups[0].at("customers") == 40);
  CHECK(groups[1].at("channel_group") == "SMS");
  CHECK(groups[1].at("customers") == 40);
  CHECK(groups[2].at("channel_group") == "other");  // the five push customers
  CHECK(groups[2].at("customers") == 5);
  CHECK(groups[0].at("mean_clv").get<double>() > 2.5 * groups[1].at("mean_clv").get<double>());
  CHECK(groups[0].at("median_clv").get<double>() > 2.5 * groups[1].at("median_clv").get<double>());
}

// Found (issue 22): `as_of` was an instant, so as_of=1997-09-30 (00:00 UTC) dropped that day's
// purchases, and days were UTC days. Now it is the brand's calendar day, end of day included.
TEST_CASE(
    "CLV report: CDNOW stamped at noon in the brand's time zone, as of its calibration end, gives the "
    "published fit",
    "[analytics][reports][store]") {
  Collector c;
  const auto calendar = analytics::Calendar::in_zone("Pacific/Kiritimati");  // UTC+14: noon is 22:00 UTC the day before
  REQUIRE(calendar.ok());
  ReportSettings settings;
  settings.calendar = calendar.value();
  c.api->set_reports(settings);
  std::ifstream in(std::string(WAYMARK_TEST_DATA) + "/cdnow/CDNOW_sample.txt");
  REQUIRE(in);
  std::map<std::string, std::vector<Planned>> by_customer;
  std::string master, id, date;
  int cds = 0;
  double dollars = 0;
  while (in >> master >> id >> date >> cds >> dollars) {
    const auto day =
        analytics::Calendar::parse_day(date.substr(0, 4) + "-" + date.substr(4, 2) + "-" + date.substr(6, 2));
    REQUIRE(day);
    const int64_t noon = calendar.value().day_start_ms(*day) + 12 * 3600 * 1000;
    by_customer[id].push_back({w::Channel::Web, noon, true, std::llround(dollars * 100)});
  }
  REQUIRE(by_customer.size() == 2357);
  for (const auto& [customer_id, purchases] : by_customer) customer(*c.store, purchases);
  const Reply r = api_get(c.server->port(), "/v1/reports/clv?as_of=1997-09-30&top=1", Collector::kAdminToken);
  REQUIRE(r.status == 200);
  const json j = json::parse(r.body);
  CHECK(j.at("as_of") == "1997-09-30");
  CHECK(j.at("time_zone") == "Pacific/Kiritimati");
  CHECK(j.at("customers") == 2357);
  CHECK(j.at("forecast") == true);
  const json& bg = j.at("bgnbd");
  CHECK(bg.at("r").get<double>() == Approx(0.243).epsilon(0.01));
  CHECK(bg.at("alpha").get<double>() == Approx(4.414).epsilon(0.01));
  CHECK(bg.at("a").get<double>() == Approx(0.793).epsilon(0.01));
  CHECK(bg.at("b").get<double>() == Approx(2.426).epsilon(0.01));
  CHECK(bg.at("log_likelihood").get<double>() == Approx(-9582.429).margin(0.01));
  const json& gg = j.at("gamma_gamma");  // fitted in cents
  CHECK(gg.at("p").get<double>() == Approx(6.25).epsilon(0.01));
  CHECK(gg.at("q").get<double>() == Approx(3.74).epsilon(0.01));
  CHECK(gg.at("v").get<double>() / 100 == Approx(15.44).epsilon(0.01));
  // The same purchases in UTC days: each lands on the day before, and the calendar ends a day later
  // for everyone, so the fit moves.
  settings.calendar = analytics::Calendar();
  c.api->set_reports(settings);
  const json utc =
      json::parse(api_get(c.server->port(), "/v1/reports/clv?as_of=1997-09-30&top=1", Collector::kAdminToken).body);
  CHECK(utc.at("bgnbd").at("log_likelihood").get<double>() != Approx(-9582.429).margin(0.01));
}

// Found (issue 22): a fit that could not tell anything about churn was reported as a forecast.
TEST_CASE("CLV report: a fit that is no forecast says why, and predicts nothing", "[analytics][reports][store]") {
  Collector c;
  for (int i = 0; i < 50; ++i) customer(*c.store, {{w::Channel::Pos, kStart + i * kDay, true, 2500}});  // once each
  const Reply r = api_get(c.server->port(), "/v1/reports/clv?as_of=2026-07-20", Collector::kAdminToken);
  REQUIRE(r.status == 200);
  const json j = json::parse(r.body);
  CHECK(j.at("forecast") == false);
  CHECK(j.at("no_forecast") == "BG/NBD: no customer bought more than once, so nothing shows when customers stop");
  CHECK(j.at("totals").at("historic").get<double>() == Approx(50 * 25.0));
  CHECK(j.at("totals").at("clv").is_null());
  REQUIRE(j.at("top").size() == 20);
  for (const auto& t : j.at("top")) {
    CHECK(t.at("historic").get<double>() == Approx(25.0));
    CHECK(t.at("p_alive").is_null());
    CHECK(t.at("clv").is_null());
  }
}

TEST_CASE("RFM: quintile scores with ties, named segments, and the segments API", "[analytics][reports][store]") {
  std::vector<analytics::RfmInput> in;
  for (int i = 0; i < 10; ++i)
    in.push_back({i + 1, static_cast<double>(10 * i), static_cast<double>(i + 1), 100.0 * (i + 1)});
  in.push_back({11, 5, 3, 100.0});  // ties customer 1 on spend: same M score
  const auto scores = analytics::rfm_scores(in);
  std::map<int64_t, analytics::RfmScore> by;
  for (const auto& s : scores) by[s.input.profile] = s;
  CHECK(by[1].r == 5);  // most recent
  CHECK(by[10].r == 1);
  CHECK(by[10].f == 5);
  CHECK(by[1].f == 1);
  CHECK(by[11].m == by[1].m);
  for (const auto& s : scores) {
    CHECK(s.r >= 1);
    CHECK(s.r <= 5);
  }
  const auto segments = analytics::rfm_segments(scores);
  CHECK(std::count(segments.at("big_spenders").begin(), segments.at("big_spenders").end(), 10) == 1);
  CHECK(std::count(segments.at("new").begin(), segments.at("new").end(), 1) == 1);           // one recent purchase
  CHECK(std::count(segments.at("at_risk").begin(), segments.at("at_risk").end(), 10) == 1);  // long gone, was frequent

  Collector c;
  for (int i = 0; i < 25; ++i) {
    std::vector<Planned> events;
    for (int p = 0; p <= i % 5; ++p)
      events.push_back({w::Channel::Pos, kStart + (i + p * 7) * kDay, true, 500 * (i + 1)});
    customer(*c.store, events);
  }
  const uint16_t port = c.server->port();
  CHECK(api_get(port, "/v1/segments", Collector::kReadToken).status == 403);
  const Reply list = api_get(port, "/v1/segments?as_of=2026-04-01", Collector::kAdminToken);
  REQUIRE(list.status == 200);
  const json l = json::parse(list.body);
  CHECK(l.at("customers") == 25);
  CHECK(l.at("segments").size() == 5);
  // Page through big spenders two at a time: every member once, ascending.
  std::vector<int64_t> members;
  std::string after;
  int64_t size = 0;
  do {
    const Reply page =
        api_get(port, "/v1/segments/big_spenders?as_of=2026-04-01&limit=2" + (after.empty() ? "" : "&after=" + after),
                Collector::kAdminToken);
    REQUIRE(page.status == 200);
    const json p = json::parse(page.body);
    size = p.at("size").get<int64_t>();
    for (const auto& id : p.at("profiles")) members.push_back(id.get<int64_t>());
    after = p.value("next", "");
  } while (!after.empty());
  CHECK(static_cast<int64_t>(members.size()) == size);
  CHECK(size >= 5);
  CHECK(std::is_sorted(members.begin(), members.end()));
  CHECK(api_get(port, "/v1/segments/whales", Collector::kAdminToken).status == 404);
  CHECK(api_get(port, "/v1/segments/loyal?limit=0", Collector::kAdminToken).status == 400);
}
