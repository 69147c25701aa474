// An ingest node's view of the merger's lag (issue 21): polled on the server's background tick, it
// publishes the lag in /metrics and /healthz and turns back-pressure on while the merger is more than
// `max_lag` batches behind (devices get 503 with Retry-After and keep their batches), and off again once
// it has caught up.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "ingest/ingest.hpp"
#include "ingest/metrics.hpp"
#include "queue/jetstream.hpp"

namespace waymark::collector {

class LagWatch {
 public:
  // `max_lag` 0: never push back.
  LagWatch(queue::JetStream& js, std::string durable, uint64_t max_lag)
      : js_(js), durable_(std::move(durable)), max_lag_(max_lag) {}
  // Reads the consumer's state; on failure (the queue is away) leaves everything as it was.
  Status poll(Ingest& ingest, Metrics& metrics);
  uint64_t lag() const { return lag_.load(); }
  // For /healthz: " (queue lag: N batches)".
  std::string note() const;

 private:
  queue::JetStream& js_;
  std::string durable_;
  uint64_t max_lag_;
  std::atomic<uint64_t> lag_{0};
};

}  // namespace waymark::collector
