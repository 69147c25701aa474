// The merger's lag as any role sees it (issue 21; the merger itself too), polled on the server's background
// tick: the lag in /metrics and /healthz, and on an ingest node whether to push back (devices get 503
// with Retry-After and keep their batches) while the merger is more than `max_lag` batches behind.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "ingest/metrics.hpp"
#include "queue/jetstream.hpp"

namespace waymark::collector {

class LagWatch {
 public:
  // `max_lag` 0: never push back.
  LagWatch(queue::JetStream& js, std::string durable, uint64_t max_lag, Metrics& metrics)
      : js_(js), durable_(std::move(durable)), max_lag_(max_lag), metrics_(metrics) {
    metrics_.unset("queue_lag_messages");  // unknown until the first poll
  }
  // Reads the consumer's state into queue_lag_messages. While the queue does not answer the lag is
  // unknown (the gauge is withdrawn, the note says so) and over() keeps its last answer.
  Status poll();
  uint64_t lag() const { return lag_.load(); }
  bool known() const { return known_.load(); }
  // Whether the merger was more than `max_lag` batches behind when last known.
  bool over() const { return max_lag_ > 0 && lag_.load() > max_lag_; }
  // For /healthz: " (queue lag: N batches)", or " (queue lag: unknown)".
  std::string note() const;

 private:
  queue::JetStream& js_;
  std::string durable_;
  uint64_t max_lag_;
  Metrics& metrics_;
  std::atomic<uint64_t> lag_{0};
  std::atomic<bool> known_{false};
};

}  // namespace waymark::collector
