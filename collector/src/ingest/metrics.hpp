// Collector metrics in Prometheus text format. Counters only; no user data in any label.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>

namespace waymark::collector {

class Metrics {
 public:
  void request(const std::string& route, int status);
  void rejected(const std::string& reason, uint64_t events = 1);
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
  double ingest_seconds_sum_ = 0;
  uint64_t ingest_count_ = 0;
};

}  // namespace waymark::collector
