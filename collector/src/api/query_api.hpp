// The collector's query API (JSON over HTTP): profiles, journeys, explanations, unmerge, erasure,
// export. Every route needs a bearer token from the config: 401 without a valid one, 403 when the
// token lacks the route's scope. Identifiers are looked up by the pseudonym the brand computes with
// its own key (the SDK's pseudonym); the API re-keys it exactly as ingest does.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "analytics/calendar.hpp"
#include "analytics/segments.hpp"
#include "common/crypto/secure.hpp"
#include "ingest/ingest.hpp"
#include "store/store.hpp"

namespace waymark::collector {

// Scopes: profiles:read, profiles:export, identity:write, erasure:write, reports:read, spend:write.
struct ApiToken {
  std::string name;  // for logs and metrics; never the secret
  std::string secret;
  std::set<std::string> scopes;
};

// "name:secret:scope1,scope2". Empty result and `*error` set when malformed.
std::optional<ApiToken> parse_api_token(std::string_view spec, std::string* error);

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string route{};  // the route it answered, for metrics ("/v1/profiles"); set by QueryApi::handle
};

// What reports release: aggregate rows with fewer than `k` distinct profiles are merged into
// "other"; with `epsilon` > 0 every released count of distinct profiles (report totals and rows,
// segment sizes) carries Laplace noise of scale 1/epsilon (sensitivity 1: one customer changes a
// count by at most one), rounded and clamped at zero. Conversions and revenue stay exact, so
// credits still sum to the totals.
struct ReportPrivacy {
  int k = 10;
  double epsilon = 0;
  // Keys the noise (report_noise_key): a statistic with one true value is always released with the same
  // noise, so asking again, or with another window that counts the same people, averages nothing away.
  std::array<uint8_t, 32> noise_key{};
};
// The noise key of a collector, from its re-key secret (32 bytes): the API and `report` agree.
std::array<uint8_t, 32> report_noise_key(const uint8_t* rekey_secret);
// A count as released under `privacy`. `statistic` names what is counted, independently of the query's
// window and model (e.g. "attribution.row.channel.Email"): its noise is drawn from the key, the name and
// the true count.
int64_t released_count(int64_t count, const ReportPrivacy& privacy, std::string_view statistic);

// What the reports take from the config, shared by the API and `waymark-collector report`.
struct ReportSettings {
  ReportPrivacy privacy;
  analytics::Calendar calendar;  // report-time-zone: what a day is in the lifetime-value reports
  std::vector<analytics::RuleSegment> segments;
  std::string segment_currency;                  // the currency RFM scores (empty: the only one present)
  std::vector<analytics::ConversionGoal> goals;  // conversion-goal, beside the built-in "purchase"
};

// Reports: `query` holds the URL parameters.
using QueryParams = std::map<std::string, std::string>;
// Attribution to the conversions of one goal (`goal`, default "purchase"), optionally of one
// segment's members (`segment`).
// By channel_group or campaign, each row also carries the cost of the window's days from the imported
// marketing spend, with ROAS, ROMI and cost per acquisition.
ApiResponse attribution_response(Store& store, const QueryParams& query, const ReportSettings& settings,
                                 int64_t now_ms);
// Lifetime value: the top customers by CLV (`top`), or with `paged` every customer in profile order
// (`limit`, `after`), each with the fits, their checks, the totals over every customer and CLV by
// acquisition channel group (groups of fewer than privacy.k customers merged into "other").
// `as_of` is a day of the settings' calendar (the brand's time zone), its purchases included.
ApiResponse clv_response(AnalyticsScan& store, const QueryParams& query, const ReportSettings& settings, int64_t now_ms,
                         bool paged = false);
// A funnel over `steps` (comma-separated goals or event names) within `within_days` of the entry, in
// `order` (sequence, strict, any), with its breakdown by the entry's channel group.
ApiResponse funnel_response(AnalyticsScan& store, const QueryParams& query, const ReportSettings& settings,
                            int64_t now_ms);
// The most frequent channel-group sequences to a goal's conversions, with their conversion rates.
ApiResponse paths_response(AnalyticsScan& store, const QueryParams& query, const ReportSettings& settings,
                           int64_t now_ms);
// One CSV field as reports write it: quoted when needed, and never a spreadsheet formula.
std::string csv_field(const std::string& s);

class QueryApi {
 public:
  // `signing_key` signs erasure receipts (the collector's newest key).
  QueryApi(Store& store, std::vector<ApiToken> tokens, const uint8_t* rekey_secret, CollectorKey signing_key,
           Metrics& metrics);
  // Nothing when `target` is not an API route.
  std::optional<ApiResponse> handle(std::string_view method, std::string_view target, std::string_view authorization,
                                    std::string_view body, int64_t now_ms);
  // The reports' settings; their noise key is the collector's (report_noise_key).
  void set_reports(ReportSettings settings);
  // A query node's (role query, a read-only store): unmerge and erasure answer 421, naming the merger
  // as the node that takes writes.
  void set_read_only() { read_only_ = true; }

 private:
  struct Request;
  ApiResponse route(const Request& r, int64_t now_ms);
  ApiResponse erasure(const Request& r, int64_t now_ms);
  ApiResponse unmerge(const Request& r, int64_t now_ms);
  ApiResponse export_profile(int64_t id);
  ApiResponse import_spend(const Request& r, int64_t now_ms);
  ApiResponse spend_response(const Request& r, int64_t now_ms);
  ApiResponse segments_response(const Request& r, int64_t now_ms);
  ApiResponse device_segments(const Request& r, int64_t now_ms);
  // The segments devices pull, recomputed at most once a minute.
  Result<std::shared_ptr<const analytics::SegmentSet>> cached_segments(int64_t now_ms);
  std::optional<Key32> rekey(std::string_view hex) const;

  Store& store_;
  bool read_only_ = false;
  std::vector<ApiToken> tokens_;
  detail::Secret<32> rekey_;
  CollectorKey signing_key_;
  Metrics& metrics_;
  ReportSettings reports_;
  std::mutex cache_mu_;
  std::shared_ptr<const analytics::SegmentSet> cache_;
};

}  // namespace waymark::collector
