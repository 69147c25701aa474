// POST /v1/batches in two stages.
// Verify (stateless, on the caller's thread): size limit -> open sealed box -> verify signature ->
// FlatBuffers Verifier -> event shape -> identity assertions.
// Decide (stateful, on the committer thread, inside the store's write transaction): replay check ->
// consent check of every event (fail closed) -> erasures and tombstones -> dedupe by event id forever
// -> re-key pseudonyms -> a write. Concurrent batches share one transaction and one fsync (group
// commit); each is answered only after the commit that holds it.
// In a cluster (issue 21) the stages run apart: an ingest node verifies and publishes each batch to the
// queue, answering once JetStream stored it; the merger decides and commits what it takes off the queue.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto/secure.hpp"
#include "common/wire/envelope.hpp"
#include "ingest/metrics.hpp"
#include "store/store.hpp"

namespace waymark::wire::v1 {
struct Event;
}

namespace waymark::collector {

namespace queue {
class JetStream;
}

struct CollectorKey {
  uint32_t key_id = 0;
  std::array<uint8_t, 64> secret{};  // Ed25519; sealing uses its X25519 form
  int64_t retire_at_ms = INT64_MAX;  // after a rotation: batches sealed to it are refused from then on
};

// What one batch and one event may hold. An honest SDK stays inside WAYMARK_MAX_* (waymark.h); a
// device that sends more has its event refused with a counted reason, and the store stays small.
struct IngestLimits {
  size_t max_batch_bytes = 16u << 20;  // decompressed; `serve` sets max-decompressed-ratio × max-body-bytes
  size_t max_identifiers = 32;         // per event (a customer holds at most 32 on the device)
  size_t max_properties = 64;          // WAYMARK_MAX_PROPERTIES
  size_t max_event_bytes = 65536;      // WAYMARK_MAX_EVENT_BYTES, the encoded event
  size_t max_name_bytes = 256;         // WAYMARK_MAX_NAME_BYTES: a property key; app id, platform, versions
  size_t max_string_bytes = 4096;      // WAYMARK_MAX_STRING_BYTES: a string property
  // Group commit: a transaction takes every batch waiting, up to this many events (then the rest wait
  // for the next one).
  size_t max_group_events = 20000;
};

struct IngestResponse {
  int http_status = 200;
  Bytes body;
  std::string reason;  // metric reason for a rejection; "" when accepted
  int retry_after_s = -1;
};

// What the store keeps of an SDK pseudonym: BLAKE2b(pseudonym, key = the server's re-key secret).
// Ingest, the query API and the blocklist all re-key through this one function.
Key32 rekey_pseudonym(const uint8_t* sdk_pseudonym, const uint8_t* rekey_secret);

class Ingest {
 public:
  using Done = std::function<void(IngestResponse)>;

  // `rekey_secret` (32 bytes) re-keys every pseudonym: a stolen database plus the brand key
  // still cannot be dictionary-attacked. Starts the committer thread.
  Ingest(IngestStore& store, std::vector<CollectorKey> keys, const uint8_t* rekey_secret, Metrics& metrics,
         IngestLimits limits = {});
  // An ingest node's: verified batches are published to `queue` (one message each, named by the batch
  // id), and each is answered 200 with a signed "queued" receipt once JetStream stored it, or 503 when
  // it did not. Nothing is decided or stored here.
  Ingest(queue::JetStream& queue, std::vector<CollectorKey> keys, const uint8_t* rekey_secret, Metrics& metrics,
         IngestLimits limits = {});
  // Answers what is still waiting with 503 and joins the committer.
  ~Ingest();
  Ingest(const Ingest&) = delete;
  Ingest& operator=(const Ingest&) = delete;

  // Verifies `body` on the calling thread, then queues the batch for the next group commit. `done`
  // runs once: on the calling thread when the batch is refused before any store work, else on the
  // committer thread after the commit (or its failure). `body` may be released when this returns.
  void submit(const uint8_t* body, size_t len, int64_t now_ms, Done done);
  // Ed25519 public keys of the brand's authority: erasure tokens they sign erase a whole customer.
  // Set before serving.
  // They also sign identity assertions (authority/identity_assertion.hpp).
  void set_authority_keys(std::vector<std::array<uint8_t, 32>> keys) { authority_keys_ = std::move(keys); }
  // Identifier kinds that join profiles only with a valid identity assertion (`verified-kinds`); without
  // one they are kept but never link. Set before serving.
  void set_verified_kinds(const std::vector<uint8_t>& kinds) {
    for (uint8_t k : kinds) verified_kinds_[k] = true;
  }
  // An ingest node's back-pressure: while set, batches are answered 503 (Retry-After) before any work,
  // because the merger is further behind than the operator allows (`max-queue-lag`).
  void set_queue_lagging(bool lagging) { queue_lagging_ = lagging; }
  // Batches verified and not answered yet (waiting for a commit, or in the one under way).
  size_t waiting() const { return waiting_.load(); }
  // Identity assertions checked in one batch at most (an honest SDK sends one per identify event).
  static constexpr int kMaxAssertionsPerBatch = 64;
  // submit() and wait for the answer (tools, benches, tests).
  IngestResponse handle(const uint8_t* body, size_t len, int64_t now_ms);
  // The merger's: decides the queued batches (encode_queued_batch) and commits them in one transaction,
  // in order, on the calling thread. A message that is not a queued batch is counted and skipped (it can
  // never succeed); a store failure stores none of them. Returns how many batches were new.
  Result<size_t> commit_queued(const std::vector<std::span<const uint8_t>>& messages);
  // The merger's, before it takes batches: whether its store still lets it write (IngestStore::check_writer).
  Status check_writer() { return store_->check_writer(); }

 private:
  struct Request;
  struct EventDecision;
  void start(const uint8_t* rekey_secret);
  std::unique_ptr<Request> verify(const uint8_t* body, size_t len, int64_t now_ms, IngestResponse* refused);
  static const char* index_batch(Request& r, const IngestLimits& limits);
  std::unique_ptr<Request> from_queue(std::span<const uint8_t> message);
  void commit_group(std::vector<std::unique_ptr<Request>>& group);
  void publish_group(std::vector<std::unique_ptr<Request>>& group);
  uint64_t asserted_identifiers(const Request& r, const wire::v1::Event& e, int& budget);
  Result<bool> decide(Request& r, IngestTxn& txn, BatchWrite& write);
  Result<bool> decide_event(Request& r, size_t i, EventDecision& d, IngestTxn& txn, BatchWrite& write);
  Result<bool> consent_allows(Request& r, const wire::v1::Event& e, EventDecision& d, IngestTxn& txn,
                              BatchWrite& write);
  void forget(Request& r, const wire::v1::Event& e, EventDecision& d, BatchWrite& write);
  void finish(Request& r, const Result<bool>& wrote);
  void commit_loop();

  IngestStore* store_ = nullptr;            // deciding and committing (single process, merger)
  queue::JetStream* publish_to_ = nullptr;  // or publishing (ingest node)
  std::vector<CollectorKey> keys_;
  std::vector<detail::Result<detail::EnvelopeOpener>> openers_;  // one per key, same order
  detail::Secret<32> rekey_;
  detail::Secret<32> queue_key_;  // seals queued batches (queued_batch.hpp)
  Metrics& metrics_;
  IngestLimits limits_;
  std::vector<std::array<uint8_t, 32>> authority_keys_;
  std::array<bool, 256> verified_kinds_{};

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Request>> queue_;  // verified, waiting for a commit (guarded by mu_)
  bool stopping_ = false;                       // guarded by mu_
  std::atomic<size_t> waiting_{0};
  std::atomic<bool> queue_lagging_{false};
  std::thread committer_;
};

}  // namespace waymark::collector
