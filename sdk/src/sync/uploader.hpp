// The batcher and uploader: its own thread running a Boost.Asio io_context. Leases outbox rows
// into a batch, signs and seals it, posts it, and deletes the rows only after the collector's
// signed receipt for that batch id. Retries with exponential backoff and full jitter.
#pragma once

#include <utility>  // before Asio (Boost 1.74 + g++ 12 in C++20)

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "store/writer.hpp"
#include "transport/http_transport.hpp"
#include "common/wire/envelope.hpp"

namespace waymark::detail {

struct UploadConfig {
  std::string url;
  waymark_transport_fn host_transport = nullptr;
  void* host_user_data = nullptr;
  std::vector<std::pair<uint32_t, std::array<uint8_t, 32>>> collector_keys;  // Ed25519, by key id
  size_t batch_max_events = 500;
  int64_t batch_max_bytes = 1 << 20;
  int64_t flush_at_events = 100;
  int64_t flush_interval_ms = 30000;
  int64_t backoff_base_ms = 1000;
  int64_t backoff_cap_ms = 300000;
  HttpTimeouts timeouts;
  TlsConfig tls;
  std::string app_id;
  // From the platform table's device_info: OS name (the batch's platform), OS version, device model.
  std::string platform, os_version, device_model;
};

// The configured transport (the host's, else Beast) aimed at `url` instead of `config.url`.
Result<std::unique_ptr<Transport>> make_transport(boost::asio::io_context& ioc, const UploadConfig& config,
                                                  const std::string& url);

// The collector's last refusal of a batch: its HTTP status (0: none yet) and reason.
struct Rejection {
  int32_t http_status = 0;
  std::string reason;  // the collector's reason word, printable ASCII, at most kMaxReasonBytes
  static constexpr size_t kMaxReasonBytes = 64;
};

// What the uploader needs from the client, read when a batch is built.
struct UploadSource {
  const uint8_t* device_secret_key = nullptr;              // Ed25519, 64 bytes, outlives the uploader
  std::function<std::vector<uint8_t>()> device_pseudonym;  // empty in child mode
  std::function<int64_t()> wall_ms;
  std::function<int64_t()> monotonic_ms;
  std::function<int32_t()> network_reachable;  // 1, 0, or -1 (unknown)
  std::function<void(int32_t, std::string_view)> log;
};

class Uploader {
 public:
  // Validates the configuration (URL, TLS files) and starts the thread.
  static Result<std::unique_ptr<Uploader>> start(UploadConfig config, UploadSource source, OutboxWriter& writer,
                                                 RandomPool& random);
  Uploader(UploadConfig config, UploadSource source, OutboxWriter& writer, RandomPool& random);
  ~Uploader();
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  // Starts an upload cycle. `urgent` also cuts a running backoff short (flush, lifecycle).
  void trigger(bool urgent);
  // From the writer after each commit: starts a cycle once enough events are queued.
  void on_commit(int64_t queued_rows);
  // Waits until every row with id <= `through_id` has left the outbox (uploaded or dead-lettered).
  // WAYMARK_ERR_REJECTED when, during the wait, a batch holding such a row was dead-lettered.
  Status wait_uploaded(int64_t through_id, int64_t timeout_ms);
  Rejection last_rejection() const;
  // Stops the thread; an in-flight batch stays leased and is resent, same id, next time.
  void stop();

 private:
  void cycle();
  void send(LeasedBatch batch);
  void on_response(HttpResult result);
  void retry_later(int64_t delay_ms, const Status& why);
  // Counts and remembers a permanent refusal; true when the batch is to be dead-lettered now.
  bool note_refusal(const LeasedBatch& batch, const HttpResult& r);
  void arm_interval();
  bool run_job(OutboxWriter::Job job);
  int64_t jitter(int64_t max_ms);

  UploadConfig config_;
  UploadSource source_;
  OutboxWriter& writer_;
  RandomPool& random_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer interval_timer_;
  std::unique_ptr<Transport> transport_;
  std::thread thread_;

  // io thread only
  bool busy_ = false;  // a batch is being leased, sent or completed
  bool backing_off_ = false;
  int attempt_ = 0;
  std::optional<LeasedBatch> current_;
  std::optional<Uuid> sent_batch_;  // the batch this process last sent (a resend of it is stamped anew)
  Uuid refused_batch_{};            // the batch the collector last refused, and how many times in a row
  int refusals_ = 0;

  std::atomic<bool> kick_posted_{false};
  std::atomic<bool> stopped_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t uploaded_through_ = 0;  // guarded by mu_
  Status last_error_;             // guarded by mu_
  Rejection last_rejection_;      // guarded by mu_
  // Batches dead-lettered since start (guarded by mu_), and the first row id of the newest ones: a
  // flush compares those dead-lettered during its wait with the rows it waits for.
  uint64_t dead_letters_ = 0;
  std::deque<int64_t> dead_lettered_from_;  // of dead letters number dead_letters_ - size() onwards
  static constexpr size_t kDeadLettersKept = 1024;
};

}  // namespace waymark::detail
