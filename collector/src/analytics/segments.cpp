#include "analytics/segments.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "analytics/reports.hpp"
#include "waymark/wire/v1/event_generated.h"

namespace waymark::collector::analytics {

namespace w = waymark::wire::v1;

struct RuleExpr {
  enum class Op { Or, And, Not, Less, LessEq, Greater, GreaterEq, Equal, NotEqual } op = Op::Or;
  std::vector<RuleExpr> children;  // Or/And: two or more; Not: one
  // Comparisons: the metric, its argument (channel number, event name, campaign source) and window.
  enum class Metric {
    Events,
    Purchases,
    Revenue,
    Channel,
    EventName,
    Campaign,
    DaysSinceEvent,
    DaysSincePurchase,
    R,
    F,
    M,
    Property,  // true when some event (in the window) carries the property and its value compares true
    // The lifetime-value forecast as of the report's day (no window): CLV in major units of the
    // segments' currency, P(alive), expected purchases. Unknown (never matching a comparison) for a
    // profile without purchases, or when the fit is no forecast.
    Clv,
    PAlive,
    ExpectedPurchases
  } metric = Metric::Events;
  std::string argument;
  uint8_t channel = 0;
  int64_t window_days = 0;  // 0: all time
  enum class Kind { Number, Text, Bool } kind = Kind::Number;
  double value = 0;
  std::string text;   // Kind::Text
  bool flag = false;  // Kind::Bool
};

namespace {

constexpr double kDayMs = 24.0 * 3600 * 1000;

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

namespace {

// Recency in days since the last purchase day, frequency in purchase days, monetary in minor units.
std::vector<RfmScore> rfm_from_log(const PurchaseLog& log, int64_t as_of_ms) {
  std::vector<RfmInput> inputs;
  for (const ProfilePurchases& c : log.profiles) {
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

}  // namespace

namespace {

const char* const kRfmNames[] = {"big_spenders", "loyal", "at_risk", "new", "lost"};

bool valid_segment_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Recursive descent over the expression text; every error names what was expected and where.
class RuleParser {
 public:
  explicit RuleParser(std::string_view text) : text_(text) {}

  Result<RuleExpr> parse() {
    auto e = parse_or();
    if (!e.ok()) return e;
    skip_space();
    if (at_ < text_.size()) return fail("unexpected '" + std::string(text_.substr(at_, 12)) + "'");
    return e;
  }

 private:
  Status fail(const std::string& what) const {
    return Error(Errc::invalid, what + " at character " + std::to_string(at_ + 1));
  }
  void skip_space() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }
  // A keyword (and, or, not) as a whole word.
  bool keyword(std::string_view word) {
    skip_space();
    if (text_.substr(at_, word.size()) != word) return false;
    const size_t end = at_ + word.size();
    if (end < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_')) return false;
    at_ = end;
    return true;
  }
  std::string word() {
    skip_space();
    const size_t start = at_;
    while (at_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[at_])) || text_[at_] == '_' ||
                                  text_[at_] == '-' || text_[at_] == ':' || text_[at_] == '/')) {
      ++at_;
    }
    return std::string(text_.substr(start, at_ - start));
  }

  Result<RuleExpr> parse_or() { return parse_joined("or", RuleExpr::Op::Or, &RuleParser::parse_and); }
  Result<RuleExpr> parse_and() { return parse_joined("and", RuleExpr::Op::And, &RuleParser::parse_not); }
  Result<RuleExpr> parse_joined(std::string_view word, RuleExpr::Op op, Result<RuleExpr> (RuleParser::*next)()) {
    auto first = (this->*next)();
    if (!first.ok()) return first;
    RuleExpr joined;
    joined.op = op;
    joined.children.push_back(std::move(first.value()));
    while (keyword(word)) {
      auto more = (this->*next)();
      if (!more.ok()) return more;
      joined.children.push_back(std::move(more.value()));
    }
    if (joined.children.size() == 1) return std::move(joined.children.front());
    return joined;
  }
  Result<RuleExpr> parse_not() {
    // Nesting is bounded so a hostile config cannot exhaust the stack (found by fuzz_segment_rule).
    constexpr int kMaxDepth = 32;
    if (depth_ >= kMaxDepth) return fail("expression nested deeper than " + std::to_string(kMaxDepth) + " levels");
    struct Deeper {
      int& d;
      explicit Deeper(int& depth) : d(++depth) {}
      ~Deeper() { --d; }
    } deeper(depth_);
    if (keyword("not")) {
      auto inner = parse_not();
      if (!inner.ok()) return inner;
      RuleExpr e;
      e.op = RuleExpr::Op::Not;
      e.children.push_back(std::move(inner.value()));
      return e;
    }
    skip_space();
    if (at_ < text_.size() && text_[at_] == '(') {
      ++at_;
      auto inner = parse_or();
      if (!inner.ok()) return inner;
      skip_space();
      if (at_ >= text_.size() || text_[at_] != ')') return fail("expected ')'");
      ++at_;
      return inner;
    }
    return parse_comparison();
  }

  Result<RuleExpr> parse_comparison() {
    using M = RuleExpr::Metric;
    RuleExpr e;
    skip_space();
    const size_t metric_at = at_;
    std::string name;
    while (at_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[at_])) || text_[at_] == '_')) {
      name += text_[at_++];
    }
    static const std::unordered_map<std::string, M> plain = {{"events", M::Events},
                                                             {"purchases", M::Purchases},
                                                             {"revenue", M::Revenue},
                                                             {"days_since_last_event", M::DaysSinceEvent},
                                                             {"days_since_last_purchase", M::DaysSincePurchase},
                                                             {"r", M::R},
                                                             {"f", M::F},
                                                             {"m", M::M},
                                                             {"clv", M::Clv},
                                                             {"p_alive", M::PAlive},
                                                             {"expected_purchases", M::ExpectedPurchases}};
    static const std::unordered_map<std::string, M> with_argument = {
        {"channel", M::Channel}, {"event", M::EventName}, {"campaign", M::Campaign}, {"property", M::Property}};
    if (auto it = with_argument.find(name); it != with_argument.end() && at_ < text_.size() && text_[at_] == '.') {
      ++at_;
      e.metric = it->second;
      if (at_ < text_.size() && text_[at_] == '"') {  // a quoted name may hold anything but a quote
        const size_t close = text_.find('"', at_ + 1);
        if (close == std::string_view::npos) return fail("unterminated quoted name");
        e.argument = std::string(text_.substr(at_ + 1, close - at_ - 1));
        at_ = close + 1;
      } else {
        e.argument = word();
      }
      if (e.argument.empty()) return fail("expected a name after '" + name + ".'");
      if (e.metric == M::Channel) {
        const std::string wanted = lower(e.argument);
        bool found = false;
        for (int c = 1; c <= static_cast<int>(w::Channel::MAX); ++c) {
          if (lower(w::EnumNameChannel(static_cast<w::Channel>(c))) == wanted) {
            e.channel = static_cast<uint8_t>(c);
            found = true;
          }
        }
        if (!found) {
          std::string list;
          for (int c = 1; c <= static_cast<int>(w::Channel::MAX); ++c) {
            list += (c > 1 ? ", " : "") + lower(w::EnumNameChannel(static_cast<w::Channel>(c)));
          }
          return fail("unknown channel '" + e.argument + "' (" + list + ")");
        }
      }
    } else if (auto p = plain.find(name); p != plain.end()) {
      e.metric = p->second;
    } else {
      at_ = metric_at;
      return fail(name.empty() ? "expected a metric" : "unknown metric '" + name + "'");
    }
    if (at_ < text_.size() && text_[at_] == '[') {  // [Nd]: the last N days
      const bool countable = e.metric == M::Events || e.metric == M::Purchases || e.metric == M::Revenue ||
                             e.metric == M::Channel || e.metric == M::EventName || e.metric == M::Campaign ||
                             e.metric == M::Property;
      if (!countable) return fail("a [Nd] window applies to counts and revenue only");
      const size_t close = text_.find("d]", at_);
      const std::string days =
          close == std::string_view::npos ? "" : std::string(text_.substr(at_ + 1, close - at_ - 1));
      char* end = nullptr;
      const long long n = days.empty() ? 0 : std::strtoll(days.c_str(), &end, 10);
      if (days.empty() || *end != '\0' || n < 1 || n > 36500) return fail("a window is [Nd] with N from 1 to 36500");
      e.window_days = n;
      at_ = close + 2;
    }
    skip_space();
    static const std::pair<std::string_view, RuleExpr::Op> ops[] = {
        {"<=", RuleExpr::Op::LessEq}, {">=", RuleExpr::Op::GreaterEq}, {"!=", RuleExpr::Op::NotEqual},
        {"<", RuleExpr::Op::Less},    {">", RuleExpr::Op::Greater},    {"=", RuleExpr::Op::Equal}};
    bool have_op = false;
    for (const auto& [text, op] : ops) {
      if (text_.substr(at_, text.size()) == text) {
        e.op = op;
        at_ += text.size();
        have_op = true;
        break;
      }
    }
    if (!have_op) return fail("expected a comparison (< <= > >= = !=)");
    skip_space();
    if (e.metric == M::Property) {
      auto literal = parse_property_value(e);
      if (!literal.ok()) return literal.status();
      if (literal.value()) return e;
    }
    const size_t start = at_;
    while (at_ < text_.size() && (std::isdigit(static_cast<unsigned char>(text_[at_])) || text_[at_] == '.' ||
                                  (at_ == start && text_[at_] == '-'))) {
      ++at_;
    }
    const std::string number(text_.substr(start, at_ - start));
    char* end = nullptr;
    e.value = number.empty() ? 0 : std::strtod(number.c_str(), &end);
    if (number.empty() || *end != '\0' || !std::isfinite(e.value)) {
      at_ = start;
      return fail("expected a number");
    }
    return e;
  }

  // A property compares with a "string" or true/false (only = and !=), or a number (below): true
  // when the value was one of the first two.
  Result<bool> parse_property_value(RuleExpr& e) {
    const bool equality = e.op == RuleExpr::Op::Equal || e.op == RuleExpr::Op::NotEqual;
    if (at_ < text_.size() && text_[at_] == '"') {
      const size_t close = text_.find('"', at_ + 1);
      if (close == std::string_view::npos) return fail("unterminated string");
      if (!equality) return fail("a string compares with = or != only");
      e.kind = RuleExpr::Kind::Text;
      e.text = std::string(text_.substr(at_ + 1, close - at_ - 1));
      at_ = close + 1;
      return true;
    }
    for (const bool b : {true, false}) {
      if (keyword(b ? "true" : "false")) {
        if (!equality) return fail("true and false compare with = or != only");
        e.kind = RuleExpr::Kind::Bool;
        e.flag = b;
        return true;
      }
    }
    return false;
  }

  std::string_view text_;
  size_t at_ = 0;
  int depth_ = 0;
};

struct ProfileFacts {
  std::span<const AnalyticsEvent> events;
  const RfmScore* rfm = nullptr;
  const std::string* currency = nullptr;
  const Money* money = nullptr;  // of `currency`: revenue compares in major units
  int64_t as_of_ms = 0;
  const ClvCustomer* clv = nullptr;  // with a prediction, when a rule asks for one
  double clv_major = 0;              // its CLV in major units
  // Each event's properties, parsed when a property rule first needs them.
  mutable std::vector<std::optional<nlohmann::json>> properties;
  const nlohmann::json& properties_of(size_t i) const {
    if (properties.empty()) properties.resize(events.size());
    if (!properties[i]) {
      const std::string& text = events[i].properties;
      properties[i] = text.empty() ? nlohmann::json::object() : nlohmann::json::parse(text, nullptr, false);
    }
    return *properties[i];
  }
};

bool compare(RuleExpr::Op op, double v, double want) {
  using Op = RuleExpr::Op;
  switch (op) {
    case Op::Less: return v < want;
    case Op::LessEq: return v <= want;
    case Op::Greater: return v > want;
    case Op::GreaterEq: return v >= want;
    case Op::Equal: return v == want;
    default: return v != want;
  }
}

// One property value against the rule's literal; a value of another type never matches.
bool property_matches(const RuleExpr& e, const nlohmann::json& v) {
  const bool equal = e.op == RuleExpr::Op::Equal;
  switch (e.kind) {
    case RuleExpr::Kind::Text: return v.is_string() && (v.get_ref<const std::string&>() == e.text) == equal;
    case RuleExpr::Kind::Bool: return v.is_boolean() && (v.get<bool>() == e.flag) == equal;
    default: return v.is_number() && compare(e.op, v.get<double>(), e.value);
  }
}

// Some event up to the report time (and in the window) carries the property with a matching value.
bool some_event_has(const RuleExpr& e, const ProfileFacts& f) {
  const int64_t since = e.window_days > 0 ? f.as_of_ms - e.window_days * static_cast<int64_t>(kDayMs) : INT64_MIN;
  for (size_t i = 0; i < f.events.size(); ++i) {
    const AnalyticsEvent& x = f.events[i];
    if (x.time_ms < since || x.properties.empty() || !is_customer_action(x)) continue;
    const nlohmann::json& props = f.properties_of(i);
    if (!props.is_object()) continue;
    const auto it = props.find(e.argument);
    if (it != props.end() && property_matches(e, *it)) return true;
  }
  return false;
}

double metric_value(const RuleExpr& e, const ProfileFacts& f) {
  using M = RuleExpr::Metric;
  const auto is_purchase = [](const AnalyticsEvent& x) {
    return x.type == static_cast<uint8_t>(w::EventType::Purchase);
  };
  constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();  // compares false
  switch (e.metric) {
    case M::Clv: return f.clv ? f.clv_major : kUnknown;
    case M::PAlive: return f.clv ? f.clv->p_alive : kUnknown;
    case M::ExpectedPurchases: return f.clv ? f.clv->expected_purchases : kUnknown;
    case M::R: return f.rfm ? f.rfm->r : 0;
    case M::F: return f.rfm ? f.rfm->f : 0;
    case M::M: return f.rfm ? f.rfm->m : 0;
    case M::DaysSinceEvent:
    case M::DaysSincePurchase: {
      for (auto it = f.events.rbegin(); it != f.events.rend(); ++it) {
        if (!is_customer_action(*it) || (e.metric == M::DaysSincePurchase && !is_purchase(*it))) continue;
        return static_cast<double>(f.as_of_ms - it->time_ms) / kDayMs;
      }
      return std::numeric_limits<double>::infinity();
    }
    default: break;
  }
  const int64_t since = e.window_days > 0 ? f.as_of_ms - e.window_days * static_cast<int64_t>(kDayMs) : INT64_MIN;
  double total = 0;
  for (const AnalyticsEvent& x : f.events) {
    if (x.time_ms < since || !is_customer_action(x)) continue;
    switch (e.metric) {
      case M::Events: total += 1; break;
      case M::Purchases: total += is_purchase(x) ? 1 : 0; break;
      case M::Revenue:
        if (is_purchase(x) && x.revenue_minor && x.currency == *f.currency)
          total += static_cast<double>(*x.revenue_minor);
        break;
      case M::Channel: total += x.channel == e.channel ? 1 : 0; break;
      case M::EventName: total += x.name == e.argument ? 1 : 0; break;
      case M::Campaign:
        total += x.campaign.compare(0, x.campaign.find(" / "), e.argument) == 0 && !x.campaign.empty() ? 1 : 0;
        break;
      default: break;
    }
  }
  return e.metric == M::Revenue && f.money != nullptr ? f.money->major(total) : total;
}

bool matches(const RuleExpr& e, const ProfileFacts& f) {
  using Op = RuleExpr::Op;
  switch (e.op) {
    case Op::Or:
      return std::any_of(e.children.begin(), e.children.end(), [&](const RuleExpr& c) { return matches(c, f); });
    case Op::And:
      return std::all_of(e.children.begin(), e.children.end(), [&](const RuleExpr& c) { return matches(c, f); });
    case Op::Not: return !matches(e.children.front(), f);
    default: break;
  }
  if (e.metric == RuleExpr::Metric::Property) return some_event_has(e, f);
  return compare(e.op, metric_value(e, f), e.value);
}

}  // namespace

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  return s;
}

// `name: expression` of a segment or a goal (`what`), the name checked and the expression parsed.
Result<RuleSegment> parse_named_rule(std::string_view spec, const std::string& what) {
  const size_t colon = spec.find(':');
  if (colon == std::string_view::npos) {
    return Error(Errc::invalid, what + " must be name: expression (got '" + std::string(spec) + "')");
  }
  const std::string_view name = trim(spec.substr(0, colon));
  if (!valid_segment_name(name)) {
    return Error(Errc::invalid,
                 what + " name '" + std::string(name) + "' must be 1-64 characters of a-z, 0-9, _ and -");
  }
  const std::string_view expression = trim(spec.substr(colon + 1));
  auto root = RuleParser(expression).parse();
  if (!root.ok()) return Error(Errc::invalid, what + " " + std::string(name) + ": " + root.status().message);
  return RuleSegment{std::string(name), std::string(expression),
                     std::make_shared<const RuleExpr>(std::move(root.value()))};
}

// What a goal may not ask, since it holds for one event on its own: "" when it asks none of it.
std::string not_for_one_event(const RuleExpr& e) {
  using M = RuleExpr::Metric;
  if (e.op == RuleExpr::Op::Or || e.op == RuleExpr::Op::And || e.op == RuleExpr::Op::Not) {
    for (const RuleExpr& c : e.children) {
      if (auto why = not_for_one_event(c); !why.empty()) return why;
    }
    return "";
  }
  if (e.window_days > 0) return "a goal holds for one event: no [Nd] windows";
  const bool per_event = e.metric == M::Events || e.metric == M::Purchases || e.metric == M::Channel ||
                         e.metric == M::EventName || e.metric == M::Campaign || e.metric == M::Property;
  if (!per_event) {
    return "a goal holds for one event: it can ask events, purchases, channel.<c>, event.<name>, "
           "campaign.<source> and property.<key>";
  }
  return "";
}

}  // namespace

Result<RuleSegment> parse_rule_segment(std::string_view spec) {
  auto rule = parse_named_rule(spec, "segment");
  if (!rule.ok()) return rule;
  const std::string& name = rule.value().name;
  if (std::find(std::begin(kRfmNames), std::end(kRfmNames), name) != std::end(kRfmNames)) {
    return Error(Errc::invalid, "segment name '" + name + "' is an RFM segment's");
  }
  return rule;
}

Result<ConversionGoal> parse_conversion_goal(std::string_view spec) {
  auto rule = parse_named_rule(spec, "conversion goal");
  if (!rule.ok()) return rule.status();
  if (auto why = not_for_one_event(*rule.value().root); !why.empty()) {
    return Error(Errc::invalid, "conversion goal " + rule.value().name + ": " + why);
  }
  return ConversionGoal{std::move(rule.value().name), std::move(rule.value().expression), std::move(rule.value().root)};
}

const ConversionGoal& purchase_goal() {
  static const ConversionGoal goal = parse_conversion_goal("purchase: purchases >= 1").value();
  return goal;
}

bool reaches_goal(const ConversionGoal& goal, const AnalyticsEvent& e) {
  static const std::string no_currency;
  ProfileFacts facts{std::span<const AnalyticsEvent>(&e, 1), nullptr, &no_currency, nullptr, e.time_ms, nullptr, 0, {}};
  return matches(*goal.root, facts);
}

namespace {

// Whether the rule asks for the lifetime-value forecast.
bool uses_clv(const RuleExpr& e) {
  using M = RuleExpr::Metric;
  if (e.op == RuleExpr::Op::Or || e.op == RuleExpr::Op::And || e.op == RuleExpr::Op::Not) {
    return std::any_of(e.children.begin(), e.children.end(), uses_clv);
  }
  return e.metric == M::Clv || e.metric == M::PAlive || e.metric == M::ExpectedPurchases;
}

// Each predicted customer's forecast by profile, as of the day of `as_of_ms` (UTC, as segments count
// days); nothing when no rule asks for it.
Result<std::unordered_map<int64_t, ClvCustomer>> forecasts(AnalyticsScan& store, int64_t as_of_ms,
                                                           const std::string& currency,
                                                           const std::vector<RuleSegment>& rules) {
  std::unordered_map<int64_t, ClvCustomer> out;
  if (std::none_of(rules.begin(), rules.end(), [](const RuleSegment& r) { return uses_clv(*r.root); })) return out;
  ClvQuery q;
  q.as_of_day = Calendar().day_of(as_of_ms);
  q.currency = currency;
  auto report = clv_report(store, q);
  if (!report.ok()) return report.status();
  for (const ClvCustomer& c : report.value().ranked) {
    if (c.predicted) out.emplace(c.profile, c);
  }
  return out;
}

}  // namespace

Result<SegmentSet> compute_segments(AnalyticsScan& store, int64_t as_of_ms, const std::string& currency,
                                    const std::vector<RuleSegment>& rules) {
  auto log = purchases_by_profile(store, as_of_ms, currency);
  if (!log.ok()) return log.status();
  const std::vector<RfmScore> scores = rfm_from_log(log.value(), as_of_ms);
  SegmentSet set;
  set.as_of_ms = as_of_ms;
  set.customers = scores.size();
  set.members = rfm_segments(scores);
  if (rules.empty()) return set;
  std::unordered_map<int64_t, const RfmScore*> rfm_of;
  for (const RfmScore& s : scores) rfm_of[s.input.profile] = &s;
  const std::string& revenue_currency = log.value().currency;
  auto clv = forecasts(store, as_of_ms, revenue_currency, rules);
  if (!clv.ok()) return clv.status();
  const Money money(revenue_currency);
  for (const RuleSegment& r : rules) {
    set.rules[r.name] = r.expression;
    set.members[r.name];
  }
  Status s = store.for_each_profile(INT64_MIN, as_of_ms + 1, [&](int64_t profile, const auto& events) {
    const auto it = rfm_of.find(profile);
    ProfileFacts facts{
        events, it == rfm_of.end() ? nullptr : it->second, &revenue_currency, &money, as_of_ms, nullptr, 0, {}};
    if (const auto c = clv.value().find(profile); c != clv.value().end()) {
      facts.clv = &c->second;
      facts.clv_major = money.major(c->second.clv_minor);
    }
    for (const RuleSegment& r : rules) {
      if (matches(*r.root, facts)) set.members[r.name].push_back(profile);
    }
    return true;
  });
  if (!s.ok()) return s;
  return set;  // for_each_profile visits profiles in ascending order
}

}  // namespace waymark::collector::analytics
