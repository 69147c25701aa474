#include "analytics/segments.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include "waymark/wire/v1/event_generated.h"

namespace waymark::collector::analytics {

using detail::Error;
namespace w = waymark::wire::v1;

namespace {

// Score 1..5 by the rank of the first customer with the same value, best last after sorting.
void quintiles(std::vector<RfmScore>& s, const std::function<double(const RfmScore&)>& better, int RfmScore::*out) {
  std::vector<size_t> order(s.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return better(s[a]) < better(s[b]); });
  size_t first_of_value = 0;
  for (size_t rank = 0; rank < order.size(); ++rank) {
    if (rank > 0 && better(s[order[rank]]) != better(s[order[rank - 1]])) first_of_value = rank;
    s[order[rank]].*out = 1 + static_cast<int>(5 * first_of_value / order.size());
  }
}

}  // namespace

std::vector<RfmScore> rfm_scores(const std::vector<RfmInput>& customers) {
  std::vector<RfmScore> s;
  for (const RfmInput& c : customers) s.push_back({c, 0, 0, 0});
  quintiles(
      s, [](const RfmScore& x) { return -x.input.recency_days; }, &RfmScore::r);
  quintiles(
      s, [](const RfmScore& x) { return x.input.frequency; }, &RfmScore::f);
  quintiles(
      s, [](const RfmScore& x) { return x.input.monetary; }, &RfmScore::m);
  return s;
}

std::map<std::string, std::vector<int64_t>> rfm_segments(const std::vector<RfmScore>& scores) {
  std::map<std::string, std::vector<int64_t>> out = {
      {"big_spenders", {}}, {"loyal", {}}, {"at_risk", {}}, {"new", {}}, {"lost", {}}};
  for (const RfmScore& s : scores) {
    const int64_t id = s.input.profile;
    if (s.m == 5) out["big_spenders"].push_back(id);
    if (s.f >= 4 && s.r >= 3) out["loyal"].push_back(id);
    if (s.r <= 2 && s.f >= 3) out["at_risk"].push_back(id);
    if (s.input.frequency == 1 && s.r >= 4) out["new"].push_back(id);
    if (s.r == 1 && s.f <= 2) out["lost"].push_back(id);
  }
  for (auto& [name, members] : out) std::sort(members.begin(), members.end());
  return out;
}

Result<std::vector<RfmScore>> rfm_from_store(Store& store, int64_t as_of_ms, const std::string& currency) {
  constexpr int64_t kDayMs = 24LL * 3600 * 1000;
  struct Seen {
    int64_t profile;
    std::string currency;
    int64_t day, minor;
  };
  std::vector<Seen> purchases;
  std::set<std::string> currencies;
  Status s = store.for_each_profile(INT64_MIN, as_of_ms + 1, [&](int64_t profile, const auto& events) {
    for (const AnalyticsEvent& e : events) {
      if (e.type != static_cast<uint8_t>(w::EventType::Purchase) || !e.revenue_minor) continue;
      currencies.insert(e.currency);
      purchases.push_back({profile, e.currency, e.time_ms / kDayMs, *e.revenue_minor});
    }
    return true;
  });
  if (!s.ok()) return s;
  if (currency.empty() && currencies.size() > 1) {
    return Error(WAYMARK_ERR_INVALID_ARGUMENT, "purchases in several currencies: choose one");
  }
  const std::string chosen = currency.empty() && !currencies.empty() ? *currencies.begin() : currency;
  std::vector<RfmInput> inputs;
  std::set<int64_t> days;
  for (size_t i = 0; i < purchases.size(); ++i) {  // grouped by profile, in time order
    const Seen& p = purchases[i];
    if (p.currency == chosen) {
      if (inputs.empty() || inputs.back().profile != p.profile) {
        inputs.push_back({p.profile, 0, 0, 0});
        days.clear();
      }
      RfmInput& in = inputs.back();
      if (days.insert(p.day).second) in.frequency += 1;
      in.monetary += static_cast<double>(p.minor);
      in.recency_days = static_cast<double>(as_of_ms / kDayMs - p.day);
    }
  }
  return rfm_scores(inputs);
}

}  // namespace waymark::collector::analytics
