#include "sync/uploader.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/post.hpp>

namespace waymark::detail {

namespace asio = boost::asio;

namespace {
constexpr int64_t kJobWaitMs = 30000;
// A permanent rejection dead-letters a batch only when it repeats: a body damaged on the way (a
// proxy, a flaky link without TLS) fails the collector's checks once and is accepted when resent.
constexpr int kRefusalsBeforeDeadLetter = 4;

bool permanent_rejection(int status) {
  return status == 400 || status == 401 || status == 403 || status == 410 || status == 413 || status == 422;
}
}  // namespace

Uploader::Uploader(UploadConfig config, UploadSource source, OutboxWriter& writer, RandomPool& random)
    : config_(std::move(config)),
      source_(std::move(source)),
      writer_(writer),
      random_(random),
      work_(asio::make_work_guard(ioc_)),
      retry_timer_(ioc_),
      interval_timer_(ioc_) {}

Result<std::unique_ptr<Transport>> make_transport(asio::io_context& ioc, const UploadConfig& config,
                                                  const std::string& url) {
  if (config.host_transport != nullptr) {
    return make_host_transport(ioc, url, config.host_transport, config.host_user_data);
  }
  auto parsed = parse_url(url);
  if (!parsed.ok()) return parsed.status();
  return make_beast_transport(ioc, parsed.value(), config.timeouts, config.tls);
}

Result<std::unique_ptr<Uploader>> Uploader::start(UploadConfig config, UploadSource source, OutboxWriter& writer,
                                                  RandomPool& random) {
  auto u = std::make_unique<Uploader>(std::move(config), std::move(source), writer, random);
  auto t = make_transport(u->ioc_, u->config_, u->config_.url);
  if (!t.ok()) return t.status();
  u->transport_ = std::move(t.value());
  u->thread_ = std::thread([p = u.get()] { p->ioc_.run(); });
  u->trigger(false);  // whatever an earlier run left queued or leased goes out now
  return u;
}

Uploader::~Uploader() {
  stop();
}

void Uploader::stop() {
  if (stopped_.exchange(true) || !thread_.joinable()) return;
  asio::post(ioc_, [this] {
    retry_timer_.cancel();
    interval_timer_.cancel();
    transport_->cancel();
    work_.reset();
    ioc_.stop();
  });
  if (thread_.joinable()) thread_.join();
  cv_.notify_all();
}

void Uploader::trigger(bool urgent) {
  if (stopped_) return;
  asio::post(ioc_, [this, urgent] {
    kick_posted_ = false;
    if (backing_off_ && urgent) {
      backing_off_ = false;
      retry_timer_.cancel();
    }
    if (!busy_ && !backing_off_) cycle();
  });
}

void Uploader::on_commit(int64_t queued_rows) {
  if (queued_rows >= config_.flush_at_events && !kick_posted_.exchange(true)) trigger(false);
}

Status Uploader::wait_uploaded(int64_t through_id, int64_t timeout_ms) {
  trigger(true);
  std::unique_lock lock(mu_);
  const uint64_t dead_before = dead_letters_;
  const bool done = cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 0)),
                                 [&] { return uploaded_through_ >= through_id || stopped_; });
  const size_t during =
      static_cast<size_t>(std::min<uint64_t>(dead_letters_ - dead_before, dead_lettered_from_.size()));
  if (std::any_of(dead_lettered_from_.end() - static_cast<std::ptrdiff_t>(during), dead_lettered_from_.end(),
                  [&](int64_t first) { return first <= through_id; })) {
    return Error(WAYMARK_ERR_REJECTED, "the collector refused a batch (HTTP " +
                                           std::to_string(last_rejection_.http_status) + " " + last_rejection_.reason +
                                           "); its events were dead-lettered");
  }
  if (done && uploaded_through_ >= through_id) return Status::Ok();
  if (!last_error_.ok()) {
    return Error(WAYMARK_ERR_TIMEOUT,
                 "events not yet acknowledged by the collector; last problem: " + last_error_.message);
  }
  return Error(WAYMARK_ERR_TIMEOUT, "events not yet acknowledged by the collector before the deadline");
}

Rejection Uploader::last_rejection() const {
  std::lock_guard lock(mu_);
  return last_rejection_;
}

namespace {
// The reason word of a refusal's body ("unknown_key_id\n"): printable ASCII up to the first other
// byte, at most Rejection::kMaxReasonBytes. The body comes from the network; nothing else is kept.
std::string reason_of(const std::vector<uint8_t>& body) {
  std::string out;
  for (uint8_t c : body) {
    if (c <= 0x20 || c >= 0x7f || out.size() == Rejection::kMaxReasonBytes) break;
    out.push_back(static_cast<char>(c));
  }
  return out;
}
}  // namespace

bool Uploader::note_refusal(const LeasedBatch& batch, const HttpResult& r) {
  refusals_ = batch.batch_id == refused_batch_ ? refusals_ + 1 : 1;
  refused_batch_ = batch.batch_id;
  {
    std::lock_guard lock(mu_);
    last_rejection_ = {r.http_status, reason_of(r.body)};
  }
  // Counted even when persisting fails: the refusal itself is what the host must hear about.
  (void)run_job([](Outbox&, Counters& delta) {
    ++delta.rejected;
    return Status::Ok();
  });
  return refusals_ >= kRefusalsBeforeDeadLetter;
}

bool Uploader::run_job(OutboxWriter::Job job) {
  OutboxWriter::Ticket ticket;
  Status s = writer_.enqueue_job(std::move(job), &ticket);
  if (s.ok()) s = writer_.wait(ticket, kJobWaitMs);
  if (!s.ok()) {
    std::lock_guard lock(mu_);
    last_error_ = s;
    return false;
  }
  return true;
}

int64_t Uploader::jitter(int64_t max_ms) {
  uint32_t r = 0;
  if (!random_.fill(reinterpret_cast<uint8_t*>(&r), sizeof r).ok() || max_ms <= 0) return max_ms;
  return static_cast<int64_t>(r % static_cast<uint64_t>(max_ms + 1));
}

void Uploader::arm_interval() {
  interval_timer_.expires_after(std::chrono::milliseconds(config_.flush_interval_ms));
  interval_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) trigger(false);
  });
}

void Uploader::cycle() {
  busy_ = true;
  if (source_.network_reachable() == 0) {
    busy_ = false;
    return retry_later(config_.backoff_base_ms, Error(WAYMARK_ERR_NETWORK, "the platform reports no network"));
  }
  BatchLease fresh;
  fresh.sent_at_ms = source_.wall_ms();
  fresh.sent_monotonic_ms = source_.monotonic_ms();
  fresh.counters = writer_.counters();
  fresh.max_events = config_.batch_max_events;
  fresh.max_bytes = config_.batch_max_bytes;
  UuidClock clock;
  if (auto id = make_uuid_v7(random_, clock, fresh.sent_at_ms); id.ok()) fresh.batch_id = id.value();
  std::optional<LeasedBatch> leased;
  int64_t through = -1;
  const bool ok = run_job([&](Outbox& o, Counters& delta) -> Status {
    auto r = o.lease_batch(fresh, delta);
    if (!r.ok()) return r.status();
    leased = std::move(r.value());
    if (!leased) {
      auto t = o.uploaded_through();
      if (!t.ok()) return t.status();
      through = t.value();
    }
    return Status::Ok();
  });
  if (!ok) {
    busy_ = false;
    return retry_later(config_.backoff_base_ms, Error(WAYMARK_ERR_STORE_IO, "could not lease a batch"));
  }
  if (!leased) {  // drained
    busy_ = false;
    {
      std::lock_guard lock(mu_);
      uploaded_through_ = std::max(uploaded_through_, through);
    }
    cv_.notify_all();
    arm_interval();
    return;
  }
  send(std::move(*leased));
}

void Uploader::send(LeasedBatch batch) {
  BatchHeader header;
  header.batch_id = batch.batch_id;
  header.sequence = static_cast<uint64_t>(batch.seq);
  header.device_pseudonym = source_.device_pseudonym();
  header.app_id = config_.app_id;
  header.platform = config_.platform;
  header.os_version = config_.os_version;
  header.device_model = config_.device_model;
  // The collector places events relative to when their batch arrived, by this pair: a resend from this
  // process is stamped now (else its events would move later by the retry delay). A batch first sent by
  // an earlier process keeps its stamp: after a reboot this monotonic clock is not its events' one.
  const bool resend = sent_batch_ == batch.batch_id;
  header.sent_at_ms = resend ? source_.wall_ms() : batch.sent_at_ms;
  header.sent_monotonic_ms = resend ? source_.monotonic_ms() : batch.sent_monotonic_ms;
  sent_batch_ = batch.batch_id;
  header.dropped = static_cast<uint64_t>(batch.dropped);
  header.refused = static_cast<uint64_t>(batch.refused);
  header.evicted = static_cast<uint64_t>(batch.evicted);
  std::vector<std::vector<uint8_t>> events;
  events.reserve(batch.events.size());
  for (auto& e : batch.events) events.push_back(std::move(e.plaintext));
  const auto& [key_id, key] = *std::max_element(config_.collector_keys.begin(), config_.collector_keys.end());
  auto sealed = seal_envelope(encode_batch(header, events), source_.device_secret_key, key.data(), key_id);
  batch.events.clear();
  if (!sealed.ok()) {
    busy_ = false;
    return retry_later(config_.backoff_cap_ms, sealed.status());
  }
  current_ = std::move(batch);
  transport_->post(std::move(sealed.value()), [this](HttpResult r) { on_response(std::move(r)); });
}

void Uploader::on_response(HttpResult r) {
  if (stopped_) return;
  LeasedBatch batch = std::move(*current_);
  current_.reset();
  const auto transient = [&](const Status& why, int64_t retry_after_ms) {
    busy_ = false;
    ++attempt_;
    const int64_t exp = std::min<int64_t>(config_.backoff_cap_ms, config_.backoff_base_ms << std::min(attempt_, 20));
    const int64_t delay = retry_after_ms >= 0 ? std::min(retry_after_ms, config_.backoff_cap_ms) : jitter(exp);
    retry_later(delay, why);
  };
  if (!r.status.ok()) return transient(r.status, -1);
  if (permanent_rejection(r.http_status)) {
    if (!note_refusal(batch, r)) {
      return transient(Error(WAYMARK_ERR_NETWORK, "collector refused a batch (HTTP " + std::to_string(r.http_status) +
                                                      "); resending it before giving up"),
                       -1);
    }
    refusals_ = 0;
    const int64_t now = source_.wall_ms();
    if (!run_job([&](Outbox& o, Counters& delta) { return o.dead_letter_batch(batch, r.http_status, now, delta); })) {
      return transient(Error(WAYMARK_ERR_STORE_IO, "could not dead-letter a batch"), -1);
    }
    source_.log(WAYMARK_LOG_WARNING, "collector refused a batch " + std::to_string(kRefusalsBeforeDeadLetter) +
                                         " times (HTTP " + std::to_string(r.http_status) + " " + reason_of(r.body) +
                                         "); its events were dead-lettered");
    {
      std::lock_guard lock(mu_);
      ++dead_letters_;
      dead_lettered_from_.push_back(batch.first_id);
      if (dead_lettered_from_.size() > kDeadLettersKept) dead_lettered_from_.pop_front();
      last_error_ = Error(WAYMARK_ERR_REJECTED, "the collector refused a batch for good");
    }
    cv_.notify_all();
    attempt_ = 0;
    return cycle();
  }
  if (r.http_status != 200) {
    const bool honour = r.http_status == 429 || r.http_status == 503;
    return transient(Error(WAYMARK_ERR_NETWORK, "collector answered HTTP " + std::to_string(r.http_status)),
                     honour ? r.retry_after_ms : -1);
  }
  auto receipt = verify_receipt(r.body.data(), r.body.size(), config_.collector_keys);
  if (!receipt.ok() || receipt->batch_id != batch.batch_id) {
    // Rows are kept: only a valid receipt for this very batch deletes them.
    source_.log(WAYMARK_LOG_WARNING, "collector receipt did not verify; the batch will be resent");
    return transient(receipt.ok() ? Error(WAYMARK_ERR_CRYPTO, "receipt is for another batch") : receipt.status(), -1);
  }
  int64_t through = -1;
  if (!run_job([&](Outbox& o, Counters& delta) -> Status {
        Status s = o.complete_batch(batch, delta);
        if (!s.ok()) return s;
        auto t = o.uploaded_through();
        if (!t.ok()) return t.status();
        through = t.value();
        return Status::Ok();
      })) {
    return transient(Error(WAYMARK_ERR_STORE_IO, "could not delete acknowledged rows"), -1);
  }
  attempt_ = 0;
  {
    std::lock_guard lock(mu_);
    uploaded_through_ = std::max(uploaded_through_, through);
    last_error_ = Status::Ok();
  }
  cv_.notify_all();
  cycle();  // keep draining
}

void Uploader::retry_later(int64_t delay_ms, const Status& why) {
  {
    std::lock_guard lock(mu_);
    last_error_ = why;
  }
  cv_.notify_all();
  backing_off_ = true;
  retry_timer_.expires_after(std::chrono::milliseconds(std::max<int64_t>(delay_ms, 0)));
  retry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: an urgent trigger already restarted the cycle, or stop
    backing_off_ = false;
    if (!busy_) cycle();
  });
}

}  // namespace waymark::detail
