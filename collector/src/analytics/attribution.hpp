// Multichannel attribution: first touch, last touch, linear, time decay, position based (40/20/40) and the
// data-driven Markov chain removal effect (value by value removal effects), computed exactly on the
// transition matrix. Credits are
// given to channels or campaigns; for every model they sum to the total conversions and revenue.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace waymark::collector::analytics {

struct Touch {
  std::string key;          // channel or campaign, as the caller chose
  double hours_before = 0;  // before the conversion (0 for a path that did not convert)
};

// A path ending in `conversions` conversions worth `revenue`, and/or `nulls` journeys that stopped
// without converting (the Markov model needs both).
struct Path {
  std::vector<Touch> touches;
  double conversions = 0, nulls = 0, revenue = 0;
};

enum class Model { FirstTouch, LastTouch, Linear, TimeDecay, PositionBased, Markov };
std::string_view model_name(Model m);
std::optional<Model> model_from_name(std::string_view name);
inline constexpr Model kModels[] = {Model::FirstTouch, Model::LastTouch,     Model::Linear,
                                    Model::TimeDecay,  Model::PositionBased, Model::Markov};

struct AttributionOptions {
  double half_life_days = 7;  // time decay: weight 0.5^floor(hours_before / (24 * half_life_days))
  int markov_order = 1;
};

struct Credit {
  double conversions = 0, revenue = 0;
};

// Per-touch weights of one path under a heuristic model (they sum to 1). Markov has none.
std::vector<double> path_weights(const Path& p, Model m, const AttributionOptions& o);

struct MarkovModel {
  double p_conversion = 0;
  std::map<std::string, double> removal_effects;  // 1 - P(conversion | key removed) / P(conversion)
  // 1 - E[conversion value | key removed] / E[conversion value], a conversion's value following the
  // state it converts from (ChannelAttribution's removal_effects_conversion_value). Revenue is split by
  // these; conversions by removal_effects.
  std::map<std::string, double> value_removal_effects;
};
// Order-k chain over the paths with consecutive repeats collapsed (ChannelAttribution semantics):
// start -> touches -> conversion | null, transitions weighted by conversions and nulls.
MarkovModel markov(const std::vector<Path>& paths, int order);

std::map<std::string, Credit> attribute(const std::vector<Path>& paths, Model m, const AttributionOptions& o);

// Builds attribution paths from one customer's time-ordered touchpoints: each conversion closes a path
// of the touches since the previous conversion and within `lookback_ms` before it; touches after the
// last conversion make a path that did not convert. Consecutive touches on the same key less than
// `session_gap_ms` apart are one touch (a session). The converting event is a touch of its own only
// with `conversion_is_touch`, or when nothing came before it (a walk-in purchase is credited to where
// it happened).
struct JourneyTouch {
  int64_t time_ms = 0;
  std::string key;
  bool conversion = false;
  double revenue = 0;
};
std::vector<Path> extract_paths(const std::vector<JourneyTouch>& journey, int64_t lookback_ms, int64_t session_gap_ms,
                                bool conversion_is_touch = false);

}  // namespace waymark::collector::analytics
