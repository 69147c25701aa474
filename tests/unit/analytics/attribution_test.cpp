// Attribution against hand-checkable published cases (tests/data/attribution, see its NOTICE) and
// properties every model must keep.
#include <catch2/catch.hpp>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <map>
#include <random>
#include <sstream>

#include "analytics/attribution.hpp"
#include "analytics/channel_groups.hpp"
#include "waymark/wire/v1/event_generated.h"

using namespace waymark::collector::analytics;

namespace {

std::ifstream open_data(const std::string& name) {
  std::ifstream in(std::string(WAYMARK_TEST_DATA) + "/attribution/" + name);
  REQUIRE(in);
  return in;
}

Path parse_path(const std::string& text, double conversions, double nulls) {
  Path p;
  p.conversions = conversions;
  p.nulls = nulls;
  for (size_t at = 0; at < text.size();) {
    const size_t sep = text.find(" > ", at);
    p.touches.push_back({text.substr(at, sep == std::string::npos ? sep : sep - at), 0});
    at = sep == std::string::npos ? text.size() : sep + 3;
  }
  return p;
}

std::map<std::string, std::vector<Path>> toy_paths() {
  auto in = open_data("toy_paths.csv");
  std::string line;
  std::getline(in, line);
  std::map<std::string, std::vector<Path>> sets;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    REQUIRE(f.size() == 4);
    sets[f[0]].push_back(parse_path(f[1], std::stod(f[2]), std::stod(f[3])));
  }
  return sets;
}

double conversions(const std::map<std::string, Credit>& c, const std::string& key) {
  auto it = c.find(key);
  return it == c.end() ? 0 : it->second.conversions;
}

}  // namespace

TEST_CASE("Markov removal effects and heuristics on the three published toy path sets", "[analytics][attribution]") {
  auto sets = toy_paths();
  AttributionOptions o;
  {
    const auto& p = sets.at("ca_vignette_AB");
    const MarkovModel m = markov(p, 1);
    CHECK(m.removal_effects.at("A") == Approx(1).margin(1e-6));
    CHECK(m.removal_effects.at("B") == Approx(0.5).margin(1e-6));
    const auto credit = attribute(p, Model::Markov, o);
    CHECK(conversions(credit, "A") == Approx(2).margin(1e-6));
    CHECK(conversions(credit, "B") == Approx(1).margin(1e-6));
    CHECK(conversions(attribute(p, Model::FirstTouch, o), "A") == Approx(3));
    CHECK(conversions(attribute(p, Model::LastTouch, o), "A") == Approx(3));
    CHECK(conversions(attribute(p, Model::Linear, o), "A") == Approx(2.1));
    CHECK(conversions(attribute(p, Model::Linear, o), "B") == Approx(0.9));
  }
  {
    const auto& p = sets.at("analyzecore_c123");
    const MarkovModel m = markov(p, 1);
    CHECK(m.p_conversion == Approx(1.0 / 3).margin(1e-6));
    CHECK(m.removal_effects.at("c1") == Approx(0.5).margin(1e-6));
    CHECK(m.removal_effects.at("c2") == Approx(1).margin(1e-6));
    CHECK(m.removal_effects.at("c3") == Approx(1).margin(1e-6));
    const auto credit = attribute(p, Model::Markov, o);
    CHECK(conversions(credit, "c1") == Approx(0.2).margin(1e-6));
    CHECK(conversions(credit, "c2") == Approx(0.4).margin(1e-6));
    CHECK(conversions(credit, "c3") == Approx(0.4).margin(1e-6));
  }
  {
    const auto& p = sets.at("puzyrov_ads_mail");
    const MarkovModel m = markov(p, 1);
    CHECK(m.p_conversion == Approx(0.8).margin(1e-6));
    CHECK(m.removal_effects.at("google ads") == Approx(0.75).margin(1e-6));
    CHECK(m.removal_effects.at("mailing") == Approx(0.5).margin(1e-6));
    const auto markov_credit = attribute(p, Model::Markov, o);
    CHECK(conversions(markov_credit, "google ads") == Approx(2.4).margin(1e-6));
    CHECK(conversions(markov_credit, "mailing") == Approx(1.6).margin(1e-6));
    CHECK(conversions(attribute(p, Model::FirstTouch, o), "google ads") == Approx(3));
    CHECK(conversions(attribute(p, Model::FirstTouch, o), "mailing") == Approx(1));
    CHECK(conversions(attribute(p, Model::LastTouch, o), "google ads") == Approx(2));
    CHECK(conversions(attribute(p, Model::LastTouch, o), "mailing") == Approx(2));
    CHECK(conversions(attribute(p, Model::Linear, o), "google ads") == Approx(2.5));
    CHECK(conversions(attribute(p, Model::Linear, o), "mailing") == Approx(1.5));
  }
}

TEST_CASE("DP6 sessions: journeys split at conversions in a 30-day window, and every model's weights",
          "[analytics][attribution]") {
  auto in = open_data("dp6_mam_test_dataset.csv");
  std::string line;
  std::getline(in, line);
  std::map<std::string, std::vector<JourneyTouch>> users;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    REQUIRE(f.size() == 6);
    std::tm tm{};
    std::istringstream(f[2]) >> std::get_time(&tm, "%Y-%m-%d %H:%M:%S");
    const int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
    users[f[0]].push_back({ms, f[5], f[4] == "1", 0});
  }
  std::vector<Path> journeys;
  for (auto& [user, touches] : users) {
    for (Path& p : extract_paths(touches, 30LL * 24 * 3600 * 1000, 0, /*conversion_is_touch=*/true))
      journeys.push_back(std::move(p));
  }
  const auto text = [](const Path& p) {
    std::string s;
    for (const auto& t : p.touches) s += (s.empty() ? "" : " > ") + t.key;
    return s;
  };
  REQUIRE(journeys.size() == 5);
  CHECK(text(journeys[0]) == "direct > google_ads > direct");
  CHECK(journeys[0].conversions == 1);
  CHECK(text(journeys[1]) == "seo > direct");
  CHECK(journeys[1].conversions == 0);
  CHECK(journeys[1].nulls == 1);
  CHECK(text(journeys[2]) == "direct > crm > direct");
  CHECK(text(journeys[3]) == "seo > direct > direct");
  CHECK(text(journeys[4]) == "direct > direct > seo > direct");
  const Path& j4 = journeys[4];
  CHECK(j4.touches[0].hours_before == Approx(122));
  CHECK(j4.touches[1].hours_before == Approx(2));

  AttributionOptions o;
  o.half_life_days = 1;  // the DP6 reference: weight 0.5^floor(hours_before / 24)
  const auto decay = path_weights(j4, Model::TimeDecay, o);
  const double want[] = {0.010309278, 0.329896907, 0.329896907, 0.329896907};
  for (size_t i = 0; i < 4; ++i) CHECK(decay[i] == Approx(want[i]).margin(1e-9));
  for (size_t j : {0, 2, 3}) {
    for (double w : path_weights(journeys[j], Model::TimeDecay, o)) CHECK(w == Approx(1.0 / 3));
    for (double w : path_weights(journeys[j], Model::Linear, o)) CHECK(w == Approx(1.0 / 3));
  }
  CHECK(path_weights(j4, Model::FirstTouch, o) == std::vector<double>{1, 0, 0, 0});
  CHECK(path_weights(j4, Model::LastTouch, o) == std::vector<double>{0, 0, 0, 1});
  CHECK(path_weights(j4, Model::PositionBased, o) == std::vector<double>{0.4, 0.1, 0.1, 0.4});
}

TEST_CASE("position based: 1 and 2 touches, ties in time decay, unknown model names", "[analytics][attribution]") {
  AttributionOptions o;
  Path one{{{"pos", 0}}, 1, 0, 10};
  Path two{{{"email", 30}, {"pos", 0}}, 1, 0, 10};
  CHECK(path_weights(one, Model::PositionBased, o) == std::vector<double>{1});
  CHECK(path_weights(two, Model::PositionBased, o) == std::vector<double>{0.5, 0.5});
  Path tie{{{"a", 1}, {"b", 1}}, 1, 0, 0};  // same age: equal shares
  CHECK(path_weights(tie, Model::TimeDecay, o) == std::vector<double>{0.5, 0.5});
  Path week{{{"a", 24 * 7}, {"b", 0}}, 1, 0, 0};  // one half-life older: half the weight
  const auto w = path_weights(week, Model::TimeDecay, o);
  CHECK(w[0] == Approx(1.0 / 3));
  CHECK(w[1] == Approx(2.0 / 3));
  for (Model m : kModels) CHECK(model_from_name(model_name(m)) == m);
  CHECK_FALSE(model_from_name("shapley"));
  const auto none = attribute({Path{{}, 1, 0, 5}}, Model::Linear, o);
  CHECK(none.at("(none)").conversions == 1);
}

TEST_CASE("properties: credits sum to the totals, removal effects are non-negative, order does not matter",
          "[analytics][attribution]") {
  std::mt19937 rng(11);
  const std::vector<std::string> channels = {"app", "web", "kiosk", "pos", "email", "sms", "push", "call"};
  for (int round = 0; round < 20; ++round) {
    std::vector<Path> paths;
    double conversions = 0, revenue = 0;
    for (int i = 0; i < 200; ++i) {
      Path p;
      const int n = 1 + static_cast<int>(rng() % 6);
      for (int k = 0; k < n; ++k) p.touches.push_back({channels[rng() % channels.size()], (n - k) * 13.0});
      if (rng() % 3 == 0) {
        p.nulls = 1;
      } else {
        p.conversions = 1;
        p.revenue = static_cast<double>(rng() % 10000) / 100;
      }
      conversions += p.conversions;
      revenue += p.revenue;
      paths.push_back(std::move(p));
    }
    auto shuffled = paths;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    AttributionOptions o;
    o.markov_order = 1 + round % 3;
    for (Model m : kModels) {
      INFO(model_name(m) << " round " << round);
      const auto credit = attribute(paths, m, o);
      double c = 0, r = 0;
      for (const auto& [key, v] : credit) {
        c += v.conversions;
        r += v.revenue;
        CHECK(v.conversions >= 0);
      }
      CHECK(c == Approx(conversions).margin(1e-6));
      CHECK(r == Approx(revenue).margin(1e-6));
      const auto again = attribute(shuffled, m, o);
      for (const auto& [key, v] : credit) CHECK(again.at(key).conversions == Approx(v.conversions).margin(1e-9));
    }
    for (const auto& [key, re] : markov(paths, o.markov_order).removal_effects) CHECK(re >= 0);
  }
}

// Found (issue 22): above 400 states the chain was solved by Gauss-Seidel, which stopped silently after
// 100,000 sweeps. Every size is now one sparse LU solve; the empirical chain conserves flow, so the
// probability of conversion from the start is exactly the share of paths that converted.
TEST_CASE("a Markov chain of a thousand states is solved exactly", "[analytics][attribution]") {
  std::mt19937 rng(23);
  std::vector<std::string> channels;
  for (int c = 0; c < 10; ++c) channels.push_back("ch" + std::to_string(c));
  std::vector<Path> paths;
  double conversions = 0;
  for (int i = 0; i < 8000; ++i) {
    Path p;
    const int n = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < n; ++k) p.touches.push_back({channels[rng() % channels.size()], (n - k) * 5.0});
    (rng() % 4 == 0 ? p.conversions : p.nulls) = 1;
    conversions += p.conversions;
    paths.push_back(std::move(p));
  }
  const MarkovModel m = markov(paths, 3);  // order 3: about a thousand states
  CHECK(m.p_conversion == Approx(conversions / 8000).epsilon(1e-12));
  REQUIRE(m.removal_effects.size() == channels.size());
  for (const auto& [key, re] : m.removal_effects) {
    INFO(key);
    CHECK(std::isfinite(re));
    CHECK(re > 0);
    CHECK(re < 1);
  }
}

TEST_CASE("the converting event is not its own touch unless asked, or unless nothing came before it",
          "[analytics][attribution]") {
  constexpr int64_t kHour = 3600 * 1000, kMonth = 30LL * 24 * kHour;
  const std::vector<JourneyTouch> journey = {
      {0, "Email", false, 0},
      {2 * kHour, "Pos", true, 2500},   // email, then a purchase in store
      {100 * kHour, "Pos", true, 900},  // a walk-in: nothing before it
  };
  const auto keys = [](const Path& p) {
    std::string s;
    for (const auto& t : p.touches) s += (s.empty() ? "" : " > ") + t.key;
    return s;
  };
  const auto by_default = extract_paths(journey, kMonth, 0);
  REQUIRE(by_default.size() == 2);
  CHECK(keys(by_default[0]) == "Email");
  CHECK(by_default[0].touches[0].hours_before == Approx(2));
  CHECK(keys(by_default[1]) == "Pos");
  CHECK(by_default[1].revenue == 900);
  const auto included = extract_paths(journey, kMonth, 0, true);
  REQUIRE(included.size() == 2);
  CHECK(keys(included[0]) == "Email > Pos");
  CHECK(keys(included[1]) == "Pos");
  AttributionOptions o;
  CHECK(attribute(by_default, Model::LastTouch, o).at("Email").conversions == Approx(1));
  CHECK(attribute(included, Model::LastTouch, o).at("Pos").conversions == Approx(2));
}

TEST_CASE("channel groups: from the campaign's medium and source first, then the channel", "[analytics][attribution]") {
  using waymark::collector::analytics::channel_group;
  namespace w = waymark::wire::v1;
  const auto g = [](w::Channel c, std::string_view source, std::string_view medium) {
    return std::string(channel_group(static_cast<uint8_t>(c), source, medium));
  };
  CHECK(g(w::Channel::Web, "google", "cpc") == "Paid Search");
  CHECK(g(w::Channel::Web, "Google", "CPC") == "Paid Search");
  CHECK(g(w::Channel::App, "facebook", "cpc") == "Paid Social");
  CHECK(g(w::Channel::Web, "instagram", "paid_social") == "Paid Social");
  CHECK(g(w::Channel::Web, "google", "organic") == "Organic Search");
  CHECK(g(w::Channel::Web, "bing", "") == "Organic Search");
  CHECK(g(w::Channel::Web, "tiktok", "social") == "Organic Social");
  CHECK(g(w::Channel::Web, "facebook", "referral") == "Organic Social");
  CHECK(g(w::Channel::Web, "partner-blog", "referral") == "Referral");
  CHECK(g(w::Channel::Web, "dv360", "display") == "Display");
  CHECK(g(w::Channel::Web, "newsletter", "email") == "Email");
  CHECK(g(w::Channel::Email, "", "") == "Email");
  CHECK(g(w::Channel::Sms, "", "") == "SMS");
  CHECK(g(w::Channel::Web, "spring", "sms") == "SMS");
  CHECK(g(w::Channel::Push, "", "") == "Push");
  CHECK(g(w::Channel::Web, "", "") == "Direct");
  CHECK(g(w::Channel::Web, "partner", "affiliate") == "Referral");
  CHECK(g(w::Channel::App, "", "") == "App");
  CHECK(g(w::Channel::Pos, "", "") == "In-store");
  CHECK(g(w::Channel::Kiosk, "", "") == "In-store");
  CHECK(g(w::Channel::Atm, "", "") == "ATM");
  CHECK(g(w::Channel::CallCentre, "", "") == "Call centre");
  CHECK(g(w::Channel::Other, "", "") == "Other");
  // The channels appended in round 2, and offline media reached through a campaign code.
  CHECK(g(w::Channel::Ivr, "", "") == "Call centre");
  CHECK(g(w::Channel::Display, "", "") == "Display");
  CHECK(g(w::Channel::Video, "", "") == "Video");
  CHECK(g(w::Channel::Web, "youtube", "video") == "Video");
  CHECK(g(w::Channel::Social, "", "") == "Organic Social");
  CHECK(g(w::Channel::Social, "facebook", "paid_social") == "Paid Social");
  CHECK(g(w::Channel::Tv, "", "") == "Offline media");
  CHECK(g(w::Channel::Radio, "", "") == "Offline media");
  CHECK(g(w::Channel::Print, "", "") == "Offline media");
  CHECK(g(w::Channel::Pos, "heart-fm", "radio") == "Offline media");  // the spot's code typed at the till
  CHECK(g(w::Channel::Web, "catalogue", "direct_mail") == "Offline media");
  // Every group a channel can land in is one spend can be imported for.
  const auto names = waymark::collector::analytics::channel_group_names();
  for (int c = 0; c <= static_cast<int>(w::Channel::MAX); ++c) {
    const std::string group = g(static_cast<w::Channel>(c), "", "");
    CHECK(std::find(names.begin(), names.end(), group) != names.end());
  }
}

// Found (issue 22): Markov revenue was split by conversion removal effects, while ChannelAttribution
// splits value by value removal effects (the share of conversion value whose paths pass through a
// channel, a conversion's value following the state it converts from). Checked by hand on a small chain:
// A > B converts for 100, A converts for 10, B stops. By enumerating the chain's paths,
// E[value] = 110/3, through A: 20 (VRE 6/11), through B: 100/3 (VRE 10/11).
TEST_CASE("Markov value credit follows value removal effects, as ChannelAttribution's", "[analytics][attribution]") {
  const std::vector<Path> paths = {{{{"A", 0}, {"B", 0}}, 1, 0, 100}, {{{"A", 0}}, 1, 0, 10}, {{{"B", 0}}, 0, 1, 0}};
  const MarkovModel m = markov(paths, 1);
  CHECK(m.p_conversion == Approx(2.0 / 3).margin(1e-12));
  CHECK(m.removal_effects.at("A") == Approx(0.75).margin(1e-12));
  CHECK(m.removal_effects.at("B") == Approx(0.5).margin(1e-12));
  CHECK(m.value_removal_effects.at("A") == Approx(6.0 / 11).margin(1e-12));
  CHECK(m.value_removal_effects.at("B") == Approx(10.0 / 11).margin(1e-12));
  const auto credit = attribute(paths, Model::Markov, AttributionOptions{});
  CHECK(credit.at("A").conversions == Approx(1.2).margin(1e-9));  // conversions still by conversion effects
  CHECK(credit.at("B").conversions == Approx(0.8).margin(1e-9));
  CHECK(credit.at("A").revenue == Approx(110 * 6.0 / 16).margin(1e-9));  // 41.25, not 66
  CHECK(credit.at("B").revenue == Approx(110 * 10.0 / 16).margin(1e-9));
}
