// Funnels: how many customers take an ordered list of steps within a window after the first, where they
// drop off, how long each step takes, and which channel group brought the ones who entered.
#pragma once

#include <string>
#include <vector>

#include "analytics/segments.hpp"
#include "store/store.hpp"

namespace waymark::collector::analytics {

// How the steps must follow each other: `sequence`, each after the one before (other actions between
// allowed); `strict`, each the customer's very next action after the one before; `any`, all within the
// window in any order, starting at whichever came first (a step is reached when it and every step before
// it in the list happened).
enum class FunnelOrder { Sequence, Strict, Any };

struct FunnelQuery {
  std::vector<ConversionGoal> steps;  // each an event predicate (a goal, or event.<name> >= 1)
  FunnelOrder order = FunnelOrder::Sequence;
  int64_t from_ms = 0, to_ms = 0;              // entries (the first step) in [from, to)
  int64_t within_ms = 7LL * 24 * 3600 * 1000;  // every later step within this long after the entry
  int64_t session_gap_ms = 30LL * 60 * 1000;   // for the entry's channel group (a campaign lasts its session)
  int k = 10;
};

struct FunnelRow {
  std::string channel_group;         // of the entry ("" for the whole funnel)
  std::vector<int64_t> reached;      // customers who reached each step
  std::vector<double> median_hours;  // from the entry to each step, over those who reached it
};

struct FunnelReport {
  FunnelRow total;
  std::vector<FunnelRow> by_channel_group;  // by entries, largest first; groups under k in "other"
  int64_t suppressed = 0;
};

// Each customer counts once, with the entry that took them furthest (the earliest of equals).
Result<FunnelReport> funnel_report(AnalyticsScan& store, const FunnelQuery& q);

}  // namespace waymark::collector::analytics
