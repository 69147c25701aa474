// Reports over the store: attribution by channel or campaign, and lifetime value. Every aggregate row
// backed by fewer than `k` distinct profiles is merged into "other" (k-anonymity), and customers who
// withdrew analytics consent are left out (the store's scan does that).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "analytics/attribution.hpp"
#include "analytics/calendar.hpp"
#include "analytics/clv.hpp"
#include "analytics/segments.hpp"
#include "store/store.hpp"

namespace waymark::collector::analytics {

// False for the SDK's own bookkeeping (identify and consent records): not something the customer
// did, so neither a touch in a journey nor a count in a segment rule.
bool is_customer_action(const AnalyticsEvent& e);

// What attribution credits: the event's channel, its channel group (channel_groups.hpp), its whole
// campaign ("source / medium / name"), the campaign's source, or the type of device that sent it (its
// platform). Segment credits each conversion wholly to every segment its customer is in ("(none)":
// in none), so those rows may add up to more than the totals.
enum class AttributeBy { Channel, ChannelGroup, Campaign, CampaignSource, DeviceType, Segment };
std::optional<AttributeBy> attribute_by_from_name(std::string_view name);

struct AttributionQuery {
  Model model = Model::Markov;
  AttributeBy by = AttributeBy::Channel;
  ConversionGoal goal = purchase_goal();
  // Only the journeys of this segment's members ("" for everyone): attribution within a target group.
  std::string segment;
  bool conversion_is_touch = false;  // the converting event is a touch of its own (see extract_paths)
  int64_t from_ms = 0, to_ms = 0;    // conversions in [from, to)
  int64_t lookback_ms = 30LL * 24 * 3600 * 1000;
  int64_t session_gap_ms = 30LL * 60 * 1000;
  AttributionOptions options;
  std::string currency;  // revenue counted in this currency; empty: the only one present
  int k = 10;
};

struct AttributionRow {
  std::string key;
  double conversions = 0, revenue_minor = 0;
  int64_t profiles = 0;   // distinct profiles whose paths touched this key
  double cost_minor = 0;  // marketing spend on it in the window (spend.hpp)
};

struct AttributionReport {
  AttributionQuery query;
  std::string currency;
  double conversions = 0, revenue_minor = 0;
  int64_t paths = 0, profiles = 0;
  std::vector<AttributionRow> rows;  // by credit, largest first; "other" last
  int64_t suppressed = 0;            // rows merged into "other"
  std::set<std::string> merged;      // their keys (never released: they are what k-anonymity hides)
  // Marketing spend (add_spend): whether the report is costed, its total, in cost_currency.
  bool costed = false;
  double cost_minor = 0;
  std::string cost_currency;
};

// Errc::invalid when several currencies are present and none was chosen, or when the query asks for
// segments `segments` does not have. `segments` is needed for by=segment and a segment filter.
Result<AttributionReport> attribution_report(AnalyticsScan& store, const AttributionQuery& q,
                                             const SegmentSet* segments = nullptr);

// The most frequent journeys to a conversion: each path of the query's window as its sequence of keys
// (the query's `by`, consecutive repeats collapsed, as the Markov chain sees it), by conversions.
// A sequence's conversion rate is its conversions over the journeys that took it (converting paths and
// the non-converting tails of customers who took it and stopped). Sequences of fewer than k profiles are
// left out (counted in `suppressed`).
struct TopPaths {
  struct Row {
    std::string sequence;  // "Email > Paid Search > Direct"
    double conversions = 0, conversion_rate = 0;
    int64_t profiles = 0;
  };
  std::vector<Row> rows;   // at most `top`
  double conversions = 0;  // every converting path's, shown or not
  int64_t suppressed = 0;
};
Result<TopPaths> top_paths_report(AnalyticsScan& store, const AttributionQuery& q, int top);

// Every purchase with revenue up to `as_of_ms`, in `currency` (or the only one present; an
// error when there are several), per profile in time order, each placed on its day in `calendar`
// (at day × 24 h: purchases on the same day are one purchase, the CDNOW convention).
struct ProfilePurchases {
  int64_t profile = 0;
  std::vector<Purchase> purchases;
  std::string acquired_by;  // the channel group of the profile's first touch (channel_groups.hpp)
};
struct PurchaseLog {
  std::string currency;
  std::vector<ProfilePurchases> profiles;
};
Result<PurchaseLog> purchases_by_profile(AnalyticsScan& store, int64_t as_of_ms, const std::string& currency,
                                         const Calendar& calendar = Calendar());

// Amounts of one currency: stored and computed in minor units, reported in major units rounded to
// the currency's minor unit (its ISO 4217 digits, from ICU: 2 for GBP, 0 for JPY, 3 for BHD; 2 for a
// code ICU does not know).
class Money {
 public:
  explicit Money(const std::string& currency);
  double major(double minor) const;
  int digits() const { return digits_; }

 private:
  int digits_ = 2;
};

struct ClvQuery {
  // The as-of day in `calendar`, days since 1970-01-01: purchases up to its end (its purchases
  // included), T measured to it in whole days.
  int64_t as_of_day = 0;
  Calendar calendar;
  int periods = 12;  // months ahead
  double monthly_discount = 0.01;
  std::string currency;
  int k = 10;  // acquisition channel groups of fewer customers merge into "other"
};

struct ClvCustomer {
  int64_t profile = 0;
  std::string acquired_by;  // channel group of the first touch
  RfmRow rfm;               // weeks
  double historic_minor = 0;
  // Only when the report forecasts, and the customer's numbers are finite (2F1 kept its precision).
  bool predicted = false;
  double p_alive = 0, expected_purchases = 0, expected_value_minor = 0, clv_minor = 0;
};

struct ClvReport {
  std::string currency;
  int64_t customers = 0;
  std::optional<BgNbd> bgnbd;
  std::optional<GammaGamma> gamma_gamma;
  // Why there are no predictions ("" when there are): no purchases, or a fit that did not converge
  // or could not pin a parameter down (FitCheck::degenerate), named by model.
  std::string no_forecast;
  double expected_purchases = 0, clv_minor = 0, historic_minor = 0;  // summed over every customer
  // Customer quality by acquisition channel: which channel groups bring the better customers. By mean
  // predicted CLV, highest first; "other" (groups of fewer than k customers) last. Means and medians
  // over the customers with a prediction.
  struct Acquisition {
    std::string channel_group;
    int64_t customers = 0;
    double mean_clv_minor = 0, median_clv_minor = 0;
  };
  std::vector<Acquisition> by_acquisition;
  std::vector<ClvCustomer> ranked;  // every customer, by predicted CLV (by historic value without a forecast)
};

Result<ClvReport> clv_report(AnalyticsScan& store, const ClvQuery& q);

}  // namespace waymark::collector::analytics
