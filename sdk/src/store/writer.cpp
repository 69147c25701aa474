#include "store/writer.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace waymark::detail {

namespace {
// Unattended (async) rows do not wake the writer one by one: it collects them for up to
// kGroupWindowMs, or until kWakeBacklog are waiting. Waiting callers, flush and close wake it at once.
constexpr int64_t kGroupWindowMs = 5;
constexpr size_t kWakeBacklog = 1024;
constexpr int64_t kMaxBackoffMs = 5000;
}  // namespace

OutboxWriter::OutboxWriter(std::unique_ptr<Outbox> outbox, Config config)
    : outbox_(std::move(outbox)), config_(std::move(config)) {
  counters_ = outbox_->load_counters();
  events_ = outbox_->events();
  bytes_ = outbox_->bytes();
  thread_ = std::thread([this] { run(); });
}

OutboxWriter::~OutboxWriter() {
  (void)stop();
}

int64_t OutboxWriter::queued() const {
  std::lock_guard lock(mu_);
  return events_.load() + static_cast<int64_t>(queue_events_ + committing_events_);
}

Status OutboxWriter::enqueue_row(OutboxRow&& row, bool want_ticket, Ticket* ticket) {
  return enqueue_rows(std::span<OutboxRow>(&row, 1), want_ticket, ticket);  // no allocation on the hot path
}

// Appended under one hold of the lock, so the writer's swap takes all of them or none: they
// share a transaction. Each attended row carries the shared completion, so a failed commit is
// reported for all of them and none is kept for a retry the caller does not know about.
Status OutboxWriter::enqueue_rows(std::span<OutboxRow> rows, bool want_ticket, Ticket* ticket) {
  std::lock_guard lock(mu_);
  if (stopping_) return Error(WAYMARK_ERR_CLOSED, "client is closed");
  size_t events = 0;
  for (const OutboxRow& row : rows) events += static_cast<size_t>(row.events);
  // The cap bounds unattended (async) events; a caller that waits for its commit is its own bound.
  if (!want_ticket && queue_events_ + events > config_.queue_capacity) {
    std::lock_guard counters_lock(counters_mu_);
    counters_.dropped += static_cast<int64_t>(events);
    return Error(WAYMARK_ERR_QUEUE_FULL, "outbox queue is full; event dropped");
  }
  queue_events_ += events;
  Ticket completion = want_ticket ? std::make_shared<Completion>() : nullptr;
  for (OutboxRow& row : rows) {
    Item item;
    item.ticket = ++next_ticket_;
    item.row = std::move(row);
    item.completion = completion;
    queue_.push_back(std::move(item));
  }
  if (want_ticket) {
    *ticket = completion;
    wake_ = true;
  }
  if (idle_ && (want_ticket || queue_.size() >= kWakeBacklog)) work_cv_.notify_one();
  return Status::Ok();
}

Status OutboxWriter::enqueue_job(Job job, Ticket* ticket) {
  std::lock_guard lock(mu_);
  if (stopping_) return Error(WAYMARK_ERR_CLOSED, "client is closed");
  Item item;
  item.ticket = ++next_ticket_;
  item.job = std::move(job);
  item.completion = std::make_shared<Completion>();
  *ticket = item.completion;
  queue_.push_back(std::move(item));
  wake_ = true;
  if (idle_) work_cv_.notify_one();
  return Status::Ok();
}

Status OutboxWriter::wait(const Ticket& ticket, int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  if (!done_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return ticket->done; })) {
    return Error(WAYMARK_ERR_TIMEOUT, "the store did not commit in time");
  }
  return ticket->status;
}

Status OutboxWriter::flush(int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  const uint64_t target = next_ticket_;
  wake_ = true;
  if (idle_) work_cv_.notify_one();
  if (!done_cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 0)),
                         [&] { return processed_ticket_ >= target; })) {
    if (!last_error_.ok()) return last_error_;
    return Error(WAYMARK_ERR_TIMEOUT, "flush deadline passed before the queue was committed");
  }
  return Status::Ok();
}

Status OutboxWriter::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return Status::Ok();
    stopping_ = true;
    stopped_ = true;
    work_cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  if (lost_at_stop_ > 0) {
    return Error(WAYMARK_ERR_TIMEOUT, "queued events could not be committed before close; counted as dropped");
  }
  return Status::Ok();
}

std::vector<uint8_t> OutboxWriter::take_buffer() {
  std::lock_guard lock(spare_mu_);
  if (spare_.empty()) return {};
  std::vector<uint8_t> b = std::move(spare_.back());
  spare_.pop_back();
  return b;
}

void OutboxWriter::recycle(std::vector<Item>& batch) {
  std::lock_guard lock(spare_mu_);
  for (Item& item : batch) {
    if (!item.row) continue;
    for (std::vector<uint8_t>* b : {&item.row->plaintext, &item.row->sealed}) {
      if (b->capacity() == 0 || spare_.size() >= std::min<size_t>(config_.queue_capacity, 4096)) continue;
      b->clear();
      spare_.push_back(std::move(*b));
    }
  }
  batch.clear();
}

Status OutboxWriter::commit_batch(std::vector<Item>& batch, bool by_age) {
  if (Status s = outbox_->begin(); !s.ok()) return s;
  Counters delta;
  for (Item& item : batch) {
    Status s = item.row ? outbox_->insert(*item.row) : item.job(*outbox_, delta);
    if (!s.ok()) {
      outbox_->rollback();
      return s;
    }
  }
  Status s = outbox_->evict(config_.now_ms(), by_age, &delta.evicted);
  Counters c = counters();
  c += delta;
  if (s.ok()) s = outbox_->save_counters(c);
  if (s.ok()) s = outbox_->commit();
  if (!s.ok()) {
    outbox_->rollback();
    return s;
  }
  add(delta);
  return Status::Ok();
}

void OutboxWriter::maintain() {
  if (config_.on_tick) config_.on_tick();
  std::vector<Item> none;
  if (commit_batch(none, true).ok()) {
    events_ = outbox_->events();
    bytes_ = outbox_->bytes();
  }
}

void OutboxWriter::run() {
  using Clock = std::chrono::steady_clock;
  auto next_tick = Clock::now() + std::chrono::milliseconds(config_.tick_ms);
  int64_t backoff_ms = 0;  // grows while commits fail, reset by a success
  Clock::time_point retry_at = Clock::now();
  Clock::time_point group_deadline = Clock::time_point::max();
  std::unique_lock lock(mu_);
  for (;;) {
    if (Clock::now() >= next_tick && !stopping_) {
      lock.unlock();
      maintain();
      lock.lock();
      next_tick = Clock::now() + std::chrono::milliseconds(config_.tick_ms);
    }
    const auto now = Clock::now();
    const bool backing_off = !stopping_ && now < retry_at;
    if (!queue_.empty() && group_deadline == Clock::time_point::max()) {
      group_deadline = now + std::chrono::milliseconds(kGroupWindowMs);  // the first row opens a group
    }
    const bool ready = !queue_.empty() && !backing_off &&
                       (stopping_ || wake_ || queue_.size() >= kWakeBacklog || now >= group_deadline);
    if (!ready) {
      if (stopping_ && queue_.empty()) break;
      auto until = std::min(next_tick, backing_off ? retry_at : group_deadline);
      idle_ = true;
      if (queue_.empty()) wake_ = false;  // nothing to commit early (flush on an empty queue)
      work_cv_.wait_until(lock, until, [&] {
        return stopping_ || (!backing_off && !queue_.empty() && (wake_ || queue_.size() >= kWakeBacklog));
      });
      idle_ = false;
      continue;
    }
    wake_ = false;
    group_deadline = Clock::time_point::max();
    std::vector<Item>& batch = batch_;
    batch.swap(queue_);                                    // O(1) under the lock: recorders never wait for the copy
    committing_events_ = std::exchange(queue_events_, 0);  // still queued until events_ counts them
    lock.unlock();
    Status s = commit_batch(batch, false);
    lock.lock();
    events_ = outbox_->events();
    bytes_ = outbox_->bytes();
    committing_events_ = 0;
    if (s.ok()) {
      last_error_ = Status::Ok();
      backoff_ms = 0;
      for (Item& item : batch) {
        if (item.completion) item.completion->done = true;
      }
      processed_ticket_ = batch.back().ticket;
      done_cv_.notify_all();
      lock.unlock();
      recycle(batch);
      if (config_.on_commit) config_.on_commit(events_.load());
      lock.lock();
      continue;
    }
    // Waiting callers learn the failure now; unattended (async) rows are kept, in order, and
    // retried with backoff: a full disk must not silently lose queued events.
    last_error_ = s;
    std::vector<Item> kept;
    size_t kept_events = 0;
    for (Item& item : batch) {
      if (item.completion) {
        item.completion->done = true;
        item.completion->status = s;
      } else {
        kept_events += item.row ? static_cast<size_t>(item.row->events) : 0;
        kept.push_back(std::move(item));
      }
    }
    if (kept.empty()) {
      processed_ticket_ = batch.back().ticket;
    } else if (stopping_) {
      lost_at_stop_ += static_cast<int64_t>(kept_events);
      add(Counters{.dropped = static_cast<int64_t>(kept_events)});
      processed_ticket_ = batch.back().ticket;
    } else {
      processed_ticket_ = kept.front().ticket - 1;
      queue_.insert(queue_.begin(), std::make_move_iterator(kept.begin()), std::make_move_iterator(kept.end()));
      queue_events_ += kept_events;
      backoff_ms = std::min(kMaxBackoffMs, std::max<int64_t>(50, backoff_ms * 2));
      retry_at = Clock::now() + std::chrono::milliseconds(backoff_ms);
    }
    batch.clear();
    done_cv_.notify_all();
  }
}

}  // namespace waymark::detail
