#include "analytics/funnels.hpp"

#include <algorithm>
#include <map>

#include "analytics/channel_groups.hpp"
#include "analytics/reports.hpp"

namespace waymark::collector::analytics {

namespace {

// One customer's furthest progress: steps reached and the time of each.
struct Progress {
  size_t entry = 0;         // index of the entry action
  int64_t entry_ms = 0;     // its time
  std::vector<int64_t> at;  // when each step reached was first taken
};

// Whether a customer's funnel may start at `e`: it takes the first step (in any order: any step).
bool enters(const FunnelQuery& q, const AnalyticsEvent& e) {
  if (q.order != FunnelOrder::Any) return reaches_goal(q.steps[0], e);
  return std::any_of(q.steps.begin(), q.steps.end(), [&](const ConversionGoal& g) { return reaches_goal(g, e); });
}

// Progress from the entry at actions[i]. Times are from the entry, which is the first step's time except
// in any order.
Progress from_entry(const std::vector<const AnalyticsEvent*>& actions, size_t i, const FunnelQuery& q) {
  Progress p{i, actions[i]->time_ms, {actions[i]->time_ms}};
  const int64_t until = actions[i]->time_ms + q.within_ms;
  const auto matches = [&](size_t step, size_t j) { return reaches_goal(q.steps[step], *actions[j]); };
  if (q.order == FunnelOrder::Any) {  // the entry took some step; each step's first time in the window
    std::vector<int64_t> first(q.steps.size(), -1);
    for (size_t j = i; j < actions.size() && actions[j]->time_ms <= until; ++j) {
      for (size_t step = 0; step < q.steps.size(); ++step) {
        if (first[step] < 0 && matches(step, j)) first[step] = actions[j]->time_ms;
      }
    }
    p.at.clear();
    for (size_t step = 0; step < q.steps.size() && first[step] >= 0; ++step) p.at.push_back(first[step]);
    return p;
  }
  for (size_t j = i + 1; j < actions.size() && p.at.size() < q.steps.size() && actions[j]->time_ms <= until; ++j) {
    if (matches(p.at.size(), j)) {
      p.at.push_back(actions[j]->time_ms);
    } else if (q.order == FunnelOrder::Strict) {
      break;
    }
  }
  return p;
}

struct Tally {
  std::vector<int64_t> reached;
  std::vector<std::vector<double>> hours;  // from the entry, per step
  explicit Tally(size_t steps) : reached(steps, 0), hours(steps) {}
  void add(const Progress& p) {
    for (size_t s = 0; s < p.at.size(); ++s) {
      ++reached[s];
      hours[s].push_back(static_cast<double>(p.at[s] - p.entry_ms) / 3.6e6);
    }
  }
  void add(const Tally& t) {
    for (size_t s = 0; s < reached.size(); ++s) {
      reached[s] += t.reached[s];
      hours[s].insert(hours[s].end(), t.hours[s].begin(), t.hours[s].end());
    }
  }
  FunnelRow row(std::string group) {
    FunnelRow r{std::move(group), reached, {}};
    for (auto& h : hours) {
      if (h.empty()) {
        r.median_hours.push_back(0);
        continue;
      }
      std::sort(h.begin(), h.end());
      const size_t n = h.size();
      r.median_hours.push_back(n % 2 == 1 ? h[n / 2] : (h[n / 2 - 1] + h[n / 2]) / 2);
    }
    return r;
  }
};

}  // namespace

Result<FunnelReport> funnel_report(AnalyticsScan& store, const FunnelQuery& q) {
  if (q.steps.empty()) return Error(Errc::invalid, "a funnel needs at least one step");
  Tally total(q.steps.size());
  std::map<std::string, Tally> groups;
  Status s =
      store.for_each_profile(q.from_ms - q.session_gap_ms, q.to_ms + q.within_ms, [&](int64_t, const auto& events) {
        std::vector<const AnalyticsEvent*> actions, landing;  // each action, and the event whose campaign it is in
        SessionCampaign session(q.session_gap_ms);
        for (const AnalyticsEvent& e : events) {
          if (!is_customer_action(e)) continue;
          actions.push_back(&e);
          landing.push_back(&session.of(e));
        }
        std::optional<Progress> best;
        for (size_t i = 0; i < actions.size() && actions[i]->time_ms < q.to_ms; ++i) {
          if (actions[i]->time_ms < q.from_ms || !enters(q, *actions[i])) continue;
          Progress p = from_entry(actions, i, q);
          if (!best || p.at.size() > best->at.size()) best = std::move(p);
          if (best->at.size() == q.steps.size()) break;
        }
        if (!best) return true;
        total.add(*best);
        const AnalyticsEvent& entry = *actions[best->entry];
        const AnalyticsEvent& campaign = *landing[best->entry];
        const std::string group(channel_group(entry.channel, campaign.campaign_source, campaign.campaign_medium));
        groups.try_emplace(group, q.steps.size()).first->second.add(*best);
        return true;
      });
  if (!s.ok()) return s;
  FunnelReport report;
  report.total = total.row("");
  Tally other(q.steps.size());
  for (auto& [name, t] : groups) {
    if (t.reached[0] < q.k) {
      other.add(t);
      ++report.suppressed;
    } else {
      report.by_channel_group.push_back(t.row(name));
    }
  }
  std::sort(report.by_channel_group.begin(), report.by_channel_group.end(),
            [](const FunnelRow& a, const FunnelRow& b) { return a.reached[0] > b.reached[0]; });
  if (report.suppressed > 0) report.by_channel_group.push_back(other.row("other"));
  return report;
}

}  // namespace waymark::collector::analytics
