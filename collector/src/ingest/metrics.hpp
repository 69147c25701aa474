// Collector metrics in Prometheus text format. Counters only; no user data in any label.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <string>

namespace waymark::collector {

class Metrics {
 public:
  // Every family the collector reports, present at zero from the start, with its HELP text.
  Metrics();
  // A request answered: counted by route and status, and its time from being read to being answered
  // (for a batch, its commit included) in the route's latency histogram.
  void request(const std::string& route, int status, double seconds);
  // Upper bounds of the latency histogram's buckets, in seconds (then +Inf).
  static constexpr double kLatencyBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  void rejected(const std::string& reason, uint64_t events = 1);
  // A refused batch or request: counted once under its reason (waymark_rejected_total) and in
  // batches_rejected_total, and logged as a warning: the first of each reason at once, then at most
  // once per reason every `kRefusalLogInterval`, with how many were refused since the last line.
  void refused_batch(const std::string& reason);
  // Where refusals are logged (level, message); none by default. Set before serving.
  void set_log(std::function<void(const char*, const std::string&)> log) { log_ = std::move(log); }
  static constexpr std::chrono::seconds kRefusalLogInterval{10};
  void add(const char* name, uint64_t n);
  // Sets a value read from elsewhere: a counter when `name` ends in "_total", else a gauge.
  void set(const std::string& name, uint64_t value);
  // Withdraws a gauge whose value is unknown now (a merger's queue lag while the queue does not
  // answer): a scrape then omits it rather than show a stale or made-up value.
  void unset(const std::string& name);
  void observe_ingest_seconds(double s);
  std::string prometheus() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> counters_;    // name -> value
  std::map<std::string, uint64_t> gauges_;      // name -> value
  std::map<std::string, uint64_t> requests_;    // route|status -> count
  std::map<std::string, uint64_t> rejections_;  // reason -> events
  struct Latency {
    uint64_t buckets[std::size(kLatencyBuckets)] = {};  // count at or below each bound (cumulative)
    uint64_t count = 0;
    double sum = 0;
  };
  std::map<std::string, Latency> latency_;  // route -> histogram
  struct RefusalLogState {
    std::chrono::steady_clock::time_point last{};
    uint64_t unlogged = 0;
  };
  std::map<std::string, RefusalLogState> refusal_log_;  // reason -> when last logged
  std::function<void(const char*, const std::string&)> log_;
  double ingest_seconds_sum_ = 0;
  uint64_t ingest_count_ = 0;
};

}  // namespace waymark::collector
