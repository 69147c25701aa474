#include "analytics/segments.hpp"

#include <algorithm>
#include <functional>
#include <cmath>

#include "analytics/reports.hpp"

namespace waymark::collector::analytics {

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
  constexpr double kDayMs = 24.0 * 3600 * 1000;
  auto log = purchases_by_profile(store, as_of_ms, currency);
  if (!log.ok()) return log.status();
  std::vector<RfmInput> inputs;
  for (const ProfilePurchases& c : log.value().profiles) {
    RfmInput in{c.profile, 0, 0, 0};
    for (size_t i = 0; i < c.purchases.size(); ++i) {
      if (i == 0 || c.purchases[i].time != c.purchases[i - 1].time) in.frequency += 1;  // purchase days
      in.monetary += c.purchases[i].value;
    }
    in.recency_days = std::floor(static_cast<double>(as_of_ms) / kDayMs) - c.purchases.back().time / kDayMs;
    inputs.push_back(in);
  }
  return rfm_scores(inputs);
}

}  // namespace waymark::collector::analytics
