// Collector metrics in Prometheus text format. Counters only; no user data in any label.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace waymark::collector {

class Metrics {
 public:
  // Every family the collector reports, present at zero from the start, with its HELP text.
  Metrics();
  void request(const std::string& route, int status);
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
  void observe_ingest_seconds(double s);
  std::string prometheus() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> counters_;    // name -> value
  std::map<std::string, uint64_t> gauges_;      // name -> value
  std::map<std::string, uint64_t> requests_;    // route|status -> count
  std::map<std::string, uint64_t> rejections_;  // reason -> events
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
