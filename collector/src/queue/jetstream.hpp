// The batch queue between stateless ingest nodes and the one merger (issue 21): a NATS JetStream stream
// through libnats. Publishing waits for JetStream's ack (the batch is stored, on every replica the stream
// asks for) and names each message by its batch id, so a resend inside the stream's duplicate window is
// dropped by the server. The merger reads through a durable pull consumer, in order, and acks a message
// only after the commit that holds it; what it never acks comes back after `ack_wait_ms`, before any
// newer message (JetStream delivers due redeliveries first, in stream order).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "status.hpp"

namespace waymark::collector::queue {

struct StreamConfig {
  std::string servers = "nats://127.0.0.1:4222";  // comma-separated URLs of the cluster's nodes
  std::string stream = "WAYMARK_BATCHES";
  std::string subject = "waymark.batches";
  int replicas = 1;                           // 3 in a cluster: a batch survives one node's loss
  int64_t duplicate_window_ms = 10 * 60'000;  // resends of one batch id inside it are dropped
  int64_t publish_wait_ms = 5000;             // no ack by then: the batch is not queued
  // Connected, but JetStream not answering yet (a cluster starting, or electing a stream leader after
  // losing a node): creating the stream is tried again until this has passed.
  int64_t ready_wait_ms = 30'000;
  // Only to watch the merger's lag (the query role): never creates or changes the stream, and does
  // not need NATS at start (it connects in the background; until then the lag is unknown).
  bool watch_only = false;
};

struct PublishAck {
  uint64_t sequence = 0;   // the stream's sequence of the stored message
  bool duplicate = false;  // the id was already in the window: stored once, earlier
};

// One message handed to the consumer; ack() it after its commit.
class Delivery {
 public:
  ~Delivery();
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;
  std::span<const uint8_t> data() const;
  std::string_view msg_id() const;
  uint64_t stream_sequence() const { return stream_sequence_; }
  uint64_t delivered() const { return delivered_; }  // 1 the first time, more on redelivery
  int64_t published_ms() const { return published_ms_; }

 private:
  friend class Consumer;
  struct Msg;
  explicit Delivery(Msg* msg);
  Msg* msg_;
  uint64_t stream_sequence_ = 0, delivered_ = 0;
  int64_t published_ms_ = 0;
};

class JetStream {
 public:
  // Connects (retrying in the background after a loss) and creates the stream, or updates its
  // duplicate window; Errc::queue_unavailable when no server answers.
  static Result<std::unique_ptr<JetStream>> connect(const StreamConfig& config);
  ~JetStream();
  JetStream(const JetStream&) = delete;
  JetStream& operator=(const JetStream&) = delete;

  struct ConsumerState {
    uint64_t undelivered = 0;  // on the stream, not delivered to the consumer yet
    uint64_t unacked = 0;      // delivered (to any of its subscribers, a dead one too) and not acked
    uint64_t lag() const { return undelivered + unacked; }
  };
  // The durable consumer's state (an ingest node asks for the merger's, for back-pressure); a consumer
  // that does not exist yet has everything on the stream undelivered.
  Result<ConsumerState> consumer_state(const std::string& durable);

  // Returns once JetStream stored the message; Errc::queue_unavailable when it did not (nothing may
  // be acknowledged to the device then).
  Result<PublishAck> publish(std::string_view msg_id, std::span<const uint8_t> data);
  const StreamConfig& config() const { return config_; }

 private:
  friend class Consumer;
  struct Handles;
  JetStream(StreamConfig config, std::unique_ptr<Handles> h);
  StreamConfig config_;
  std::unique_ptr<Handles> h_;
};

class Consumer {
 public:
  // Binds to (or creates) the durable pull consumer `durable` on the stream: explicit acks, one
  // message in flight per ack at most `max_ack_pending`.
  static Result<std::unique_ptr<Consumer>> open(JetStream& js, const std::string& durable, int64_t ack_wait_ms,
                                                int max_ack_pending = 1000);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Up to `max` messages in stream order; none when `timeout_ms` passes first.
  Result<std::vector<std::unique_ptr<Delivery>>> fetch(int max, int64_t timeout_ms);
  // Acks; with `confirm`, waits for the server to confirm it, so a confirmed ack is never redelivered.
  // Without, an ack lost on the way means a redelivery (which an idempotent consumer can take).
  Status ack(Delivery& d, bool confirm = true);
  Result<JetStream::ConsumerState> state();

 private:
  struct Handles;
  Consumer(JetStream& js, std::unique_ptr<Handles> h);
  JetStream& js_;
  std::unique_ptr<Handles> h_;
};

}  // namespace waymark::collector::queue
