// The merger role (issue 21): takes verified batches off the queue in order, decides and commits them
// (Ingest::commit_queued) and acks them only after that commit. A failed commit acks nothing and is
// retried with backoff, in order, before anything after it; a merger that dies leaves its messages
// unacked, and JetStream delivers them again to whichever merger consumes next. Committing is
// idempotent (batch receipts and event ids are kept forever), so a batch delivered twice is stored once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "cluster/lag_watch.hpp"
#include "ingest/ingest.hpp"
#include "ingest/metrics.hpp"
#include "queue/jetstream.hpp"

namespace waymark::collector {

struct MergerOptions {
  std::string durable = "waymark-merger";  // every merger of a cluster shares this consumer
  int fetch_batches = 256;                 // batches taken (and committed together) at most at once
  // Unacked this long, a batch is delivered again; a merger taking over from a dead one waits this
  // long first (the takeover time). Longer than any commit should take.
  int64_t ack_wait_ms = 10000;
  int64_t idle_wait_ms = 500;  // how long one fetch waits on an empty stream
};

class Merger {
 public:
  using Log = std::function<void(const std::string& level, const std::string& message)>;
  Merger(queue::JetStream& js, Ingest& ingest, Metrics& metrics, MergerOptions options = {}, Log log = {});
  ~Merger();
  Merger(const Merger&) = delete;
  Merger& operator=(const Merger&) = delete;

  // Binds the durable consumer and starts consuming on a thread of its own.
  Status start();
  // Finishes the commit under way (its acks included), then returns.
  void stop();
  // Batches committed (new or resent) since start.
  uint64_t committed() const { return committed_.load(); }
  // Asks the queue how many batches are not yet committed (undelivered, or delivered and unacked) and
  // publishes it as queue_lag_messages; while the queue does not answer, the lag is unknown and the
  // gauge is withdrawn. The merger does so after each fetch and each second of a wait; a /metrics
  // scrape does so too (ServerConfig::before_metrics), so a scrape never shows a stale 0.
  void refresh_lag();
  // For /healthz: " (queue lag: N batches, S s)", or " (queue lag: unknown)".
  std::string note() const;
  // Another merger took the store over (its lock went with a store session that was cut): this one
  // stopped merging, and its process should exit so that it comes back as a standby.
  bool deposed() const { return deposed_.load(); }

 private:
  void run();
  void wait_for_predecessor();
  void pause(int64_t ms);  // returns early once stopping
  bool may_fetch();
  bool deposed_by(const Status& s);
  bool commit_with_retry(const std::vector<std::unique_ptr<queue::Delivery>>& batch);
  void report_wait(const std::vector<std::unique_ptr<queue::Delivery>>& batch);

  queue::JetStream& js_;
  Ingest& ingest_;
  Metrics& metrics_;
  MergerOptions options_;
  Log log_;
  std::unique_ptr<queue::Consumer> consumer_;
  std::atomic<bool> stopping_{false}, deposed_{false};
  std::atomic<uint64_t> committed_{0};
  LagWatch lag_;  // queue_lag_messages, as the ingest and query roles report it
  std::atomic<uint64_t> lag_seconds_{0};
  std::thread thread_;
};

}  // namespace waymark::collector
