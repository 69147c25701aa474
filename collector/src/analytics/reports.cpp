#include "analytics/reports.hpp"

#include <unicode/ucurr.h>
#include <unicode/ustring.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "analytics/channel_groups.hpp"
#include "waymark/wire/v1/event_generated.h"

namespace waymark::collector::analytics {

namespace w = waymark::wire::v1;

namespace {

constexpr double kWeekMs = 7.0 * 24 * 3600 * 1000;

bool is_conversion(const AnalyticsEvent& e) {
  return e.type == static_cast<uint8_t>(w::EventType::Purchase);
}

// The one currency of the purchases, or the chosen one; an error when there are several.
Result<std::string> pick_currency(const std::map<std::string, int64_t>& seen, const std::string& chosen) {
  if (!chosen.empty()) return chosen;
  if (seen.size() > 1) {
    std::string list;
    for (const auto& [c, n] : seen) {
      if (!list.empty()) list += ", ";
      list += c;
    }
    return Error(Errc::invalid, "purchases in several currencies (" + list + "): choose one");
  }
  return seen.empty() ? std::string() : seen.begin()->first;
}

// The key an event is credited under, `c` the event whose campaign it is in (below).
std::string attribution_key(const AnalyticsEvent& e, const AnalyticsEvent& c, AttributeBy by) {
  switch (by) {
    case AttributeBy::ChannelGroup: return std::string(channel_group(e.channel, c.campaign_source, c.campaign_medium));
    case AttributeBy::Campaign: return c.campaign.empty() ? "(none)" : c.campaign;
    case AttributeBy::CampaignSource: return c.campaign_source.empty() ? "(none)" : c.campaign_source;
    case AttributeBy::DeviceType: return e.platform.empty() ? "(unknown)" : e.platform;
    case AttributeBy::Segment: return "";  // keyed per segment once the paths are built
    default: return w::EnumNameChannel(static_cast<w::Channel>(e.channel));
  }
}

}  // namespace

std::optional<AttributeBy> attribute_by_from_name(std::string_view name) {
  if (name == "channel") return AttributeBy::Channel;
  if (name == "channel_group") return AttributeBy::ChannelGroup;
  if (name == "campaign") return AttributeBy::Campaign;
  if (name == "campaign_source") return AttributeBy::CampaignSource;
  if (name == "device_type") return AttributeBy::DeviceType;
  if (name == "segment") return AttributeBy::Segment;
  return std::nullopt;
}

bool is_customer_action(const AnalyticsEvent& e) {
  return e.type != static_cast<uint8_t>(w::EventType::Identify) &&
         e.type != static_cast<uint8_t>(w::EventType::Consent);
}

namespace {

// Who a report with a segment filter or by=segment looks at: the filter's members (null: everyone) and
// each profile's segments (by=segment only).
struct SegmentView {
  const std::vector<int64_t>* members = nullptr;
  std::unordered_map<int64_t, std::vector<std::string>> of;
  bool keep(int64_t profile) const {
    return members == nullptr || std::binary_search(members->begin(), members->end(), profile);
  }
  std::vector<std::string> segments_of(int64_t profile) const {
    const auto it = of.find(profile);
    return it == of.end() ? std::vector<std::string>{"(none)"} : it->second;
  }
};

Result<SegmentView> segment_view(const AttributionQuery& q, const SegmentSet* segments) {
  SegmentView view;
  if (q.segment.empty() && q.by != AttributeBy::Segment) return view;
  if (segments == nullptr) return Error(Errc::invalid, "segments are not available to this report");
  if (!q.segment.empty()) {
    const auto it = segments->members.find(q.segment);
    if (it == segments->members.end()) return Error(Errc::invalid, "no segment named " + q.segment);
    view.members = &it->second;
  }
  if (q.by == AttributeBy::Segment) {
    for (const auto& [name, ids] : segments->members) {
      for (int64_t id : ids) view.of[id].push_back(name);
    }
  }
  return view;
}

// One customer's attribution path, with the currency of its conversion ("" for a path that did not
// convert).
struct OwnedPath {
  int64_t profile;
  Path path;
  std::string currency;
};

// Every path of the query's window (conversions in [from, to), a non-converting path when the
// customer's last action is in it) of the customers `view` keeps, and the count of conversions with
// revenue per currency.
Status collect_paths(AnalyticsScan& store, const AttributionQuery& q, const SegmentView& view,
                     std::vector<OwnedPath>& paths, std::map<std::string, int64_t>& currencies) {
  return store.for_each_profile(q.from_ms - q.lookback_ms, q.to_ms, [&](int64_t profile, const auto& events) {
    if (!view.keep(profile)) return true;
    std::vector<JourneyTouch> journey;
    journey.reserve(events.size());
    std::vector<std::pair<int64_t, std::string>> conversions;  // time and currency, in order
    SessionCampaign session(q.session_gap_ms);
    for (const AnalyticsEvent& e : events) {
      if (!is_customer_action(e)) continue;
      const std::string key = attribution_key(e, session.of(e), q.by);
      const bool conversion = reaches_goal(q.goal, e);
      journey.push_back(
          {e.time_ms, key, conversion, conversion ? static_cast<double>(e.revenue_minor.value_or(0)) : 0});
      if (conversion) {
        conversions.emplace_back(e.time_ms, e.currency);
        if (e.time_ms >= q.from_ms && e.revenue_minor) ++currencies[e.currency];
      }
    }
    if (journey.empty()) return true;
    // Conversions close paths in time order, so the i-th converting path is the i-th conversion.
    size_t next = 0;
    for (const Path& p : extract_paths(journey, q.lookback_ms, q.session_gap_ms, q.conversion_is_touch)) {
      if (p.conversions > 0) {
        const auto& [at, currency] = conversions[next++];
        if (at >= q.from_ms) paths.push_back({profile, p, currency});
      } else if (journey.back().time_ms >= q.from_ms) {
        paths.push_back({profile, p, ""});
      }
    }
    return true;
  });
}

}  // namespace

Result<AttributionReport> attribution_report(AnalyticsScan& store, const AttributionQuery& q,
                                             const SegmentSet* segments) {
  auto view = segment_view(q, segments);
  if (!view.ok()) return view.status();
  AttributionReport report;
  report.query = q;
  std::vector<OwnedPath> paths;
  std::map<std::string, int64_t> currencies;
  if (Status s = collect_paths(store, q, view.value(), paths, currencies); !s.ok()) return s;
  auto currency = pick_currency(currencies, q.currency);
  if (!currency.ok()) return currency.status();
  report.currency = currency.value();

  std::vector<Path> plain;
  plain.reserve(paths.size());
  std::unordered_map<std::string, std::unordered_set<int64_t>> profiles_of;
  std::unordered_set<int64_t> all_profiles;
  for (OwnedPath& o : paths) {
    if (o.currency != report.currency) o.path.revenue = 0;  // counted as a conversion, not as revenue
    report.conversions += o.path.conversions;
    report.revenue_minor += o.path.revenue;
    all_profiles.insert(o.profile);
    if (q.by == AttributeBy::Segment) {  // a copy of the path for each of the customer's segments
      for (const std::string& name : view.value().segments_of(o.profile)) {
        Path copy = o.path;
        for (Touch& t : copy.touches) t.key = name;
        profiles_of[name].insert(o.profile);
        plain.push_back(std::move(copy));
      }
      continue;
    }
    for (const Touch& t : o.path.touches) profiles_of[t.key].insert(o.profile);
    plain.push_back(std::move(o.path));
  }
  report.paths = static_cast<int64_t>(paths.size());
  report.profiles = static_cast<int64_t>(all_profiles.size());

  // By segment every touch of a path has one key, which takes the whole conversion in every model but
  // Markov (whose removal effects would split the total evenly between segments): credited outright.
  const Model model = q.by == AttributeBy::Segment ? Model::LastTouch : q.model;
  AttributionRow other{"other", 0, 0, 0};
  std::unordered_set<int64_t> other_profiles;
  for (const auto& [key, credit] : attribute(plain, model, q.options)) {
    const auto& who = profiles_of[key];
    if (static_cast<int64_t>(who.size()) < q.k) {  // too few people to show on its own
      other.conversions += credit.conversions;
      other.revenue_minor += credit.revenue;
      other_profiles.insert(who.begin(), who.end());
      report.merged.insert(key);
      ++report.suppressed;
      continue;
    }
    report.rows.push_back({key, credit.conversions, credit.revenue, static_cast<int64_t>(who.size())});
  }
  std::sort(report.rows.begin(), report.rows.end(), [](const AttributionRow& a, const AttributionRow& b) {
    return a.conversions != b.conversions ? a.conversions > b.conversions : a.key < b.key;
  });
  if (report.suppressed > 0) {
    other.profiles = static_cast<int64_t>(other_profiles.size());
    report.rows.push_back(other);
  }
  return report;
}

Result<TopPaths> top_paths_report(AnalyticsScan& store, const AttributionQuery& q, int top) {
  std::vector<OwnedPath> paths;
  std::map<std::string, int64_t> currencies;
  if (Status s = collect_paths(store, q, SegmentView{}, paths, currencies); !s.ok()) return s;
  struct Tally {
    double conversions = 0, journeys = 0;
    std::unordered_set<int64_t> profiles;
  };
  std::unordered_map<std::string, Tally> by_sequence;
  TopPaths out;
  for (const OwnedPath& o : paths) {
    std::string sequence;
    std::string_view last;
    for (const Touch& t : o.path.touches) {
      if (t.key == last) continue;  // repeats collapsed, as the Markov chain sees a path
      sequence += (sequence.empty() ? "" : " > ") + t.key;
      last = t.key;
    }
    Tally& tally = by_sequence[sequence];
    tally.conversions += o.path.conversions;
    tally.journeys += o.path.conversions > 0 ? o.path.conversions : 1;
    tally.profiles.insert(o.profile);
    out.conversions += o.path.conversions;
  }
  for (auto& [sequence, t] : by_sequence) {
    if (t.conversions == 0) continue;
    if (static_cast<int>(t.profiles.size()) < q.k) {  // too few people to show on its own
      ++out.suppressed;
      continue;
    }
    out.rows.push_back({sequence, t.conversions, t.conversions / t.journeys, static_cast<int64_t>(t.profiles.size())});
  }
  std::sort(out.rows.begin(), out.rows.end(), [](const TopPaths::Row& a, const TopPaths::Row& b) {
    return a.conversions != b.conversions ? a.conversions > b.conversions : a.sequence < b.sequence;
  });
  if (static_cast<int>(out.rows.size()) > top) out.rows.resize(static_cast<size_t>(top));
  return out;
}

Result<PurchaseLog> purchases_by_profile(AnalyticsScan& store, int64_t as_of_ms, const std::string& currency,
                                         const Calendar& calendar) {
  constexpr int64_t kDayMs = 24LL * 3600 * 1000;
  struct Bought {
    int64_t profile;
    std::string currency;
    double day_ms, value;
  };
  std::vector<Bought> bought;
  std::map<std::string, int64_t> currencies;
  std::unordered_map<int64_t, std::string> acquired;  // profile -> channel group of its first touch
  Status s = store.for_each_profile(INT64_MIN, as_of_ms + 1, [&](int64_t profile, const auto& events) {
    const auto first = std::find_if(events.begin(), events.end(), is_customer_action);
    if (first != events.end()) {
      acquired[profile] = channel_group(first->channel, first->campaign_source, first->campaign_medium);
    }
    for (const AnalyticsEvent& e : events) {
      if (!is_conversion(e) || !e.revenue_minor) continue;
      ++currencies[e.currency];
      bought.push_back({profile, e.currency, static_cast<double>(calendar.day_of(e.time_ms) * kDayMs),
                        static_cast<double>(*e.revenue_minor)});
    }
    return true;
  });
  if (!s.ok()) return s;
  auto chosen = pick_currency(currencies, currency);
  if (!chosen.ok()) return chosen.status();
  PurchaseLog log{chosen.value(), {}};
  for (const Bought& b : bought) {  // grouped by profile, in time order
    if (b.currency != log.currency) continue;
    if (log.profiles.empty() || log.profiles.back().profile != b.profile) {
      log.profiles.push_back({b.profile, {}, acquired.count(b.profile) ? acquired[b.profile] : "Other"});
    }
    log.profiles.back().purchases.push_back({{}, b.day_ms, b.value});  // one customer: an empty id
  }
  return log;
}

namespace {

// Why these fits make no forecast, or "".
std::string no_forecast(const std::optional<BgNbd>& bg, const std::optional<GammaGamma>& gg) {
  if (!bg) return "no purchases";
  if (!bg->check.forecast()) return "BG/NBD: " + bg->check.degenerate;
  if (!gg) return "Gamma-Gamma: no customer bought more than once";
  if (!gg->check.forecast()) return "Gamma-Gamma: " + gg->check.degenerate;
  return "";
}

// Mean and median predicted CLV per acquisition channel group; groups of fewer than k customers merge
// into "other".
std::vector<ClvReport::Acquisition> by_acquisition(const std::vector<ClvCustomer>& rows, int k) {
  std::map<std::string, std::vector<double>> clv;
  for (const ClvCustomer& r : rows) {
    if (r.predicted) clv[r.acquired_by].push_back(r.clv_minor);
  }
  std::vector<double> other;
  std::vector<ClvReport::Acquisition> out;
  const auto row = [](std::string group, std::vector<double>& v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    const double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return ClvReport::Acquisition{std::move(group), static_cast<int64_t>(n),
                                  std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(n), median};
  };
  for (auto& [group, v] : clv) {
    if (static_cast<int>(v.size()) < k) {
      other.insert(other.end(), v.begin(), v.end());
    } else {
      out.push_back(row(group, v));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.mean_clv_minor > b.mean_clv_minor; });
  if (!other.empty()) out.push_back(row("other", other));
  return out;
}

void predict(ClvCustomer& r, const BgNbd& bg, const GammaGamma& gg, const ClvQuery& q) {
  const double month = 52.0 / 12;
  r.p_alive = bgnbd_p_alive(bg, r.rfm.x, r.rfm.t_x, r.rfm.T);
  r.expected_purchases = bgnbd_expected(bg, q.periods * month, r.rfm.x, r.rfm.t_x, r.rfm.T);
  r.expected_value_minor = gamma_gamma_expected(gg, r.rfm.x, r.rfm.mean_value);
  r.clv_minor = discounted_clv(bg, gg, r.rfm, q.periods, month, q.monthly_discount);
  r.predicted = std::isfinite(r.p_alive) && std::isfinite(r.expected_purchases) &&
                std::isfinite(r.expected_value_minor) && std::isfinite(r.clv_minor);
}

}  // namespace

Money::Money(const std::string& currency) {
  if (currency.size() != 3) return;
  UChar code[4] = {};
  u_charsToUChars(currency.c_str(), code, 3);
  UErrorCode status = U_ZERO_ERROR;
  const int32_t d = ucurr_getDefaultFractionDigits(code, &status);
  if (U_SUCCESS(status) && d >= 0 && d <= 4) digits_ = d;
}

double Money::major(double minor) const {
  return std::round(minor) / std::pow(10.0, digits_);
}

Result<ClvReport> clv_report(AnalyticsScan& store, const ClvQuery& q) {
  constexpr double kDayMs = 24.0 * 3600 * 1000;
  const int64_t last_ms = q.calendar.day_start_ms(q.as_of_day + 1) - 1;  // the as-of day's last moment
  auto log = purchases_by_profile(store, last_ms, q.currency, q.calendar);
  if (!log.ok()) return log.status();
  ClvReport report;
  report.currency = log.value().currency;
  std::vector<ClvCustomer> rows;
  std::vector<RfmRow> rfm;
  for (const ProfilePurchases& c : log.value().profiles) {
    const auto summary = summarise(c.purchases, static_cast<double>(q.as_of_day) * kDayMs, kWeekMs);
    ClvCustomer row;
    row.profile = c.profile;
    row.acquired_by = c.acquired_by;
    row.rfm = summary.front().second;
    for (const Purchase& p : c.purchases) row.historic_minor += p.value;
    report.historic_minor += row.historic_minor;
    rows.push_back(row);
    rfm.push_back(row.rfm);
  }
  report.customers = static_cast<int64_t>(rows.size());
  report.bgnbd = fit_bgnbd(rfm);
  report.gamma_gamma = fit_gamma_gamma(rfm);
  report.no_forecast = no_forecast(report.bgnbd, report.gamma_gamma);
  for (ClvCustomer& r : rows) {
    if (!report.no_forecast.empty()) break;
    predict(r, *report.bgnbd, *report.gamma_gamma, q);
    if (!r.predicted) continue;
    report.expected_purchases += r.expected_purchases;
    report.clv_minor += r.clv_minor;
  }
  report.by_acquisition = by_acquisition(rows, q.k);
  std::sort(rows.begin(), rows.end(), [](const ClvCustomer& a, const ClvCustomer& b) {
    if (a.predicted != b.predicted) return a.predicted;
    if (a.clv_minor != b.clv_minor) return a.clv_minor > b.clv_minor;
    return a.historic_minor != b.historic_minor ? a.historic_minor > b.historic_minor : a.profile < b.profile;
  });
  report.ranked = std::move(rows);
  return report;
}

}  // namespace waymark::collector::analytics
