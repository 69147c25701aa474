// The outbox writer thread: group-commits queued rows and jobs in order, persists counters,
// enforces caps, and runs periodic maintenance. Callers never touch SQLite themselves.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <thread>

#include "store/outbox.hpp"

namespace waymark::detail {

class OutboxWriter {
 public:
  // A job runs inside the writer's transaction, ordered with the rows around it; it adds what it
  // changed (purged, uploaded, …) to `delta`, which counts only if the transaction commits.
  using Job = std::function<Status(Outbox&, Counters& delta)>;

  struct Completion {
    bool done = false;
    Status status;
  };
  using Ticket = std::shared_ptr<Completion>;

  struct Config {
    size_t queue_capacity = 10000;
    int64_t tick_ms = 1000;
    std::function<int64_t()> now_ms;              // wall clock, for age caps
    std::function<void()> on_tick;                // maintenance outside the writer's lock
    std::function<void(int64_t rows)> on_commit;  // after each commit, outside the lock
  };

  OutboxWriter(std::unique_ptr<Outbox> outbox, Config config);
  ~OutboxWriter();
  OutboxWriter(const OutboxWriter&) = delete;
  OutboxWriter& operator=(const OutboxWriter&) = delete;

  // Queues a row (of row.events events). With `want_ticket` the returned ticket completes when the
  // row is committed (or its commit failed); without, a failed commit is retried with backoff.
  // Errors: QUEUE_FULL (counted as dropped), CLOSED.
  Status enqueue_row(OutboxRow&& row, bool want_ticket, Ticket* ticket);
  // Queues `rows` (moved from) together: they commit in one transaction, all or none. With `want_ticket` they
  // share one ticket; without, the queue cap applies to them as a whole (QUEUE_FULL drops all).
  Status enqueue_rows(std::span<OutboxRow> rows, bool want_ticket, Ticket* ticket);
  Status enqueue_job(Job job, Ticket* ticket);
  // Waits for a ticket, at most `timeout_ms`.
  Status wait(const Ticket& ticket, int64_t timeout_ms);
  // Waits until everything queued before the call is committed.
  Status flush(int64_t timeout_ms);
  // Commits what is queued (one attempt each) and stops the thread. Idempotent.
  Status stop();

  // Row buffers recycled from committed rows: memory that is already paged in, so a recorder
  // does not pay for page faults on the hot path. take_buffer() may return an empty vector.
  std::vector<uint8_t> take_buffer();
  // Seals a row on the calling thread (Outbox::seal), so the writer thread only inserts it.
  Status seal(OutboxRow& row) const { return outbox_->seal(row); }

  void add(const Counters& delta) {
    std::lock_guard lock(counters_mu_);
    counters_ += delta;
  }
  Counters counters() const {
    std::lock_guard lock(counters_mu_);
    return counters_;
  }
  // Events in the outbox, in the queue and in the commit under way.
  int64_t queued() const;
  int64_t bytes() const { return bytes_.load(); }

 private:
  struct Item {
    uint64_t ticket = 0;
    std::optional<OutboxRow> row;
    Job job;
    Ticket completion;
  };
  void run();
  Status commit_batch(std::vector<Item>& batch, bool by_age);
  void recycle(std::vector<Item>& batch);
  void maintain();

  std::unique_ptr<Outbox> outbox_;
  Config config_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::vector<Item> queue_;       // swapped with batch_ by the writer: both keep their capacity
  size_t queue_events_ = 0;       // events in queue_'s rows
  size_t committing_events_ = 0;  // events in batch_'s rows while the writer commits them
  std::vector<Item> batch_;
  std::mutex spare_mu_;
  std::vector<std::vector<uint8_t>> spare_;
  uint64_t next_ticket_ = 0;
  uint64_t processed_ticket_ = 0;
  bool idle_ = false;
  bool wake_ = false;  // a caller waits: commit now instead of after the group window
  bool stopping_ = false;
  bool stopped_ = false;
  Status last_error_;
  int64_t lost_at_stop_ = 0;
  mutable std::mutex counters_mu_;
  Counters counters_;
  std::atomic<int64_t> events_{0}, bytes_{0};  // in the outbox, as of the last commit
  std::thread thread_;
};

}  // namespace waymark::detail
