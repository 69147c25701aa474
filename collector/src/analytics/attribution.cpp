#include "analytics/attribution.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include <Eigen/Sparse>
#include <Eigen/SparseLU>

namespace waymark::collector::analytics {

namespace {

constexpr std::pair<Model, std::string_view> kNames[] = {
    {Model::FirstTouch, "first_touch"}, {Model::LastTouch, "last_touch"},         {Model::Linear, "linear"},
    {Model::TimeDecay, "time_decay"},   {Model::PositionBased, "position_based"}, {Model::Markov, "markov"},
};

std::vector<std::string> collapsed(const Path& p) {
  std::vector<std::string> out;
  for (const Touch& t : p.touches) {
    if (out.empty() || out.back() != t.key) out.push_back(t.key);
  }
  return out;
}

// A sparse absorbing chain: transient states 0..n-1 (0 = start), each with weighted transitions to
// other transient states, to conversion and to null. `value_to_conversion`: the revenue of the
// conversions that leave each state (so a conversion's value follows the state it converts from, as
// ChannelAttribution draws it).
struct Chain {
  std::vector<std::unordered_map<size_t, double>> next;
  std::vector<double> to_conversion, value_to_conversion, total;
};

// The expected reward of absorption into conversion from the start, with the states in `removed`
// turned into null; `reward[s]` is what conversions leaving s are worth together (their count: P(conversion);
// their revenue: the expected conversion value). Solved exactly for every chain size: (I - Q) p = r with
// Eigen's sparse LU. I - Q of an absorbing chain whose every state reaches absorption (each state here
// was left by some path) is a nonsingular M-matrix; NaN if the factorisation still fails.
double absorbed(const Chain& c, const std::vector<bool>& removed, const std::vector<double>& reward) {
  const size_t n = c.next.size();
  if (n == 0 || removed[0]) return 0;
  std::vector<Eigen::Triplet<double>> entries;
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(n));
  for (size_t s = 0; s < n; ++s) {
    const auto row = static_cast<Eigen::Index>(s);
    entries.emplace_back(row, row, 1.0);
    if (removed[s] || c.total[s] == 0) continue;  // absorbing null: p = 0
    rhs[row] = reward[s] / c.total[s];
    for (const auto& [t, w] : c.next[s]) {
      if (!removed[t]) entries.emplace_back(row, static_cast<Eigen::Index>(t), -w / c.total[s]);
    }
  }
  Eigen::SparseMatrix<double> a(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(n));
  a.setFromTriplets(entries.begin(), entries.end());  // duplicates (a self-loop) are summed
  Eigen::SparseLU<Eigen::SparseMatrix<double>> lu;
  lu.compute(a);
  if (lu.info() != Eigen::Success) return std::numeric_limits<double>::quiet_NaN();
  const Eigen::VectorXd p = lu.solve(rhs);
  return lu.info() == Eigen::Success ? p[0] : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

std::string_view model_name(Model m) {
  for (const auto& [model, name] : kNames) {
    if (model == m) return name;
  }
  return "unknown";
}

std::optional<Model> model_from_name(std::string_view name) {
  for (const auto& [model, n] : kNames) {
    if (n == name) return model;
  }
  return std::nullopt;
}

std::vector<double> path_weights(const Path& p, Model m, const AttributionOptions& o) {
  const size_t n = p.touches.size();
  std::vector<double> w(n, 0.0);
  if (n == 0) return w;
  switch (m) {
    case Model::FirstTouch: w.front() = 1; break;
    case Model::LastTouch: w.back() = 1; break;
    case Model::Linear: std::fill(w.begin(), w.end(), 1.0 / static_cast<double>(n)); break;
    case Model::TimeDecay: {
      double sum = 0;
      for (size_t i = 0; i < n; ++i) {
        w[i] = std::pow(0.5, std::floor(p.touches[i].hours_before / (24 * o.half_life_days)));
        sum += w[i];
      }
      for (double& v : w) v /= sum;
      break;
    }
    case Model::PositionBased:
      if (n == 1) {
        w[0] = 1;
      } else if (n == 2) {
        w[0] = w[1] = 0.5;
      } else {
        w.front() = w.back() = 0.4;
        for (size_t i = 1; i + 1 < n; ++i) w[i] = 0.2 / static_cast<double>(n - 2);
      }
      break;
    case Model::Markov: break;
  }
  return w;
}

MarkovModel markov(const std::vector<Path>& paths, int order) {
  order = std::max(order, 1);
  Chain chain;
  std::map<std::vector<std::string>, size_t> index;      // last `order` keys -> state; {} is the start
  std::map<std::string, std::vector<size_t>> states_of;  // key -> every state that contains it
  const auto state = [&](const std::vector<std::string>& k) {
    auto [it, fresh] = index.try_emplace(k, chain.next.size());
    if (fresh) {
      chain.next.emplace_back();
      chain.to_conversion.push_back(0);
      chain.value_to_conversion.push_back(0);
      chain.total.push_back(0);
      for (const std::string& member : k) states_of[member].push_back(it->second);
    }
    return it->second;
  };
  state({});
  for (const Path& p : paths) {
    const double weight = p.conversions + p.nulls;
    if (weight <= 0) continue;
    const auto keys = collapsed(p);
    size_t from = 0;
    std::vector<std::string> window;
    for (const std::string& k : keys) {
      window.push_back(k);
      if (window.size() > static_cast<size_t>(order)) window.erase(window.begin());
      const size_t to = state(window);
      chain.next[from][to] += weight;
      chain.total[from] += weight;
      from = to;
    }
    chain.to_conversion[from] += p.conversions;
    chain.value_to_conversion[from] += p.revenue;
    chain.total[from] += weight;  // nulls leave to the null state
  }
  MarkovModel m;
  const std::vector<bool> none(chain.next.size(), false);
  m.p_conversion = absorbed(chain, none, chain.to_conversion);
  const double value = absorbed(chain, none, chain.value_to_conversion);
  const auto effect = [](double with, double without) { return with > 0 ? std::max(0.0, 1 - without / with) : 0; };
  for (const auto& [key, states] : states_of) {
    std::vector<bool> removed = none;
    for (size_t s : states) removed[s] = true;
    m.removal_effects[key] = effect(m.p_conversion, absorbed(chain, removed, chain.to_conversion));
    m.value_removal_effects[key] = effect(value, absorbed(chain, removed, chain.value_to_conversion));
  }
  return m;
}

std::map<std::string, Credit> attribute(const std::vector<Path>& paths, Model m, const AttributionOptions& o) {
  std::map<std::string, Credit> credit;
  if (m == Model::Markov) {
    double conversions = 0, revenue = 0;
    for (const Path& p : paths) {
      conversions += p.conversions;
      revenue += p.revenue;
      for (const Touch& t : p.touches) credit.try_emplace(t.key);
    }
    const MarkovModel chain = markov(paths, o.markov_order);
    double sum = 0, value_sum = 0;
    for (const auto& [key, re] : chain.removal_effects) sum += re;
    for (const auto& [key, re] : chain.value_removal_effects) value_sum += re;
    if (sum <= 0) return credit;
    for (const auto& [key, re] : chain.removal_effects) {
      credit[key].conversions = re / sum * conversions;
      // Revenue by value removal effects (ChannelAttribution's); by conversion ones when no path has value.
      const double vre = chain.value_removal_effects.at(key);
      credit[key].revenue = value_sum > 0 ? vre / value_sum * revenue : re / sum * revenue;
    }
    return credit;
  }
  for (const Path& p : paths) {
    if (p.conversions <= 0 && p.revenue == 0) continue;
    if (p.touches.empty()) {
      credit["(none)"].conversions += p.conversions;
      credit["(none)"].revenue += p.revenue;
      continue;
    }
    const auto w = path_weights(p, m, o);
    for (size_t i = 0; i < w.size(); ++i) {
      Credit& c = credit[p.touches[i].key];
      c.conversions += w[i] * p.conversions;
      c.revenue += w[i] * p.revenue;
    }
  }
  return credit;
}

std::vector<Path> extract_paths(const std::vector<JourneyTouch>& journey, int64_t lookback_ms, int64_t session_gap_ms,
                                bool conversion_is_touch) {
  std::vector<Path> out;
  std::vector<const JourneyTouch*> open;  // touches since the last conversion, sessions merged
  int64_t last_time = 0;
  for (const JourneyTouch& t : journey) {
    const bool same_session = !open.empty() && open.back()->key == t.key && t.time_ms - last_time < session_gap_ms;
    last_time = t.time_ms;
    if (!same_session && (!t.conversion || conversion_is_touch)) open.push_back(&t);
    if (!t.conversion) continue;
    Path p;
    p.conversions = 1;
    p.revenue = t.revenue;
    for (const JourneyTouch* o : open) {
      if (t.time_ms - o->time_ms > lookback_ms) continue;
      p.touches.push_back({o->key, static_cast<double>(t.time_ms - o->time_ms) / 3.6e6});
    }
    if (p.touches.empty()) p.touches.push_back({t.key, 0});  // nothing before it: where it happened
    out.push_back(std::move(p));
    open.clear();
  }
  if (!open.empty()) {
    Path p;
    p.nulls = 1;
    for (const JourneyTouch* o : open) p.touches.push_back({o->key, 0});
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace waymark::collector::analytics
