#include "ingest/metrics.hpp"

#include <sstream>

namespace waymark::collector {

void Metrics::request(const std::string& route, int status) {
  std::lock_guard lock(mu_);
  ++requests_[route + "\",status=\"" + std::to_string(status)];
}

void Metrics::rejected(const std::string& reason, uint64_t events) {
  std::lock_guard lock(mu_);
  rejections_[reason] += events;
}

void Metrics::refused_batch(const std::string& reason) {
  std::string line;
  {
    std::lock_guard lock(mu_);
    ++rejections_[reason];
    ++counters_["batches_rejected_total"];
    RefusalLogState& state = refusal_log_[reason];
    ++state.unlogged;
    const auto now = std::chrono::steady_clock::now();
    if (!log_ || (state.last != std::chrono::steady_clock::time_point{} && now - state.last < kRefusalLogInterval)) {
      return;
    }
    line = "refused a batch: " + reason + " (" + std::to_string(state.unlogged) +
           " refused for this reason since the last report)";
    state.last = now;
    state.unlogged = 0;
  }
  log_("warning", line);
}

void Metrics::add(const char* name, uint64_t n) {
  std::lock_guard lock(mu_);
  counters_[name] += n;
}

void Metrics::set(const std::string& name, uint64_t value) {
  std::lock_guard lock(mu_);
  const bool counter = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
  (counter ? counters_ : gauges_)[name] = value;
}

void Metrics::observe_ingest_seconds(double s) {
  std::lock_guard lock(mu_);
  ingest_seconds_sum_ += s;
  ++ingest_count_;
}

std::string Metrics::prometheus() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  out << "# TYPE waymark_http_requests_total counter\n";
  for (const auto& [k, v] : requests_) out << "waymark_http_requests_total{route=\"" << k << "\"} " << v << "\n";
  for (const auto& [k, v] : counters_) out << "# TYPE waymark_" << k << " counter\nwaymark_" << k << " " << v << "\n";
  for (const auto& [k, v] : gauges_) out << "# TYPE waymark_" << k << " gauge\nwaymark_" << k << " " << v << "\n";
  out << "# TYPE waymark_rejected_total counter\n";
  for (const auto& [k, v] : rejections_) out << "waymark_rejected_total{reason=\"" << k << "\"} " << v << "\n";
  out << "# TYPE waymark_ingest_seconds summary\nwaymark_ingest_seconds_sum " << ingest_seconds_sum_
      << "\nwaymark_ingest_seconds_count " << ingest_count_ << "\n";
  return out.str();
}

}  // namespace waymark::collector
