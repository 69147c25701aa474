#include "api/query_api.hpp"

#include <charconv>
#include <chrono>
#include <cmath>
#include <algorithm>
#include <cctype>
#include <iomanip>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "analytics/funnels.hpp"
#include "analytics/reports.hpp"
#include "analytics/segments.hpp"
#include "analytics/spend.hpp"
#include "waymark/wire/v1/event_generated.h"
#include "common/wire/envelope.hpp"

namespace waymark::collector {

using nlohmann::json;
namespace w = waymark::wire::v1;

namespace {

constexpr int kDefaultPage = 100, kMaxPage = 1000;
constexpr std::string_view kErasureDomain = "waymark.erasure-receipt.v1\n";

std::string hex(const Bytes& b) {
  return detail::to_hex(b.data(), b.size());
}

std::optional<Bytes> unhex(std::string_view s, size_t len) {
  Bytes out(len);
  if (!detail::from_hex(s, out.data(), len)) return std::nullopt;
  return out;
}

// Text devices sent (names, properties) is stored as sent: bytes that are not UTF-8 are replaced in
// answers, never passed through (and never a reason to fail one).
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A query string's component: %XX is the byte XX and + a space (an escape that is not two hex digits
// stays as written).
std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto hex_digit = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) && hex_digit(s[i + 2])) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

ApiResponse problem(int status, std::string_view message) {
  return {status, "application/json", dump(json{{"error", message}, {"status", status}}) + "\n"};
}

ApiResponse ok(const json& j) {
  return {200, "application/json", dump(j) + "\n"};
}

ApiResponse store_failure() {
  return problem(503, "the store is unavailable; retry later");
}

json node_json(const ProfileNode& n) {
  json j{{"node_id", n.node_id}, {"kind", kind_name(n.kind)}, {"key", hex(n.key)}};
  if (n.blocked) j["blocked"] = true;
  return j;
}

json profile_json(const Profile& p) {
  json nodes = json::array();
  for (const auto& n : p.nodes) nodes.push_back(node_json(n));
  return {{"profile_id", p.profile_id},
          {"created_ms", p.created_ms},
          {"events", p.events},
          {"first_seen_ms", p.first_seen_ms},
          {"last_seen_ms", p.last_seen_ms},
          {"revenue_minor", p.revenue_minor},
          {"currencies", p.currencies},
          {"identifiers", nodes}};
}

json touchpoint_json(const Touchpoint& t) {
  json j{{"event_id", hex(t.event_id)},
         {"batch_id", hex(t.batch_id)},
         {"type", w::EnumNameEventType(static_cast<w::EventType>(t.type))},
         {"channel", w::EnumNameChannel(static_cast<w::Channel>(t.channel))},
         {"purpose", w::EnumNamePurpose(static_cast<w::Purpose>(t.purpose))},
         {"name", t.name},
         {"occurred_ms", t.occurred_ms},
         {"corrected_ms", t.corrected_ms},
         {"anchor_node", t.anchor_node}};
  if (t.revenue_minor) j["revenue"] = {{"amount_minor", *t.revenue_minor}, {"currency", t.currency}};
  if (!t.campaign_source.empty() || !t.campaign_medium.empty() || !t.campaign_name.empty() ||
      !t.campaign_content.empty()) {
    j["campaign"] = {{"source", t.campaign_source},
                     {"medium", t.campaign_medium},
                     {"name", t.campaign_name},
                     {"content", t.campaign_content}};
  }
  j["properties"] = t.properties.empty() ? json::object() : json::parse(t.properties, nullptr, false);
  j["source"] = {{"app_id", t.source.app_id},
                 {"platform", t.source.platform},
                 {"sdk_version", t.source.sdk_version},
                 {"device_model", t.source.device_model},
                 {"os_version", t.source.os_version}};
  return j;
}

json link_json(const LinkRecord& l) {
  json j{{"link_id", l.link_id},        {"a", nullptr},         {"b", l.b},       {"event_id", hex(l.event_id)},
         {"batch_id", hex(l.batch_id)}, {"time_ms", l.time_ms}, {"rule", l.rule}, {"outcome", l.outcome}};
  if (l.a) j["a"] = *l.a;
  if (l.revoked_ms) j["revoked_ms"] = *l.revoked_ms;
  return j;
}

std::optional<int64_t> parse_int(std::string_view s) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// A time parameter: Unix milliseconds, or a UTC date YYYY-MM-DD.
std::optional<int64_t> parse_time(const std::string& s) {
  if (s.size() == 10 && s[4] == '-' && s[7] == '-') {
    const auto y = parse_int(s.substr(0, 4)), m = parse_int(s.substr(5, 2)), d = parse_int(s.substr(8, 2));
    if (!y || !m || !d) return std::nullopt;
    const std::chrono::year_month_day ymd{std::chrono::year(static_cast<int>(*y)),
                                          std::chrono::month(static_cast<unsigned>(*m)),
                                          std::chrono::day(static_cast<unsigned>(*d))};
    if (!ymd.ok()) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::sys_days(ymd).time_since_epoch()).count();
  }
  return parse_int(s);
}

std::optional<double> parse_double(const std::string& s) {
  try {
    size_t used = 0;
    const double v = std::stod(s, &used);
    if (used != s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Year 1970 to 9999 in Unix ms: every time a report can mean, and none that overflows arithmetic on it.
constexpr int64_t kMaxTimeMs = 253402300799999;

// Numeric query parameters, each range-checked: the first one out of range or unreadable becomes
// a 400 that names it (lookback_days=1e12 used to overflow an int64 conversion).
class Params {
 public:
  explicit Params(const QueryParams& q) : q_(q) {}
  double number(const char* name, double fallback, double lo, double hi) {
    const auto it = q_.find(name);
    const auto v = it == q_.end() ? std::optional<double>(fallback) : parse_double(it->second);
    return check(name, v, lo, hi, fallback);
  }
  int64_t integer(const char* name, int64_t fallback, int64_t lo, int64_t hi) {
    const auto it = q_.find(name);
    const auto v = it == q_.end() ? std::optional<int64_t>(fallback) : parse_int(it->second);
    return check(name, v, lo, hi, fallback);
  }
  // Unix ms or YYYY-MM-DD, 1970 to 9999.
  int64_t time(const char* name, int64_t fallback) {
    const auto it = q_.find(name);
    const auto v = it == q_.end() ? std::optional<int64_t>(fallback) : parse_time(it->second);
    if (!v || *v < 0 || *v > kMaxTimeMs) fail(std::string(name) + " must be Unix ms or YYYY-MM-DD, 1970 to 9999");
    return v && !error_ ? *v : fallback;
  }
  // A calendar day: YYYY-MM-DD as written, or Unix ms as the day it falls on in `calendar`; today there
  // when absent.
  int64_t day(const char* name, const analytics::Calendar& calendar, int64_t now_ms) {
    const auto it = q_.find(name);
    if (it == q_.end()) return calendar.day_of(now_ms);
    if (auto d = analytics::Calendar::parse_day(it->second)) return *d;
    const auto ms = parse_time(it->second);
    if (ms && *ms >= 0 && *ms <= kMaxTimeMs) return calendar.day_of(*ms);
    fail(std::string(name) + " must be a day (YYYY-MM-DD) or Unix ms, 1970 to 9999");
    return 0;
  }
  // A day written YYYY-MM-DD, or `fallback` when absent.
  int64_t day_or(const char* name, int64_t fallback) {
    const auto it = q_.find(name);
    if (it == q_.end()) return fallback;
    if (auto d = analytics::Calendar::parse_day(it->second)) return *d;
    fail(std::string(name) + " must be a day, YYYY-MM-DD");
    return fallback;
  }
  // Fails on a parameter the route does not take: a typo (modle=linear) must not be silently ignored.
  void only(std::initializer_list<std::string_view> known) {
    for (const auto& [name, value] : q_) {
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        std::string list;
        for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        fail("unknown parameter " + name + " (this report takes " + list + ")");
      }
    }
  }
  // The 400 for the first bad parameter, if any.
  std::optional<ApiResponse> error() const {
    if (!error_) return std::nullopt;
    return problem(400, *error_);
  }

 private:
  template <class T>
  T check(const char* name, std::optional<T> v, T lo, T hi, T fallback) {
    if (v && *v >= lo && *v <= hi) return *v;
    std::ostringstream m;
    m << name << " must be a number from " << lo << " to " << hi;
    fail(m.str());
    return fallback;
  }
  void fail(std::string message) {
    if (!error_) error_ = std::move(message);
  }
  const QueryParams& q_;
  std::optional<std::string> error_;
};

std::string param(const QueryParams& q, const char* name, const std::string& fallback = "") {
  auto it = q.find(name);
  return it == q.end() ? fallback : it->second;
}

json privacy_json(const ReportPrivacy& p) {
  json j{{"k", p.k}};
  if (p.epsilon > 0) {
    j["noise"] = {
        {"mechanism", "laplace"}, {"epsilon", p.epsilon}, {"sensitivity", 1}, {"applies_to", "profile counts"}};
  }
  return j;
}

}  // namespace

// A CSV field (RFC 4180). Keys come from devices: one that a spreadsheet would run as a formula
// (leading = + - @, tab or carriage return) gets a leading apostrophe (OWASP's advice).
std::string csv_field(const std::string& s) {
  const bool formula = !s.empty() && std::string_view("=+-@\t\r").find(s.front()) != std::string_view::npos;
  const std::string v = formula ? "'" + s : s;
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::array<uint8_t, 32> report_noise_key(const uint8_t* rekey_secret) {
  constexpr std::string_view kDomain = "waymark.report-noise.v1";
  std::array<uint8_t, 32> key{};
  crypto_generichash(key.data(), key.size(), reinterpret_cast<const uint8_t*>(kDomain.data()), kDomain.size(),
                     rekey_secret, 32);
  return key;
}

int64_t released_count(int64_t count, const ReportPrivacy& privacy, std::string_view statistic) {
  if (privacy.epsilon <= 0) return count;
  // 64 pseudo-random bits from the key, the statistic's name and its true value.
  std::string input(statistic);
  input.push_back('\0');
  for (int i = 0; i < 8; ++i) input.push_back(static_cast<char>(static_cast<uint64_t>(count) >> (8 * i)));
  uint64_t bits = 0;
  crypto_generichash(reinterpret_cast<uint8_t*>(&bits), sizeof bits, reinterpret_cast<const uint8_t*>(input.data()),
                     input.size(), privacy.noise_key.data(), privacy.noise_key.size());
  // Inverse CDF of Laplace(0, 1/epsilon) at u uniform in (-1/2, 1/2), from 53 of those bits.
  const double u = (static_cast<double>(bits >> 11) + 0.5) / 9007199254740992.0 - 0.5;
  const double noise = -(u < 0 ? -1.0 : 1.0) * std::log(1 - 2 * std::fabs(u)) / privacy.epsilon;
  return std::max<int64_t>(0, std::llround(static_cast<double>(count) + noise));
}

namespace {

// The goal named `name`: a configured one, else the built-in "purchase".
const analytics::ConversionGoal* find_goal(const ReportSettings& settings, const std::string& name) {
  for (const auto& g : settings.goals) {
    if (g.name == name) return &g;
  }
  return name == "purchase" ? &analytics::purchase_goal() : nullptr;
}

// Cost and what it returned (cost and revenue are in one currency, add_spend): ROAS (revenue / cost),
// ROMI ((revenue - cost) / cost) and cost per acquisition, null where they would divide by zero.
void add_returns(json& j, double conversions, double revenue_minor, double cost_minor, const analytics::Money& money) {
  j["cost"] = money.major(cost_minor);
  j["roas"] = cost_minor > 0 ? json(revenue_minor / cost_minor) : json(nullptr);
  j["romi"] = cost_minor > 0 ? json((revenue_minor - cost_minor) / cost_minor) : json(nullptr);
  j["cpa"] = conversions > 0 ? json(money.major(cost_minor / conversions)) : json(nullptr);
}

// What the attribution report takes; top paths take a part of it.
const std::initializer_list<std::string_view> kAttributionParams = {"model",         "by",
                                                                    "goal",          "segment",
                                                                    "from",          "to",
                                                                    "lookback_days", "half_life_days",
                                                                    "order",         "session_minutes",
                                                                    "currency",      "conversion_touch",
                                                                    "format"};

// The attribution query the URL asks for (a report taking the parameters `known`), or the 400 that says
// what is wrong with it.
std::optional<ApiResponse> read_attribution_query(const QueryParams& query, const ReportSettings& settings,
                                                  int64_t now_ms, analytics::AttributionQuery& q,
                                                  std::initializer_list<std::string_view> known = kAttributionParams) {
  q.k = settings.privacy.k;
  Params p(query);
  p.only(known);
  if (auto bad = p.error()) return bad;
  const auto model = analytics::model_from_name(param(query, "model", "markov"));
  if (!model)
    return problem(400, "model must be first_touch, last_touch, linear, time_decay, position_based or markov");
  q.model = *model;
  const auto by = analytics::attribute_by_from_name(param(query, "by", "channel"));
  if (!by) {
    return problem(400, "by must be channel, channel_group, campaign, campaign_source, device_type or segment");
  }
  q.by = *by;
  const auto* goal = find_goal(settings, param(query, "goal", "purchase"));
  if (goal == nullptr) {
    std::string names = "purchase";
    for (const auto& g : settings.goals) names += g.name == "purchase" ? "" : ", " + g.name;
    return problem(400, "goal must be one of the configured conversion goals: " + names);
  }
  q.goal = *goal;
  q.segment = param(query, "segment");
  const std::string touch = param(query, "conversion_touch", "exclude");
  if (touch != "exclude" && touch != "include") return problem(400, "conversion_touch must be exclude or include");
  q.conversion_is_touch = touch == "include";
  q.to_ms = p.time("to", now_ms);
  q.from_ms = p.time("from", now_ms - 30LL * 24 * 3600 * 1000);
  q.lookback_ms = static_cast<int64_t>(p.number("lookback_days", 30, 0.001, 3650) * 24 * 3600 * 1000);
  q.options.half_life_days = p.number("half_life_days", 7, 0.001, 3650);
  q.options.markov_order = static_cast<int>(p.integer("order", 1, 1, 4));
  q.session_gap_ms = static_cast<int64_t>(p.number("session_minutes", 30, 0, 7 * 24 * 60) * 60 * 1000);
  if (auto bad = p.error()) return bad;
  if (q.from_ms >= q.to_ms) return problem(400, "from must be before to");
  q.currency = param(query, "currency");
  return std::nullopt;
}

}  // namespace

ApiResponse attribution_response(Store& store, const QueryParams& query, const ReportSettings& settings,
                                 int64_t now_ms) {
  analytics::AttributionQuery q;
  if (auto bad = read_attribution_query(query, settings, now_ms, q)) return *bad;
  std::optional<analytics::SegmentSet> segments;
  if (q.by == analytics::AttributeBy::Segment || !q.segment.empty()) {  // members as of the window's end
    auto set = analytics::compute_segments(store, q.to_ms, settings.segment_currency, settings.segments);
    if (!set.ok()) return set.status().code == Errc::invalid ? problem(400, set.status().message) : store_failure();
    segments = std::move(set.value());
  }
  auto report = analytics::attribution_report(store, q, segments ? &*segments : nullptr);
  if (!report.ok()) {
    return report.status().code == Errc::invalid ? problem(400, report.status().message) : store_failure();
  }
  auto& r = report.value();
  if (!analytics::spend_level(q.by).empty()) {  // the spend of the window's days, in the brand's calendar
    auto spend = store.spend(settings.calendar.day_of(q.from_ms), settings.calendar.day_of(q.to_ms - 1) + 1);
    if (!spend.ok()) return store_failure();
    analytics::add_spend(r, spend.value());
  }
  const ReportPrivacy& privacy = settings.privacy;
  const std::string by = param(query, "by", "channel");
  const analytics::Money money(r.currency), cost_money(r.cost_currency);
  const auto profiles = [&](const analytics::AttributionRow& row) {
    return released_count(row.profiles, privacy, "attribution.row." + by + "." + row.key);
  };
  if (param(query, "format", "json") == "csv") {
    std::string csv = by + ",conversions,revenue,profiles\n";
    for (const auto& row : r.rows) {
      std::ostringstream line;
      line << csv_field(row.key) << "," << std::to_string(row.conversions) << "," << std::fixed
           << std::setprecision(money.digits()) << money.major(row.revenue_minor) << "," << profiles(row) << "\n";
      csv += line.str();
    }
    return {200, "text/csv", csv};
  }
  json rows = json::array();
  for (const auto& row : r.rows) {
    json j{{"key", row.key},
           {"conversions", row.conversions},
           {"revenue", money.major(row.revenue_minor)},
           {"profiles", profiles(row)}};
    if (r.costed) add_returns(j, row.conversions, row.revenue_minor, row.cost_minor, cost_money);
    rows.push_back(std::move(j));
  }
  json totals{{"conversions", r.conversions},
              {"revenue", money.major(r.revenue_minor)},
              {"paths", r.paths},
              {"profiles", released_count(r.profiles, privacy, "attribution.profiles")}};
  if (r.costed) add_returns(totals, r.conversions, r.revenue_minor, r.cost_minor, cost_money);
  return ok({{"model", analytics::model_name(q.model)},
             {"by", by},
             {"goal", q.goal.name},
             {"segment", q.segment.empty() ? json(nullptr) : json(q.segment)},
             {"from_ms", q.from_ms},
             {"to_ms", q.to_ms},
             {"currency", r.currency},
             {"privacy", privacy_json(privacy)},
             {"cost_currency", r.costed ? json(r.cost_currency) : json(nullptr)},
             {"totals", totals},
             {"suppressed_rows", r.suppressed},
             {"rows", rows}});
}

namespace {

// Funnel steps, comma-separated: each a configured conversion goal, "purchase", or else an event name.
std::optional<std::vector<analytics::ConversionGoal>> funnel_steps(const std::string& list,
                                                                   const ReportSettings& settings) {
  std::vector<analytics::ConversionGoal> steps;
  for (size_t at = 0; at <= list.size();) {
    const size_t comma = std::min(list.find(',', at), list.size());
    const std::string name = list.substr(at, comma - at);
    at = comma + 1;
    if (name.empty() || name.find('"') != std::string::npos) return std::nullopt;
    if (const auto* goal = find_goal(settings, name)) {
      steps.push_back(*goal);
      continue;
    }
    auto event = analytics::parse_conversion_goal("step: event.\"" + name + "\" >= 1");
    if (!event.ok()) return std::nullopt;
    event.value().name = name;
    steps.push_back(std::move(event.value()));
  }
  return steps;
}

json funnel_row_json(const analytics::FunnelRow& row, const analytics::FunnelQuery& q, const ReportPrivacy& privacy) {
  json steps = json::array();
  const std::string prefix = "funnel." + (row.channel_group.empty() ? "total" : row.channel_group) + ".";
  int64_t previous = 0;
  for (size_t i = 0; i < row.reached.size(); ++i) {
    const int64_t n = released_count(row.reached[i], privacy, prefix + std::to_string(i));
    const auto share = [&](int64_t of) {
      return of > 0 ? json(static_cast<double>(n) / static_cast<double>(of)) : json(nullptr);
    };
    const int64_t entered = i == 0 ? n : steps[0].at("customers").get<int64_t>();
    steps.push_back({{"step", q.steps[i].name},
                     {"customers", n},
                     {"conversion_from_previous", i == 0 ? json(1.0) : share(previous)},
                     {"conversion_from_entry", share(entered)},
                     {"dropped", i == 0 ? 0 : std::max<int64_t>(0, previous - n)},
                     {"median_hours_from_entry", row.reached[i] > 0 ? json(row.median_hours[i]) : json(nullptr)}});
    previous = n;
  }
  return steps;
}

}  // namespace

ApiResponse funnel_response(AnalyticsScan& store, const QueryParams& query, const ReportSettings& settings,
                            int64_t now_ms) {
  Params p(query);
  p.only({"steps", "order", "within_days", "from", "to", "session_minutes"});
  analytics::FunnelQuery q;
  q.k = settings.privacy.k;
  q.to_ms = p.time("to", now_ms);
  q.from_ms = p.time("from", now_ms - 30LL * 24 * 3600 * 1000);
  q.within_ms = static_cast<int64_t>(p.number("within_days", 7, 0.001, 3650) * 24 * 3600 * 1000);
  q.session_gap_ms = static_cast<int64_t>(p.number("session_minutes", 30, 0, 7 * 24 * 60) * 60 * 1000);
  if (auto bad = p.error()) return *bad;
  if (q.from_ms >= q.to_ms) return problem(400, "from must be before to");
  const auto steps = funnel_steps(param(query, "steps"), settings);
  if (!steps || steps->size() > 10) {
    return problem(400, "steps must be 1 to 10 comma-separated goals or event names, e.g. steps=view,cart,purchase");
  }
  q.steps = *steps;
  const std::string order = param(query, "order", "sequence");
  if (order != "sequence" && order != "strict" && order != "any") {
    return problem(400, "order must be sequence, strict or any");
  }
  q.order = order == "strict" ? analytics::FunnelOrder::Strict
            : order == "any"  ? analytics::FunnelOrder::Any
                              : analytics::FunnelOrder::Sequence;
  auto report = analytics::funnel_report(store, q);
  if (!report.ok())
    return report.status().code == Errc::invalid ? problem(400, report.status().message) : store_failure();
  json groups = json::array();
  for (const auto& row : report.value().by_channel_group) {
    groups.push_back({{"channel_group", row.channel_group}, {"steps", funnel_row_json(row, q, settings.privacy)}});
  }
  return ok({{"order", order},
             {"within_days", static_cast<double>(q.within_ms) / (24.0 * 3600 * 1000)},
             {"from_ms", q.from_ms},
             {"to_ms", q.to_ms},
             {"privacy", privacy_json(settings.privacy)},
             {"steps", funnel_row_json(report.value().total, q, settings.privacy)},
             {"by_channel_group", groups},
             {"suppressed_groups", report.value().suppressed}});
}

ApiResponse paths_response(AnalyticsScan& store, const QueryParams& query, const ReportSettings& settings,
                           int64_t now_ms) {
  analytics::AttributionQuery q;
  if (auto bad = read_attribution_query(
          query, settings, now_ms, q,
          {"goal", "from", "to", "lookback_days", "session_minutes", "conversion_touch", "top"})) {
    return *bad;
  }
  q.by = analytics::AttributeBy::ChannelGroup;
  Params p(query);
  const int top = static_cast<int>(p.integer("top", 20, 1, 100));
  if (auto bad = p.error()) return *bad;
  auto report = analytics::top_paths_report(store, q, top);
  if (!report.ok())
    return report.status().code == Errc::invalid ? problem(400, report.status().message) : store_failure();
  json rows = json::array();
  for (const auto& row : report.value().rows) {
    rows.push_back({{"sequence", row.sequence},
                    {"conversions", row.conversions},
                    {"conversion_rate", row.conversion_rate},
                    {"profiles", released_count(row.profiles, settings.privacy, "paths." + row.sequence)}});
  }
  return ok({{"goal", q.goal.name},
             {"by", "channel_group"},
             {"from_ms", q.from_ms},
             {"to_ms", q.to_ms},
             {"privacy", privacy_json(settings.privacy)},
             {"totals", {{"conversions", report.value().conversions}}},
             {"suppressed_paths", report.value().suppressed},
             {"paths", rows}});
}

// What the store holds: every stored event (erased ones are gone), counted.
ApiResponse totals_response(QueryStore& store, const QueryParams& query) {
  Params p(query);
  p.only({});
  if (auto bad = p.error()) return *bad;
  auto events = store.event_count();
  if (!events.ok()) return store_failure();
  return ok({{"events", events.value()}});
}

namespace {

json fit_json(const analytics::FitCheck& c) {
  return {{"converged", c.converged},
          {"evaluations", c.evaluations},
          {"at_bounds", c.at_bounds},
          {"degenerate", c.degenerate.empty() ? json(nullptr) : json(c.degenerate)}};
}

// One customer's lifetime value, money in major units of the report's currency; predictions null
// without a forecast.
json clv_customer_json(const analytics::ClvCustomer& c, const analytics::Money& money) {
  const auto predicted = [&](double v) { return c.predicted ? json(v) : json(nullptr); };
  return {{"profile_id", c.profile},
          {"frequency", c.rfm.x},
          {"recency_weeks", c.rfm.t_x},
          {"age_weeks", c.rfm.T},
          {"historic", money.major(c.historic_minor)},
          {"p_alive", predicted(c.p_alive)},
          {"expected_purchases", predicted(c.expected_purchases)},
          {"expected_value", c.predicted ? json(money.major(c.expected_value_minor)) : json(nullptr)},
          {"clv", c.predicted ? json(money.major(c.clv_minor)) : json(nullptr)}};
}

// The fitted models, their checks and the totals over every customer: what both CLV answers start with.
json clv_head(const analytics::ClvReport& r, const analytics::ClvQuery& q, const analytics::Money& money,
              const ReportPrivacy& privacy) {
  json j{{"currency", r.currency},
         {"customers", r.customers},
         {"as_of", analytics::Calendar::format_day(q.as_of_day)},
         {"time_zone", q.calendar.zone()},
         {"months", q.periods},
         {"forecast", r.no_forecast.empty()},
         {"no_forecast", r.no_forecast.empty() ? json(nullptr) : json(r.no_forecast)},
         {"bgnbd", nullptr},
         {"gamma_gamma", nullptr}};
  if (r.bgnbd) {
    const auto& m = *r.bgnbd;
    j["bgnbd"] = {{"r", m.r},
                  {"alpha", m.alpha},
                  {"a", m.a},
                  {"b", m.b},
                  {"log_likelihood", m.log_likelihood},
                  {"fit", fit_json(m.check)}};
  }
  if (r.gamma_gamma) {
    const auto& m = *r.gamma_gamma;
    j["gamma_gamma"] = {
        {"p", m.p}, {"q", m.q}, {"v", m.v}, {"log_likelihood", m.log_likelihood}, {"fit", fit_json(m.check)}};
  }
  const bool forecast = r.no_forecast.empty();
  j["totals"] = {{"historic", money.major(r.historic_minor)},
                 {"expected_purchases", forecast ? json(r.expected_purchases) : json(nullptr)},
                 {"clv", forecast ? json(money.major(r.clv_minor)) : json(nullptr)}};
  json groups = json::array();
  for (const auto& a : r.by_acquisition) {
    groups.push_back({{"channel_group", a.channel_group},
                      {"customers", released_count(a.customers, privacy, "clv.acquisition." + a.channel_group)},
                      {"mean_clv", money.major(a.mean_clv_minor)},
                      {"median_clv", money.major(a.median_clv_minor)}});
  }
  j["by_acquisition"] = groups;
  return j;
}

}  // namespace

ApiResponse clv_response(AnalyticsScan& store, const QueryParams& query, const ReportSettings& settings, int64_t now_ms,
                         bool paged) {
  const ReportPrivacy& privacy = settings.privacy;
  const analytics::Calendar& calendar = settings.calendar;
  analytics::ClvQuery q;
  q.calendar = calendar;
  q.k = privacy.k;
  Params p(query);
  if (paged) {
    p.only({"as_of", "months", "monthly_discount", "currency", "limit", "after"});
  } else {
    p.only({"as_of", "months", "monthly_discount", "top", "currency"});
  }
  q.as_of_day = p.day("as_of", calendar, now_ms);
  q.periods = static_cast<int>(p.integer("months", 12, 1, 120));
  q.monthly_discount = p.number("monthly_discount", 0.01, 0, 1);
  const int64_t top = paged ? 0 : p.integer("top", 20, 0, kMaxPage);
  const int64_t limit = paged ? p.integer("limit", kDefaultPage, 1, kMaxPage) : 0;
  const int64_t after = paged ? p.integer("after", 0, 0, INT64_MAX) : 0;
  if (auto bad = p.error()) return *bad;
  q.currency = param(query, "currency");
  auto report = analytics::clv_report(store, q);
  if (!report.ok()) {
    return report.status().code == Errc::invalid ? problem(400, report.status().message) : store_failure();
  }
  auto& r = report.value();
  const analytics::Money money(r.currency);
  json j = clv_head(r, q, money, privacy), rows = json::array();
  if (!paged) {
    for (size_t i = 0; i < r.ranked.size() && static_cast<int64_t>(i) < top; ++i) {
      rows.push_back(clv_customer_json(r.ranked[i], money));
    }
    j["top"] = rows;
    return ok(j);
  }
  std::sort(r.ranked.begin(), r.ranked.end(), [](const auto& a, const auto& b) { return a.profile < b.profile; });
  auto c = std::upper_bound(r.ranked.begin(), r.ranked.end(), after,
                            [](int64_t id, const analytics::ClvCustomer& x) { return id < x.profile; });
  for (; c != r.ranked.end() && static_cast<int64_t>(rows.size()) < limit; ++c)
    rows.push_back(clv_customer_json(*c, money));
  j["profiles"] = rows;
  if (c != r.ranked.end()) j["next"] = std::to_string(rows.back().at("profile_id").get<int64_t>());
  return ok(j);
}

std::optional<ApiToken> parse_api_token(std::string_view spec, std::string* error) {
  const size_t a = spec.find(':'), b = a == std::string_view::npos ? a : spec.find(':', a + 1);
  if (b == std::string_view::npos) {
    *error = "api-token must be name:secret:scope[,scope...]";
    return std::nullopt;
  }
  ApiToken t{std::string(spec.substr(0, a)), std::string(spec.substr(a + 1, b - a - 1)), {}};
  if (t.name.empty() || t.secret.size() < 16) {
    *error = "api-token " + t.name + ": a name and a secret of at least 16 characters are required";
    return std::nullopt;
  }
  static const std::set<std::string> known = {"profiles:read", "profiles:export", "identity:write",
                                              "erasure:write", "reports:read",    "spend:write"};
  for (std::string_view rest = spec.substr(b + 1); !rest.empty();) {
    const size_t comma = rest.find(',');
    const std::string scope(rest.substr(0, comma));
    if (known.count(scope) == 0) {
      *error = "api-token " + t.name + ": unknown scope '" + scope + "'";
      return std::nullopt;
    }
    t.scopes.insert(scope);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  if (t.scopes.empty()) {
    *error = "api-token " + t.name + ": at least one scope is required";
    return std::nullopt;
  }
  return t;
}

struct QueryApi::Request {
  std::string method;
  std::vector<std::string> path;  // "/v1/profiles/7" -> {"v1", "profiles", "7"}
  QueryParams query;
  std::string body;
  const ApiToken* token = nullptr;
};

QueryApi::QueryApi(Store& store, std::vector<ApiToken> tokens, const uint8_t* rekey_secret, CollectorKey signing_key,
                   Metrics& metrics)
    : store_(store), tokens_(std::move(tokens)), signing_key_(signing_key), metrics_(metrics) {
  std::memcpy(rekey_.data(), rekey_secret, 32);
  reports_.privacy.noise_key = report_noise_key(rekey_secret);
}

void QueryApi::set_reports(ReportSettings settings) {
  reports_ = std::move(settings);
  reports_.privacy.noise_key = report_noise_key(rekey_.data());
}

std::optional<Key32> QueryApi::rekey(std::string_view hex_pseudonym) const {
  uint8_t raw[32];
  if (!detail::from_hex(hex_pseudonym, raw, sizeof raw)) return std::nullopt;
  return rekey_pseudonym(raw, rekey_.data());
}

std::optional<ApiResponse> QueryApi::handle(std::string_view method, std::string_view target,
                                            std::string_view authorization, std::string_view body, int64_t now_ms) {
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  if (path.substr(0, 4) != "/v1/") return std::nullopt;
  Request r;
  r.method = std::string(method);
  r.body = std::string(body);
  for (size_t at = 1; at <= path.size();) {
    const size_t slash = std::min(path.find('/', at), path.size());
    r.path.emplace_back(path.substr(at, slash - at));
    at = slash + 1;
  }
  if (r.path.size() < 2 ||
      (r.path[1] != "profiles" && r.path[1] != "erasure" && r.path[1] != "unmerge" && r.path[1] != "reports" &&
       r.path[1] != "segments" && r.path[1] != "devices" && r.path[1] != "spend")) {
    return std::nullopt;
  }
  for (std::string_view rest = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
       !rest.empty();) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const size_t eq = pair.find('=');
    r.query[url_decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
  }
  // Bearer token, compared in constant time through fixed-size digests.
  // The scheme is case-insensitive (RFC 9110 section 11.1).
  constexpr std::string_view kBearer = "bearer ";
  const auto scheme = authorization.substr(0, kBearer.size());
  if (std::equal(scheme.begin(), scheme.end(), kBearer.begin(), kBearer.end(),
                 [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; })) {
    const std::string_view presented = authorization.substr(kBearer.size());
    uint8_t want[32], got[32];
    crypto_generichash(got, sizeof got, reinterpret_cast<const uint8_t*>(presented.data()), presented.size(), nullptr,
                       0);
    for (const ApiToken& t : tokens_) {
      crypto_generichash(want, sizeof want, reinterpret_cast<const uint8_t*>(t.secret.data()), t.secret.size(), nullptr,
                         0);
      if (sodium_memcmp(want, got, sizeof want) == 0) r.token = &t;
    }
  }
  ApiResponse res;
  if (r.path[1] == "devices") {  // authenticated by the device's own key, not a bearer token
    res = r.path.size() == 3 && r.path[2] == "segments" ? device_segments(r, now_ms) : problem(404, "no such route");
  } else {
    res = r.token == nullptr ? problem(401, "a valid bearer token is required") : route(r, now_ms);
  }
  res.route = "/v1/" + r.path[1];  // counted by the server once answered (Metrics::request)
  return res;
}

ApiResponse QueryApi::route(const Request& r, int64_t now_ms) {
  const auto need = [&](const char* scope) { return r.token->scopes.count(scope) != 0; };
  const std::string& resource = r.path[1];
  if (resource == "erasure" && r.path.size() == 2) {
    if (r.method != "POST") return problem(405, "use POST");
    return need("erasure:write") ? erasure(r, now_ms) : problem(403, "the token lacks the erasure:write scope");
  }
  if (resource == "unmerge" && r.path.size() == 2) {
    if (r.method != "POST") return problem(405, "use POST");
    return need("identity:write") ? unmerge(r, now_ms) : problem(403, "the token lacks the identity:write scope");
  }
  if (resource == "reports" && r.path.size() == 4 && r.path[2] == "clv" && r.path[3] == "customers") {
    if (r.method != "GET") return problem(405, "use GET");
    if (!need("reports:read")) return problem(403, "the token lacks the reports:read scope");
    return clv_response(store_, r.query, reports_, now_ms, true);
  }
  if (resource == "reports" && r.path.size() == 3) {
    if (r.method != "GET") return problem(405, "use GET");
    if (!need("reports:read")) return problem(403, "the token lacks the reports:read scope");
    if (r.path[2] == "attribution") return attribution_response(store_, r.query, reports_, now_ms);
    if (r.path[2] == "clv") return clv_response(store_, r.query, reports_, now_ms, false);
    if (r.path[2] == "totals") return totals_response(store_, r.query);
    if (r.path[2] == "funnel") return funnel_response(store_, r.query, reports_, now_ms);
    if (r.path[2] == "paths") return paths_response(store_, r.query, reports_, now_ms);
    return problem(404, "no such report");
  }
  if (resource == "spend" && r.path.size() == 2) {
    if (r.method == "POST") {
      return need("spend:write") ? import_spend(r, now_ms) : problem(403, "the token lacks the spend:write scope");
    }
    if (r.method != "GET") return problem(405, "use GET or POST");
    return need("reports:read") ? spend_response(r, now_ms) : problem(403, "the token lacks the reports:read scope");
  }
  if (resource == "segments" && r.path.size() <= 3) {
    if (r.method != "GET") return problem(405, "use GET");
    if (!need("reports:read")) return problem(403, "the token lacks the reports:read scope");
    return segments_response(r, now_ms);
  }
  if (resource != "profiles" || r.path.size() > 4) return problem(404, "no such route");
  if (r.method != "GET") return problem(405, "use GET");
  const std::string sub = r.path.size() == 4 ? r.path[3] : "";
  if (!need(sub == "export" ? "profiles:export" : "profiles:read")) {
    return problem(
        403, sub == "export" ? "the token lacks the profiles:export scope" : "the token lacks the profiles:read scope");
  }
  Params p(r.query);
  const int limit = static_cast<int>(p.integer("limit", kDefaultPage, 1, kMaxPage));
  if (auto bad = p.error()) return *bad;
  const std::string after = r.query.count("after") != 0 ? r.query.at("after") : "";

  if (r.path.size() == 2) {  // lookup by pseudonym, or the list of profiles
    if (auto it = r.query.find("pseudonym"); it != r.query.end()) {
      const auto key = rekey(it->second);
      if (!key) return problem(400, "pseudonym must be 64 hex characters");
      auto found = store_.profile_of(key->data(), key->size());
      if (!found.ok()) return store_failure();
      if (!found.value()) return problem(404, "no profile holds this identifier");
      return ok({{"profile_id", *found.value()}});
    }
    auto page = store_.profiles(after, limit);
    if (!page.ok()) return page.status().code == Errc::invalid ? problem(400, "bad cursor") : store_failure();
    json j{{"profiles", page.value().ids}};
    if (!page.value().next.empty()) j["next"] = page.value().next;
    return ok(j);
  }
  const auto id = parse_int(r.path[2]);
  if (!id || *id <= 0) return problem(404, "no such profile");
  if (sub.empty()) {
    auto p = store_.profile(*id);
    if (!p.ok()) return store_failure();
    if (!p.value()) return problem(404, "no such profile");
    return ok(profile_json(*p.value()));
  }
  if (sub == "journey") {
    auto page = store_.journey(*id, after, limit);
    if (!page.ok()) return page.status().code == Errc::invalid ? problem(400, "bad cursor") : store_failure();
    json items = json::array();
    for (const auto& t : page.value().items) items.push_back(touchpoint_json(t));
    json j{{"profile_id", *id}, {"touchpoints", items}};
    if (!page.value().next.empty()) j["next"] = page.value().next;
    return ok(j);
  }
  if (sub == "explain") {
    auto x = store_.explain(*id);
    if (!x.ok()) return store_failure();
    if (!x.value()) return problem(404, "no such profile");
    json links = json::array();
    for (const auto& l : x.value()->links) links.push_back(link_json(l));
    json j = profile_json(x.value()->profile);
    j["links"] = links;
    return ok(j);
  }
  if (sub == "export") return export_profile(*id);
  return problem(404, "no such route");
}

// Marketing spend, imported as CSV or JSON (spend.hpp): each day and level in the body replaces what was
// imported for it before, all rows or none.
ApiResponse QueryApi::import_spend(const Request& r, int64_t now_ms) {
  if (read_only_) return problem(421, "this node reads a replica (role query): send spend to the merger");
  Params p(r.query);
  p.only({});
  if (auto bad = p.error()) return *bad;
  constexpr size_t kMaxRows = 100000;
  const size_t first = r.body.find_first_not_of(" \t\r\n");
  const bool is_json = first != std::string::npos && r.body[first] == '{';
  auto rows = is_json ? analytics::parse_spend_json(r.body, kMaxRows) : analytics::parse_spend_csv(r.body, kMaxRows);
  if (!rows.ok()) return problem(400, rows.status().message);
  if (rows.value().empty()) return problem(400, "no spend rows");
  if (!store_.replace_spend(rows.value(), now_ms).ok()) return store_failure();
  std::set<std::pair<int64_t, std::string>> days;
  for (const SpendRow& s : rows.value()) days.emplace(s.day, s.level);
  return ok({{"rows", rows.value().size()}, {"days_replaced", days.size()}});
}

// The spend of days [from, to) (YYYY-MM-DD; default: the last 30 days), amounts in major units.
ApiResponse QueryApi::spend_response(const Request& r, int64_t now_ms) {
  Params p(r.query);
  p.only({"from", "to"});
  const int64_t today = reports_.calendar.day_of(now_ms);
  const int64_t to = p.day_or("to", today + 1), from = p.day_or("from", to - 30);
  if (auto bad = p.error()) return *bad;
  if (from >= to) return problem(400, "from must be before to");
  auto spend = store_.spend(from, to);
  if (!spend.ok()) return store_failure();
  json rows = json::array();
  for (const SpendRow& s : spend.value()) {
    rows.push_back({{"day", analytics::Calendar::format_day(s.day)},
                    {s.level, s.key},
                    {"amount", analytics::Money(s.currency).major(static_cast<double>(s.amount_minor))},
                    {"currency", s.currency}});
  }
  return ok(
      {{"from", analytics::Calendar::format_day(from)}, {"to", analytics::Calendar::format_day(to)}, {"rows", rows}});
}

// Everything held about a profile: its identifiers (as stored: re-keyed), every event, every
// link and refusal. Journeys are read page by page so a large profile does not need one query.
ApiResponse QueryApi::export_profile(int64_t id) {
  auto x = store_.explain(id);
  if (!x.ok()) return store_failure();
  if (!x.value()) return problem(404, "no such profile");
  json j = profile_json(x.value()->profile);
  json links = json::array();
  for (const auto& l : x.value()->links) links.push_back(link_json(l));
  j["links"] = links;
  json events = json::array();
  std::string after;
  do {
    auto page = store_.journey(x.value()->profile.profile_id, after, kMaxPage);
    if (!page.ok()) return store_failure();
    for (const auto& t : page.value().items) events.push_back(touchpoint_json(t));
    after = page.value().next;
  } while (!after.empty());
  j["touchpoints"] = events;
  return ok(j);
}

// GET /v1/segments: every segment (RFM and rules) and its size; GET /v1/segments/{name}: members,
// paged by profile id.
ApiResponse QueryApi::segments_response(const Request& r, int64_t now_ms) {
  Params p(r.query);
  const int64_t as_of = p.time("as_of", now_ms);
  const int limit = static_cast<int>(p.integer("limit", kDefaultPage, 1, kMaxPage));
  const int64_t after = p.integer("after", 0, 0, INT64_MAX);
  if (auto bad = p.error()) return *bad;
  auto set = analytics::compute_segments(store_, as_of, param(r.query, "currency", reports_.segment_currency),
                                         reports_.segments);
  if (!set.ok()) {
    return set.status().code == Errc::invalid ? problem(400, set.status().message) : store_failure();
  }
  const auto& segments = set.value().members;
  const auto& rules = set.value().rules;
  if (r.path.size() == 2) {
    json list = json::array();
    for (const auto& [name, members] : segments) {
      json item{
          {"name", name},
          {"size", released_count(static_cast<int64_t>(members.size()), reports_.privacy, "segment.size." + name)}};
      const auto rule = rules.find(name);
      item["kind"] = rule == rules.end() ? "rfm" : "rule";
      if (rule != rules.end()) item["rule"] = rule->second;
      list.push_back(item);
    }
    return ok({{"as_of_ms", as_of},
               {"customers",
                released_count(static_cast<int64_t>(set.value().customers), reports_.privacy, "segments.customers")},
               {"privacy", privacy_json(reports_.privacy)},
               {"segments", list}});
  }
  const auto it = segments.find(r.path[2]);
  if (it == segments.end()) return problem(404, "no such segment");
  json members = json::array();
  auto m = std::upper_bound(it->second.begin(), it->second.end(), after);
  for (; m != it->second.end() && static_cast<int64_t>(members.size()) < limit; ++m) members.push_back(*m);
  json j{{"name", it->first}, {"as_of_ms", as_of}, {"size", it->second.size()}, {"profiles", members}};
  if (m != it->second.end()) j["next"] = std::to_string(members.back().get<int64_t>());
  return ok(j);
}

Result<std::shared_ptr<const analytics::SegmentSet>> QueryApi::cached_segments(int64_t now_ms) {
  constexpr int64_t kRefreshMs = 60 * 1000;
  std::lock_guard lock(cache_mu_);  // one computation at a time; the others wait for its result
  if (cache_ != nullptr && now_ms >= cache_->as_of_ms && now_ms - cache_->as_of_ms < kRefreshMs) return cache_;
  auto set = analytics::compute_segments(store_, now_ms, reports_.segment_currency, reports_.segments);
  if (!set.ok()) return set.status();
  cache_ = std::make_shared<const analytics::SegmentSet>(std::move(set.value()));
  return cache_;
}

// GET (or POST with an empty body) /v1/devices/segments?device=&slot=&nonce=&signature=: the
// segments of the customer in one slot of the asking device, signed by the collector and sealed
// to the device. A slot that has not granted personalisation gets an empty list.
ApiResponse QueryApi::device_segments(const Request& r, int64_t now_ms) {
  if ((r.method != "GET" && r.method != "POST") || !r.body.empty()) {
    return problem(405, "GET (or POST without a body) /v1/devices/segments");
  }
  auto request = detail::verify_segment_request(param(r.query, "device"), param(r.query, "slot"),
                                                param(r.query, "nonce"), param(r.query, "signature"));
  if (!request.ok()) {
    metrics_.add("device_segment_refusals_total", 1);
    return problem(from_common(request.status()).code == Errc::unauthenticated ? 401 : 400, request.status().message);
  }
  const auto& q = request.value();
  auto slot = store_.device_slot(q.device_public_key, Bytes(q.slot.begin(), q.slot.end()));
  if (!slot.ok()) return store_failure();
  if (!slot.value()) return problem(404, "this device has sent no events of this customer slot");
  if (!slot.value()->entitled) {
    metrics_.add("device_segment_refusals_total", 1);
    return problem(403,
                   "this customer's profile holds other devices' events and this device holds no verified "
                   "identifier of theirs (identify with an identity assertion: docs/security.md)");
  }
  detail::SegmentListFields list;
  list.request = q;
  list.issued_at_ms = now_ms;
  list.as_of_ms = now_ms;
  list.personalisation = slot.value()->personalisation;
  if (list.personalisation) {
    auto set = cached_segments(now_ms);
    if (!set.ok()) {
      return set.status().code == Errc::invalid ? problem(500, "segments cannot be computed: " + set.status().message)
                                                : store_failure();
    }
    list.as_of_ms = set.value()->as_of_ms;
    for (const auto& [name, members] : set.value()->members) {
      if (std::binary_search(members.begin(), members.end(), slot.value()->profile)) list.segments.push_back(name);
    }
  }
  auto sealed = detail::seal_segment_list(list, signing_key_.key_id, signing_key_.secret.data());
  if (!sealed.ok()) return problem(400, sealed.status().message);
  metrics_.add("device_segment_lists_total", 1);
  return {200, "application/vnd.waymark.segments", std::string(sealed.value().begin(), sealed.value().end())};
}

ApiResponse QueryApi::erasure(const Request& r, int64_t now_ms) {
  if (read_only_) return problem(421, "this node reads a replica (role query): send erasures to the merger");
  const json in = json::parse(r.body, nullptr, false);
  if (!in.is_object()) return problem(400, "body must be a JSON object");
  int64_t profile = 0;
  if (in.contains("profile_id") && in["profile_id"].is_number_integer()) {
    profile = in["profile_id"].get<int64_t>();
  } else if (in.contains("pseudonym") && in["pseudonym"].is_string()) {
    const auto key = rekey(in["pseudonym"].get<std::string>());
    if (!key) return problem(400, "pseudonym must be 64 hex characters");
    auto found = store_.profile_of(key->data(), key->size());
    if (!found.ok()) return store_failure();
    if (!found.value()) return problem(404, "no profile holds this identifier");
    profile = *found.value();
  } else {
    return problem(400, "give profile_id (integer) or pseudonym (64 hex characters)");
  }
  auto erased = store_.erase(profile, now_ms);
  if (!erased.ok()) return store_failure();
  if (erased.value().profiles == 0) return problem(404, "no such profile");
  metrics_.add("erasures_total", 1);
  uint8_t id[16];
  randombytes_buf(id, sizeof id);
  const std::string receipt = json{
      {"erasure_id", detail::to_hex(id, sizeof id)},
      {"profile_id", profile},
      {"events_deleted", erased.value().events},
      {"events_stripped", erased.value().events_stripped},
      {"identifiers_tombstoned", erased.value().identifiers},
      {"erased_at_ms", now_ms},
      {"requested_by",
       r.token->name}}.dump();
  // Signed over a domain prefix and the exact receipt bytes returned, with the collector's key.
  std::string signed_bytes = std::string(kErasureDomain) + receipt;
  uint8_t sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const uint8_t*>(signed_bytes.data()), signed_bytes.size(),
                       signing_key_.secret.data());
  return ok({{"receipt", receipt}, {"key_id", signing_key_.key_id}, {"signature", detail::to_hex(sig, sizeof sig)}});
}

ApiResponse QueryApi::unmerge(const Request& r, int64_t now_ms) {
  if (read_only_) return problem(421, "this node reads a replica (role query): send unmerges to the merger");
  const json in = json::parse(r.body, nullptr, false);
  if (!in.is_object()) return problem(400, "body must be a JSON object");
  UnmergeTarget target;
  if (in.contains("event_id") && in["event_id"].is_string()) {
    auto b = unhex(in["event_id"].get<std::string>(), 16);
    if (!b) return problem(400, "event_id must be 32 hex characters");
    target = {UnmergeTarget::By::Event, *b};
  } else if (in.contains("batch_id") && in["batch_id"].is_string()) {
    auto b = unhex(in["batch_id"].get<std::string>(), 16);
    if (!b) return problem(400, "batch_id must be 32 hex characters");
    target = {UnmergeTarget::By::Batch, *b};
  } else if (in.contains("pseudonym") && in["pseudonym"].is_string()) {
    const auto key = rekey(in["pseudonym"].get<std::string>());
    if (!key) return problem(400, "pseudonym must be 64 hex characters");
    target = {UnmergeTarget::By::Identifier, Bytes(key->begin(), key->end())};
  } else {
    return problem(400, "give event_id, batch_id or pseudonym");
  }
  auto result = store_.unmerge(target, now_ms);
  if (!result.ok()) {
    return result.status().code == Errc::invalid ? problem(404, result.status().message) : store_failure();
  }
  metrics_.add("unmerges_total", 1);
  return ok({{"links_revoked", result.value().links_revoked}, {"profiles", result.value().profiles}});
}

}  // namespace waymark::collector
