#include "cluster/merger.hpp"

#include <algorithm>
#include <chrono>

namespace waymark::collector {

namespace {

// Beyond a fetch's own wait: how late a fetch that another merger started may still deliver.
constexpr int64_t kFetchSlackMs = 500;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Merger::Merger(queue::JetStream& js, Ingest& ingest, Metrics& metrics, MergerOptions options, Log log)
    : js_(js),
      ingest_(ingest),
      metrics_(metrics),
      options_(std::move(options)),
      log_(std::move(log)),
      lag_(js, options_.durable, 0, metrics) {  // unknown until the queue answers
  if (!log_) log_ = [](const std::string&, const std::string&) {};
  metrics_.unset("queue_lag_seconds");
}

Merger::~Merger() {
  stop();
}

Status Merger::start() {
  auto c = queue::Consumer::open(js_, options_.durable, options_.ack_wait_ms);
  if (!c.ok()) return c.status();
  consumer_ = std::move(c.value());
  thread_ = std::thread([this] { run(); });
  return Status::Ok();
}

void Merger::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

// Batches of one device must be decided in order (its consent before its events, sequences rising), so
// only the merger holding the store's writer lock takes batches: it confirms the lock before every
// fetch, and a fetch lasts `idle_wait_ms` at most. A merger taking over therefore waits that long (the
// previous one may be inside its last fetch), then, finding batches delivered and unacked (a dead or
// deposed merger's), waits `ack_wait_ms` for them to come back, ahead of anything newer.
void Merger::run() {
  refresh_lag();  // from the start: a merger that waits below is behind, and must say so
  wait_for_predecessor();
  int64_t backoff_ms = 100;
  while (!stopping_) {
    if (!may_fetch()) continue;
    auto batch = consumer_->fetch(options_.fetch_batches, options_.idle_wait_ms);
    if (!batch.ok()) {  // the queue is away: libnats reconnects, we wait
      log_("warning", "merger: " + batch.status().message);
      refresh_lag();
      pause(backoff_ms);
      backoff_ms = std::min<int64_t>(backoff_ms * 2, 5000);
      continue;
    }
    backoff_ms = 100;
    refresh_lag();
    report_wait(batch.value());
    if (batch->empty() || !commit_with_retry(batch.value())) continue;
    for (const auto& d : batch.value()) {
      // Not waited for: a lost ack only means a redelivery, which commits nothing new.
      if (Status s = consumer_->ack(*d, false); !s.ok()) log_("warning", "merger: " + s.message);
    }
    committed_ += batch->size();
  }
}

void Merger::wait_for_predecessor() {
  pause(options_.idle_wait_ms + kFetchSlackMs);
  auto st = consumer_->state();
  while (!st.ok() && !stopping_) {  // unknown is not "none": a queue electing a leader answers in a moment
    log_("warning", "merger: " + st.status().message + "; asking the queue again");
    pause(500);
    st = consumer_->state();
  }
  if (!st.ok() || st->unacked == 0) return;
  log_("info", std::string("merger: ") + std::to_string(st->unacked) +
                   " batches were taken by a merger that stopped; waiting for them to be delivered again");
  pause(options_.ack_wait_ms);
}

void Merger::pause(int64_t ms) {
  const auto start = std::chrono::steady_clock::now();
  const auto due = start + std::chrono::milliseconds(ms);
  auto refresh_at = start + std::chrono::seconds(1);
  while (!stopping_ && std::chrono::steady_clock::now() < due) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (std::chrono::steady_clock::now() < refresh_at) continue;
    refresh_lag();  // a long wait (a predecessor's batches) still says how far behind it is
    refresh_at = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  }
}

// Whether this merger still holds the store (waiting a moment when the store is away).
bool Merger::may_fetch() {
  const Status writer = ingest_.check_writer();
  if (writer.ok() || deposed_by(writer)) return writer.ok();
  log_("warning", "merger: " + writer.message);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  return false;
}

// Another merger took the store over (this one's store session was cut, and the standby took the
// lock first): this one stops, acking nothing, and says so (deposed()).
bool Merger::deposed_by(const Status& s) {
  if (s.code != Errc::store_busy) return false;
  log_("error", "merger: another merger took over the store (" + s.message + "); stopping");
  deposed_ = true;
  stopping_ = true;
  return true;
}

// Commits the batch, retrying with backoff until it is stored or the merger stops (then nothing is
// acked, and the messages come back to the next merger).
bool Merger::commit_with_retry(const std::vector<std::unique_ptr<queue::Delivery>>& batch) {
  std::vector<std::span<const uint8_t>> messages;
  for (const auto& d : batch) messages.push_back(d->data());
  for (int64_t backoff_ms = 100;; backoff_ms = std::min<int64_t>(backoff_ms * 2, 5000)) {
    auto stored = ingest_.commit_queued(messages);
    if (stored.ok()) return true;
    if (deposed_by(stored.status()) || stopping_) return false;
    log_("warning", "merger: commit failed, retrying in order: " + stored.status().message);
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
  }
}

void Merger::refresh_lag() {
  if (consumer_) (void)lag_.poll();  // not before start(): the durable consumer may not exist yet
}

// How long the oldest batch just taken waited on the stream, in seconds.
void Merger::report_wait(const std::vector<std::unique_ptr<queue::Delivery>>& batch) {
  const int64_t waited_ms = batch.empty() ? 0 : std::max<int64_t>(0, wall_ms() - batch.front()->published_ms());
  lag_seconds_ = static_cast<uint64_t>(waited_ms / 1000);
  metrics_.set("queue_lag_seconds", lag_seconds_);
}

std::string Merger::note() const {
  if (!lag_.known()) return lag_.note();
  return std::string(" (queue lag: ") + std::to_string(lag_.lag()) + " batches, " +
         std::to_string(lag_seconds_.load()) + " s)";
}

}  // namespace waymark::collector
