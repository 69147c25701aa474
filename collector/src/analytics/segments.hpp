// Segments: every purchasing customer scored 1-5 (quintiles) on recency, frequency and monetary
// value, named segments drawn from the scores, and rule segments the brand writes in its config.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"

namespace waymark::collector::analytics {

struct RfmInput {
  int64_t profile = 0;
  double recency_days = 0;  // since the last purchase (smaller is better)
  double frequency = 0;     // purchase days
  double monetary = 0;      // total spend, minor units
};

struct RfmScore {
  RfmInput input;
  int r = 0, f = 0, m = 0;  // 1 (worst) .. 5 (best)
};

// Quintile scores by rank; equal values always get the same score.
std::vector<RfmScore> rfm_scores(const std::vector<RfmInput>& customers);

// big_spenders: M = 5; loyal: F >= 4 and R >= 3; at_risk: R <= 2 and F >= 3; new: F = 1 and R >= 4;
// lost: R = 1 and F <= 2. A customer may be in several. Members ascending by profile id.
std::map<std::string, std::vector<int64_t>> rfm_segments(const std::vector<RfmScore>& scores);

// A rule segment from the config, `name: expression`, e.g.
//   "pos_regulars: channel.pos[90d] >= 3 and revenue >= 10000"
//   "lapsed_app_users: channel.app >= 5 and days_since_last_event > 60 and not (f >= 4)"
// An expression joins comparisons `metric op number` (op: < <= > >= = !=) with and, or, not and
// parentheses (not binds tightest, then and, then or). Metrics, per profile over its events up to
// the report time (a `[Nd]` suffix on a count keeps only the last N days):
//   events, purchases, revenue (major units of the report currency: 100 is £100.00),
//   channel.<channel>, event.<event name>, campaign.<source> (counts); days_since_last_event, days_since_last_purchase
//   (infinite without one); r, f, m (RFM scores 1-5, 0 without purchases).
// A property comparison `property.<key> op value` (key quoted if need be; value a number, a "string" or
// true/false, the last two with = or != only; an optional [Nd] window) holds when at least one event
// carries that property with a value that compares true, e.g.
//   "north_returns: property.region = \"north\" and event.\"return\"[30d] >= 1"
// Names are 1-64 of [a-z0-9_-] and must not be an RFM segment's name.
struct RuleExpr;
struct RuleSegment {
  std::string name, expression;
  std::shared_ptr<const RuleExpr> root;
};
// Errc::invalid with a message that points at the problem.
Result<RuleSegment> parse_rule_segment(std::string_view spec);

// A conversion goal from the config, `name: expression`: what attribution counts as a conversion. The
// rule grammar above, holding for one event on its own: events, purchases, channel.<c>, event.<name>,
// campaign.<source> and property.<key>, without windows, e.g.
//   "signup: event.sign_up >= 1"
//   "contact_lead: event.form_submit >= 1 and property.form = \"contact\""
//   "store_visit: channel.pos >= 1 and event.visit >= 1"
struct ConversionGoal {
  std::string name, expression;
  std::shared_ptr<const RuleExpr> root;
};
Result<ConversionGoal> parse_conversion_goal(std::string_view spec);
// The default, "purchase: purchases >= 1".
const ConversionGoal& purchase_goal();
// Whether `e` is a conversion of `goal` (never the SDK's identify and consent records).
bool reaches_goal(const ConversionGoal& goal, const AnalyticsEvent& e);

// Every segment (the RFM ones and the rules) with its members ascending, over purchases and
// events up to `as_of_ms`; RFM scores every customer with purchases in `currency` (or the only
// one present: Errc::invalid when there are several and none was chosen).
struct SegmentSet {
  int64_t as_of_ms = 0;
  size_t customers = 0;  // scored by RFM
  std::map<std::string, std::vector<int64_t>> members;
  std::map<std::string, std::string> rules;  // rule segment name -> expression
};
Result<SegmentSet> compute_segments(AnalyticsScan& store, int64_t as_of_ms, const std::string& currency,
                                    const std::vector<RuleSegment>& rules);

}  // namespace waymark::collector::analytics
