#include "analytics/reports.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "waymark/wire/v1/event_generated.h"

namespace waymark::collector::analytics {

using detail::Error;
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
    return Error(WAYMARK_ERR_INVALID_ARGUMENT, "purchases in several currencies (" + list + "): choose one");
  }
  return seen.empty() ? std::string() : seen.begin()->first;
}

}  // namespace

Result<AttributionReport> attribution_report(Store& store, const AttributionQuery& q) {
  AttributionReport report;
  report.query = q;
  struct Owned {
    int64_t profile;
    Path path;
    std::string currency;
  };
  std::vector<Owned> paths;
  std::map<std::string, int64_t> currencies;
  Status s = store.for_each_profile(q.from_ms - q.lookback_ms, q.to_ms, [&](int64_t profile, const auto& events) {
    std::vector<JourneyTouch> journey;
    journey.reserve(events.size());
    std::vector<std::string> currency_of;
    for (const AnalyticsEvent& e : events) {
      const std::string key = q.by_campaign ? (e.campaign.empty() ? "(none)" : e.campaign)
                                            : w::EnumNameChannel(static_cast<w::Channel>(e.channel));
      const bool conversion = is_conversion(e);
      journey.push_back(
          {e.time_ms, key, conversion, conversion ? static_cast<double>(e.revenue_minor.value_or(0)) : 0});
      if (conversion) {
        currency_of.push_back(e.currency);
        if (e.time_ms >= q.from_ms && e.revenue_minor) ++currencies[e.currency];
      }
    }
    size_t conversion = 0;
    const auto extracted = extract_paths(journey, q.lookback_ms, q.session_gap_ms);
    // Conversions close paths in time order, so the i-th converting path is the i-th conversion.
    std::vector<int64_t> conversion_times;
    for (const auto& t : journey) {
      if (t.conversion) conversion_times.push_back(t.time_ms);
    }
    for (const Path& p : extracted) {
      if (p.conversions > 0) {
        const int64_t at = conversion_times[conversion];
        const std::string& currency = currency_of[conversion++];
        if (at >= q.from_ms) paths.push_back({profile, p, currency});
      } else if (!journey.empty() && journey.back().time_ms >= q.from_ms) {
        paths.push_back({profile, p, ""});
      }
    }
    return true;
  });
  if (!s.ok()) return s;
  auto currency = pick_currency(currencies, q.currency);
  if (!currency.ok()) return currency.status();
  report.currency = currency.value();

  std::vector<Path> plain;
  plain.reserve(paths.size());
  std::unordered_map<std::string, std::unordered_set<int64_t>> profiles_of;
  std::unordered_set<int64_t> all_profiles;
  for (Owned& o : paths) {
    if (o.currency != report.currency) o.path.revenue = 0;  // counted as a conversion, not as revenue
    report.conversions += o.path.conversions;
    report.revenue_minor += o.path.revenue;
    for (const Touch& t : o.path.touches) profiles_of[t.key].insert(o.profile);
    all_profiles.insert(o.profile);
    plain.push_back(std::move(o.path));
  }
  report.paths = static_cast<int64_t>(plain.size());
  report.profiles = static_cast<int64_t>(all_profiles.size());

  AttributionRow other{"other", 0, 0, 0};
  std::unordered_set<int64_t> other_profiles;
  for (const auto& [key, credit] : attribute(plain, q.model, q.options)) {
    const auto& who = profiles_of[key];
    if (static_cast<int64_t>(who.size()) < q.k) {  // too few people to show on its own
      other.conversions += credit.conversions;
      other.revenue_minor += credit.revenue;
      other_profiles.insert(who.begin(), who.end());
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

Result<ClvReport> clv_report(Store& store, const ClvQuery& q) {
  struct Bought {
    std::string currency;
    double day_ms, value;
  };
  struct Customer {
    int64_t profile;
    std::vector<Bought> purchases;
  };
  std::vector<Customer> customers;
  std::map<std::string, int64_t> currencies;
  Status s = store.for_each_profile(INT64_MIN, q.as_of_ms + 1, [&](int64_t profile, const auto& events) {
    Customer c{profile, {}};
    for (const AnalyticsEvent& e : events) {
      if (!is_conversion(e) || !e.revenue_minor) continue;
      ++currencies[e.currency];
      // Purchases on the same day are one purchase (the CDNOW convention), in weeks.
      const double day = static_cast<double>(e.time_ms / (24 * 3600 * 1000)) * 24 * 3600 * 1000;
      c.purchases.push_back({e.currency, day, static_cast<double>(*e.revenue_minor)});
    }
    if (!c.purchases.empty()) customers.push_back(std::move(c));
    return true;
  });
  if (!s.ok()) return s;
  auto currency = pick_currency(currencies, q.currency);
  if (!currency.ok()) return currency.status();
  ClvReport report;
  report.currency = currency.value();
  std::vector<ClvCustomer> rows;
  std::vector<RfmRow> rfm;
  for (const Customer& c : customers) {
    std::vector<Purchase> mine;  // one customer: an empty id
    ClvCustomer row;
    for (const Bought& b : c.purchases) {
      if (b.currency != report.currency) continue;
      mine.push_back({{}, b.day_ms, b.value});
      row.historic_minor += b.value;
    }
    const auto summary = summarise(mine, static_cast<double>(q.as_of_ms), kWeekMs);
    if (summary.empty()) continue;
    row.profile = c.profile;
    row.rfm = summary.front().second;
    rows.push_back(row);
    rfm.push_back(row.rfm);
  }
  report.customers = static_cast<int64_t>(rows.size());
  report.bgnbd = fit_bgnbd(rfm);
  report.gamma_gamma = fit_gamma_gamma(rfm);
  if (report.bgnbd && report.gamma_gamma) {
    for (ClvCustomer& r : rows) {
      const double month = 52.0 / 12;
      r.p_alive = bgnbd_p_alive(*report.bgnbd, r.rfm.x, r.rfm.t_x, r.rfm.T);
      r.expected_purchases = bgnbd_expected(*report.bgnbd, q.periods * month, r.rfm.x, r.rfm.t_x, r.rfm.T);
      r.expected_value_minor = gamma_gamma_expected(*report.gamma_gamma, r.rfm.x, r.rfm.mean_value);
      r.clv_minor = discounted_clv(*report.bgnbd, *report.gamma_gamma, r.rfm, q.periods, month, q.monthly_discount);
    }
  }
  std::sort(rows.begin(), rows.end(), [](const ClvCustomer& a, const ClvCustomer& b) {
    return a.clv_minor != b.clv_minor ? a.clv_minor > b.clv_minor : a.historic_minor > b.historic_minor;
  });
  if (rows.size() > static_cast<size_t>(q.top)) rows.resize(static_cast<size_t>(q.top));
  report.top = std::move(rows);
  return report;
}

}  // namespace waymark::collector::analytics
