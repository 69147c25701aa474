// RFM segments: every purchasing customer scored 1-5 (quintiles) on recency, frequency and monetary
// value, and named segments drawn from the scores.
#pragma once

#include <map>
#include <string>
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

// Scores every customer with purchases up to `as_of_ms` (in `currency`, or the only one present).
Result<std::vector<RfmScore>> rfm_from_store(Store& store, int64_t as_of_ms, const std::string& currency);

}  // namespace waymark::collector::analytics
